//! Enterprise sign-in: an organization's own identity provider (the real `oidc-provider`
//! upstream of the federation tests) and its policy. `signInOptions` (home-realm discovery)
//! offers an address of the organization's domain its provider; under the policy a password
//! sign-in by such an address is refused with a clear message, and the hosted sign-in page
//! sends the address to the provider, through which the person signs in and joins the
//! organization by its verified domain.

use base64::Engine;
use serde_json::{Value, json};

use crate::federated_signin::{APP, Browser, Fed, claims, query};
use crate::helpers::*;
use crate::upstream::{UpstreamAnswer, sign_in_upstream};

const PUBLIC: &str = "http://latchkey.test";
const OPTIONS: &str = "query($e: String!) { signInOptions(email: $e) { password providers { id name } organizationName } }";
const LOGIN: &str = "mutation($i: String!, $p: String!) { login(input: {identifier: $i, password: $p}) { accessToken } }";
const UPDATE: &str = "mutation($o: ID!, $i: UpdateOrganizationInput!) { updateOrganization(id: $o, input: $i) { identityProviderId ssoRequired } }";

async fn options(f: &Fed, email: &str) -> Value {
    let b = f.gql(None, OPTIONS, json!({"e": email})).await;
    assert!(b["errors"].is_null(), "{b}");
    b["data"]["signInOptions"].clone()
}

async fn login(f: &Fed, identifier: &str, password: &str) -> Value {
    f.gql(None, LOGIN, json!({"i": identifier, "p": password}))
        .await
}

#[tokio::test]
async fn an_organizations_domain_is_sent_to_its_provider_and_refused_a_password_under_its_policy() {
    let f = Fed::start(json!({})).await;
    let a = Some(f.admin.as_str());
    let b = f
        .gql(
            a,
            "mutation($p: ID!) { createOrganization(input: {name: \"Upstream Corp\", identityProviderId: $p}) { id identityProviderId ssoRequired } }",
            json!({"p": f.provider}),
        )
        .await;
    let o = &b["data"]["createOrganization"];
    assert_eq!(o["identityProviderId"], json!(f.provider), "{b}");
    assert_eq!(o["ssoRequired"], false);
    let org = o["id"].as_str().unwrap().to_string();
    // A policy needs a provider; a provider must be the tenant's.
    for (input, field_name) in [
        (json!({"name": "Other", "ssoRequired": true}), "ssoRequired"),
        (
            json!({"name": "Other", "identityProviderId": "no-such-provider"}),
            "identityProviderId",
        ),
    ] {
        let b = f
            .gql(
                a,
                "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { id } }",
                json!({"i": input}),
            )
            .await;
        assert_eq!(field(&b).as_deref(), Some(field_name), "{b}");
    }
    let b = f
        .gql(
            a,
            "mutation($o: ID!) { addOrganizationDomain(orgId: $o, domain: \"upstream.example\") { domain } }",
            json!({"o": org}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");

    // Home-realm discovery: the domain's addresses are offered the organization's provider;
    // the organization's own provider is not offered to anyone else.
    let upstream = json!([{"id": f.provider, "name": "Upstream"}]);
    assert_eq!(
        options(&f, "Bob@Upstream.example").await,
        json!({"password": true, "providers": upstream, "organizationName": "Upstream Corp"})
    );
    assert_eq!(
        options(&f, "someone@elsewhere.example").await,
        json!({"password": true, "providers": [], "organizationName": null})
    );

    // Bob has a password; without the policy it works.
    let b = f
        .gql(
            a,
            "mutation { createUser(input: {email: \"bob@upstream.example\", username: \"bob\", password: \"a ladder in the shed\", emailVerified: true}) { id } }",
            json!({}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let b = f
        .gql(
            None,
            "mutation { login(input: {identifier: \"bob\", password: \"a ladder in the shed\"}) { refreshToken } }",
            json!({}),
        )
        .await;
    let bobs_refresh = b["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();

    // The policy on: no password for the domain's addresses, said clearly, with the provider
    // to use; by address before any password (the policy is the domain's, not the account's),
    // by username only after the right one.
    let b = f
        .gql(a, UPDATE, json!({"o": org, "i": {"ssoRequired": true}}))
        .await;
    assert_eq!(b["data"]["updateOrganization"]["ssoRequired"], true, "{b}");
    assert_eq!(
        options(&f, "bob@upstream.example").await,
        json!({"password": false, "providers": upstream, "organizationName": "Upstream Corp"})
    );
    for (identifier, password) in [
        ("bob@upstream.example", "a ladder in the shed"),
        ("BOB@upstream.example", "not even the password"),
        ("nobody@upstream.example", "whatever it is"),
        ("bob", "a ladder in the shed"),
    ] {
        let b = login(&f, identifier, password).await;
        assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{identifier}: {b}");
        let e = &b["errors"][0];
        assert_eq!(
            e["message"], "members of Upstream Corp sign in through Upstream",
            "{b}"
        );
        assert_eq!(e["extensions"]["identityProviderId"], json!(f.provider));
    }
    let b = login(&f, "bob", "not the password").await;
    assert_eq!(code(&b).as_deref(), Some("INVALID_CREDENTIALS"), "{b}");
    // Bob's password session from before the policy ends at its next refresh.
    let b = f
        .gql(
            None,
            "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
            json!({"t": bobs_refresh}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    // Nor can a password account be made for such an address.
    let b = f
        .gql(
            None,
            "mutation { register(input: {email: \"eve@upstream.example\", username: \"eve\", password: \"a kettle on the stove\"}) { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
    // Everyone else signs in with a password as before.
    let b = login(&f, "admin", PASSWORD).await;
    assert!(b["data"]["login"]["accessToken"].is_string(), "{b}");

    // The hosted sign-in page: no button for the organization's provider, and an address of
    // its domain typed into the form goes to the provider.
    let verifier = "a-code-verifier-that-is-long-enough-for-rfc-7636-0123456789";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let clients = f
        .gql(a, "{ clients { edges { node { id } } } }", json!({}))
        .await;
    let client = clients["data"]["clients"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    f.gql(
        a,
        "mutation($id: ID!) { updateClient(id: $id, input: {firstParty: true}) { id } }",
        json!({"id": client}),
    )
    .await;
    let mut authorize = url::Url::parse(&format!("{PUBLIC}/t/acme/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &client)
        .append_pair("redirect_uri", APP)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email organization")
        .append_pair("state", "st-9")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut browser = Browser::new();
    let (status, location, _) = browser.get(&f.app.base, authorize.as_str()).await;
    assert_eq!(status, 303);
    let (status, _, page) = browser
        .get(&f.app.base, &format!("{PUBLIC}{}", location.unwrap()))
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("Continue with Upstream"), "{page}");
    let hidden = |name: &str| -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let i = page.find(&marker).unwrap_or_else(|| panic!("{page}")) + marker.len();
        page[i..i + page[i..].find('"').unwrap()].to_string()
    };
    let (request, csrf) = (hidden("request"), hidden("csrf"));
    let (status, location, body) = browser
        .post(
            &f.app.base,
            "/t/acme/login",
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("identifier", "carol@upstream.example"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let start = location.unwrap();
    assert_eq!(
        start,
        format!("/t/acme/federation/{}/start?request={request}", f.provider)
    );
    // Through the provider (Carol signs in there), back to the app with a code.
    let (status, location, body) = browser.get(&f.app.base, &format!("{PUBLIC}{start}")).await;
    assert_eq!(status, 303, "{body}");
    let UpstreamAnswer::Redirect(callback) = sign_in_upstream(&location.unwrap(), "carol").await
    else {
        panic!("the upstream did not answer with a redirect")
    };
    let (status, location, body) = browser.get(&f.app.base, &callback).await;
    assert_eq!(status, 303, "{body}");
    let q = query(&location.unwrap());
    assert_eq!(q["state"], "st-9", "{q:?}");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/t/acme/oauth/token", f.app.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", APP),
            ("client_id", client.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    assert_eq!(claims(access)["idp"], json!(f.provider));
    // Carol's account came from the provider with a confirmed address in the domain: she
    // joined the organization at that first sign-in.
    let me = f
        .gql(
            Some(access),
            "{ me { email organizations { organization { name } roles } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({"email": "carol@upstream.example",
            "organizations": [{"organization": {"name": "Upstream Corp"}, "roles": ["member"]}]}),
        "{me}"
    );

    // A frontend's own path: the code redeemed straight into the organization (Dave's first
    // sign-in through the provider makes his membership by domain, so it may ask at once).
    let landed = f.api_sign_in("dave").await;
    let b = f
        .gql(
            None,
            "mutation($c: String!, $o: ID!) { completeFederatedSignIn(code: $c, organization: $o) { accessToken } }",
            json!({"c": landed["code"], "o": org}),
        )
        .await;
    let t = b["data"]["completeFederatedSignIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(claims(t)["org_id"], json!(org));
    assert_eq!(claims(t)["idp"], json!(f.provider));

    // The policy off again: Bob's password works.
    f.gql(a, UPDATE, json!({"o": org, "i": {"ssoRequired": false}}))
        .await;
    let b = login(&f, "bob", "a ladder in the shed").await;
    assert!(b["data"]["login"]["accessToken"].is_string(), "{b}");
    // Deleting the provider takes it, and its policy, from the organization.
    f.gql(a, UPDATE, json!({"o": org, "i": {"ssoRequired": true}}))
        .await;
    let b = f
        .gql(
            a,
            "mutation($p: ID!) { deleteIdentityProvider(id: $p) }",
            json!({"p": f.provider}),
        )
        .await;
    assert_eq!(b["data"]["deleteIdentityProvider"], true, "{b}");
    let b = f
        .gql(
            a,
            "query($o: ID!) { organization(id: $o) { identityProviderId ssoRequired } }",
            json!({"o": org}),
        )
        .await;
    assert_eq!(
        b["data"]["organization"],
        json!({"identityProviderId": null, "ssoRequired": false}),
        "{b}"
    );
    let b = login(&f, "bob", "a ladder in the shed").await;
    assert!(b["data"]["login"]["accessToken"].is_string(), "{b}");
}
