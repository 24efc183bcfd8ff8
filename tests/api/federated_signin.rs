//! Signing in through an upstream OpenID provider, end to end: a real provider (npm
//! oidc-provider, tests/upstream) on 127.0.0.1, latchkey's client registered there (RFC 7591)
//! once the provider's id (part of the callback URL) is known, the browser played by hand on
//! both sides (cookies kept, no redirect followed blindly). Covers the admin's provider
//! records, the frontend's start/complete path, the hosted sign-in page's buttons, the
//! callback's checks (single-use state bound to the browser, RFC 9207 `iss`, cancel at the
//! upstream) and the linking rules, including the pre-account-hijacking attack.

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::upstream::{UpstreamAnswer, UpstreamProvider, sign_in_upstream};

const PUBLIC: &str = "http://latchkey.test";
pub(crate) const APP: &str = "https://app.example/after-upstream";
const PROVIDER_FIELDS: &str = "id kind name buttonLabel enabled issuer clientId clientSecretSet scopes allowSignUp accountLinking trustEmailVerified redirectUri";

pub(crate) struct Fed {
    pub(crate) app: TestApp,
    pub(crate) admin: String,
    up: UpstreamProvider,
    pub(crate) provider: String,
}

/// A cookie-keeping browser for latchkey's side (the upstream's side is `sign_in_upstream`).
pub(crate) struct Browser {
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    /// GETs `url` (a latchkey address under any origin: its path and query are sent to the
    /// server at `base`); status, Location, body.
    pub(crate) async fn get(&mut self, base: &str, url: &str) -> (u16, Option<String>, String) {
        let u = url::Url::parse(url).unwrap();
        let url = format!("{base}{}", &u[url::Position::BeforePath..]);
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let resp = self
            .http
            .get(&url)
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .unwrap();
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, location, resp.text().await.unwrap())
    }

    /// POSTs a form to a latchkey path as a page of latchkey's own would (`Origin: null`
    /// under its `Referrer-Policy: no-referrer`, `Sec-Fetch-Site: same-origin`); status,
    /// Location, body.
    pub(crate) async fn post(
        &mut self,
        base: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let resp = self
            .http
            .post(format!("{base}{path}"))
            .header("cookie", cookie.join("; "))
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin")
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        (status, location, resp.text().await.unwrap())
    }
}

/// The frontend was sent back refused (`error=access_denied`), for the reason `why`.
pub(crate) fn assert_refused(landed: &std::collections::HashMap<String, String>, why: &str) {
    assert_eq!(landed["error"], "access_denied", "{landed:?}");
    assert!(landed["error_description"].contains(why), "{landed:?}");
}

pub(crate) fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// A server allowed to call loopback upstreams, with tenant `acme` (its admin's token
/// answered) and an app whose redirect URI is `APP`.
pub(crate) async fn acme_with_app() -> (TestApp, String) {
    acme_with_app_and(&[]).await
}

/// [`acme_with_app`] with more settings (`extra`).
pub(crate) async fn acme_with_app_and(extra: &[(&str, &str)]) -> (TestApp, String) {
    let mut vars = vec![("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")];
    vars.extend_from_slice(extra);
    let app = TestApp::spawn_platform(&vars).await;
    let admin = app.create_tenant_with_admin("acme").await;
    let b = app
        .gql_tenant(
            "acme",
            Some(&admin),
            "mutation($i: CreateClientInput!) { createClient(input: $i) { client { id } } }",
            json!({"i": {"name": "App", "type": "PUBLIC", "redirectUris": [APP]}}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    (app, admin)
}

impl Fed {
    /// A tenant `acme` with an app redirect URI registered, a real upstream, and a provider
    /// for it (with `input` merged into the creation), its client registered upstream.
    pub(crate) async fn start(input: Value) -> Self {
        let (app, admin) = acme_with_app().await;
        let up = UpstreamProvider::start(json!({})).await;
        let mut i =
            json!({"kind": "OIDC", "name": "Upstream", "issuer": up.issuer, "clientId": "pending"});
        for (k, v) in input.as_object().unwrap() {
            i[k] = v.clone();
        }
        let b = app
            .gql_tenant(
                "acme",
                Some(&admin),
                &format!("mutation($i: CreateIdentityProviderInput!) {{ createIdentityProvider(input: $i) {{ {PROVIDER_FIELDS} }} }}"),
                json!({"i": i}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
        let p = &b["data"]["createIdentityProvider"];
        let provider = p["id"].as_str().unwrap().to_string();
        let callback = format!("{PUBLIC}/t/acme/federation/{provider}/callback");
        assert_eq!(p["redirectUri"], callback);
        // latchkey's client at the upstream, registered for that callback (RFC 7591).
        let reg: Value = reqwest::Client::new()
            .post(format!("{}/reg", up.issuer))
            .json(
                &json!({"redirect_uris": [callback], "grant_types": ["authorization_code"],
                "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let b = app
            .gql_tenant(
                "acme",
                Some(&admin),
                "mutation($id: ID!, $i: UpdateIdentityProviderInput!) { updateIdentityProvider(id: $id, input: $i) { clientId clientSecretSet } }",
                json!({"id": provider, "i": {"clientId": reg["client_id"], "clientSecret": reg["client_secret"]}}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
        assert_eq!(b["data"]["updateIdentityProvider"]["clientSecretSet"], true);
        Fed {
            app,
            admin,
            up,
            provider,
        }
    }

    pub(crate) async fn gql(&self, token: Option<&str>, q: &str, v: Value) -> Value {
        self.app.gql_tenant("acme", token, q, v).await
    }

    /// `startFederatedSignIn`, then the browser through latchkey's /start and the upstream
    /// (signed in as `login`): the browser and the upstream's answer, not yet delivered.
    async fn to_upstream(&self, login: &str) -> (Browser, UpstreamAnswer) {
        let b = self
            .gql(
                None,
                "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
                json!({"p": self.provider, "r": APP}),
            )
            .await;
        let url = b["data"]["startFederatedSignIn"]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("{b}"))
            .to_string();
        assert!(
            url.starts_with(&format!(
                "{PUBLIC}/t/acme/federation/{}/start?",
                self.provider
            )),
            "{url}"
        );
        let mut browser = Browser::new();
        let (status, location, body) = browser.get(&self.app.base, &url).await;
        assert_eq!(status, 303, "{body}");
        let upstream = location.unwrap();
        assert!(upstream.starts_with(&self.up.issuer), "{upstream}");
        let q = query(&upstream);
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q.contains_key("nonce") && q.contains_key("state"));
        let answer = sign_in_upstream(&upstream, login).await;
        (browser, answer)
    }

    /// The whole frontend path: where the browser lands at the app.
    pub(crate) async fn api_sign_in(
        &self,
        login: &str,
    ) -> std::collections::HashMap<String, String> {
        let (mut browser, answer) = self.to_upstream(login).await;
        let UpstreamAnswer::Redirect(callback) = answer else {
            panic!("{answer:?}")
        };
        let (status, location, body) = browser.get(&self.app.base, &callback).await;
        assert_eq!(status, 303, "{body}");
        let landed = location.unwrap();
        assert!(landed.starts_with(APP), "{landed}");
        query(&landed)
    }

    pub(crate) async fn complete(&self, code: &str) -> Value {
        self.gql(
            None,
            "mutation($c: String!) { completeFederatedSignIn(code: $c) { accessToken refreshToken user { id email emailVerified identities { id email provider { id name kind } } } } }",
            json!({"c": code}),
        )
        .await
    }
}

#[tokio::test]
async fn a_provider_is_checked_by_discovery_and_its_secret_is_never_returned() {
    let f = Fed::start(json!({})).await;
    // Another name for the same upstream: an issuer mismatch, said on `issuer`, nothing stored.
    let wrong = f.up.issuer.replace("127.0.0.1", "localhost");
    let b = f
        .gql(
            Some(&f.admin),
            "mutation($i: CreateIdentityProviderInput!) { createIdentityProvider(input: $i) { id } }",
            json!({"i": {"kind": "OIDC", "name": "Typo", "issuer": wrong, "clientId": "x"}}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("BAD_USER_INPUT"), "{b}");
    assert_eq!(field(&b).as_deref(), Some("issuer"), "{b}");
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("issuer mismatch"), "{message}");
    // One provider listed; the secret is only ever "set".
    let b = f
        .gql(
            Some(&f.admin),
            &format!(
                "{{ identityProviders {{ totalCount edges {{ node {{ {PROVIDER_FIELDS} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["identityProviders"]["totalCount"], 1, "{b}");
    let node = &b["data"]["identityProviders"]["edges"][0]["node"];
    assert_eq!(node["clientSecretSet"], true);
    assert_eq!(node["buttonLabel"], "Continue with Upstream");
    assert!(!b.to_string().contains("clientSecret\""), "{b}");
    // Not for a user who is not an admin.
    let user = f
        .app
        .register_at("acme", "bob@acme.example", "bob", PASSWORD)
        .await;
    let b = f
        .gql(
            user["accessToken"].as_str(),
            "{ identityProviders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"), "{b}");
}

#[tokio::test]
async fn a_first_sign_in_creates_the_account_and_the_frontend_gets_tokens_for_a_single_use_code() {
    let f = Fed::start(json!({})).await;
    let landed = f.api_sign_in("ada").await;
    let code = landed.get("code").unwrap_or_else(|| panic!("{landed:?}"));
    let b = f.complete(code).await;
    assert!(b["errors"].is_null(), "{b}");
    let done = &b["data"]["completeFederatedSignIn"];
    assert_eq!(done["user"]["email"], "ada@upstream.example");
    // The upstream verified the address and the provider trusts it.
    assert_eq!(done["user"]["emailVerified"], true);
    let ids = done["user"]["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["provider"]["id"], f.provider.as_str());
    assert_eq!(ids[0]["provider"]["kind"], "OIDC");
    let access = claims(done["accessToken"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["fed"]), "{access}");
    assert_eq!(access["idp"], f.provider.as_str(), "{access}");
    // A refresh keeps saying so.
    let refreshed = f
        .app
        .gql_tenant(
            "acme",
            None,
            "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
            json!({"t": done["refreshToken"]}),
        )
        .await;
    let again = claims(
        refreshed["data"]["refresh"]["accessToken"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(again["idp"], f.provider.as_str(), "{again}");
    // The code is single use.
    let again = f.complete(code).await;
    assert_eq!(code_of(&again), "INVALID_TOKEN", "{again}");
    // The next sign-in finds the same account by its identity.
    let landed = f.api_sign_in("ada").await;
    let b = f.complete(&landed["code"]).await;
    assert_eq!(
        b["data"]["completeFederatedSignIn"]["user"]["id"],
        done["user"]["id"]
    );
    // The account has no password: a password sign-in with anything fails as for anyone.
    let login = f.app.login_at("acme", "ada@upstream.example", "").await;
    assert!(login["errors"].is_array());
}

fn code_of(b: &Value) -> String {
    code(b).unwrap_or_default()
}

#[tokio::test]
async fn the_state_is_single_use_and_bound_to_the_browser_that_started() {
    let f = Fed::start(json!({})).await;
    let (mut browser, answer) = f.to_upstream("ada").await;
    let UpstreamAnswer::Redirect(callback) = answer else {
        panic!()
    };
    // Another browser (no binding cookie) with the same answer: refused, nothing signed in.
    let mut other = Browser::new();
    let (status, _, body) = other.get(&f.app.base, &callback).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("started in another browser"), "{body}");
    // The right browser: signed in.
    let (status, location, _) = browser.get(&f.app.base, &callback).await;
    assert_eq!(status, 303);
    assert!(location.unwrap().contains("code="));
    // The same answer again (a replay): refused.
    let mut replay = Browser::new();
    replay.cookies = browser.cookies.clone();
    let (status, _, body) = replay.get(&f.app.base, &callback).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("expired or was already used"), "{body}");
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused_as_a_mix_up() {
    let f = Fed::start(json!({})).await;
    let (mut browser, answer) = f.to_upstream("ada").await;
    let UpstreamAnswer::Redirect(callback) = answer else {
        panic!()
    };
    let mut u = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" {
                "https://evil.example".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, location, body) = browser.get(&f.app.base, u.as_str()).await;
    assert_eq!(status, 303, "{body}");
    let q = query(&location.unwrap());
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].contains("another issuer"), "{q:?}");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn a_cancel_at_the_upstream_reaches_the_frontend_as_an_error() {
    let f = Fed::start(json!({})).await;
    let b = f
        .gql(
            None,
            "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
            json!({"p": f.provider, "r": APP}),
        )
        .await;
    let url = b["data"]["startFederatedSignIn"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let mut browser = Browser::new();
    let (_, location, _) = browser.get(&f.app.base, &url).await;
    let answer = crate::upstream::deny_upstream(&location.unwrap()).await;
    let UpstreamAnswer::Redirect(callback) = answer else {
        panic!()
    };
    let (status, location, _) = browser.get(&f.app.base, &callback).await;
    assert_eq!(status, 303);
    let q = query(&location.unwrap());
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].contains("cancelled"), "{q:?}");
}

#[tokio::test]
async fn a_redirect_uri_no_client_registered_is_refused() {
    let f = Fed::start(json!({})).await;
    let b = f
        .gql(
            None,
            "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
            json!({"p": f.provider, "r": "https://evil.example/steal"}),
        )
        .await;
    assert_eq!(code_of(&b), "BAD_USER_INPUT", "{b}");
    assert_eq!(field(&b).as_deref(), Some("redirectUri"));
}

/// Pre-account hijacking: someone registers the victim's address with a password they know
/// and waits. The victim's verified upstream identity must not be linked to that account.
#[tokio::test]
async fn an_account_whose_address_was_never_verified_is_never_linked() {
    let f = Fed::start(json!({"accountLinking": "AUTOMATIC"})).await;
    f.app
        .register_at("acme", "ada@upstream.example", "attacker", PASSWORD)
        .await;
    let landed = f.api_sign_in("ada").await;
    assert_refused(&landed, "never confirmed");
    // The attacker's password still works for the attacker's own account, which has no identity.
    let login = f.app.login_at("acme", "attacker", PASSWORD).await;
    let token = login["data"]["login"]["accessToken"].as_str().unwrap();
    let me = f
        .gql(Some(token), "{ me { identities { id } } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["identities"], json!([]));
}

/// Where the tenant allows it for the provider, the verified identity takes the account over
/// only after the password, factors and sessions someone else may have set are gone.
#[tokio::test]
async fn a_take_over_removes_the_password_and_sessions_first() {
    let f = Fed::start(json!({"accountLinking": "AUTOMATIC", "takeOverUnverifiedAccounts": true}))
        .await;
    let planted = f
        .app
        .register_at("acme", "ada@upstream.example", "attacker", PASSWORD)
        .await;
    let landed = f.api_sign_in("ada").await;
    let b = f.complete(&landed["code"]).await;
    assert!(b["errors"].is_null(), "{b}");
    let user = &b["data"]["completeFederatedSignIn"]["user"];
    assert_eq!(user["id"], planted["user"]["id"]);
    assert_eq!(user["emailVerified"], true);
    // The planted password and session are dead.
    let login = f.app.login_at("acme", "attacker", PASSWORD).await;
    assert_eq!(code_of(&login), "INVALID_CREDENTIALS", "{login}");
    let refresh = f
        .app
        .refresh(planted["refreshToken"].as_str().unwrap())
        .await;
    assert!(refresh["errors"].is_array(), "{refresh}");
}

#[tokio::test]
async fn an_existing_verified_account_is_linked_only_when_the_provider_allows_it() {
    // PROVE (the default): refused with the way forward.
    let f = Fed::start(json!({})).await;
    let local = f
        .app
        .register_at("acme", "ada@upstream.example", "ada", PASSWORD)
        .await;
    let id = local["user"]["id"].as_str().unwrap().to_string();
    let tenant = f.app.services().infra.tenant("acme").await.unwrap();
    latchkey::store::users::mark_verified(tenant.db(), &id, chrono::Utc::now())
        .await
        .unwrap();
    let landed = f.api_sign_in("ada").await;
    assert_refused(&landed, "link");
    // Signed in with the password, the user links it (the proof), and unlinks it again.
    let token = local["accessToken"].as_str().unwrap().to_string();
    let b = f
        .gql(
            Some(&token),
            "mutation($p: ID!, $r: String!) { linkIdentity(provider: $p, redirectUri: $r) { url } }",
            json!({"p": f.provider, "r": APP}),
        )
        .await;
    let url = b["data"]["linkIdentity"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let mut browser = Browser::new();
    let (_, location, _) = browser.get(&f.app.base, &url).await;
    let UpstreamAnswer::Redirect(callback) = sign_in_upstream(&location.unwrap(), "ada").await
    else {
        panic!()
    };
    let (_, location, body) = browser.get(&f.app.base, &callback).await;
    let q = query(&location.unwrap_or_else(|| panic!("{body}")));
    assert_eq!(q["linked"], f.provider, "{q:?}");
    // Now the upstream signs in to that same account.
    let landed = f.api_sign_in("ada").await;
    let b = f.complete(&landed["code"]).await;
    assert_eq!(
        b["data"]["completeFederatedSignIn"]["user"]["id"],
        id.as_str(),
        "{b}"
    );
    let identity = b["data"]["completeFederatedSignIn"]["user"]["identities"][0]["id"].clone();
    let b = f
        .gql(
            Some(&token),
            "mutation($id: ID!) { unlinkIdentity(id: $id) }",
            json!({"id": identity}),
        )
        .await;
    assert_eq!(b["data"]["unlinkIdentity"], true, "{b}");
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let f = Fed::start(json!({})).await;
    let landed = f.api_sign_in("grace").await;
    let b = f.complete(&landed["code"]).await;
    let done = &b["data"]["completeFederatedSignIn"];
    let token = done["accessToken"].as_str().unwrap();
    let identity = done["user"]["identities"][0]["id"].clone();
    let b = f
        .gql(
            Some(token),
            "mutation($id: ID!) { unlinkIdentity(id: $id) }",
            json!({"id": identity}),
        )
        .await;
    assert_eq!(code_of(&b), "BAD_USER_INPUT", "{b}");
    assert!(
        b["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("only way to sign in")
    );
}

#[tokio::test]
async fn a_disabled_provider_is_refused_at_once() {
    let f = Fed::start(json!({})).await;
    let (mut browser, answer) = f.to_upstream("ada").await;
    let b = f
        .gql(
            Some(&f.admin),
            "mutation($id: ID!) { updateIdentityProvider(id: $id, input: {enabled: false}) { enabled } }",
            json!({"id": f.provider}),
        )
        .await;
    assert_eq!(b["data"]["updateIdentityProvider"]["enabled"], false, "{b}");
    let UpstreamAnswer::Redirect(callback) = answer else {
        panic!()
    };
    // A sign-in that was under way when it was disabled does not finish.
    let (_, location, _) = browser.get(&f.app.base, &callback).await;
    let q = query(&location.unwrap());
    assert!(q["error_description"].contains("disabled"), "{q:?}");
    // And none starts.
    let b = f
        .gql(
            None,
            "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
            json!({"p": f.provider, "r": APP}),
        )
        .await;
    assert_eq!(code_of(&b), "BAD_USER_INPUT", "{b}");
}

#[tokio::test]
async fn the_hosted_sign_in_page_offers_the_provider_and_returns_to_the_relying_party() {
    let f = Fed::start(json!({})).await;
    // An authorization request of the tenant's app (public client, PKCE).
    let verifier = "a-code-verifier-that-is-long-enough-for-rfc-7636-0123456789";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    let clients = f
        .gql(
            Some(&f.admin),
            "{ clients { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let client = clients["data"]["clients"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // First party: no consent page between the sign-in and the app's code.
    let b = f
        .gql(
            Some(&f.admin),
            "mutation($id: ID!) { updateClient(id: $id, input: {firstParty: true}) { id } }",
            json!({"id": client}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let mut authorize = url::Url::parse(&format!("{PUBLIC}/t/acme/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", &client)
        .append_pair("redirect_uri", APP)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email")
        .append_pair("state", "st-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut browser = Browser::new();
    let (status, location, _) = browser.get(&f.app.base, authorize.as_str()).await;
    assert_eq!(status, 303);
    let login = location.unwrap();
    let (status, _, page) = browser.get(&f.app.base, &format!("{PUBLIC}{login}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Continue with Upstream"), "{page}");
    let href = page
        .split(&format!(
            "href=\"/t/acme/federation/{}/start?request=",
            f.provider
        ))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("{page}"));
    let start = format!(
        "{PUBLIC}/t/acme/federation/{}/start?request={href}",
        f.provider
    );
    let (status, location, body) = browser.get(&f.app.base, &start).await;
    assert_eq!(status, 303, "{body}");
    let UpstreamAnswer::Redirect(callback) = sign_in_upstream(&location.unwrap(), "ada").await
    else {
        panic!()
    };
    let (status, location, body) = browser.get(&f.app.base, &callback).await;
    assert_eq!(status, 303, "{body}");
    let back = location.unwrap();
    assert!(back.starts_with(APP), "{back}");
    let q = query(&back);
    assert_eq!(q["state"], "st-1");
    // The app's tokens say the user signed in through the provider (amr fed, idp its id).
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
    let access = claims(
        tokens["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{tokens}")),
    );
    assert_eq!(access["amr"], json!(["fed"]), "{access}");
    assert_eq!(access["idp"], f.provider.as_str(), "{access}");
}

#[tokio::test]
async fn an_admin_sees_and_removes_a_users_identity() {
    let f = Fed::start(json!({})).await;
    let landed = f.api_sign_in("hedy").await;
    let b = f.complete(&landed["code"]).await;
    let user = b["data"]["completeFederatedSignIn"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let seen = f
        .gql(
            Some(&f.admin),
            "query($id: ID!) { user(id: $id) { identities { id email provider { name } } } }",
            json!({"id": user}),
        )
        .await;
    let ids = &seen["data"]["user"]["identities"];
    assert_eq!(ids[0]["email"], "hedy@upstream.example", "{seen}");
    assert_eq!(ids[0]["provider"]["name"], "Upstream");
    let b = f
        .gql(
            Some(&f.admin),
            "mutation($u: ID!, $id: ID!) { removeUserIdentity(userId: $u, id: $id) }",
            json!({"u": user, "id": ids[0]["id"]}),
        )
        .await;
    assert_eq!(b["data"]["removeUserIdentity"], true, "{b}");
    // Gone: the next sign-in through the upstream finds no identity, and the address now has an
    // account, so it is not linked silently (PROVE is the default).
    let landed = f.api_sign_in("hedy").await;
    assert_eq!(landed["error"], "access_denied", "{landed:?}");
    // The public home-realm query lists the enabled provider.
    let options = f
        .gql(
            None,
            "{ signInOptions(email: \"x@y.example\") { password providers { id name kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        options["data"]["signInOptions"]["providers"][0]["id"],
        f.provider.as_str(),
        "{options}"
    );
}

#[tokio::test]
async fn an_upstream_that_stopped_mid_sign_in_is_a_clear_error_at_the_frontend() {
    let mut f = Fed::start(json!({})).await;
    let (mut browser, answer) = f.to_upstream("ada").await;
    let UpstreamAnswer::Redirect(callback) = answer else {
        panic!()
    };
    // The upstream goes away between its answer and the code exchange.
    f.up.stop().await;
    let (status, location, body) = browser.get(&f.app.base, &callback).await;
    assert_eq!(status, 303, "{body}");
    let q = query(&location.unwrap());
    assert_eq!(q["error"], "access_denied");
    assert!(
        q["error_description"].contains("could not be reached"),
        "{q:?}"
    );
    assert!(!q.contains_key("code"));
}

/// Where the tenant requires a second factor, an upstream sign-in counts as both factors only
/// when the provider is set to trust the upstream's MFA and its id_token's `amr` says it was
/// used; otherwise latchkey's own second step is due.
#[tokio::test]
async fn the_upstreams_mfa_stands_for_the_second_factor_only_when_trusted_and_asserted() {
    let f = Fed::start(json!({"trustUpstreamMfa": true})).await;
    let b = f
        .gql(
            Some(&f.admin),
            "mutation { updateTenantSettings(input: {mfa: REQUIRED}) { mfa } }",
            json!({}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    // The upstream says nothing of a second factor: latchkey's own is due.
    let landed = f.api_sign_in("ada").await;
    let b = f.complete(&landed["code"]).await;
    assert!(code_of(&b).starts_with("MFA_"), "{b}");
    // It says `otp` beside `pwd` and the provider trusts it: signed in, amr fed + mfa.
    let landed = f.api_sign_in("mfa-grace").await;
    let b = f.complete(&landed["code"]).await;
    assert!(b["errors"].is_null(), "{b}");
    let access = claims(
        b["data"]["completeFederatedSignIn"]["accessToken"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(access["amr"], json!(["fed", "mfa"]), "{access}");
    // Not trusted any more: the same assertion no longer stands for the second factor.
    let b = f
        .gql(
            Some(&f.admin),
            "mutation($id: ID!) { updateIdentityProvider(id: $id, input: {trustUpstreamMfa: false}) { trustUpstreamMfa } }",
            json!({"id": f.provider}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let landed = f.api_sign_in("mfa-grace").await;
    let b = f.complete(&landed["code"]).await;
    assert!(code_of(&b).starts_with("MFA_"), "{b}");
}

/// A user with latchkey's own second factor signs in through the provider, then gives the
/// code: the tokens say both (`fed`, `otp`) and still name the provider (`idp`).
#[tokio::test]
async fn after_latchkeys_own_second_step_the_tokens_still_name_the_provider() {
    use crate::mfa::{CONFIRM_TOTP, START_TOTP, VERIFY_TOTP, code_at};
    let f = Fed::start(json!({})).await;
    let landed = f.api_sign_in("ada").await;
    let b = f.complete(&landed["code"]).await;
    let access = b["data"]["completeFederatedSignIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_string();
    let start = f.gql(Some(&access), START_TOTP, json!({})).await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{start}"))
        .to_string();
    let now = f.app.clock.now().timestamp();
    let confirm = f
        .gql(
            Some(&access),
            CONFIRM_TOTP,
            json!({"c": code_at(&secret, now)}),
        )
        .await;
    assert!(confirm["errors"].is_null(), "{confirm}");
    // The next federated sign-in needs the code.
    let landed = f.api_sign_in("ada").await;
    let b = f.complete(&landed["code"]).await;
    assert_eq!(code_of(&b), "MFA_REQUIRED", "{b}");
    let token = b["errors"][0]["extensions"]["mfaToken"].as_str().unwrap();
    // The next step of 30 s, so the code is not the one enrolment spent.
    f.app.clock.advance(std::time::Duration::from_secs(30));
    let now = f.app.clock.now().timestamp();
    let done = f
        .gql(
            None,
            VERIFY_TOTP,
            json!({"t": token, "c": code_at(&secret, now)}),
        )
        .await;
    let access = claims(
        done["data"]["verifyMfa"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{done}")),
    );
    assert_eq!(access["amr"], json!(["fed", "otp", "mfa"]), "{access}");
    assert_eq!(access["idp"], f.provider.as_str(), "{access}");
}
