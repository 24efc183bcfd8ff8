//! Passkeys through webauthn-rs: the relying party of a tenant, and the four ceremony steps
//! with the browser's JSON in and out. Nothing about CBOR, COSE or attestation is ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::error::ServiceError;

/// A tenant's relying party: its id (a domain) and the one origin its pages are served from.
pub struct RelyingParty {
    webauthn: Webauthn,
}

/// What a sign-in ceremony left to check the answer against.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
pub enum LoginState {
    /// The user is known (second step, or a sign-in that named the account).
    Known(PasskeyAuthentication),
    /// Any passkey of the tenant may answer (discoverable credentials).
    Discoverable(DiscoverableAuthentication),
}

/// A checked sign-in: which credential, and what to record.
pub struct Verified {
    /// Credential id, base64url.
    pub cred_id: String,
    /// The credential with its new counter, serialized, if it changed.
    pub updated: Option<String>,
    /// The authenticator's signature counter.
    pub counter: u32,
    /// Whether it is backed up (synced) now.
    pub backup_state: bool,
}

fn refused(why: impl std::fmt::Display) -> ServiceError {
    tracing::info!(reason = %why, "passkey refused");
    ServiceError::InvalidCredentials
}

/// The credential id of a passkey as stored (base64url without padding).
pub fn cred_id_text(id: &CredentialID) -> String {
    crate::domain::secrets::b64url(id.as_ref())
}

impl RelyingParty {
    /// A relying party for `rp_id` accepting exactly `origin` (scheme, host and port).
    pub fn new(rp_id: &str, origin: &str, name: &str) -> Result<Self, ServiceError> {
        // A relying party that cannot serve the origin is a deployment's choice, not a bug:
        // WebAuthn takes a domain name as relying party id, so with an IP address as
        // PUBLIC_URL's host (common inside a private network) passkeys are unavailable until
        // the tenant sets `passkeyRpId`/`passkeyOrigin`. Everything else works meanwhile.
        let unavailable = || {
            ServiceError::bad_input(
                "passkey",
                &format!(
                    "passkeys are unavailable: the relying party id {rp_id} cannot serve the \
                     origin {origin} (WebAuthn needs a domain name, not an IP address)"
                ),
            )
        };
        let url = Url::parse(origin).map_err(|_| unavailable())?;
        let webauthn = WebauthnBuilder::new(rp_id, &url)
            .and_then(|b| b.rp_name(name).build())
            .map_err(|_| unavailable())?;
        Ok(Self { webauthn })
    }

    /// Options for `navigator.credentials.create` (the browser's JSON, `{publicKey: ...}`) and
    /// the state to keep. The credential is made discoverable (a resident key), so the user
    /// can later sign in without typing a name.
    pub fn start_registration(
        &self,
        user_handle: Uuid,
        name: &str,
        display_name: &str,
        existing: Vec<CredentialID>,
    ) -> Result<(Value, String), ServiceError> {
        let exclude = (!existing.is_empty()).then_some(existing);
        let (options, state) = self
            .webauthn
            .start_passkey_registration(user_handle, name, display_name, exclude)
            .map_err(|e| ServiceError::Internal(format!("passkey registration: {e}")))?;
        let mut options = serde_json::to_value(options).map_err(internal)?;
        // webauthn-rs asks for a non-resident key; a passkey that signs in without a name
        // must be resident. `finish` does not depend on this field.
        if let Some(sel) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            sel.insert("residentKey".into(), "required".into());
            sel.insert("requireResidentKey".into(), true.into());
        }
        Ok((options, serde_json::to_string(&state).map_err(internal)?))
    }

    /// Checks the browser's answer to a registration; the new passkey.
    pub fn finish_registration(
        &self,
        credential: &Value,
        state: &str,
    ) -> Result<Passkey, ServiceError> {
        let state: PasskeyRegistration = serde_json::from_str(state).map_err(internal)?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(credential.clone())
            .map_err(|e| {
                ServiceError::bad_input(
                    "credential",
                    &format!("is not a WebAuthn registration: {e}"),
                )
            })?;
        self.webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| ServiceError::bad_input("credential", &format!("was refused: {e}")))
    }

    /// Options for `navigator.credentials.get` offering `passkeys` (a known user), or any
    /// discoverable credential when there are none to name.
    pub fn start_login(&self, passkeys: &[Passkey]) -> Result<(Value, String), ServiceError> {
        let (options, state) = if passkeys.is_empty() {
            let (o, s) = self
                .webauthn
                .start_discoverable_authentication()
                .map_err(|e| ServiceError::Internal(format!("passkey sign-in: {e}")))?;
            (o, LoginState::Discoverable(s))
        } else {
            let (o, s) = self
                .webauthn
                .start_passkey_authentication(passkeys)
                .map_err(|e| ServiceError::Internal(format!("passkey sign-in: {e}")))?;
            (o, LoginState::Known(s))
        };
        let mut options = serde_json::to_value(options).map_err(internal)?;
        // "conditional" mediation waits for the browser's autofill UI; a button press wants
        // the modal prompt.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        Ok((options, serde_json::to_string(&state).map_err(internal)?))
    }

    /// The credential id and user handle the browser's answer names, before it is checked.
    pub fn identify(credential: &Value) -> Result<(String, Option<Uuid>), ServiceError> {
        let cred: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|e| {
                ServiceError::bad_input("credential", &format!("is not a WebAuthn assertion: {e}"))
            })?;
        let handle = cred
            .get_user_unique_id()
            .and_then(|b| Uuid::from_slice(b).ok());
        Ok((
            crate::domain::secrets::b64url(cred.get_credential_id()),
            handle,
        ))
    }

    /// Checks the browser's answer to a sign-in against the state and the stored passkey.
    pub fn finish_login(
        &self,
        credential: &Value,
        state: &str,
        passkey: &Passkey,
    ) -> Result<Verified, ServiceError> {
        let cred: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|e| {
                ServiceError::bad_input("credential", &format!("is not a WebAuthn assertion: {e}"))
            })?;
        let state: LoginState = serde_json::from_str(state).map_err(internal)?;
        let result = match state {
            LoginState::Known(s) => self.webauthn.finish_passkey_authentication(&cred, &s),
            LoginState::Discoverable(s) => self
                .webauthn
                .finish_discoverable_authentication_v2(&cred, s, passkey),
        }
        .map_err(refused)?;
        if cred_id_text(result.cred_id()) != cred_id_text(passkey.cred_id()) {
            return Err(refused("the assertion names another credential"));
        }
        let mut updated = passkey.clone();
        let changed = updated.update_credential(&result) == Some(true);
        Ok(Verified {
            cred_id: cred_id_text(result.cred_id()),
            updated: if changed {
                Some(serde_json::to_string(&updated).map_err(internal)?)
            } else {
                None
            },
            counter: result.counter(),
            backup_state: result.backup_state(),
        })
    }
}

/// A stored passkey's flags as webauthn-rs serialized them (it exposes no accessors for them).
pub fn backup_flags(passkey: &Passkey) -> (bool, bool) {
    let v = serde_json::to_value(passkey).unwrap_or_default();
    (
        v["cred"]["backup_eligible"].as_bool().unwrap_or(false),
        v["cred"]["backup_state"].as_bool().unwrap_or(false),
    )
}

fn internal(e: serde_json::Error) -> ServiceError {
    ServiceError::Internal(format!("passkey state: {e}"))
}
