//! argon2id hashing on a bounded pool of its own threads, outside every actor.
//!
//! A hash costs tens of milliseconds and ~19 MiB; running it inside a tenant's mailbox would
//! limit that tenant to one login at a time. Hashes run on `HASH_CONCURRENCY` dedicated
//! threads; beyond `hash_queue` waiting requests new ones are refused (503) instead of
//! queueing without bound.
//!
//! The hashing threads run at a lower scheduling priority (nice +10 on Linux). On an idle
//! machine that changes nothing: they still get every core. When hashing saturates the cores
//! (a login flood against one tenant), the request threads serving everybody else's cheap
//! requests (`me`, refresh, JWKS) are scheduled first, so a flood slows logins down rather
//! than every tenant's traffic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

use crate::error::ServiceError;
use crate::service::secrets::random_bytes;

/// OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Niceness of the hashing threads (0 is normal, 19 the lowest).
const HASH_THREAD_NICE: i32 = 10;
/// Time slice the hashing threads ask for (the kernel's minimum, 0.1 ms).
const HASH_THREAD_SLICE_NS: u64 = 100_000;

type Job = Box<dyn FnOnce() + Send>;

/// The bounded argon2id pool.
pub struct Hasher {
    /// Jobs for the hashing threads; they exit when the pool (this sender) is dropped.
    jobs: mpsc::Sender<Job>,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// Verified against for unknown users so a miss costs the same time as a wrong password.
    dummy_hash: String,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("static argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &SecretString) -> Result<String, ServiceError> {
    let salt = SaltString::encode_b64(&random_bytes(16))
        .map_err(|e| ServiceError::Internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("argon2 hash: {e}")))
}

fn verify_blocking(password: &SecretString, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

impl Hasher {
    /// Creates the pool; computes the dummy hash once (one hash of start-up time).
    pub fn new(concurrency: usize, max_waiting: usize) -> Self {
        let dummy = SecretString::from(crate::service::secrets::random_token(24));
        let dummy_hash = hash_blocking(&dummy).expect("argon2 works at start-up");
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..concurrency.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while taking a job, not while running it.
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn a hashing thread");
        }
        Self {
            jobs: tx,
            waiting: AtomicUsize::new(0),
            max_waiting,
            dummy_hash,
        }
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: SecretString) -> Result<String, ServiceError> {
        // One line per argon2 run (never with its input or output): the enumeration test
        // counts them to prove every login path spends exactly one hash.
        tracing::debug!(target: "latchkey::argon2", op = "hash", "argon2 run");
        self.run(move || hash_blocking(&password)).await?
    }

    /// Verifies `password` against `phc`, or against the dummy hash when there is no user
    /// (the answer is then always false, after the same work).
    pub async fn verify(
        &self,
        password: SecretString,
        phc: Option<String>,
    ) -> Result<bool, ServiceError> {
        tracing::debug!(target: "latchkey::argon2", op = "verify", "argon2 run");
        let (target, real) = match phc {
            Some(p) => (p, true),
            None => (self.dummy_hash.clone(), false),
        };
        let ok = self
            .run(move || verify_blocking(&password, &target))
            .await?;
        Ok(ok && real)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _guard = WaitGuard(&self.waiting);
        if queued >= self.max_waiting {
            return Err(ServiceError::Unavailable(
                "password hashing queue is full".into(),
            ));
        }
        let (tx, rx) = oneshot::channel();
        let sent = self.jobs.send(Box::new(move || {
            // The caller gave up (client gone) while this waited: its slot in the queue was
            // already released, so skipping keeps abandoned requests from costing hashes.
            if !tx.is_closed() {
                let _ = tx.send(job());
            }
        }));
        if sent.is_err() {
            return Err(ServiceError::Unavailable("hashing pool closed".into()));
        }
        rx.await
            .map_err(|_| ServiceError::Internal("hashing job failed".into()))
    }
}

/// Lowers the calling thread's scheduling priority (Linux keeps it per thread): nice
/// [`HASH_THREAD_NICE`], and a short time slice ([`HASH_THREAD_SLICE_NS`]) so a request thread
/// that wakes up preempts a hash within a tenth of a millisecond instead of waiting out a
/// default slice of several. The slice request needs Linux 6.12 (EEVDF custom slices); older
/// kernels refuse it and get the nice value alone.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread with a correctly sized, initialised
    // `sched_attr`; failure only leaves the priority as it is.
    unsafe {
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            sched_policy: libc::SCHED_OTHER as u32,
            sched_flags: 0,
            sched_nice: HASH_THREAD_NICE,
            sched_priority: 0,
            sched_runtime: HASH_THREAD_SLICE_NS,
            sched_deadline: 0,
            sched_period: 0,
        };
        if libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 {
            return;
        }
        let tid = libc::gettid() as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, HASH_THREAD_NICE) != 0 {
            tracing::debug!("could not lower the hashing threads' priority");
        }
    }
}

/// The kernel's `struct sched_attr`, first version (48 bytes; see sched_setattr(2)).
#[cfg(target_os = "linux")]
#[repr(C)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
}

struct WaitGuard<'a>(&'a AtomicUsize);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
