//! The single-use tokens of multi-factor sign-in (the `mfaToken` of a second step, the
//! enrolment-only token, a passkey ceremony's id): issued, looked up while live, spent; and
//! the user an enrolment acts for.

use super::service::MfaService;
use super::store::{self as mfa_store, ChallengeRow};
use crate::actors::Tenant;
use crate::domain::secrets::random_token;
use crate::error::ServiceError;
use crate::store::users::UserRow;

pub(super) fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

impl MfaService {
    /// Issues a challenge token of `kind` and stores its hash.
    pub(super) async fn challenge(
        &self,
        tenant: &Tenant,
        kind: &str,
        user: Option<&str>,
        state: Option<String>,
        ttl: chrono::Duration,
        idp: Option<&str>,
    ) -> Result<String, ServiceError> {
        let token = random_token(32);
        let now = self.clock.now();
        let row = ChallengeRow {
            kind: kind.to_string(),
            user: user.map(str::to_string),
            state,
            failures: 0,
            expires_at: now + ttl,
            used_at: None,
            idp: idp.map(str::to_string),
        };
        mfa_store::put_challenge(tenant.db(), &self.secrets.hash_token(&token), &row, now).await?;
        Ok(token)
    }

    pub(super) async fn live_challenge(
        &self,
        tenant: &Tenant,
        token: &str,
        kinds: &[&str],
    ) -> Result<(String, ChallengeRow), ServiceError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(ServiceError::InvalidToken);
        }
        let hash = self.secrets.hash_token(token);
        let row = mfa_store::live_challenge(tenant.db(), &hash, kinds, self.clock.now())
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        Ok((hash, row))
    }

    pub(super) async fn spend(&self, tenant: &Tenant, hash: &str) -> Result<(), ServiceError> {
        if mfa_store::spend_challenge(tenant.db(), hash, self.clock.now()).await? {
            Ok(())
        } else {
            Err(ServiceError::InvalidToken)
        }
    }

    /// The user an enrolment acts for: the Bearer token's, or an enrolment-only token's.
    pub(super) async fn enroller(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        mfa_token: Option<&str>,
    ) -> Result<(UserRow, Option<String>), ServiceError> {
        match mfa_token {
            Some(token) => {
                let (hash, row) = self.live_challenge(tenant, token, &["enroll"]).await?;
                let id = row.user.ok_or(ServiceError::InvalidToken)?;
                let user = tenant.user(&id).await?.ok_or(ServiceError::InvalidToken)?;
                if user.disabled {
                    return Err(ServiceError::InvalidToken);
                }
                Ok((user, Some(hash)))
            }
            None => Ok((self.sessions.authenticate(tenant, bearer).await?.user, None)),
        }
    }
}
