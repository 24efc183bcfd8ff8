//! The upstream providers a tenant admin configures: checked by reading the issuer's discovery
//! document and keys before anything is stored (a typo is a clear `BAD_USER_INPUT` now, not a
//! failed sign-in later), the client secret sealed and never returned.

use super::FederationService;
use super::discovery::{DiscoveryError, discover_accepting};
use super::linking::LinkPolicy;
use super::mapping::{self, ClaimMapping};
use super::store::{self as fed_store, ProviderRow};
use super::{apple, microsoft};
use crate::actors::Tenant;
use crate::domain::secrets::random_token;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::audit::AuditInfo;
use crate::infra::page::{Page, decode_key, page_size};
use crate::store::org_policy;

/// Google's issuer (its discovery document names exactly this).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The kinds of provider (API.md: OIDC | OAUTH2 | GOOGLE | MICROSOFT | GITHUB | APPLE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any OpenID provider, by its issuer.
    Oidc,
    /// A plain OAuth2 server with a userinfo mapping.
    OAuth2,
    /// Google (OpenID, fixed issuer).
    Google,
    /// Microsoft Entra ID.
    Microsoft,
    /// GitHub (OAuth2).
    GitHub,
    /// Sign in with Apple.
    Apple,
}

impl Kind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Oidc => "oidc",
            Kind::OAuth2 => "oauth2",
            Kind::Google => "google",
            Kind::Microsoft => "microsoft",
            Kind::GitHub => "github",
            Kind::Apple => "apple",
        }
    }

    /// From storage.
    pub fn parse(s: &str) -> Kind {
        match s {
            "oauth2" => Kind::OAuth2,
            "google" => Kind::Google,
            "microsoft" => Kind::Microsoft,
            "github" => Kind::GitHub,
            "apple" => Kind::Apple,
            _ => Kind::Oidc,
        }
    }
}

/// What an admin sets on a provider; `None` leaves a field as it is.
#[derive(Default)]
pub struct ProviderSpec {
    /// Kind (creation only).
    pub kind: Option<Kind>,
    /// Display name.
    pub name: Option<String>,
    /// Button label (empty string: back to "Continue with {name}").
    pub button_label: Option<String>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Issuer (OIDC; Apple's by default).
    pub issuer: Option<String>,
    /// latchkey's client id at the upstream.
    pub client_id: Option<String>,
    /// Its secret (write-only).
    pub client_secret: Option<String>,
    /// Scopes (`openid` is always asked for of OpenID providers).
    pub scopes: Option<Vec<String>>,
    /// Just-in-time sign-up.
    pub may_create: Option<bool>,
    /// How identities join existing accounts.
    pub link_policy: Option<LinkPolicy>,
    /// Believe its `email_verified`.
    pub trusts_email: Option<bool>,
    /// Accept its multi-factor sign-in as the second factor.
    pub trusts_mfa: Option<bool>,
    /// Let a trusted verified identity take over a never-verified local account.
    pub take_over_unverified: Option<bool>,
    /// OAuth2 and GitHub: the authorization endpoint.
    pub authorization_url: Option<String>,
    /// OAuth2 and GitHub: the token endpoint.
    pub token_url: Option<String>,
    /// OAuth2 and GitHub: where the user's facts are read with the access token.
    pub userinfo_url: Option<String>,
    /// OAuth2 and GitHub: a GitHub-shaped list of addresses (empty string: none).
    pub emails_url: Option<String>,
    /// Where subject, address, name are in the upstream's answer.
    pub claim_mapping: Option<ClaimMapping>,
    /// Microsoft: `common`, `organizations`, `consumers` or a directory id.
    pub directory: Option<String>,
    /// Microsoft: the cloud's sign-in host.
    pub authority_host: Option<String>,
    /// Microsoft: the directories accepted (empty: any).
    pub allowed_directories: Option<Vec<String>>,
    /// Apple: team id.
    pub apple_team_id: Option<String>,
    /// Apple: key id.
    pub apple_key_id: Option<String>,
    /// Apple: the `.p8` private key (write-only).
    pub apple_private_key: Option<String>,
    /// Upstream claims to copy onto linked identities (dotted paths).
    pub copy_claims: Option<Vec<String>>,
}

impl Kind {
    /// Whether it is an OpenID provider (discovery, id_token); else plain OAuth2 (userinfo).
    pub fn is_openid(self) -> bool {
        !matches!(self, Kind::OAuth2 | Kind::GitHub)
    }
}

/// GitHub's endpoints (GitHub Enterprise Server: set the same paths on its own host).
pub mod github {
    /// Authorization.
    pub const AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
    /// Token.
    pub const TOKEN: &str = "https://github.com/login/oauth/access_token";
    /// The signed-in user.
    pub const USER: &str = "https://api.github.com/user";
    /// The user's addresses, with which is primary and verified.
    pub const EMAILS: &str = "https://api.github.com/user/emails";
}

impl ProviderRow {
    /// The sign-in button's words: the admin's, or "Continue with {name}".
    pub fn label(&self) -> String {
        self.button_label
            .clone()
            .unwrap_or_else(|| format!("Continue with {}", self.name))
    }

    /// Its claim mapping (the OpenID names when none is stored).
    pub fn mapping(&self) -> ClaimMapping {
        self.claim_mapping
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default()
    }
}

/// What a client secret is sealed under: bound to the tenant and the provider.
pub fn secret_context(tenant: &str, provider: &str) -> String {
    format!("idp-client-secret/{tenant}/{provider}")
}

fn text(field: &'static str, v: String, max: usize) -> Result<String, ServiceError> {
    let v = v.trim().to_string();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ServiceError::bad_input(
            field,
            &format!("must be 1 to {max} characters"),
        ));
    }
    Ok(v)
}

/// The origin of a URL (what a plain OAuth2 provider shows as its issuer).
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

impl FederationService {
    /// A URL an admin set: one the server may call (scheme, address), of sane length.
    fn endpoint(&self, field: &'static str, url: String) -> Result<String, ServiceError> {
        let url = url.trim().to_string();
        if url.len() > 500 {
            return Err(ServiceError::bad_input(field, "is too long"));
        }
        let parsed = self
            .outbound
            .check(&url)
            .map_err(|e| ServiceError::bad_input(field, &e.to_string()))?;
        // Authorization URLs go to browsers and every URL into logs: no credentials in them.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ServiceError::bad_input(field, "must not hold credentials"));
        }
        if parsed.fragment().is_some() {
            return Err(ServiceError::bad_input(field, "must not have a fragment"));
        }
        Ok(url)
    }

    /// Applies `spec` to `p`; `true` when the issuer or client changed (discovery runs again).
    fn apply_spec(
        &self,
        tenant: &Tenant,
        p: &mut ProviderRow,
        spec: ProviderSpec,
    ) -> Result<bool, ServiceError> {
        let kind = Kind::parse(&p.kind);
        let mut rediscover = false;
        if let Some(name) = spec.name {
            p.name = text("name", name, 100)?;
        }
        if let Some(label) = spec.button_label {
            p.button_label = if label.trim().is_empty() {
                None
            } else {
                Some(text("buttonLabel", label, 100)?)
            };
        }
        if let Some(e) = spec.enabled {
            p.enabled = e;
        }
        if let Some(issuer) = spec.issuer {
            // Google's and Microsoft's issuers follow from the kind (and Microsoft's directory);
            // Apple's has a default an Apple-compatible provider may replace.
            match kind {
                Kind::Google if issuer != GOOGLE_ISSUER => {
                    return Err(ServiceError::bad_input(
                        "issuer",
                        &format!("Google's issuer is {GOOGLE_ISSUER}"),
                    ));
                }
                Kind::Microsoft | Kind::OAuth2 | Kind::GitHub => {
                    return Err(ServiceError::bad_input(
                        "issuer",
                        "is not set for this kind (Microsoft: directory and authorityHost; \
                         OAuth2 and GitHub: the endpoint URLs)",
                    ));
                }
                _ => {}
            }
            let issuer = issuer.trim().to_string();
            if issuer.len() > 500 {
                return Err(ServiceError::bad_input("issuer", "is too long"));
            }
            rediscover |= issuer != p.issuer;
            p.issuer = issuer;
        }
        if let Some(id) = spec.client_id {
            rediscover |= id != p.client_id;
            p.client_id = text("clientId", id, 500)?;
        }
        let context = secret_context(tenant.slug().as_str(), &p.id);
        if let Some(secret) = spec.client_secret {
            if kind == Kind::Apple {
                return Err(ServiceError::bad_input(
                    "clientSecret",
                    "is made from applePrivateKey for Apple",
                ));
            }
            if secret.len() > 2000 || secret.chars().any(char::is_control) {
                return Err(ServiceError::bad_input("clientSecret", "is malformed"));
            }
            p.client_secret_sealed =
                (!secret.is_empty()).then(|| self.secrets.seal(&context, secret.as_bytes()));
        }
        if let Some(scopes) = spec.scopes {
            let ok = scopes.len() <= 20
                && scopes.iter().all(|s| {
                    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_graphic())
                });
            if !ok {
                return Err(ServiceError::bad_input(
                    "scopes",
                    "must be at most 20 scope tokens",
                ));
            }
            let mut all = Vec::new();
            if kind.is_openid() {
                all.push("openid".to_string());
            }
            for s in scopes {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
            p.scopes = all;
        }
        if let Some(b) = spec.may_create {
            p.may_create = b;
        }
        if let Some(policy) = spec.link_policy {
            p.link_policy = match policy {
                LinkPolicy::Never => "never",
                LinkPolicy::Prove => "prove",
                LinkPolicy::Automatic => "automatic",
            }
            .into();
        }
        if let Some(b) = spec.trusts_email {
            if b && kind == Kind::Microsoft {
                // nOAuth: any directory admin can set any `email` on an Entra account.
                return Err(ServiceError::bad_input(
                    "trustEmailVerified",
                    "cannot be true for Microsoft: Entra ID does not verify the email claim",
                ));
            }
            p.trusts_email = b;
        }
        if let Some(b) = spec.trusts_mfa {
            p.trusts_mfa = b;
        }
        if let Some(b) = spec.take_over_unverified {
            p.take_over_unverified = b;
        }
        // Plain OAuth2 endpoints (GitHub's have defaults; an Enterprise Server sets its own).
        let oauth2 = !kind.is_openid();
        let urls = [
            (
                "authorizationUrl",
                spec.authorization_url,
                &mut p.authorization_endpoint,
            ),
            ("tokenUrl", spec.token_url, &mut p.token_endpoint),
            ("userinfoUrl", spec.userinfo_url, &mut p.userinfo_endpoint),
        ];
        for (field, value, slot) in urls {
            if let Some(v) = value {
                if !oauth2 {
                    return Err(ServiceError::bad_input(
                        field,
                        "is read from the issuer's discovery document for this kind",
                    ));
                }
                *slot = self.endpoint(field, v)?;
            }
        }
        if let Some(v) = spec.emails_url {
            if !oauth2 {
                return Err(ServiceError::bad_input(
                    "emailsUrl",
                    "is for OAUTH2 and GITHUB",
                ));
            }
            p.emails_endpoint = if v.trim().is_empty() {
                None
            } else {
                Some(self.endpoint("emailsUrl", v)?)
            };
        }
        if oauth2 {
            p.issuer = origin(&p.authorization_endpoint);
            // The code and the client secret go to the token URL: it must be the authorization
            // server's own (a GitHub Enterprise Server's code is no business of github.com).
            if !p.token_endpoint.is_empty() && origin(&p.token_endpoint) != p.issuer {
                return Err(ServiceError::bad_input(
                    "tokenUrl",
                    "must be on the authorization URL's origin",
                ));
            }
        }
        if let Some(given) = spec.claim_mapping {
            // Members given replace the stored ones (an empty string: back to the default);
            // the rest stay, so `{name: ...}` on GitHub keeps its subject `id`.
            let mut m = p.mapping();
            let set = |slot: &mut Option<String>, v: Option<String>| {
                if let Some(v) = v {
                    *slot = (!v.trim().is_empty()).then(|| v.trim().to_string());
                }
            };
            if kind.is_openid() && (given.subject.is_some() || given.email_verified.is_some()) {
                // An OpenID provider's subject is `sub` and its verification is its own claim;
                // a mapping may read the address or names elsewhere, not re-key or re-verify.
                return Err(ServiceError::bad_input(
                    "claimMapping",
                    "subject and emailVerified are mapped for OAUTH2 and GITHUB only",
                ));
            }
            set(&mut m.subject, given.subject);
            set(&mut m.email, given.email);
            set(&mut m.email_verified, given.email_verified);
            set(&mut m.name, given.name);
            set(&mut m.username, given.username);
            let paths = [
                ("claimMapping.subject", &m.subject),
                ("claimMapping.email", &m.email),
                ("claimMapping.emailVerified", &m.email_verified),
                ("claimMapping.name", &m.name),
                ("claimMapping.username", &m.username),
            ];
            for (field, path) in paths {
                if path.as_deref().is_some_and(|v| !mapping::valid_path(v)) {
                    return Err(ServiceError::bad_input(
                        field,
                        "must be a dotted path of names or indexes, e.g. user.id",
                    ));
                }
            }
            p.claim_mapping = (m != ClaimMapping::default())
                .then(|| serde_json::to_string(&m).unwrap_or_default());
        }
        if let Some(list) = spec.copy_claims {
            if list.len() > 20 || !list.iter().all(|c| mapping::valid_path(c)) {
                return Err(ServiceError::bad_input(
                    "copyClaims",
                    "must be at most 20 claim names or dotted paths",
                ));
            }
            p.copy_claims = list;
        }
        // Microsoft's directory and cloud make its issuer.
        if let Some(d) = spec.directory {
            if kind != Kind::Microsoft {
                return Err(ServiceError::bad_input("directory", "is for MICROSOFT"));
            }
            let d = d.trim().to_ascii_lowercase();
            if !microsoft::valid_directory(&d) {
                return Err(ServiceError::bad_input(
                    "directory",
                    "must be common, organizations, consumers or a directory (tenant) id",
                ));
            }
            rediscover |= p.directory.as_deref() != Some(d.as_str());
            p.directory = Some(d);
        }
        if let Some(h) = spec.authority_host {
            if kind != Kind::Microsoft {
                return Err(ServiceError::bad_input("authorityHost", "is for MICROSOFT"));
            }
            let h = self.endpoint("authorityHost", h)?;
            let h = h.trim_end_matches('/').to_string();
            rediscover |= p.authority_host.as_deref() != Some(h.as_str());
            p.authority_host = Some(h);
        }
        if let Some(list) = spec.allowed_directories {
            if kind != Kind::Microsoft && !list.is_empty() {
                return Err(ServiceError::bad_input(
                    "allowedDirectories",
                    "is for MICROSOFT",
                ));
            }
            if list.len() > 100 || !list.iter().all(|d| microsoft::is_guid(d)) {
                return Err(ServiceError::bad_input(
                    "allowedDirectories",
                    "must be at most 100 directory (tenant) ids",
                ));
            }
            p.allowed_directories = list.iter().map(|d| d.to_ascii_lowercase()).collect();
        }
        if kind == Kind::Microsoft
            && !microsoft::allow_list_fits(
                p.directory.as_deref().unwrap_or("common"),
                &p.allowed_directories,
            )
        {
            return Err(ServiceError::bad_input(
                "allowedDirectories",
                "holds no directory that this directory setting lets in",
            ));
        }
        if kind == Kind::Microsoft {
            let host = p
                .authority_host
                .as_deref()
                .unwrap_or(microsoft::AUTHORITY_HOST);
            let dir = p.directory.as_deref().unwrap_or("common");
            let wanted = microsoft::authority(host, dir);
            // The stored issuer may be the template discovery answered for `wanted`.
            if !microsoft::accepts_issuer(host, dir, &p.issuer) {
                rediscover = true;
                p.issuer = wanted;
            }
        }
        // Apple's client secret is made from these.
        if let Some(t) = spec.apple_team_id {
            p.apple_team_id = Some(text("appleTeamId", t, 40)?);
        }
        if let Some(k) = spec.apple_key_id {
            p.apple_key_id = Some(text("appleKeyId", k, 40)?);
        }
        if let Some(key) = spec.apple_private_key {
            if kind != Kind::Apple {
                return Err(ServiceError::bad_input("applePrivateKey", "is for APPLE"));
            }
            if key.len() > 4000 {
                return Err(ServiceError::bad_input("applePrivateKey", "is too long"));
            }
            // Signing once now proves the key is one Apple takes (P-256), not a later failure.
            apple::client_secret("t", "k", "c", &key, apple::ISSUER, 0)
                .map_err(|m| ServiceError::bad_input("applePrivateKey", m))?;
            p.client_secret_sealed = Some(self.secrets.seal(&context, key.trim().as_bytes()));
        }
        if kind != Kind::Apple {
            for (field, set) in [
                ("appleTeamId", p.apple_team_id.is_some()),
                ("appleKeyId", p.apple_key_id.is_some()),
            ] {
                if set {
                    return Err(ServiceError::bad_input(field, "is for APPLE"));
                }
            }
        }
        if kind == Kind::Apple {
            let missing = [
                ("appleTeamId", p.apple_team_id.is_none()),
                ("appleKeyId", p.apple_key_id.is_none()),
                ("applePrivateKey", p.client_secret_sealed.is_none()),
            ];
            if let Some((field, _)) = missing.into_iter().find(|(_, m)| *m) {
                return Err(ServiceError::bad_input(field, "is required for Apple"));
            }
        }
        if oauth2 {
            for (field, v) in [
                ("authorizationUrl", &p.authorization_endpoint),
                ("tokenUrl", &p.token_endpoint),
                ("userinfoUrl", &p.userinfo_endpoint),
            ] {
                if v.is_empty() {
                    return Err(ServiceError::bad_input(field, "is required"));
                }
            }
        }
        if p.client_id.is_empty() {
            return Err(ServiceError::bad_input("clientId", "is required"));
        }
        Ok(rediscover)
    }

    /// Reads the issuer's discovery document and keys into `p`, or says what failed. Plain
    /// OAuth2 servers have neither: their URLs were checked as they were set.
    async fn discover_into(&self, p: &mut ProviderRow) -> Result<(), ServiceError> {
        let kind = Kind::parse(&p.kind);
        if !kind.is_openid() {
            return Ok(());
        }
        let host = p
            .authority_host
            .as_deref()
            .unwrap_or(microsoft::AUTHORITY_HOST);
        let directory = p.directory.as_deref().unwrap_or("common");
        // Microsoft's stored issuer may be the template; its document is the directory's.
        let at = match kind {
            Kind::Microsoft => microsoft::authority(host, directory),
            _ => p.issuer.clone(),
        };
        let accepts = |reported: &str| match kind {
            Kind::Microsoft => microsoft::accepts_issuer(host, directory, reported),
            _ => reported == at,
        };
        let upstream = discover_accepting(&self.outbound, &at, accepts)
            .await
            .map_err(|e| {
                let why = match &e {
                    DiscoveryError::IssuerMismatch { .. } => format!("issuer mismatch: {e}"),
                    _ => e.to_string(),
                };
                ServiceError::bad_input("issuer", &why)
            })?;
        let m = upstream.metadata;
        p.issuer = m.issuer;
        p.authorization_endpoint = m.authorization_endpoint;
        p.token_endpoint = m.token_endpoint;
        p.jwks_uri = m.jwks_uri;
        p.userinfo_endpoint = m.userinfo_endpoint.unwrap_or_default();
        p.iss_parameter = m.authorization_response_iss_parameter_supported;
        p.jwks = serde_json::to_string(&upstream.keys)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(())
    }

    /// Adds a provider (tenant admin): an OpenID provider's discovery document and keys are
    /// read first.
    pub async fn create_provider(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        spec: ProviderSpec,
        client: &ClientInfo,
    ) -> Result<ProviderRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let kind = spec.kind.unwrap_or(Kind::Oidc);
        if spec.name.is_none() {
            return Err(ServiceError::bad_input("name", "is required"));
        }
        let issuer = match (kind, &spec.issuer) {
            (Kind::Google, _) => GOOGLE_ISSUER.to_string(),
            (Kind::Apple, None) => apple::ISSUER.to_string(),
            (Kind::Oidc, None) => return Err(ServiceError::bad_input("issuer", "is required")),
            _ => String::new(),
        };
        let openid_scopes = || vec!["openid".into(), "email".into(), "profile".into()];
        let scopes = match kind {
            // Apple knows `name` and `email` only.
            Kind::Apple => vec!["openid".into(), "email".into(), "name".into()],
            Kind::GitHub => vec!["read:user".into(), "user:email".into()],
            Kind::OAuth2 => Vec::new(),
            _ => openid_scopes(),
        };
        let (authz, token, userinfo, emails) = match kind {
            Kind::GitHub => (
                github::AUTHORIZE.to_string(),
                github::TOKEN.to_string(),
                github::USER.to_string(),
                Some(github::EMAILS.to_string()),
            ),
            _ => Default::default(),
        };
        let now = self.clock.now();
        let mut p = ProviderRow {
            id: random_token(12),
            kind: kind.as_str().into(),
            name: String::new(),
            button_label: None,
            enabled: true,
            issuer,
            client_id: String::new(),
            client_secret_sealed: None,
            scopes,
            may_create: true,
            link_policy: "prove".into(),
            // Entra's email claim is unverified whatever it says (nOAuth).
            trusts_email: kind != Kind::Microsoft,
            trusts_mfa: false,
            take_over_unverified: false,
            authorization_endpoint: authz,
            token_endpoint: token,
            jwks_uri: String::new(),
            jwks: String::new(),
            iss_parameter: false,
            userinfo_endpoint: userinfo,
            emails_endpoint: emails,
            claim_mapping: (kind == Kind::GitHub)
                .then(|| serde_json::to_string(&mapping::github()).unwrap_or_default()),
            directory: (kind == Kind::Microsoft).then(|| "common".to_string()),
            authority_host: None,
            allowed_directories: Vec::new(),
            apple_team_id: None,
            apple_key_id: None,
            copy_claims: Vec::new(),
            created_at: now,
        };
        self.apply_spec(tenant, &mut p, spec)?;
        self.discover_into(&mut p).await?;
        fed_store::put_provider(tenant.db(), &p, now).await?;
        let detail = format!("identity provider {} ({})", p.id, p.issuer);
        let info = AuditInfo::by(&admin.user.id, client).with_detail(detail);
        self.audit(tenant, "identity_provider_created", info).await;
        Ok(p)
    }

    /// Changes a provider (tenant admin); omitted fields stay, the secret is write-only. A new
    /// issuer or client is discovered again before it is stored.
    pub async fn update_provider(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        spec: ProviderSpec,
        client: &ClientInfo,
    ) -> Result<ProviderRow, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        if spec.kind.is_some() {
            return Err(ServiceError::bad_input(
                "kind",
                "cannot change: create a new provider",
            ));
        }
        let mut p = fed_store::provider(tenant.db(), id)
            .await?
            .ok_or_else(|| ServiceError::bad_input("id", "no such identity provider"))?;
        let subject_before = p.mapping().subject;
        let subject_given = spec.claim_mapping.as_ref().and_then(|m| m.subject.clone());
        let rekeyed = subject_given.is_some_and(|s| {
            let s = s.trim();
            Some(s) != subject_before.as_deref() && !(s.is_empty() && subject_before.is_none())
        });
        // Identities are keyed by the subject: reading it elsewhere would orphan every linked
        // account, or hand one to whoever's new subject value matches.
        if rekeyed && fed_store::provider_has_identities(tenant.db(), id).await? {
            return Err(ServiceError::bad_input(
                "claimMapping.subject",
                "cannot change while identities are linked through this provider",
            ));
        }
        if self.apply_spec(tenant, &mut p, spec)? {
            self.discover_into(&mut p).await?;
        }
        fed_store::put_provider(tenant.db(), &p, self.clock.now()).await?;
        let info =
            AuditInfo::by(&admin.user.id, client).with_detail(format!("identity provider {id}"));
        self.audit(tenant, "identity_provider_updated", info).await;
        Ok(p)
    }

    /// Deletes a provider with its linked identities (tenant admin). Accounts stay; one that
    /// could sign in only through it signs in again after a password reset.
    pub async fn delete_provider(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let admin = self.sessions.require_admin(tenant, bearer).await?;
        let gone = fed_store::delete_provider(tenant.db(), id).await?;
        if gone {
            let info = AuditInfo::by(&admin.user.id, client)
                .with_detail(format!("identity provider {id}"));
            self.audit(tenant, "identity_provider_deleted", info).await;
        }
        Ok(gone)
    }

    /// One provider (tenant admin).
    pub async fn get_provider(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        id: &str,
    ) -> Result<Option<ProviderRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        Ok(fed_store::provider(tenant.db(), id).await?)
    }

    /// Providers by id (tenant admin); a tenant has a handful, read at once.
    pub async fn list_providers(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        first: i32,
        after: Option<&str>,
    ) -> Result<Page<ProviderRow>, ServiceError> {
        self.sessions.require_admin(tenant, bearer).await?;
        let limit = page_size(first)?;
        let after = after.map(|c| decode_key("after", c)).transpose()?;
        let all = fed_store::providers(tenant.db()).await?;
        let total = all.len();
        let rows = all
            .into_iter()
            .filter(|p| after.as_deref().is_none_or(|a| p.id.as_str() > a))
            .take(limit + 1)
            .collect();
        Ok(Page::of(rows, limit, total, |p| p.id.as_str()))
    }

    /// Every provider, unchecked: for what any caller may see of them (button labels, the
    /// names of a user's linked identities).
    pub async fn all_providers(&self, tenant: &Tenant) -> Result<Vec<ProviderRow>, ServiceError> {
        Ok(fed_store::providers(tenant.db()).await?)
    }

    /// The enabled providers, for the hosted sign-in page's buttons (public). An
    /// organization's own provider is not among them: it is offered to that organization's
    /// domains (`sign_in_options`, and the hosted page sends their addresses to it).
    pub async fn buttons(&self, tenant: &Tenant) -> Result<Vec<(String, String)>, ServiceError> {
        let own = org_policy::org_providers(tenant.db()).await?;
        Ok(fed_store::providers(tenant.db())
            .await?
            .into_iter()
            .filter(|p| p.enabled && !own.contains(&p.id))
            .map(|p| {
                let label = p.label();
                (p.id, label)
            })
            .collect())
    }

    /// How someone with `email` can sign in (public; home-realm discovery): an address of a
    /// domain whose organization has its own provider is offered that provider, and no
    /// password when the organization requires its provider; any other address the password
    /// and the tenant's general providers.
    pub async fn sign_in_options(
        &self,
        tenant: &Tenant,
        email: &str,
    ) -> Result<SignInChoice, ServiceError> {
        let policy = match org_policy::domain_of(email) {
            Some(d) if d.len() <= 253 => org_policy::of_domain(tenant.db(), &d).await?,
            _ => None,
        };
        let providers = fed_store::providers(tenant.db()).await?;
        if let Some(p) = &policy
            && let Some(own) = &p.provider
        {
            return Ok(SignInChoice {
                password: !p.sso_required,
                providers: providers.into_iter().filter(|x| &x.id == own).collect(),
                organization: Some(p.org_name.clone()),
            });
        }
        let own = org_policy::org_providers(tenant.db()).await?;
        Ok(SignInChoice {
            password: true,
            providers: providers
                .into_iter()
                .filter(|p| p.enabled && !own.contains(&p.id))
                .collect(),
            // Which organization owns a domain is told only where it changes how to sign in.
            organization: None,
        })
    }
}

/// How someone can sign in ([`FederationService::sign_in_options`]).
pub struct SignInChoice {
    /// A password sign-in is possible.
    pub password: bool,
    /// The providers offered.
    pub providers: Vec<ProviderRow>,
    /// The organization the address's domain belongs to.
    pub organization: Option<String>,
}
