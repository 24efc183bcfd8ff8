//! Two SurrealDB server endpoints in ONE process over ONE storage backend,
//! modelling "several `surreal start` processes over TiKV": each endpoint has its own
//! `Datastore` (own node id, caches, live-query router cursor, maintenance tasks, RPC state,
//! notification channel), and both open transactions on the same key-value store.
//!
//!   surreal-pair-server --user root --pass X --bind-a 127.0.0.1:P1 --bind-b 127.0.0.1:P2 \
//!       [memory | rocksdb://DIR?sync=every]
//!
//! Cross-node LIVE SELECT delivery needs `SURREAL_LIVE_QUERY_ENGINE=router` in the environment
//! (read through `ConfigMap::from_env`, as `surreal start` does); with the default `inline`
//! engine a write on A never notifies a LIVE SELECT registered on B (LocalMessageBroker).
#![recursion_limit = "256"]

use std::any::{Any, TypeId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::serve::ListenerExt as _;
use surrealdb_cnf::ConfigMap;
use surrealdb_core::CommunityComposer;
use surrealdb_core::kvs::{Datastore, TransactionBuilderFactory, TransactionBuilderParts};
use surrealdb_kvs::api::BoxFut;
use surrealdb_kvs::{Metrics, Transactable, TransactionBuilder, TransactionType};
use surrealdb_server::{RouterOptions, SurrealRouter};
use tokio_util::sync::CancellationToken;

/// One datastore's handle on the shared backend. Everything delegates to the one real
/// backend; only `shutdown` is reference-counted, so the store closes (RocksDB flush/close)
/// when the last datastore shuts down, not the first.
struct SharedHandle {
    inner: Arc<dyn TransactionBuilder>,
    open: Arc<AtomicUsize>,
    closed: AtomicBool,
}

impl TransactionBuilder for SharedHandle {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn new_transaction(
        &self,
        write: TransactionType,
    ) -> BoxFut<'_, surrealdb_kvs::Result<(Box<dyn Transactable>, bool)>> {
        self.inner.new_transaction(write)
    }
    fn shutdown(&self) -> BoxFut<'_, surrealdb_kvs::Result<()>> {
        Box::pin(async move {
            // Datastore::shutdown may run more than once: count each handle once.
            if self.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            if self.open.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.inner.shutdown().await
            } else {
                Ok(())
            }
        })
    }
    fn register_metrics(&self) -> Option<Metrics> {
        self.inner.register_metrics()
    }
    fn collect_u64_metric(&self, metric: &str) -> Option<u64> {
        self.inner.collect_u64_metric(metric)
    }
    fn wait_until_serve_ready(&self) -> BoxFut<'_, surrealdb_kvs::Result<()>> {
        self.inner.wait_until_serve_ready()
    }
    fn extension(&self, id: TypeId) -> Option<Arc<dyn Any + Send + Sync>> {
        self.inner.extension(id)
    }
}

/// A composer whose every datastore gets a handle on the same, already opened backend.
struct SharedComposer {
    backend: Arc<dyn TransactionBuilder>,
    open: Arc<AtomicUsize>,
}

impl TransactionBuilderFactory for SharedComposer {
    type RouterState = ();

    async fn new_transaction_builder(
        &self,
        _path: &str,
        _canceller: CancellationToken,
        _config: ConfigMap,
    ) -> anyhow::Result<TransactionBuilderParts<()>> {
        self.open.fetch_add(1, Ordering::AcqRel);
        Ok(TransactionBuilderParts::without_router_state(Box::new(
            SharedHandle {
                inner: Arc::clone(&self.backend),
                open: Arc::clone(&self.open),
                closed: AtomicBool::new(false),
            },
        )))
    }

    fn path_valid(&self, v: &str) -> anyhow::Result<String> {
        Ok(v.to_owned())
    }
}

struct Args {
    user: String,
    pass: String,
    bind_a: SocketAddr,
    bind_b: SocketAddr,
    path: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let (mut user, mut pass, mut a, mut b, mut path) = (None, None, None, None, None);
    while let Some(arg) = it.next() {
        let mut val = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--user" => user = Some(val()?),
            "--pass" => pass = Some(val()?),
            "--bind-a" => a = Some(val()?.parse()?),
            "--bind-b" => b = Some(val()?.parse()?),
            _ if !arg.starts_with("--") => path = Some(arg.clone()),
            _ => anyhow::bail!("unknown argument {arg}"),
        }
    }
    Ok(Args {
        user: user.unwrap_or_else(|| "root".into()),
        pass: pass.ok_or_else(|| anyhow::anyhow!("--pass is required"))?,
        bind_a: a.ok_or_else(|| anyhow::anyhow!("--bind-a is required"))?,
        bind_b: b.ok_or_else(|| anyhow::anyhow!("--bind-b is required"))?,
        path: path.unwrap_or_else(|| "memory".into()),
    })
}

/// Builds one "node": its own Datastore (own node id) on the shared backend, started the way
/// `surreal start` starts it (surrealdb-server-3.3.5 src/dbs/mod.rs:839-1180), and its
/// fully-configured HTTP/WS router.
async fn node(
    composer: SharedComposer,
    path: &str,
    user: &str,
    pass: &str,
    canceller: CancellationToken,
) -> anyhow::Result<(Arc<Datastore>, SurrealRouter)> {
    let (send, recv) = surrealdb_core::channel::bounded(surrealdb_cnf::NOTIFICATIONS_CHANNEL_SIZE);
    let ds = Datastore::builder()
        .without_maintenance_tasks() // started below, after check_version (as the server does)
        .with_config(ConfigMap::from_env()) // SURREAL_LIVE_QUERY_ENGINE etc.
        .with_auth(true)
        .with_notify(send) // -> LocalMessageBroker via the composer's default live_query_broker
        .with_shutdown_cancel(canceller.clone())
        .build_with_factory_path(path, composer)
        .await?;
    ds.wait_until_serve_ready().await?;
    let (_, is_new) = ds.check_version().await?;
    if is_new {
        ds.initialise_defaults("main", "main").await?;
    }
    ds.insert_node().await?;
    ds.start_maintenance_tasks(); // heartbeat, GC, and (router engine) the live-query router
    ds.initialise_credentials(user, pass).await?; // no-op if a root user exists
    let router = SurrealRouter::build::<CommunityComposer>(
        RouterOptions::default(),
        Arc::clone(&ds),
        recv,
        canceller,
        (),
    )
    .await?;
    Ok((ds, router))
}

async fn serve(bind: SocketAddr, router: SurrealRouter) -> anyhow::Result<()> {
    // LIVE notifications: datastore channel -> this endpoint's WebSocket connections.
    router.spawn_notifications();
    let listener = tokio::net::TcpListener::bind(bind).await?.tap_io(|s| {
        let _ = s.set_nodelay(true);
    });
    eprintln!(
        "surreal-pair-server: node {} serving on {bind}",
        router.datastore().id()
    );
    let app = router.into_router();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let canceller = CancellationToken::new();
    // Open the storage ONCE, with the community backends (memory, rocksdb://, surrealkv://),
    // including `?key=value` options such as `?sync=every`.
    let parts = CommunityComposer()
        .new_transaction_builder(&args.path, canceller.clone(), ConfigMap::from_env())
        .await?;
    let backend: Arc<dyn TransactionBuilder> = Arc::from(parts.builder);
    let open = Arc::new(AtomicUsize::new(0));
    let composer = || SharedComposer {
        backend: Arc::clone(&backend),
        open: Arc::clone(&open),
    };
    // Sequential: A stamps the version and creates the defaults and root user; B finds them.
    let (ds_a, router_a) = node(
        composer(),
        &args.path,
        &args.user,
        &args.pass,
        canceller.child_token(),
    )
    .await?;
    let (ds_b, router_b) = node(
        composer(),
        &args.path,
        &args.user,
        &args.pass,
        canceller.child_token(),
    )
    .await?;

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let res = tokio::select! {
        r = serve(args.bind_a, router_a) => r,
        r = serve(args.bind_b, router_b) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = term.recv() => Ok(()),
    };
    canceller.cancel();
    // Each shutdown archives its node; the shared backend closes with the last one.
    ds_a.shutdown().await?;
    ds_b.shutdown().await?;
    res
}

fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("surreal-pair-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Like surrealdb_server::with_enough_stack (lib.rs:97-121): the query parser and executor
    // recurse deeply; 20 MiB is the server's debug-build default.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(20 * 1024 * 1024)
        .thread_name("surrealdb-worker")
        .build()
        .expect("tokio runtime");
    // Run everything on a worker (big stack), not on the main thread.
    match rt.block_on(async { tokio::spawn(run(args)).await }) {
        Ok(Ok(())) => std::process::ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("surreal-pair-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("surreal-pair-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
