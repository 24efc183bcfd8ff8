//! A real SurrealDB server (the `surreal` binary's code, from the `surrealdb-server` crate of the
//! same version as our SDK) for the multi-node tests: `surreal-test-server start --bind
//! 127.0.0.1:PORT --user root --pass root rocksdb:DIR`. Built by `cargo test` as an example so it
//! links the SurrealDB our own build already compiled; tests/api/cluster/ starts, kills and
//! restarts it as a child process.
#![recursion_limit = "256"]

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_core::CommunityComposer())
}
