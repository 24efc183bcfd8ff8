//! `schema/tenant.graphql` is generated from the code; this fails when they drift.

#[test]
fn tenant_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/tenant.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let generated = latchkey::graphql::tenant_sdl();
    assert!(
        on_disk == generated,
        "schema/tenant.graphql is out of date: run `cargo run -- schema export` and commit it"
    );
}

#[test]
fn platform_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/platform.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == latchkey::graphql::platform::platform_sdl(),
        "schema/platform.graphql is out of date: run `cargo run -- schema export` and commit it"
    );
}

#[test]
fn surrealql_definitions_are_in_schema_dir() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/surreal");
    for f in ["platform/001_init.surql", "tenant/001_init.surql"] {
        let text = std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        assert!(text.contains("DEFINE TABLE"), "{f}");
    }
}
