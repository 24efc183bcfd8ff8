//! The crash harness: the real binary in a child process on a temporary database of the
//! default engine (RocksDB), under concurrent load over HTTP, killed or stopped at awkward
//! moments; every answer that said "done" is recorded and checked after the restart.
//!
//! What "acknowledged" means here: a GraphQL answer with data and no errors. A request still
//! in flight when the process dies is not acknowledged, and either outcome is allowed for it
//! (a password change in flight leaves both passwords possible, so that account is checked
//! only for what is certain).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::child_server::ChildServer;
use crate::helpers::{PASSWORD, REFRESH, REGISTER, code};

const CHANGE_PASSWORD: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
const LOGOUT: &str = "mutation($t: String) { logout(refreshToken: $t) }";
const LOGIN_TOKENS: &str = "mutation($i: String!, $p: String!) { login(input: {identifier: $i, password: $p}) { accessToken refreshToken } }";

/// Settings of every harness server: per-address and per-account limits lifted (all load
/// comes from 127.0.0.1, and the checks log in with wrong passwords on purpose).
fn harness_vars(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url.to_string()),
        ("RATE_LIMIT_LOGIN", "1000000/60".into()),
        ("RATE_LIMIT_REGISTER", "1000000/60".into()),
        ("LOGIN_FAILURES_PER_ADDRESS", "1000000/60".into()),
        ("LOGIN_LOCKOUT_THRESHOLD", "100".into()),
        ("RUST_LOG", "warn,latchkey=info,audit=warn".into()),
    ]
}

fn start(work: &Path, url: &str, extra: &[(&str, &str)]) -> ChildServer {
    let vars = harness_vars(url);
    let mut all: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    ChildServer::start_in(work, &all)
}

/// A small random number (the harness needs no quality, only variety).
fn random_below(n: u64) -> u64 {
    u64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().unwrap()) % n.max(1)
}

/// What the server acknowledged, to be checked after every restart.
#[derive(Default)]
struct Ledger {
    /// Accounts: username -> what is known of its password.
    users: HashMap<String, Passwords>,
    /// Refresh tokens the server said are spent or revoked (rotated or logged out).
    dead_refresh: Vec<String>,
    /// Live refresh tokens, per user, to rotate and log out later.
    live_refresh: Vec<(String, String)>,
    acknowledged: usize,
}

#[derive(Clone, Debug)]
enum Passwords {
    /// The acknowledged current password; `old` ones must fail.
    Known { current: String, old: Vec<String> },
    /// A change was in flight at a crash: one of these works.
    Either(Vec<String>),
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: base.to_string(),
        }
    }

    /// A GraphQL call; `None` when no answer came (the process died under it).
    async fn gql(&self, bearer: Option<&str>, query: &str, vars: Value) -> Option<Value> {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({"query": query, "variables": vars}));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let resp = req.send().await.ok()?;
        resp.json::<Value>().await.ok()
    }
}

fn ok(body: &Option<Value>) -> bool {
    body.as_ref()
        .is_some_and(|b| b["errors"].is_null() && !b["data"].is_null())
}

/// One worker: a mix of register, changePassword, refresh and logout until the server dies
/// or `stop` is set.
async fn worker(
    client: Arc<Client>,
    ledger: Arc<Mutex<Ledger>>,
    id: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        let pick = random_below(4);
        let live = {
            let l = ledger.lock().unwrap();
            if l.live_refresh.is_empty() {
                None
            } else {
                Some(l.live_refresh[random_below(l.live_refresh.len() as u64) as usize].clone())
            }
        };
        match (pick, live) {
            (0, _) | (_, None) => {
                let name = format!("u{id}x{}x{n}", random_below(1 << 40));
                let body = client
                    .gql(
                        None,
                        REGISTER,
                        json!({"input": {"email": format!("{name}@crash.example"), "username": name, "password": PASSWORD}}),
                    )
                    .await;
                if ok(&body) {
                    let b = body.unwrap();
                    let rt = b["data"]["register"]["refreshToken"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    let mut l = ledger.lock().unwrap();
                    l.users.insert(
                        name.clone(),
                        Passwords::Known {
                            current: PASSWORD.to_string(),
                            old: Vec::new(),
                        },
                    );
                    l.live_refresh.push((name, rt));
                    l.acknowledged += 1;
                } else if body.is_none() {
                    return;
                }
            }
            (1, Some((user, rt))) => {
                // Rotate: the presented token is spent once the answer arrives.
                let body = client.gql(None, REFRESH, json!({"t": rt})).await;
                let mut l = ledger.lock().unwrap();
                if ok(&body) {
                    let new = body.unwrap()["data"]["refresh"]["refreshToken"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    l.live_refresh.retain(|(_, t)| t != &rt);
                    l.dead_refresh.push(rt);
                    l.live_refresh.push((user, new));
                    l.acknowledged += 1;
                } else if body.is_none() {
                    return;
                } else {
                    // Another worker rotated it first (reuse: the session is gone).
                    l.live_refresh.retain(|(_, t)| t != &rt);
                }
            }
            (2, Some((_, rt))) => {
                let body = client.gql(None, LOGOUT, json!({"t": rt})).await;
                let mut l = ledger.lock().unwrap();
                if ok(&body) {
                    l.live_refresh.retain(|(_, t)| t != &rt);
                    l.dead_refresh.push(rt);
                    l.acknowledged += 1;
                } else if body.is_none() {
                    return;
                } else {
                    l.live_refresh.retain(|(_, t)| t != &rt);
                }
            }
            (_, Some(_)) => {
                // Only accounts this worker made: two concurrent changes of one password
                // would leave the ledger unable to say which one is right.
                let mine = format!("u{id}x");
                let (user, current) = {
                    let l = ledger.lock().unwrap();
                    let candidates: Vec<(String, String)> = l
                        .users
                        .iter()
                        .filter(|(u, _)| u.starts_with(&mine))
                        .filter_map(|(u, p)| match p {
                            Passwords::Known { current, .. } => Some((u.clone(), current.clone())),
                            Passwords::Either(_) => None,
                        })
                        .collect();
                    if candidates.is_empty() {
                        continue;
                    }
                    candidates[random_below(candidates.len() as u64) as usize].clone()
                };
                // A fresh session to act with (changePassword needs a Bearer token).
                let login = client
                    .gql(None, LOGIN_TOKENS, json!({"i": user, "p": current}))
                    .await;
                if login.is_none() {
                    return;
                }
                let Some(access) = login
                    .as_ref()
                    .and_then(|b| b["data"]["login"]["accessToken"].as_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                let new = format!("crash passphrase {}", random_below(1 << 40));
                {
                    // In flight: until the answer comes, either password may be the one.
                    let mut l = ledger.lock().unwrap();
                    l.users.insert(
                        user.clone(),
                        Passwords::Either(vec![current.clone(), new.clone()]),
                    );
                }
                let body = client
                    .gql(
                        Some(&access),
                        CHANGE_PASSWORD,
                        json!({"c": current, "n": new}),
                    )
                    .await;
                let mut l = ledger.lock().unwrap();
                if ok(&body) {
                    l.users.insert(
                        user,
                        Passwords::Known {
                            current: new,
                            old: vec![current],
                        },
                    );
                    l.acknowledged += 1;
                } else if body.is_none() {
                    return;
                } else {
                    l.users.insert(
                        user,
                        Passwords::Known {
                            current,
                            old: Vec::new(),
                        },
                    );
                }
            }
        }
    }
}

/// Checks everything in the ledger against a freshly started server; returns what was lost.
async fn lost(base: &str, ledger: &Mutex<Ledger>) -> Vec<String> {
    let client = Client::new(base);
    let (users, dead) = {
        let l = ledger.lock().unwrap();
        (l.users.clone(), l.dead_refresh.clone())
    };
    let mut lost = Vec::new();
    for (user, pw) in users {
        match pw {
            Passwords::Known { current, old } => {
                let body = client
                    .gql(None, LOGIN_TOKENS, json!({"i": user, "p": current}))
                    .await;
                if !ok(&body) {
                    lost.push(format!("{user}: acknowledged password refused: {body:?}"));
                }
                for o in old {
                    let body = client
                        .gql(None, LOGIN_TOKENS, json!({"i": user, "p": o}))
                        .await;
                    if ok(&body) {
                        lost.push(format!("{user}: an old password works again"));
                    }
                }
            }
            Passwords::Either(candidates) => {
                let mut any = false;
                for p in &candidates {
                    if ok(&client
                        .gql(None, LOGIN_TOKENS, json!({"i": user, "p": p}))
                        .await)
                    {
                        any = true;
                    }
                }
                if !any {
                    lost.push(format!("{user}: neither password works"));
                }
            }
        }
    }
    for rt in dead {
        let body = client.gql(None, REFRESH, json!({"t": rt})).await;
        if ok(&body) {
            lost.push(format!(
                "a spent or revoked refresh token works again: {body:?}"
            ));
        } else if code(body.as_ref().unwrap_or(&Value::Null)).as_deref() != Some("INVALID_TOKEN") {
            lost.push(format!("a dead refresh token answered {body:?}"));
        }
    }
    lost
}

/// Runs `cycles` rounds of: start, load with `workers` workers, stop with `kill` (which
/// returns once the process is gone), check the ledger on the next start.
async fn cycles<F>(
    work: &Path,
    url: &str,
    extra: &[(&str, &str)],
    cycles: usize,
    mut kill: F,
) -> (usize, Vec<String>)
where
    F: FnMut(&mut ChildServer, &Path),
{
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut lost_all = Vec::new();
    for _ in 0..cycles {
        let mut server = start(work, url, extra);
        lost_all.extend(lost(&server.base, &ledger).await);
        let client = Arc::new(Client::new(&server.base));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handles: Vec<_> = (0..4)
            .map(|i| tokio::spawn(worker(client.clone(), ledger.clone(), i, stop.clone())))
            .collect();
        let db_dir = work.join("db");
        tokio::task::block_in_place(|| kill(&mut server, &db_dir));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for h in handles {
            let _ = h.await;
        }
        drop(server);
    }
    let server = start(work, url, extra);
    lost_all.extend(lost(&server.base, &ledger).await);
    let acknowledged = ledger.lock().unwrap().acknowledged;
    server.stop();
    (acknowledged, lost_all)
}

fn rocksdb_url(work: &Path, options: &str) -> String {
    format!("rocksdb://{}{options}", work.join("db").display())
}

/// SIGKILL at random moments under mixed load, 10 cycles: nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let url = rocksdb_url(dir.path(), "");
    let (acknowledged, lost) = cycles(dir.path(), &url, &[], 10, |server, _| {
        std::thread::sleep(Duration::from_millis(300 + random_below(1200)));
        server.signal(libc::SIGKILL);
        assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    })
    .await;
    println!(
        "crash harness: SIGKILL x10: {acknowledged} acknowledged, {} lost",
        lost.len()
    );
    assert!(acknowledged > 50, "the load did work: {acknowledged}");
    assert!(lost.is_empty(), "lost after SIGKILL: {lost:#?}");
}

/// SIGKILL right after the engine flushed a memtable (64 KiB memtables make flushes happen
/// every few dozen writes; a new table file in the database directory is the flush), 5
/// cycles: the loss SurrealKV 0.21.4 had at this moment does not happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_right_after_a_memtable_flush_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = rocksdb_url(
        dir.path(),
        "?rocksdb_write_buffer_size=65536&rocksdb_max_write_buffer_number=2&rocksdb_min_write_buffer_number_to_merge=1",
    );
    let flushes = Arc::new(Mutex::new(0usize));
    let seen = flushes.clone();
    let (acknowledged, lost) = cycles(dir.path(), &url, &[], 5, move |server, db| {
        let tables = |db: &Path| {
            std::fs::read_dir(db)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().extension().is_some_and(|x| x == "sst"))
                        .count()
                })
                .unwrap_or(0)
        };
        let before = tables(db);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while tables(db) <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "no memtable flush within 60 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        server.signal(libc::SIGKILL);
        assert!(server.wait_exit(Duration::from_secs(10)).is_some());
        *seen.lock().unwrap() += 1;
    })
    .await;
    println!(
        "crash harness: SIGKILL after {} memtable flushes: {acknowledged} acknowledged, {} lost",
        flushes.lock().unwrap(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost after a flush: {lost:#?}");
}

/// SIGTERM under load: the server drains, closes the store and exits 0; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_exits_cleanly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = rocksdb_url(dir.path(), "");
    let (acknowledged, lost) = cycles(dir.path(), &url, &[], 3, |server, _| {
        std::thread::sleep(Duration::from_millis(500 + random_below(1000)));
        server.signal(libc::SIGTERM);
        let status = server
            .wait_exit(Duration::from_secs(60))
            .expect("exits after SIGTERM");
        assert!(status.success(), "exit status after SIGTERM: {status:?}");
    })
    .await;
    println!(
        "crash harness: SIGTERM x3: {acknowledged} acknowledged, {} lost",
        lost.len()
    );
    assert!(lost.is_empty(), "lost after SIGTERM: {lost:#?}");
}

/// A tmpfs of `size` mounted at `at` for the life of the guard, or why it could not be.
struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Mount(at.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system holding `path` until a write fails with ENOSPC.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0xA5u8; 64 * 1024];
    loop {
        match f.write_all(&block) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    // Whatever is left below one block too.
    while f.write_all(&[0u8; 512]).is_ok() {}
    let _ = f.sync_all();
}

/// A full disk: writes answer SERVICE_UNAVAILABLE and /readyz turns unready; after space is
/// freed, writes stay refused until the restart (the log may hold a torn record); after the
/// restart everything acknowledged before the failure is there, and writes work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_fails_closed_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    let _mount = match Mount::tmpfs(&mnt, "48m") {
        Ok(m) => m,
        Err(why) => {
            println!(
                "SKIPPED a_full_disk_fails_closed_and_loses_nothing: cannot mount a tmpfs ({why}); this test needs root"
            );
            return;
        }
    };
    // Small memtables, so the engine's preallocated log space runs out after a few writes.
    let url = rocksdb_url(&mnt, "?rocksdb_write_buffer_size=65536");
    let server = start(&mnt, &url, &[]);
    let client = Client::new(&server.base);
    let register = |name: String| {
        let client = &client;
        async move {
            client
                .gql(
                    None,
                    REGISTER,
                    json!({"input": {"email": format!("{name}@disk.example"), "username": name, "password": PASSWORD}}),
                )
                .await
        }
    };
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let name = format!("before{i}");
        assert!(ok(&register(name.clone()).await), "register {name}");
        acknowledged.push(name);
    }
    let reader = register("reader".into()).await.unwrap();
    assert!(reader["errors"].is_null());
    acknowledged.push("reader".into());
    let access = reader["data"]["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();

    fill(&mnt.join("filler"));
    // Writes until the engine meets the full disk; every one answered "done" counts.
    let mut refused = None;
    for i in 0..2000 {
        let name = format!("full{i}");
        let body = register(name.clone()).await.expect("an answer");
        if body["errors"].is_null() {
            acknowledged.push(name);
            continue;
        }
        refused = Some(body);
        break;
    }
    let refused = refused.expect("a write failed on the full disk");
    assert_eq!(
        code(&refused).as_deref(),
        Some("SERVICE_UNAVAILABLE"),
        "{refused}"
    );
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let reason = ready.text().await.unwrap();
    assert!(reason.contains("store failed"), "{reason}");

    // Space freed: still no write is acknowledged by this process.
    std::fs::remove_file(mnt.join("filler")).unwrap();
    for i in 0..3 {
        let body = register(format!("after{i}")).await.expect("an answer");
        assert_eq!(
            code(&body).as_deref(),
            Some("SERVICE_UNAVAILABLE"),
            "{body}"
        );
    }
    // Reads that can be served still are.
    let me = client
        .gql(Some(&access), "{ me { username } }", json!({}))
        .await
        .unwrap();
    assert_eq!(me["data"]["me"]["username"], "reader", "{me}");

    server.signal(libc::SIGTERM);
    let mut server = server;
    assert!(server.wait_exit(Duration::from_secs(60)).is_some());
    drop(server);

    let server = start(&mnt, &url, &[]);
    let client = Client::new(&server.base);
    let mut lost = Vec::new();
    for name in &acknowledged {
        let body = client
            .gql(None, LOGIN_TOKENS, json!({"i": name, "p": PASSWORD}))
            .await;
        if !ok(&body) {
            lost.push(format!("{name}: {body:?}"));
        }
    }
    let body = client
        .gql(
            None,
            REGISTER,
            json!({"input": {"email": "later@disk.example", "username": "later", "password": PASSWORD}}),
        )
        .await;
    println!(
        "crash harness: full disk: {} acknowledged (the last {} after the disk filled), {} lost",
        acknowledged.len(),
        acknowledged
            .iter()
            .filter(|n| n.starts_with("full"))
            .count(),
        lost.len()
    );
    assert!(lost.is_empty(), "lost after the full disk: {lost:#?}");
    assert!(ok(&body), "writes work after the restart: {body:?}");
    server.stop();
}

/// A data directory on a read-only file system: one clear line naming it, non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_directory_stops_start_up_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("ro");
    let mount = match Mount::tmpfs(&mnt, "64m") {
        Ok(m) => m,
        Err(why) => {
            println!(
                "SKIPPED a_read_only_data_directory_stops_start_up_with_one_clear_line: cannot mount a tmpfs ({why}); this test needs root"
            );
            return;
        }
    };
    let url = rocksdb_url(&mnt, "");
    // A database made while writable, then the file system turned read-only.
    start(&mnt, &url, &[]).stop();
    mount.remount("ro");
    let vars = harness_vars(&url);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, lines) = match ChildServer::try_start_in(&mnt, &vars) {
        Ok(_) => panic!("the server started on a read-only data directory"),
        Err(e) => e,
    };
    let status = status.expect("it exited");
    assert!(!status.success(), "non-zero exit: {status:?}");
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one line says what is wrong: {lines:#?}");
    let line = errors[0];
    assert!(
        line.contains("Read-only file system") && line.contains(&mnt.display().to_string()),
        "{line}"
    );
}
