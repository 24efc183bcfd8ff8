//! Verified domains of organizations and membership by domain (JIT): a user whose confirmed
//! address is in an organization's domain joins it at their first sign-in or when they confirm
//! the address (verification mail over real SMTP), never on an unconfirmed address, and an
//! admin's removal of such a member stays.

use serde_json::{Value, json};

use crate::helpers::*;

const ADD_DOMAIN: &str = "mutation($o: ID!, $d: String!) { addOrganizationDomain(orgId: $o, domain: $d) { domain verified verification } }";
const REMOVE_DOMAIN: &str =
    "mutation($o: ID!, $d: String!) { removeOrganizationDomain(orgId: $o, domain: $d) }";
const MY_ORGS: &str = "{ me { organizations { organization { name } roles } } }";
const CREATE_USER: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }";

struct World {
    app: TestApp,
    sink: SmtpSink,
    admin: String,
}

async fn world() -> World {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_platform(&[
        ("SMTP_URL", &sink.url()),
        ("MAIL_FROM", "Latchkey Test <no-reply@latchkey.test>"),
    ])
    .await;
    let admin = app.create_tenant_with_admin("acme").await;
    World { app, sink, admin }
}

impl World {
    async fn gql(&self, token: Option<&str>, q: &str, v: Value) -> Value {
        self.app.gql_tenant("acme", token, q, v).await
    }

    async fn admin(&self, q: &str, v: Value) -> Value {
        self.gql(Some(&self.admin), q, v).await
    }

    async fn org(&self, name: &str) -> String {
        let b = self
            .admin(
                "mutation($n: String!) { createOrganization(input: {name: $n}) { id jitRoles } }",
                json!({"n": name}),
            )
            .await;
        let o = &b["data"]["createOrganization"];
        assert_eq!(o["jitRoles"], json!(["member"]), "the default: {b}");
        o["id"].as_str().unwrap().to_string()
    }

    /// The names and roles of the caller's organizations.
    async fn orgs_of(&self, token: &str) -> Value {
        let b = self.gql(Some(token), MY_ORGS, json!({})).await;
        assert!(b["errors"].is_null(), "{b}");
        b["data"]["me"]["organizations"].clone()
    }

    /// Registers (address unconfirmed); the access token.
    async fn register(&self, email: &str, username: &str) -> String {
        let r = self
            .app
            .register_at("acme", email, username, PASSWORD)
            .await;
        r["accessToken"].as_str().unwrap().to_string()
    }

    /// Confirms `email` with the link of its verification mail, as a person would.
    async fn confirm(&self, email: &str) {
        let token = self
            .sink
            .wait_for(email, "Confirm your email")
            .await
            .token();
        let b = self
            .gql(
                None,
                "mutation($t: String!) { verifyEmail(token: $t) }",
                json!({"t": token}),
            )
            .await;
        assert_eq!(b["data"]["verifyEmail"], true, "{b}");
    }

    async fn create_user(&self, email: &str, username: &str, verified: bool) {
        let b = self
            .admin(
                CREATE_USER,
                json!({"i": {"email": email, "username": username, "password": PASSWORD,
                    "emailVerified": verified}}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
    }

    async fn login(&self, name: &str, org: Option<&str>) -> Value {
        self.gql(
            None,
            "mutation($i: LoginInput!) { login(input: $i) { accessToken user { id } } }",
            json!({"i": {"identifier": name, "password": PASSWORD, "organization": org}}),
        )
        .await
    }

    async fn token(&self, name: &str) -> String {
        let b = self.login(name, None).await;
        b["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {b}"))
            .to_string()
    }
}

#[tokio::test]
async fn a_confirmed_address_in_a_verified_domain_joins_and_an_unconfirmed_one_never_does() {
    let w = world().await;
    let initech = w.org("Initech").await;
    let globex = w.org("Globex").await;

    // Given by the tenant admin's assertion, lower-cased; one organization per domain.
    let b = w
        .admin(ADD_DOMAIN, json!({"o": initech, "d": " Initech.Example "}))
        .await;
    assert_eq!(
        b["data"]["addOrganizationDomain"],
        json!({"domain": "initech.example", "verified": true, "verification": "ADMIN_ASSERTION"}),
        "{b}"
    );
    for (org, d) in [
        (&globex, "initech.example"),
        (&globex, "gmail.com"),
        (&globex, "localhost"),
        (&globex, "not a domain.com"),
    ] {
        let b = w.admin(ADD_DOMAIN, json!({"o": org, "d": d})).await;
        assert_eq!(field(&b).as_deref(), Some("domain"), "{d}: {b}");
    }

    // Which organization owns a domain is not told where it changes nothing about signing in.
    let b = w
        .gql(
            None,
            "{ signInOptions(email: \"someone@initech.example\") { password organizationName } }",
            json!({}),
        )
        .await;
    assert_eq!(
        b["data"]["signInOptions"],
        json!({"password": true, "organizationName": null}),
        "{b}"
    );

    // Signed up with the domain's address: not a member while it is unconfirmed, at sign-up
    // nor at a later sign-in; a member once the mail's link confirms it.
    let pat = w.register("pat@initech.example", "pat").await;
    assert_eq!(w.orgs_of(&pat).await, json!([]));
    let pat = w.token("pat").await;
    assert_eq!(w.orgs_of(&pat).await, json!([]));
    w.confirm("pat@initech.example").await;
    assert_eq!(
        w.orgs_of(&pat).await,
        json!([{"organization": {"name": "Initech"}, "roles": ["member"]}])
    );
    // A subdomain is another domain.
    let sam = w.register("sam@sub.initech.example", "sam").await;
    w.confirm("sam@sub.initech.example").await;
    assert_eq!(w.orgs_of(&sam).await, json!([]));

    // An account made with a confirmed address joins at its first sign-in, which may ask for
    // the organization at once.
    w.create_user("lee@INITECH.example", "lee", true).await;
    let b = w.login("lee", Some(&initech)).await;
    assert!(b["data"]["login"]["accessToken"].is_string(), "{b}");
    // One made with an unconfirmed address does not.
    w.create_user("kim@initech.example", "kim", false).await;
    let kim = w.token("kim").await;
    assert_eq!(w.orgs_of(&kim).await, json!([]));

    // An admin's removal stays: the next sign-in does not join again.
    let lee_id = w.login("lee", None).await["data"]["login"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = w
        .admin(
            "mutation($o: ID!, $u: ID!) { removeOrganizationMember(orgId: $o, userId: $u) }",
            json!({"o": initech, "u": lee_id}),
        )
        .await;
    assert_eq!(b["data"]["removeOrganizationMember"], true, "{b}");
    let lee = w.token("lee").await;
    assert_eq!(w.orgs_of(&lee).await, json!([]));

    // The roles of joining are the organization's setting (tenant admins only).
    let upd = "mutation($o: ID!, $r: [String!]!) { updateOrganization(id: $o, input: {jitRoles: $r}) { jitRoles } }";
    let b = w.admin(upd, json!({"o": initech, "r": ["owner"]})).await;
    assert_eq!(field(&b).as_deref(), Some("jitRoles"), "{b}");
    let b = w
        .admin(upd, json!({"o": initech, "r": ["admin", "member"]}))
        .await;
    assert_eq!(
        b["data"]["updateOrganization"]["jitRoles"],
        json!(["admin", "member"]),
        "{b}"
    );
    w.create_user("max@initech.example", "max", true).await;
    let max = w.token("max").await;
    assert_eq!(
        w.orgs_of(&max).await,
        json!([{"organization": {"name": "Initech"}, "roles": ["admin", "member"]}])
    );
    // Max administers Initech now, but domains and joining roles stay the tenant's call.
    let b = w
        .gql(
            Some(&max),
            ADD_DOMAIN,
            json!({"o": initech, "d": "initech.test"}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    let b = w
        .gql(Some(&max), upd, json!({"o": initech, "r": ["admin"]}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    let b = w
        .gql(
            Some(&max),
            "query($o: ID!) { organization(id: $o) { domains { domain } } }",
            json!({"o": initech}),
        )
        .await;
    assert_eq!(
        b["data"]["organization"]["domains"],
        json!([{"domain": "initech.example"}]),
        "{b}"
    );

    // Taken away: nobody joins by it any more, and the members stay.
    let b = w
        .admin(REMOVE_DOMAIN, json!({"o": globex, "d": "initech.example"}))
        .await;
    assert_eq!(
        b["data"]["removeOrganizationDomain"], false,
        "not Globex's: {b}"
    );
    let b = w
        .admin(REMOVE_DOMAIN, json!({"o": initech, "d": "initech.example"}))
        .await;
    assert_eq!(b["data"]["removeOrganizationDomain"], true, "{b}");
    w.create_user("ned@initech.example", "ned", true).await;
    let ned = w.token("ned").await;
    assert_eq!(w.orgs_of(&ned).await, json!([]));
    assert_eq!(w.orgs_of(&max).await.as_array().unwrap().len(), 1);

    // A deleted organization's domains go with it: the domain is free for another.
    w.admin(ADD_DOMAIN, json!({"o": initech, "d": "initech.example"}))
        .await;
    w.admin(
        "mutation($i: ID!) { deleteOrganization(id: $i) }",
        json!({"i": initech}),
    )
    .await;
    let b = w
        .admin(ADD_DOMAIN, json!({"o": globex, "d": "initech.example"}))
        .await;
    assert_eq!(
        b["data"]["addOrganizationDomain"]["domain"], "initech.example",
        "{b}"
    );

    // Every join is audited with its organization and domain.
    let b = w
        .admin(
            "{ auditEvents(first: 100, kind: \"organization_member_joined_by_domain\") { edges { node { userId detail } } } }",
            json!({}),
        )
        .await;
    let joins = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(joins.len(), 3, "pat, lee and max: {b}");
    assert!(
        joins.iter().all(|e| e["node"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("domain initech.example"))),
        "{b}"
    );
    w.app.shutdown().await;
}
