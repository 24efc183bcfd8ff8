//! latchkey: a small, fast, GraphQL-first multi-tenant identity server.
//!
//! [`spawn`] builds the whole application from a [`Config`] and serves it; `main` and the
//! integration tests both start it this way.

// Bottom to top: each module imports only those above it in this list (scripts/imports.py).
pub mod accounts;
pub mod actors;
pub mod admin;
pub mod app;
pub mod clock;
pub mod config;
pub mod console;
pub mod domain;
pub mod edge;
pub mod error;
pub mod federation;
pub mod graphql;
pub mod http;
pub mod infra;
pub mod mfa;
pub mod oidc;
pub mod organizations;
pub mod scim;
pub mod sessions;
pub mod store;
pub mod tenants;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::Clock;
pub use config::Config;

use actors::TenantRegistry;
use actors::registry::RegistryArgs;
pub use app::Services;
use domain::secrets::Secrets;
use infra::Infra;
use store::Store;
use store::tenants::TenantRow;

/// A running server.
pub struct Server {
    addr: SocketAddr,
    services: Arc<Services>,
    store: Store,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// The services with the store they run on; [`App::shutdown`] stops the one and closes the
/// other. The CLI and the benchmark use this without a listener.
pub struct App {
    /// What request handlers call.
    pub services: Arc<Services>,
    store: Store,
}

impl App {
    /// Opens the store, applies migrations, makes sure the default tenant exists and starts
    /// the actors: everything but the listener.
    pub async fn start(config: Config) -> anyhow::Result<App> {
        let store = Store::open(&config.database, config.database_credentials.as_ref())
            .await
            .context("opening the database")?;
        match build_services(config, &store).await {
            Ok(services) => Ok(App { services, store }),
            Err(e) => {
                store.close().await;
                Err(e)
            }
        }
    }

    /// Stops the actors and closes the store.
    pub async fn shutdown(self) {
        stop_services(self.services, self.store).await;
    }
}

/// Stops the actors, drops every session and closes the store, waiting until it is closed.
async fn stop_services(services: Arc<Services>, store: Store) {
    services.webhooks.deliveries().shutdown().await;
    services.mailer.shutdown().await;
    services.registry.shutdown().await;
    drop(services);
    store.close().await;
}

async fn build_services(config: Config, store: &Store) -> anyhow::Result<Arc<Services>> {
    let config = Arc::new(config);
    let root = store.root().clone();
    let platform = root
        .bound_to(store::NAMESPACE, store::PLATFORM_DB)
        .await
        .context("selecting the platform database")?;
    let secrets = Secrets::derive(&config.secret_key);
    prepare_platform(&platform, &root, &secrets, &config).await?;
    let retired = tenants::master_secret::retired_hash_keys(&platform, &secrets).await?;
    let secrets = Arc::new(secrets.with_retired_hash_keys(&retired));
    let registry = TenantRegistry::start(RegistryArgs {
        root: root.clone(),
        platform: platform.clone(),
        secrets: secrets.clone(),
        clock: config.clock.clone(),
        idle_after: config.tenant_idle,
        cache_max_age: config.cache_max_age,
        feeds: Arc::new(actors::change_feed::Feeds::new(
            config.change_feed_poll,
            config.live_queries,
        )),
        exclusive_store: config.database.is_exclusive(),
    })
    .await?;
    let mailer = actors::Mailer::start(actors::email::EmailArgs {
        registry: registry.clone(),
        root: root.clone(),
        platform: platform.clone(),
        config: config.clone(),
    })
    .await?;
    if config.smtp_url.is_none() {
        tracing::warn!("SMTP_URL is not set: mail is written to the log and NOT sent");
    }
    if url::Url::parse(&config.public_url)
        .is_ok_and(|u| matches!(u.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_))))
    {
        tracing::warn!(
            public_url = %config.public_url,
            "PUBLIC_URL's host is an IP address: passkeys are unavailable (WebAuthn needs a domain name as relying party id) for tenants that do not set passkeyRpId and passkeyOrigin; everything else works"
        );
    }
    let hasher = infra::passwords::Hasher::new(
        config.hash_concurrency,
        config.hash_queue_per_tenant,
        config.hash_queue,
    );
    let limits = infra::throttle::Limiters::new(&config);
    let infra = Arc::new(Infra {
        clock: config.clock.clone(),
        outbound: infra::outbound::Outbound::new(config.outbound_allow_private_networks),
        config,
        registry,
        hasher,
        secrets,
        platform,
        mailer,
        limits,
        root,
    });
    // The webhook delivery actor works over the same infrastructure, beside the email actor.
    let deliveries = webhooks::delivery::Deliveries::start(infra.clone()).await?;
    Ok(Arc::new(Services::new(infra, deliveries)))
}

/// Migrates the platform database, creates the default tenant and checks `SECRET_KEY`.
///
/// Nodes started at the same moment on a fresh shared store race through these steps and the
/// loser's transaction fails ("already exists" or a transaction conflict). Every step is
/// idempotent, so running them again finds the winner's work done: a few attempts, spaced out,
/// before start-up fails. A real error (wrong `SECRET_KEY`) fails the same on every attempt.
async fn prepare_platform(
    platform: &store::Db,
    root: &store::Db,
    secrets: &Secrets,
    config: &Config,
) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 5;
    let mut attempt = 1;
    loop {
        let done = async {
            store::migrate::apply(platform, store::migrate::PLATFORM)
                .await
                .context("applying platform migrations")?;
            ensure_default_tenant(platform, config).await?;
            tenants::master_secret::ensure(platform, root, secrets, config.clock.now()).await?;
            anyhow::Ok(())
        }
        .await;
        let mismatch = done.as_ref().is_err_and(|e| {
            matches!(
                e.downcast_ref::<tenants::master_secret::SecretError>(),
                Some(tenants::master_secret::SecretError::Mismatch)
            )
        });
        match done {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ATTEMPTS && !mismatch && !config.database.is_exclusive() => {
                tracing::info!(attempt, error = %e, "preparing the platform database raced another node; again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The default tenant always exists; its signing algorithm follows `ALGORITHM`.
async fn ensure_default_tenant(platform: &store::Db, config: &Config) -> anyhow::Result<()> {
    let slug = config.default_tenant.as_str();
    let alg = config.algorithm.as_str();
    match store::tenants::get(platform, slug).await? {
        None => {
            store::tenants::create(
                platform,
                TenantRow::new(slug, "Default", alg, config.clock.now()),
            )
            .await?;
        }
        Some(row) if row.algorithm != alg => {
            tracing::warn!(tenant = slug, from = %row.algorithm, to = alg, "ALGORITHM changed: a key of the new algorithm is published now and signs once verifiers' cached JWKS hold it; tokens of the old key keep verifying until they expire");
            store::tenants::set_algorithm(platform, slug, alg).await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Builds the application and serves it on `config.bind_addr` (port 0 picks a free port).
pub async fn spawn(config: Config) -> anyhow::Result<Server> {
    let bind = config.bind_addr;
    let introspection = config.graphql_introspection;
    let App { services, store } = App::start(config).await?;
    let schema = graphql::tenant_schema(Some(&services), introspection);
    let platform_schema = graphql::platform::platform_schema(Some(&services), introspection);
    let app = http::router(http::AppState {
        services: services.clone(),
        schema,
        platform_schema,
    });
    let listener = match TcpListener::bind(bind).await {
        Ok(l) => l,
        Err(e) => {
            drop(app);
            stop_services(services, store).await;
            return Err(anyhow::Error::new(e).context(format!("binding {bind}")));
        }
    };
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .await
    });
    Ok(Server {
        addr,
        services,
        store,
        stop,
        task,
    })
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The services this server runs on (tests read stored state through them).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Number of tenant actors running now.
    pub fn running_tenants(&self) -> usize {
        self.services.registry.running()
    }

    /// Stops accepting connections, finishes in-flight requests, stops the actors and
    /// closes the database (waiting until the engine has released it).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        let served = self.task.await;
        stop_services(self.services, self.store).await;
        served??;
        Ok(())
    }
}
