//! latchkey as an OpenID Connect provider, over HTTP: discovery, clients, the authorization
//! code flow with PKCE through the hosted pages (a cookie-keeping client that follows no
//! redirect by itself), the token endpoint's grants and errors, id_tokens checked with
//! jsonwebtoken from the JWKS alone, userinfo, revocation, introspection, consent, SSO and
//! RP-initiated logout; the negative cases of the OpenID Foundation's Basic OP plan that need
//! no browser.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;

const CREATE_CLIENT: &str = "mutation($i: CreateClientInput!) { createClient(input: $i) { clientSecret client { id name type redirectUris grantTypes scopes firstParty idTokenSignedResponseAlg } } }";
const REDIRECT: &str = "https://app.example/callback";
const VERIFIER: &str = "a-code-verifier-that-is-long-enough-for-rfc-7636-0123456789";

fn challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// A browser: keeps cookies, follows no redirect by itself (the tests look at each), and posts
/// forms with the headers Chromium sends from a page served with `Referrer-Policy:
/// no-referrer` (as every latchkey page is): `Origin: null`, `Sec-Fetch-Site: same-origin`.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
    set_cookies: Vec<String>,
    headers: reqwest::header::HeaderMap,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            cookies: HashMap::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn take(&mut self, resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &set_cookies {
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        Answer {
            status,
            location: headers
                .get("location")
                .map(|v| v.to_str().unwrap().to_string()),
            body: resp.text().await.unwrap(),
            set_cookies,
            headers,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> Answer {
        let resp = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.take(resp).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_from(
            path,
            fields,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await
    }

    /// A form post with these request headers instead of a same-origin browser's.
    async fn post_from(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .form(fields);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        self.take(resp).await
    }
}

/// The value of a hidden (or any) input named `name` in a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[i..].find('"').unwrap();
    html[i..i + end].replace("&amp;", "&")
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

struct Setup {
    app: TestApp,
    admin: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn_platform(&[]).await;
    let admin = app.create_tenant_with_admin("acme").await;
    app.register_at("acme", "ada@acme.example", "ada", PASSWORD)
        .await;
    Setup { app, admin }
}

impl Setup {
    async fn client(&self, input: Value) -> (String, Option<String>) {
        let b = self
            .app
            .gql_tenant(
                "acme",
                Some(&self.admin),
                CREATE_CLIENT,
                json!({"i": input}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
        let c = &b["data"]["createClient"];
        (
            c["client"]["id"].as_str().unwrap().to_string(),
            c["clientSecret"].as_str().map(str::to_string),
        )
    }

    async fn public_client(&self) -> String {
        self.client(
            json!({"name": "Our SPA", "type": "PUBLIC", "redirectUris": [REDIRECT],
            "postLogoutRedirectUris": ["https://app.example/bye"], "firstParty": true}),
        )
        .await
        .0
    }

    async fn confidential_client(&self, first_party: bool) -> (String, String) {
        let (id, secret) = self
            .client(
                json!({"name": "Partner App", "type": "CONFIDENTIAL", "redirectUris": [REDIRECT],
                "grantTypes": ["authorization_code", "refresh_token", "client_credentials"],
                "scopes": ["invoices:read"], "firstParty": first_party}),
            )
            .await;
        (id, secret.expect("a confidential client gets a secret"))
    }

    fn authorize_url(&self, client: &str, extra: &[(&str, &str)]) -> String {
        let mut u = url::Url::parse(&format!("{}/t/acme/authorize", self.app.base)).unwrap();
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("client_id", client)
                .append_pair("redirect_uri", REDIRECT)
                .append_pair("response_type", "code")
                .append_pair("scope", "openid profile email offline_access")
                .append_pair("state", "st-123")
                .append_pair("nonce", "n-456")
                .append_pair("code_challenge", &challenge(VERIFIER))
                .append_pair("code_challenge_method", "S256");
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        u.to_string()
    }

    /// Through the sign-in page to the redirect back; the callback's query.
    async fn sign_in(
        &self,
        browser: &mut Browser,
        authorize: &str,
        password: &str,
    ) -> HashMap<String, String> {
        let a = browser.get(authorize).await;
        assert_eq!(a.status, 303, "to the sign-in page: {}", a.body);
        let login = browser.get(a.location.as_deref().unwrap()).await;
        assert_eq!(login.status, 200);
        assert!(
            login.body.contains("Sign in to Tenant acme"),
            "{}",
            login.body
        );
        let done = browser
            .post(
                "/t/acme/login",
                &[
                    ("request", &field(&login.body, "request")),
                    ("csrf", &field(&login.body, "csrf")),
                    ("identifier", "ada"),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        let back = done.location.unwrap();
        assert!(back.starts_with(REDIRECT), "{back}");
        query_of(&back)
    }

    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> (u16, Value) {
        let mut req = self
            .app
            .client
            .post(format!("{}/t/acme/oauth/token", self.app.base))
            .form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        assert_eq!(
            resp.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        (status, resp.json().await.unwrap())
    }

    async fn jwks(&self) -> Value {
        self.app
            .client
            .get(format!("{}/t/acme/.well-known/jwks.json", self.app.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Verifies an id_token with jsonwebtoken from the JWKS alone; its claims.
    async fn verify_id_token(&self, token: &str, client: &str) -> Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(self.jwks().await).unwrap();
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("the kid is in the JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_issuer(&["http://latchkey.test/t/acme"]);
        v.set_audience(&[client]);
        v.validate_exp = false;
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .expect("the id_token verifies")
            .claims
    }

    async fn userinfo(&self, access: &str) -> (u16, Value) {
        let resp = self
            .app
            .client
            .get(format!("{}/t/acme/userinfo", self.app.base))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn discovery_lists_every_required_field_and_only_real_grants() {
    let s = setup().await;
    for path in [
        "/t/acme/.well-known/openid-configuration",
        "/t/acme/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/t/acme",
    ] {
        let resp = s
            .app
            .client
            .get(format!("{}{path}", s.app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(
            resp.headers()
                .get("cache-control")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        let d: Value = resp.json().await.unwrap();
        for f in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
            "userinfo_endpoint",
            "end_session_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "code_challenge_methods_supported",
        ] {
            assert!(!d[f].is_null(), "{path}: {f} missing: {d}");
        }
        assert_eq!(d["issuer"], "http://latchkey.test/t/acme");
        assert!(
            d["id_token_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("RS256"))
        );
        let grants = d["grant_types_supported"].as_array().unwrap();
        assert!(
            !grants.contains(&json!("password")),
            "no password grant: {d}"
        );
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    }
    s.app.shutdown().await;
}

#[tokio::test]
async fn clients_are_managed_by_tenant_admins_and_their_secrets_shown_once() {
    let s = setup().await;
    let (id, secret) = s.confidential_client(false).await;
    assert!(secret.len() >= 40);
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "{ clients { totalCount edges { node { id name type } } } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["clients"]["totalCount"], 1, "{b}");
    assert!(
        !b.to_string().contains(&secret),
        "the secret is never shown again"
    );
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!) { rotateClientSecret(id: $id) { clientSecret } }",
            json!({"id": id}),
        )
        .await;
    let new_secret = b["data"]["rotateClientSecret"]["clientSecret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_secret, secret);
    let (status, body) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "the old secret stopped working"
    );
    let (status, _) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some((&id, &new_secret)),
        )
        .await;
    assert_eq!(status, 200);
    // Redirect URIs are checked; wildcards and plain http elsewhere than localhost refused.
    for bad in [
        "https://app.example/*",
        "http://app.example/cb",
        "not a url",
        "https://app.example/cb#frag",
    ] {
        let b = s
            .app
            .gql_tenant(
                "acme",
                Some(&s.admin),
                CREATE_CLIENT,
                json!({"i": {"name": "x", "type": "PUBLIC", "redirectUris": [bad]}}),
            )
            .await;
        if bad.contains('*') {
            // A literal asterisk is a valid URL character; it is matched exactly, never as a pattern.
            continue;
        }
        assert_eq!(code(&b).as_deref(), Some("BAD_USER_INPUT"), "{bad}: {b}");
    }
    let b = s
        .app
        .gql_tenant("acme", Some(&s.admin), CREATE_CLIENT, json!({"i": {"name": "x", "type": "PUBLIC", "redirectUris": [REDIRECT], "grantTypes": ["client_credentials"]}}))
        .await;
    assert_eq!(
        code(&b).as_deref(),
        Some("BAD_USER_INPUT"),
        "a public client has no secret: {b}"
    );
    // One client by id, and an update: validated like a creation, applied to the flow.
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!, $i: UpdateClientInput!) { updateClient(id: $id, input: $i) { id name redirectUris } }",
            json!({"id": id, "i": {"name": "Partner App v2", "redirectUris": ["https://partner.example/cb"]}}),
        )
        .await;
    assert_eq!(b["data"]["updateClient"]["name"], "Partner App v2", "{b}");
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!, $i: UpdateClientInput!) { updateClient(id: $id, input: $i) { id } }",
            json!({"id": id, "i": {"redirectUris": ["http://partner.example/cb"]}}),
        )
        .await;
    assert_eq!(
        code(&b).as_deref(),
        Some("BAD_USER_INPUT"),
        "plain http refused on update too: {b}"
    );
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "query($id: ID!) { client(id: $id) { name type redirectUris } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        b["data"]["client"],
        json!({"name": "Partner App v2", "type": "CONFIDENTIAL", "redirectUris": ["https://partner.example/cb"]}),
        "{b}"
    );
    let a = s.authorize_url(&id, &[]);
    let old_redirect = s.app.client.get(&a).send().await.unwrap();
    assert_eq!(
        old_redirect.status(),
        400,
        "the old redirect URI is no longer registered"
    );
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "query($id: ID!) { client(id: $id) { id } }",
            json!({"id": "nope"}),
        )
        .await;
    assert!(b["data"]["client"].is_null(), "{b}");
    // Every change is in the audit log, with its actor.
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "{ auditEvents(first: 100) { edges { node { kind actorId detail } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<&str> = b["data"]["auditEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["node"]["actorId"].is_null())
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    for kind in ["client_created", "client_secret_rotated", "client_updated"] {
        assert!(
            kinds.contains(&kind),
            "{kind} audited with its actor: {kinds:?}"
        );
    }
    // Non-admins cannot.
    let user = s.app.login_at("acme", "ada", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let b = s
        .app
        .gql_tenant("acme", Some(&user), "{ clients { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&b).as_deref(), Some("FORBIDDEN"));
    let b = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!) { deleteClient(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(b["data"]["deleteClient"], true);
    s.app.shutdown().await;
}

/// The whole flow of a public client: PKCE, the hosted sign-in, the code once, tokens, an
/// id_token checked from the JWKS, userinfo by scope, refresh rotation.
#[tokio::test]
async fn the_code_flow_of_a_public_client_with_pkce() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut browser = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser, &s.authorize_url(&client, &[]), PASSWORD)
        .await;
    assert_eq!(back["state"], "st-123");
    assert_eq!(back["iss"], "http://latchkey.test/t/acme", "RFC 9207 iss");
    let sso = browser
        .cookies
        .get("latchkey_sso")
        .expect("a browser session cookie");
    assert!(sso.len() >= 40);

    let (status, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &client),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &client)
        .await;
    assert_eq!(
        jsonwebtoken::decode_header(t["id_token"].as_str().unwrap())
            .unwrap()
            .alg,
        jsonwebtoken::Algorithm::RS256
    );
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["email"], "ada@acme.example");
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["amr"], json!(["pwd"]));
    for c in ["sub", "exp", "iat", "auth_time", "at_hash", "sid", "acr"] {
        assert!(!claims[c].is_null(), "{c}: {claims}");
    }
    let access = t["access_token"].as_str().unwrap();
    let (status, info) = s.userinfo(access).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], "ada@acme.example");
    // The same access token works on the tenant's GraphQL API.
    assert!(s.app.gql_tenant("acme", Some(access), ME, json!({})).await["errors"].is_null());

    // Refresh: rotation; the old token is spent and its reuse kills the session.
    let rt = t["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    let (status, r) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let (status, again) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r["refresh_token"].as_str().unwrap()),
                ("client_id", &client),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400, "reuse revoked the family");
    s.app.shutdown().await;
}

#[tokio::test]
async fn requests_that_cannot_go_back_are_shown_not_redirected() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut b = Browser::new(&s.app);
    // redirect_uri not registered, unknown client, no client: a page, never a redirect.
    let wrong = s.authorize_url(&client, &[]).replace("callback", "evil");
    for url in [
        wrong,
        s.authorize_url("nobody", &[]),
        format!("{}/t/acme/authorize?response_type=code", s.app.base),
    ] {
        let a = b.get(&url).await;
        assert_eq!(a.status, 400, "{url}: {}", a.body);
        assert!(a.location.is_none(), "never redirected: {url}");
        assert!(a.body.contains("cannot continue"));
    }
    // After the redirect URI is known, errors go back with state and iss.
    for (extra, error) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin:everything")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("max_age", "soon")], "invalid_request"),
    ] {
        let mut url = url::Url::parse(&s.authorize_url(&client, &[])).unwrap();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .extend_pairs(extra.iter().copied());
        let a = b.get(url.as_str()).await;
        assert_eq!(a.status, 303, "{error}");
        let q = query_of(a.location.as_deref().unwrap());
        assert_eq!(q["error"], error, "{q:?}");
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], "http://latchkey.test/t/acme");
    }
    // PKCE: required of a public client; plain refused.
    let no_pkce = s
        .authorize_url(&client, &[])
        .replace(&format!("code_challenge={}", challenge(VERIFIER)), "")
        .replace("code_challenge_method=S256", "");
    let a = b.get(&no_pkce).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
    let plain = s
        .authorize_url(&client, &[])
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let a = b.get(&plain).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "invalid_request"
    );
    s.app.shutdown().await;
}

/// A code works once, within 60 seconds, for its client, redirect URI and verifier; a code
/// presented again revokes what its first exchange issued.
#[tokio::test]
async fn codes_are_single_use_short_lived_and_bound() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let exchange = |code: String, verifier: &'static str, redirect: &'static str| {
        let client = client.clone();
        let s = &s;
        async move {
            s.token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("client_id", &client),
                    ("code_verifier", verifier),
                ],
                None,
            )
            .await
        }
    };
    // Wrong verifier, wrong redirect: invalid_grant (and the code is still unspent).
    let back = s
        .sign_in(&mut b, &s.authorize_url(&client, &[]), PASSWORD)
        .await;
    let (st, e) = exchange(
        back["code"].clone(),
        "wrong-verifier-that-is-long-enough-for-rfc-7636-000000",
        REDIRECT,
    )
    .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    let (st, e) = exchange(back["code"].clone(), VERIFIER, "https://app.example/other").await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    let (st, first) = exchange(back["code"].clone(), VERIFIER, REDIRECT).await;
    assert_eq!(st, 200, "{first}");
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.userinfo(&access).await.0, 200);
    // Reuse: refused, and the tokens of the first exchange are dead.
    let (st, e) = exchange(back["code"].clone(), VERIFIER, REDIRECT).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert_eq!(
        s.userinfo(&access).await.0,
        401,
        "tokens of a replayed code are revoked: {e}"
    );

    // Expired after 60 s.
    let authorize = s.authorize_url(&client, &[]);
    let a = b.get(&authorize).await;
    let code = query_of(a.location.as_deref().unwrap())["code"].clone();
    s.app.clock.advance(Duration::from_secs(61));
    let (st, e) = exchange(code, VERIFIER, REDIRECT).await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    s.app.shutdown().await;
}

#[tokio::test]
async fn confidential_clients_authenticate_and_get_machine_tokens() {
    let s = setup().await;
    let (id, secret) = s.confidential_client(true).await;
    // Wrong secret, basic and post: invalid_client, 401 with a Basic challenge.
    let resp = s
        .app
        .client
        .post(format!("{}/t/acme/oauth/token", s.app.base))
        .basic_auth(&id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let (st, e) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ],
            None,
        )
        .await;
    assert_eq!((st, e["error"].as_str()), (401, Some("invalid_client")));
    let (st, e) = s
        .token(
            &[("grant_type", "client_credentials"), ("client_id", &id)],
            None,
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (401, Some("invalid_client")),
        "the secret is required"
    );
    // client_secret_post works too; a scope it may not have is invalid_scope.
    let (st, t) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", "invoices:read"),
            ],
            None,
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    let (st, e) = s
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "invoices:write"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_scope")));
    let (st, e) = s
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", PASSWORD),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );

    // Introspection by the confidential client: active machine token, with its scope.
    let introspect = |token: String| {
        let req = s
            .app
            .client
            .post(format!("{}/t/acme/oauth/introspect", s.app.base))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let i = introspect(t["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!(i["active"], true, "{i}");
    assert_eq!(i["client_id"], id.as_str());
    assert_eq!(i["scope"], "invoices:read");
    assert_eq!(introspect("garbage".into()).await, json!({"active": false}));
    // A machine token signs nobody in.
    assert_eq!(
        code(
            &s.app
                .gql_tenant("acme", t["access_token"].as_str(), ME, json!({}))
                .await
        )
        .as_deref(),
        Some("UNAUTHENTICATED")
    );
    s.app.shutdown().await;
}

#[tokio::test]
async fn revocation_ends_the_session_of_a_refresh_or_access_token() {
    let s = setup().await;
    let (id, secret) = s.confidential_client(true).await;
    let mut b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut b, &s.authorize_url(&id, &[]), PASSWORD)
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            Some((&id, &secret)),
        )
        .await;
    let revoke = |token: &str| {
        let req = s
            .app
            .client
            .post(format!("{}/t/acme/oauth/revoke", s.app.base))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        revoke("unknown-token").await,
        200,
        "unknown tokens: 200 as well"
    );
    assert_eq!(revoke(t["refresh_token"].as_str().unwrap()).await, 200);
    let (st, _) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(
        s.userinfo(t["access_token"].as_str().unwrap()).await.0,
        401,
        "the session is gone"
    );
    s.app.shutdown().await;
}

/// Revoking an access token (RFC 7009) ends its session, but only when its own client asks;
/// another client's tokens are left alone. Introspection is refused to a public client; the
/// token endpoint refuses an unknown client and a code without its PKCE verifier.
#[tokio::test]
async fn access_token_revocation_is_the_clients_own_and_the_token_endpoint_refuses_strangers() {
    let s = setup().await;
    let (a, a_secret) = s.confidential_client(true).await;
    let (b, b_secret) = s.confidential_client(true).await;
    let exchange =
        |client: String, secret: String, code: String, verifier: Option<&'static str>| {
            let s = &s;
            async move {
                let mut form = vec![
                    ("grant_type", "authorization_code".to_string()),
                    ("code", code),
                    ("redirect_uri", REDIRECT.to_string()),
                ];
                if let Some(v) = verifier {
                    form.push(("code_verifier", v.to_string()));
                }
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                s.token(&form, Some((&client, &secret))).await
            }
        };
    let mut browser_a = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser_a, &s.authorize_url(&a, &[]), PASSWORD)
        .await;
    let (st, ta) = exchange(
        a.clone(),
        a_secret.clone(),
        back["code"].clone(),
        Some(VERIFIER),
    )
    .await;
    assert_eq!(st, 200, "{ta}");
    let mut browser_b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser_b, &s.authorize_url(&b, &[]), PASSWORD)
        .await;
    let (st, tb) = exchange(
        b.clone(),
        b_secret.clone(),
        back["code"].clone(),
        Some(VERIFIER),
    )
    .await;
    assert_eq!(st, 200, "{tb}");
    let access_a = ta["access_token"].as_str().unwrap();
    let access_b = tb["access_token"].as_str().unwrap();

    let revoke = |client: &str, secret: &str, token: &str| {
        let req = s
            .app
            .client
            .post(format!("{}/t/acme/oauth/revoke", s.app.base))
            .basic_auth(client, Some(secret))
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        revoke(&b, &b_secret, access_a).await,
        200,
        "answered 200 (RFC 7009 §2.2)"
    );
    assert_eq!(
        s.userinfo(access_a).await.0,
        200,
        "but another client cannot revoke it"
    );
    assert_eq!(revoke(&a, &a_secret, access_a).await, 200);
    assert_eq!(
        s.userinfo(access_a).await.0,
        401,
        "its own client revoked it"
    );
    let (st, e) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", ta["refresh_token"].as_str().unwrap()),
            ],
            Some((&a, &a_secret)),
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "the session is gone"
    );
    assert_eq!(
        s.userinfo(access_b).await.0,
        200,
        "the other client's session lives on"
    );

    // Introspection is for confidential clients only.
    let public = s.public_client().await;
    let resp = s
        .app
        .client
        .post(format!("{}/t/acme/oauth/introspect", s.app.base))
        .form(&[("client_id", public.as_str()), ("token", access_b)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"], "unauthorized_client", "{status} {e}");
    assert!(status == 400 || status == 401, "{status}");

    // An unknown client; a code without its verifier (and the code is then spent).
    let (st, e) = s
        .token(
            &[("grant_type", "client_credentials")],
            Some(("no-such-client", "x")),
        )
        .await;
    assert_eq!(
        (st, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    let mut browser_c = Browser::new(&s.app);
    let back = s
        .sign_in(&mut browser_c, &s.authorize_url(&a, &[]), PASSWORD)
        .await;
    let (st, e) = exchange(a.clone(), a_secret.clone(), back["code"].clone(), None).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "no verifier: {e}"
    );
    s.app.shutdown().await;
}

/// A third-party client asks for consent once; denied is access_denied; a second client of
/// the same browser signs in without a password; prompt=none works with the session.
#[tokio::test]
async fn consent_and_single_sign_on() {
    let s = setup().await;
    let (third, _) = s.confidential_client(false).await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    // The first party signs in (SSO session made).
    s.sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    // The third party: straight to consent (already signed in), deny, then allow.
    let a = b.get(&s.authorize_url(&third, &[])).await;
    let consent_url = a
        .location
        .unwrap_or_else(|| panic!("{} {}", a.status, a.body));
    assert!(consent_url.contains("/t/acme/consent"), "{consent_url}");
    let page = b.get(&consent_url).await;
    assert!(
        page.body
            .contains("Allow Partner App to use your Tenant acme account?"),
        "{}",
        page.body
    );
    assert!(page.body.contains("See your email address"));
    let denied = b
        .post(
            "/t/acme/consent",
            &[
                ("request", &field(&page.body, "request")),
                ("csrf", &field(&page.body, "csrf")),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(
        query_of(denied.location.as_deref().unwrap())["error"],
        "access_denied"
    );
    let a = b.get(&s.authorize_url(&third, &[])).await;
    let page = b.get(a.location.as_deref().unwrap()).await;
    let allowed = b
        .post(
            "/t/acme/consent",
            &[
                ("request", &field(&page.body, "request")),
                ("csrf", &field(&page.body, "csrf")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(query_of(allowed.location.as_deref().unwrap()).contains_key("code"));
    // Remembered: silently now, also with prompt=none.
    let a = b.get(&s.authorize_url(&third, &[("prompt", "none")])).await;
    assert!(
        query_of(
            a.location
                .as_deref()
                .unwrap_or_else(|| panic!("{} {}", a.status, a.body))
        )
        .contains_key("code"),
        "{:?}",
        a.location
    );
    // prompt=consent asks again.
    let a = b
        .get(&s.authorize_url(&third, &[("prompt", "consent")]))
        .await;
    assert!(a.location.unwrap().contains("/consent"));
    s.app.shutdown().await;
}

/// max_age older than the sign-in, or prompt=login, asks for the password again.
#[tokio::test]
async fn max_age_and_prompt_login_force_a_new_sign_in() {
    let s = setup().await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    s.sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    let a = b.get(&s.authorize_url(&spa, &[("max_age", "600")])).await;
    assert!(
        query_of(a.location.as_deref().unwrap()).contains_key("code"),
        "recent enough"
    );
    s.app.clock.advance(Duration::from_secs(120));
    let a = b.get(&s.authorize_url(&spa, &[("max_age", "60")])).await;
    assert!(
        a.location.unwrap().contains("/t/acme/login"),
        "too old: sign in again"
    );
    let a = b.get(&s.authorize_url(&spa, &[("prompt", "login")])).await;
    assert!(a.location.unwrap().contains("/t/acme/login"));
    // A fresh sign-in carries the new auth_time.
    let back = s
        .sign_in(
            &mut b,
            &s.authorize_url(&spa, &[("max_age", "60")]),
            PASSWORD,
        )
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &spa),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &spa)
        .await;
    let now = s.app.clock.now().timestamp();
    assert!(now - claims["auth_time"].as_i64().unwrap() < 5, "{claims}");
    s.app.shutdown().await;
}

/// RP-initiated logout ends the browser session (with an id_token_hint at once) and returns
/// only to a registered address.
#[tokio::test]
async fn rp_initiated_logout() {
    let s = setup().await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &spa),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let hint = t["id_token"].as_str().unwrap();
    let bad = b
        .get(&format!(
            "/t/acme/logout?id_token_hint={hint}&post_logout_redirect_uri=https://evil.example/"
        ))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.location.is_none(), "never to an unregistered address");
    // A refresh first: the session it rotated must end with the browser session too.
    let (st, refreshed) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
                ("client_id", &spa),
            ],
            None,
        )
        .await;
    assert_eq!(st, 200, "{refreshed}");
    assert_eq!(
        s.userinfo(refreshed["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    let out = b
        .get(&format!("/t/acme/logout?id_token_hint={hint}&post_logout_redirect_uri=https://app.example/bye&state=s1"))
        .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(
        out.location.as_deref(),
        Some("https://app.example/bye?state=s1")
    );
    assert!(
        out.set_cookies
            .iter()
            .any(|c| c.starts_with("latchkey_sso=;")),
        "{:?}",
        out.set_cookies
    );
    assert_eq!(
        s.userinfo(t["access_token"].as_str().unwrap()).await.0,
        401,
        "its client sessions end too"
    );
    assert_eq!(
        s.userinfo(refreshed["access_token"].as_str().unwrap())
            .await
            .0,
        401,
        "also after a refresh (the auth cache had it as live)"
    );
    let (st, e) = s
        .token(
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    refreshed["refresh_token"].as_str().unwrap(),
                ),
                ("client_id", &spa),
            ],
            None,
        )
        .await;
    assert_eq!((st, e["error"].as_str()), (400, Some("invalid_grant")));
    // Signed in again, out again without `state`: back to the registered address exactly.
    s.sign_in(&mut b, &s.authorize_url(&spa, &[]), PASSWORD)
        .await;
    let plain = b
        .get(&format!(
            "/t/acme/logout?id_token_hint={hint}&post_logout_redirect_uri=https://app.example/bye"
        ))
        .await;
    assert_eq!(plain.status, 303, "{}", plain.body);
    assert_eq!(
        plain.location.as_deref(),
        Some("https://app.example/bye"),
        "no stray `?`"
    );
    let a = b.get(&s.authorize_url(&spa, &[("prompt", "none")])).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "login_required"
    );
    // Without a hint: a confirmation page.
    let page = b.get("/t/acme/logout").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign out of Tenant acme?"));
    s.app.shutdown().await;
}

/// The browser session's cookie and the hosted forms' defences.
#[tokio::test]
async fn hosted_pages_cookies_and_forms_are_locked_down() {
    let s = setup().await;
    let spa = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let a = b
        .get(&s.authorize_url(&spa, &[("login_hint", "ada@acme.example")]))
        .await;
    let login = b.get(a.location.as_deref().unwrap()).await;
    let csp = login
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' https://app.example"),
        "{csp}"
    );
    assert!(
        login.body.contains("value=\"ada@acme.example\""),
        "login_hint prefilled"
    );
    assert!(login.body.contains("<label for=\"password\">"));
    // Wrong password: the page again, with a message; no cookie.
    let wrong = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "ada"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("role=\"alert\""));
    assert!(!b.cookies.contains_key("latchkey_sso"));
    // A form without its token, or from another site, is refused.
    let forged = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", "nope"),
                ("identifier", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 400);
    let cross = s
        .app
        .client
        .post(format!("{}/t/acme/login", s.app.base))
        .header("origin", "https://evil.example")
        .form(&[
            ("request", field(&login.body, "request")),
            ("csrf", field(&login.body, "csrf")),
            ("identifier", "ada".into()),
            ("password", PASSWORD.into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 400);
    // `Origin: null` (what a sandboxed frame of another site sends too) passes only with the
    // browser saying same-origin.
    let form = [
        ("request", field(&login.body, "request")),
        ("csrf", field(&login.body, "csrf")),
        ("identifier", "ada".to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for headers in [
        &[("origin", "null")][..],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")][..],
        &[("origin", "null"), ("sec-fetch-site", "same-site")][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let refused = b.post_from("/t/acme/login", &form, headers).await;
        assert_eq!(refused.status, 400, "{headers:?}");
        assert!(refused.body.contains("another site"), "{}", refused.body);
    }
    // The right one: a cookie that scripts cannot read, sent on top-level navigation only.
    let ok = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let c = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("latchkey_sso="))
        .expect("a session cookie");
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/t/acme/"),
        "{c}"
    );
    assert!(!c.contains("Secure"), "not over plain http: {c}");
    s.app.shutdown().await;
}

/// An account with an authenticator app signs in on the hosted page in two steps, and its
/// id_token says so.
#[tokio::test]
async fn the_hosted_sign_in_has_the_second_step() {
    let s = setup().await;
    let spa = s.public_client().await;
    let access = s.app.login_at("acme", "ada", PASSWORD).await["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let start = s
        .app
        .gql_tenant(
            "acme",
            Some(&access),
            "mutation { startTotpEnrollment { secret } }",
            json!({}),
        )
        .await;
    let secret = start["data"]["startTotpEnrollment"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let otp = |unix: i64| {
        totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap(),
        )
        .generate(unix as u64)
    };
    let confirmed = s
        .app
        .gql_tenant(
            "acme",
            Some(&access),
            "mutation($c: String!) { confirmTotpEnrollment(code: $c) { codes } }",
            json!({"c": otp(s.app.clock.now().timestamp())}),
        )
        .await;
    assert!(confirmed["errors"].is_null(), "{confirmed}");
    s.app.clock.advance(Duration::from_secs(30));

    let mut b = Browser::new(&s.app);
    let a = b.get(&s.authorize_url(&spa, &[])).await;
    let login = b.get(a.location.as_deref().unwrap()).await;
    let step = b
        .post(
            "/t/acme/login",
            &[
                ("request", &field(&login.body, "request")),
                ("csrf", &field(&login.body, "csrf")),
                ("identifier", "ada"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(step.status, 200);
    assert!(
        step.body.contains("One more step") && step.body.contains("authenticator app"),
        "{}",
        step.body
    );
    let done = b
        .post(
            "/t/acme/login/mfa",
            &[
                ("request", &field(&step.body, "request")),
                ("csrf", &field(&step.body, "csrf")),
                ("mfa_token", &field(&step.body, "mfa_token")),
                ("totp", &otp(s.app.clock.now().timestamp())),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let back = query_of(done.location.as_deref().unwrap());
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &spa),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &spa)
        .await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "aal2");
    s.app.shutdown().await;
}

/// A client may have EdDSA id_tokens (the tenant's own algorithm); an admin's revocation of a
/// user's sessions ends their browser session too.
#[tokio::test]
async fn eddsa_id_tokens_and_admin_revocation_of_the_browser_session() {
    let s = setup().await;
    let (id, _) = s
        .client(json!({"name": "Ed App", "type": "PUBLIC", "redirectUris": [REDIRECT], "firstParty": true, "idTokenSignedResponseAlg": "EdDSA"}))
        .await;
    let mut b = Browser::new(&s.app);
    let back = s
        .sign_in(&mut b, &s.authorize_url(&id, &[]), PASSWORD)
        .await;
    let (_, t) = s
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &back["code"]),
                ("redirect_uri", REDIRECT),
                ("client_id", &id),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await;
    let token = t["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(token).unwrap().alg,
        jsonwebtoken::Algorithm::EdDSA
    );
    let claims = s.verify_id_token(token, &id).await;
    let uid = claims["sub"].as_str().unwrap().to_string();
    let r = s
        .app
        .gql_tenant(
            "acme",
            Some(&s.admin),
            "mutation($id: ID!) { revokeUserSessions(id: $id) }",
            json!({"id": uid}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let a = b.get(&s.authorize_url(&id, &[("prompt", "none")])).await;
    assert_eq!(
        query_of(a.location.as_deref().unwrap())["error"],
        "login_required"
    );
    s.app.shutdown().await;
}

/// What a client gets follows the scope it asked for: with `openid` alone the id_token and
/// userinfo carry no email or profile claims and there is no refresh token (only
/// `offline_access` gives one, as in Keycloak and ZITADEL); userinfo answers POST like GET; an
/// exchange without the PKCE verifier is refused; a public client may not introspect.
#[tokio::test]
async fn the_scope_decides_claims_and_refresh_tokens() {
    let s = setup().await;
    let client = s.public_client().await;
    let mut b = Browser::new(&s.app);
    let authorize = s
        .authorize_url(&client, &[])
        .replace("scope=openid+profile+email+offline_access", "scope=openid");
    assert!(authorize.contains("scope=openid&"), "{authorize}");
    let back = s.sign_in(&mut b, &authorize, PASSWORD).await;
    let exchange = |verifier: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", back["code"].clone()),
            ("redirect_uri", REDIRECT.to_string()),
            ("client_id", client.clone()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_string()));
        }
        let s = &s;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.token(&form, None).await
        }
    };
    let (st, e) = exchange(None).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "no code_verifier: {e}"
    );
    let (st, t) = exchange(Some(VERIFIER)).await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["scope"], "openid", "{t}");
    assert!(
        t["refresh_token"].is_null(),
        "no offline_access, no refresh token: {t}"
    );
    let claims = s
        .verify_id_token(t["id_token"].as_str().unwrap(), &client)
        .await;
    assert!(!claims["sub"].is_null());
    for c in ["email", "email_verified", "preferred_username", "name"] {
        assert!(claims[c].is_null(), "{c} without its scope: {claims}");
    }
    let access = t["access_token"].as_str().unwrap();
    let (st, info) = s.userinfo(access).await;
    assert_eq!(st, 200, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert!(info["email"].is_null(), "{info}");
    let post = s
        .app
        .client
        .post(format!("{}/t/acme/userinfo", s.app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(
        post.json::<Value>().await.unwrap(),
        info,
        "POST answers like GET"
    );

    let resp = s
        .app
        .client
        .post(format!("{}/t/acme/oauth/introspect", s.app.base))
        .form(&[("token", access), ("client_id", client.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "unauthorized_client",
        "a public client may not introspect"
    );
    s.app.shutdown().await;
}
