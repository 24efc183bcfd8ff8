//! The `latchkey` command: `serve` (default) and `schema export`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey::config::{Config, LogFormat};

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
            let path = dir.join("tenant.graphql");
            match std::fs::write(&path, latchkey::graphql::tenant_sdl()) {
                Ok(()) => {
                    println!("wrote {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("latchkey: cannot write {}: {e}", path.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve => serve(),
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("latchkey: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        if config.secret_key_is_dev {
            tracing::warn!("SECRET_KEY is not set: using a development key kept in ./data/dev-secret-key. DO NOT USE THIS IN PRODUCTION: set SECRET_KEY to 32+ random characters.");
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

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,surrealdb=warn,surrealdb_core=warn"));
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
