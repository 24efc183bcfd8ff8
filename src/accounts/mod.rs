//! Accounts: register, sign in with a password, change it, recover it, confirm the address,
//! and `me`. Sessions and tokens are `sessions/`; second factors are `mfa/`.

pub mod graphql;
pub mod me_graphql;
pub mod recovery;
pub mod recovery_graphql;
pub mod service;
