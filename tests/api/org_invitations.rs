//! Invitations to an organization, with their mail over real SMTP: accepted once, by a
//! signed-in user whose confirmed address is the invited one; refused when used, revoked,
//! superseded or expired; made and seen only by the organization's own admins and tenant
//! admins; the same invitation accepted twice at once makes one membership.

use serde_json::{Value, json};

use crate::federated_signin::claims as jwt_claims;
use crate::helpers::*;

const TEMPLATE: &str = "https://app.example/accept-invitation?token={token}";
const SETTINGS: &str = "mutation($t: String) { updateTenantSettings(input: {invitationUrlTemplate: $t}) { invitationUrlTemplate } }";
const CREATE_ORG: &str = "mutation($n: String!) { createOrganization(input: {name: $n}) { id } }";
const INVITE: &str = "mutation($o: ID!, $e: String!, $r: [String!]!) { inviteToOrganization(orgId: $o, email: $e, roles: $r) { id organizationId email roles state invitedBy expiresAt acceptedAt } }";
const ACCEPT: &str = "mutation($t: String!) { acceptInvitation(token: $t) { userId email roles } }";
const REVOKE: &str = "mutation($i: ID!) { revokeInvitation(id: $i) }";
const INVITATIONS: &str = "query($o: ID!) { organization(id: $o) { memberCount invitations(first: 50) { totalCount edges { node { id email state acceptedAt } } } } }";
const CREATE_USER: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }";
const ADD: &str = "mutation($o: ID!, $u: ID!, $r: [String!]!) { addOrganizationMember(orgId: $o, userId: $u, roles: $r) { userId } }";
const USERS: &str = "{ users(first: 1) { totalCount } }";

fn ok(body: &Value, field: &str) {
    assert!(body["errors"].is_null(), "{field}: {body}");
    assert_eq!(body["data"][field], true, "{body}");
}

struct World {
    app: TestApp,
    sink: SmtpSink,
    admin: String,
}

/// A platform with tenant `acme` mailing to a sink; the invitation link template is set
/// unless `template` is false.
async fn world(template: bool) -> World {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_platform(&[
        ("SMTP_URL", &sink.url()),
        ("MAIL_FROM", "Latchkey Test <no-reply@latchkey.test>"),
    ])
    .await;
    let admin = app.create_tenant_with_admin("acme").await;
    if template {
        let b = app
            .gql_tenant("acme", Some(&admin), SETTINGS, json!({"t": TEMPLATE}))
            .await;
        assert_eq!(
            b["data"]["updateTenantSettings"]["invitationUrlTemplate"], TEMPLATE,
            "{b}"
        );
    }
    World { app, sink, admin }
}

impl World {
    async fn gql(&self, token: Option<&str>, q: &str, v: Value) -> Value {
        self.app.gql_tenant("acme", token, q, v).await
    }

    async fn admin_gql(&self, q: &str) -> Value {
        self.gql(Some(&self.admin), q, json!({})).await
    }

    async fn org(&self, name: &str) -> String {
        let b = self
            .gql(Some(&self.admin), CREATE_ORG, json!({"n": name}))
            .await;
        b["data"]["createOrganization"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{b}"))
            .to_string()
    }

    /// A user made by the tenant admin, address confirmed or not; their access token.
    async fn user(&self, name: &str, verified: bool) -> (String, String) {
        let b = self
            .gql(
                Some(&self.admin),
                CREATE_USER,
                json!({"i": {"email": format!("{name}@acme.example"), "username": name,
                    "password": PASSWORD, "emailVerified": verified}}),
            )
            .await;
        let id = b["data"]["createUser"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{b}"))
            .to_string();
        (id, self.login(name).await)
    }

    async fn login(&self, name: &str) -> String {
        let b = self.app.login_at("acme", name, PASSWORD).await;
        b["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} logs in: {b}"))
            .to_string()
    }

    /// Invites `email` as the caller; the invitation (or the error body).
    async fn invite(&self, as_: &str, org: &str, email: &str, roles: &[&str]) -> Value {
        self.gql(Some(as_), INVITE, json!({"o": org, "e": email, "r": roles}))
            .await
    }

    /// The token of the `n`th invitation mail to `to` (1-based), once it arrived.
    async fn mailed_token(&self, to: &str, n: usize) -> String {
        let mails = self
            .sink
            .wait_for_count(to, "You are invited to join", n)
            .await;
        mails[n - 1].token()
    }

    async fn users(&self) -> i64 {
        let b = self.gql(Some(&self.admin), USERS, json!({})).await;
        b["data"]["users"]["totalCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("{b}"))
    }

    async fn states(&self, as_: &str, org: &str) -> Vec<(String, String)> {
        let b = self.gql(Some(as_), INVITATIONS, json!({"o": org})).await;
        b["data"]["organization"]["invitations"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{b}"))
            .iter()
            .map(|e| {
                (
                    e["node"]["email"].as_str().unwrap().to_string(),
                    e["node"]["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn an_invitation_is_mailed_and_accepted_once_by_its_address_once_confirmed() {
    let w = world(false).await;
    let admin = w.admin.clone();
    let initech = w.org("Initech").await;
    // No page to land on yet: nothing is sent, and the admin is told what to set.
    let b = w
        .invite(&admin, &initech, "alice@acme.example", &["member"])
        .await;
    assert_eq!(field(&b).as_deref(), Some("invitationUrlTemplate"), "{b}");
    let b = w
        .gql(
            Some(&admin),
            SETTINGS,
            json!({"t": "https://app.example/no-token"}),
        )
        .await;
    assert_eq!(field(&b).as_deref(), Some("invitationUrlTemplate"), "{b}");
    w.gql(Some(&admin), SETTINGS, json!({"t": TEMPLATE})).await;

    // Bad input, field by field.
    for (email, roles, f) in [
        ("not an address", vec!["member"], "email"),
        ("alice@acme.example", vec!["owner"], "roles"),
    ] {
        let b = w.invite(&admin, &initech, email, &roles).await;
        assert_eq!(field(&b).as_deref(), Some(f), "{email} {roles:?}: {b}");
    }

    // Invited by address, with no account behind it: none is made.
    let users_before = w.users().await;
    let b = w
        .invite(&admin, &initech, " Alice@ACME.example ", &["member"])
        .await;
    let inv = &b["data"]["inviteToOrganization"];
    assert_eq!(inv["email"], "alice@acme.example", "{b}");
    assert_eq!(inv["state"], "PENDING");
    assert_eq!(inv["organizationId"], json!(initech));
    assert!(inv["acceptedAt"].is_null());
    assert_eq!(
        w.users().await,
        users_before,
        "an invitation makes no account"
    );
    // Mailed to the address as the admin typed it (domain lower-cased).
    let mail = w
        .sink
        .wait_for("Alice@acme.example", "You are invited to join Initech")
        .await;
    assert!(
        mail.text
            .contains("https://app.example/accept-invitation?token="),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("7 days"), "{}", mail.text);
    let token = mail.token();

    // Not signed in: refused.
    let b = w.gql(None, ACCEPT, json!({"t": token})).await;
    assert_eq!(code(&b).as_deref(), Some("UNAUTHENTICATED"), "{b}");
    // Another account, confirmed: refused, and the invitation stays open for its address.
    let (_, mallory) = w.user("mallory", true).await;
    let b = w.gql(Some(&mallory), ACCEPT, json!({"t": token})).await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    // The invited address, not yet confirmed: refused until it is.
    let (alice_id, alice) = w.user("alice", false).await;
    let b = w.gql(Some(&alice), ACCEPT, json!({"t": token})).await;
    assert_eq!(code(&b).as_deref(), Some("ACCOUNT_NOT_VERIFIED"), "{b}");
    assert_eq!(
        w.states(&admin, &initech).await,
        vec![("alice@acme.example".into(), "PENDING".into())]
    );
    // Confirmed through the verification mail, as a person would (the account's creation
    // sent the first, this asks for a second: the newest link is the live one).
    ok(
        &w.gql(
            Some(&alice),
            "mutation { resendVerificationEmail }",
            json!({}),
        )
        .await,
        "resendVerificationEmail",
    );
    let verify = w
        .sink
        .wait_for_count("alice@acme.example", "Confirm your email", 2)
        .await[1]
        .token();
    ok(
        &w.gql(
            None,
            "mutation($t: String!) { verifyEmail(token: $t) }",
            json!({"t": verify}),
        )
        .await,
        "verifyEmail",
    );
    let b = w.gql(Some(&alice), ACCEPT, json!({"t": token})).await;
    let m = &b["data"]["acceptInvitation"];
    assert_eq!(m["userId"], json!(alice_id), "{b}");
    assert_eq!(m["roles"], json!(["member"]));
    let b = w
        .gql(
            Some(&alice),
            "{ me { organizations { organization { id name } roles } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        b["data"]["me"]["organizations"],
        json!([{"organization": {"id": initech, "name": "Initech"}, "roles": ["member"]}]),
        "{b}"
    );

    // Single use.
    let b = w.gql(Some(&alice), ACCEPT, json!({"t": token})).await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");
    let b = w
        .gql(Some(&admin), INVITATIONS, json!({"o": initech}))
        .await;
    let node = &b["data"]["organization"]["invitations"]["edges"][0]["node"];
    assert_eq!(node["state"], "ACCEPTED", "{b}");
    assert!(node["acceptedAt"].is_string());
    assert_eq!(b["data"]["organization"]["memberCount"], 1);
    // A member is not invited again.
    let b = w
        .invite(&admin, &initech, "alice@acme.example", &["member"])
        .await;
    assert_eq!(field(&b).as_deref(), Some("email"), "{b}");
    // An address with an account gets an invitation and still exactly its one account.
    let before = w.users().await;
    let b = w
        .invite(&admin, &initech, "mallory@acme.example", &["member"])
        .await;
    assert_eq!(b["data"]["inviteToOrganization"]["state"], "PENDING", "{b}");
    assert_eq!(w.users().await, before);

    // Audited with the organization.
    let b = w
        .gql(
            Some(&admin),
            "{ auditEvents(first: 100) { edges { node { kind detail } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<String> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .filter(|e| {
            e["node"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&initech))
        })
        .map(|e| e["node"]["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "organization_invitation_created",
        "organization_invitation_accepted",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    w.app.shutdown().await;
}

#[tokio::test]
async fn a_superseded_revoked_or_expired_invitation_is_refused() {
    let w = world(true).await;
    let admin = w.admin.clone();
    let org = w.org("Umbrella").await;
    let (_, _) = w.user("carol", true).await;
    let to = "carol@acme.example";

    // A second invitation of the address supersedes the first.
    w.invite(&admin, &org, to, &["member"]).await;
    let first = w.mailed_token(to, 1).await;
    let b = w.invite(&admin, &org, to, &["member"]).await;
    let second_id = b["data"]["inviteToOrganization"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let second = w.mailed_token(to, 2).await;
    let carol = w.login("carol").await;
    let b = w.gql(Some(&carol), ACCEPT, json!({"t": first})).await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");

    // Revoked: the link dies; revoking again is a no-op.
    let b = w.gql(Some(&admin), REVOKE, json!({"i": second_id})).await;
    assert_eq!(b["data"]["revokeInvitation"], true, "{b}");
    let b = w.gql(Some(&admin), REVOKE, json!({"i": second_id})).await;
    assert_eq!(b["data"]["revokeInvitation"], false, "{b}");
    let b = w.gql(Some(&carol), ACCEPT, json!({"t": second})).await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");

    // Expired: seven days and a minute later.
    w.invite(&admin, &org, to, &["member"]).await;
    let third = w.mailed_token(to, 3).await;
    w.app
        .clock
        .advance(std::time::Duration::from_secs(7 * 86_400 + 60));
    let carol = w.login("carol").await;
    let b = w.gql(Some(&carol), ACCEPT, json!({"t": third})).await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");
    // Garbage and empty tokens get the same answer.
    for t in ["", "x", &"a".repeat(600)] {
        let b = w.gql(Some(&carol), ACCEPT, json!({"t": t})).await;
        assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{t:?}: {b}");
    }

    let admin = w.login("admin").await;
    let states: Vec<String> = w
        .states(&admin, &org)
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(states, ["REVOKED", "REVOKED", "EXPIRED"]);
    let b = w.gql(Some(&admin), INVITATIONS, json!({"o": org})).await;
    assert_eq!(b["data"]["organization"]["memberCount"], 0, "{b}");
    w.app.shutdown().await;
}

#[tokio::test]
async fn an_organizations_admin_invites_to_it_and_cannot_see_or_touch_anothers_invitations() {
    let w = world(true).await;
    let admin = w.admin.clone();
    let a = w.org("Alpha").await;
    let b_org = w.org("Beta").await;
    let (dana_id, dana) = w.user("dana", true).await;
    let (erin_id, erin) = w.user("erin", true).await;
    for (user, role) in [(&dana_id, "admin"), (&erin_id, "member")] {
        let b = w
            .gql(Some(&admin), ADD, json!({"o": a, "u": user, "r": [role]}))
            .await;
        assert!(b["errors"].is_null(), "{b}");
    }
    // Beta has an open invitation of its own.
    let b = w
        .invite(&admin, &b_org, "beta-person@acme.example", &["member"])
        .await;
    let beta_inv = b["data"]["inviteToOrganization"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();

    // Dana administers Alpha: invites to it, sees and revokes its invitations.
    let b = w
        .invite(&dana, &a, "new-hire@acme.example", &["member"])
        .await;
    let inv = &b["data"]["inviteToOrganization"];
    assert_eq!(inv["invitedBy"], json!(dana_id), "{b}");
    let alpha_inv = inv["id"].as_str().unwrap().to_string();
    assert_eq!(
        w.states(&dana, &a).await,
        vec![("new-hire@acme.example".into(), "PENDING".into())]
    );
    // ... and nothing of Beta: invite, list, revoke.
    let b = w
        .invite(&dana, &b_org, "mine@acme.example", &["admin"])
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    let b = w.gql(Some(&dana), INVITATIONS, json!({"o": b_org})).await;
    assert!(b["data"]["organization"].is_null(), "{b}");
    let b = w.gql(Some(&dana), REVOKE, json!({"i": beta_inv})).await;
    assert_eq!(b["data"]["revokeInvitation"], false, "{b}");
    assert_eq!(
        w.states(&admin, &b_org).await,
        vec![("beta-person@acme.example".into(), "PENDING".into())]
    );
    // A plain member of Alpha does not invite, list or revoke.
    let b = w
        .invite(&erin, &a, "friend@acme.example", &["member"])
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    let b = w.gql(Some(&erin), INVITATIONS, json!({"o": a})).await;
    assert!(b["data"]["organization"].is_null(), "{b}");
    let b = w.gql(Some(&erin), REVOKE, json!({"i": alpha_inv})).await;
    assert_eq!(b["data"]["revokeInvitation"], false, "{b}");
    let b = w.gql(Some(&dana), REVOKE, json!({"i": alpha_inv})).await;
    assert_eq!(b["data"]["revokeInvitation"], true, "{b}");

    // Deleting an organization deletes its invitations: Beta's link dies.
    let beta_token = w.mailed_token("beta-person@acme.example", 1).await;
    let b = w
        .gql(
            Some(&admin),
            "mutation($i: ID!) { deleteOrganization(id: $i) }",
            json!({"i": b_org}),
        )
        .await;
    assert_eq!(b["data"]["deleteOrganization"], true, "{b}");
    let (_, beta_person) = w.user("beta-person", true).await;
    let b = w
        .gql(Some(&beta_person), ACCEPT, json!({"t": beta_token}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");

    // An organization's admin sends at most 50 invitations an hour.
    for i in 1..50 {
        let b = w
            .invite(&dana, &a, &format!("p{i}@acme.example"), &["member"])
            .await;
        assert!(b["errors"].is_null(), "invitation {i}: {b}");
    }
    let b = w.invite(&dana, &a, "p50@acme.example", &["member"]).await;
    assert_eq!(code(&b).as_deref(), Some("RATE_LIMITED"), "{b}");
    w.app.shutdown().await;
}

#[tokio::test]
async fn the_same_invitation_accepted_eight_times_at_once_makes_one_membership() {
    let w = world(true).await;
    let org = w.org("Hooli").await;
    let (frank_id, frank) = w.user("frank", true).await;
    w.invite(&w.admin, &org, "frank@acme.example", &["admin", "member"])
        .await;
    let token = w.mailed_token("frank@acme.example", 1).await;
    // Eight requests in flight at once, each on its own task (`join_all` spawns them).
    let accepts: Vec<_> = (0..8)
        .map(|_| {
            let (url, frank, vars) = (
                format!("{}/t/acme/graphql", w.app.base),
                frank.clone(),
                json!({"t": token}),
            );
            async move {
                reqwest::Client::new()
                    .post(url)
                    .bearer_auth(frank)
                    .json(&json!({"query": ACCEPT, "variables": vars}))
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        })
        .collect();
    let mut accepted = 0;
    for b in join_all(accepts).await {
        if b["errors"].is_null() {
            assert_eq!(b["data"]["acceptInvitation"]["userId"], json!(frank_id));
            accepted += 1;
        } else {
            assert_eq!(code(&b).as_deref(), Some("INVALID_TOKEN"), "{b}");
        }
    }
    assert_eq!(accepted, 1);
    let b = w.gql(Some(&w.admin), INVITATIONS, json!({"o": org})).await;
    assert_eq!(b["data"]["organization"]["memberCount"], 1, "{b}");
    // The roles it carried are the membership's, and an org-scoped token carries them.
    let b = w
        .gql(
            Some(&frank),
            "mutation($o: ID!) { switchOrganization(orgId: $o) { accessToken } }",
            json!({"o": org}),
        )
        .await;
    let claims = jwt_claims(
        b["data"]["switchOrganization"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{b}")),
    );
    assert_eq!(claims["org_id"], json!(org));
    assert_eq!(claims["org_roles"], json!(["admin", "member"]));
    w.app.shutdown().await;
}

#[tokio::test]
async fn a_role_deleted_from_the_template_is_not_granted_by_an_open_invitation() {
    let w = world(true).await;
    let org = w.org("Vandelay").await;
    let (_, george) = w.user("george", true).await;
    let b = w
        .admin_gql(
            "mutation { saveOrganizationRole(input: {name: \"importer\", description: \"Imports\"}) { name } }",
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    w.invite(
        &w.admin,
        &org,
        "george@acme.example",
        &["importer", "member"],
    )
    .await;
    let token = w.mailed_token("george@acme.example", 1).await;
    let b = w
        .admin_gql("mutation { deleteOrganizationRole(name: \"importer\") }")
        .await;
    assert_eq!(b["data"]["deleteOrganizationRole"], true, "{b}");
    let b = w.gql(Some(&george), ACCEPT, json!({"t": token})).await;
    assert_eq!(
        b["data"]["acceptInvitation"]["roles"],
        json!(["member"]),
        "{b}"
    );
    w.app.shutdown().await;
}
