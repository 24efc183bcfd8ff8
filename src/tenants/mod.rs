//! The platform's tenants: create, change and delete them (the platform API), and the master
//! secret their keys are sealed under (check at start-up, `keys rekey`).

pub mod graphql;
pub mod master_secret;
pub mod service;
