//! Federation across nodes: a sign-in started on one node finishes on another (its flow is in
//! the database, not in a node), and a provider disabled on node A is refused by node B at
//! once (providers are read from the database on every start and callback; no node caches
//! them).

use serde_json::{Value, json};

use super::{Node, cluster};
use crate::federated_signin::{Browser, query};
use crate::helpers::code;
use crate::upstream::{UpstreamAnswer, UpstreamProvider, sign_in_upstream};

const APP: &str = "https://app.example/after-upstream";

/// A provider for `up` made on `a`, its client registered at the upstream; its id.
async fn provider_on(a: &Node, admin: &str, up: &UpstreamProvider) -> String {
    let b = a
        .acme(
            Some(admin),
            "mutation($i: CreateClientInput!) { createClient(input: $i) { client { id } } }",
            json!({"i": {"name": "App", "type": "PUBLIC", "redirectUris": [APP]}}),
        )
        .await;
    assert!(code(&b).is_none(), "{b}");
    let b = a
        .acme(
            Some(admin),
            "mutation($i: CreateIdentityProviderInput!) { createIdentityProvider(input: $i) { id redirectUri } }",
            json!({"i": {"kind": "OIDC", "name": "Upstream", "issuer": up.issuer, "clientId": "pending"}}),
        )
        .await;
    assert!(code(&b).is_none(), "{b}");
    let p = &b["data"]["createIdentityProvider"];
    let reg: Value = reqwest::Client::new()
        .post(format!("{}/reg", up.issuer))
        .json(
            &json!({"redirect_uris": [p["redirectUri"]], "grant_types": ["authorization_code"],
            "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = p["id"].as_str().unwrap().to_string();
    let b = a
        .acme(
            Some(admin),
            "mutation($id: ID!, $i: UpdateIdentityProviderInput!) { updateIdentityProvider(id: $id, input: $i) { clientSecretSet } }",
            json!({"id": id, "i": {"clientId": reg["client_id"], "clientSecret": reg["client_secret"]}}),
        )
        .await;
    assert!(code(&b).is_none(), "{b}");
    id
}

/// Starts a sign-in on `node` and plays it through the upstream: the browser and the callback
/// URL, not yet delivered.
async fn started_on(node: &Node, provider: &str) -> (Browser, String) {
    let b = node
        .acme(
            None,
            "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
            json!({"p": provider, "r": APP}),
        )
        .await;
    let url = b["data"]["startFederatedSignIn"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let mut browser = Browser::new();
    let (status, location, body) = browser.get(node.base(), &url).await;
    assert_eq!(status, 303, "{body}");
    let UpstreamAnswer::Redirect(callback) = sign_in_upstream(&location.unwrap(), "ada").await
    else {
        panic!()
    };
    (browser, callback)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_crosses_nodes_and_a_provider_disabled_on_one_is_refused_by_the_other() {
    let (_dir, _db, nodes, admin) =
        cluster(2, &[("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")]).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let up = UpstreamProvider::start(json!({})).await;
    let provider = provider_on(a, &admin, &up).await;

    // Started on B, the upstream's answer delivered to A: A finds the flow and signs in.
    let (mut browser, callback) = started_on(b, &provider).await;
    let (status, location, body) = browser.get(a.base(), &callback).await;
    assert_eq!(status, 303, "{body}");
    let landed = query(&location.unwrap());
    assert!(landed.contains_key("code"), "{landed:?}");

    // Started on B, the provider disabled on A meanwhile: B refuses the answer, and a new start.
    let (mut browser, callback) = started_on(b, &provider).await;
    let off = a
        .acme(
            Some(&admin),
            "mutation($id: ID!) { updateIdentityProvider(id: $id, input: {enabled: false}) { enabled } }",
            json!({"id": provider}),
        )
        .await;
    assert_eq!(
        off["data"]["updateIdentityProvider"]["enabled"], false,
        "{off}"
    );
    let (status, location, body) = browser.get(b.base(), &callback).await;
    assert_eq!(status, 303, "{body}");
    let refused = query(&location.unwrap());
    assert_eq!(refused["error"], "access_denied");
    assert!(
        refused["error_description"].contains("disabled"),
        "{refused:?}"
    );
    let again = b
        .acme(
            None,
            "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
            json!({"p": provider, "r": APP}),
        )
        .await;
    assert_eq!(code(&again).as_deref(), Some("BAD_USER_INPUT"), "{again}");
}
