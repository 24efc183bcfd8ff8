//! SCIM provisioning as Entra ID and Okta do it, over real HTTP against the real server, with
//! the effects checked where a person meets them: GraphQL (the admin's view, `me`) and
//! sign-in (a deactivated user's refresh token dies at once). Then token scoping (an
//! organization's token sees only its own people), filters (what the issue names, hostile and
//! oversized ones refused cleanly), paging, uniqueness, the tenant's deprovisioning rule, and
//! concurrent PATCHes on one user losing nothing.

use serde_json::{Value, json};

use crate::helpers::*;

const CREATE_TOKEN: &str =
    "mutation($i: CreateScimTokenInput!) { createScimToken(input: $i) { token } }";
const USER: &str = "query($i: ID!) { user(id: $i) { id email username disabled emailVerified } }";
const MEMBERS: &str = "query($i: ID!) { organization(id: $i) { name members(first: 50) { edges { node { userId roles } } } } }";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A SCIM client: the tenant's base URL and a token.
struct Scim<'a> {
    app: &'a TestApp,
    token: String,
}

impl Scim<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/t/acme/scim/v2{path}", self.app.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .app
            .client
            .request(method, url)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            // Entra sends application/scim+json; Okta application/json. Both are read.
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    async fn patch(&self, path: &str, ops: Value) -> (u16, Value) {
        self.call(
            "PATCH",
            path,
            Some(json!({"schemas": [PATCH_OP], "Operations": ops})),
        )
        .await
    }

    /// The ids a list answers for `filter`.
    async fn ids(&self, resource: &str, filter: &str) -> Vec<String> {
        let q = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>();
        let (status, body) = self.get(&format!("/{resource}?filter={q}")).await;
        assert_eq!(status, 200, "{filter}: {body}");
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn token(app: &TestApp, admin: &str, org: Option<&str>) -> String {
    let b = app
        .gql_tenant(
            "acme",
            Some(admin),
            CREATE_TOKEN,
            json!({"i": {"name": "directory", "organizationId": org}}),
        )
        .await;
    b["data"]["createScimToken"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string()
}

fn assert_scim_error(status: u16, body: &Value, want: u16, scim_type: Option<&str>) {
    assert_eq!(status, want, "{body}");
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    assert_eq!(body["status"], want.to_string(), "{body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{body}");
}

async fn refresh_at(app: &TestApp, refresh: &str) -> Value {
    app.gql_tenant(
        "acme",
        None,
        "mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken } }",
        json!({"t": refresh}),
    )
    .await
}

#[tokio::test]
async fn an_entra_shaped_sequence_provisions_deactivates_reactivates_groups_and_deletes() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let a = Some(admin.as_str());
    let scim = Scim {
        app: &app,
        token: token(&app, &admin, None).await,
    };
    // Ada already has an account with a password (she registered before the company connected
    // its directory): Entra's create links it.
    let reg = app
        .register_at("acme", "ada@contoso.example", "ada", PASSWORD)
        .await;
    let ada_id = reg["user"]["id"].as_str().unwrap().to_string();

    // Entra's first question: does the user exist?
    assert!(
        scim.ids("Users", "userName eq \"ada@contoso.example\"")
            .await
            .is_empty()
    );
    let (status, made) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "externalId": "8a2d3c1e-entra-object-id",
                "userName": "ada@contoso.example",
                "active": true,
                "displayName": "Ada Lovelace",
                "emails": [{"primary": true, "type": "work", "value": "ada@contoso.example"}],
                "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
                ENTERPRISE: {"department": "Engineering"},
            })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["id"], json!(ada_id), "linked, not a second account");
    assert_eq!(made["externalId"], "8a2d3c1e-entra-object-id");
    assert_eq!(made["name"]["givenName"], "Ada");
    assert!(made.get("password").is_none());
    assert_eq!(
        scim.ids("Users", "userName eq \"ADA@contoso.example\"")
            .await,
        vec![ada_id.clone()],
        "userName is compared without case"
    );

    // A new hire with no account: made without a password, the directory's address trusted.
    let (status, grace) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "externalId": "entra-grace",
                "userName": "grace@contoso.example",
                "active": true,
                "emails": [{"primary": true, "type": "work", "value": "grace@contoso.example"}],
            })),
        )
        .await;
    assert_eq!(status, 201, "{grace}");
    let grace_id = grace["id"].as_str().unwrap().to_string();
    let b = app
        .gql_tenant("acme", a, USER, json!({"i": grace_id}))
        .await;
    assert_eq!(b["data"]["user"]["email"], "grace@contoso.example", "{b}");
    assert_eq!(b["data"]["user"]["emailVerified"], true, "{b}");
    let b = app
        .login_at("acme", "grace@contoso.example", PASSWORD)
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");

    // Entra's update shapes: capitalised ops, a value filter on emails.
    let (status, b) = scim
        .patch(
            &format!("/Users/{ada_id}"),
            json!([
                {"op": "Replace", "path": "displayName", "value": "Ada King"},
                {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "ada@home.example"},
                {"op": "Replace", "path": "name.familyName", "value": "King"},
            ]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["displayName"], "Ada King");
    assert_eq!(b["name"]["familyName"], "King");
    assert_eq!(b["name"]["givenName"], "Ada");
    assert_eq!(
        b["emails"][1],
        json!({"type": "home", "value": "ada@home.example"})
    );

    // Signed in, then deactivated by Entra's `"False"`: the refresh token dies at once.
    let login = app.login_at("acme", "ada", PASSWORD).await;
    let refresh = login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_string();
    let (status, b) = scim
        .patch(
            &format!("/Users/{ada_id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["active"], false);
    let b = refresh_at(&app, &refresh).await;
    assert!(b["data"].is_null() || b["data"]["refresh"].is_null(), "{b}");
    assert!(code(&b).is_some(), "{b}");
    let b = app.login_at("acme", "ada", PASSWORD).await;
    assert_eq!(code(&b).as_deref(), Some("ACCOUNT_DISABLED"), "{b}");
    let b = app.gql_tenant("acme", a, USER, json!({"i": ada_id})).await;
    assert_eq!(b["data"]["user"]["disabled"], true, "{b}");

    // Reactivated: she signs in again.
    let (status, b) = scim
        .patch(
            &format!("/Users/{ada_id}"),
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
        )
        .await;
    assert_eq!((status, &b["active"]), (200, &json!(true)), "{b}");

    // Her mailbox is renamed in the directory: the account's address follows (sign-in and
    // reset mail use it); another account's address is refused.
    let (status, b) = scim
        .patch(
            &format!("/Users/{ada_id}"),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada.king@contoso.example"}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let b = app.gql_tenant("acme", a, USER, json!({"i": ada_id})).await;
    assert_eq!(
        b["data"]["user"]["email"], "ada.king@contoso.example",
        "{b}"
    );
    let (status, b) = scim
        .patch(
            &format!("/Users/{ada_id}"),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "grace@contoso.example"}]),
        )
        .await;
    assert_scim_error(status, &b, 409, Some("uniqueness"));
    let login = app
        .login_at("acme", "ada.king@contoso.example", PASSWORD)
        .await;
    let refresh = login["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_string();

    // A group is an organization; members added and removed by PATCH.
    let (status, group) = scim
        .call(
            "POST",
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "externalId": "entra-group-1",
                "displayName": "Contoso Engineering",
                "members": [],
            })),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap().to_string();
    let (status, b) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Add", "path": "members", "value": [{"value": ada_id}, {"value": grace_id}]}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let b = app.gql_tenant("acme", a, MEMBERS, json!({"i": gid})).await;
    assert_eq!(
        b["data"]["organization"]["name"], "Contoso Engineering",
        "{b}"
    );
    let members: Vec<&str> = b["data"]["organization"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["userId"].as_str())
        .collect();
    assert!(
        members.contains(&ada_id.as_str()) && members.contains(&grace_id.as_str()),
        "{b}"
    );
    // Her next refresh can be scoped to it; it carries the organization.
    let into = "mutation($t: String!, $o: ID) { refresh(refreshToken: $t, organization: $o) { accessToken refreshToken } }";
    let b = app
        .gql_tenant("acme", None, into, json!({"t": refresh, "o": gid}))
        .await;
    let refresh = b["data"]["refresh"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();

    // Removed from the group: gone from the organization at once, and the session scoped to
    // it ends.
    let (status, b) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": format!("members[value eq \"{ada_id}\"]")}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["members"], json!([{"value": grace_id}]), "{b}");
    let b = app.gql_tenant("acme", a, MEMBERS, json!({"i": gid})).await;
    assert!(!b.to_string().contains(&ada_id), "{b}");
    let b = refresh_at(&app, &refresh).await;
    assert!(
        code(&b).is_some(),
        "an org-scoped session of a removed member: {b}"
    );

    // Deleted: gone over SCIM, from GraphQL, and from sign-in (the default rule).
    let (status, _) = scim.call("DELETE", &format!("/Users/{ada_id}"), None).await;
    assert_eq!(status, 204);
    let (status, b) = scim.get(&format!("/Users/{ada_id}")).await;
    assert_scim_error(status, &b, 404, None);
    let b = app.gql_tenant("acme", a, USER, json!({"i": ada_id})).await;
    assert!(b["data"]["user"].is_null(), "{b}");
    let b = app.login_at("acme", "ada", PASSWORD).await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");

    // Audited with the token as the actor.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "{ auditEvents(first: 100) { edges { node { kind actorId } } } }",
            json!({}),
        )
        .await;
    let by_scim: Vec<&str> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .filter(|e| {
            e["node"]["actorId"]
                .as_str()
                .is_some_and(|a| a.starts_with("scim:"))
        })
        .filter_map(|e| e["node"]["kind"].as_str())
        .collect();
    for kind in [
        "scim_user_linked",
        "user_created",
        "user_disabled",
        "user_enabled",
        "organization_created",
        "organization_member_added",
        "organization_member_removed",
        "email_changed",
        "user_deleted",
    ] {
        assert!(by_scim.contains(&kind), "{kind} in {by_scim:?}");
    }
}

#[tokio::test]
async fn an_okta_shaped_sequence_with_put_replace_without_path_and_deactivation_kept() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let a = Some(admin.as_str());
    // This tenant keeps deprovisioned accounts (disabled) for audit.
    let b = app
        .gql_tenant(
            "acme",
            a,
            "mutation { updateTenantSettings(input: {scimDeprovision: DISABLE}) { scimDeprovision } }",
            json!({}),
        )
        .await;
    assert_eq!(
        b["data"]["updateTenantSettings"]["scimDeprovision"], "DISABLE",
        "{b}"
    );
    let scim = Scim {
        app: &app,
        token: token(&app, &admin, None).await,
    };
    // Okta's import: a page of users.
    let (status, b) = scim.get("/Users?startIndex=1&count=100").await;
    assert_eq!((status, &b["totalResults"]), (200, &json!(0)), "{b}");
    // Okta sends a password when "Sync password" is on: ignored, never stored or answered.
    let (status, made) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "linus@initech.example",
                "name": {"givenName": "Linus", "familyName": "T"},
                "emails": [{"primary": true, "value": "linus@initech.example", "type": "work"}],
                "displayName": "Linus T",
                "locale": "en-US",
                "externalId": "00u1okta",
                "groups": [],
                "password": "an okta synced password",
                "active": true,
            })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert!(made.get("password").is_none() && made.get("locale").is_none());
    let id = made["id"].as_str().unwrap().to_string();
    let b = app
        .login_at("acme", "linus@initech.example", "an okta synced password")
        .await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");

    // A profile change: Okta PUTs the whole user.
    let (status, b) = scim
        .call(
            "PUT",
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": id,
                "userName": "linus@initech.example",
                "name": {"givenName": "Linus", "familyName": "Torvalds"},
                "emails": [{"primary": true, "value": "linus@initech.example", "type": "work"}],
                "displayName": "Linus Torvalds",
                "externalId": "00u1okta",
                "active": true,
            })),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["name"]["familyName"], "Torvalds");

    // Okta deactivates with a replace without a path, the id repeated in the value.
    let (status, b) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"id": id, "active": false}}]),
        )
        .await;
    assert_eq!((status, &b["active"]), (200, &json!(false)), "{b}");
    let b = app.gql_tenant("acme", a, USER, json!({"i": id})).await;
    assert_eq!(b["data"]["user"]["disabled"], true, "{b}");
    // `active` removed from a user marked inactive: no longer marked, so enabled, and the
    // attribute is gone as written.
    let (status, b) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "remove", "path": "active"}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert!(b.get("active").is_none(), "{b}");
    let b = app.gql_tenant("acme", a, USER, json!({"i": id})).await;
    assert_eq!(b["data"]["user"]["disabled"], false, "{b}");
    let (status, b) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!((status, &b["active"]), (200, &json!(false)), "{b}");
    let (status, b) = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!((status, &b["active"]), (200, &json!(true)), "{b}");
    let b = app.gql_tenant("acme", a, USER, json!({"i": id})).await;
    assert_eq!(b["data"]["user"]["disabled"], false, "{b}");

    // Okta's group push: create, add, rename without a path, remove, delete.
    let (status, g) = scim
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Initech", "members": []})),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let (status, b) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([
                {"op": "replace", "value": {"id": gid, "displayName": "Initech Inc"}},
                {"op": "add", "path": "members", "value": [{"value": id, "display": "linus@initech.example"}]},
            ]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["displayName"], "Initech Inc");
    assert_eq!(b["members"][0]["value"], json!(id));
    let b = app.gql_tenant("acme", a, MEMBERS, json!({"i": gid})).await;
    assert_eq!(b["data"]["organization"]["name"], "Initech Inc", "{b}");
    assert!(b.to_string().contains(&id), "{b}");
    // A duplicate name is refused as SCIM says.
    let (status, b) = scim
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "initech inc"})),
        )
        .await;
    assert_scim_error(status, &b, 409, Some("uniqueness"));
    // Entra's older shape (without aadOptscim062020): a remove with a value takes only that
    // member; the others stay.
    let (status, other) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"userName": "milton@initech.example", "emails": [{"value": "milton@initech.example"}]})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other = other["id"].as_str().unwrap().to_string();
    let (status, b) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Add", "path": "members", "value": [{"value": other}]}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    let (status, b) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "Remove", "path": "members", "value": [{"value": other}]}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["members"].as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(b["members"][0]["value"], json!(id), "{b}");
    let (status, b) = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert!(b.get("members").is_none(), "{b}");
    let (status, _) = scim.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(status, 204);
    let b = app.gql_tenant("acme", a, MEMBERS, json!({"i": gid})).await;
    assert!(b["data"]["organization"].is_null(), "{b}");

    // DELETE under DISABLE: gone from SCIM, the account kept and disabled.
    let (status, _) = scim.call("DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, b) = scim.get(&format!("/Users/{id}")).await;
    assert_scim_error(status, &b, 404, None);
    let b = app.gql_tenant("acme", a, USER, json!({"i": id})).await;
    assert_eq!(b["data"]["user"]["disabled"], true, "{b}");
    // A second DELETE is a clean 404.
    let (status, b) = scim.call("DELETE", &format!("/Users/{id}"), None).await;
    assert_scim_error(status, &b, 404, None);
    // Re-hired: the directory creates them again; the kept account comes back, enabled.
    let (status, b) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"userName": "linus@initech.example", "active": true,
                "emails": [{"primary": true, "value": "linus@initech.example"}]})),
        )
        .await;
    assert_eq!((status, &b["id"]), (201, &json!(id)), "{b}");
    let b = app.gql_tenant("acme", a, USER, json!({"i": id})).await;
    assert_eq!(b["data"]["user"]["disabled"], false, "{b}");
}

#[tokio::test]
async fn an_organizations_token_sees_and_provisions_only_its_own_people() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let a = Some(admin.as_str());
    let mut orgs = Vec::new();
    for name in ["Initech", "Hooli"] {
        let b = app
            .gql_tenant(
                "acme",
                a,
                "mutation($n: String!) { createOrganization(input: {name: $n}) { id } }",
                json!({"n": name}),
            )
            .await;
        orgs.push(
            b["data"]["createOrganization"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let initech = Scim {
        app: &app,
        token: token(&app, &admin, Some(&orgs[0])).await,
    };
    let hooli = Scim {
        app: &app,
        token: token(&app, &admin, Some(&orgs[1])).await,
    };
    let tenant = Scim {
        app: &app,
        token: token(&app, &admin, None).await,
    };
    let user = |name: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "emails": [{"value": name, "primary": true}],
        })
    };
    let (status, p) = initech
        .call("POST", "/Users", Some(user("peter@initech.example")))
        .await;
    assert_eq!(status, 201, "{p}");
    let peter = p["id"].as_str().unwrap().to_string();
    // Outside the organization's verified domains (it has none) its directory cannot vouch
    // for an address: the account gets the verification mail like any other.
    let b = app.gql_tenant("acme", a, USER, json!({"i": peter})).await;
    assert_eq!(b["data"]["user"]["emailVerified"], false, "{b}");
    // Provisioned into its organization, with the joining roles.
    let b = app
        .gql_tenant("acme", a, MEMBERS, json!({"i": orgs[0]}))
        .await;
    assert!(b.to_string().contains(&peter), "{b}");
    let (status, r) = hooli
        .call("POST", "/Users", Some(user("richard@hooli.example")))
        .await;
    assert_eq!(status, 201, "{r}");
    let richard = r["id"].as_str().unwrap().to_string();

    // Each sees only its own, whatever it asks.
    assert_eq!(
        initech.ids("Users", "userName pr").await,
        vec![peter.clone()]
    );
    assert_eq!(
        hooli.ids("Users", "userName pr").await,
        vec![richard.clone()]
    );
    assert!(
        initech
            .ids("Users", "userName eq \"richard@hooli.example\"")
            .await
            .is_empty()
    );
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(user("richard@hooli.example"))),
        (
            "PATCH",
            Some(
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            ),
        ),
        ("DELETE", None),
    ] {
        let (status, b) = initech
            .call(method, &format!("/Users/{richard}"), body)
            .await;
        assert_scim_error(status, &b, 404, None);
    }
    let b = app.gql_tenant("acme", a, USER, json!({"i": richard})).await;
    assert_eq!(b["data"]["user"]["disabled"], false, "{b}");
    // It cannot take over an account outside its organization by its address.
    app.register_at("acme", "bill@acme.example", "bill", PASSWORD)
        .await;
    let (status, b) = initech
        .call("POST", "/Users", Some(user("bill@acme.example")))
        .await;
    assert_scim_error(status, &b, 409, Some("uniqueness"));
    // Nor make or delete organizations.
    let (status, b) = initech
        .call(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Mine"})),
        )
        .await;
    assert_scim_error(status, &b, 403, None);
    // Not even the tenant's token comes to manage an account with tenant roles (the admin).
    let b = app
        .gql_tenant("acme", a, "{ me { email } }", json!({}))
        .await;
    let admin_email = b["data"]["me"]["email"].as_str().unwrap().to_string();
    let (status, b) = tenant
        .call("POST", "/Users", Some(user(&admin_email)))
        .await;
    assert_scim_error(status, &b, 409, Some("uniqueness"));
    // The tenant's token sees everyone provisioned.
    let mut all = tenant.ids("Users", "userName pr").await;
    all.sort();
    let mut want = vec![peter, richard];
    want.sort();
    assert_eq!(all, want);
}

#[tokio::test]
async fn filters_paging_and_uniqueness_answer_as_scim_says_and_hostile_input_is_refused_cleanly() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let scim = Scim {
        app: &app,
        token: token(&app, &admin, None).await,
    };
    let mut ids = Vec::new();
    for (i, (name, active)) in [
        ("alice@acme.example", true),
        ("bob@acme.example", false),
        ("carol@other.example", true),
        ("dave@acme.example", true),
    ]
    .iter()
    .enumerate()
    {
        let (status, b) = scim
            .call(
                "POST",
                "/Users",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "externalId": format!("ext-{i}"),
                    "active": active,
                    "emails": [{"value": name, "primary": true, "type": "work"}],
                })),
            )
            .await;
        assert_eq!(status, 201, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    let pick = |idx: &[usize]| idx.iter().map(|i| ids[*i].clone()).collect::<Vec<_>>();
    for (filter, want) in [
        ("userName eq \"alice@acme.example\"", pick(&[0])),
        ("userName co \"acme\"", pick(&[0, 1, 3])),
        ("userName sw \"CA\"", pick(&[2])),
        ("emails.value ew \"other.example\"", pick(&[2])),
        ("emails[type eq \"work\" and value co \"dave\"]", pick(&[3])),
        ("externalId eq \"ext-1\"", pick(&[1])),
        ("externalId eq \"EXT-1\"", pick(&[])),
        ("active eq false", pick(&[1])),
        ("active eq true and userName co \"acme\"", pick(&[0, 3])),
        (
            "userName eq \"bob@acme.example\" or externalId eq \"ext-2\"",
            pick(&[1, 2]),
        ),
        ("not (userName co \"acme\")", pick(&[2])),
        ("externalId pr", pick(&[0, 1, 2, 3])),
        // What looks like an injection is a string compared, nothing more.
        ("userName eq \"x\\\" or 1=1 --\"", pick(&[])),
        ("userName eq \"'; DELETE scim_user; --\"", pick(&[])),
    ] {
        let mut got = scim.ids("Users", filter).await;
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{filter}");
    }
    // Paging: startIndex is 1-based, count bounds the page, totalResults counts all matches.
    let (status, b) = scim
        .get("/Users?filter=userName%20co%20%22acme%22&startIndex=2&count=1")
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["totalResults"], 3);
    assert_eq!(b["startIndex"], 2);
    assert_eq!(b["itemsPerPage"], 1);
    assert_eq!(b["Resources"][0]["id"], json!(ids[1]));
    let (_, b) = scim.get("/Users?count=0").await;
    assert_eq!(
        (&b["totalResults"], &b["itemsPerPage"]),
        (&json!(4), &json!(0))
    );
    // POST /.search takes the same.
    let (status, b) = scim
        .call(
            "POST",
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "active eq false",
                "attributes": ["userName"],
            })),
        )
        .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        b["Resources"],
        json!([{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": ids[1], "userName": "bob@acme.example"}])
    );

    // Malformed, hostile and oversized filters: 400 invalidFilter, never a 500.
    let long = format!("userName eq \"{}\"", "a".repeat(2000));
    let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
    let many = vec!["userName pr"; 40].join(" or ");
    for bad in [
        "userName",
        "userName eq",
        "userName zz \"a\"",
        "(userName pr",
        "userName eq \"unterminated",
        "emails[value eq \"a\"",
        "userName eq \"a\" and",
        long.as_str(),
        deep.as_str(),
        many.as_str(),
    ] {
        let q = url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>();
        let (status, b) = scim.get(&format!("/Users?filter={q}")).await;
        assert_scim_error(status, &b, 400, Some("invalidFilter"));
    }
    let (status, b) = scim.get("/Users?count=many").await;
    assert_scim_error(status, &b, 400, Some("invalidValue"));

    // Uniqueness, bad bodies and oversized ones.
    let dup = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ALICE@acme.example", "emails": [{"value": "alice2@acme.example"}]});
    let (status, b) = scim.call("POST", "/Users", Some(dup)).await;
    assert_scim_error(status, &b, 409, Some("uniqueness"));
    let (status, b) = scim
        .call("PUT", &format!("/Users/{}", ids[3]), Some(json!({"userName": "alice@acme.example", "emails": [{"value": "dave@acme.example"}]})))
        .await;
    assert_scim_error(status, &b, 409, Some("uniqueness"));
    for body in [
        json!({"userName": "noaddress"}),
        json!({"userName": "", "emails": [{"value": "e@acme.example"}]}),
        json!({"userName": "x@acme.example", "active": "maybe"}),
        json!([1, 2]),
    ] {
        let (status, b) = scim.call("POST", "/Users", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {b}");
    }
    let resp = app
        .client
        .post(format!("{}/t/acme/scim/v2/Users", app.base))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = app
        .client
        .post(format!("{}/t/acme/scim/v2/Users", app.base))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body(format!(
            "{{\"userName\": \"{}\"}}",
            "x".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let (status, b) = scim
        .patch(
            &format!("/Users/{}", ids[0]),
            json!([{"op": "explode", "path": "active"}]),
        )
        .await;
    assert_scim_error(status, &b, 400, Some("invalidSyntax"));

    // An admin deletes a provisioned user through GraphQL: gone from SCIM too, and the
    // directory can create them again.
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($i: ID!) { deleteUser(id: $i) }",
            json!({"i": ids[2]}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let (status, b) = scim.get(&format!("/Users/{}", ids[2])).await;
    assert_scim_error(status, &b, 404, None);
    assert!(
        scim.ids("Users", "userName eq \"carol@other.example\"")
            .await
            .is_empty()
    );
    let (status, b) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"userName": "carol@other.example", "emails": [{"value": "carol@other.example"}]})),
        )
        .await;
    assert_eq!(status, 201, "{b}");
}

#[tokio::test]
async fn concurrent_patches_on_one_user_lose_nothing() {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let scim = Scim {
        app: &app,
        token: token(&app, &admin, None).await,
    };
    let (status, b) = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"userName": "busy@acme.example", "emails": [{"value": "busy@acme.example", "primary": true}]})),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    // Sixteen directories' updates at once, each adding an address of its own.
    let futs: Vec<_> = (0..16)
        .map(|i| {
            let url = format!("{}/t/acme/scim/v2/Users/{id}", app.base);
            let client = app.client.clone();
            let token = scim.token.clone();
            async move {
                let body = json!({"schemas": [PATCH_OP], "Operations": [
                    {"op": "add", "path": "emails", "value": [{"value": format!("alias{i}@acme.example")}]}
                ]});
                let r = client
                    .patch(url)
                    .bearer_auth(token)
                    .header("content-type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            }
        })
        .collect();
    let statuses = join_all(futs).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, b) = scim.get(&format!("/Users/{id}")).await;
    let emails: Vec<&str> = b["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["value"].as_str())
        .collect();
    assert_eq!(emails.len(), 17, "{emails:?}");
    for i in 0..16 {
        assert!(
            emails.contains(&format!("alias{i}@acme.example").as_str()),
            "{emails:?}"
        );
    }
}
