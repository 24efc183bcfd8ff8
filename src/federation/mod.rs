//! Signing in with identities users already have: upstream OpenID Connect and OAuth2
//! providers per tenant (issue 23). Providers configured by tenant admins, checked through
//! discovery when saved ([`providers`], [`discovery`]), with the rules of the presets
//! ([`microsoft`], [`apple`]; GitHub's are a claim mapping, [`mapping`]); the sign-in flow from latchkey's `/start` to the
//! upstream's answer at `/callback` ([`signin`]), with the id_token checked ([`id_token`])
//! and the account found, made or linked by rules that keep one person's account from being
//! handed to another ([`linking`]); their tables ([`store`]). The HTTP paths live with the
//! hosted pages (`oidc::federated`), which continue an authorization request after a
//! federated sign-in; the GraphQL operations in [`graphql`].

pub mod apple;
pub mod discovery;
pub mod graphql;
pub mod id_token;
pub mod linking;
pub mod mapping;
pub mod microsoft;
pub mod providers;
pub mod signin;
pub mod store;

use std::sync::Arc;

use crate::accounts::service::AccountService;
use crate::infra::Infra;
use crate::mfa::service::MfaService;
use crate::sessions::service::SessionService;

/// Federation: providers, the sign-in flow, linked identities.
#[derive(Clone)]
pub struct FederationService {
    infra: Arc<Infra>,
    sessions: SessionService,
    mfa: MfaService,
    accounts: AccountService,
}

crate::infra::built_on!(FederationService);

impl FederationService {
    /// The service over the shared infrastructure and the services it calls.
    pub fn new(
        infra: Arc<Infra>,
        sessions: SessionService,
        mfa: MfaService,
        accounts: AccountService,
    ) -> Self {
        Self {
            infra,
            sessions,
            mfa,
            accounts,
        }
    }
}
