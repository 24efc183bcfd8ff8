//! A real SurrealDB server for the multi-node tests: `surreal-test-server` (the `surreal`
//! binary's code from the `surrealdb-server` crate, the same version as our SDK; built by
//! `cargo test` as an example of this package, see tests/support/surreal_server.rs) in a child
//! process on loopback, with root credentials and a RocksDB directory that outlives a restart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Root credentials of every test server.
pub const ROOT_USER: &str = "root";
/// Root password.
pub const ROOT_PASS: &str = "root-pass-for-tests";

/// A running (or killed, restartable) SurrealDB server.
pub struct SurrealServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1, kept across restarts (the nodes reconnect to it).
    pub port: u16,
    /// With [`SurrealServer::start_pair`]: the second endpoint's port.
    second: Option<u16>,
    data: PathBuf,
    log: PathBuf,
}

/// An example binary beside the test binary's directory: target/debug/examples/.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/debug/deps/api-HASH -> target/debug
    let debug = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = debug.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds it (the {name} example)",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the server on `port` answers its health check with 200.
fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"HTTP/1.")
        && buf[..n].windows(5).any(|w| w == b" 200 "))
}

impl SurrealServer {
    /// Starts a server with its data in `dir/surreal` on a free port.
    pub fn start(dir: &Path) -> Self {
        let mut s = Self {
            child: None,
            port: free_port(),
            second: None,
            data: dir.join("surreal"),
            log: dir.join("surreal.log"),
        };
        s.spawn();
        s
    }

    /// Two SurrealDB server endpoints in one process (`surreal-pair-server`, see
    /// tests/support/surreal_pair_server.rs), each its own datastore (node id, caches, live
    /// queries), over one RocksDB directory in `dir/surreal`: several SurrealDB processes over
    /// one shared datastore, as with TiKV, as near as this machine gets.
    pub fn start_pair(dir: &Path) -> Self {
        let mut s = Self {
            child: None,
            port: free_port(),
            second: Some(free_port()),
            data: dir.join("surreal"),
            log: dir.join("surreal.log"),
        };
        s.spawn();
        s
    }

    /// The variables a latchkey node needs to use this server: endpoint `i` (0, or 1 of a
    /// pair).
    pub fn node_vars_at(&self, i: usize) -> Vec<(&'static str, String)> {
        let port = if i == 0 {
            self.port
        } else {
            self.second.expect("a pair has a second endpoint")
        };
        vec![
            ("DATABASE_URL", format!("ws://127.0.0.1:{port}")),
            ("DATABASE_USER", ROOT_USER.into()),
            ("DATABASE_PASSWORD", ROOT_PASS.into()),
        ]
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = match self.second {
            None => {
                let mut c = Command::new(binary("surreal-test-server"));
                c.args(["start", "--no-banner", "--log", "warn"])
                    .args(["--bind", &format!("127.0.0.1:{}", self.port)]);
                c
            }
            Some(second) => {
                let mut c = Command::new(binary("surreal-pair-server"));
                c.args(["--bind-a", &format!("127.0.0.1:{}", self.port)])
                    .args(["--bind-b", &format!("127.0.0.1:{second}")]);
                c
            }
        };
        let child = cmd
            .args(["--user", ROOT_USER, "--pass", ROOT_PASS])
            // Every commit fsynced before it is answered, as our embedded default does.
            .arg(format!("rocksdb://{}?sync=every", self.data.display()))
            // The server sizes RocksDB from the machine's memory; a test server needs little.
            .env("SURREAL_ROCKSDB_BLOCK_CACHE_SIZE", "16777216")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the SurrealDB test server starts");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Polls /health until the server answers (60 s at most).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ports: Vec<u16> = std::iter::once(self.port).chain(self.second).collect();
        loop {
            if ports.iter().all(|p| healthy(*p)) {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!(
                    "the SurrealDB test server exited ({status}):\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "SurrealDB server not ready in 60 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the server wrote.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server (SIGSTOP): its port still accepts connections (the kernel completes
    /// the handshake) but nothing is answered, as with a server that hangs or is overloaded.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        if let Some(c) = self.child.as_ref() {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe {
                libc::kill(c.id() as i32, signal);
            }
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for SurrealServer {
    fn drop(&mut self) {
        self.kill();
    }
}
