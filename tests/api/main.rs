//! The integration tests: ONE binary (each tests/*.rs file would link SurrealDB again).
//! Every test starts the real server on 127.0.0.1:0 with its own fresh database and talks
//! to it over HTTP.

mod helpers;

mod admin;
mod bruteforce;
mod child_server;
mod cluster;
mod config;
mod console_api;
mod crash;
mod docker;
mod docs;
mod enumeration;
mod federated_signin;
mod federation;
mod federation_kinds;
mod fuzz;
mod graphql_abuse;
mod graphql_http;
mod hostile_input;
mod jwt_verifier;
mod keys;
mod logs;
mod mail;
mod mfa;
mod oidc;
mod org_domains;
mod org_invitations;
mod org_sso;
mod organizations;
mod outbound;
mod password_policy;
mod persistence;
mod register_login;
mod rest;
mod schema;
mod scim;
mod scim_provisioning;
mod security_headers;
mod sessions;
mod surreal_server;
mod tenants;
mod token_abuse;
mod tokens;
mod upstream;
mod webhook_signature;
mod webhooks;
