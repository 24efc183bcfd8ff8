//! `latchkey-bench`: the benchmark's in-crate helpers (built only with `--features bench`).
//!
//! - `argon2-ceiling`: raw argon2id at latchkey's parameters on all cores, in this binary,
//!   with nothing else running: the ceiling for login and register (ops/s).
//! - `bare-server`: axum + async-graphql answering `{ __typename }` on the same tokio and
//!   hyper stack as latchkey, with no middleware, store or auth: the ceiling for `me`.
//! - `seed-users`: bulk-inserts users into a tenant of an embedded database that no server
//!   holds open (one precomputed argon2id hash reused for every row, `INSERT` in batches).
//! - `check-users`: looks the seeded users up the way login does and counts the table.
//! - `store-costs`: what a refresh and each of its SurrealDB statements cost in process.
//! - `peak-rss`: reads VmHWM and VmRSS of a process (KiB) from /proc.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use clap::{Args, Parser, Subcommand};

/// Same parameters as src/service/passwords.rs (OWASP: m=19 MiB, t=2, p=1).
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

#[derive(Parser)]
#[command(name = "latchkey-bench", about = "latchkey benchmark helpers")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Verifies one argon2id hash in a loop on every core; prints JSON with ops/s.
    Argon2Ceiling {
        /// How long to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Threads (default: the number of cores, as HASH_CONCURRENCY).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Serves `{ __typename }` over axum + async-graphql at POST /graphql until killed.
    BareServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
    },
    /// Inserts users `user{start}`..`user{start+count-1}` (email `user{i}@bench.test`) into a
    /// tenant; prints JSON with the rate. The database must not be open in a server.
    SeedUsers {
        #[command(flatten)]
        users: UserRange,
        /// Rows per INSERT statement (one transaction each).
        #[arg(long, default_value_t = 2000)]
        batch: usize,
        /// Everyone's password (hashed once).
        #[arg(long, default_value = "bench-password-4711")]
        password: String,
        /// Stop after the batch that crosses this many seconds (0: no limit); the JSON
        /// reports the count actually inserted.
        #[arg(long, default_value_t = 0)]
        max_seconds: u64,
    },
    /// Prints what a refresh and each of its storage statements cost in this process (wall
    /// and CPU ms per operation), on a database seeded with `seed-users` (32 users or more).
    StoreCosts {
        #[command(flatten)]
        users: UserRange,
    },
    /// Looks up `user{start}`..`user{start+count-1}` by username and by email, the way login
    /// does; prints JSON with how many were not found and the first few that were not.
    CheckUsers {
        #[command(flatten)]
        users: UserRange,
    },
    /// Prints `{"vmhwm_kib":..,"vmrss_kib":..}` for a process.
    PeakRss { pid: u32 },
}

/// Users `user{start}`..`user{start+count-1}` of a tenant in an embedded database.
#[derive(Args)]
struct UserRange {
    /// `rocksdb://PATH` (or `mem://` for a dry run).
    #[arg(long)]
    database_url: String,
    /// The server's SECRET_KEY (the tenant's signing key is created under it); read from
    /// the environment variable SECRET_KEY when not given.
    #[arg(long)]
    secret_key: Option<String>,
    #[arg(long, default_value = "default")]
    tenant: String,
    #[arg(long)]
    count: u64,
    #[arg(long, default_value_t = 0)]
    start: u64,
}

/// The database opened the way the server opens it (migrations, default tenant), and the
/// tenant the users live in.
struct Opened {
    app: latchkey::App,
    tenant: latchkey::actors::Tenant,
}

impl UserRange {
    async fn open(&self) -> anyhow::Result<Opened> {
        let secret_key = match &self.secret_key {
            Some(k) => k.clone(),
            None => {
                std::env::var("SECRET_KEY").context("--secret-key or SECRET_KEY is required")?
            }
        };
        let config = latchkey::Config::from_vars([
            ("DATABASE_URL", self.database_url.as_str()),
            ("SECRET_KEY", secret_key.as_str()),
            ("DEFAULT_TENANT", "default"),
        ])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let app = latchkey::App::start(config)
            .await
            .context("opening the database")?;
        let tenant = match app.services.tenant(&self.tenant).await {
            Ok(t) => t,
            Err(e) => {
                app.shutdown().await;
                anyhow::bail!("tenant {}: {e}", self.tenant);
            }
        };
        Ok(Opened { app, tenant })
    }
}

impl Opened {
    /// Stops the actors and closes the database before the process exits.
    async fn close(self) {
        drop(self.tenant);
        self.app.shutdown().await;
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Argon2Ceiling { seconds, threads } => argon2_ceiling(seconds, threads),
        Cmd::BareServer { addr } => tokio_main(bare_server(addr)),
        Cmd::CheckUsers { users } => tokio_main(check_users(users)),
        Cmd::StoreCosts { users } => tokio_main(store_costs(users)),
        Cmd::SeedUsers {
            users,
            batch,
            password,
            max_seconds,
        } => tokio_main(seed_users(users, batch, password, max_seconds)),
        Cmd::PeakRss { pid } => {
            let (hwm, rss) = read_rss(pid)?;
            println!("{{\"vmhwm_kib\":{hwm},\"vmrss_kib\":{rss}}}");
            Ok(())
        }
    }
}

fn tokio_main<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("static argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash(password: &str) -> anyhow::Result<String> {
    let salt =
        SaltString::encode_b64(b"latchkey-bench-salt").map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

/// Login verifies and register hashes: the same work (one argon2id evaluation), so one
/// ceiling serves both. Each thread owns its `Argon2` (and so its 19 MiB block) as the
/// server's blocking threads do.
fn argon2_ceiling(seconds: u64, threads: Option<usize>) -> anyhow::Result<()> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let phc = hash("bench-password-4711")?;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, done, phc) = (stop.clone(), done.clone(), phc.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&phc).expect("own hash parses");
                while !stop.load(Ordering::Relaxed) {
                    let ok = argon2()
                        .verify_password(b"bench-password-4711", &parsed)
                        .is_ok();
                    assert!(ok);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ops = done.load(Ordering::Relaxed);
    println!(
        "{{\"threads\":{threads},\"ops\":{ops},\"seconds\":{elapsed:.3},\"ops_per_sec\":{:.2},\"ms_per_op_per_thread\":{:.2}}}",
        ops as f64 / elapsed,
        elapsed * 1000.0 * threads as f64 / ops.max(1) as f64
    );
    Ok(())
}

struct Query;

#[async_graphql::Object]
impl Query {
    /// Present so the schema is valid; the benchmark asks only `{ __typename }`.
    async fn ping(&self) -> bool {
        true
    }
}

/// The framework ceiling: same axum, hyper, tokio (multi-thread, all cores) and async-graphql
/// as latchkey, a JSON body parsed and a GraphQL document executed; nothing else.
async fn bare_server(addr: SocketAddr) -> anyhow::Result<()> {
    use async_graphql::{EmptyMutation, EmptySubscription, Schema};
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post_service(async_graphql_axum::GraphQL::new(schema)),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn check_users(range: UserRange) -> anyhow::Result<()> {
    use latchkey::store::users::find_by_login;
    let (count, start) = (range.count, range.start);
    let opened = range.open().await?;
    let t = &opened.tenant;
    let started = Instant::now();
    let (mut by_name, mut by_email, mut first) = (0u64, 0u64, Vec::new());
    for i in start..start + count {
        let name = format!("user{i}");
        let name_missing = find_by_login(t.db(), false, &name).await?.is_none();
        let email_missing = find_by_login(t.db(), true, &format!("{name}@bench.test"))
            .await?
            .is_none();
        by_name += name_missing as u64;
        by_email += email_missing as u64;
        if (name_missing || email_missing) && first.len() < 10 {
            first.push(serde_json::json!({"user": name, "by_username": !name_missing, "by_email": !email_missing}));
        }
    }
    let rows = latchkey::store::users::count(t.db(), None).await?;
    opened.close().await;
    println!(
        "{}",
        serde_json::json!({
            "rows_in_table": rows,
            "checked": count,
            "missing_by_username": by_name,
            "missing_by_email": by_email,
            "first_missing": first,
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

async fn seed_users(
    range: UserRange,
    batch: usize,
    password: String,
    max_seconds: u64,
) -> anyhow::Result<()> {
    use latchkey::store::users::{NewUser, insert_many};
    let (count, start) = (range.count, range.start);
    let opened = range.open().await?;
    let t = &opened.tenant;
    // One real argon2id hash (random salt, same parameters) reused for every row: login
    // verifies it at full cost, seeding does not pay a hash per row.
    let salt = SaltString::encode_b64(&uuid::Uuid::new_v4().into_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let phc = argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string();
    let started = Instant::now();
    let mut next = start;
    let end = start + count;
    let mut last_report = Instant::now();
    let deadline = (max_seconds > 0).then(|| started + Duration::from_secs(max_seconds));
    while next < end && deadline.is_none_or(|d| Instant::now() < d) {
        let upto = (next + batch as u64).min(end);
        let now = chrono::Utc::now();
        let rows: Vec<(String, NewUser)> = (next..upto)
            .map(|i| {
                let name = format!("user{i}");
                let email = format!("{name}@bench.test");
                (
                    uuid::Uuid::now_v7().to_string(),
                    NewUser {
                        email: email.clone(),
                        email_norm: email,
                        username: name.clone(),
                        username_norm: name,
                        password_hash: phc.clone(),
                        roles: Vec::new(),
                        email_verified: true,
                        created_at: now,
                        updated_at: now,
                    },
                )
            })
            .collect();
        insert_many(t.db(), rows)
            .await
            .with_context(|| format!("inserting users {next}..{upto}"))?;
        next = upto;
        if last_report.elapsed() > Duration::from_secs(10) {
            let done = next - start;
            eprintln!(
                "seeded {done}/{count} ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let inserted = next - start;
    // Read back before closing: with `check-users` after reopening, this tells rows that never
    // became visible from rows lost on the way to disk.
    let rows_in_table = latchkey::store::users::count(t.db(), None).await?;
    opened.close().await;
    println!(
        "{{\"requested\":{count},\"count\":{inserted},\"rows_in_table\":{rows_in_table},\"seconds\":{elapsed:.3},\"rows_per_sec\":{:.1}}}",
        inserted as f64 / elapsed.max(1e-9)
    );
    Ok(())
}

fn read_rss(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmHWM:"), field("VmRSS:")))
}

/// utime + stime in clock ticks (100 per second) from a `/proc/.../stat` file's text.
fn stat_ticks(stat: &str) -> u64 {
    // Fields after the command name's closing parenthesis; utime and stime are 14 and 15.
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    t(11) + t(12)
}

/// CPU seconds this process has used so far (user + system, all threads), from /proc.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    stat_ticks(&stat) as f64 / 100.0
}

/// Wall and CPU seconds since it was started, CPU as `cpu` reads it.
struct Stopwatch {
    wall: Instant,
    cpu_at_start: f64,
    cpu: fn() -> f64,
}

impl Stopwatch {
    fn start(cpu: fn() -> f64) -> Self {
        Self {
            wall: Instant::now(),
            cpu_at_start: cpu(),
            cpu,
        }
    }

    /// (wall, CPU) seconds so far.
    fn elapsed(&self) -> (f64, f64) {
        (
            self.wall.elapsed().as_secs_f64(),
            (self.cpu)() - self.cpu_at_start,
        )
    }

    /// Prints wall and CPU milliseconds per operation, `ops` operations in all.
    fn report(&self, label: &str, ops: usize) {
        let (wall, cpu) = self.elapsed();
        let per = |secs: f64| secs * 1e3 / ops as f64;
        println!(
            "{label}: {:.3} ms wall, {:.3} ms CPU per operation ({ops} operations)",
            per(wall),
            per(cpu)
        );
    }
}

/// Times `n` runs of `op` one after another; prints wall and CPU milliseconds per run.
async fn time_each<F, Fut, T, E>(label: &str, n: usize, mut op: F) -> anyhow::Result<()>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    let watch = Stopwatch::start(process_cpu_seconds);
    for k in 0..n {
        op(k).await.map_err(Into::into)?;
    }
    watch.report(label, n);
    Ok(())
}

/// What a refresh and its storage statements cost, in this process with no HTTP in front:
/// the service's refresh one at a time and from 16 callers at once, then the statements it
/// is made of, each alone. Figures for BENCHMARKS.md "What limits each scenario".
async fn store_costs(range: UserRange) -> anyhow::Result<()> {
    use latchkey::store::sessions::{Rotation, find_refresh, rotate_batch};
    let opened = range.open().await?;
    let (t, s) = (&opened.tenant, &opened.app.services);
    let client = &latchkey::infra::ClientInfo::default();
    let mut tokens = Vec::new();
    for i in 0..32 {
        let name = format!("user{i}");
        let a = s
            .accounts
            .login(t, &name, "bench-password-4711", client)
            .await
            .map_err(|e| anyhow::anyhow!("login user{i}: {e:?}"))?;
        tokens.push(a.refresh_token);
    }
    let watch = Stopwatch::start(process_cpu_seconds);
    for k in 0..2000 {
        let a = s.sessions.refresh(t, &tokens[k % 32], client).await;
        tokens[k % 32] = a.map_err(|e| anyhow::anyhow!("{e:?}"))?.refresh_token;
    }
    watch.report("refresh (service), one at a time", 2000);
    let watch = Stopwatch::start(process_cpu_seconds);
    let mut tasks = Vec::new();
    for lane in 0..16 {
        let mut mine = [tokens[lane].clone(), tokens[lane + 16].clone()];
        let (s, t, client) = (s.clone(), t.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..250 {
                let a = s.sessions.refresh(&t, &mine[k % 2], &client).await;
                mine[k % 2] = a.map_err(|e| anyhow::anyhow!("{e:?}"))?.refresh_token;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    watch.report("refresh (service), 16 callers at once", 4000);
    let unused = |n: usize| async move {
        let q = "SELECT VALUE hash FROM refresh_token WHERE used_at IS NONE LIMIT $n";
        let mut res = t.db().query(q).bind(("n", n as i64)).await?;
        anyhow::Ok(res.take::<Vec<String>>(0)?)
    };
    let hashes = unused(32).await?;
    time_each("refresh token read by hash (its record id)", 2000, |k| {
        let h = hashes[k % hashes.len()].clone();
        async move { find_refresh(t.db(), &h).await }
    })
    .await?;
    time_each(
        "session read by record id (cache miss)",
        2000,
        |k| async move { t.session(&format!("absent-{k}")).await },
    )
    .await?;
    time_each("RETURN 1", 2000, |_| async move {
        t.db().query("RETURN 1").await
    })
    .await?;
    time_each(
        "CREATE of a row, no index, own transaction",
        2000,
        |k| async move {
            let q = "CREATE type::record('cost_probe', $k) SET a = 1";
            t.db().query(q).bind(("k", k as i64)).await
        },
    )
    .await?;
    for size in [1usize, 4, 16] {
        // Timed: only the batch's transaction (the reads that prepare it are not).
        let rounds = 1600 / size;
        let (mut wall, mut cpu) = (0f64, 0f64);
        for _ in 0..rounds {
            let mut batch = Vec::new();
            for h in unused(size).await? {
                let old = find_refresh(t.db(), &h)
                    .await?
                    .context("token just listed")?;
                batch.push(Rotation {
                    old,
                    new_hash: uuid::Uuid::new_v4().to_string(),
                    new_expires_at: chrono::Utc::now() + chrono::Duration::days(1),
                    // As most refreshes do: the session was touched less than a minute ago.
                    touch_session: false,
                    now: chrono::Utc::now(),
                });
            }
            let watch = Stopwatch::start(process_cpu_seconds);
            let done = rotate_batch(t.db(), &batch).await?;
            let (w, c) = watch.elapsed();
            (wall, cpu) = (wall + w, cpu + c);
            anyhow::ensure!(
                done.iter().all(|d| *d),
                "every rotation of the batch happens"
            );
        }
        println!(
            "rotation batch of {size} (session not touched): {:.3} ms wall per batch, {:.3} ms CPU per rotation",
            wall * 1e3 / rounds as f64,
            cpu * 1e3 / (rounds * size) as f64
        );
    }
    login_costs(t, s, client).await?;
    opened.close().await;
    Ok(())
}

/// CPU seconds of this process's threads other than the argon2 hashing threads, from /proc.
fn cpu_seconds_besides_hashing() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("argon2") {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        ticks += stat_ticks(&stat);
    }
    ticks as f64 / 100.0
}

/// The login's share of [`store_costs`]: a whole login's CPU outside the hashing threads, then
/// the statements a password login is made of, each alone.
async fn login_costs(
    t: &latchkey::actors::Tenant,
    s: &latchkey::Services,
    client: &latchkey::infra::ClientInfo,
) -> anyhow::Result<()> {
    use latchkey::store::{audit, login_throttle, sessions, users};
    let n = 200;
    let watch = Stopwatch::start(cpu_seconds_besides_hashing);
    for k in 0..n {
        let name = format!("user{}", k % 32);
        let a = s
            .accounts
            .login(t, &name, "bench-password-4711", client)
            .await;
        a.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let (wall, cpu) = watch.elapsed();
    println!(
        "login (service), one at a time: {:.3} ms wall, {:.3} ms CPU outside the hashing threads per login",
        wall * 1e3 / n as f64,
        cpu * 1e3 / n as f64
    );
    let db = t.db();
    let user = users::find_by_login(db, false, "user1")
        .await?
        .context("user1")?;
    time_each(
        "user read by username (unique index)",
        2000,
        |k| async move {
            let name = format!("user{}", k % 32);
            users::find_by_login(db, false, &name).await
        },
    )
    .await?;
    let uid = user.id.as_str();
    time_each("second factor check (has_factor)", 2000, |_| async move {
        latchkey::mfa::store::has_factor(db, uid).await
    })
    .await?;
    time_each("lockout state read (absent row)", 2000, |k| async move {
        let key = format!("absent-{k}");
        login_throttle::get(db, &key).await
    })
    .await?;
    time_each("lockout state delete (absent row)", 2000, |k| async move {
        let key = format!("absent-{k}");
        login_throttle::clear(db, &key).await
    })
    .await?;
    time_each("audit event CREATE", 2000, |_| async move {
        let row = audit::AuditRow {
            id: uuid::Uuid::now_v7().to_string(),
            at: chrono::Utc::now(),
            kind: "login_success".into(),
            actor: Some(uid.to_string()),
            subject: Some(uid.to_string()),
            ip: Some("127.0.0.1".into()),
            detail: None,
        };
        audit::record(db, row).await
    })
    .await?;
    time_each(
        "session start (user touched, session and refresh token created)",
        1000,
        |_| {
            let now = chrono::Utc::now();
            let new = sessions::NewSession {
                id: uuid::Uuid::now_v7().to_string(),
                user: uid.to_string(),
                refresh_hash: uuid::Uuid::new_v4().to_string(),
                refresh_expires_at: now + chrono::Duration::days(1),
                expires_at: now + chrono::Duration::days(30),
                client_ip: Some("127.0.0.1".into()),
                user_agent: None,
                amr: vec!["pwd".into()],
                client: None,
                now,
            };
            async move { sessions::create(db, new).await }
        },
    )
    .await?;
    Ok(())
}
