//! The one door to SurrealDB. Every statement latchkey sends goes through [`Db::query`], which
//! runs it on the engine this process opened (embedded, or a SurrealDB server), looks at every
//! statement's result, retries transaction conflicts, and turns engine I/O errors into the
//! store's sticky failure ([`Health`]): `/readyz` reports it and later writes are refused
//! until the process has reopened the store.

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use surrealdb::engine::local::Db as Local;
use surrealdb::method::IntoVariables;
use surrealdb::opt::QueryResult;
use surrealdb::types::{Object, QueryError, SurrealValue, Variables};

use super::{StoreError, StoreResult};

/// How often selecting a namespace and database is retried after a transaction conflict
/// (10, 20, 40, 80, 160 ms apart: a racing definition commits within that).
const SELECT_RETRIES: u32 = 5;

/// Results of a query, one per statement (the SDK's type).
pub type Response = surrealdb::IndexedResults;

/// How often a statement that lost a transaction conflict is run again. Every write latchkey
/// sends is one transaction whose conditions are evaluated inside it (a token is spent only if
/// still unused, a user is created only if the unique indexes allow), so running a conflicted
/// transaction again decides it afresh: the retry can never apply a change twice.
///
/// 12 rounds of the jittered back-off below wait 0.5 to 1 s in all. With 8 (up to 0.5 s), a
/// `createTenant` on a SurrealDB server, two other nodes and other tests on the same two
/// cores, answered `SERVICE_UNAVAILABLE` once in CI; its log was not kept, and conflict rounds
/// used up are the likeliest cause (its migrations and first admin are large transactions,
/// and a competing one holds its keys longer under load). The cluster tests now print the
/// node's log when that happens.
const CONFLICT_RETRIES: u32 = 12;

/// Longest a query to a SurrealDB server may take before its request is answered
/// `SERVICE_UNAVAILABLE`. A lost server is noticed sooner, by the link watch; this bounds a
/// server that accepts connections but does not answer.
const REMOTE_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A session on the engine: embedded (a datastore this process owns and closes) or remote.
/// Shared by the clones of a [`Db`]: cloning an SDK handle opens a new session, and on a
/// SurrealDB server a new session replays the root sign-in (an argon2 verification on the
/// server, holding up the connection's other requests meanwhile), which made every clone of
/// a tenant's `Db` cost milliseconds.
#[derive(Clone)]
enum Session {
    Local(Arc<Surreal<Local>>),
    Remote(Arc<Pooled>),
}

/// A database session bound to a namespace and database, sharing the store's [`Health`].
/// Its clones share the session; [`Db::bound_to`] and [`Db::in_namespace`] open new ones.
#[derive(Clone)]
pub struct Db {
    session: Session,
    health: Arc<Health>,
    spares: Arc<Spares>,
}

/// Sessions a SurrealDB server's store keeps for reuse, at most.
const SPARE_SESSIONS: usize = 64;
/// Times a session is bound to another database before it is closed instead: each binding
/// adds a `use` to what the SDK replays, one round trip each, after a reconnection (and a
/// replayed `use` of a deleted tenant's database makes it again, empty).
const SESSION_REUSES: u32 = 8;

/// SurrealDB server only: sessions whose last user is gone (a tenant evicted, an outbox scan
/// done with a tenant), kept signed in for the next one, which then costs a `use` instead of
/// a sign-in (issue 28: cold starts; measured on debug builds, a tenant start over a server
/// took 44 ms over its warm request with a new session, 8 ms with a spare). Bounded by
/// [`SPARE_SESSIONS`].
#[derive(Default)]
struct Spares {
    ready: std::sync::Mutex<Vec<(Surreal<Any>, u32)>>,
}

impl Spares {
    fn take(&self) -> Option<(Surreal<Any>, u32)> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }
}

/// A SurrealDB server session that goes back to its store's spares when dropped.
struct Pooled {
    session: Option<Surreal<Any>>,
    /// How many databases it was bound to so far.
    uses: u32,
    spares: std::sync::Weak<Spares>,
}

impl std::ops::Deref for Pooled {
    type Target = Surreal<Any>;
    fn deref(&self) -> &Surreal<Any> {
        self.session
            .as_ref()
            .expect("a pooled session is present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let (Some(session), Some(spares)) = (self.session.take(), self.spares.upgrade()) else {
            return;
        };
        if self.uses < SESSION_REUSES {
            let mut ready = spares.ready.lock().unwrap_or_else(|p| p.into_inner());
            if ready.len() < SPARE_SESSIONS {
                ready.push((session, self.uses));
            }
        }
    }
}

/// Whether the store can still be trusted with writes. Set once, by the first engine I/O
/// error (full disk, read-only remount, EIO): after a failed write the engine's log may hold a
/// torn record, and RocksDB itself refuses writes until it is reopened, so nothing written
/// later could be acknowledged honestly. Reads that the engine still serves keep working.
///
/// For a SurrealDB server there is a second, passing state: whether the server answers at all
/// ([`Health::link_up`]), kept by the link watch (`store::link`). While it is down every
/// query fails at once with `Unavailable` instead of waiting for the SDK's reconnection.
#[derive(Debug)]
pub struct Health {
    failure: OnceLock<String>,
    link: tokio::sync::watch::Sender<Link>,
}

/// The connection to a SurrealDB server as the link watch last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The server answered the last probe.
    pub up: bool,
    /// Incremented every time the link comes back: whatever a node learns from the server's
    /// change notifications was missed meanwhile, so caches are flushed and subscriptions
    /// renewed for each new epoch.
    pub epoch: u64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            failure: OnceLock::new(),
            link: tokio::sync::watch::Sender::new(Link { up: true, epoch: 0 }),
        }
    }
}

impl Health {
    /// Whether the store's server answers (always, for embedded engines).
    pub fn link_up(&self) -> bool {
        self.link.borrow().up
    }

    /// The link state, to wait on.
    pub fn link(&self) -> tokio::sync::watch::Receiver<Link> {
        self.link.subscribe()
    }

    /// Waits until the link is down or a new epoch began after `epoch` (the receiver's guard
    /// is not kept across the wait, so the future stays `Send`).
    pub async fn link_changed(rx: &mut tokio::sync::watch::Receiver<Link>, epoch: u64) {
        let _ = rx.wait_for(|l| !l.up || l.epoch != epoch).await.map(drop);
    }

    /// Waits until the link is up; `false` if the store is gone.
    pub async fn link_restored(rx: &mut tokio::sync::watch::Receiver<Link>) -> bool {
        rx.wait_for(|l| l.up).await.map(drop).is_ok()
    }

    /// Records a probe's outcome (the link watch).
    pub(super) fn set_link(&self, up: bool) {
        self.link.send_if_modified(|l| {
            if l.up == up {
                return false;
            }
            if up {
                l.epoch += 1;
                tracing::warn!(epoch = l.epoch, "SurrealDB server reachable again");
            } else {
                tracing::error!(
                    "SurrealDB server unreachable: requests answer SERVICE_UNAVAILABLE"
                );
            }
            l.up = up;
            true
        });
    }

    /// The I/O error that failed the store, if one did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    fn fail(&self, reason: &str) {
        if self.failure.set(reason.to_string()).is_ok() {
            tracing::error!(error = %reason, "store I/O error: refusing writes until latchkey is restarted on a healthy disk");
        }
    }
}

impl Db {
    pub(super) fn local(db: Surreal<Local>, health: Arc<Health>) -> Self {
        Self {
            session: Session::Local(Arc::new(db)),
            health,
            spares: Default::default(),
        }
    }

    pub(super) fn remote(db: Surreal<Any>, health: Arc<Health>) -> Self {
        Self {
            session: Session::Remote(Arc::new(Pooled {
                session: Some(db),
                uses: 0,
                spares: std::sync::Weak::new(),
            })),
            health,
            spares: Default::default(),
        }
    }

    /// A session of its own on the same engine: for a SurrealDB server a spare if there is
    /// one, else a new one (its sign-in replayed).
    fn fresh(&self) -> Session {
        match &self.session {
            Session::Local(s) => Session::Local(Arc::new(Surreal::clone(s))),
            Session::Remote(s) => {
                let (session, uses) = self.spares.take().unwrap_or_else(|| (Surreal::clone(s), 0));
                Session::Remote(Arc::new(Pooled {
                    session: Some(session),
                    uses: uses + 1,
                    spares: Arc::downgrade(&self.spares),
                }))
            }
        }
    }

    /// The store's health, shared by every session.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// A new session on the same engine bound to `ns`/`db`.
    pub async fn bound_to(&self, ns: &str, db: &str) -> StoreResult<Db> {
        let session = self.fresh();
        // Selecting a namespace and database defines them when they are new: nodes starting
        // at once on a fresh server define the same ones in racing transactions, and the
        // losers' conflict ("can be retried") is retried here rather than failing start-up.
        let mut attempt = 0;
        loop {
            let selected = match &session {
                Session::Local(s) => s.use_ns(ns).use_db(db).await,
                Session::Remote(s) => s.use_ns(ns).use_db(db).await,
            }
            .map_err(|e| self.classify(e));
            match selected {
                Err(StoreError::Busy(_)) if attempt < SELECT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                other => {
                    other?;
                    break;
                }
            }
        }
        Ok(Db {
            session,
            health: self.health.clone(),
            spares: self.spares.clone(),
        })
    }

    /// A new session on the same engine in namespace `ns`, no database selected (selecting
    /// one defines it).
    pub async fn in_namespace(&self, ns: &str) -> StoreResult<Db> {
        let session = self.fresh();
        match &session {
            Session::Local(s) => s.use_ns(ns).await,
            Session::Remote(s) => s.use_ns(ns).await,
        }
        .map_err(|e| self.classify(e))?;
        Ok(Db {
            session,
            health: self.health.clone(),
            spares: self.spares.clone(),
        })
    }

    /// Whether the server answers a trivial query within `within` (the link watch's probe;
    /// it bypasses the fail-fast check of [`Db::query`], which it decides).
    pub(super) async fn probe(&self, within: Duration) -> bool {
        match &self.session {
            Session::Local(_) => true,
            Session::Remote(s) => matches!(
                tokio::time::timeout(within, s.query("RETURN 1")).await,
                Ok(Ok(_))
            ),
        }
    }

    /// The remote session, for live queries (`None` for embedded engines).
    pub(super) fn remote_session(&self) -> Option<&Surreal<Any>> {
        match &self.session {
            Session::Remote(s) => Some(s),
            Session::Local(_) => None,
        }
    }

    /// Signs this session in as a root user (a SurrealDB server).
    pub(super) async fn signin_root(&self, username: String, password: String) -> StoreResult<()> {
        let root = surrealdb::opt::auth::Root { username, password };
        match &self.session {
            Session::Local(s) => s.signin(root).await.map(drop),
            Session::Remote(s) => s.signin(root).await.map(drop),
        }
        .map_err(|e| StoreError::Unavailable(format!("sign-in failed: {}", e.message())))
    }

    /// Writes this session's database as SurrealQL to `path` (embedded engines only).
    pub async fn export_to(&self, path: &std::path::Path) -> StoreResult<()> {
        match &self.session {
            Session::Local(s) => s.export(path).await.map_err(|e| self.classify(e)),
            Session::Remote(_) => Err(StoreError::Other(
                "export needs an embedded engine (rocksdb://, surrealkv://)".into(),
            )),
        }
    }

    /// Runs the SurrealQL file `path` (an export) in this session's database (embedded only).
    pub async fn import_from(&self, path: &std::path::Path) -> StoreResult<()> {
        match &self.session {
            Session::Local(s) => s.import(path).await.map_err(|e| self.classify(e)),
            Session::Remote(_) => Err(StoreError::Other(
                "import needs an embedded engine (rocksdb://)".into(),
            )),
        }
    }

    /// A query: bind its parameters, then `.await` it.
    pub fn query<'a>(&'a self, sql: impl Into<Cow<'a, str>>) -> Query<'a> {
        Query {
            db: self,
            sql: sql.into(),
            vars: Ok(Variables::new()),
        }
    }

    /// Maps an engine error, recording an I/O failure in the store's health.
    fn classify(&self, e: surrealdb::Error) -> StoreError {
        let err = StoreError::from(e);
        if let StoreError::Io(reason) = &err {
            self.health.fail(reason);
            return StoreError::Unavailable(format!("store I/O error: {reason}"));
        }
        err
    }

    async fn run(&self, sql: &str, vars: Variables) -> StoreResult<Response> {
        if let Some(reason) = self.health.failure()
            && writes(sql)
        {
            return Err(StoreError::Unavailable(format!(
                "store failed earlier ({reason}); writes are refused until restart"
            )));
        }
        let mut attempt = 0;
        loop {
            let res = match &self.session {
                Session::Local(s) => s.query(sql).bind(Object::from(vars.clone())).await,
                Session::Remote(s) => {
                    // The SDK queues queries while it reconnects, however long that takes: a
                    // request must instead fail at once when the server is away (and the
                    // query it sent, of unknown outcome, is not acknowledged).
                    let mut link = self.health.link();
                    let Link { up, epoch } = *link.borrow();
                    if !up {
                        return Err(StoreError::Unavailable(
                            "SurrealDB server unreachable".into(),
                        ));
                    }
                    let query = s.query(sql).bind(Object::from(vars.clone()));
                    tokio::select! {
                        res = tokio::time::timeout(REMOTE_QUERY_TIMEOUT, query) => match res {
                            Ok(r) => r,
                            Err(_) => return Err(StoreError::Unavailable(format!(
                                "SurrealDB server gave no answer in {} s", REMOTE_QUERY_TIMEOUT.as_secs()
                            ))),
                        },
                        _ = Health::link_changed(&mut link, epoch) => {
                            return Err(StoreError::Unavailable("connection to the SurrealDB server lost".into()));
                        }
                    }
                }
            };
            let outcome = match res {
                Ok(mut r) => match worst(r.take_errors()) {
                    None => Ok(r),
                    Some(e) => Err(self.classify(e)),
                },
                Err(e) => Err(self.classify(e)),
            };
            match outcome {
                Err(StoreError::Busy(_)) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }
}

/// Jittered exponential back-off: 1, 2, 4 ... ms, so conflicting writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(6);
    let jitter = u64::from(crate::domain::secrets::random_bytes(1)[0]) % base.max(1);
    Duration::from_millis(base + jitter)
}

/// Whether a statement text may write (our SurrealQL is written with upper-case keywords).
fn writes(sql: &str) -> bool {
    [
        "CREATE ", "UPDATE ", "UPSERT ", "DELETE ", "INSERT ", "RELATE ", "DEFINE ", "REMOVE ",
    ]
    .iter()
    .any(|k| sql.contains(k))
}

/// The error that says most about a failed query. A statement that fails inside a transaction
/// makes every other statement answer "not executed due to a failed transaction", and the
/// SDK's own `check` returns whichever comes first; the cause is the one that is not that.
fn worst(errors: std::collections::HashMap<usize, surrealdb::Error>) -> Option<surrealdb::Error> {
    let rank = |e: &surrealdb::Error| {
        let m = e.message();
        if super::is_io_error(m) {
            0
        } else if m.contains("already contains") {
            1
        } else if e.is_thrown() {
            2
        } else if matches!(e.query_details(), Some(QueryError::TransactionConflict))
            || super::is_conflict(m)
        {
            3
        } else if matches!(e.query_details(), Some(QueryError::NotExecuted))
            && m.contains("failed transaction")
        {
            5
        } else {
            4
        }
    };
    let mut errors: Vec<(usize, surrealdb::Error)> = errors.into_iter().collect();
    errors.sort_by_key(|(i, e)| (rank(e), *i));
    errors.into_iter().next().map(|(_, e)| e)
}

/// A query being built; `.await` runs it.
pub struct Query<'a> {
    db: &'a Db,
    sql: Cow<'a, str>,
    vars: Result<Variables, surrealdb::Error>,
}

impl Query<'_> {
    /// Binds parameters: a `(name, value)` pair or a struct/object of them.
    pub fn bind(mut self, vars: impl IntoVariables) -> Self {
        self.vars = match (self.vars, vars.into_variables()) {
            (Ok(mut a), Ok(b)) => {
                a.extend(b);
                Ok(a)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        self
    }

    // What the store modules do with an answer, each once here instead of as the same two or
    // three lines after every query.

    /// Runs the query for its effect alone.
    pub async fn exec(self) -> StoreResult<()> {
        self.await.map(drop)
    }

    /// Runs the query and decodes one statement's result: `0` (as `Option<T>` or `Vec<T>`),
    /// or a field of it (`(0, "id")`).
    pub async fn take<R: SurrealValue>(self, index: impl QueryResult<R>) -> StoreResult<R> {
        let mut res = self.await?;
        Ok(res.take(index)?)
    }

    /// Runs the query and decodes its last statement's result: what a transaction reads back
    /// after its commit, however the engine numbers the statements of the transaction.
    pub async fn take_last<R: SurrealValue>(self) -> StoreResult<R>
    where
        usize: QueryResult<R>,
    {
        let mut res = self.await?;
        let last = res.num_statements().saturating_sub(1);
        Ok(res.take(last)?)
    }

    /// Runs a `SELECT count() AS n ... GROUP ALL`: its `n`, 0 when nothing matched (the
    /// grouping then answers no row at all).
    pub async fn count(self) -> StoreResult<usize> {
        let n: Option<i64> = self.take((0, "n")).await?;
        Ok(n.unwrap_or(0) as usize)
    }

    /// Runs a write that returns what it changed (`UPDATE ... WHERE ... RETURN AFTER`, `DELETE
    /// ... RETURN BEFORE`): whether its first statement returned a row, i.e. whether anything
    /// matched (for a conditional write: whether its condition still held).
    pub async fn changed(self) -> StoreResult<bool> {
        let rows: Vec<surrealdb::types::Value> = self.take(0).await?;
        Ok(!rows.is_empty())
    }

    /// Runs a transaction that `THROW`s when its precondition is false: `false` then (enrolled,
    /// spent or gone meanwhile) instead of the error.
    pub async fn applied(self) -> StoreResult<bool> {
        match self.await {
            Ok(_) => Ok(true),
            Err(StoreError::Precondition(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl<'a> IntoFuture for Query<'a> {
    type Output = StoreResult<Response>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let vars = self.vars.map_err(StoreError::from)?;
            self.db.run(&self.sql, vars).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_statements_are_recognised() {
        assert!(writes(
            "BEGIN TRANSACTION; UPDATE $rid SET a = 1; COMMIT TRANSACTION;"
        ));
        assert!(writes("DELETE $rid"));
        assert!(!writes("SELECT VALUE version FROM migration"));
        assert!(!writes(
            "SELECT record::id(id) AS id FROM session WHERE user = $user"
        ));
    }
}
