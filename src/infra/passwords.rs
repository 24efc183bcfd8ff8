//! argon2id hashing on a bounded pool of its own threads, outside every actor.
//!
//! A hash costs tens of milliseconds and ~19 MiB; running it inside a tenant's mailbox would
//! limit that tenant to one login at a time. Hashes run on `HASH_CONCURRENCY` dedicated
//! threads, taking jobs from one queue per tenant in turn (`fair_queue`), so a tenant
//! flooded with logins does not make another tenant's login wait behind its whole queue. A
//! tenant with `HASH_QUEUE_PER_TENANT` hashes waiting is told to retry later (429
//! `RATE_LIMITED` with `retryAfter`); beyond `HASH_QUEUE` waiting in all, new requests are
//! refused (503) instead of queueing without bound.
//!
//! The hashing threads run at a lower scheduling priority (nice +10 on Linux). On an idle
//! machine that changes nothing: they still get every core. When hashing saturates the cores
//! (a login flood against one tenant), the request threads serving everybody else's cheap
//! requests (`me`, refresh, JWKS) are scheduled first, so a flood slows logins down rather
//! than every tenant's traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::cell::RefCell;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;

use crate::domain::secrets::random_bytes;
use crate::error::ServiceError;
use crate::infra::fair_queue::{FairQueue, Refused};

/// OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Niceness of the hashing threads (0 is normal, 19 the lowest).
const HASH_THREAD_NICE: i32 = 10;
/// Time slice the hashing threads ask for (the kernel's minimum, 0.1 ms).
const HASH_THREAD_SLICE_NS: u64 = 100_000;

/// A queued hash; it answers whether it ran (its caller may have gone meanwhile).
type Job = Box<dyn FnOnce() -> bool + Send>;

/// The stored "hash" of an account that has no password (signed up through an upstream
/// provider): it passes the column's `$argon2id$` check and no password ever matches it.
pub const NO_PASSWORD: &str = "$argon2id$none";

/// The bounded argon2id pool.
pub struct Hasher {
    /// Jobs for the hashing threads, by tenant; they exit when the pool is dropped.
    jobs: Arc<FairQueue<Job>>,
    threads: usize,
    /// How long a hash takes, microseconds (a moving average the threads keep), for the
    /// `retryAfter` of a tenant whose queue is full.
    hash_micros: Arc<AtomicU64>,
    /// Verified against for unknown users so a miss costs the same time as a wrong password.
    dummy_hash: String,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("static argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// The argon2 working memory of this hashing thread (19 MiB at our parameters), allocated
    /// once and reused by every hash the thread runs. Allocating it per hash leaves glibc
    /// holding freed 19 MiB blocks in per-thread arenas (its mmap threshold rises to the size
    /// of the largest freed block), which is how resident memory grew by hundreds of MiB over
    /// a login run while the live data stayed small.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 with `a`'s parameters into `out`, in this thread's reused working memory.
fn argon2_into(
    a: &Argon2<'_>,
    blocks: usize,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    BLOCKS.with(|cell| {
        let mut mem = cell.borrow_mut();
        if mem.len() < blocks {
            mem.resize(blocks, Block::default());
        }
        a.hash_password_into_with_memory(pwd, salt, out, &mut mem[..blocks])
    })
}

fn hash_blocking(password: &SecretString) -> Result<String, ServiceError> {
    let internal = |e: &dyn std::fmt::Display| ServiceError::Internal(format!("argon2 hash: {e}"));
    let salt = SaltString::encode_b64(&random_bytes(16)).map_err(|e| internal(&e))?;
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("static argon2 params");
    let mut raw_salt = [0u8; 16];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(|e| internal(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        &argon2(),
        params.block_count(),
        password.expose_secret().as_bytes(),
        raw_salt,
        &mut out,
    )
    .map_err(|e| internal(&e))?;
    // The standard PHC string, as `PasswordHasher::hash_password` writes it.
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e| internal(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
    };
    Ok(phc.to_string())
}

/// Verifies like `PasswordVerifier::verify_password` (algorithm, version and parameters from
/// the stored string, constant-time comparison), in the reused working memory.
fn verify_blocking(password: &SecretString, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(alg), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let a = Argon2::new(alg, version, params);
    argon2_into(&a, blocks, password.expose_secret().as_bytes(), raw_salt, &mut out).is_ok()
        // `Output`'s equality is constant-time.
        && Output::new(&out).is_ok_and(|o| o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// Our reused-memory path and the crate's own hasher and verifier agree both ways, so
    /// hashes stored before (or by other tools) keep verifying.
    #[test]
    fn reused_memory_hashes_are_standard_argon2id() {
        let pw = SecretString::from("correct horse battery");
        let ours = hash_blocking(&pw).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(argon2().verify_password(b"wrong", &parsed).is_err());

        let salt = SaltString::encode_b64(&random_bytes(16)).unwrap();
        let theirs = argon2()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking(&pw, &theirs));
        assert!(!verify_blocking(&SecretString::from("wrong"), &theirs));
        assert!(!verify_blocking(&pw, "not a phc string"));
        // Other parameters (a hash from an earlier policy) take their own memory size.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
        assert!(verify_blocking(&pw, &small));
    }
}

impl Hasher {
    /// Creates the pool; computes the dummy hash once (one hash of start-up time).
    pub fn new(concurrency: usize, per_tenant: usize, max_waiting: usize) -> Self {
        let dummy = SecretString::from(crate::domain::secrets::random_token(24));
        let started = std::time::Instant::now();
        let dummy_hash = hash_blocking(&dummy).expect("argon2 works at start-up");
        let hash_micros = Arc::new(AtomicU64::new(started.elapsed().as_micros() as u64));
        let jobs = Arc::new(FairQueue::<Job>::new(per_tenant, max_waiting));
        let threads = concurrency.max(1);
        for i in 0..threads {
            let jobs = jobs.clone();
            let hash_micros = hash_micros.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    while let Some(job) = jobs.pop() {
                        let t = std::time::Instant::now();
                        if job() {
                            // Average over the last ~8 hashes run (skipped jobs cost nothing).
                            let took = t.elapsed().as_micros() as u64;
                            let avg = hash_micros.load(Ordering::Relaxed);
                            hash_micros.store((avg * 7 + took) / 8, Ordering::Relaxed);
                        }
                    }
                })
                .expect("spawn a hashing thread");
        }
        Self {
            jobs,
            threads,
            hash_micros,
            dummy_hash,
        }
    }

    /// Hashes a new password for a user of `tenant` (the queue it waits in).
    pub async fn hash(&self, tenant: &str, password: SecretString) -> Result<String, ServiceError> {
        // One line per argon2 run (never with its input or output): the enumeration test
        // counts them to prove every login path spends exactly one hash.
        tracing::debug!(target: "latchkey::argon2", op = "hash", "argon2 run");
        self.run(tenant, move || hash_blocking(&password)).await?
    }

    /// Verifies `password` against `phc`, or against the dummy hash when there is no user
    /// (the answer is then always false, after the same work).
    pub async fn verify(
        &self,
        tenant: &str,
        password: SecretString,
        phc: Option<String>,
    ) -> Result<bool, ServiceError> {
        tracing::debug!(target: "latchkey::argon2", op = "verify", "argon2 run");
        let (target, real) = match phc {
            // An account without a password (made by a federated sign-in) does the same work
            // as an unknown one, so a sign-in attempt cannot tell the two apart by time.
            Some(p) if p == NO_PASSWORD => (self.dummy_hash.clone(), false),
            Some(p) => (p, true),
            None => (self.dummy_hash.clone(), false),
        };
        let ok = self
            .run(tenant, move || verify_blocking(&password, &target))
            .await?;
        Ok(ok && real)
    }

    /// Hashes waiting for a thread, over every tenant (`/metrics`).
    pub fn waiting(&self) -> usize {
        self.jobs.waiting()
    }

    async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (tx, rx) = oneshot::channel();
        let queued = self.jobs.push(
            tenant,
            Box::new(move || {
                // The caller gave up (client gone) while this waited: skipping keeps
                // abandoned requests from costing hashes.
                if tx.is_closed() {
                    return false;
                }
                let _ = tx.send(job());
                true
            }),
        );
        match queued {
            Ok(()) => {}
            Err(Refused::KeyFull { waiting }) => {
                // The time this tenant's queue takes to drain if it had every thread.
                let micros = self.hash_micros.load(Ordering::Relaxed);
                let wait = (waiting as u64 * micros).div_ceil(self.threads as u64 * 1_000_000);
                return Err(ServiceError::RateLimited {
                    retry_after: wait.max(1),
                });
            }
            Err(Refused::Full) => {
                return Err(ServiceError::Unavailable(
                    "password hashing queue is full".into(),
                ));
            }
            Err(Refused::Closed) => {
                return Err(ServiceError::Unavailable("hashing pool closed".into()));
            }
        }
        rx.await
            .map_err(|_| ServiceError::Internal("hashing job failed".into()))
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        // The threads finish what waits, then exit.
        self.jobs.close();
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
