//! `TenantActor`: owns a tenant's database session and serializes its state changes (user
//! creation, sessions, rotation, revocation, password changes), so two requests of one tenant
//! never race inside a node. Reads go straight to the database through [`Tenant`].
//! Across processes correctness still rests on the database: unique indexes and conditional
//! updates inside transactions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, call_t};

use super::CALL_TIMEOUT_MS;
use super::auth_cache::AuthCache;
use crate::clock::Clock;
use crate::error::ServiceError;
use crate::service::domain::TenantSlug;
use crate::service::lockout::{Admission, IN_FLIGHT_TTL_SECS, LockoutPolicy};
use crate::service::secrets::Secrets;
use crate::service::tokens::KeySet;
use crate::store::keys::{self, KeyRow};
use crate::store::login_throttle;
use crate::store::one_time_tokens::{self, NewToken};
use crate::store::outbox::QueuedMail;
use crate::store::sessions::{self, NewSession, Rotation, SessionRow};
use crate::store::tenants::TenantRow;
use crate::store::users::{self, NewUser, UserRow};
use crate::store::{Db, StoreError, StoreResult};

/// Most rotations one transaction carries; more wait for the next.
const MAX_ROTATION_BATCH: usize = 64;
/// Login attempts on one account that may wait for a verdict in flight; more are refused
/// with `RATE_LIMITED` (bounded memory, however many arrive).
const MAX_WAITING_LOGINS: usize = 64;
/// How long such an attempt waits before it is refused with `RATE_LIMITED`. A verdict takes
/// one password hash (tens of milliseconds); this covers many rounds of them under load.
const LOGIN_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// What every request of a tenant needs, shared by the handle and the actor.
pub struct TenantShared {
    /// The tenant's slug.
    pub slug: TenantSlug,
    /// Its platform record (settings); replaced whole when an admin changes them.
    pub row: RwLock<Arc<TenantRow>>,
    /// A session bound to the tenant's database.
    pub db: Db,
    /// Decrypted signing keys; replaced whole on rotation.
    pub keys: RwLock<Arc<KeySet>>,
    /// Derived secrets (to open rotated keys).
    pub secrets: Arc<Secrets>,
    /// The server clock.
    pub clock: Clock,
    /// Last request time (server clock, ms), for idle eviction.
    pub last_used_ms: AtomicI64,
    /// Sessions and users read by Bearer authentication; the actor invalidates it.
    pub cache: AuthCache,
    /// Set when the tenant was deleted or disabled while this handle was out.
    pub gone: AtomicBool,
    /// Whether this process is the store's only writer (an embedded engine). Otherwise other
    /// nodes share the database, and login attempts in flight are reserved there.
    pub exclusive: bool,
    /// Shared store: the task following other nodes' writes (aborted with this state).
    pub feed: std::sync::Mutex<Option<super::change_feed::FeedGuard>>,
}

/// A cheap, cloneable handle to a running tenant.
#[derive(Clone)]
pub struct Tenant {
    shared: Arc<TenantShared>,
    actor: ActorRef<TenantMsg>,
}

/// How a login attempt ended, for the failure counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginVerdict {
    /// Right password: the counter resets.
    Success,
    /// Wrong password or unknown account: one more failure.
    Failure,
    /// No verdict (e.g. the hashing pool was full): the attempt just stops being in flight.
    Abandoned,
    /// A password reset: the counter resets; attempts in flight are left alone.
    Reset,
}

/// A lock that a failure started: consecutive failures and its length.
pub type LockStarted = Option<(i64, Duration)>;

/// The tenant actor's messages.
pub enum TenantMsg {
    /// May a login attempt on this account key verify a password now? Admitted attempts are
    /// in flight until their verdict arrives.
    LoginAdmit(
        String,
        LockoutPolicy,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<Admission>>,
    ),
    /// The verdict of an admitted attempt (or a reset).
    LoginVerdict(
        String,
        LoginVerdict,
        LockoutPolicy,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<LockStarted>>,
    ),
    /// Insert a user (with its verification token and mail).
    CreateUser(
        String,
        Box<NewUser>,
        Option<(NewToken, QueuedMail)>,
        RpcReplyPort<StoreResult<UserRow>>,
    ),
    /// Issue a reset or verification token and queue its mail.
    IssueToken(
        String,
        NewToken,
        Box<QueuedMail>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<()>>,
    ),
    /// Spend a reset token: new password, all sessions revoked, notice queued.
    ConsumeReset(
        String,
        String,
        String,
        Box<QueuedMail>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<()>>,
    ),
    /// Disable or enable a user (disabling revokes its sessions).
    SetDisabled(
        String,
        bool,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<Option<UserRow>>>,
    ),
    /// Replace a user's roles.
    SetRoles(
        String,
        Vec<String>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<Option<UserRow>>>,
    ),
    /// Delete a user and everything that belongs to it.
    DeleteUser(String, RpcReplyPort<StoreResult<bool>>),
    /// Install a new signing key; the previous ones keep verifying until their tokens expire.
    RotateKey(
        Vec<KeyRow>,
        bool,
        RpcReplyPort<Result<String, ServiceError>>,
    ),
    /// Make sure a key of this algorithm signs (the tenant's first RSA key, for id_tokens).
    EnsureKey(
        crate::config::Algorithm,
        RpcReplyPort<Result<(), ServiceError>>,
    ),
    /// Spend a verification token: address confirmed.
    ConsumeVerify(String, String, DateTime<Utc>, RpcReplyPort<StoreResult<()>>),
    /// Start a session with its first refresh token; records the login time.
    CreateSession(Box<NewSession>, RpcReplyPort<StoreResult<()>>),
    /// Rotate a refresh token. Queued, not applied at once: see [`TenantState::rotations`].
    Rotate(Box<Rotation>, RpcReplyPort<StoreResult<()>>),
    /// Apply the queued rotations (the actor sends this to itself).
    FlushRotations,
    /// Refuse login attempts on this account key that waited too long (sent to itself).
    ExpireLoginWaiters(String),
    /// Waiting attempts of this account try again (shared store: the verdicts that free the
    /// budget may come from other nodes, which send no message here).
    RetryLoginWaiters(String),
    /// Revoke one session.
    RevokeSession(
        String,
        &'static str,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<bool>>,
    ),
    /// Revoke a user's sessions except one.
    RevokeAll(
        String,
        Option<String>,
        &'static str,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<usize>>,
    ),
    /// Set a password hash and revoke the user's other sessions.
    SetPassword(
        String,
        String,
        Option<String>,
        DateTime<Utc>,
        RpcReplyPort<StoreResult<usize>>,
    ),
}

/// The actor itself; its state is the shared tenant plus the login attempts in flight.
pub struct TenantActor;

/// A login attempt waiting for admission.
struct Waiter {
    policy: LockoutPolicy,
    since: std::time::Instant,
    reply: RpcReplyPort<StoreResult<Admission>>,
}

/// The actor's state.
pub struct TenantState {
    shared: Arc<TenantShared>,
    /// Admission instants of login attempts awaiting their verdict, per account key. Memory
    /// only: after a restart no attempt of the old incarnation can report back anyway.
    in_flight: HashMap<String, Vec<DateTime<Utc>>>,
    /// Attempts that found the account's budget taken by attempts in flight, oldest first;
    /// admitted as verdicts arrive.
    waiting: HashMap<String, std::collections::VecDeque<Waiter>>,
    /// Rotations received but not yet written. Every rotation is a commit, and a commit is an
    /// fsync; rotations that pile up in the mailbox while one commit runs go to the database
    /// together in the next, so a tenant's refresh rate is not one fsync per request. The
    /// queue is written before any other message is handled, so the order of writes seen by
    /// the rest of the tenant is the order of the mailbox.
    rotations: Vec<(Rotation, RpcReplyPort<StoreResult<()>>)>,
    /// Shared store: ids of this node's reservations in the database, per account key (the
    /// verdict of any of its attempts removes one of them; they are interchangeable).
    reservations: HashMap<String, Vec<String>>,
    /// Shared store: accounts with a retry of their waiting attempts already scheduled.
    retry_scheduled: std::collections::HashSet<String>,
    /// Exclusive store: accounts known to have no failure row (read so at admission, or
    /// cleared since), whose successful login therefore has nothing to delete. This actor is
    /// the only writer of the rows then, so it knows; a delete of an absent row still cost a
    /// commit and an fsync on every successful login. Forgotten wholesale past
    /// [`MAX_CLEAN_ACCOUNTS`] (then the next success of each deletes once, as before).
    clean_accounts: std::collections::HashSet<String>,
}

/// Bound on [`TenantState::clean_accounts`].
const MAX_CLEAN_ACCOUNTS: usize = 50_000;

/// How long waiting attempts wait before trying again when the store is shared.
const SHARED_RETRY: Duration = Duration::from_millis(20);
/// Compare-and-set rounds before an admission or verdict gives up (`Busy`, retried by the
/// caller as a transaction conflict). Each lost round means another node wrote in between.
const CAS_ROUNDS: u32 = 64;

impl TenantState {
    /// Admission against the database (shared store): the account's row holds every node's
    /// attempts in flight, and a reservation is added only by a compare-and-set write, so of
    /// two nodes deciding at once one decides again on what the other wrote.
    async fn admit_shared(
        &mut self,
        key: &str,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<Admission> {
        let db = &self.shared.db;
        let stale = now - chrono::Duration::seconds(IN_FLIGHT_TTL_SECS);
        for _ in 0..CAS_ROUNDS {
            let mut row = login_throttle::get_shared(db, key).await?;
            row.reserved.retain(|r| r.at > stale);
            match policy.admit(&row.throttle(), row.reserved.len() as u32, now) {
                Admission::Admitted => {
                    let id = uuid::Uuid::new_v4().to_string();
                    row.reserved.push(login_throttle::Reservation {
                        id: id.clone(),
                        at: now,
                    });
                    if login_throttle::put_shared_if(db, key, &row, now).await? {
                        self.reservations
                            .entry(key.to_string())
                            .or_default()
                            .push(id);
                        return Ok(Admission::Admitted);
                    }
                }
                other => return Ok(other),
            }
        }
        Err(StoreError::Busy(
            "login admission kept losing to other nodes".into(),
        ))
    }

    /// The verdict against the database (shared store): this node's reservation goes, the
    /// failure state changes as the policy says, in one compare-and-set write.
    async fn verdict_shared(
        &mut self,
        key: &str,
        verdict: LoginVerdict,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<LockStarted> {
        let mine = if verdict == LoginVerdict::Reset {
            None
        } else {
            let v = self.reservations.get_mut(key).and_then(|v| v.pop());
            if self.reservations.get(key).is_some_and(|v| v.is_empty()) {
                self.reservations.remove(key);
            }
            v
        };
        let db = &self.shared.db;
        let stale = now - chrono::Duration::seconds(IN_FLIGHT_TTL_SECS);
        for _ in 0..CAS_ROUNDS {
            let mut row = login_throttle::get_shared(db, key).await?;
            row.reserved
                .retain(|r| r.at > stale && Some(&r.id) != mine.as_ref());
            let mut lock = None;
            match verdict {
                LoginVerdict::Abandoned => {}
                LoginVerdict::Success | LoginVerdict::Reset => {
                    row.failures = 0;
                    row.locked_until = None;
                }
                LoginVerdict::Failure => {
                    let (next, started) = policy.fail(&row.throttle(), now);
                    row.failures = next.failures;
                    row.locked_until = next.locked_until;
                    lock = started.map(|d| (next.failures, d));
                }
            }
            if login_throttle::put_shared_if(db, key, &row, now).await? {
                return Ok(lock);
            }
        }
        Err(StoreError::Busy(
            "login verdict kept losing to other nodes".into(),
        ))
    }

    /// Queues an attempt that found the budget taken; `false` when the queue is full.
    fn enqueue(
        &mut self,
        me: &ActorRef<TenantMsg>,
        key: String,
        policy: LockoutPolicy,
        reply: RpcReplyPort<StoreResult<Admission>>,
    ) -> Option<RpcReplyPort<StoreResult<Admission>>> {
        let queue = self.waiting.entry(key.clone()).or_default();
        if queue.len() >= MAX_WAITING_LOGINS {
            return Some(reply);
        }
        queue.push_back(Waiter {
            policy,
            since: std::time::Instant::now(),
            reply,
        });
        let k = key.clone();
        me.send_after(LOGIN_QUEUE_WAIT, move || TenantMsg::ExpireLoginWaiters(k));
        if !self.shared.exclusive && self.retry_scheduled.insert(key.clone()) {
            me.send_after(SHARED_RETRY, move || TenantMsg::RetryLoginWaiters(key));
        }
        None
    }

    /// Attempts of `key` still in flight, dropping reservations that never reported back.
    fn live_in_flight(&mut self, key: &str, now: DateTime<Utc>) -> u32 {
        let stale = now - chrono::Duration::seconds(IN_FLIGHT_TTL_SECS);
        let Some(v) = self.in_flight.get_mut(key) else {
            return 0;
        };
        v.retain(|t| *t > stale);
        let n = v.len() as u32;
        if n == 0 {
            self.in_flight.remove(key);
        }
        n
    }

    /// Remembers that `key` has no failure row (see [`TenantState::clean_accounts`]).
    fn note_clean(&mut self, key: &str) {
        if self.clean_accounts.len() >= MAX_CLEAN_ACCOUNTS {
            self.clean_accounts.clear();
        }
        self.clean_accounts.insert(key.to_string());
    }

    /// Writes the queued rotations in one transaction and answers their callers.
    async fn flush_rotations(&mut self) {
        if self.rotations.is_empty() {
            return;
        }
        let (batch, replies): (Vec<Rotation>, Vec<_>) =
            std::mem::take(&mut self.rotations).into_iter().unzip();
        let result = sessions::rotate_batch(&self.shared.db, &batch).await;
        // A touched session's cached row holds the old `last_seen_at`; read it again.
        for r in batch.iter().filter(|r| r.touch_session) {
            self.shared.cache.forget_session(&r.old.session);
        }
        match result {
            Ok(done) => {
                for (ok, reply) in done.into_iter().zip(replies) {
                    let _ = reply.send(if ok {
                        Ok(())
                    } else {
                        Err(StoreError::Precondition(
                            "refresh token already used".into(),
                        ))
                    });
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Admits waiting attempts of `key` while the account's budget allows; refuses them all
    /// once the account is locked.
    async fn admit_waiting(&mut self, key: &str, now: DateTime<Utc>) {
        if self.waiting.get(key).is_none_or(|w| w.is_empty()) {
            return;
        }
        let row = if self.shared.exclusive {
            Some(login_throttle::get(&self.shared.db, key).await)
        } else {
            None
        };
        loop {
            let Some(next) = self.waiting.get(key).and_then(|q| q.front()) else {
                self.waiting.remove(key);
                return;
            };
            let policy = next.policy;
            let admission = match &row {
                Some(Ok(row)) => {
                    let in_flight = self.live_in_flight(key, now);
                    let a = policy.admit(row, in_flight, now);
                    if a == Admission::Admitted {
                        self.in_flight.entry(key.to_string()).or_default().push(now);
                    }
                    Ok(a)
                }
                Some(Err(e)) => Err(e.clone()),
                None => self.admit_shared(key, &policy, now).await,
            };
            match admission {
                Ok(Admission::Busy) => return,
                Ok(Admission::Admitted) => {
                    let w = self
                        .waiting
                        .get_mut(key)
                        .and_then(|q| q.pop_front())
                        .expect("front exists");
                    let _ = w.reply.send(Ok(Admission::Admitted));
                }
                other => {
                    for w in self.waiting.remove(key).unwrap_or_default() {
                        let _ = w.reply.send(other.clone());
                    }
                    return;
                }
            }
        }
    }

    fn finish_in_flight(&mut self, key: &str) {
        if let Some(v) = self.in_flight.get_mut(key) {
            v.pop();
            if v.is_empty() {
                self.in_flight.remove(key);
            }
        }
    }
}

impl Actor for TenantActor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = Arc<TenantShared>;

    async fn pre_start(
        &self,
        _me: ActorRef<TenantMsg>,
        shared: Arc<TenantShared>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(TenantState {
            shared,
            in_flight: HashMap::new(),
            waiting: HashMap::new(),
            rotations: Vec::new(),
            reservations: HashMap::new(),
            retry_scheduled: Default::default(),
            clean_accounts: Default::default(),
        })
    }

    async fn handle(
        &self,
        me: ActorRef<TenantMsg>,
        msg: TenantMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !matches!(msg, TenantMsg::Rotate(..) | TenantMsg::FlushRotations) {
            state.flush_rotations().await;
        }
        let shared = state.shared.clone();
        let db = &shared.db;
        // A closed reply port means the caller timed out; the write happened regardless.
        match msg {
            TenantMsg::LoginAdmit(key, policy, now, reply) => {
                let admission = if shared.exclusive {
                    match login_throttle::get(db, &key).await {
                        Ok(row) => {
                            if row.failures == 0 && row.locked_until.is_none() {
                                state.note_clean(&key);
                            }
                            let in_flight = state.live_in_flight(&key, now);
                            let a = policy.admit(&row, in_flight, now);
                            if a == Admission::Admitted {
                                state.in_flight.entry(key.clone()).or_default().push(now);
                            }
                            Ok(a)
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    state.admit_shared(&key, &policy, now).await
                };
                match admission {
                    Ok(Admission::Busy) => {
                        if let Some(reply) = state.enqueue(&me, key, policy, reply) {
                            let _ = reply.send(Ok(Admission::Locked(policy.base.as_secs().max(1))));
                        }
                    }
                    other => {
                        let _ = reply.send(other);
                    }
                }
            }
            TenantMsg::RetryLoginWaiters(key) => {
                state.retry_scheduled.remove(&key);
                let now = shared.clock.now();
                state.admit_waiting(&key, now).await;
                if state.waiting.get(&key).is_some_and(|w| !w.is_empty())
                    && state.retry_scheduled.insert(key.clone())
                {
                    me.send_after(SHARED_RETRY, move || TenantMsg::RetryLoginWaiters(key));
                }
            }
            TenantMsg::ExpireLoginWaiters(key) => {
                if let Some(queue) = state.waiting.get_mut(&key) {
                    while queue
                        .front()
                        .is_some_and(|w| w.since.elapsed() >= LOGIN_QUEUE_WAIT)
                    {
                        let w = queue.pop_front().expect("front exists");
                        let _ = w
                            .reply
                            .send(Ok(Admission::Locked(w.policy.base.as_secs().max(1))));
                    }
                    if queue.is_empty() {
                        state.waiting.remove(&key);
                    }
                }
            }
            TenantMsg::LoginVerdict(key, verdict, policy, now, reply) => {
                let res = if shared.exclusive {
                    if verdict != LoginVerdict::Reset {
                        state.finish_in_flight(&key);
                    }
                    match verdict {
                        LoginVerdict::Abandoned => Ok(None),
                        LoginVerdict::Success | LoginVerdict::Reset
                            if state.clean_accounts.contains(&key) =>
                        {
                            Ok(None)
                        }
                        LoginVerdict::Success | LoginVerdict::Reset => {
                            let res = login_throttle::clear(db, &key).await;
                            if res.is_ok() {
                                state.note_clean(&key);
                            }
                            res.map(|()| None)
                        }
                        LoginVerdict::Failure => match login_throttle::get(db, &key).await {
                            Ok(row) => {
                                state.clean_accounts.remove(&key);
                                let (row, lock) = policy.fail(&row, now);
                                login_throttle::put(db, &key, &row, now)
                                    .await
                                    .map(|()| lock.map(|d| (row.failures, d)))
                            }
                            Err(e) => Err(e),
                        },
                    }
                } else {
                    state.verdict_shared(&key, verdict, &policy, now).await
                };
                let _ = reply.send(res);
                state.admit_waiting(&key, now).await;
            }
            TenantMsg::CreateUser(id, user, verification, reply) => {
                let _ = reply.send(users::create(db, &id, *user, verification).await);
            }
            TenantMsg::IssueToken(user, token, mail, now, reply) => {
                let _ = reply.send(one_time_tokens::issue(db, &user, token, *mail, now).await);
            }
            // Every arm that writes a user or a session drops it from the auth cache after the
            // write and before the reply, so the caller's next request sees the change.
            TenantMsg::ConsumeReset(token_id, user, hash, notice, now, reply) => {
                let res =
                    one_time_tokens::consume_reset(db, &token_id, &user, hash, *notice, now).await;
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
            TenantMsg::ConsumeVerify(token_id, user, now, reply) => {
                let res = one_time_tokens::consume_verify(db, &token_id, &user, now).await;
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
            TenantMsg::SetDisabled(user, disabled, now, reply) => {
                let res = users::set_disabled(db, &user, disabled, now).await;
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
            TenantMsg::SetRoles(user, roles, now, reply) => {
                let res = users::set_roles(db, &user, roles, now).await;
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
            TenantMsg::DeleteUser(user, reply) => {
                let res = users::delete(db, &user).await;
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
            TenantMsg::EnsureKey(alg, reply) => {
                let _ = reply.send(ensure_key(&shared, alg).await);
            }
            TenantMsg::RotateKey(key, revoke, reply) => {
                let _ = reply.send(rotate_keys(&shared, key, revoke).await);
            }
            TenantMsg::CreateSession(s, reply) => {
                // Records the login time on the user.
                let user = s.user.clone();
                let res = sessions::create(db, *s).await;
                shared.cache.forget_user_row(&user);
                let _ = reply.send(res);
            }
            TenantMsg::Rotate(rotation, reply) => {
                // The flush lands behind every rotation already in the mailbox.
                if state.rotations.is_empty() {
                    me.send_message(TenantMsg::FlushRotations)?;
                }
                state.rotations.push((*rotation, reply));
                if state.rotations.len() >= MAX_ROTATION_BATCH {
                    state.flush_rotations().await;
                }
            }
            TenantMsg::FlushRotations => state.flush_rotations().await,
            TenantMsg::RevokeSession(sid, reason, now, reply) => {
                let res = sessions::revoke(db, &sid, reason, now).await;
                shared.cache.forget_session(&sid);
                let _ = reply.send(res);
            }
            TenantMsg::RevokeAll(user, keep, reason, now, reply) => {
                let res = sessions::revoke_all(db, &user, keep.as_deref(), reason, now).await;
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
            TenantMsg::SetPassword(user, hash, keep, now, reply) => {
                let res = match users::set_password(db, &user, hash, now).await {
                    Ok(()) => {
                        sessions::revoke_all(db, &user, keep.as_deref(), "password_changed", now)
                            .await
                    }
                    Err(e) => Err(e),
                };
                shared.cache.forget_user(&user);
                let _ = reply.send(res);
            }
        }
        Ok(())
    }
}

impl Tenant {
    /// Why a call to the actor failed: the tenant went away, or the actor is overloaded or
    /// stopping.
    fn actor_err<E: std::fmt::Display>(&self) -> impl Fn(E) -> StoreError + '_ {
        move |e| {
            if self.is_gone() {
                StoreError::Missing(format!("tenant {} was removed", self.shared.slug))
            } else {
                StoreError::Unavailable(format!("tenant actor: {e}"))
            }
        }
    }

    /// Whether the tenant was deleted or disabled after this handle was taken.
    pub fn is_gone(&self) -> bool {
        self.shared.gone.load(Ordering::Acquire)
    }

    pub(super) fn mark_gone(&self) {
        self.shared.gone.store(true, Ordering::Release);
    }

    pub(super) fn new(shared: Arc<TenantShared>, actor: ActorRef<TenantMsg>) -> Self {
        Self { shared, actor }
    }

    pub(super) fn actor(&self) -> &ActorRef<TenantMsg> {
        &self.actor
    }

    pub(super) fn shared(&self) -> &Arc<TenantShared> {
        &self.shared
    }

    /// Disables or enables a user.
    pub async fn set_disabled(
        &self,
        user: String,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserRow>> {
        call_t!(
            self.actor,
            TenantMsg::SetDisabled,
            CALL_TIMEOUT_MS,
            user,
            disabled,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Replaces a user's roles.
    pub async fn set_roles(
        &self,
        user: String,
        roles: Vec<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserRow>> {
        call_t!(
            self.actor,
            TenantMsg::SetRoles,
            CALL_TIMEOUT_MS,
            user,
            roles,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Deletes a user.
    pub async fn delete_user(&self, user: String) -> StoreResult<bool> {
        call_t!(self.actor, TenantMsg::DeleteUser, CALL_TIMEOUT_MS, user)
            .map_err(self.actor_err())?
    }

    /// Rotates to `keys` (generated by the caller, one per algorithm); returns the first's
    /// kid. With `revoke`, the keys they replace stop verifying at once.
    pub async fn rotate_keys(
        &self,
        keys: Vec<KeyRow>,
        revoke: bool,
    ) -> Result<String, ServiceError> {
        call_t!(
            self.actor,
            TenantMsg::RotateKey,
            CALL_TIMEOUT_MS,
            keys,
            revoke
        )
        .map_err(self.actor_err())?
    }

    /// Makes sure a key of `alg` signs (see [`TenantMsg::EnsureKey`]); the current key set.
    pub async fn ensure_key(
        &self,
        alg: crate::config::Algorithm,
    ) -> Result<Arc<KeySet>, ServiceError> {
        if !self.keys().has_signer(alg) {
            call_t!(self.actor, TenantMsg::EnsureKey, CALL_TIMEOUT_MS, alg)
                .map_err(self.actor_err())??;
        }
        Ok(self.keys())
    }

    /// The slug.
    pub fn slug(&self) -> &TenantSlug {
        &self.shared.slug
    }

    /// The platform record.
    pub fn row(&self) -> Arc<TenantRow> {
        self.shared.row.read().expect("row lock").clone()
    }

    /// Drops sessions revoked by a write that did not go through the actor (one transaction
    /// of several tables, such as ending a browser sign-in session) from the auth cache.
    pub fn forget_sessions(&self, ids: &[String]) {
        for id in ids {
            self.shared.cache.forget_session(id);
        }
    }

    /// Installs changed settings (already persisted) for the requests that follow.
    pub fn replace_row(&self, row: TenantRow) {
        *self.shared.row.write().expect("row lock") = Arc::new(row);
    }

    /// The tenant's database, for reads.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// A session, from the auth cache or the database.
    pub async fn session(&self, sid: &str) -> StoreResult<Option<SessionRow>> {
        let cache = &self.shared.cache;
        if let Some(hit) = cache.session(sid) {
            return Ok(Some(hit));
        }
        let ticket = cache.ticket();
        let row = sessions::get(&self.shared.db, sid).await?;
        if let Some(r) = &row {
            cache.fill_session(ticket, r);
        }
        Ok(row)
    }

    /// A user, from the auth cache or the database.
    pub async fn user(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let cache = &self.shared.cache;
        if let Some(hit) = cache.user(id) {
            return Ok(Some(hit));
        }
        let ticket = cache.ticket();
        let row = users::get(&self.shared.db, id).await?;
        if let Some(r) = &row {
            cache.fill_user(ticket, r);
        }
        Ok(row)
    }

    /// The current key set.
    pub fn keys(&self) -> Arc<KeySet> {
        self.shared.keys.read().expect("key lock").clone()
    }

    /// Asks whether a login attempt on `key` may verify a password now.
    pub async fn login_admit(
        &self,
        key: String,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<Admission> {
        call_t!(
            self.actor,
            TenantMsg::LoginAdmit,
            CALL_TIMEOUT_MS,
            key,
            policy,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Reports how an admitted login attempt ended (or a reset); returns the lock it started.
    pub async fn login_verdict(
        &self,
        key: String,
        verdict: LoginVerdict,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<LockStarted> {
        call_t!(
            self.actor,
            TenantMsg::LoginVerdict,
            CALL_TIMEOUT_MS,
            key,
            verdict,
            policy,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Inserts a user, with its verification token and mail when given.
    pub async fn create_user(
        &self,
        id: String,
        user: NewUser,
        verification: Option<(NewToken, QueuedMail)>,
    ) -> StoreResult<UserRow> {
        call_t!(
            self.actor,
            TenantMsg::CreateUser,
            CALL_TIMEOUT_MS,
            id,
            Box::new(user),
            verification
        )
        .map_err(self.actor_err())?
    }

    /// Issues a one-time token (superseding earlier ones of its kind) and queues its mail.
    pub async fn issue_token(
        &self,
        user: String,
        token: NewToken,
        mail: QueuedMail,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        call_t!(
            self.actor,
            TenantMsg::IssueToken,
            CALL_TIMEOUT_MS,
            user,
            token,
            Box::new(mail),
            now
        )
        .map_err(self.actor_err())?
    }

    /// Spends a reset token (see [`one_time_tokens::consume_reset`]).
    pub async fn consume_reset(
        &self,
        token_id: String,
        user: String,
        hash: String,
        notice: QueuedMail,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        call_t!(
            self.actor,
            TenantMsg::ConsumeReset,
            CALL_TIMEOUT_MS,
            token_id,
            user,
            hash,
            Box::new(notice),
            now
        )
        .map_err(self.actor_err())?
    }

    /// Spends a verification token.
    pub async fn consume_verify(
        &self,
        token_id: String,
        user: String,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        call_t!(
            self.actor,
            TenantMsg::ConsumeVerify,
            CALL_TIMEOUT_MS,
            token_id,
            user,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Starts a session.
    pub async fn create_session(&self, spec: NewSession) -> StoreResult<()> {
        call_t!(
            self.actor,
            TenantMsg::CreateSession,
            CALL_TIMEOUT_MS,
            Box::new(spec)
        )
        .map_err(self.actor_err())?
    }

    /// Rotates a refresh token (see [`sessions::rotate_batch`]);
    /// [`StoreError::Precondition`] if it was spent meanwhile.
    pub async fn rotate(&self, rotation: Rotation) -> StoreResult<()> {
        call_t!(
            self.actor,
            TenantMsg::Rotate,
            CALL_TIMEOUT_MS,
            Box::new(rotation)
        )
        .map_err(self.actor_err())?
    }

    /// Revokes one session.
    pub async fn revoke_session(
        &self,
        sid: String,
        reason: &'static str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        call_t!(
            self.actor,
            TenantMsg::RevokeSession,
            CALL_TIMEOUT_MS,
            sid,
            reason,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Revokes a user's sessions except `keep`.
    pub async fn revoke_all(
        &self,
        user: String,
        keep: Option<String>,
        reason: &'static str,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        call_t!(
            self.actor,
            TenantMsg::RevokeAll,
            CALL_TIMEOUT_MS,
            user,
            keep,
            reason,
            now
        )
        .map_err(self.actor_err())?
    }

    /// Sets a password hash and revokes the user's sessions except `keep`.
    pub async fn set_password(
        &self,
        user: String,
        hash: String,
        keep: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<usize> {
        call_t!(
            self.actor,
            TenantMsg::SetPassword,
            CALL_TIMEOUT_MS,
            user,
            hash,
            keep,
            now
        )
        .map_err(self.actor_err())?
    }
}

/// Persists the new key (retiring, or with `revoke` revoking, the ones it replaces) and swaps
/// in the reloaded key set.
async fn rotate_keys(
    t: &TenantShared,
    new: Vec<KeyRow>,
    revoke: bool,
) -> Result<String, ServiceError> {
    let kid = new.first().map(|k| k.kid.clone()).unwrap_or_default();
    let algs = new.iter().map(|k| k.alg.clone()).collect();
    let now = t.clock.now();
    keys::rotate(&t.db, new, algs, revoke, now).await?;
    reload_keys(t, now).await?;
    Ok(kid)
}

/// Creates a key of `alg` that signs at once if the tenant has none. Made on first use, not
/// when the tenant opens (an RSA key takes a while to generate, and most tenants never issue
/// an id_token); signing at once is safe for a first key: no verifier can have cached an
/// earlier one of this algorithm.
async fn ensure_key(t: &TenantShared, alg: crate::config::Algorithm) -> Result<(), ServiceError> {
    if t.keys.read().expect("key lock").has_signer(alg) {
        return Ok(());
    }
    let now = t.clock.now();
    let key = crate::service::tokens::generate_key(alg, t.slug.as_str(), &t.secrets, now, None);
    keys::rotate(&t.db, vec![key], vec![alg.as_str().to_string()], false, now).await?;
    reload_keys(t, now).await
}

/// Rebuilds the key set from the database (after a rotation here or on another node).
pub(super) async fn reload_keys(t: &TenantShared, now: DateTime<Utc>) -> Result<(), ServiceError> {
    let rows = keys::list(&t.db).await?;
    let alg = t.keys.read().expect("key lock").algorithm();
    let set = KeySet::load(alg, t.slug.as_str(), &rows, &t.secrets, now)?
        .ok_or_else(|| ServiceError::Internal("rotated key does not load".into()))?;
    *t.keys.write().expect("key lock") = Arc::new(set);
    Ok(())
}
