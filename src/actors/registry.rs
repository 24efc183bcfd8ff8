//! `TenantRegistry`: a typed local map from slug to running tenant, filled through one
//! supervisor actor (`GetOrSpawn`) that starts tenant actors on first use, forgets them when
//! they fail or stop (so the next request starts a fresh one), and stops the ones left idle,
//! so 10,000 mostly idle tenants do not hold 10,000 actors and their caches.
//!
//! Not ractor's global name registry: it is untyped and its names collide between servers
//! started in one process (the tests).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use dashmap::{DashMap, DashSet};
use ractor::{
    Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent, call_t,
};

use super::CALL_TIMEOUT_MS;
use super::auth_cache::AuthCache;
use super::change_feed::Feeds;
use super::tenant::{Tenant, TenantActor, TenantShared};
use crate::domain::Algorithm;
use crate::domain::TenantSlug;
use crate::domain::keygen::generate_key;
use crate::domain::keys::{KEY_PUBLISH_AHEAD_SECONDS, KeySet};
use crate::domain::secrets::Secrets;
use crate::error::ServiceError;
use crate::store::{self, Db, migrate};

/// Handle to the registry (cheap to clone).
#[derive(Clone)]
pub struct TenantRegistry {
    tenants: Arc<DashMap<TenantSlug, Tenant>>,
    supervisor: ActorRef<RegistryMsg>,
    clock: crate::clock::Clock,
    /// Shared store: the follower of the platform's tenant records (`change_feed`).
    follower: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// What this node's change feeds share (gaps, for `/readyz`).
    feeds: Arc<Feeds>,
}

/// The supervisor's messages.
pub enum RegistryMsg {
    /// Return the running tenant, starting it if needed.
    GetOrSpawn(TenantSlug, RpcReplyPort<Result<Tenant, ServiceError>>),
    /// Stop a tenant's actor now (its record changed, or with `gone` it was deleted or
    /// disabled: requests still holding its handle then answer `TENANT_NOT_FOUND`).
    Evict(TenantSlug, bool, RpcReplyPort<()>),
    /// Stop the actors of tenants idle for longer than the configured period.
    Sweep,
    /// A tenant's database finished opening (in its own task, so starts run in parallel).
    Opened(TenantSlug, u64, Result<TenantShared, ServiceError>),
}

struct Supervisor;

/// What the supervisor needs to start tenants.
pub struct RegistryArgs {
    /// Root connection (any database); each tenant gets a clone bound to its own.
    pub root: Db,
    /// The platform database session.
    pub platform: Db,
    /// Derived secrets (key sealing).
    pub secrets: Arc<Secrets>,
    /// Clock for key creation times and idleness.
    pub clock: crate::clock::Clock,
    /// A tenant unused this long has its actor stopped.
    pub idle_after: Duration,
    /// No cached session or user is served after this long; a shared store's tenant
    /// settings and keys are re-read at least this often.
    pub cache_max_age: Duration,
    /// How a shared store's changes are followed (see `change_feed`).
    pub feeds: Arc<Feeds>,
    /// Whether this process is the store's only writer (embedded engines): turns on each
    /// tenant's [`AuthCache`](super::auth_cache::AuthCache).
    pub exclusive_store: bool,
}

struct SupervisorState {
    args: Arc<RegistryArgs>,
    tenants: Arc<DashMap<TenantSlug, Tenant>>,
    by_actor: HashMap<ActorId, TenantSlug>,
    /// Tenants being opened, with the callers waiting for them. Opening (migrations, keys)
    /// takes milliseconds of database commits; doing it in a task keeps the supervisor free
    /// for other tenants' starts.
    opening: HashMap<TenantSlug, Opening>,
    /// Numbers the open attempts, so the result of one started before an eviction is
    /// recognised as stale.
    next_attempt: u64,
    /// Tenant incarnations (`slug@creation`) whose database this process found with every
    /// migration applied; a few dozen bytes each.
    current: Arc<DashSet<String>>,
    /// Idle tenants were stopped by the last sweep: the next one gives the memory they freed
    /// back to the system.
    trim_pending: bool,
}

struct Opening {
    attempt: u64,
    waiters: Vec<RpcReplyPort<Result<Tenant, ServiceError>>>,
}

impl Actor for Supervisor {
    type Msg = RegistryMsg;
    type State = SupervisorState;
    type Arguments = (RegistryArgs, Arc<DashMap<TenantSlug, Tenant>>);

    async fn pre_start(
        &self,
        me: ActorRef<RegistryMsg>,
        (args, tenants): Self::Arguments,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        // Sweep at a quarter of the idle period (at least every second: a sweep of 10,000 entries
        // costs microseconds), so an idle tenant goes within 1.25 periods.
        let every =
            (args.idle_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        me.send_interval(every, || RegistryMsg::Sweep);
        Ok(SupervisorState {
            args: Arc::new(args),
            tenants,
            by_actor: HashMap::new(),
            opening: HashMap::new(),
            next_attempt: 0,
            trim_pending: false,
            current: Default::default(),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<RegistryMsg>,
        msg: RegistryMsg,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RegistryMsg::GetOrSpawn(slug, reply) => {
                // Another caller may have started it while this message waited.
                if let Some(t) = st.tenants.get(&slug).map(|t| t.clone()) {
                    let _ = reply.send(Ok(t));
                } else if let Some(o) = st.opening.get_mut(&slug) {
                    o.waiters.push(reply);
                } else {
                    start_opening(&me, st, slug, vec![reply]);
                }
            }
            RegistryMsg::Opened(slug, attempt, res) => {
                let Some(o) = st.opening.remove(&slug) else {
                    return Ok(());
                };
                if o.attempt != attempt {
                    // Evicted while opening (settings changed, tenant deleted): what was
                    // read may be stale, so open again for the callers still waiting.
                    start_opening(&me, st, slug, o.waiters);
                    return Ok(());
                }
                let res = match res {
                    Ok(shared) => spawn_tenant(&me, st, slug, shared).await,
                    Err(e) => Err(e),
                };
                for w in o.waiters {
                    let _ = w.send(res.clone());
                }
            }
            RegistryMsg::Evict(slug, gone, reply) => {
                if let Some(o) = st.opening.get_mut(&slug) {
                    // The result of the open in progress is discarded on arrival.
                    o.attempt = u64::MAX;
                }
                if let Some((_, t)) = st.tenants.remove(&slug) {
                    if gone {
                        t.mark_gone();
                    }
                    let _ = t.actor().stop_and_wait(Some("evicted".into()), None).await;
                }
                let _ = reply.send(());
            }
            RegistryMsg::Sweep => {
                let idle_before =
                    st.args.clock.now().timestamp_millis() - st.args.idle_after.as_millis() as i64;
                let idle: Vec<TenantSlug> = st
                    .tenants
                    .iter()
                    .filter(|t| t.value().last_used_ms() < idle_before)
                    .map(|t| t.key().clone())
                    .collect();
                let mut evicted = false;
                for slug in idle {
                    // Checked again under the map's lock: a request that took a handle in the
                    // meantime keeps an extra reference, and such a tenant is not idle.
                    let removed = st
                        .tenants
                        .remove_if(&slug, |_, t| t.last_used_ms() < idle_before && !t.in_use());
                    if let Some((_, t)) = removed {
                        tracing::debug!(tenant = %slug, "stopping idle tenant actor");
                        t.actor().stop(Some("idle".into()));
                        evicted = true;
                    }
                }
                // One sweep later the actors stopped then have dropped their state.
                if std::mem::replace(&mut st.trim_pending, evicted) {
                    tokio::task::spawn_blocking(return_freed_memory);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _me: ActorRef<RegistryMsg>,
        evt: SupervisionEvent,
        st: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, Some(err)),
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            _ => return Ok(()),
        };
        if let Some(slug) = st.by_actor.remove(&cell.get_id()) {
            if let Some(err) = failure {
                tracing::error!(tenant = %slug, error = %err, "tenant actor failed; it restarts on next use");
            }
            // Only forget the map entry if it is still this actor (a successor may be running).
            st.tenants
                .remove_if(&slug, |_, t| t.actor().get_id() == cell.get_id());
        }
        Ok(())
    }
}

fn start_opening(
    me: &ActorRef<RegistryMsg>,
    st: &mut SupervisorState,
    slug: TenantSlug,
    waiters: Vec<RpcReplyPort<Result<Tenant, ServiceError>>>,
) {
    st.next_attempt += 1;
    let attempt = st.next_attempt;
    st.opening
        .insert(slug.clone(), Opening { attempt, waiters });
    let args = st.args.clone();
    let current = st.current.clone();
    let me = me.clone();
    tokio::spawn(async move {
        let res = open_tenant(&args, &current, &slug).await;
        // Fails only when the supervisor is gone (shutdown): nobody is waiting then.
        let _ = me.send_message(RegistryMsg::Opened(slug, attempt, res));
    });
}

async fn spawn_tenant(
    me: &ActorRef<RegistryMsg>,
    st: &mut SupervisorState,
    slug: TenantSlug,
    shared: TenantShared,
) -> Result<Tenant, ServiceError> {
    let shared = Arc::new(shared);
    if !shared.exclusive {
        *shared.feed.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(super::change_feed::follow(&shared, &st.args.feeds));
    }
    let (actor, _join) = Actor::spawn_linked(None, TenantActor, shared.clone(), me.get_cell())
        .await
        .map_err(|e| ServiceError::Internal(format!("spawn tenant actor: {e}")))?;
    st.by_actor.insert(actor.get_id(), slug.clone());
    let tenant = Tenant::new(shared, actor);
    st.tenants.insert(slug, tenant.clone());
    Ok(tenant)
}

/// Loads a tenant's record, binds its database, applies its migrations and loads (or first
/// generates) its signing keys.
async fn open_tenant(
    args: &RegistryArgs,
    current: &DashSet<String>,
    slug: &TenantSlug,
) -> Result<TenantShared, ServiceError> {
    // Before anything of the tenant is read: its feed is followed from a position older than
    // what this open sees.
    let feed_start = args.feeds.start_position();
    let row = store::tenants::get(&args.platform, slug.as_str())
        .await?
        .filter(|r| !r.disabled)
        .ok_or(ServiceError::TenantNotFound)?;
    let db = store::tenant_session(&args.root, slug.as_str()).await?;
    // Migrations are checked once per incarnation of the tenant (its creation time tells a
    // re-created slug apart) per process: a database's migrations only ever go forward, so
    // what this process saw applied stays applied, and the common start is a row read, a
    // session and the keys (issue 28: cold starts).
    let incarnation = format!("{slug}@{}", row.created_at.timestamp_micros());
    let known = current.contains(&incarnation);
    let mut rows = if known {
        store::keys::list(&db).await?
    } else {
        Vec::new()
    };
    // A known incarnation always has keys (made on its first open, never all deleted): none
    // means its database is not the one this process saw (deleted meanwhile, and selecting
    // it made an empty one), so the full check runs.
    if !known || rows.is_empty() {
        current.remove(&incarnation);
        // Deleted while its migrations ran (they would have recreated the database):
        // remove what they wrote, so a deleted tenant leaves nothing behind.
        if migrate::apply(&db, migrate::TENANT).await?
            && store::tenants::get(&args.platform, slug.as_str())
                .await?
                .is_none()
        {
            store::tenants::remove_database(&args.root, slug.as_str()).await?;
            return Err(ServiceError::TenantNotFound);
        }
        current.insert(incarnation);
        rows = store::keys::list(&db).await?;
    }
    let alg = Algorithm::parse(&row.algorithm).unwrap_or(Algorithm::EdDSA);
    let now = args.clock.now();
    let loaded = KeySet::load(alg, slug.as_str(), &rows, &args.secrets, now)?;
    if loaded.as_ref().is_none_or(|k| !k.has_signer(alg)) {
        // No key of the tenant's algorithm (a new tenant, or ALGORITHM changed): make one.
        // When keys of another algorithm are signing access tokens, the new one is published
        // first and takes over after the JWKS cache time, like any rotation; the old keys
        // keep verifying their tokens until those expire.
        let access_algs: Vec<String> = rows
            .iter()
            .filter(|r| r.revoked_at.is_none() && r.retired_at.is_none())
            .filter(|r| r.alg != Algorithm::RS256.as_str() || alg == Algorithm::RS256)
            .map(|r| r.alg.clone())
            .collect();
        let activates = (!access_algs.is_empty())
            .then(|| now + chrono::Duration::seconds(KEY_PUBLISH_AHEAD_SECONDS));
        let key = generate_key(alg, slug.as_str(), &args.secrets, now, activates);
        store::keys::rotate(&db, vec![key], access_algs, false, now).await?;
        rows = store::keys::list(&db).await?;
    }
    let keys = KeySet::load(alg, slug.as_str(), &rows, &args.secrets, now)?
        .ok_or_else(|| ServiceError::Internal("generated key does not load".into()))?;
    Ok(TenantShared {
        slug: slug.clone(),
        row: RwLock::new(Arc::new(row)),
        db,
        keys: RwLock::new(Arc::new(keys)),
        secrets: args.secrets.clone(),
        clock: args.clock.clone(),
        last_used_ms: now.timestamp_millis().into(),
        gone: false.into(),
        exclusive: args.exclusive_store,
        feed: Default::default(),
        feed_start,
        cache: AuthCache::new(args.exclusive_store, args.cache_max_age),
    })
}

impl TenantRegistry {
    /// Starts the supervisor.
    pub async fn start(args: RegistryArgs) -> Result<Self, ServiceError> {
        let tenants = Arc::new(DashMap::new());
        let clock = args.clock.clone();
        let shared_store = (!args.exclusive_store).then(|| args.platform.clone());
        let (feeds, max_age) = (args.feeds.clone(), args.cache_max_age);
        let (supervisor, _join) = Actor::spawn(None, Supervisor, (args, tenants.clone()))
            .await
            .map_err(|e| ServiceError::Internal(format!("spawn registry: {e}")))?;
        let registry = Self {
            tenants,
            supervisor,
            clock,
            follower: Default::default(),
            feeds: feeds.clone(),
        };
        if let Some(platform) = shared_store {
            let task =
                super::change_feed::follow_tenants(platform, registry.clone(), feeds, max_age);
            *registry.follower.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        }
        Ok(registry)
    }

    /// The change feeds' gaps since start, for `/readyz` (none with an embedded engine).
    pub fn feed_gaps(&self) -> Option<String> {
        self.feeds.gap_report()
    }

    /// The running tenant for `slug`, started on first use; `TenantNotFound` if it does not exist.
    pub async fn get(&self, slug: &TenantSlug) -> Result<Tenant, ServiceError> {
        // Fast path: clone out of the map and drop the guard before any await.
        let running = self.tenants.get(slug).map(|t| t.clone());
        let tenant = match running {
            Some(t) => t,
            None => call_t!(
                self.supervisor,
                RegistryMsg::GetOrSpawn,
                CALL_TIMEOUT_MS,
                slug.clone()
            )
            .map_err(|e| ServiceError::Unavailable(format!("tenant registry: {e}")))??,
        };
        tenant.touch(self.clock.now().timestamp_millis());
        Ok(tenant)
    }

    /// Stops a tenant's actor at once; the next request starts a fresh one (or finds the
    /// tenant gone). With `gone` (deleted or disabled), requests still holding the old
    /// handle answer `TENANT_NOT_FOUND` instead of reaching its database.
    pub async fn evict(&self, slug: &TenantSlug, gone: bool) {
        let _ = call_t!(
            self.supervisor,
            RegistryMsg::Evict,
            CALL_TIMEOUT_MS,
            slug.clone(),
            gone
        );
    }

    /// Number of running tenant actors.
    pub fn running(&self) -> usize {
        self.tenants.len()
    }

    /// The tenant if its actor is running here (no start).
    pub fn running_tenant(&self, slug: &TenantSlug) -> Option<Tenant> {
        self.tenants.get(slug).map(|t| t.clone())
    }

    /// The slugs of the tenants running here.
    pub fn running_slugs(&self) -> Vec<TenantSlug> {
        self.tenants.iter().map(|t| t.key().clone()).collect()
    }

    /// Stops every tenant actor and the supervisor, waiting until their database sessions are
    /// released (so an embedded database can be reopened by another server).
    pub async fn shutdown(&self) {
        let follower = self
            .follower
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(f) = follower {
            f.abort();
            let _ = f.await;
        }
        let actors: Vec<_> = self
            .tenants
            .iter()
            .map(|t| t.value().actor().clone())
            .collect();
        self.tenants.clear();
        for a in actors {
            let _ = a.stop_and_wait(None, None).await;
        }
        let _ = self.supervisor.stop_and_wait(None, None).await;
    }
}

impl Tenant {
    fn touch(&self, now_ms: i64) {
        self.shared()
            .last_used_ms
            .fetch_max(now_ms, Ordering::Relaxed);
    }

    fn last_used_ms(&self) -> i64 {
        self.shared().last_used_ms.load(Ordering::Relaxed)
    }

    /// Handles outside the map and the actor mean a request is using the tenant right now.
    fn in_use(&self) -> bool {
        Arc::strong_count(self.shared()) > 2
    }
}

/// Gives the heap's free memory back to the system (glibc's `malloc_trim`). Evicting idle
/// tenants frees what they held, but glibc keeps freed pages in its arenas, so a node that
/// once had many tenants running would keep their peak resident for good: measured with
/// 1,000 tenants touched once and evicted, the resident growth per tenant was mostly such
/// pages (issue 28; figures in the benchmark's tenants stage). Called once after a sweep
/// that stopped tenants, off the async threads (it walks the arenas).
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}
