//! The tenant admin's operations (role `admin`): users, roles, sessions, settings, signing
//! keys and the audit log.

pub mod graphql;
pub mod service;
