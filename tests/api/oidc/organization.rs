//! The OpenID `organization` scope and parameter: discovery lists them; with the scope, the
//! id_token and userinfo carry the user's `organizations`; with `organization=<id>` of one of
//! them, the tokens are scoped to it (`org_id`, `org_roles` in the access token, id_token and
//! userinfo, and after a refresh); a non-member is sent back with `access_denied`; a removed
//! member's refresh token dies.

use super::*;
use crate::federated_signin::claims as payload;

/// Ada (registered by `setup`) a member of Initech, not of Globex; their ids and Ada's.
async fn orgs(s: &Setup) -> (String, String, String) {
    let create = "mutation($n: String!) { createOrganization(input: {name: $n}) { id } }";
    let mut ids = Vec::new();
    for name in ["Initech", "Globex"] {
        let b = s
            .app
            .gql_tenant("acme", Some(&s.admin), create, json!({"n": name}))
            .await;
        ids.push(
            b["data"]["createOrganization"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{b}"))
                .to_string(),
        );
    }
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "{ users(first: 10, search: \"ada\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let ada = b["data"]["users"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($o: ID!, $u: ID!) { addOrganizationMember(orgId: $o, userId: $u, roles: [\"member\"]) { userId } }",
            json!({"o": ids[0], "u": ada}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    (ids[0].clone(), ids[1].clone(), ada)
}

#[tokio::test]
async fn the_organization_parameter_scopes_the_tokens_and_the_scope_lists_the_users_organizations()
{
    let s = setup().await;
    let (initech, globex, ada) = orgs(&s).await;
    let client = s.public_client().await;

    let disco: Value = s
        .app
        .client
        .get(format!(
            "{}/t/acme/.well-known/openid-configuration",
            s.app.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        disco["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("organization")),
        "{disco}"
    );
    for c in ["organizations", "org_id", "org_roles"] {
        assert!(
            disco["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(c)),
            "{c}: {disco}"
        );
    }

    // The parameter without the scope is refused before anyone signs in.
    let mut browser = Browser::new(&s.app);
    let a = browser
        .get(&s.authorize_url(&client, &[("organization", &initech)]))
        .await;
    let q = query_of(a.location.as_deref().unwrap());
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert!(
        q["error_description"].contains("organization scope"),
        "{q:?}"
    );

    // Scoped to Initech: the access token, id_token and userinfo say so.
    let scoped = |org: &str| {
        let mut u = url::Url::parse(&s.authorize_url(&client, &[])).unwrap();
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "scope" {
                    "openid email offline_access organization".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("organization", org);
        u.to_string()
    };
    let mut browser = Browser::new(&s.app);
    let q = s.sign_in(&mut browser, &scoped(&initech), PASSWORD).await;
    let (status, t) = s.exchange_code(&client, &q["code"]).await;
    assert_eq!(status, 200, "{t}");
    let access = payload(t["access_token"].as_str().unwrap());
    assert_eq!(access["org_id"], json!(initech), "{access}");
    assert_eq!(access["org_roles"], json!(["member"]));
    let id = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &client)
        .await;
    assert_eq!(id["org_id"], json!(initech), "{id}");
    assert_eq!(id["org_roles"], json!(["member"]));
    assert_eq!(id["organizations"], json!([initech]));
    let (status, info) = s.userinfo(t["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["org_id"], json!(initech), "{info}");
    assert_eq!(info["organizations"], json!([initech]));
    // A refresh keeps the scope.
    let (status, r) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        payload(r["access_token"].as_str().unwrap())["org_id"],
        json!(initech)
    );

    // The scope alone: the user's organizations, no org_id.
    let mut u = url::Url::parse(&scoped(&initech)).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "organization")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let mut fresh = Browser::new(&s.app);
    let q = s.sign_in(&mut fresh, u.as_str(), PASSWORD).await;
    let (status, t2) = s.exchange_code(&client, &q["code"]).await;
    assert_eq!(status, 200, "{t2}");
    let id = s
        .verify_id_token(t2["id_token"].as_str().unwrap(), &client)
        .await;
    assert_eq!(id["organizations"], json!([initech]), "{id}");
    assert!(id.get("org_id").is_none(), "{id}");

    // Not a member of Globex: back to the client with access_denied, and no code.
    let mut other = Browser::new(&s.app);
    let q = s.sign_in(&mut other, &scoped(&globex), PASSWORD).await;
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("access_denied"),
        "{q:?}"
    );
    assert!(!q.contains_key("code"));

    // A first sign-in of an address in Initech's verified domain, asking for Initech at once:
    // the membership by domain is made before the check, so the code is issued.
    let admin = |q: &'static str, v: Value| {
        let app = &s.app;
        let token = s.admin.clone();
        async move { app.gql_tenant("acme", Some(&token), q, v).await }
    };
    let b = admin(
        "mutation($o: ID!) { addOrganizationDomain(orgId: $o, domain: \"initech.example\") { domain } }",
        json!({"o": initech}),
    )
    .await;
    assert!(b["errors"].is_null(), "{b}");
    let b = admin(
        "mutation($p: String!) { createUser(input: {email: \"ivy@initech.example\", username: \"ivy\", password: $p, emailVerified: true}) { id } }",
        json!({"p": PASSWORD}),
    )
    .await;
    assert!(b["errors"].is_null(), "{b}");
    let mut ivys = Browser::new(&s.app);
    let q = s
        .sign_in_as(&mut ivys, &scoped(&initech), "ivy", PASSWORD)
        .await;
    let (status, t3) = s.exchange_code(&client, &q["code"]).await;
    assert_eq!(status, 200, "{q:?} {t3}");
    assert_eq!(
        payload(t3["access_token"].as_str().unwrap())["org_id"],
        json!(initech)
    );

    // Removed from Initech: the scoped session's refresh token dies at once.
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($o: ID!, $u: ID!) { removeOrganizationMember(orgId: $o, userId: $u) }",
            json!({"o": initech, "u": ada}),
        )
        .await;
    assert_eq!(b["data"]["removeOrganizationMember"], true, "{b}");
    let (status, r2) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r["refresh_token"].as_str().unwrap()),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400, "{r2}");
    assert_eq!(r2["error"], "invalid_grant");
    s.app.shutdown().await;
}
