//! Organizations inside a tenant over GraphQL: made and managed by tenant admins, members
//! managed by the organization's own admins and nobody else, sessions scoped to one
//! organization (tokens verified by PyJWT), and a membership's end ending its sessions at once.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::*;

const CREATE: &str = "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id name slug mfaRequired memberCount } }";
const ADD: &str = "mutation($o: ID!, $u: ID!, $r: [String!]!) { addOrganizationMember(orgId: $o, userId: $u, roles: $r) { userId email roles } }";
const SET_ROLES: &str = "mutation($o: ID!, $u: ID!, $r: [String!]!) { setOrganizationMemberRoles(orgId: $o, userId: $u, roles: $r) { userId roles } }";
const REMOVE: &str =
    "mutation($o: ID!, $u: ID!) { removeOrganizationMember(orgId: $o, userId: $u) }";
const MEMBERS: &str = "query($o: ID!) { organization(id: $o) { name memberCount members(first: 50) { totalCount edges { node { userId email username roles } } } } }";
const LOGIN_TO: &str =
    "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }";
const SWITCH: &str =
    "mutation($o: ID!) { switchOrganization(orgId: $o) { accessToken refreshToken user { id } } }";
const REFRESH: &str =
    "mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }";
const ME: &str = "{ me { id organizations { organization { id name slug } roles } } }";

async fn setup() -> (TestApp, String) {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    (app, admin)
}

async fn org(app: &TestApp, admin: &str, name: &str) -> String {
    let b = app
        .gql_tenant("acme", Some(admin), CREATE, json!({"i": {"name": name}}))
        .await;
    b["data"]["createOrganization"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string()
}

/// Registers `name` on acme; its user id.
async fn user(app: &TestApp, name: &str) -> String {
    let r = app
        .register_at("acme", &format!("{name}@acme.example"), name, PASSWORD)
        .await;
    r["user"]["id"].as_str().unwrap().to_string()
}

async fn login_to(app: &TestApp, name: &str, org: Option<&str>) -> Value {
    app.gql_tenant(
        "acme",
        None,
        LOGIN_TO,
        json!({"i": {"identifier": name, "password": PASSWORD, "organization": org}}),
    )
    .await
}

fn tokens(b: &Value, op: &str) -> (String, String) {
    let p = &b["data"][op];
    assert!(p.is_object(), "{op}: {b}");
    (
        p["accessToken"].as_str().unwrap().to_string(),
        p["refreshToken"].as_str().unwrap().to_string(),
    )
}

/// The token's claims as PyJWT verifies them against the tenant's JWKS
/// (tests/clients/verify_token.py).
async fn verified_claims(app: &TestApp, token: &str) -> Value {
    let (jwks, token) = (
        format!("{}/t/acme/.well-known/jwks.json", app.base),
        token.to_string(),
    );
    // Off the test's runtime thread: the server answering PyJWT runs on it.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/clients/verify_token.py"
            ))
            .arg(jwks)
            .arg("http://latchkey.test/t/acme")
            .arg(token)
            .output()
            .expect("python3 runs verify_token.py (PyJWT: tests/clients/requirements.txt)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "PyJWT refused the token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn an_admin_makes_organizations_and_a_member_signs_in_to_one_with_its_roles_in_the_token() {
    let (app, admin) = setup().await;
    let a = Some(admin.as_str());
    // Made, with a slug from the name; validated field by field.
    let b = app
        .gql_tenant("acme", a, CREATE, json!({"i": {"name": "Acme Corp, Inc."}}))
        .await;
    let acme = &b["data"]["createOrganization"];
    assert_eq!(acme["slug"], "acme-corp-inc", "{b}");
    assert_eq!(acme["memberCount"], 0);
    let acme_id = acme["id"].as_str().unwrap().to_string();
    let globex = org(&app, &admin, "Globex").await;
    for (input, f) in [
        (json!({"name": "Other", "slug": "acme-corp-inc"}), "slug"),
        (json!({"name": "Bad", "slug": "Not A Slug"}), "slug"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "!!!"}), "slug"),
    ] {
        let b = app.gql_tenant("acme", a, CREATE, json!({"i": input})).await;
        assert_eq!(field(&b).as_deref(), Some(f), "{input}: {b}");
    }
    // Listed and searched.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "{ organizations(search: \"GLOB\") { totalCount edges { node { id slug } } } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["organizations"]["totalCount"], 1, "{b}");
    assert_eq!(
        b["data"]["organizations"]["edges"][0]["node"]["id"],
        json!(globex)
    );
    // The template every tenant starts with.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "{ organizationRoles { name administersOrganization } }",
            json!({}),
        )
        .await;
    assert_eq!(
        b["data"]["organizationRoles"],
        json!([{"name": "admin", "administersOrganization": true},
               {"name": "member", "administersOrganization": false}]),
        "{b}"
    );

    let ada = user(&app, "ada").await;
    // Roles come from the template only.
    let b = app
        .gql_tenant(
            "acme",
            a,
            ADD,
            json!({"o": acme_id, "u": ada, "r": ["owner"]}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("roles"), "{b}");
    let b = app
        .gql_tenant(
            "acme",
            a,
            ADD,
            json!({"o": acme_id, "u": ada, "r": ["member"]}),
        )
        .await;
    assert_eq!(
        b["data"]["addOrganizationMember"]["roles"],
        json!(["member"]),
        "{b}"
    );
    let b = app
        .gql_tenant(
            "acme",
            a,
            ADD,
            json!({"o": acme_id, "u": ada, "r": ["member"]}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("userId"), "a second add: {b}");
    let b = app
        .gql_tenant(
            "acme",
            a,
            ADD,
            json!({"o": acme_id, "u": "no-such-user", "r": []}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("userId"), "{b}");

    // Signed in to the organization: the token says which, with the roles, as PyJWT reads it;
    // the tenant roles claim is unchanged beside them.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($u: ID!) { setUserRoles(id: $u, roles: [\"support\"]) { roles } }",
            json!({"u": ada}),
        )
        .await;
    assert!(code(&b).is_none(), "{b}");
    let (token, refresh) = tokens(&login_to(&app, "ada", Some(&acme_id)).await, "login");
    let c = verified_claims(&app, &token).await;
    assert_eq!(c["org_id"], json!(acme_id), "{c}");
    assert_eq!(c["org_roles"], json!(["member"]), "{c}");
    assert_eq!(c["roles"], json!(["support"]), "{c}");
    // Not to an organization she is not a member of, nor to one that does not exist.
    for o in [globex.as_str(), "01234567-no-such-org"] {
        let b = login_to(&app, "ada", Some(o)).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    }
    // A wrong password says so before anything about organizations.
    let b = app
        .gql_tenant(
            "acme",
            None,
            LOGIN_TO,
            json!({"i": {"identifier": "ada", "password": "wrong password!", "organization": globex}}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");
    // Without an organization: no org claims.
    let (plain, _) = tokens(&login_to(&app, "ada", None).await, "login");
    let c = verified_claims(&app, &plain).await;
    assert!(
        c.get("org_id").is_none() && c.get("org_roles").is_none(),
        "{c}"
    );

    // `me.organizations` lists her memberships with her roles.
    let b = app.gql_tenant("acme", Some(&token), ME, json!({})).await;
    assert_eq!(
        b["data"]["me"]["organizations"],
        json!([{"organization": {"id": acme_id, "name": "Acme Corp, Inc.", "slug": "acme-corp-inc"},
                "roles": ["member"]}]),
        "{b}"
    );
    // New roles are in the token from the next refresh on.
    let b = app
        .gql_tenant(
            "acme",
            a,
            SET_ROLES,
            json!({"o": acme_id, "u": ada, "r": ["member", "admin", "member"]}),
        )
        .await;
    assert_eq!(
        b["data"]["setOrganizationMemberRoles"]["roles"],
        json!(["member", "admin"]),
        "{b}"
    );
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": refresh}))
        .await;
    let (token, _) = tokens(&b, "refresh");
    let c = verified_claims(&app, &token).await;
    assert_eq!(c["org_id"], json!(acme_id));
    assert_eq!(c["org_roles"], json!(["member", "admin"]), "{c}");
    let b = app
        .gql_tenant("acme", a, MEMBERS, json!({"o": acme_id}))
        .await;
    assert_eq!(b["data"]["organization"]["memberCount"], 1, "{b}");
    assert_eq!(
        b["data"]["organization"]["members"]["edges"][0]["node"],
        json!({"userId": ada, "email": "ada@acme.example", "username": "ada", "roles": ["member", "admin"]})
    );

    // Renamed and deleted by the tenant admin; the user stays.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($o: ID!) { updateOrganization(id: $o, input: {name: \"Globex Intl\", slug: \"globex-intl\", mfaRequired: true}) { name slug mfaRequired } }",
            json!({"o": globex}),
        )
        .await;
    assert_eq!(
        b["data"]["updateOrganization"],
        json!({"name": "Globex Intl", "slug": "globex-intl", "mfaRequired": true}),
        "{b}"
    );
    // Another organization's slug is refused, and the rest of that change is not written.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($o: ID!) { updateOrganization(id: $o, input: {name: \"Taken\", slug: \"acme-corp-inc\"}) { name } }",
            json!({"o": globex}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("slug"), "{b}");
    let b = app
        .gql_tenant(
            "acme",
            a,
            "query($o: ID!) { organization(id: $o) { name slug } }",
            json!({"o": globex}),
        )
        .await;
    assert_eq!(
        b["data"]["organization"],
        json!({"name": "Globex Intl", "slug": "globex-intl"}),
        "{b}"
    );
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($o: ID!) { deleteOrganization(id: $o) }",
            json!({"o": acme_id}),
        )
        .await;
    assert_eq!(b["data"]["deleteOrganization"], true, "{b}");
    let b = app.gql_tenant("acme", Some(&plain), ME, json!({})).await;
    assert_eq!(b["data"]["me"]["organizations"], json!([]), "{b}");
    let b = app
        .gql_tenant("acme", a, "{ organizations { totalCount } }", json!({}))
        .await;
    assert_eq!(b["data"]["organizations"]["totalCount"], 1, "{b}");
}

#[tokio::test]
async fn an_organizations_admin_manages_its_members_and_name_and_nothing_else() {
    let (app, admin) = setup().await;
    let a = Some(admin.as_str());
    let one = org(&app, &admin, "One").await;
    let two = org(&app, &admin, "Two").await;
    let boss = user(&app, "boss").await;
    let peer = user(&app, "peer").await;
    let other = user(&app, "other").await;
    let newbie = user(&app, "newbie").await;
    for (o, u, r) in [
        (&one, &boss, "admin"),
        (&one, &peer, "member"),
        (&two, &other, "member"),
    ] {
        let b = app
            .gql_tenant("acme", a, ADD, json!({"o": o, "u": u, "r": [r]}))
            .await;
        assert!(code(&b).is_none(), "{b}");
    }
    let (t, _) = tokens(&login_to(&app, "boss", None).await, "login");
    let boss_t = Some(t.as_str());

    // Her own organization: members listed, added, re-roled, removed; renamed.
    let b = app
        .gql_tenant("acme", boss_t, MEMBERS, json!({"o": one}))
        .await;
    assert_eq!(b["data"]["organization"]["members"]["totalCount"], 2, "{b}");
    let b = app
        .gql_tenant(
            "acme",
            boss_t,
            ADD,
            json!({"o": one, "u": newbie, "r": ["member"]}),
        )
        .await;
    assert!(code(&b).is_none(), "{b}");
    let b = app
        .gql_tenant(
            "acme",
            boss_t,
            SET_ROLES,
            json!({"o": one, "u": newbie, "r": ["admin"]}),
        )
        .await;
    assert_eq!(
        b["data"]["setOrganizationMemberRoles"]["roles"],
        json!(["admin"]),
        "{b}"
    );
    let b = app
        .gql_tenant("acme", boss_t, REMOVE, json!({"o": one, "u": newbie}))
        .await;
    assert_eq!(b["data"]["removeOrganizationMember"], true, "{b}");
    let b = app
        .gql_tenant(
            "acme",
            boss_t,
            "mutation($o: ID!) { updateOrganization(id: $o, input: {name: \"One Ltd\"}) { name } }",
            json!({"o": one}),
        )
        .await;
    assert_eq!(b["data"]["updateOrganization"]["name"], "One Ltd", "{b}");

    // The other organization is invisible to her and untouchable, by every operation.
    let b = app
        .gql_tenant("acme", boss_t, MEMBERS, json!({"o": two}))
        .await;
    assert_eq!(b["data"]["organization"], Value::Null, "{b}");
    let denied: [(&str, Value); 9] = [
        (ADD, json!({"o": two, "u": newbie, "r": ["member"]})),
        (SET_ROLES, json!({"o": two, "u": other, "r": ["admin"]})),
        (REMOVE, json!({"o": two, "u": other})),
        (
            "mutation($o: ID!) { updateOrganization(id: $o, input: {name: \"Mine\"}) { name } }",
            json!({"o": two}),
        ),
        // In her own: not the slug, not the MFA policy, not deleting it.
        (
            "mutation($o: ID!) { updateOrganization(id: $o, input: {slug: \"mine\"}) { name } }",
            json!({"o": one}),
        ),
        (
            "mutation($o: ID!) { updateOrganization(id: $o, input: {mfaRequired: true}) { name } }",
            json!({"o": one}),
        ),
        (
            "mutation($o: ID!) { deleteOrganization(id: $o) }",
            json!({"o": one}),
        ),
        // Nothing of the tenant's.
        ("{ organizations { totalCount } }", json!({})),
        (
            "mutation { saveOrganizationRole(input: {name: \"owner\", administersOrganization: true}) { name } }",
            json!({}),
        ),
    ];
    for (q, vars) in denied {
        let b = app.gql_tenant("acme", boss_t, q, vars.clone()).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{q} {vars}: {b}");
    }
    for q in [
        "{ users { totalCount } }",
        "mutation($u: ID!) { disableUser(id: $u) { id } }",
    ] {
        let b = app.gql_tenant("acme", boss_t, q, json!({"u": other})).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{q}: {b}");
    }
    // Two's members are as they were.
    let b = app.gql_tenant("acme", a, MEMBERS, json!({"o": two})).await;
    assert_eq!(
        b["data"]["organization"]["members"]["edges"][0]["node"]["roles"],
        json!(["member"]),
        "{b}"
    );
    // A plain member administers nothing, not even her own organization.
    let (pt, _) = tokens(&login_to(&app, "peer", None).await, "login");
    let b = app
        .gql_tenant(
            "acme",
            Some(&pt),
            ADD,
            json!({"o": one, "u": newbie, "r": ["member"]}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");

    // Every change she made is audited with her as the actor and the organization named.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "query($u: ID!) { auditEvents(first: 50, userId: $u) { edges { node { kind actorId detail } } } }",
            json!({"u": newbie}),
        )
        .await;
    let events: Vec<&Value> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["kind"].as_str().unwrap().starts_with("organization_"))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    for k in [
        "organization_member_added",
        "organization_member_roles_set",
        "organization_member_removed",
    ] {
        assert!(kinds.contains(&k), "{k} audited: {kinds:?}");
    }
    for n in events {
        assert_eq!(n["actorId"], json!(boss), "{n}");
        assert!(n["detail"].as_str().unwrap().contains(&one), "{n}");
    }
}

#[tokio::test]
async fn a_removed_member_or_a_deleted_organization_ends_its_scoped_sessions_at_once() {
    let (app, admin) = setup().await;
    let a = Some(admin.as_str());
    let one = org(&app, &admin, "One").await;
    let ada = user(&app, "ada").await;
    let bob = user(&app, "bob").await;
    for u in [&ada, &bob] {
        let b = app
            .gql_tenant("acme", a, ADD, json!({"o": one, "u": u, "r": ["member"]}))
            .await;
        assert!(code(&b).is_none(), "{b}");
    }
    let (org_token, org_refresh) = tokens(&login_to(&app, "ada", Some(&one)).await, "login");
    let (plain, plain_refresh) = tokens(&login_to(&app, "ada", None).await, "login");
    let me = |t: String| {
        let app = &app;
        async move { app.gql_tenant("acme", Some(&t), ME, json!({})).await }
    };
    assert!(code(&me(org_token.clone()).await).is_none());

    let b = app
        .gql_tenant("acme", a, REMOVE, json!({"o": one, "u": ada}))
        .await;
    assert_eq!(b["data"]["removeOrganizationMember"], true, "{b}");
    // The very next request with her org token is refused, and its refresh token is dead.
    let b = me(org_token.clone()).await;
    assert_eq!(code(&b).as_deref(), Some("UNAUTHENTICATED"), "{b}");
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": org_refresh}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");
    // Her session outside the organization goes on.
    assert!(code(&me(plain.clone()).await).is_none());
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": plain_refresh}))
        .await;
    assert!(code(&b).is_none(), "{b}");
    // And she cannot sign in to it any more.
    let b = login_to(&app, "ada", Some(&one)).await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");

    // Deleting the organization ends Bob's session in it at once.
    let (bob_token, bob_refresh) = tokens(&login_to(&app, "bob", Some(&one)).await, "login");
    assert!(code(&me(bob_token.clone()).await).is_none());
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($o: ID!) { deleteOrganization(id: $o) }",
            json!({"o": one}),
        )
        .await;
    assert_eq!(b["data"]["deleteOrganization"], true, "{b}");
    let b = me(bob_token).await;
    assert_eq!(code(&b).as_deref(), Some("UNAUTHENTICATED"), "{b}");
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": bob_refresh}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");
    let _ = bob;
}

#[tokio::test]
async fn switching_organization_rescopes_the_same_session_and_retires_its_earlier_tokens() {
    let (app, admin) = setup().await;
    let a = Some(admin.as_str());
    let one = org(&app, &admin, "One").await;
    let two = org(&app, &admin, "Two").await;
    let three = org(&app, &admin, "Three").await;
    let ada = user(&app, "ada").await;
    for (o, r) in [(&one, "member"), (&two, "admin")] {
        let b = app
            .gql_tenant("acme", a, ADD, json!({"o": o, "u": ada, "r": [r]}))
            .await;
        assert!(code(&b).is_none(), "{b}");
    }
    let (t0, r0) = tokens(&login_to(&app, "ada", None).await, "login");
    let sid = verified_claims(&app, &t0).await["sid"].clone();

    let b = app
        .gql_tenant("acme", Some(&t0), SWITCH, json!({"o": one}))
        .await;
    let (t1, r1) = tokens(&b, "switchOrganization");
    let c = verified_claims(&app, &t1).await;
    assert_eq!(
        (c["org_id"].clone(), c["org_roles"].clone()),
        (json!(one), json!(["member"]))
    );
    assert_eq!(c["sid"], sid, "the same session");
    // The session's token from before the switch is no longer accepted.
    let b = app.gql_tenant("acme", Some(&t0), ME, json!({})).await;
    assert_eq!(code(&b).as_deref(), Some("UNAUTHENTICATED"), "{b}");
    // Not into an organization she is not a member of; her session is unchanged by trying.
    let b = app
        .gql_tenant("acme", Some(&t1), SWITCH, json!({"o": three}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    assert!(code(&app.gql_tenant("acme", Some(&t1), ME, json!({})).await).is_none());

    let b = app
        .gql_tenant("acme", Some(&t1), SWITCH, json!({"o": two}))
        .await;
    let (t2, r2) = tokens(&b, "switchOrganization");
    let c = verified_claims(&app, &t2).await;
    assert_eq!(
        (c["org_id"].clone(), c["org_roles"].clone()),
        (json!(two), json!(["admin"]))
    );
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": r2}))
        .await;
    let (t3, _) = tokens(&b, "refresh");
    assert_eq!(verified_claims(&app, &t3).await["org_id"], json!(two));
    // A refresh token from before a switch is spent: presenting it again is reuse, and the
    // whole session ends (RFC 9700 §4.14.2), as after any rotation.
    let _ = r1;
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": r0}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");
    let b = app.gql_tenant("acme", Some(&t3), ME, json!({})).await;
    assert_eq!(
        code(&b).as_deref(),
        Some("UNAUTHENTICATED"),
        "reuse ended the session: {b}"
    );
    // Signed out: no switching.
    let b = app
        .gql_tenant("acme", None, SWITCH, json!({"o": one}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("UNAUTHENTICATED"), "{b}");
}

#[tokio::test]
async fn the_same_member_added_twice_at_once_is_one_membership() {
    let (app, admin) = setup().await;
    let one = org(&app, &admin, "One").await;
    let ada = user(&app, "ada").await;
    // Eight requests in flight at once, each on its own task (`join_all` spawns them).
    let adds: Vec<_> = (0..8)
        .map(|_| {
            let (url, admin, vars) = (
                format!("{}/t/acme/graphql", app.base),
                admin.clone(),
                json!({"o": one, "u": ada, "r": ["member"]}),
            );
            async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(admin)
                    .json(&json!({"query": ADD, "variables": vars}))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        })
        .collect();
    let answers = join_all(adds).await;
    let ok = answers.iter().filter(|b| code(b).is_none()).count();
    assert_eq!(ok, 1, "exactly one add succeeds: {answers:?}");
    for b in answers.iter().filter(|b| code(b).is_some()) {
        assert_eq!(
            field(b).as_deref(),
            Some("userId"),
            "the others are told why: {b}"
        );
    }
    let b = app
        .gql_tenant("acme", Some(&admin), MEMBERS, json!({"o": one}))
        .await;
    assert_eq!(b["data"]["organization"]["memberCount"], 1, "{b}");
}

#[tokio::test]
async fn an_organization_that_requires_mfa_admits_only_sessions_signed_in_with_a_second_factor() {
    use crate::mfa::{CONFIRM_TOTP, START_TOTP, code_at};
    const VERIFY_RECOVERY: &str = "mutation($t: String!, $c: String) { verifyMfa(mfaToken: $t, recoveryCode: $c) { accessToken refreshToken } }";
    let (app, admin) = setup().await;
    let a = Some(admin.as_str());
    let b = app
        .gql_tenant(
            "acme",
            a,
            CREATE,
            json!({"i": {"name": "Vault", "mfaRequired": true}}),
        )
        .await;
    let vault = b["data"]["createOrganization"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let open = org(&app, &admin, "Open").await;
    let ada = user(&app, "ada").await;
    for o in [&vault, &open] {
        let b = app
            .gql_tenant("acme", a, ADD, json!({"o": o, "u": ada, "r": ["member"]}))
            .await;
        assert!(code(&b).is_none(), "{b}");
    }
    // A password alone does not enter it, by sign-in or by switching; the answer says why.
    let b = login_to(&app, "ada", Some(&vault)).await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    assert!(
        b["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("requires a second factor"),
        "{b}"
    );
    let (t0, _) = tokens(&login_to(&app, "ada", None).await, "login");
    let b = app
        .gql_tenant("acme", Some(&t0), SWITCH, json!({"o": vault}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    // The organization without the requirement takes the same session.
    let b = app
        .gql_tenant("acme", Some(&t0), SWITCH, json!({"o": open}))
        .await;
    let (t_open, r_open) = tokens(&b, "switchOrganization");

    // With a second factor she gets in.
    let b = app
        .gql_tenant("acme", Some(&t_open), START_TOTP, json!({}))
        .await;
    let secret = b["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let c = code_at(&secret, app.clock.now().timestamp());
    let b = app
        .gql_tenant("acme", Some(&t_open), CONFIRM_TOTP, json!({"c": c}))
        .await;
    assert!(code(&b).is_none(), "{b}");
    let recovery = b["data"]["confirmTotpEnrollment"]["codes"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let b = login_to(&app, "ada", None).await;
    assert_eq!(code(&b).as_deref(), Some("MFA_REQUIRED"), "{b}");
    let mfa_token = b["errors"][0]["extensions"]["mfaToken"]
        .as_str()
        .unwrap()
        .to_string();
    // A recovery code: the TOTP step just used for the enrolment is spent, and moving the
    // server's clock would put `iat` in PyJWT's future.
    let b = app
        .gql_tenant(
            "acme",
            None,
            VERIFY_RECOVERY,
            json!({"t": mfa_token, "c": recovery}),
        )
        .await;
    let (t_mfa, _) = tokens(&b, "verifyMfa");
    let b = app
        .gql_tenant("acme", Some(&t_mfa), SWITCH, json!({"o": vault}))
        .await;
    let (t_vault, r_vault) = tokens(&b, "switchOrganization");
    let claims = verified_claims(&app, &t_vault).await;
    assert_eq!(claims["org_id"], json!(vault), "{claims}");
    assert_eq!(claims["acr"], "aal2", "{claims}");
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": r_vault}))
        .await;
    assert!(code(&b).is_none(), "{b}");

    // An organization that turns the requirement on later: its one-factor sessions stop at
    // their next refresh.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation($o: ID!) { updateOrganization(id: $o, input: {mfaRequired: true}) { mfaRequired } }",
            json!({"o": open}),
        )
        .await;
    assert!(code(&b).is_none(), "{b}");
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": r_open}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
}

#[tokio::test]
async fn a_refresh_may_scope_the_session_to_an_organization_of_the_users_only() {
    let (app, admin) = setup().await;
    let initech = org(&app, &admin, "Initech").await;
    let globex = org(&app, &admin, "Globex").await;
    let pam = user(&app, "pam").await;
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            ADD,
            json!({"o": initech, "u": pam, "r": ["member"]}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let (_, refresh) = tokens(&login_to(&app, "pam", None).await, "login");
    let into = "mutation($t: String!, $o: ID) { refresh(refreshToken: $t, organization: $o) { accessToken refreshToken } }";
    // Not a member of Globex: refused before the token is spent, so it still works.
    let b = app
        .gql_tenant("acme", None, into, json!({"t": refresh, "o": globex}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    let b = app
        .gql_tenant("acme", None, into, json!({"t": refresh, "o": initech}))
        .await;
    let (access, scoped_refresh) = tokens(&b, "refresh");
    let claims = verified_claims(&app, &access).await;
    assert_eq!(claims["org_id"], json!(initech), "{claims}");
    assert_eq!(claims["org_roles"], json!(["member"]));
    // A plain refresh of the scoped session stays in the organization.
    let b = app
        .gql_tenant("acme", None, REFRESH, json!({"t": scoped_refresh}))
        .await;
    let (access, _) = tokens(&b, "refresh");
    assert_eq!(
        verified_claims(&app, &access).await["org_id"],
        json!(initech)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn organizations_page_by_cursor_completely_and_without_duplicates() {
    let (app, admin) = setup().await;
    let mut made = Vec::new();
    for i in 0..25 {
        made.push(org(&app, &admin, &format!("Org {i:02}")).await);
    }
    // Two members in the fourth: the list reads each page's counts in one query.
    for name in ["uma", "vic"] {
        let u = user(&app, name).await;
        let b = app
            .gql_tenant(
                "acme",
                Some(&admin),
                ADD,
                json!({"o": made[3], "u": u, "r": ["member"]}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
    }
    let page = "query($a: String) { organizations(first: 10, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { id memberCount } } } }";
    let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let b = app
            .gql_tenant("acme", Some(&admin), page, json!({"a": after}))
            .await;
        let c = &b["data"]["organizations"];
        assert_eq!(c["totalCount"], 25, "{b}");
        for e in c["edges"].as_array().unwrap() {
            let id = e["node"]["id"].as_str().unwrap().to_string();
            let expected = if id == made[3] { 2 } else { 0 };
            assert_eq!(e["node"]["memberCount"], expected, "{id}: {b}");
            seen.push(id);
        }
        pages += 1;
        if c["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    // Ids are UUIDv7: creation order is key order.
    assert_eq!(seen, made);
    app.shutdown().await;
}
