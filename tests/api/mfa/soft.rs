//! A software passkey authenticator answering the server's JSON options.

use base64::Engine;
use passkey::authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey::client::{Client, DefaultClientData};
use passkey::types::Passkey;
use passkey::types::ctap2::{Aaguid, Ctap2Error};
use passkey::types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use serde_json::{Value, json};
use url::Url;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Always present and verified (a PIN or a fingerprint, in a real one).
pub struct Verified;

#[async_trait::async_trait]
impl UserValidationMethod for Verified {
    type PasskeyItem = Passkey;
    async fn check_user<'a>(
        &self,
        _: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }
    fn is_presence_enabled(&self) -> bool {
        true
    }
    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// One authenticator holding (at most) one discoverable passkey.
pub struct SoftKey(
    Client<
        Option<Passkey>,
        Verified,
        passkey::crypto::aws_lc_rs::AwsLcRsBackend,
        public_suffix::PublicSuffixList,
        (),
    >,
);

impl SoftKey {
    pub fn new() -> Self {
        let mut auth = Authenticator::new(
            Aaguid::new_empty(),
            None,
            Verified,
            passkey::crypto::aws_lc_rs::AwsLcRsBackend,
        );
        // Counters that move, so a replayed or cloned answer is caught.
        auth.set_make_credentials_with_signature_counter(true);
        Self(Client::new(auth).allows_insecure_localhost(true))
    }

    /// The credential for `navigator.credentials.create(options)`, from `origin`, as
    /// the browser's `credential.toJSON()` writes it.
    pub async fn register(&mut self, origin: &str, options: &Value) -> Result<Value, String> {
        let o: CredentialCreationOptions =
            serde_json::from_value(options.clone()).map_err(|e| e.to_string())?;
        let url = Url::parse(origin).unwrap();
        let c = self
            .0
            .register(&url, o, DefaultClientData)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(json!({
            "id": c.id,
            "rawId": b64(&c.raw_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&c.response.client_data_json),
                "attestationObject": b64(&c.response.attestation_object),
            },
            "clientExtensionResults": {},
        }))
    }

    /// The assertion for `navigator.credentials.get(options)`, from `origin`.
    pub async fn authenticate(&mut self, origin: &str, options: &Value) -> Result<Value, String> {
        let o: CredentialRequestOptions =
            serde_json::from_value(options.clone()).map_err(|e| e.to_string())?;
        let url = Url::parse(origin).unwrap();
        let a = self
            .0
            .authenticate(&url, o, DefaultClientData)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(json!({
            "id": a.id,
            "rawId": b64(&a.raw_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&a.response.client_data_json),
                "authenticatorData": b64(&a.response.authenticator_data),
                "signature": b64(&a.response.signature),
                "userHandle": a.response.user_handle.as_ref().map(|h| b64(h)),
            },
            "clientExtensionResults": {},
        }))
    }
}
