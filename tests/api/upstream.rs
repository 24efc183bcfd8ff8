//! Test fixtures for federation: a real upstream OpenID provider.

/// A real upstream OpenID provider (panva's oidc-provider, tests/upstream/upstream.mjs) on
/// 127.0.0.1, killed when dropped.
pub struct UpstreamProvider {
    child: tokio::process::Child,
    pub issuer: String,
}

impl UpstreamProvider {
    /// Starts one with `config` (`{"clients": [...]}`); waits until it listens.
    pub async fn start(config: serde_json::Value) -> Self {
        use tokio::io::AsyncBufReadExt;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upstream/upstream.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(config.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs tests/upstream/upstream.mjs (npm ci in tests/upstream)");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("the upstream says where it listens within 30 s")
            .unwrap()
            .expect("the upstream printed its issuer");
        let issuer = serde_json::from_str::<serde_json::Value>(&first).unwrap()["issuer"]
            .as_str()
            .unwrap()
            .to_string();
        Self { child, issuer }
    }
}

impl Drop for UpstreamProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
