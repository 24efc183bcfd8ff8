//! latchkey as an OpenID Connect provider, per tenant under `/t/{tenant}/`: clients managed by
//! tenant admins (`clients`, `graphql`), the authorization code flow with PKCE and its hosted
//! pages (`flow`, `pages`, `routes`), the token endpoint (`token`), userinfo, revocation,
//! introspection and logout (`endpoints`), discovery (`discovery`), and their tables
//! (`store`). The GraphQL and REST APIs are unchanged by it.

pub mod account_pages;
pub mod backchannel;
pub mod browser;
pub mod builtin;
pub mod clients;
pub mod cookies;
pub mod discovery;
pub mod endpoints;
pub mod federated;
pub mod flow;
pub mod graphql;
pub mod pages;
pub mod routes;
pub mod store;
pub mod token;

use std::sync::Arc;

use crate::accounts::recovery::RecoveryService;
use crate::accounts::service::AccountService;
use crate::federation::FederationService;
use crate::infra::Infra;
use crate::mfa::service::MfaService;
use crate::sessions::service::SessionService;
use clients::OidcClients;
use endpoints::OidcEndpoints;
use flow::AuthorizationFlow;
use token::TokenEndpoint;

/// The provider: its four parts, and the services its hosted pages call (sign-in, second
/// factor, recovery). The state of its HTTP routes.
#[derive(Clone)]
pub struct OidcProvider {
    infra: Arc<Infra>,
    /// Client registration and authentication.
    pub clients: OidcClients,
    /// The authorization endpoint's flow and the SSO session.
    pub flow: AuthorizationFlow,
    /// The token endpoint.
    pub tokens: TokenEndpoint,
    /// Userinfo, revocation, introspection, logout.
    pub endpoints: OidcEndpoints,
    /// Sessions (the token endpoint's and the pages' sign-ins).
    pub sessions: SessionService,
    /// The hosted sign-in and registration pages' accounts.
    pub accounts: AccountService,
    /// The hosted reset and verification pages.
    pub recovery: RecoveryService,
    /// The hosted second-factor step.
    pub mfa: MfaService,
    /// The hosted page's "Continue with ..." buttons and their sign-ins.
    pub federation: FederationService,
}

crate::infra::built_on!(OidcProvider);

impl OidcProvider {
    /// Builds the provider over the shared infrastructure and the services it calls.
    pub fn new(
        infra: Arc<Infra>,
        sessions: SessionService,
        accounts: AccountService,
        recovery: RecoveryService,
        mfa: MfaService,
        federation: FederationService,
    ) -> Self {
        let tokens = TokenEndpoint::new(infra.clone(), sessions.clone());
        Self {
            clients: OidcClients::new(infra.clone(), sessions.clone()),
            flow: AuthorizationFlow::new(infra.clone(), sessions.clone()),
            endpoints: OidcEndpoints::new(infra.clone(), tokens.clone()),
            tokens,
            sessions,
            accounts,
            recovery,
            mfa,
            federation,
            infra,
        }
    }
}
