//! The real `latchkey` binary in a child process: for input that might crash the process (an
//! in-process server would take the whole test binary down with it) and for reading exactly
//! what the server logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::helpers::test_vars;

/// A running child server and everything it has written so far.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl ChildServer {
    /// Starts the binary on an in-memory database with JSON logs, plus `extra` variables.
    pub fn start(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(dir.path(), extra);
        server._dir = Some(dir);
        server
    }

    /// Starts the binary with `work` as its working directory (kept by the caller, so a
    /// restarted server finds the same `./data`), otherwise as [`ChildServer::start`].
    pub fn start_in(work: &std::path::Path, extra: &[(&str, &str)]) -> Self {
        match Self::try_start_in(work, extra) {
            Ok(s) => s,
            Err((status, lines)) => panic!(
                "latchkey binary did not report its port; exit status {status:?}; output:\n{}",
                lines.join("\n")
            ),
        }
    }

    /// Like [`ChildServer::start_in`], but a process that exits instead of listening is
    /// returned as its exit status and output.
    pub fn try_start_in(
        work: &std::path::Path,
        extra: &[(&str, &str)],
    ) -> Result<Self, (Option<ExitStatus>, Vec<String>)> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.env_clear()
            .envs(test_vars())
            .env("LOG_FORMAT", "json")
            .env("RUST_BACKTRACE", "0")
            .envs(extra.iter().copied())
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("latchkey binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        let mut readers = Vec::new();
        for stream in streams {
            let tx = tx.clone();
            let lines = lines.clone();
            // Reads to the end so the child never blocks on a full pipe.
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if let Some(port) = listening_port(&line) {
                        let _ = tx.send(port);
                    }
                    lines.lock().unwrap().push(line);
                }
            }));
        }
        // Polled: a process that exits early closes its pipes, which ends the wait too.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(port) => {
                    return Ok(Self {
                        child,
                        base: format!("http://127.0.0.1:{port}"),
                        lines,
                        readers,
                        _dir: None,
                    });
                }
                Err(_) if std::time::Instant::now() >= deadline => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    for r in readers {
                        let _ = r.join();
                    }
                    return Err((status, lines.lock().unwrap().clone()));
                }
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        for r in readers {
                            let _ = r.join();
                        }
                        return Err((Some(status), lines.lock().unwrap().clone()));
                    }
                }
            }
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits up to `timeout` for the process to exit (polling); its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The log lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Stops the process and returns every line it wrote, to the last one.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.lines()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in the "listening" log line naming `127.0.0.1:PORT`, never 0 (other lines may
/// name other addresses, such as a SurrealDB server's).
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("listening") {
        return None;
    }
    line.match_indices("127.0.0.1:").find_map(|(i, m)| {
        let digits: String = line[i + m.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u16>().ok().filter(|&p| p != 0)
    })
}
