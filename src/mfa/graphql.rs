//! The GraphQL operations of multi-factor sign-in (names fixed by API.md "Multi-factor
//! sign-in"): thin resolvers over [`super::service`].

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use serde_json::Value;

use super::policy::Factor;
use super::service::MfaStatus as Status;
use super::store::PasskeyRow;
use super::totp_factor::TotpEnrollment as Enrollment;
use crate::edge::gql::{gql_err, parts};
use crate::edge::scalars::DateTime;
use crate::edge::types::{AuthPayload, User};
use crate::mfa::service::MfaService;

/// A new authenticator-app enrolment (shown once).
#[derive(SimpleObject)]
pub struct TotpEnrollment {
    /// The secret, base32 (for typing into the app).
    pub secret: String,
    /// `otpauth://` URI (what the QR code holds).
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_code_svg: String,
}

impl From<Enrollment> for TotpEnrollment {
    fn from(e: Enrollment) -> Self {
        Self {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_code_svg: e.qr_code_svg,
        }
    }
}

/// Single-use recovery codes, shown once; only their hashes are kept.
#[derive(SimpleObject)]
pub struct RecoveryCodes {
    /// The codes.
    pub codes: Vec<String>,
}

/// The codes as the service hands them out (enrolment and regeneration answer alike).
impl From<Vec<String>> for RecoveryCodes {
    fn from(codes: Vec<String>) -> Self {
        Self { codes }
    }
}

/// A WebAuthn ceremony started: the browser's options, and the id to finish it with.
#[derive(SimpleObject)]
pub struct PasskeyChallenge {
    /// Pass back to the matching `finish...` mutation (single use, 5 minutes).
    pub challenge_id: ID,
    /// `{publicKey: ...}` for `navigator.credentials.create` / `get` (e.g. through
    /// `PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)`).
    pub options: Json<Value>,
}

/// A ceremony as the service starts it: its id and the browser's options.
impl From<(String, Value)> for PasskeyChallenge {
    fn from((id, options): (String, Value)) -> Self {
        Self {
            challenge_id: ID(id),
            options: Json(options),
        }
    }
}

/// A registered passkey.
#[derive(SimpleObject)]
pub struct Passkey {
    /// Id (for `removePasskey`).
    pub id: ID,
    /// The name its owner gave it.
    pub name: String,
    /// Registration time.
    pub created_at: DateTime,
    /// Last sign-in with it.
    pub last_used_at: Option<DateTime>,
    /// Whether the authenticator may sync it to other devices.
    pub backup_eligible: bool,
    /// Whether it is synced now.
    pub backed_up: bool,
}

impl From<PasskeyRow> for Passkey {
    fn from(p: PasskeyRow) -> Self {
        Self {
            id: ID(p.id),
            name: p.name,
            created_at: p.created_at.into(),
            last_used_at: p.last_used_at.map(Into::into),
            backup_eligible: p.backup_eligible,
            backed_up: p.backup_state,
        }
    }
}

/// A user's second factors.
#[derive(SimpleObject)]
pub struct MfaStatus {
    /// An authenticator app is enrolled.
    pub totp: bool,
    /// Passkeys.
    pub passkeys: Vec<Passkey>,
    /// Unused recovery codes.
    pub recovery_codes_left: i32,
    /// Whether passkeys can be used here: false while the tenant's relying party cannot serve
    /// its origin (an IP address as `PUBLIC_URL`'s host: WebAuthn needs a domain name).
    pub passkeys_available: bool,
}

impl From<Status> for MfaStatus {
    fn from(s: Status) -> Self {
        Self {
            totp: s.totp,
            passkeys: s.passkeys.into_iter().map(Passkey::from).collect(),
            recovery_codes_left: s.recovery_codes_left as i32,
            passkeys_available: s.passkeys_available,
        }
    }
}

/// `User.mfa`, resolved in the tenant of the request (for the user themself or an admin).
pub async fn user_mfa(ctx: &Context<'_>, user_id: &str) -> Result<MfaStatus> {
    let (s, req) = parts::<MfaService>(ctx);
    Ok(s.mfa_status(&req.tenant, user_id)
        .await
        .map_err(gql_err(req))?
        .into())
}

/// Multi-factor mutations.
#[derive(Default)]
pub struct MfaMutation;

#[Object]
impl MfaMutation {
    /// Starts enrolling an authenticator app (Bearer, or the enrolment-only `mfaToken` of
    /// `MFA_ENROLLMENT_REQUIRED`). It becomes a factor once `confirmTotpEnrollment` checks a
    /// code made with it.
    async fn start_totp_enrollment(
        &self,
        ctx: &Context<'_>,
        mfa_token: Option<String>,
    ) -> Result<TotpEnrollment> {
        let (s, req) = parts::<MfaService>(ctx);
        let e = s.start_totp_enrollment(&req.tenant, req.bearer.as_deref(), mfa_token.as_deref());
        Ok(e.await.map_err(gql_err(req))?.into())
    }

    /// Confirms the enrolment with the app's current code; returns 10 recovery codes, shown
    /// this once.
    async fn confirm_totp_enrollment(
        &self,
        ctx: &Context<'_>,
        code: String,
        mfa_token: Option<String>,
    ) -> Result<RecoveryCodes> {
        let (s, req) = parts::<MfaService>(ctx);
        let codes = s.confirm_totp_enrollment(
            &req.tenant,
            req.bearer.as_deref(),
            mfa_token.as_deref(),
            &code,
            &req.client,
        );
        Ok(codes.await.map_err(gql_err(req))?.into())
    }

    /// Removes the caller's authenticator app (current password required).
    async fn disable_totp(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        let (s, req) = parts::<MfaService>(ctx);
        s.disable_totp(&req.tenant, req.bearer.as_deref(), &password, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// New recovery codes (current password required); the previous ones stop working.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> Result<RecoveryCodes> {
        let (s, req) = parts::<MfaService>(ctx);
        let codes =
            s.regenerate_recovery_codes(&req.tenant, req.bearer.as_deref(), &password, &req.client);
        Ok(codes.await.map_err(gql_err(req))?.into())
    }

    /// Starts registering a passkey (Bearer, or an enrolment-only `mfaToken`).
    async fn start_passkey_registration(
        &self,
        ctx: &Context<'_>,
        mfa_token: Option<String>,
    ) -> Result<PasskeyChallenge> {
        let (s, req) = parts::<MfaService>(ctx);
        let c =
            s.start_passkey_registration(&req.tenant, req.bearer.as_deref(), mfa_token.as_deref());
        Ok(c.await.map_err(gql_err(req))?.into())
    }

    /// Finishes registering a passkey with the browser's credential (`credential.toJSON()`).
    async fn finish_passkey_registration(
        &self,
        ctx: &Context<'_>,
        challenge_id: ID,
        credential: Json<Value>,
        name: Option<String>,
    ) -> Result<Passkey> {
        let (s, req) = parts::<MfaService>(ctx);
        let p = s.finish_passkey_registration(
            &req.tenant,
            &challenge_id,
            &credential.0,
            name.as_deref(),
            &req.client,
        );
        Ok(p.await.map_err(gql_err(req))?.into())
    }

    /// Removes one of the caller's passkeys.
    async fn remove_passkey(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let (s, req) = parts::<MfaService>(ctx);
        s.remove_passkey(&req.tenant, req.bearer.as_deref(), &id, &req.client)
            .await
            .map_err(gql_err(req))
    }

    /// Starts a passkey sign-in; without `identifier`, any discoverable passkey of the tenant
    /// can answer (sign-in without typing a name).
    async fn start_passkey_login(
        &self,
        ctx: &Context<'_>,
        identifier: Option<String>,
    ) -> Result<PasskeyChallenge> {
        let (s, req) = parts::<MfaService>(ctx);
        let c = s.start_passkey_login(&req.tenant, identifier.as_deref());
        Ok(c.await.map_err(gql_err(req))?.into())
    }

    /// Finishes a passkey sign-in with the browser's assertion; no second step follows.
    async fn finish_passkey_login(
        &self,
        ctx: &Context<'_>,
        challenge_id: ID,
        credential: Json<Value>,
    ) -> Result<AuthPayload> {
        let (s, req) = parts::<MfaService>(ctx);
        let t = s.finish_passkey_login(&req.tenant, &challenge_id, &credential.0, &req.client);
        Ok(t.await.map_err(gql_err(req))?.into())
    }

    /// The second step after `MFA_REQUIRED`: exactly one of `totp`, `recoveryCode` or
    /// `passkey` (the assertion for `extensions.passkeyOptions`).
    async fn verify_mfa(
        &self,
        ctx: &Context<'_>,
        mfa_token: String,
        totp: Option<String>,
        recovery_code: Option<String>,
        passkey: Option<Json<Value>>,
    ) -> Result<AuthPayload> {
        let (s, req) = parts::<MfaService>(ctx);
        let factor = match (&totp, &recovery_code, &passkey) {
            (Some(c), None, None) => Factor::Totp(c),
            (None, Some(c), None) => Factor::RecoveryCode(c),
            (None, None, Some(p)) => Factor::Passkey(&p.0),
            _ => {
                return Err(gql_err(req)(crate::error::ServiceError::bad_input(
                    "totp",
                    "give exactly one of totp, recoveryCode and passkey",
                )));
            }
        };
        let t = s.verify_mfa(&req.tenant, &mfa_token, factor, &req.client);
        Ok(t.await.map_err(gql_err(req))?.into())
    }

    /// Tenant admin: removes every factor of a user and ends their sessions.
    async fn reset_user_mfa(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let (s, req) = parts::<MfaService>(ctx);
        let u = s.reset_user_mfa(&req.tenant, req.bearer.as_deref(), &id, &req.client);
        Ok(u.await.map_err(gql_err(req))?.into())
    }
}
