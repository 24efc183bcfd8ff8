//! A federated sign-in from start to finish: the flow is made (with its `state`, `nonce` and
//! PKCE verifier) and bound to the browser by a cookie at latchkey's own `/start` path; the
//! upstream's answer at `/callback` is checked (single-use `state`, the browser binding, the
//! RFC 9207 `iss`, the code exchanged with the verifier, the id_token verified), the account
//! found or made by the linking rules ([`super::linking`]), and the result handed on: to the
//! hosted sign-in page's authorization request, to a frontend as a single-use code for
//! `completeFederatedSignIn`, or as a new link of a signed-in user.

use chrono::Duration;
use jsonwebtoken::jwk::JwkSet;

use super::FederationService;
use super::apple;
use super::id_token::{self, Expected, IdTokenError, UpstreamClaims};
use super::linking::{self, Decision, LinkPolicy, LocalAccount, ProviderRules, UpstreamUser};
use super::mapping;
use super::microsoft::{self, TENANT_PLACEHOLDER};
use super::providers::{Kind, secret_context};
use super::store::{self as fed_store, CodeRow, FlowRow, IdentityRow, ProviderRow};
use crate::actors::Tenant;
use crate::domain::Email;
use crate::domain::claims::AuthMethod;
use crate::domain::secrets::{b64url, random_token};
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::infra::mail::Template;
use crate::infra::passwords::NO_PASSWORD;
use crate::sessions::service::AuthTokens;
use crate::store::users::{self, UserRow};

/// How long a sign-in may stay at the upstream.
const FLOW_MINUTES: i64 = 10;
/// How long the frontend has to redeem its code.
const CODE_SECONDS: i64 = 60;
/// The cookie that binds a flow to the browser that started it.
pub const BINDING_COOKIE: &str = "latchkey_federation";

/// What a flow is for.
#[derive(Debug, Clone)]
pub enum Purpose {
    /// The hosted sign-in page, inside authorization request `request`.
    Hosted(String),
    /// A frontend (`startFederatedSignIn`), which gets a code at `redirect_uri`.
    Api(String),
    /// A signed-in user linking an identity, sent back to `redirect_uri`.
    Link {
        /// The account.
        user: String,
        /// Where the browser returns.
        redirect_uri: String,
    },
}

/// What `/start` is given: a flow made by GraphQL (its `state`), or the hosted page's request.
pub enum StartFrom<'a> {
    /// A flow `startFederatedSignIn` or `linkIdentity` made.
    Flow(&'a str),
    /// The hosted sign-in page's authorization request.
    Request(&'a str),
}

/// The upstream's answer, from the query or a `form_post` body.
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// Our `state`.
    pub state: Option<String>,
    /// RFC 9207 issuer identification.
    pub iss: Option<String>,
    /// An OAuth error (e.g. `access_denied`).
    pub error: Option<String>,
    /// Its description.
    pub error_description: Option<String>,
    /// Apple's first answer: the user's name (JSON), sent once, beside the code.
    pub user: Option<String>,
}

/// Where a finished sign-in goes.
pub enum Finished {
    /// On with the hosted page's authorization request, signed in as `user`.
    Hosted {
        /// The authorization request.
        request: String,
        /// The account.
        user: UserRow,
        /// How, unless a second step is due first.
        method: AuthMethod,
        /// Whether latchkey's own second factor is still due (when the user has one or the
        /// tenant requires one).
        second_step: bool,
    },
    /// To the frontend, with the code (or the error) in the query.
    Redirect(String),
}

/// Why a callback is refused: shown to the user (or sent to the frontend) and audited.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Refused, with the reason in words.
    #[error("{0}")]
    Refused(String),
    /// The same, where the frontend's redirect URI is known: it gets `error` in its query.
    #[error("{message}")]
    RefusedTo {
        /// The frontend's address.
        redirect_uri: String,
        /// The reason.
        message: String,
    },
    /// The same, for a sign-in from the hosted page: its authorization request goes on
    /// (the sign-in page again, with the reason).
    #[error("{message}")]
    RefusedHosted {
        /// The authorization request.
        request: String,
        /// The reason.
        message: String,
    },
    /// The store or another dependency failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for CallbackError {
    fn from(e: crate::store::StoreError) -> Self {
        CallbackError::Service(e.into())
    }
}

fn pkce_challenge(verifier: &str) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        Err(_) => base.to_string(),
    }
}

impl FederationService {
    /// The address the upstream sends the browser back to (to register there).
    pub fn callback_url(&self, tenant: &Tenant, provider: &str) -> String {
        format!(
            "{}/federation/{provider}/callback",
            self.issuer(tenant.slug())
        )
    }

    async fn enabled_provider(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<ProviderRow, ServiceError> {
        match fed_store::provider(tenant.db(), id).await? {
            Some(p) if p.enabled => Ok(p),
            _ => Err(ServiceError::bad_input(
                "provider",
                "no such identity provider, or it is disabled",
            )),
        }
    }

    /// A redirect URI a frontend gave: one an OAuth client of the tenant registered, matched
    /// exactly (a code must never be sent to an address the tenant did not choose).
    async fn registered(&self, tenant: &Tenant, uri: &str) -> Result<(), ServiceError> {
        if uri.len() > 2000 || !fed_store::redirect_registered(tenant.db(), uri).await? {
            return Err(ServiceError::bad_input(
                "redirectUri",
                "is not a redirect URI registered by a client of this tenant",
            ));
        }
        Ok(())
    }

    /// Makes a flow; its `state` and the row stored under it.
    async fn new_flow(
        &self,
        tenant: &Tenant,
        provider: &ProviderRow,
        purpose: Purpose,
        binding: Option<String>,
    ) -> Result<(String, FlowRow), ServiceError> {
        let state = random_token(32);
        let now = self.clock.now();
        let (kind, request, redirect_uri, user) = match purpose {
            Purpose::Hosted(r) => ("hosted", Some(r), None, None),
            Purpose::Api(uri) => ("api", None, Some(uri), None),
            Purpose::Link { user, redirect_uri } => ("link", None, Some(redirect_uri), Some(user)),
        };
        let flow = FlowRow {
            provider: provider.id.clone(),
            purpose: kind.into(),
            request,
            redirect_uri,
            user,
            nonce: random_token(24),
            code_verifier: random_token(48),
            binding,
            posted: None,
            expires_at: now + Duration::minutes(FLOW_MINUTES),
            used_at: None,
        };
        fed_store::put_flow(tenant.db(), &self.secrets.hash_token(&state), &flow, now).await?;
        Ok((state, flow))
    }

    fn start_url(&self, tenant: &Tenant, provider: &str, state: &str) -> String {
        with_query(
            &format!("{}/federation/{provider}/start", self.issuer(tenant.slug())),
            &[("flow", state)],
        )
    }

    /// `startFederatedSignIn`: a flow for a frontend, and the URL of latchkey's `/start` that
    /// the browser opens (it binds the flow to itself there, then goes upstream).
    pub async fn start_api(
        &self,
        tenant: &Tenant,
        provider: &str,
        redirect_uri: &str,
        client: &ClientInfo,
    ) -> Result<String, ServiceError> {
        self.throttle(&self.limits.login, tenant, client)?;
        let p = self.enabled_provider(tenant, provider).await?;
        self.registered(tenant, redirect_uri).await?;
        let (state, _) = self
            .new_flow(tenant, &p, Purpose::Api(redirect_uri.into()), None)
            .await?;
        Ok(self.start_url(tenant, &p.id, &state))
    }

    /// `linkIdentity`: the signed-in caller starts a flow that links on return.
    pub async fn start_link(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<String, ServiceError> {
        let me = self.sessions.authenticate(tenant, bearer).await?;
        let p = self.enabled_provider(tenant, provider).await?;
        self.registered(tenant, redirect_uri).await?;
        let purpose = Purpose::Link {
            user: me.user.id.clone(),
            redirect_uri: redirect_uri.into(),
        };
        let (state, _) = self.new_flow(tenant, &p, purpose, None).await?;
        Ok(self.start_url(tenant, &p.id, &state))
    }

    /// `/start`: binds the flow to this browser (a fresh cookie value, whose keyed hash the
    /// flow keeps) and answers the upstream authorization URL and the cookie value.
    pub async fn begin(
        &self,
        tenant: &Tenant,
        provider: &str,
        from: StartFrom<'_>,
    ) -> Result<(String, String), CallbackError> {
        let p = self
            .enabled_provider(tenant, provider)
            .await
            .map_err(|_| CallbackError::Refused("This sign-in option is not available.".into()))?;
        let cookie = random_token(32);
        let binding = self.secrets.hash_token(&cookie);
        let (state, flow) = match from {
            StartFrom::Request(request) => {
                self.new_flow(tenant, &p, Purpose::Hosted(request.into()), Some(binding))
                    .await?
            }
            StartFrom::Flow(state) => {
                let hash = self.secrets.hash_token(state);
                let now = self.clock.now();
                // Read once: the nonce and verifier below are this row's; binding it is a
                // conditional write that fails if another browser bound it meanwhile.
                let flow = fed_store::live_flow(tenant.db(), &hash, now)
                    .await?
                    .filter(|f| f.provider == p.id);
                match flow {
                    Some(f) if fed_store::bind_flow(tenant.db(), &hash, &binding, now).await? => {
                        (state.to_string(), f)
                    }
                    _ => {
                        return Err(CallbackError::Refused(
                            "This sign-in link has expired or was already used; start again."
                                .into(),
                        ));
                    }
                }
            }
        };
        let scope = p.scopes.join(" ");
        let kind = Kind::parse(&p.kind);
        let mut params = vec![
            ("response_type", "code".to_string()),
            ("client_id", p.client_id.clone()),
            ("redirect_uri", self.callback_url(tenant, &p.id)),
            ("scope", scope),
            ("state", state),
            ("code_challenge", pkce_challenge(&flow.code_verifier)),
            ("code_challenge_method", "S256".to_string()),
        ];
        if kind.is_openid() {
            params.push(("nonce", flow.nonce.clone()));
        }
        if kind == Kind::Apple {
            // Apple requires form_post when it is asked for the name or the address.
            params.push(("response_mode", "form_post".to_string()));
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok((with_query(&p.authorization_endpoint, &pairs), cookie))
    }

    /// A `form_post` answer (cross-site, so without the binding cookie): kept on its flow
    /// until the browser comes back to the callback by GET, which carries the cookie.
    pub async fn keep_posted(
        &self,
        tenant: &Tenant,
        params: &CallbackParams,
    ) -> Result<String, CallbackError> {
        let state = params
            .state
            .clone()
            .ok_or_else(|| CallbackError::Refused("The answer has no state.".into()))?;
        // Bounded: a posted answer is a handful of short fields (Apple's `user` is a name and
        // an address).
        let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > 4096);
        if too_long(&params.code) || too_long(&params.user) || too_long(&params.error_description) {
            return Err(CallbackError::Refused("The answer is malformed.".into()));
        }
        let posted =
            serde_json::to_string(params).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let hash = self.secrets.hash_token(&state);
        if !fed_store::keep_posted(tenant.db(), &hash, posted, self.clock.now()).await? {
            return Err(CallbackError::Refused(
                "This sign-in has expired or was already used; start again.".into(),
            ));
        }
        Ok(state)
    }

    /// `/callback`: checks the answer, signs in, and says where to go. Every refusal is
    /// audited by the caller with the reason.
    pub async fn finish(
        &self,
        tenant: &Tenant,
        provider: &str,
        params: CallbackParams,
        cookie: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Finished, CallbackError> {
        let refused = |m: &str| CallbackError::Refused(m.to_string());
        let state = params
            .state
            .clone()
            .ok_or_else(|| refused("The answer has no state."))?;
        if state.len() > 200 {
            return Err(refused("The answer's state is malformed."));
        }
        let hash = self.secrets.hash_token(&state);
        let now = self.clock.now();
        let flow = fed_store::live_flow(tenant.db(), &hash, now)
            .await?
            .ok_or_else(|| refused("This sign-in has expired or was already used; start again."))?;
        // Bound to the browser that started it: a `state` carried into another browser (login
        // CSRF, a stolen link) does not finish there.
        let bound = match (&flow.binding, cookie) {
            (Some(expected), Some(c)) => self
                .secrets
                .hash_candidates(c)
                .iter()
                .any(|h| h == expected),
            _ => false,
        };
        if !bound {
            return Err(refused(
                "This sign-in was started in another browser; start again.",
            ));
        }
        if flow.provider != provider {
            return Err(refused("The answer came back for another provider."));
        }
        // Single use: of two callbacks with one state, one wins.
        if !fed_store::spend_flow(tenant.db(), &hash, now).await? {
            return Err(refused(
                "This sign-in has expired or was already used; start again.",
            ));
        }
        let to_frontend = |message: String| refusal(&flow, message);
        // The fields of a form_post answer, kept by the POST.
        let params = match &flow.posted {
            Some(p) => serde_json::from_str(p).unwrap_or_default(),
            None => params,
        };
        let p = match self.enabled_provider(tenant, provider).await {
            Ok(p) => p,
            Err(_) => return Err(to_frontend("This sign-in option was disabled.".into())),
        };
        // RFC 9207: the answer names its issuer; a different one is a mix-up attack (another
        // provider's answer replayed into this flow). Required when the provider says it sends it.
        // A plain OAuth2 server has no issuer identifier to compare with: there the defence
        // against mix-up is the callback URL, which is distinct per provider (RFC 9700
        // §4.4.2.2). A templated issuer (Microsoft's `{tenantid}`) is compared with the
        // id_token's own issuer once that is verified.
        let kind = Kind::parse(&p.kind);
        let templated = kind == Kind::Microsoft && p.issuer.contains(TENANT_PLACEHOLDER);
        match params.iss.as_deref() {
            _ if !kind.is_openid() || templated => {}
            Some(iss) if iss != p.issuer => {
                return Err(to_frontend(format!(
                    "The answer came from another issuer ({iss}) than {}.",
                    p.name
                )));
            }
            None if p.iss_parameter => {
                return Err(to_frontend("The answer does not name its issuer.".into()));
            }
            _ => {}
        }
        if let Some(error) = params.error.as_deref() {
            let why = match error {
                "access_denied" => format!("The sign-in was cancelled at {}.", p.name),
                other => format!("{} refused the sign-in ({}).", p.name, truncate(other, 80)),
            };
            return Err(to_frontend(why));
        }
        let code = params
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 2000)
            .ok_or_else(|| to_frontend("The answer has no code.".into()))?;
        let claims = self
            .exchange(tenant, &p, code, &flow, &params)
            .await
            .map_err(|m| to_frontend(m))?;
        match flow.purpose.as_str() {
            "link" => self.finish_link(tenant, &p, &flow, &claims, client).await,
            _ => {
                self.finish_sign_in(tenant, &p, &flow, &claims, client)
                    .await
            }
        }
    }

    /// The code exchanged at the token endpoint (PKCE verifier; client_secret_basic, or
    /// Apple's made secret in the body) and the user's facts read: from the verified id_token
    /// of an OpenID provider, from userinfo of a plain OAuth2 server. A refusal in words.
    async fn exchange(
        &self,
        tenant: &Tenant,
        p: &ProviderRow,
        code: &str,
        flow: &FlowRow,
        params: &CallbackParams,
    ) -> Result<UpstreamClaims, String> {
        let kind = Kind::parse(&p.kind);
        let sealed = match &p.client_secret_sealed {
            Some(sealed) => Some(
                self.secrets
                    .open(&secret_context(tenant.slug().as_str(), &p.id), sealed)
                    .and_then(|s| String::from_utf8(s).ok())
                    .ok_or_else(|| "The provider's client secret cannot be read.".to_string())?,
            ),
            None => None,
        };
        let now = self.clock.now().timestamp();
        let apple_secret = match (kind, &sealed) {
            (Kind::Apple, Some(p8)) => Some(
                apple::client_secret(
                    p.apple_team_id.as_deref().unwrap_or_default(),
                    p.apple_key_id.as_deref().unwrap_or_default(),
                    &p.client_id,
                    p8,
                    &p.issuer,
                    now,
                )
                .map_err(|e| format!("{}'s client secret cannot be made ({e}).", p.name))?,
            ),
            _ => None,
        };
        let redirect = self.callback_url(tenant, &p.id);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", flow.code_verifier.as_str()),
        ];
        let basic = match (&apple_secret, &sealed) {
            (Some(made), _) => {
                // Apple takes its client credentials in the body (client_secret_post).
                form.push(("client_id", p.client_id.as_str()));
                form.push(("client_secret", made.as_str()));
                None
            }
            (None, Some(secret)) => Some((p.client_id.as_str(), secret.as_str())),
            (None, None) => {
                form.push(("client_id", p.client_id.as_str()));
                None
            }
        };
        let (status, body) = self
            .outbound
            .post_form(&p.token_endpoint, &form, basic)
            .await
            .map_err(|e| format!("{} could not be reached ({e}).", p.name))?;
        // GitHub answers a refused code with 200 and an `error` member.
        if status != 200 || body.get("error").is_some() {
            let err = body["error"].as_str().unwrap_or("unknown error");
            return Err(format!(
                "{} refused the code (HTTP {status}, {}).",
                p.name,
                truncate(err, 80)
            ));
        }
        if !kind.is_openid() {
            return self.read_userinfo(p, &body).await;
        }
        let token = body["id_token"]
            .as_str()
            .ok_or_else(|| format!("{} sent no id_token.", p.name))?;
        let want = Expected {
            issuer: &p.issuer,
            client_id: &p.client_id,
            nonce: &flow.nonce,
            now,
            templated: kind == Kind::Microsoft,
        };
        let keys: JwkSet = serde_json::from_str(&p.jwks).unwrap_or(JwkSet { keys: Vec::new() });
        let mut claims = match id_token::verify(token, &keys, &want) {
            Err(IdTokenError::UnknownKey) => {
                // The provider rotated its keys: read them once more, keep them, try again.
                let fresh = self
                    .outbound
                    .get_json(&p.jwks_uri)
                    .await
                    .map_err(|e| format!("{}'s keys could not be read ({e}).", p.name))?;
                let keys: JwkSet = serde_json::from_value(fresh.clone())
                    .map_err(|_| format!("{}'s keys are malformed.", p.name))?;
                let _ = fed_store::put_jwks(tenant.db(), &p.id, fresh.to_string()).await;
                id_token::verify(token, &keys, &want).map_err(|e| e.to_string())
            }
            other => other.map_err(|e| e.to_string()),
        }?;
        if kind == Kind::Microsoft
            && p.issuer.contains(TENANT_PLACEHOLDER)
            && params.iss.as_deref().is_some_and(|iss| iss != claims.iss)
        {
            return Err(format!(
                "The answer came from another issuer than {}'s id_token names.",
                p.name
            ));
        }
        if p.claim_mapping.is_some() {
            let m = mapping::apply(&claims.raw, &p.mapping()).map_err(|e| format!("{e}."))?;
            claims.sub = m.subject;
            claims.email = m.email;
            claims.email_verified = m.email_verified;
            claims.name = m.name;
            claims.preferred_username = m.username;
        }
        match kind {
            Kind::Microsoft => {
                claims.sub = microsoft::identity_key(
                    p.directory.as_deref().unwrap_or("common"),
                    &p.allowed_directories,
                    claims.raw["tid"].as_str(),
                    claims.raw["oid"].as_str(),
                )
                .map_err(|e| format!("{}: {e}.", p.name))?;
                // Entra does not verify `email` (nOAuth): never believed.
                claims.email_verified = false;
            }
            Kind::Apple if claims.name.is_none() => {
                claims.name = params.user.as_deref().and_then(apple::first_answer_name);
            }
            _ => {}
        }
        Ok(claims)
    }

    /// A plain OAuth2 server: the user's facts from its userinfo endpoint by the claim
    /// mapping, and the address from a GitHub-shaped emails list when one is configured (the
    /// primary one, only when verified).
    async fn read_userinfo(
        &self,
        p: &ProviderRow,
        token_answer: &serde_json::Value,
    ) -> Result<UpstreamClaims, String> {
        let access = token_answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty() && t.len() <= 4000)
            .ok_or_else(|| format!("{} sent no access token.", p.name))?;
        let info = self
            .outbound
            .get_json_bearer(&p.userinfo_endpoint, access)
            .await
            .map_err(|e| format!("{}'s user information could not be read ({e}).", p.name))?;
        let mut m = mapping::apply(&info, &p.mapping()).map_err(|e| format!("{e}."))?;
        if let Some(url) = &p.emails_endpoint {
            let list = self
                .outbound
                .get_json_bearer(url, access)
                .await
                .map_err(|e| format!("{}'s addresses could not be read ({e}).", p.name))?;
            m.email = mapping::primary_verified_email(&list);
            m.email_verified = m.email.is_some();
        }
        let now = self.clock.now().timestamp();
        Ok(UpstreamClaims {
            sub: m.subject,
            iss: p.issuer.clone(),
            exp: now,
            iat: now,
            nonce: None,
            email: m.email,
            email_verified: m.email_verified,
            name: m.name,
            preferred_username: m.username,
            amr: Vec::new(),
            azp: None,
            raw: info,
        })
    }

    fn rules(p: &ProviderRow) -> ProviderRules {
        ProviderRules {
            may_create: p.may_create,
            link: match p.link_policy.as_str() {
                "never" => LinkPolicy::Never,
                "automatic" => LinkPolicy::Automatic,
                _ => LinkPolicy::Prove,
            },
            trusts_email: p.trusts_email,
            take_over_unverified: p.take_over_unverified,
        }
    }

    async fn finish_sign_in(
        &self,
        tenant: &Tenant,
        p: &ProviderRow,
        flow: &FlowRow,
        claims: &UpstreamClaims,
        client: &ClientInfo,
    ) -> Result<Finished, CallbackError> {
        let to_frontend = |message: String| refusal(&flow, message);
        let linked = fed_store::identity_by_subject(tenant.db(), &p.id, &claims.sub).await?;
        let email = claims
            .email
            .as_deref()
            .and_then(|e| Email::parse("email", e).ok());
        let by_email = match (&linked, &email) {
            (None, Some(e)) => users::find_by_login(tenant.db(), true, e.normalized()).await?,
            _ => None,
        };
        let upstream = UpstreamUser {
            email: email.as_ref().map(|e| e.as_str().to_string()),
            email_verified: claims.email_verified,
        };
        let local = by_email.as_ref().map(|u| LocalAccount {
            id: u.id.clone(),
            email_verified: u.email_verified,
        });
        let decision = linking::decide(
            Self::rules(p),
            &upstream,
            linked.as_ref().map(|l| l.user.as_str()),
            local.as_ref(),
        );
        let user = match decision {
            Decision::SignIn(id) => {
                if let Some(l) = &linked {
                    let copied = copied_claims(p, claims);
                    let now = self.clock.now();
                    let _ = fed_store::touch_identity(tenant.db(), &l.id, copied, now).await;
                }
                tenant.user(&id).await?.ok_or_else(|| {
                    to_frontend("The account of this identity no longer exists.".into())
                })?
            }
            Decision::Create { email_verified } => {
                let email = email.ok_or_else(|| to_frontend("No email address.".into()))?;
                let user = self
                    .create_for(tenant, &email, claims, email_verified)
                    .await
                    .map_err(|e| match e {
                        ServiceError::EmailTaken => to_frontend(
                            "An account with this address was just created; sign in again.".into(),
                        ),
                        other => CallbackError::Service(other),
                    })?;
                self.link_identity(tenant, p, &user, claims, false).await?;
                let detail = format!("account created through {}", p.id);
                let info = AuditInfo::own(&user.id, client).with_detail(detail);
                self.audit(tenant, "federated_signup", info).await;
                user
            }
            Decision::Link(id) => {
                let user = tenant
                    .user(&id)
                    .await?
                    .ok_or_else(|| to_frontend("No account.".into()))?;
                self.link_identity(tenant, p, &user, claims, true).await?;
                let info = AuditInfo::own(&user.id, client)
                    .with_detail(format!("linked automatically: {}", p.id));
                self.audit(tenant, "identity_linked", info).await;
                user
            }
            Decision::TakeOver(id) => {
                let user = tenant
                    .user(&id)
                    .await?
                    .ok_or_else(|| to_frontend("No account.".into()))?;
                let user = self.take_over(tenant, p, user, claims, client).await?;
                user
            }
            Decision::Prove(_) => {
                return Err(to_frontend(format!(
                    "An account with this address already exists. Sign in to it with its password \
                     (and second factor) or passkey, then link {} from your account.",
                    p.name
                )));
            }
            Decision::Refuse(why) => {
                let why = format!("{}: {why}.", p.name);
                return Err(to_frontend(why));
            }
        };
        if user.disabled {
            return Err(to_frontend("This account is disabled.".into()));
        }
        let upstream_mfa = p.trusts_mfa && claims.multi_factor();
        let method = if upstream_mfa {
            AuthMethod::FederatedMfa
        } else {
            AuthMethod::Federated
        };
        let detail = format!("through {}", p.id);
        let info = AuditInfo::own(&user.id, client).with_detail(detail);
        self.audit(tenant, "federated_login", info).await;
        match (&flow.purpose[..], &flow.request, &flow.redirect_uri) {
            ("hosted", Some(request), _) => {
                let second_step =
                    !upstream_mfa && self.mfa.second_step_possible(tenant, &user.id).await?;
                Ok(Finished::Hosted {
                    request: request.clone(),
                    user,
                    method,
                    second_step,
                })
            }
            (_, _, Some(uri)) => {
                let code = random_token(32);
                let row = CodeRow {
                    user: user.id.clone(),
                    provider: p.id.clone(),
                    upstream_mfa,
                };
                let now = self.clock.now();
                let expires = now + Duration::seconds(CODE_SECONDS);
                fed_store::put_code(
                    tenant.db(),
                    &self.secrets.hash_token(&code),
                    &row,
                    now,
                    expires,
                )
                .await?;
                Ok(Finished::Redirect(with_query(uri, &[("code", &code)])))
            }
            _ => Err(CallbackError::Refused(
                "This sign-in cannot continue.".into(),
            )),
        }
    }

    /// A new account for an upstream identity: the address from the upstream, a username from
    /// its hint or the address (with a number added while it is taken).
    async fn create_for(
        &self,
        tenant: &Tenant,
        email: &Email,
        claims: &UpstreamClaims,
        email_verified: bool,
    ) -> Result<UserRow, ServiceError> {
        let hint = claims.preferred_username.as_deref();
        self.accounts
            .create_passwordless_from_hint(tenant, email, hint, email_verified)
            .await
    }

    async fn link_identity(
        &self,
        tenant: &Tenant,
        p: &ProviderRow,
        user: &UserRow,
        claims: &UpstreamClaims,
        notify: bool,
    ) -> Result<(), CallbackError> {
        let row = IdentityRow {
            id: random_token(12),
            user: user.id.clone(),
            provider: p.id.clone(),
            subject: claims.sub.clone(),
            email: claims.email.clone(),
            linked_at: self.clock.now(),
            claims: copied_claims(p, claims),
        };
        let notice = notify.then(|| {
            self.notice(
                tenant,
                user,
                Template::FactorAdded("A sign-in through an identity provider"),
            )
        });
        let notice_id = notice.as_ref().map(|(_, id)| id.clone());
        match fed_store::link(tenant.db(), &row, notice.map(|(n, _)| n)).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict(_)) => {
                return Err(CallbackError::Refused(
                    "This identity is already linked to an account.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(id) = notice_id {
            self.mailer.notify(tenant.slug(), &id);
        }
        Ok(())
    }

    /// The pre-account-hijacking case, where the tenant allows it for this provider: the
    /// never-verified local account loses its password, factors and sessions (whoever set
    /// them may not be the address's owner), its address counts as verified (the upstream
    /// vouched for it), and the identity is linked.
    async fn take_over(
        &self,
        tenant: &Tenant,
        p: &ProviderRow,
        user: UserRow,
        claims: &UpstreamClaims,
        client: &ClientInfo,
    ) -> Result<UserRow, CallbackError> {
        let now = self.clock.now();
        users::mark_verified(tenant.db(), &user.id, now).await?;
        let removed = Template::FactorRemoved(
            "Every sign-in method (the account was claimed through a verified sign-in)",
        );
        let (notice, notice_id) = self.notice(tenant, &user, removed);
        crate::mfa::store::delete_all(tenant.db(), &user.id, notice).await?;
        let revoked = tenant
            .set_password(user.id.clone(), NO_PASSWORD.to_string(), None, now)
            .await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        self.link_identity(tenant, p, &user, claims, false).await?;
        let info = AuditInfo::own(&user.id, client).with_detail(format!(
            "unverified account taken over through {}: password and factors removed, {revoked} sessions revoked",
            p.id
        ));
        self.audit(tenant, "account_taken_over", info).await;
        Ok(tenant.user(&user.id).await?.unwrap_or(user))
    }

    async fn finish_link(
        &self,
        tenant: &Tenant,
        p: &ProviderRow,
        flow: &FlowRow,
        claims: &UpstreamClaims,
        client: &ClientInfo,
    ) -> Result<Finished, CallbackError> {
        let uri = flow.redirect_uri.clone().unwrap_or_default();
        let refuse = |message: &str| CallbackError::RefusedTo {
            redirect_uri: uri.clone(),
            message: message.to_string(),
        };
        let user_id = flow
            .user
            .clone()
            .ok_or_else(|| refuse("No account to link to."))?;
        let user = tenant
            .user(&user_id)
            .await?
            .ok_or_else(|| refuse("No account to link to."))?;
        if let Some(l) = fed_store::identity_by_subject(tenant.db(), &p.id, &claims.sub).await? {
            return Err(refuse(if l.user == user.id {
                "This identity is already linked to your account."
            } else {
                "This identity is linked to another account."
            }));
        }
        self.link_identity(tenant, p, &user, claims, true)
            .await
            .map_err(|e| match e {
                CallbackError::Refused(m) => refuse(&m),
                other => other,
            })?;
        let info = AuditInfo::own(&user.id, client).with_detail(format!("linked: {}", p.id));
        self.audit(tenant, "identity_linked", info).await;
        Ok(Finished::Redirect(with_query(&uri, &[("linked", &p.id)])))
    }

    /// `completeFederatedSignIn`: the single-use code a frontend got at its redirect URI, for
    /// the usual tokens (or `MFA_REQUIRED` when latchkey's own second factor is due).
    pub async fn complete(
        &self,
        tenant: &Tenant,
        code: &str,
        organization: Option<&str>,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let code = code.trim();
        if code.is_empty() || code.len() > 200 {
            return Err(ServiceError::InvalidToken);
        }
        let row = fed_store::spend_code(
            tenant.db(),
            &self.secrets.hash_token(code),
            self.clock.now(),
        )
        .await?
        .ok_or(ServiceError::InvalidToken)?;
        let user = tenant
            .user(&row.user)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        if user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        let method = if row.upstream_mfa {
            AuthMethod::FederatedMfa
        } else {
            self.mfa
                .second_step_after_federation(tenant, &user, &row.provider)
                .await?;
            AuthMethod::Federated
        };
        self.sessions
            .start_federated_session(tenant, user, client, method, &row.provider, organization)
            .await
    }

    /// The caller's linked identities.
    pub async fn identities(
        &self,
        tenant: &Tenant,
        user: &str,
    ) -> Result<Vec<IdentityRow>, ServiceError> {
        Ok(fed_store::identities_of(tenant.db(), user).await?)
    }

    /// `unlinkIdentity`: refused when it is the account's last way to sign in (no password,
    /// no passkey, no other identity).
    pub async fn unlink(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let me = self.sessions.authenticate(tenant, bearer).await?;
        let user = me.user;
        let mine = fed_store::identities_of(tenant.db(), &user.id).await?;
        if !mine.iter().any(|i| i.id == id) {
            return Err(ServiceError::bad_input("id", "no such identity of yours"));
        }
        let has_password = user.password_hash != NO_PASSWORD;
        let passkeys = !self
            .mfa
            .mfa_status(tenant, &user.id)
            .await?
            .passkeys
            .is_empty();
        if !has_password && !passkeys && mine.len() <= 1 {
            return Err(ServiceError::bad_input(
                "id",
                "this is your account's only way to sign in: set a password (through a reset mail) or add a passkey first",
            ));
        }
        let what = "A sign-in through an identity provider";
        let info = AuditInfo::own(&user.id, client);
        self.remove_identity(tenant, &user, id, what, info).await
    }

    /// Removes identity `id` of `user`, mails the owner in the same write and audits it.
    async fn remove_identity(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        id: &str,
        what: &'static str,
        info: AuditInfo<'_>,
    ) -> Result<bool, ServiceError> {
        let (notice, notice_id) = self.notice(tenant, user, Template::FactorRemoved(what));
        let gone = fed_store::unlink(tenant.db(), &user.id, id, notice).await?;
        if gone {
            self.mailer.notify(tenant.slug(), &notice_id);
            let info = info.with_detail(format!("identity {id}"));
            self.audit(tenant, "identity_unlinked", info).await;
        }
        Ok(gone)
    }

    /// A tenant admin removes a user's identity (the user is mailed; sessions stay).
    pub async fn admin_unlink(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        user: &str,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let user = self.target_user(tenant, user).await?;
        let what = "A sign-in through an identity provider (by an administrator)";
        let info = AuditInfo::by(&admin.user.id, client).on(&user.id);
        self.remove_identity(tenant, &user, id, what, info).await
    }

    /// Records a refused callback.
    pub async fn audit_refusal(
        &self,
        tenant: &Tenant,
        provider: &str,
        why: &str,
        client: &ClientInfo,
    ) {
        let info = AuditInfo::about(None, client)
            .with_detail(format!("{provider}: {}", truncate(why, 200)));
        self.audit(tenant, "federated_login_refused", info).await;
    }
}

/// A refusal sent where the flow came from: the frontend's redirect URI, the hosted page's
/// request, or an error page.
fn refusal(flow: &FlowRow, message: String) -> CallbackError {
    match (&flow.redirect_uri, &flow.request) {
        (Some(uri), _) => CallbackError::RefusedTo {
            redirect_uri: uri.clone(),
            message,
        },
        (None, Some(request)) => CallbackError::RefusedHosted {
            request: request.clone(),
            message,
        },
        _ => CallbackError::Refused(message),
    }
}

/// The claims `p` copies, from what the upstream said (id_token claims or userinfo), as JSON;
/// none when it copies none or none was sent. Each value is bounded (a claim of 2 KiB or more
/// is left out) so an upstream cannot grow the identity's row without limit.
fn copied_claims(p: &ProviderRow, claims: &UpstreamClaims) -> Option<String> {
    let copied: serde_json::Map<String, serde_json::Value> = p
        .copy_claims
        .iter()
        .filter_map(|name| {
            let v = mapping::lookup(&claims.raw, name)?;
            (v.to_string().len() < 2048).then(|| (name.clone(), v.clone()))
        })
        .collect();
    (!copied.is_empty()).then(|| serde_json::Value::Object(copied).to_string())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
