//! latchkey as an OpenID Connect provider, over HTTP: discovery, clients, the authorization
//! code flow with PKCE through the hosted pages (a cookie-keeping client that follows no
//! redirect by itself), the token endpoint's grants and errors, id_tokens checked with
//! jsonwebtoken from the JWKS alone, userinfo, revocation, introspection, consent, SSO and
//! RP-initiated logout; the negative cases of the OpenID Foundation's Basic OP plan that need
//! no browser.

mod code_flow;
mod consent;
mod console_client;
mod discovery;
mod hosted_pages;
mod logout;
mod organization;
mod token;
mod token_hook;

use std::collections::HashMap;

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
        self.sign_in_as(browser, authorize, "ada", password).await
    }

    /// [`Setup::sign_in`] as `identifier`.
    async fn sign_in_as(
        &self,
        browser: &mut Browser,
        authorize: &str,
        identifier: &str,
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
                    ("identifier", identifier),
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

    /// A public client's code for tokens (the PKCE verifier, no secret).
    async fn exchange_code(&self, client: &str, code: &str) -> (u16, Value) {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", client),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .await
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
