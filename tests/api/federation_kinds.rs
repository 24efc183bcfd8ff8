//! The provider kinds beyond generic OpenID Connect, end to end against the real upstream
//! (npm oidc-provider, tests/upstream) on 127.0.0.1:
//! - OAUTH2: the provider's own authorization, token and userinfo endpoints used as a plain
//!   OAuth2 server with a claim mapping, and a GitHub-shaped `/user/emails` list (served beside
//!   the provider as a fixture of that mapping) giving the primary verified address;
//! - GITHUB: the preset's endpoints and mapping (nothing is sent to github.com: the test stops
//!   at the redirect latchkey answers);
//! - MICROSOFT: an Entra-shaped upstream (per-directory issuer, the multi-tenant discovery
//!   document naming the `{tenantid}` template, `tid`/`oid` claims, an unverified `email`);
//! - APPLE: `response_mode=form_post`, and the client secret latchkey makes from the `.p8` key
//!   checked at the upstream's token endpoint by jose (an independent JOSE library) against
//!   the public key only.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::federated_signin::{
    APP, Browser, acme_with_app, acme_with_app_and, assert_refused, query,
};
use crate::helpers::*;
use crate::upstream::{UpstreamAnswer, UpstreamProvider, sign_in_upstream};

const PUBLIC: &str = "http://latchkey.test";
const FIELDS: &str = "id kind issuer clientSecretSet scopes authorizationUrl tokenUrl userinfoUrl emailsUrl claimMapping { subject email name username } directory authorityHost allowedDirectories appleTeamId appleKeyId trustEmailVerified redirectUri";
/// A directory (tenant) id of the Entra-shaped upstream.
const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Tenant `acme` with its admin and an app (`acme_with_app`).
struct Site {
    app: TestApp,
    admin: String,
}

impl Site {
    async fn start() -> Self {
        let (app, admin) = acme_with_app().await;
        Self { app, admin }
    }

    /// As [`Site::start`], with mail going to `sink`.
    async fn with_mail(sink: &SmtpSink) -> Self {
        let smtp = sink.url();
        let (app, admin) = acme_with_app_and(&[
            ("SMTP_URL", &smtp),
            ("MAIL_FROM", "Latchkey Test <no-reply@latchkey.test>"),
        ])
        .await;
        Self { app, admin }
    }

    /// The owner of `email` resets its password (to `PASSWORD`) through the mailed link.
    async fn reset_password(&self, sink: &SmtpSink, email: &str) {
        let b = self
            .gql(
                None,
                "mutation($e: String!) { requestPasswordReset(email: $e) }",
                json!({"e": email}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
        let mail = sink.wait_for(email, "Reset your").await;
        let b = self
            .gql(
                None,
                "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
                json!({"t": mail.token(), "p": PASSWORD}),
            )
            .await;
        assert_eq!(b["data"]["resetPassword"], true, "{b}");
    }

    async fn gql(&self, token: Option<&str>, q: &str, v: Value) -> Value {
        self.app.gql_tenant("acme", token, q, v).await
    }

    /// `createIdentityProvider` as the admin: the whole answer.
    async fn create(&self, input: Value) -> Value {
        let create = format!(
            "mutation($i: CreateIdentityProviderInput!) {{ createIdentityProvider(input: $i) {{ {FIELDS} }} }}"
        );
        self.gql(Some(&self.admin), &create, json!({"i": input}))
            .await
    }

    /// Creates a provider that must be accepted; its fields.
    async fn provider(&self, input: Value) -> Value {
        let b = self.create(input).await;
        assert!(b["errors"].is_null(), "{b}");
        b["data"]["createIdentityProvider"].clone()
    }

    async fn update(&self, id: &str, input: Value) -> Value {
        self.gql(
            Some(&self.admin),
            &format!("mutation($id: ID!, $i: UpdateIdentityProviderInput!) {{ updateIdentityProvider(id: $id, input: $i) {{ {FIELDS} }} }}"),
            json!({"id": id, "i": input}),
        )
        .await
    }

    /// Registers latchkey's client for provider `p` at the upstream (RFC 7591), with the token
    /// endpoint authentication `auth`, and stores its id (and secret, unless Apple's).
    async fn register(&self, up: &UpstreamProvider, p: &Value, auth: &str) {
        let reg: Value = reqwest::Client::new()
            .post(format!("{}/reg", up.issuer))
            .json(
                &json!({"redirect_uris": [p["redirectUri"]], "grant_types": ["authorization_code"],
                "response_types": ["code"], "token_endpoint_auth_method": auth}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut i = json!({"clientId": reg["client_id"]});
        if p["kind"] != "APPLE" {
            i["clientSecret"] = reg["client_secret"].clone();
        }
        let b = self.update(p["id"].as_str().unwrap(), i).await;
        assert!(b["errors"].is_null(), "{b}");
    }

    /// The frontend's path through provider `p` as upstream user `login`: start, latchkey's
    /// /start, the upstream (its answer by redirect or by form_post), the callback; the query
    /// the browser lands at the app with.
    async fn sign_in(&self, p: &str, login: &str) -> HashMap<String, String> {
        let mut browser = Browser::new();
        let upstream = self.to_upstream(&mut browser, p).await;
        let callback = match sign_in_upstream(&upstream, login).await {
            UpstreamAnswer::Redirect(callback) => callback,
            UpstreamAnswer::FormPost { action, fields } => {
                // A cross-site POST carries no cookie; latchkey keeps the fields and sends the
                // browser back to the callback by GET, which does.
                let u = url::Url::parse(&action).unwrap();
                let resp = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap()
                    .post(format!("{}{}", self.app.base, u.path()))
                    .form(&fields)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 303);
                let to = resp.headers()["location"].to_str().unwrap().to_string();
                assert!(to.contains("/callback?state="), "{to}");
                to
            }
        };
        let (status, location, body) = browser.get(&self.app.base, &callback).await;
        assert_eq!(status, 303, "{body}");
        let landed = location.unwrap();
        assert!(landed.starts_with(APP), "{landed}");
        query(&landed)
    }

    /// `startFederatedSignIn` and latchkey's /start: the upstream authorization URL.
    async fn to_upstream(&self, browser: &mut Browser, p: &str) -> String {
        let b = self
            .gql(
                None,
                "mutation($p: ID!, $r: String!) { startFederatedSignIn(provider: $p, redirectUri: $r) { url } }",
                json!({"p": p, "r": APP}),
            )
            .await;
        let url = b["data"]["startFederatedSignIn"]["url"]
            .as_str()
            .unwrap_or_else(|| panic!("{b}"))
            .to_string();
        let (status, location, body) = browser.get(&self.app.base, &url).await;
        assert_eq!(status, 303, "{body}");
        location.unwrap()
    }

    async fn complete(&self, code: &str) -> Value {
        let b = self
            .gql(
                None,
                "mutation($c: String!) { completeFederatedSignIn(code: $c) { accessToken user { id email emailVerified identities { email claims provider { kind } } } } }",
                json!({"c": code}),
            )
            .await;
        assert!(b["errors"].is_null(), "{b}");
        b["data"]["completeFederatedSignIn"].clone()
    }
}

#[tokio::test]
async fn an_oauth2_provider_signs_in_through_userinfo_and_the_primary_verified_address() {
    let site = Site::start().await;
    let up = UpstreamProvider::start(json!({})).await;
    let i = &up.issuer;
    let p = site
        .provider(json!({"kind": "OAUTH2", "name": "Hub", "clientId": "pending",
            "authorizationUrl": format!("{i}/auth"), "tokenUrl": format!("{i}/token"),
            "userinfoUrl": format!("{i}/me"), "emailsUrl": format!("{}/github/user/emails", up.origin),
            // The provider's userinfo needs `openid`; a plain OAuth2 kind asks for what it is told.
            "scopes": ["openid", "profile"], "claimMapping": {"subject": "sub", "username": "name"}}))
        .await;
    assert_eq!(p["kind"], "OAUTH2");
    assert_eq!(p["issuer"], up.origin.as_str(), "{p}");
    assert_eq!(p["scopes"], json!(["openid", "profile"]));
    assert_eq!(p["claimMapping"]["subject"], "sub");
    let id = p["id"].as_str().unwrap();
    site.register(&up, &p, "client_secret_basic").await;
    // No nonce for a plain OAuth2 server; PKCE always.
    let mut browser = Browser::new();
    let upstream = site.to_upstream(&mut browser, id).await;
    let q = query(&upstream);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(!q.contains_key("nonce"), "{upstream}");

    let landed = site.sign_in(id, "ada").await;
    let done = site
        .complete(landed.get("code").unwrap_or_else(|| panic!("{landed:?}")))
        .await;
    // The primary address of the emails list, verified there; not the secondary one.
    assert_eq!(done["user"]["email"], "ada@upstream.example");
    assert_eq!(done["user"]["emailVerified"], true);
    assert_eq!(done["user"]["identities"][0]["provider"]["kind"], "OAUTH2");
    // The same upstream subject signs in to the same account.
    let again = site.sign_in(id, "ada").await;
    let again = site.complete(&again["code"]).await;
    assert_eq!(again["user"]["id"], done["user"]["id"]);

    // The subject cannot be read elsewhere once identities are keyed by it; other members of
    // the mapping change alone, the rest stays.
    let b = site
        .update(id, json!({"claimMapping": {"subject": "email"}}))
        .await;
    assert_eq!(field(&b).as_deref(), Some("claimMapping.subject"), "{b}");
    let b = site
        .update(id, json!({"claimMapping": {"name": "name"}}))
        .await;
    let m = &b["data"]["updateIdentityProvider"]["claimMapping"];
    assert_eq!(m["subject"], "sub", "{b}");
    assert_eq!(m["name"], "name", "{b}");
    // A primary address that is not verified is not taken at all (not even the verified
    // secondary one): no address, no account.
    let landed = site.sign_in(id, "unverified-eve").await;
    assert_refused(&landed, "no email address");
}

#[tokio::test]
async fn the_github_preset_uses_githubs_endpoints_and_keys_accounts_by_numeric_id() {
    let site = Site::start().await;
    let p = site
        .provider(
            json!({"kind": "GITHUB", "name": "GitHub", "clientId": "Iv1.0123456789abcdef",
            "clientSecret": "s3cret"}),
        )
        .await;
    assert_eq!(p["issuer"], "https://github.com");
    assert_eq!(
        p["authorizationUrl"],
        "https://github.com/login/oauth/authorize"
    );
    assert_eq!(p["tokenUrl"], "https://github.com/login/oauth/access_token");
    assert_eq!(p["userinfoUrl"], "https://api.github.com/user");
    assert_eq!(p["emailsUrl"], "https://api.github.com/user/emails");
    assert_eq!(p["claimMapping"]["subject"], "id");
    assert_eq!(p["claimMapping"]["username"], "login");
    assert_eq!(p["scopes"], json!(["read:user", "user:email"]));
    // The browser is sent to GitHub with PKCE (and no OpenID nonce); the test stops there.
    let mut browser = Browser::new();
    let to = site
        .to_upstream(&mut browser, p["id"].as_str().unwrap())
        .await;
    assert!(
        to.starts_with("https://github.com/login/oauth/authorize?"),
        "{to}"
    );
    let q = query(&to);
    assert_eq!(q["client_id"], "Iv1.0123456789abcdef");
    assert_eq!(q["scope"], "read:user user:email");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["redirect_uri"],
        format!(
            "{PUBLIC}/t/acme/federation/{}/callback",
            p["id"].as_str().unwrap()
        )
    );
    assert!(!q.contains_key("nonce"));
    // A GitHub Enterprise Server sets its own endpoints; its issuer follows.
    let b = site
        .update(
            p["id"].as_str().unwrap(),
            json!({"authorizationUrl": "https://github.corp.example/login/oauth/authorize",
                "tokenUrl": "https://github.corp.example/login/oauth/access_token",
                "userinfoUrl": "https://github.corp.example/api/v3/user",
                "emailsUrl": "https://github.corp.example/api/v3/user/emails"}),
        )
        .await;
    assert_eq!(
        b["data"]["updateIdentityProvider"]["issuer"], "https://github.corp.example",
        "{b}"
    );
}

#[tokio::test]
async fn each_kind_says_which_setting_is_missing_or_wrong() {
    let site = Site::start().await;
    let cases = [
        (
            json!({"kind": "OAUTH2", "name": "X", "clientId": "c",
                "authorizationUrl": "https://x.example/a", "tokenUrl": "https://x.example/t"}),
            "userinfoUrl",
        ),
        (
            json!({"kind": "OAUTH2", "name": "X", "clientId": "c", "authorizationUrl": "ftp://x.example/a",
                "tokenUrl": "https://x.example/t", "userinfoUrl": "https://x.example/u"}),
            "authorizationUrl",
        ),
        (
            json!({"kind": "OAUTH2", "name": "X", "clientId": "c", "authorizationUrl": "https://x.example/a",
                "tokenUrl": "https://x.example/t", "userinfoUrl": "https://x.example/u",
                "claimMapping": {"subject": "a..b"}}),
            "claimMapping.subject",
        ),
        (
            json!({"kind": "MICROSOFT", "name": "M", "clientId": "c", "trustEmailVerified": true}),
            "trustEmailVerified",
        ),
        (
            json!({"kind": "MICROSOFT", "name": "M", "clientId": "c", "directory": "contoso.com"}),
            "directory",
        ),
        (
            json!({"kind": "MICROSOFT", "name": "M", "clientId": "c", "issuer": "https://x.example"}),
            "issuer",
        ),
        (
            json!({"kind": "APPLE", "name": "A", "clientId": "c", "appleTeamId": "T", "appleKeyId": "K"}),
            "applePrivateKey",
        ),
        (
            json!({"kind": "APPLE", "name": "A", "clientId": "c", "appleTeamId": "T", "appleKeyId": "K",
                "applePrivateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}),
            "applePrivateKey",
        ),
        (
            json!({"kind": "OIDC", "name": "O", "clientId": "c", "issuer": "https://x.example",
                "directory": "common"}),
            "directory",
        ),
        // Apple's key never goes to another kind's token endpoint as a secret.
        (
            json!({"kind": "OIDC", "name": "O", "clientId": "c", "issuer": "https://x.example",
                "applePrivateKey": "x"}),
            "applePrivateKey",
        ),
        // An OpenID provider's subject is `sub`: not re-keyed by a mapping.
        (
            json!({"kind": "OIDC", "name": "O", "clientId": "c", "issuer": "https://x.example",
                "claimMapping": {"subject": "email"}}),
            "claimMapping",
        ),
        // A GitHub Enterprise code and secret never go to github.com's token endpoint.
        (
            json!({"kind": "GITHUB", "name": "G", "clientId": "c",
                "authorizationUrl": "https://github.corp.example/login/oauth/authorize"}),
            "tokenUrl",
        ),
        (
            json!({"kind": "OAUTH2", "name": "X", "clientId": "c", "authorizationUrl": "https://u:p@x.example/a",
                "tokenUrl": "https://x.example/t", "userinfoUrl": "https://x.example/u"}),
            "authorizationUrl",
        ),
        (
            json!({"kind": "MICROSOFT", "name": "M", "clientId": "c", "directory": "consumers",
                "allowedDirectories": ["11111111-2222-3333-4444-555555555555"]}),
            "allowedDirectories",
        ),
    ];
    for (input, want) in cases {
        let b = site.create(input.clone()).await;
        assert_eq!(code(&b).as_deref(), Some("BAD_USER_INPUT"), "{input}: {b}");
        assert_eq!(field(&b).as_deref(), Some(want), "{input}: {b}");
    }
    let b = site
        .gql(
            Some(&site.admin),
            "{ identityProviders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["identityProviders"]["totalCount"], 0, "{b}");
}

/// Entra-shaped: the multi-tenant discovery document names the `{tenantid}` template; tokens
/// are checked against it filled with their own `tid`; accounts are keyed by `tid` and `oid`;
/// the unverified `email` never makes an account verified nor links to one (nOAuth).
#[tokio::test]
async fn a_microsoft_identity_is_keyed_by_directory_and_object_id_and_its_email_is_not_trusted() {
    let site = Site::start().await;
    let up = UpstreamProvider::start(json!({"entra": {"tid": TID}})).await;
    let p = site
        .provider(
            json!({"kind": "MICROSOFT", "name": "Contoso", "clientId": "pending",
            "authorityHost": up.origin, "directory": "organizations", "allowedDirectories": [TID],
            "accountLinking": "AUTOMATIC", "copyClaims": ["tid", "oid", "name"]}),
        )
        .await;
    assert_eq!(
        p["issuer"],
        format!("{}/{{tenantid}}/v2.0", up.origin),
        "{p}"
    );
    assert_eq!(p["directory"], "organizations");
    assert_eq!(p["trustEmailVerified"], false);
    assert_eq!(p["authorizationUrl"], format!("{}/auth", up.issuer));
    let id = p["id"].as_str().unwrap();
    site.register(&up, &p, "client_secret_basic").await;

    let landed = site.sign_in(id, "ada").await;
    let done = site
        .complete(landed.get("code").unwrap_or_else(|| panic!("{landed:?}")))
        .await;
    assert_eq!(done["user"]["email"], "ada@upstream.example");
    // Entra does not verify `email`: the account's address is not verified.
    assert_eq!(done["user"]["emailVerified"], false);
    assert_eq!(
        done["user"]["identities"][0]["provider"]["kind"],
        "MICROSOFT"
    );
    // The claims the provider copies, on the identity.
    assert_eq!(
        done["user"]["identities"][0]["claims"],
        json!({"tid": TID, "oid": "oid-ada", "name": "ada"})
    );
    let again = site.sign_in(id, "ada").await;
    assert_eq!(
        site.complete(&again["code"]).await["user"]["id"],
        done["user"]["id"]
    );
    // The identity is stored by directory and object id, not by the upstream's `sub`.
    let tenant = site.app.services().infra.tenant("acme").await.unwrap();
    let key = format!("{TID}/oid-ada");
    let found = latchkey::federation::store::identity_by_subject(tenant.db(), id, &key)
        .await
        .unwrap();
    assert!(found.is_some(), "no identity keyed {key}");

    // nOAuth: a verified local account with the address an Entra admin can type into `email`
    // is not linked, even with automatic linking on.
    let local = site
        .app
        .register_at("acme", "bob@upstream.example", "bob", PASSWORD)
        .await;
    let bob = local["user"]["id"].as_str().unwrap();
    latchkey::store::users::mark_verified(tenant.db(), bob, chrono::Utc::now())
        .await
        .unwrap();
    let landed = site.sign_in(id, "bob").await;
    assert_refused(&landed, "link");
    let me = site
        .gql(
            local["accessToken"].as_str(),
            "{ me { identities { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["identities"], json!([]), "{me}");

    // A directory not on the allow-list is refused, though the token is otherwise fine.
    let b = site
        .update(
            id,
            json!({"allowedDirectories": ["11111111-2222-3333-4444-555555555555"]}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let landed = site.sign_in(id, "ada").await;
    assert_refused(&landed, "not among the directories");
}

/// A P-256 key as Apple's console hands it out: the `.p8` text, and the public key as a JWK.
fn apple_key() -> (String, Value) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
    let jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::ES256).unwrap();
    (pem, serde_json::to_value(jwk).unwrap())
}

#[tokio::test]
async fn apple_answers_by_form_post_and_its_client_secret_is_an_es256_jwt_the_upstream_verifies() {
    let site = Site::start().await;
    let (p8, public) = apple_key();
    let up = UpstreamProvider::start(json!({"apple": {"teamId": "TEAM123456",
        "keyId": "KEY1234567", "publicJwk": public}}))
    .await;
    let p = site
        .provider(
            json!({"kind": "APPLE", "name": "Apple", "clientId": "pending",
            // An Apple-compatible upstream: Apple's own issuer is the default.
            "issuer": up.issuer, "appleTeamId": "TEAM123456", "appleKeyId": "KEY1234567",
            "applePrivateKey": p8}),
        )
        .await;
    assert_eq!(p["clientSecretSet"], true);
    assert_eq!(p["appleTeamId"], "TEAM123456");
    assert_eq!(p["scopes"], json!(["openid", "email", "name"]));
    assert!(!p.to_string().contains("PRIVATE KEY"), "{p}");
    let id = p["id"].as_str().unwrap();
    site.register(&up, &p, "client_secret_post").await;
    let mut browser = Browser::new();
    let q = query(&site.to_upstream(&mut browser, id).await);
    assert_eq!(q["response_mode"], "form_post");

    // The answer is posted; the token endpoint accepted the made secret (jose verified it with
    // the public key), and the account is made.
    let landed = site.sign_in(id, "ada").await;
    let done = site
        .complete(landed.get("code").unwrap_or_else(|| panic!("{landed:?}")))
        .await;
    assert_eq!(done["user"]["email"], "ada@upstream.example");
    assert_eq!(done["user"]["emailVerified"], true);

    // Another key (the key id unchanged) makes a secret the upstream refuses.
    let (other, _) = apple_key();
    let b = site.update(id, json!({"applePrivateKey": other})).await;
    assert!(b["errors"].is_null(), "{b}");
    let landed = site.sign_in(id, "ada").await;
    assert_refused(&landed, "invalid_client");
}

/// An id_token that expired between the upstream's answer and latchkey's reading of it (the
/// upstream issues them for 60 s; latchkey's clock moves 2 minutes on, within the flow's
/// 10 minutes and past the 30 s leeway) is refused, and the frontend hears why.
#[tokio::test]
async fn an_expired_id_token_is_refused_at_the_callback() {
    let site = Site::start().await;
    let up = UpstreamProvider::start(json!({"idTokenTtl": 60})).await;
    let p = site
        .provider(
            json!({"kind": "OIDC", "name": "Upstream", "issuer": up.issuer, "clientId": "pending"}),
        )
        .await;
    site.register(&up, &p, "client_secret_basic").await;
    let mut browser = Browser::new();
    let upstream = site
        .to_upstream(&mut browser, p["id"].as_str().unwrap())
        .await;
    let UpstreamAnswer::Redirect(callback) = sign_in_upstream(&upstream, "ada").await else {
        panic!("a redirect was expected")
    };
    site.app.clock.advance(std::time::Duration::from_secs(120));
    let (status, location, body) = browser.get(&site.app.base, &callback).await;
    assert_eq!(status, 303, "{body}");
    let landed = query(&location.unwrap());
    assert_refused(&landed, "expired");
}

/// The pre-account-hijacking attack through a provider that does not vouch for addresses: an
/// attacker's Entra directory says `email` is the victim's, and a first sign-in makes an
/// (unverified) account under it. When the address's owner takes the account by a password
/// reset, the attacker's identity is removed with the reset: it no longer signs in.
#[tokio::test]
async fn a_reset_by_the_addresses_owner_removes_identities_an_unverifying_provider_linked() {
    let sink = SmtpSink::start();
    let site = Site::with_mail(&sink).await;
    let up = UpstreamProvider::start(json!({"entra": {"tid": TID}})).await;
    let p = site
        .provider(
            json!({"kind": "MICROSOFT", "name": "Contoso", "clientId": "pending",
            "authorityHost": up.origin, "directory": TID}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    site.register(&up, &p, "client_secret_basic").await;
    let landed = site.sign_in(id, "ada").await;
    let made = site.complete(&landed["code"]).await;
    assert_eq!(made["user"]["emailVerified"], false);
    // The owner of ada@upstream.example resets the password of "their" account.
    site.reset_password(&sink, "ada@upstream.example").await;
    // The identity that made the account no longer signs in to it.
    let landed = site.sign_in(id, "ada").await;
    assert_refused(&landed, "never confirmed");
    let login = site
        .app
        .login_at("acme", "ada@upstream.example", PASSWORD)
        .await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"));
    let me = site
        .gql(Some(token), "{ me { id identities { id } } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["id"], made["user"]["id"]);
    assert_eq!(me["data"]["me"]["identities"], json!([]), "{me}");
}

/// A password reset of an account whose address is verified, and an admin's
/// `revokeUserSessions`, end its sessions but leave its linked identities: the next sign-in
/// through the provider reaches the same account.
#[tokio::test]
async fn a_reset_of_a_verified_account_and_revoked_sessions_leave_its_identities() {
    let sink = SmtpSink::start();
    let site = Site::with_mail(&sink).await;
    let up = UpstreamProvider::start(json!({})).await;
    let p = site
        .provider(
            json!({"kind": "OIDC", "name": "Upstream", "issuer": up.issuer, "clientId": "pending"}),
        )
        .await;
    let id = p["id"].as_str().unwrap();
    site.register(&up, &p, "client_secret_basic").await;
    let landed = site.sign_in(id, "ada").await;
    let made = site.complete(&landed["code"]).await;
    assert_eq!(made["user"]["emailVerified"], true);
    site.reset_password(&sink, "ada@upstream.example").await;
    let b = site
        .gql(
            Some(&site.admin),
            "mutation($u: ID!) { revokeUserSessions(id: $u) }",
            json!({"u": made["user"]["id"]}),
        )
        .await;
    assert!(b["errors"].is_null(), "{b}");
    let again = site.sign_in(id, "ada").await;
    let again = site.complete(&again["code"]).await;
    assert_eq!(again["user"]["id"], made["user"]["id"]);
    assert_eq!(again["user"]["identities"].as_array().unwrap().len(), 1);
}
