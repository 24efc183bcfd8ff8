//! The `latchkey` command: `serve` (default) and `schema export`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey::config::{Config, LogFormat};
use secrecy::ExposeSecret as _;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A small, fast, GraphQL-first identity server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Schema files.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
    /// Tenants (works without a running server, on the configured database).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Signing keys (run with the server stopped).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The database itself (run with the server stopped).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-seal every tenant's signing keys under the SECRET_KEY now configured, after changing
    /// it. Accounts, passwords and keys are kept; refresh, reset and verification tokens
    /// issued under the old secret stop working (they are stored as keyed hashes).
    Rekey {
        /// Environment variable holding the previous SECRET_KEY (never on the command line).
        #[arg(long, default_value = "LATCHKEY_OLD_SECRET_KEY")]
        old_secret_env: String,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy every tenant and the platform data into a new, empty store, checking row counts
    /// per table (the upgrade from the old surrealkv:// default to rocksdb://).
    Copy {
        /// Source, e.g. surrealkv://./data/latchkey.db.
        #[arg(long)]
        from: String,
        /// Target, e.g. rocksdb://./data/latchkey.rocksdb (must not hold latchkey data yet).
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant, optionally with its first admin.
    Create {
        /// Slug: ^[a-z0-9][a-z0-9-]{1,62}$.
        slug: String,
        /// Human name (default: the slug).
        #[arg(long)]
        display_name: Option<String>,
        /// First admin's email.
        #[arg(long, requires_all = ["admin_username"])]
        admin_email: Option<String>,
        /// First admin's username.
        #[arg(long, requires_all = ["admin_email"])]
        admin_username: Option<String>,
        /// First admin's password (read from this environment variable, never from the
        /// command line, which other users of the machine can see).
        #[arg(long, default_value = "LATCHKEY_ADMIN_PASSWORD")]
        admin_password_env: String,
    },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Write schema/tenant.graphql from the code.
    Export {
        /// Directory to write into.
        #[arg(long, default_value = "schema")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema {
            command: SchemaCommand::Export { dir },
        } => {
            let files = [
                ("tenant.graphql", latchkey::graphql::tenant_sdl()),
                (
                    "platform.graphql",
                    latchkey::graphql::platform::platform_sdl(),
                ),
            ];
            for (name, sdl) in files {
                let path = dir.join(name);
                if let Err(e) = std::fs::write(&path, sdl) {
                    eprintln!("latchkey: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Command::Tenant { command } => tenant_command(command),
        Command::Store {
            command: StoreCommand::Copy { from, to },
        } => store_copy(&from, &to),
        Command::Keys {
            command: KeysCommand::Rekey { old_secret_env },
        } => keys_rekey(&old_secret_env),
        Command::Serve => serve(),
    }
}

fn serve() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logging(config.log_format);
    block_on(async move {
        if config.secret_key_is_dev {
            tracing::warn!(
                "SECRET_KEY is not set: using a development key kept in ./data/dev-secret-key. DO NOT USE THIS IN PRODUCTION: set SECRET_KEY to 32+ random characters."
            );
        }
        let server = match latchkey::spawn(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("start-up failed: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(addr = %server.addr(), "latchkey listening; GraphiQL at http://{}/graphql", server.addr());
        shutdown_signal().await;
        tracing::info!("shutting down");
        match server.shutdown().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("shutdown: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The configuration, or exit status 2 after one line saying what is wrong: the same for
/// every command that reads it.
fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("latchkey: {e}");
        ExitCode::from(2)
    })
}

/// Runs a command's work on a multi-threaded runtime, built only once the arguments and the
/// configuration were found usable.
fn block_on(work: impl Future<Output = ExitCode>) -> ExitCode {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(work)
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,surrealdb=warn,surrealdb_core=warn,surrealkv=warn")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn tenant_command(command: TenantCommand) -> ExitCode {
    if let TenantCommand::Create {
        admin_email: Some(_),
        admin_password_env,
        ..
    } = &command
        && latchkey::config::secret_from_env(admin_password_env)
            .expose_secret()
            .is_empty()
    {
        eprintln!("latchkey: set {admin_password_env} to the first admin's password");
        return ExitCode::from(2);
    }
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    block_on(async move {
        let app = match latchkey::App::start(config).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("latchkey: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        let services = &app.services;
        let code = match command {
            TenantCommand::Create {
                slug,
                display_name,
                admin_email,
                admin_username,
                admin_password_env,
            } => {
                let password = latchkey::config::secret_from_env(&admin_password_env)
                    .expose_secret()
                    .to_string();
                let admin = match (&admin_email, &admin_username) {
                    (Some(email), Some(username)) => Some(latchkey::tenants::service::FirstAdmin {
                        email,
                        username,
                        password: &password,
                    }),
                    _ => None,
                };
                let name = display_name.unwrap_or_else(|| slug.clone());
                match services.tenants.create_tenant(&slug, &name, admin).await {
                    Ok(t) => {
                        println!(
                            "created tenant {} ({}): /t/{}/graphql",
                            t.slug, t.display_name, t.slug
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("latchkey: {}: {e}", e.code());
                        ExitCode::FAILURE
                    }
                }
            }
            TenantCommand::List => {
                let mut after: Option<String> = None;
                loop {
                    match services
                        .tenants
                        .list_tenants(100, after.as_deref(), None)
                        .await
                    {
                        Ok(page) => {
                            for (_, t) in &page.items {
                                println!(
                                    "{}\t{}\t{}{}",
                                    t.slug,
                                    t.display_name,
                                    t.algorithm,
                                    if t.disabled { "\tdisabled" } else { "" }
                                );
                            }
                            if !page.has_next {
                                break ExitCode::SUCCESS;
                            }
                            after = page.items.last().map(|(c, _)| c.clone());
                        }
                        Err(e) => {
                            eprintln!("latchkey: {e}");
                            break ExitCode::FAILURE;
                        }
                    }
                }
            }
        };
        app.shutdown().await;
        code
    })
}

fn store_copy(from: &str, to: &str) -> ExitCode {
    use latchkey::store::{Store, StoreUrl};
    let parse = |name: &str, url: &str| {
        StoreUrl::parse(url).map_err(|e| eprintln!("latchkey: --{name}: {e}"))
    };
    let (Ok(from), Ok(to)) = (parse("from", from), parse("to", to)) else {
        return ExitCode::from(2);
    };
    block_on(async move {
        let source = match Store::open(&from, None).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("latchkey: --from: {e}");
                return ExitCode::FAILURE;
            }
        };
        let target = match Store::open(&to, None).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("latchkey: --to: {e}");
                source.close().await;
                return ExitCode::FAILURE;
            }
        };
        let work =
            latchkey::config::temp_dir().join(format!("latchkey-copy-{}", std::process::id()));
        let result = match std::fs::create_dir_all(&work) {
            Ok(()) => latchkey::store::copy::copy(&source, &target, &work).await,
            Err(e) => Err(latchkey::store::StoreError::Other(format!(
                "cannot create {}: {e}",
                work.display()
            ))),
        };
        let _ = std::fs::remove_dir_all(&work);
        source.close().await;
        target.close().await;
        match result {
            Ok(counts) => {
                for (db, tables) in &counts {
                    let rows: i64 = tables.values().sum();
                    println!(
                        "copied {db}: {} tables, {rows} rows (counts match)",
                        tables.len()
                    );
                }
                println!("done: {} databases from {from} to {to}", counts.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("latchkey: store copy failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn keys_rekey(old_secret_env: &str) -> ExitCode {
    use latchkey::domain::secrets::Secrets;
    use latchkey::store::{self, Store};
    use latchkey::tenants::master_secret;
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let old = latchkey::config::secret_from_env(old_secret_env);
    let old = match old.expose_secret().trim() {
        v if !v.is_empty() => secrecy::SecretString::from(v.to_string()),
        _ => {
            eprintln!("latchkey: set {old_secret_env} to the previous SECRET_KEY");
            return ExitCode::from(2);
        }
    };
    block_on(async move {
        let store = match Store::open(&config.database, config.database_credentials.as_ref()).await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("latchkey: {e}");
                return ExitCode::FAILURE;
            }
        };
        let result = async {
            let platform = store
                .root()
                .bound_to(store::NAMESPACE, store::PLATFORM_DB)
                .await?;
            store::migrate::apply(&platform, store::migrate::PLATFORM).await?;
            let (old, new) = (Secrets::derive(&old), Secrets::derive(&config.secret_key));
            master_secret::rekey(&platform, store.root(), &old, &new, config.clock.now()).await
        }
        .await;
        store.close().await;
        match result {
            Ok(n) => {
                println!(
                    "re-sealed {} signing keys and {} TOTP secrets (and {} identity provider client secrets, {} webhook secrets) under the new SECRET_KEY; recovery codes and client secrets keep working ({} earlier key(s) kept for their hashes)",
                    n.signing_keys,
                    n.totp_secrets,
                    n.provider_secrets,
                    n.webhook_secrets,
                    n.retired_hash_keys
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("latchkey: keys rekey failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
