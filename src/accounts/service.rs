//! Accounts: register (with the verification mail queued in the same write), password
//! sign-in (`check_login`, then a session from `sessions`), and password change.
//!
//! User creation goes through the tenant actor (`Tenant::create_user`), whose unique indexes
//! are what the database decides between nodes; the checks before it only spare a hash.

use std::sync::Arc;

use super::recovery::RecoveryService;
use crate::actors::Tenant;
use crate::domain::claims::AuthMethod;
use crate::domain::password_policy;
use crate::domain::{Email, LoginIdentifier, NewPassword, Username, candidate_password};
use crate::error::ServiceError;
use crate::infra::audit::AuditInfo;
use crate::infra::{ClientInfo, Infra};
use crate::mfa::service::MfaService;
use crate::sessions::bruteforce::{Account, LoginGate};
use crate::sessions::service::{AuthTokens, SessionService};
use crate::store::one_time_tokens::Kind;
use crate::store::users::{self, NewUser, UserRow};

/// A new account, and its tokens unless the tenant asks for a verified address first.
pub struct SignedUp {
    /// The account.
    pub user: UserRow,
    /// `None` while the address must be confirmed before any session.
    pub tokens: Option<AuthTokens>,
}

impl SignedUp {
    /// The tokens, as `register` answers a sign-up: without them (the tenant requires a
    /// verified address) `ACCOUNT_NOT_VERIFIED` naming the new account, where `signUp` answers
    /// the same case without an error.
    pub fn into_tokens(self) -> Result<AuthTokens, ServiceError> {
        self.tokens.ok_or(ServiceError::AccountCreatedUnverified {
            user_id: self.user.id,
        })
    }
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
        s: &Infra,
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

/// Accounts: register, password sign-in, password change.
#[derive(Clone)]
pub struct AccountService {
    infra: Arc<Infra>,
    sessions: SessionService,
    mfa: MfaService,
    gate: LoginGate,
    recovery: RecoveryService,
}

crate::infra::built_on!(AccountService);

impl AccountService {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(
        infra: Arc<Infra>,
        sessions: SessionService,
        mfa: MfaService,
        gate: LoginGate,
        recovery: RecoveryService,
    ) -> Self {
        Self {
            infra,
            sessions,
            mfa,
            gate,
            recovery,
        }
    }

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
        self.insert_account(tenant, &a.email, &a.username, hash, roles, email_verified)
            .await
    }

    /// An account made by a federated sign-in: no password (it signs in through its linked
    /// identity, or sets one through a reset mail); an address the upstream did not vouch for
    /// gets the verification mail like any other.
    pub(crate) async fn create_passwordless_account(
        &self,
        tenant: &Tenant,
        email: &Email,
        username: &Username,
        email_verified: bool,
    ) -> Result<UserRow, ServiceError> {
        if users::find_by_login(tenant.db(), true, email.normalized())
            .await?
            .is_some()
        {
            return Err(ServiceError::EmailTaken);
        }
        let none = crate::infra::passwords::NO_PASSWORD.to_string();
        self.insert_account(tenant, email, username, none, Vec::new(), email_verified)
            .await
    }

    /// [`AccountService::create_passwordless_account`] with a username made from `hint` (or
    /// the address's local part): its safe characters, with a random suffix while it is taken.
    /// For accounts that someone else names: an upstream identity, a SCIM directory.
    pub(crate) async fn create_passwordless_from_hint(
        &self,
        tenant: &Tenant,
        email: &Email,
        hint: Option<&str>,
        email_verified: bool,
    ) -> Result<UserRow, ServiceError> {
        let hint = hint.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or("user"));
        let mut base: String = hint
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
            .take(24)
            .collect();
        while base.len() < 3 {
            base.push('_');
        }
        for attempt in 0..5 {
            let candidate = if attempt == 0 {
                base.clone()
            } else {
                let suffix = crate::domain::secrets::random_token(4);
                format!("{base}-{}", &suffix[..5].to_ascii_lowercase())
            };
            let Ok(username) = Username::parse("username", &candidate) else {
                continue;
            };
            match self
                .create_passwordless_account(tenant, email, &username, email_verified)
                .await
            {
                Err(ServiceError::UsernameTaken) => continue,
                other => return other,
            }
        }
        Err(ServiceError::UsernameTaken)
    }

    /// Inserts the user with `hash` (and its verification mail, when the address is not
    /// verified) through the tenant actor.
    async fn insert_account(
        &self,
        tenant: &Tenant,
        email: &Email,
        username: &Username,
        hash: String,
        roles: Vec<String>,
        email_verified: bool,
    ) -> Result<UserRow, ServiceError> {
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let row = NewUser {
            email: email.as_str().to_string(),
            email_norm: email.normalized().to_string(),
            username: username.as_str().to_string(),
            username_norm: username.normalized(),
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
            self.recovery.token_mail(tenant, &draft, Kind::Verify)
        });
        let mail_id = verification.as_ref().map(|(_, m)| m.id.clone());
        let user = tenant.create_user(id, row, verification).await?;
        if let Some(id) = mail_id {
            self.mailer.notify(tenant.slug(), &id);
        }
        Ok(user)
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
        self.mfa.second_step_due(tenant, &user).await?;
        let tokens = self
            .sessions
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
        self.throttle(&self.limits.register, tenant, client)?;
        let account = NewAccount::parse(self, tenant, email, username, password, "password")?;
        // A password account of an address whose organization signs in through its own
        // provider would be a way around the policy: such people sign up through it.
        self.sessions
            .refuse_password_under_policy(tenant, email)
            .await?;
        let user = self
            .create_account(tenant, account, Vec::new(), false)
            .await?;
        self.audit_own(tenant, "register", &user.id, client).await;
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
        organization: Option<&str>,
        client: &ClientInfo,
    ) -> Result<AuthTokens, ServiceError> {
        let user = self
            .check_login(tenant, identifier, password, client)
            .await?;
        // The membership is checked after the password: who belongs to which organization
        // is not told to someone who cannot sign in as them.
        match organization {
            Some(org) => {
                self.sessions
                    .start_org_session(tenant, user, client, AuthMethod::Password, org)
                    .await
            }
            None => {
                self.sessions
                    .start_session(tenant, user, client, AuthMethod::Password)
                    .await
            }
        }
    }

    /// Everything [`Infra::login`] checks, without starting an API session: the hosted
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
        let login = LoginIdentifier::parse(identifier);
        // An address of a domain whose organization signs in through its own provider is
        // sent there before any password: the policy is the domain's, so saying so tells
        // nothing about whether the account exists.
        if login.is_email() && login.searchable() {
            self.sessions
                .refuse_password_under_policy(tenant, login.normalized())
                .await?;
        }
        if password.is_empty() {
            return Err(ServiceError::bad_input("password", "is required"));
        }
        self.throttle(&self.limits.login, tenant, client)?;
        let user = if login.searchable() {
            users::find_by_login(tenant.db(), login.is_email(), login.normalized()).await?
        } else {
            None
        };
        let account = match &user {
            Some(u) => Account::User(&u.id),
            None => Account::Unknown(login.normalized()),
        };
        let verify = self.hasher.verify(
            tenant.slug().as_str(),
            candidate_password(password),
            user.as_ref().map(|u| u.password_hash.clone()),
        );
        // With a second step to come, a right password does not complete the authentication.
        let completes = match &user {
            Some(u) => !self.mfa.second_step_possible(tenant, &u.id).await?,
            None => true,
        };
        let ok = self
            .gate
            .guarded_verify(tenant, account, client, verify, completes)
            .await?;
        let user = match user {
            Some(u) if ok => u,
            _ => {
                let subject = user.as_ref().map(|u| u.id.as_str());
                let info = AuditInfo::about(subject, client);
                self.audit(tenant, "login_failure", info).await;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        // Signed in by username: the policy of the account's address, told only after the
        // right password (a username's organization is not told to anyone else).
        if !login.is_email() {
            self.sessions
                .refuse_password_under_policy(tenant, &user.email)
                .await?;
        }
        if user.disabled {
            return Err(ServiceError::AccountDisabled);
        }
        let require_verified = self.settings(tenant).require_verified_email;
        if require_verified && !user.email_verified {
            return Err(ServiceError::AccountNotVerified);
        }
        // A factor enrolled (or required by the tenant): the password was the first step.
        if !completes {
            self.mfa.second_step_due(tenant, &user).await?;
        }
        self.audit_own(tenant, "login_success", &user.id, client)
            .await;
        Ok(user)
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
        let p = self.sessions.authenticate(tenant, bearer).await?;
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
        let detail = format!("{revoked} other sessions revoked");
        let info = AuditInfo::own(&p.user.id, client).with_detail(detail);
        self.audit(tenant, "password_changed", info).await;
        Ok(true)
    }
}
