//! Recovery codes: made, hashed (bound to the tenant and the user; only hashes are kept) and
//! regenerated. A second step spends one in `policy`.

use super::service::MfaService;
use super::store as mfa_store;
use crate::actors::Tenant;
use crate::error::ServiceError;
use crate::infra::ClientInfo;
use crate::infra::mail::Template;

/// Recovery codes handed out at once.
pub const RECOVERY_CODES: usize = 10;

/// A recovery code: 10 characters of an unambiguous alphabet in two groups, ~50 bits.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = crate::domain::secrets::random_bytes(10);
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A recovery code as typed: case, spaces and the dash do not matter.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What a recovery code's hash is taken of: bound to the tenant and the user.
fn recovery_material(tenant: &Tenant, user: &str, code: &str) -> String {
    format!("recovery/{}/{user}/{}", tenant.slug(), normalize_code(code))
}

impl MfaService {
    fn recovery_hash(&self, tenant: &Tenant, user: &str, code: &str) -> String {
        self.secrets
            .hash_token(&recovery_material(tenant, user, code))
    }

    /// What a presented recovery code may be stored as: its hash under the current key, or
    /// under a retired one for codes issued before `keys rekey`.
    pub(super) fn recovery_hashes(&self, tenant: &Tenant, user: &str, code: &str) -> Vec<String> {
        self.secrets
            .hash_candidates(&recovery_material(tenant, user, code))
    }

    /// Fresh recovery codes and their stored hashes.
    pub(super) fn recovery_codes(&self, tenant: &Tenant, user: &str) -> (Vec<String>, Vec<String>) {
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes = codes
            .iter()
            .map(|c| self.recovery_hash(tenant, user, c))
            .collect();
        (codes, hashes)
    }

    /// New recovery codes for the caller (current password required); the old ones stop
    /// working.
    pub async fn regenerate_recovery_codes(
        &self,
        tenant: &Tenant,
        bearer: Option<&str>,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, ServiceError> {
        let user = self
            .caller_with_password(tenant, bearer, password, client)
            .await?;
        if !self.mfa_status(tenant, &user.id).await?.any() {
            return Err(ServiceError::bad_input(
                "password",
                "recovery codes need a second factor: enrol one first",
            ));
        }
        let (codes, hashes) = self.recovery_codes(tenant, &user.id);
        let added = Template::FactorAdded("A new set of recovery codes");
        let (notice, notice_id) = self.notice(tenant, &user, added);
        mfa_store::replace_recovery_codes(tenant.db(), &user.id, &hashes, notice, self.clock.now())
            .await?;
        self.mailer.notify(tenant.slug(), &notice_id);
        self.audit_own(tenant, "recovery_codes_regenerated", &user.id, client)
            .await;
        Ok(codes)
    }
}
