//! `TenantActor`: owns a tenant's database session and serializes its state changes (user
//! creation, sessions, rotation, revocation, password changes), so two requests of one tenant
//! never race inside a node. Reads go straight to the database through [`Tenant`].
//! Across processes correctness still rests on the database: unique indexes and conditional
//! updates inside transactions.
//!
//! Write rule: through this actor go the writes a node must serialize (user creation and
//! changes, sessions, refresh rotation batches, revocation, login admission, key rotation,
//! and the single-use reset and verification tokens consumed with them) and the caches it
//! keeps. State no actor caches and whose races the database alone settles (second factors
//! and challenges, OAuth clients, codes and SSO sessions, audit, outbox) is written straight
//! to the store as conditional writes; caches on every node follow the database's change
//! feed, so such a direct write never leaves a cache stale.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::auth_cache::AuthCache;
use crate::clock::Clock;
use crate::domain::TenantSlug;
use crate::domain::keys::KeySet;
use crate::domain::secrets::Secrets;
use crate::store::one_time_tokens;
use crate::store::sessions::{self, Rotation};
use crate::store::tenants::TenantRow;
use crate::store::users;
use crate::store::{Db, StoreResult};
use login_gate::Waiter;

mod handle;
mod keys;
mod login_gate;
mod messages;
mod rotation;

pub use handle::Tenant;
pub(super) use keys::reload_keys;
pub use messages::{LockStarted, LoginVerdict, TenantMsg};

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
    /// Shared store: where that task starts reading the tenant's feed (taken before the
    /// tenant's state was read).
    pub feed_start: u128,
}

/// The actor itself; its state is the shared tenant plus the login attempts in flight.
pub struct TenantActor;

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
                state.login_admit(&me, key, policy, now, reply).await;
            }
            TenantMsg::RetryLoginWaiters(key) => state.retry_login_waiters(&me, key).await,
            TenantMsg::ExpireLoginWaiters(key) => state.expire_login_waiters(key),
            TenantMsg::LoginVerdict(key, user, verdict, policy, now, reply) => {
                state
                    .login_verdict(key, user, verdict, policy, now, reply)
                    .await;
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
                let _ = reply.send(keys::ensure_key(&shared, alg).await);
            }
            TenantMsg::RotateKey(key, revoke, reply) => {
                let _ = reply.send(keys::rotate_keys(&shared, key, revoke).await);
            }
            TenantMsg::CreateSession(s, reply) => {
                // Records the login time on the user.
                let user = s.user.clone();
                let res = sessions::create(db, *s).await;
                shared.cache.forget_user_row(&user);
                let _ = reply.send(res);
            }
            TenantMsg::Rotate(rotation, reply) => {
                state.queue_rotation(&me, rotation, reply).await?
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
