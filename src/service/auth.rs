//! The end-user flows: register, login, refresh, logout, me, change password.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::audit::AuditInfo;
use super::bruteforce::Account;
use super::domain::{Email, NewPassword, Username, candidate_password};
use super::password_policy;
use super::throttle::address_key;
use super::tokens::{AccessClaims, AuthMethod, new_refresh_token};
use super::{ClientInfo, Services};
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::store::one_time_tokens::Kind;
use crate::store::sessions::{NewSession, RefreshRow, Rotation, SessionRow};
use crate::store::users::{NewUser, UserRow};
use crate::store::{StoreError, sessions, users};

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
}

/// A new account, and its tokens unless the tenant asks for a verified address first.
pub struct SignedUp {
    /// The account.
    pub user: UserRow,
    /// `None` while the address must be confirmed before any session.
    pub tokens: Option<AuthTokens>,
}

/// An authenticated caller, from a verified access token whose session is live.
pub struct Principal {
    /// The verified claims.
    pub claims: AccessClaims,
    /// The user as stored now.
    pub user: UserRow,
}

/// Longest refresh token we look up; real ones are 43 characters.
const MAX_OPAQUE_TOKEN_LEN: usize = 512;
/// Longest login identifier: an email address.
const MAX_IDENTIFIER_LEN: usize = 254;

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Validated fields of an account to create.
pub struct NewAccount {
    /// Address.
    pub email: Email,
    /// Username.
    pub username: Username,
    /// Password meeting the tenant's policy.
    pub password: NewPassword,
}

impl NewAccount {
    /// Validates the three fields in the order a form shows them; `password_field` names the
    /// password input in errors.
    pub fn parse(
        s: &Services,
        tenant: &Tenant,
        email: &str,
        username: &str,
        password: &str,
        password_field: &'static str,
    ) -> Result<Self, ServiceError> {
        let email = Email::parse("email", email)?;
        let username = Username::parse("username", username)?;
        let password = NewPassword::parse(
            password_field,
            password,
            s.settings(tenant).password_min_length,
        )?;
        password_policy::check(password_field, &password, username.as_str(), email.as_str())?;
        Ok(Self {
            email,
            username,
            password,
        })
    }
}

impl Services {
    /// Hashes the password and inserts the user; an unverified address gets its verification
    /// mail queued in the same transaction, so an account never lacks its mail.
    pub(crate) async fn create_account(
        &self,
        tenant: &Tenant,
        a: NewAccount,
        roles: Vec<String>,
        email_verified: bool,
    ) -> Result<UserRow, ServiceError> {
        // Fail fast before spending a hash; the unique indexes remain the real guard.
        if users::find_by_login(tenant.db(), true, a.email.normalized())
            .await?
            .is_some()
        {
            return Err(ServiceError::EmailTaken);
        }
        if users::find_by_login(tenant.db(), false, &a.username.normalized())
            .await?
            .is_some()
        {
            return Err(ServiceError::UsernameTaken);
        }
        let hash = self
            .hasher
            .hash(tenant.slug().as_str(), a.password.secret().clone())
            .await?;
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let row = NewUser {
            email: a.email.as_str().to_string(),
            email_norm: a.email.normalized().to_string(),
            username: a.username.as_str().to_string(),
            username_norm: a.username.normalized(),
            password_hash: hash,
            roles,
            email_verified,
            created_at: now,
            updated_at: now,
        };
        let verification = (!email_verified).then(|| {
            let draft = UserRow {
                id: id.clone(),
                email: row.email.clone(),
                username: row.username.clone(),
                password_hash: String::new(),
                email_verified: false,
                roles: Vec::new(),
                disabled: false,
                created_at: now,
                last_login_at: None,
            };
            self.token_mail(tenant, &draft, Kind::Verify)
        });
        let mail_id = verification.as_ref().map(|(_, m)| m.id.clone());
        let user = tenant.create_user(id, row, verification).await?;
        if let Some(id) = mail_id {
            self.mailer.notify(tenant.slug(), &id);
        }
        Ok(user)
    }

    /// Creates an account and signs it in. When the tenant requires a verified address, the
    /// account is created and its verification mail sent, but no session starts: the answer
    /// is `ACCOUNT_NOT_VERIFIED` naming the new account ([`Services::sign_up`] answers the
    /// same case without an error).
    pub async fn register(
        &self,
        tenant: &Tenant,
        email: &str,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let signed_up = self
            .sign_up(tenant, email, username, password, client)
            .await?;
        signed_up
            .tokens
            .ok_or(ServiceError::AccountCreatedUnverified {
                user_id: signed_up.user.id,
            })
    }

    /// Creates an account; signs it in unless the tenant requires a verified address first.
    pub async fn sign_up(
        &self,
        tenant: &Tenant,
        email: &str,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<SignedUp, ServiceError> {
        let user = self
            .register_account(tenant, email, username, password, client)
            .await?;
        if self.settings(tenant).require_verified_email && !user.email_verified {
            return Ok(SignedUp { user, tokens: None });
        }
        // Under a tenant that requires a second factor, the new account enrols one first.
        self.second_step_due(tenant, &user).await?;
        let tokens = self
            .start_session(tenant, user, client, AuthMethod::Password)
            .await?;
        Ok(SignedUp {
            user: tokens.user.clone(),
            tokens: Some(tokens),
        })
    }

    /// Creates an account without signing it in: the seed's REST `register` answers with the
    /// user only, and a session nobody holds a token for would just be clutter.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug()))]
    pub async fn register_account(
        &self,
        tenant: &Tenant,
        email: &str,
        username: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        if let Some(ip) = &client.ip {
            self.limits
                .register
                .hit(&address_key(tenant.slug().as_str(), ip), self.clock.now())?;
        }
        let account = NewAccount::parse(self, tenant, email, username, password, "password")?;
        let user = self
            .create_account(tenant, account, Vec::new(), false)
            .await?;
        self.audit(tenant, "register", AuditInfo::own(&user.id, client))
            .await;
        Ok(user)
    }

    /// Signs in with email or username and password. Unknown users and wrong passwords get the
    /// same error after the same work; a disabled account is only revealed after a correct
    /// password.
    #[tracing::instrument(skip_all, fields(tenant = %tenant.slug()))]
    pub async fn login(
        &self,
        tenant: &Tenant,
        identifier: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let user = self
            .check_login(tenant, identifier, password, client)
            .await?;
        self.start_session(tenant, user, client, AuthMethod::Password)
            .await
    }

    /// Everything [`Services::login`] checks, without starting an API session: the hosted
    /// sign-in page starts a browser session instead. Ends in `MFA_REQUIRED` (or
    /// `MFA_ENROLLMENT_REQUIRED`) when a second step is due.
    pub async fn check_login(
        &self,
        tenant: &Tenant,
        identifier: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<UserRow, ServiceError> {
        let identifier = identifier.trim();
        if identifier.is_empty() {
            return Err(ServiceError::bad_input("identifier", "is required"));
        }
        if password.is_empty() {
            return Err(ServiceError::bad_input("password", "is required"));
        }
        if let Some(ip) = &client.ip {
            self.limits
                .login
                .hit(&address_key(tenant.slug().as_str(), ip), self.clock.now())?;
        }
        let normalized = if identifier.contains('@') {
            identifier.to_lowercase()
        } else {
            identifier.to_ascii_lowercase()
        };
        let user =
            if identifier.len() > MAX_IDENTIFIER_LEN || identifier.chars().any(char::is_control) {
                None
            } else {
                users::find_by_login(tenant.db(), identifier.contains('@'), &normalized).await?
            };
        let account = match &user {
            Some(u) => Account::User(&u.id),
            None => Account::Unknown(&normalized),
        };
        let verify = self.hasher.verify(
            tenant.slug().as_str(),
            candidate_password(password),
            user.as_ref().map(|u| u.password_hash.clone()),
        );
        // With a second step to come, a right password does not complete the authentication.
        let completes = match &user {
            Some(u) => !self.second_step_possible(tenant, &u.id).await?,
            None => true,
        };
        let ok = self
            .guarded_verify(tenant, account, client, verify, completes)
            .await?;
        let user = match user {
            Some(u) if ok => u,
            _ => {
                let subject = user.as_ref().map(|u| u.id.as_str());
                self.audit(
                    tenant,
                    "login_failure",
                    AuditInfo {
                        subject,
                        client: Some(client),
                        ..Default::default()
                    },
                )
                .await;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        if user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        let require_verified = self.settings(tenant).require_verified_email;
        if require_verified && !user.email_verified {
            return Err(ServiceError::AccountNotVerified);
        }
        // A factor enrolled (or required by the tenant): the password was the first step.
        if !completes {
            self.second_step_due(tenant, &user).await?;
        }
        self.audit(tenant, "login_success", AuditInfo::own(&user.id, client))
            .await;
        Ok(user)
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

    /// [`Services::refresh`] for a session of the OAuth client `oauth_client` (the token
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
        let method = AuthMethod::from_amr(session.amr.as_deref().unwrap_or_default());
        let scope = session.scope.clone().unwrap_or_default();
        let oauth = session.client_id.as_deref().map(|c| (c, scope.as_slice()));
        let (access_token, expires_in) =
            self.issue_access(tenant, &user, &sid, method, oauth, now)?;
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
        self.audit(
            tenant,
            "refresh_token_reuse",
            AuditInfo {
                subject: Some(&token.user),
                client: Some(client),
                detail: Some(format!("session {sid} revoked")),
                ..Default::default()
            },
        )
        .await;
        tenant
            .revoke_session(sid.to_string(), "refresh_token_reuse", now)
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
            Some(s) if s.revoked_at.is_none() && s.expires_at > now && s.user == claims.sub => {}
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

    /// Changes the caller's password after checking the current one; the user's other sessions
    /// are revoked (a stolen session must not outlive the change), the caller's is kept.
    pub async fn change_password(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<bool, ServiceError> {
        let p = self.authenticate(tenant, bearer).await?;
        let new = NewPassword::parse(
            "newPassword",
            new,
            self.settings(tenant).password_min_length,
        )?;
        password_policy::check("newPassword", &new, &p.user.username, &p.user.email)?;
        if current.is_empty() {
            return Err(ServiceError::bad_input("currentPassword", "is required"));
        }
        if !self
            .hasher
            .verify(
                tenant.slug().as_str(),
                candidate_password(current),
                Some(p.user.password_hash.clone()),
            )
            .await?
        {
            return Err(ServiceError::InvalidCredentials);
        }
        let hash = self
            .hasher
            .hash(tenant.slug().as_str(), new.secret().clone())
            .await?;
        let revoked = tenant
            .set_password(
                p.user.id.clone(),
                hash,
                Some(p.claims.sid.clone()),
                self.clock.now(),
            )
            .await?;
        let info = AuditInfo {
            actor: Some(&p.user.id),
            subject: Some(&p.user.id),
            client: Some(client),
            detail: Some(format!("{revoked} other sessions revoked")),
        };
        self.audit(tenant, "password_changed", info).await;
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
        self.start_session_for(tenant, user, client, method, None)
            .await
            .map(|(t, _)| t)
    }

    /// Starts a session; with `grant`, one for an OAuth client (the token endpoint's): its
    /// tokens carry the client and scope, and it is bound to the browser session it came from.
    /// Returns the tokens and the session id.
    pub(crate) async fn start_session_for(
        &self,
        tenant: &Tenant,
        user: UserRow,
        client: &ClientInfo,
        method: AuthMethod,
        grant: Option<&OAuthGrant>,
    ) -> Result<(AuthTokens, String), ServiceError> {
        let now = self.clock.now();
        let sid = uuid::Uuid::now_v7().to_string();
        let refresh_token = new_refresh_token();
        let expires_at = now + chrono(self.config.session_max_lifetime);
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
                now,
            })
            .await?;
        let (access_token, expires_in) = self.issue_access(
            tenant,
            &user,
            &sid,
            method,
            grant.map(|g| (g.client_id.as_str(), g.scope.as_slice())),
            now,
        )?;
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

    fn issue_access(
        &self,
        tenant: &Tenant,
        user: &UserRow,
        sid: &str,
        method: AuthMethod,
        oauth: Option<(&str, &[String])>,
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
        };
        Ok((tenant.keys().sign(&claims, now)?, ttl))
    }
}
