//! The session service: starting sessions (the tokens a sign-in ends with), refresh rotation
//! with reuse detection, authenticating a bearer token, logout.
//!
//! Writes go through the tenant actor (`Tenant::create_session`, `rotate`, `revoke_*`): a
//! tenant's rotations are batched and serialized there; the database's conditional update is
//! what decides a race between nodes (a lost race is reuse).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::tokens::new_refresh_token;
use crate::actors::Tenant;
use crate::domain::ADMIN_ROLE;
use crate::domain::claims::{AccessClaims, AuthMethod};
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::token_hook::HookInput;
use crate::infra::{ClientInfo, Infra};
use crate::store::StoreError;
use crate::store::sessions::{self, NewSession, RefreshRow, Rotation, SessionRow};
use crate::store::users::UserRow;
use crate::store::{memberships, org_policy};

/// Longest refresh token we look up; real ones are 43 characters.
pub(crate) const MAX_OPAQUE_TOKEN_LEN: usize = 512;

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Tokens handed to a client after register, login or refresh.
pub struct AuthTokens {
    /// The JWT.
    pub access_token: String,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    pub user: UserRow,
}

/// What a session for an OAuth client carries: the client, the scopes granted, and the
/// browser session (`sid`) it came from.
pub struct OAuthGrant {
    /// The client_id.
    pub client_id: String,
    /// Scopes granted.
    pub scope: Vec<String>,
    /// The browser session's public id.
    pub sso: String,
    /// The identity provider the browser session signed in through, if any.
    pub idp: Option<String>,
}

/// The organization a session is scoped to, with the user's roles in it (the `org_id` and
/// `org_roles` claims).
#[derive(Clone, Debug)]
pub struct OrgScope {
    /// The organization's id.
    pub id: String,
    /// The user's org roles.
    pub roles: Vec<String>,
    /// The organization admits only sessions signed in with a second factor.
    pub mfa_required: bool,
}

impl OrgScope {
    /// `OrganizationRequiresMfa` when the organization requires a second factor and the
    /// session signed in with one (`acr` aal1).
    pub fn admits(&self, method: AuthMethod) -> Result<(), ServiceError> {
        if self.mfa_required && method.acr() == "aal1" {
            return Err(ServiceError::OrganizationRequiresMfa);
        }
        Ok(())
    }
}

/// An authenticated caller, from a verified access token whose session is live.
pub struct Principal {
    /// The verified claims.
    pub claims: AccessClaims,
    /// The user as stored now.
    pub user: UserRow,
}

impl Principal {
    /// Whether the caller administers the tenant (role `admin`).
    pub fn is_admin(&self) -> bool {
        self.user.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// Sessions and their tokens.
#[derive(Clone)]
pub struct SessionService {
    infra: Arc<Infra>,
}

crate::infra::built_on!(SessionService);

impl SessionService {
    /// The service over the shared infrastructure.
    pub fn new(infra: Arc<Infra>) -> Self {
        Self { infra }
    }

    /// A user's live sessions, newest first: for the user themself or a tenant admin.
    pub async fn active_sessions(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        user: &str,
    ) -> Result<Vec<crate::store::sessions::SessionInfo>, ServiceError> {
        // `User` is reached only by its owner (`me`) or an admin (`user`, `users`) today; the
        // check here keeps that true for sessions whatever later reaches a `User`.
        let caller = self.authenticate(tenant, bearer).await?;
        if caller.user.id != user && !caller.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        Ok(crate::store::sessions::active_of(tenant.db(), user, self.clock.now()).await?)
    }

    /// The caller, if they administer this tenant.
    pub async fn require_admin(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<Principal, ServiceError> {
        let p = self.authenticate(tenant, bearer).await?;
        if !p.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        Ok(p)
    }

    /// Exchanges a refresh token for a new pair. The presented token is spent; presenting a
    /// spent token again is treated as theft and revokes the whole session.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug()))]
    pub async fn refresh(
        &self,
        tenant: &Tenant,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        self.refresh_for(tenant, refresh_token, client, None)
            .await
            .map(|(t, _)| t)
    }

    /// [`Infra::refresh`] for a session of the OAuth client `oauth_client` (the token
    /// endpoint), or, with `None`, for an API session: a refresh token is bound to the client
    /// it was issued to. Returns the tokens and the session.
    pub(crate) async fn refresh_for(
        &self,
        tenant: &Tenant,
        refresh_token: &str,
        client: &ClientInfo,
        oauth_client: Option<&str>,
    ) -> Result<(AuthTokens, SessionRow), ServiceError> {
        let token = refresh_token.trim();
        if token.is_empty() || token.len() > MAX_OPAQUE_TOKEN_LEN {
            return Err(ServiceError::InvalidToken);
        }
        let now = self.clock.now();
        let hash = self.secrets.hash_token(token);
        let row = sessions::find_refresh(tenant.db(), &hash)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        if row.used_at.is_some() {
            self.revoke_for_reuse(tenant, &row, client, now).await?;
            return Err(ServiceError::InvalidToken);
        }
        if row.expires_at <= now {
            return Err(ServiceError::InvalidToken);
        }
        let session = tenant
            .session(&row.session)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(ServiceError::InvalidToken);
        }
        if session.client_id.as_deref() != oauth_client {
            return Err(ServiceError::InvalidToken);
        }
        let user = tenant
            .user(&row.user)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        if user.disabled {
            return Err(ServiceError::InvalidToken);
        }
        // Under a verified-email requirement no session lives before the address is confirmed,
        // including sessions started before the tenant turned the requirement on.
        if self.settings(tenant).require_verified_email && !user.email_verified {
            return Err(ServiceError::AccountNotVerified);
        }
        // A password session of an address whose organization now requires its own provider
        // ends at its next refresh, as one-factor sessions do under an MFA requirement.
        let amr = session.amr.as_deref().unwrap_or_default();
        if amr.iter().any(|a| a == "pwd") {
            self.refuse_password_under_policy(tenant, &user.email)
                .await?;
        }
        // A session scoped to an organization lives only while the user is a member (removal
        // revokes it too; this check also covers a membership ended by any other path), and
        // its tokens carry the roles the membership has now.
        let method = AuthMethod::from_amr(session.amr.as_deref().unwrap_or_default());
        let org = match &session.org {
            Some(org) => {
                let m = memberships::membership(tenant.db(), org, &user.id)
                    .await?
                    .ok_or(ServiceError::InvalidToken)?;
                let scope = OrgScope {
                    id: org.clone(),
                    roles: m.roles,
                    mfa_required: m.mfa_required,
                };
                // An organization that turned its requirement on since: one-factor sessions
                // in it end at their next refresh.
                scope.admits(method)?;
                Some(scope)
            }
            None => None,
        };
        let new_token = new_refresh_token();
        // The sliding lifetime never carries a session past its absolute end.
        let new_exp =
            (now + chrono(self.settings(tenant).refresh_token_ttl)).min(session.expires_at);
        let sid = row.session.clone();
        let presented = row.clone();
        let rotation = Rotation {
            old: row,
            new_hash: self.secrets.hash_token(&new_token),
            new_expires_at: new_exp,
            touch_session: session
                .last_seen_at
                .is_none_or(|seen| now - seen >= sessions::SESSION_TOUCH_EVERY),
            now,
        };
        match tenant.rotate(rotation).await {
            Ok(()) => {}
            Err(StoreError::Precondition(_)) => {
                // Lost a race with another use of the same token: that is reuse too.
                self.revoke_for_reuse(tenant, &presented, client, now)
                    .await?;
                return Err(ServiceError::InvalidToken);
            }
            Err(e) => return Err(e.into()),
        }
        let scope = session.scope.clone().unwrap_or_default();
        let oauth = session.client_id.as_deref().map(|c| (c, scope.as_slice()));
        let grant_name = if oauth.is_some() {
            "refresh_token"
        } else {
            "refresh"
        };
        let (access_token, expires_in) = self
            .issue_access(
                tenant,
                &user,
                &sid,
                method,
                oauth,
                session.idp.as_deref(),
                org.as_ref(),
                grant_name,
                now,
            )
            .await?;
        Ok((
            AuthTokens {
                access_token,
                refresh_token: new_token,
                expires_in,
                user,
            },
            session,
        ))
    }

    /// A spent refresh token came back: someone holds a copy (RFC 9700 §4.14.2). The whole
    /// session is revoked, and the event names the account and the address it came from, so
    /// `auditEvents(userId:)` shows the theft signal.
    async fn revoke_for_reuse(
        &self,
        tenant: &Tenant,
        token: &RefreshRow,
        client: &ClientInfo,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let sid = &token.session;
        tracing::warn!(session = %sid, "refresh token reuse detected; session revoked");
        let info = AuditInfo::about(Some(&token.user), client)
            .with_detail(format!("session {sid} revoked"));
        self.audit(tenant, "refresh_token_reuse", info).await;
        tenant
            .revoke_session(sid.to_string(), crate::store::sessions::REUSE, now)
            .await?;
        Ok(())
    }

    /// Verifies a Bearer access token and loads its user, rejecting revoked or expired
    /// sessions and disabled or deleted users.
    pub async fn authenticate(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
    ) -> Result<Principal, ServiceError> {
        let token = bearer.ok_or(ServiceError::Unauthenticated("authentication required"))?;
        let issuer = self.issuer(tenant.slug());
        let now = self.clock.now();
        let claims =
            tenant
                .keys()
                .verify(token, &issuer, tenant.slug().as_str(), now.timestamp())?;
        let session = tenant.session(&claims.sid).await?;
        match session {
            // A token of another organization than the session's now (switched since) is
            // over; a removed member's session is revoked.
            Some(s)
                if s.revoked_at.is_none()
                    && s.expires_at > now
                    && s.user == claims.sub
                    && s.org == claims.org_id => {}
            _ => return Err(ServiceError::Unauthenticated("session revoked or expired")),
        }
        let user = tenant.user(&claims.sub).await?;
        match user {
            Some(user) if !user.disabled => Ok(Principal { claims, user }),
            _ => Err(ServiceError::Unauthenticated("session revoked or expired")),
        }
    }

    /// Ends the caller's session, all the user's sessions, or the session of a refresh token.
    pub async fn logout(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        refresh_token: Option<&str>,
        all_sessions: bool,
    ) -> Result<bool, ServiceError> {
        let now = self.clock.now();
        let principal = match bearer {
            Some(b) => Some(self.authenticate(tenant, Some(b)).await?),
            None => None,
        };
        let refresh = match refresh_token.map(str::trim) {
            Some(t) if !t.is_empty() && t.len() <= MAX_OPAQUE_TOKEN_LEN => {
                let row = sessions::find_refresh(tenant.db(), &self.secrets.hash_token(t))
                    .await?
                    .ok_or(ServiceError::InvalidToken)?;
                if let Some(p) = &principal
                    && p.user.id != row.user
                {
                    return Err(ServiceError::InvalidToken);
                }
                Some(row)
            }
            Some(_) => return Err(ServiceError::InvalidToken),
            None => None,
        };
        let user = match (&principal, &refresh) {
            (Some(p), _) => p.user.id.clone(),
            (None, Some(r)) => r.user.clone(),
            (None, None) => return Err(ServiceError::Unauthenticated("authentication required")),
        };
        if all_sessions {
            tenant.revoke_all(user, None, "logout_all", now).await?;
            return Ok(true);
        }
        if let Some(r) = refresh {
            tenant.revoke_session(r.session, "logout", now).await?;
        }
        if let Some(p) = principal {
            tenant.revoke_session(p.claims.sid, "logout", now).await?;
        }
        Ok(true)
    }

    /// Starts a session for an authenticated user; `method` says how (its `amr`/`acr`).
    pub(crate) async fn start_session(
        &self,
        tenant: &Tenant,
        user: UserRow,
        client: &ClientInfo,
        method: AuthMethod,
    ) -> Result<AuthTokens, ServiceError> {
        self.start_session_for(tenant, user, client, method, None, None)
            .await
            .map(|(t, _)| t)
    }

    /// [`SessionService::start_session`] after a federated sign-in through provider `idp`:
    /// its tokens, now and after every refresh, carry the `idp` claim; with `org_id`, scoped
    /// to that organization (`FORBIDDEN` when the user is not a member).
    pub(crate) async fn start_federated_session(
        &self,
        tenant: &Tenant,
        user: UserRow,
        client: &ClientInfo,
        method: AuthMethod,
        idp: &str,
        org_id: Option<&str>,
    ) -> Result<AuthTokens, ServiceError> {
        let org = match org_id {
            Some(org_id) => {
                // A first sign-in may make the membership it asks for (by domain).
                self.join_by_domain_at_first_sign_in(tenant, &user, client, Some(idp))
                    .await?;
                let org = self.org_scope(tenant, org_id, &user.id).await?;
                org.admits(method)?;
                Some(org)
            }
            None => None,
        };
        self.start(tenant, user, client, method, None, Some(idp), org.as_ref())
            .await
            .map(|(t, _)| t)
    }

    /// [`SessionService::refresh`], then, with `org_id`, the session scoped to that
    /// organization (as `switchOrganization` does: the membership checked, the session's
    /// earlier tokens retired). One call for a frontend that keeps only a refresh token.
    pub async fn refresh_into(
        &self,
        tenant: &Tenant,
        refresh_token: &str,
        client: &ClientInfo,
        org_id: Option<&str>,
    ) -> Result<AuthTokens, ServiceError> {
        // A non-member is refused before the token is spent: the client keeps its session.
        if let Some(org_id) = org_id {
            let hash = self.secrets.hash_token(refresh_token.trim());
            if let Some(row) = sessions::find_refresh(tenant.db(), &hash).await?
                && row.used_at.is_none()
            {
                let scope = self.org_scope(tenant, org_id, &row.user).await?;
                if let Some(session) = tenant.session(&row.session).await? {
                    scope.admits(AuthMethod::from_amr(
                        session.amr.as_deref().unwrap_or_default(),
                    ))?;
                }
            }
        }
        let tokens = self.refresh(tenant, refresh_token, client).await?;
        let Some(org_id) = org_id else {
            return Ok(tokens);
        };
        let caller = self
            .authenticate(tenant, Some(&tokens.access_token))
            .await?;
        if caller.claims.org_id.as_deref() == Some(org_id) {
            return Ok(tokens);
        }
        let scope = self.org_scope(tenant, org_id, &caller.user.id).await?;
        let (user, sid) = (caller.user.id.clone(), caller.claims.sid.clone());
        let tokens = self.rescope(tenant, caller, Some(&scope)).await?;
        let info = AuditInfo::own(&user, client)
            .with_detail(format!("organization {org_id}; session {sid}"));
        self.audit(tenant, "organization_switched", info).await;
        Ok(tokens)
    }

    /// Starts a session; with `grant`, one for an OAuth client (the token endpoint's): its
    /// tokens carry the client and scope, and it is bound to the browser session it came from;
    /// with `org` (a membership the caller checked), scoped to that organization.
    /// Returns the tokens and the session id.
    pub(crate) async fn start_session_for(
        &self,
        tenant: &Tenant,
        user: UserRow,
        client: &ClientInfo,
        method: AuthMethod,
        grant: Option<&OAuthGrant>,
        org: Option<&OrgScope>,
    ) -> Result<(AuthTokens, String), ServiceError> {
        let idp = grant.and_then(|g| g.idp.clone());
        self.start(tenant, user, client, method, grant, idp.as_deref(), org)
            .await
    }

    /// [`SessionService::start_session`] scoped to the organization `org_id`: its tokens carry
    /// `org_id` and `org_roles`. `FORBIDDEN` when the user is not a member.
    pub(crate) async fn start_org_session(
        &self,
        tenant: &Tenant,
        user: UserRow,
        client: &ClientInfo,
        method: AuthMethod,
        org_id: &str,
    ) -> Result<AuthTokens, ServiceError> {
        // A first sign-in may make the membership it asks for (by domain).
        self.join_by_domain_at_first_sign_in(tenant, &user, client, None)
            .await?;
        let org = self.org_scope(tenant, org_id, &user.id).await?;
        org.admits(method)?;
        self.start(tenant, user, client, method, None, None, Some(&org))
            .await
            .map(|(t, _)| t)
    }

    /// `OrganizationSsoRequired` when `email`'s domain belongs to an organization whose
    /// members must sign in through its (enabled) identity provider: password sign-in,
    /// password sign-up and the refresh of a password session ask the same question here.
    pub(crate) async fn refuse_password_under_policy(
        &self,
        tenant: &Tenant,
        email: &str,
    ) -> Result<(), ServiceError> {
        let Some(domain) = org_policy::domain_of(email) else {
            return Ok(());
        };
        let Some(policy) = org_policy::of_domain(tenant.db(), &domain).await? else {
            return Ok(());
        };
        match policy.required_provider() {
            Some(provider) => Err(ServiceError::OrganizationSsoRequired {
                organization: policy.org_name.clone(),
                provider: provider.to_string(),
                provider_name: policy.provider_name.clone().unwrap_or_default(),
            }),
            None => Ok(()),
        }
    }

    /// Membership by verified domain at a user's first sign-in (an account made with a
    /// confirmed address: by an admin, through an identity provider, or a first sign-in
    /// after confirming). Later sign-ins never join: an admin's removal of such a member
    /// stays, and accounts older than the domain join by invitation.
    pub(crate) async fn join_by_domain_at_first_sign_in(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        client: &ClientInfo,
        idp: Option<&str>,
    ) -> Result<(), ServiceError> {
        if user.last_login_at.is_none() {
            self.join_by_domain(tenant, user, client, idp).await?;
        }
        Ok(())
    }

    /// Makes a user whose address is confirmed a member of the organization that owns its
    /// domain (with the organization's `jitRoles`), unless they are one; audited. Never on an
    /// unconfirmed address: anyone can type any address at sign-up.
    /// `idp`: the provider the user signed in through, if any. An organization's own provider
    /// is run by that customer, so the addresses it confirms join by domain only for that
    /// organization's domains (it could otherwise confirm an address of another company's).
    pub(crate) async fn join_by_domain(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        client: &ClientInfo,
        idp: Option<&str>,
    ) -> Result<(), ServiceError> {
        if !user.email_verified {
            return Ok(());
        }
        let Some(domain) = org_policy::domain_of(&user.email) else {
            return Ok(());
        };
        if let Some(idp) = idp
            && org_policy::org_providers(tenant.db())
                .await?
                .iter()
                .any(|p| p == idp)
        {
            let policy = org_policy::of_domain(tenant.db(), &domain).await?;
            if policy.and_then(|p| p.provider).as_deref() != Some(idp) {
                return Ok(());
            }
        }
        let now = self.clock.now();
        if let Some(org) = memberships::join_by_domain(tenant.db(), &user.id, &domain, now).await? {
            let info = AuditInfo::about(Some(&user.id), client)
                .with_detail(format!("organization {org}; domain {domain}"));
            self.audit(tenant, "organization_member_joined_by_domain", info)
                .await;
        }
        Ok(())
    }

    /// The user's membership of `org_id` as a token scope; `FORBIDDEN` when there is none
    /// (an unknown organization answers the same: ids are not probed one by one).
    pub async fn org_scope(
        &self,
        tenant: &Tenant,
        org_id: &str,
        user: &str,
    ) -> Result<OrgScope, ServiceError> {
        if org_id.is_empty() || org_id.len() > 64 {
            return Err(ServiceError::Forbidden);
        }
        let m = memberships::membership(tenant.db(), org_id, user)
            .await?
            .ok_or(ServiceError::Forbidden)?;
        Ok(OrgScope {
            id: org_id.to_string(),
            roles: m.roles,
            mfa_required: m.mfa_required,
        })
    }

    /// Scopes the caller's session to `org` (a membership the caller checked) or back to the
    /// tenant (`None`): a new token pair for the same session; its earlier refresh tokens are
    /// spent and its earlier access tokens no longer accepted (`authenticate` compares the
    /// token's `org_id` with the session's).
    pub(crate) async fn rescope(
        &self,
        tenant: &Tenant,
        caller: Principal,
        org: Option<&OrgScope>,
    ) -> Result<AuthTokens, ServiceError> {
        let now = self.clock.now();
        let sid = caller.claims.sid.clone();
        let session = tenant
            .session(&sid)
            .await?
            .ok_or(ServiceError::Unauthenticated("session revoked or expired"))?;
        let method = AuthMethod::from_amr(session.amr.as_deref().unwrap_or_default());
        if let Some(org) = org {
            org.admits(method)?;
        }
        let refresh_token = new_refresh_token();
        let refresh_expires_at =
            (now + chrono(self.settings(tenant).refresh_token_ttl)).min(session.expires_at);
        let switched = sessions::switch_org(
            tenant.db(),
            &sid,
            org.map(|o| o.id.as_str()),
            &self.secrets.hash_token(&refresh_token),
            refresh_expires_at,
            now,
        )
        .await;
        // This node's cache holds the session as it was; other nodes hear the write.
        tenant.forget_sessions(std::slice::from_ref(&sid));
        if !switched? {
            return Err(ServiceError::Unauthenticated("session revoked or expired"));
        }
        let scope = session.scope.clone().unwrap_or_default();
        let oauth = session.client_id.as_deref().map(|c| (c, scope.as_slice()));
        let (access_token, expires_in) = self
            .issue_access(
                tenant,
                &caller.user,
                &sid,
                method,
                oauth,
                session.idp.as_deref(),
                org,
                "switch_organization",
                now,
            )
            .await?;
        Ok(AuthTokens {
            access_token,
            refresh_token,
            expires_in,
            user: caller.user,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn start(
        &self,
        tenant: &Tenant,
        user: UserRow,
        client: &ClientInfo,
        method: AuthMethod,
        grant: Option<&OAuthGrant>,
        idp: Option<&str>,
        org: Option<&OrgScope>,
    ) -> Result<(AuthTokens, String), ServiceError> {
        self.join_by_domain_at_first_sign_in(tenant, &user, client, idp)
            .await?;
        let now = self.clock.now();
        let sid = uuid::Uuid::now_v7().to_string();
        let refresh_token = new_refresh_token();
        let expires_at = now + chrono(self.config.session_max_lifetime);
        // Signed before the session is written: a token hook that refuses (DENY) leaves no
        // session behind.
        let grant_name = if grant.is_some() {
            "authorization_code"
        } else {
            "login"
        };
        let (access_token, expires_in) = self
            .issue_access(
                tenant,
                &user,
                &sid,
                method,
                grant.map(|g| (g.client_id.as_str(), g.scope.as_slice())),
                idp,
                org,
                grant_name,
                now,
            )
            .await?;
        tenant
            .create_session(NewSession {
                id: sid.clone(),
                user: user.id.clone(),
                refresh_hash: self.secrets.hash_token(&refresh_token),
                refresh_expires_at: (now + chrono(self.settings(tenant).refresh_token_ttl))
                    .min(expires_at),
                expires_at,
                client_ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                amr: method.amr().iter().map(|a| a.to_string()).collect(),
                client: grant.map(|g| (g.client_id.clone(), g.scope.clone(), g.sso.clone())),
                idp: idp.map(str::to_string),
                org: org.map(|o| o.id.clone()),
                now,
            })
            .await?;
        let user = UserRow {
            last_login_at: Some(now),
            ..user
        };
        Ok((
            AuthTokens {
                access_token,
                refresh_token,
                expires_in,
                user,
            },
            sid,
        ))
    }

    /// Signs an access token, with the tenant's token hook's extra claims when it has one.
    #[allow(clippy::too_many_arguments)]
    async fn issue_access(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        sid: &str,
        method: AuthMethod,
        oauth: Option<(&str, &[String])>,
        idp: Option<&str>,
        org: Option<&OrgScope>,
        grant: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), ServiceError> {
        let ttl = self.settings(tenant).access_token_ttl.as_secs() as i64;
        let issuer = self.issuer(tenant.slug());
        let claims = AccessClaims {
            aud: issuer.clone(),
            iss: issuer,
            sub: user.id.clone(),
            exp: now.timestamp() + ttl,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: sid.to_string(),
            tenant: tenant.slug().to_string(),
            roles: user.roles.clone(),
            amr: method.amr().iter().map(|a| a.to_string()).collect(),
            acr: Some(method.acr().to_string()),
            client_id: oauth.map(|(c, _)| c.to_string()),
            scope: oauth.map(|(_, s)| s.join(" ")),
            idp: idp.map(str::to_string),
            org_id: org.map(|o| o.id.clone()),
            org_roles: org.map(|o| o.roles.clone()),
            extra: Default::default(),
        };
        let extra = self
            .token_hook_claims(
                tenant,
                HookInput {
                    grant,
                    user: Some(user),
                    session_id: Some(sid),
                    client_id: oauth.map(|(c, _)| c),
                    claims: serde_json::to_value(&claims).unwrap_or_default(),
                },
            )
            .await?;
        let claims = AccessClaims { extra, ..claims };
        Ok((tenant.keys().sign(&claims, now)?, ttl))
    }
}
