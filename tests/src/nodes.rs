//! `tikethet serve` processes of their own (the nodes of a cluster), for the
//! several-nodes tests and `bench-cluster`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A node; killed (SIGKILL) when dropped.
pub struct Node {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts `exe serve` in `dir/name` on a free loopback port with exactly
/// the `TIKETHET_*` settings of `env` (none inherited), its log in
/// `dir/name/server.log`.
pub fn spawn(exe: &Path, dir: &Path, name: &str, env: &[(&str, String)]) -> anyhow::Result<Node> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let own = dir.join(name);
    std::fs::create_dir_all(&own)?;
    let mut cmd = Command::new(exe);
    cmd.arg("serve").current_dir(&own);
    for (k, _) in std::env::vars() {
        if k.starts_with("TIKETHET_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env("TIKETHET_LISTEN", format!("127.0.0.1:{port}")).env("TIKETHET_PUBLIC_URL", format!("http://127.0.0.1:{port}"));
    cmd.stdout(Stdio::null()).stderr(std::fs::File::create(own.join("server.log"))?);
    let child = cmd.spawn().with_context(|| format!("failed to start {}", exe.display()))?;
    Ok(Node { child, base: format!("http://127.0.0.1:{port}"), log: own.join("server.log") })
}

/// Waits (30 s at most) until the node answers `/readyz` with 200; a node
/// that exits or never gets there is an error carrying its log.
pub async fn ready(http: &reqwest::Client, n: &mut Node) -> anyhow::Result<()> {
    for _ in 0..600 {
        if let Some(status) = n.child.try_wait()? {
            anyhow::bail!("a node exited with {status}:\n{}", std::fs::read_to_string(&n.log).unwrap_or_default());
        }
        if http.get(format!("{}/readyz", n.base)).send().await.is_ok_and(|r| r.status() == 200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("a node did not become ready:\n{}", std::fs::read_to_string(&n.log).unwrap_or_default())
}
