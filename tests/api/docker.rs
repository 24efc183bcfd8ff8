//! docker/: no Docker engine runs here, so the files are checked for what can go wrong
//! silently: a variable latchkey does not read, a lost health check, a root runtime.

use latchkey::config::VARIABLES;

const COMPOSE: &str = include_str!("../../docker/compose.yml");
const DOCKERFILE: &str = include_str!("../../docker/Dockerfile");

/// The lines of the top-level service `name` (two-space indented under `services:`).
fn service(name: &str) -> Vec<&'static str> {
    let header = format!("  {name}:");
    let mut lines = COMPOSE.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "service {name} in compose.yml");
    lines
        .take_while(|l| l.is_empty() || l.starts_with("   ") || l.trim_start().starts_with('#'))
        .collect()
}

/// The variable names of a service's `environment:` block, in map (`KEY: v`) or list
/// (`- KEY=v`) form.
fn environment(lines: &[&str]) -> Vec<String> {
    let mut it = lines.iter().skip_while(|l| l.trim() != "environment:");
    assert!(it.next().is_some(), "environment: block");
    let indent = "      ";
    it.take_while(|l| {
        l.trim().is_empty() || l.starts_with(indent) || l.trim_start().starts_with('#')
    })
    .map(|l| l.trim())
    .filter(|l| !l.is_empty() && !l.starts_with('#'))
    .map(|l| {
        let l = l.strip_prefix("- ").unwrap_or(l);
        let end = l.find([':', '=']).unwrap_or(l.len());
        l[..end].trim().to_string()
    })
    .collect()
}

#[test]
fn compose_sets_only_variables_latchkey_reads() {
    let env = environment(&service("latchkey"));
    assert!(env.len() >= 5, "{env:?}");
    for var in &env {
        assert!(
            VARIABLES.contains(&var.as_str()),
            "compose.yml sets {var}, which latchkey does not read"
        );
    }
    for needed in [
        "DATABASE_URL",
        "DATABASE_USER",
        "DATABASE_PASSWORD",
        "BIND_ADDR",
        "SMTP_URL",
    ] {
        assert!(env.iter().any(|v| v == needed), "compose.yml sets {needed}");
    }
}

#[test]
fn compose_wires_surrealdb_over_ws_and_mailpit_over_smtp() {
    let lk = service("latchkey").join("\n");
    assert!(lk.contains("DATABASE_URL: ws://surrealdb:8000"), "{lk}");
    assert!(lk.contains("SMTP_URL: smtp://mailpit:1025"), "{lk}");
    assert!(lk.contains("BIND_ADDR: 0.0.0.0:8000"), "{lk}");
    let db = service("surrealdb").join("\n");
    assert!(db.contains("image: surrealdb/surrealdb:"), "{db}");
    assert!(
        db.contains("surrealdb-data:/data"),
        "the database keeps a volume: {db}"
    );
    let mail = service("mailpit").join("\n");
    assert!(mail.contains("image: axllent/mailpit:"), "{mail}");
    for name in ["latchkey", "surrealdb", "mailpit"] {
        assert!(
            service(name).iter().any(|l| l.trim() == "healthcheck:"),
            "{name} has a health check"
        );
    }
    assert_eq!(lk.matches("condition: service_healthy").count(), 2);
}

/// The cluster profile's second node must be configured exactly like the first: tokens carry
/// `PUBLIC_URL` and are sealed under `SECRET_KEY`, so a node that differs refuses the other's.
#[test]
fn the_cluster_profile_runs_a_second_identical_node_behind_a_proxy() {
    let first = service("latchkey");
    let second = service("latchkey-2");
    assert!(
        second
            .iter()
            .any(|l| l.contains(r#"profiles: ["cluster"]"#))
    );
    let settings = |lines: &[&str]| -> Vec<String> {
        let mut it = lines.iter().skip_while(|l| l.trim() != "environment:");
        it.next();
        it.take_while(|l| l.starts_with("      ") || l.trim_start().starts_with('#'))
            .map(|l| l.trim().to_string())
            .filter(|l| !l.starts_with('#'))
            .collect()
    };
    assert_eq!(settings(&first), settings(&second), "both nodes alike");
    assert!(
        second
            .join("\n")
            .contains("latchkey-data:/var/lib/latchkey/data")
    );
    let proxy = service("proxy").join("\n");
    assert!(proxy.contains(r#"profiles: ["cluster"]"#), "{proxy}");
    assert!(
        proxy.contains("--to latchkey:8000 --to latchkey-2:8000"),
        "{proxy}"
    );
    assert!(
        first
            .iter()
            .any(|l| l.trim() == "TRUSTED_PROXIES: 172.30.80.10")
            && proxy.contains("ipv4_address: 172.30.80.10"),
        "the nodes believe X-Forwarded-For from the proxy only"
    );
}

#[test]
fn the_dockerfile_is_multi_stage_and_runs_as_non_root() {
    let froms: Vec<&str> = DOCKERFILE
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "build stage, then runtime: {froms:?}");
    assert!(froms[0].contains(" AS build"));
    assert!(DOCKERFILE.contains("COPY --from=build"));
    let user = DOCKERFILE
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("USER in the runtime stage");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    assert!(DOCKERFILE.contains("HEALTHCHECK"));
    assert!(DOCKERFILE.contains("cargo build --release --locked"));
}

#[test]
fn every_listed_variable_is_documented_in_the_readme() {
    let readme = include_str!("../../README.md");
    for var in VARIABLES {
        assert!(
            readme.contains(&format!("`{var}`")),
            "README.md documents {var}"
        );
    }
}
