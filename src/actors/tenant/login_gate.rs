//! Login admission: how many attempts on one account may verify a password at once, the
//! attempts waiting for that budget, and the failure counter the verdicts update. In memory
//! when this process is the store's only writer; otherwise by compare-and-set writes to the
//! account's row, which every node shares.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ractor::{ActorRef, RpcReplyPort};

use super::messages::{LockStarted, LoginVerdict, TenantMsg};
use super::{MAX_CLEAN_ACCOUNTS, TenantState};
use crate::domain::lockout::{Admission, IN_FLIGHT_TTL_SECS, LockoutPolicy};
use crate::store::login_throttle;
use crate::store::{StoreError, StoreResult};

/// Login attempts on one account that may wait for a verdict in flight; more are refused
/// with `RATE_LIMITED` (bounded memory, however many arrive).
const MAX_WAITING_LOGINS: usize = 64;
/// How long such an attempt waits before it is refused with `RATE_LIMITED`. A verdict takes
/// one password hash (tens of milliseconds); this covers many rounds of them under load.
const LOGIN_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// How long waiting attempts wait before trying again when the store is shared.
const SHARED_RETRY: Duration = Duration::from_millis(20);
/// Compare-and-set rounds before an admission or verdict gives up (`Busy`, retried by the
/// caller as a transaction conflict). Each lost round means another node wrote in between.
const CAS_ROUNDS: u32 = 64;

/// A login attempt waiting for admission.
pub(super) struct Waiter {
    policy: LockoutPolicy,
    since: std::time::Instant,
    reply: RpcReplyPort<StoreResult<Admission>>,
}

impl TenantState {
    /// [`TenantMsg::LoginAdmit`]: admits the attempt, refuses it, or queues it while the
    /// account's budget is taken by attempts in flight.
    pub(super) async fn login_admit(
        &mut self,
        me: &ActorRef<TenantMsg>,
        key: String,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
        reply: RpcReplyPort<StoreResult<Admission>>,
    ) {
        let shared = self.shared.clone();
        let db = &shared.db;
        let admission = if shared.exclusive {
            match login_throttle::get(db, &key).await {
                Ok(row) => {
                    if row.failures == 0 && row.locked_until.is_none() {
                        self.note_clean(&key);
                    }
                    let in_flight = self.live_in_flight(&key, now);
                    let a = policy.admit(&row, in_flight, now);
                    if a == Admission::Admitted {
                        self.in_flight.entry(key.clone()).or_default().push(now);
                    }
                    Ok(a)
                }
                Err(e) => Err(e),
            }
        } else {
            self.admit_shared(&key, &policy, now).await
        };
        match admission {
            Ok(Admission::Busy) => {
                if let Some(reply) = self.enqueue(me, key, policy, reply) {
                    let _ = reply.send(Ok(Admission::Locked(policy.base.as_secs().max(1))));
                }
            }
            other => {
                let _ = reply.send(other);
            }
        }
    }

    /// [`TenantMsg::RetryLoginWaiters`]: waiting attempts of `key` try again, and again later
    /// while some still wait.
    pub(super) async fn retry_login_waiters(&mut self, me: &ActorRef<TenantMsg>, key: String) {
        self.retry_scheduled.remove(&key);
        let now = self.shared.clock.now();
        self.admit_waiting(&key, now).await;
        if self.waiting.get(&key).is_some_and(|w| !w.is_empty())
            && self.retry_scheduled.insert(key.clone())
        {
            me.send_after(SHARED_RETRY, move || TenantMsg::RetryLoginWaiters(key));
        }
    }

    /// [`TenantMsg::ExpireLoginWaiters`]: refuses the attempts of `key` that waited too long.
    pub(super) fn expire_login_waiters(&mut self, key: String) {
        if let Some(queue) = self.waiting.get_mut(&key) {
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
                self.waiting.remove(&key);
            }
        }
    }

    /// [`TenantMsg::LoginVerdict`]: applies the verdict and admits waiting attempts the freed
    /// budget allows.
    pub(super) async fn login_verdict(
        &mut self,
        key: String,
        user: Option<String>,
        verdict: LoginVerdict,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
        reply: RpcReplyPort<StoreResult<LockStarted>>,
    ) {
        let shared = self.shared.clone();
        let db = &shared.db;
        let res = if shared.exclusive {
            if verdict != LoginVerdict::Reset {
                self.finish_in_flight(&key);
            }
            match verdict {
                LoginVerdict::Abandoned => Ok(None),
                LoginVerdict::Success | LoginVerdict::Reset
                    if self.clean_accounts.contains(&key) =>
                {
                    Ok(None)
                }
                LoginVerdict::Success | LoginVerdict::Reset => {
                    let res = login_throttle::clear(db, &key).await;
                    if res.is_ok() {
                        self.note_clean(&key);
                    }
                    res.map(|()| None)
                }
                LoginVerdict::Failure => match login_throttle::get(db, &key).await {
                    Ok(row) => {
                        self.clean_accounts.remove(&key);
                        let (row, lock) = policy.fail(&row, now);
                        let locked_out = lock.and(user.as_deref());
                        login_throttle::put(db, &key, &row, locked_out, now)
                            .await
                            .map(|()| lock.map(|d| (row.failures, d)))
                    }
                    Err(e) => Err(e),
                },
            }
        } else {
            self.verdict_shared(&key, user.as_deref(), verdict, &policy, now)
                .await
        };
        let _ = reply.send(res);
        self.admit_waiting(&key, now).await;
    }

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
                    if login_throttle::put_shared_if(db, key, &row, None, now).await? {
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
        user: Option<&str>,
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
            let locked_out = lock.and(user);
            if login_throttle::put_shared_if(db, key, &row, locked_out, now).await? {
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
