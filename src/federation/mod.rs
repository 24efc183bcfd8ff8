//! Signing in with identities users already have: upstream OpenID Connect and OAuth2
//! providers per tenant (issue 23). What has landed so far is the part every provider kind
//! starts with: reading and checking an upstream's discovery document and keys
//! ([`discovery`]), through the outbound guard (`infra::outbound`), and the account-linking
//! rules as a decision over the facts ([`linking`]). Provider records, the sign-in flow and
//! the identities store arrive here next; the hosted pages and the GraphQL
//! schema will plug this capability in like the others.

pub mod discovery;
pub mod linking;
