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

impl Node {
    /// Pauses the process (SIGSTOP): it holds its sockets and its claims
    /// but does nothing, as a process frozen by its machine would.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal("STOP")
    }

    /// Resumes a paused process (SIGCONT).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal("CONT")
    }

    fn signal(&self, sig: &str) -> anyhow::Result<()> {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().context("failed to run kill")?;
        anyhow::ensure!(status.success(), "kill -{sig} {} failed: {status}", self.child.id());
        Ok(())
    }

    /// The port it listens on (its claims are held as `host:port#…`).
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a node's base ends with its port")
    }
}

/// The chats whose updates the node listening on `port` holds a claim on
/// in the tenant schema `tenant_schema` (read straight from PostgreSQL at
/// `db`, straight to PostgreSQL), with the update rows still pending in
/// each: the work it held. Read while it is paused, this is what its death
/// leaves behind.
pub async fn held_work(db: &sea_orm::DatabaseConnection, tenant_schema: &str, port: u16) -> anyhow::Result<std::collections::BTreeMap<i64, Vec<i64>>> {
    use sea_orm::ConnectionTrait as _;
    let q = format!(
        "SELECT c.chat_id, i.id FROM \"{tenant_schema}\".chat_claims c JOIN \"{tenant_schema}\".inbox i ON i.chat_id = c.chat_id AND i.status = 'pending' \
         WHERE c.lane = 'update' AND c.holder LIKE $1 ORDER BY c.chat_id, i.id"
    );
    let rows = db.query_all_raw(sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, q, [format!("%:{port}#%").into()])).await?;
    let mut held = std::collections::BTreeMap::<i64, Vec<i64>>::new();
    for r in rows {
        held.entry(r.try_get_by_index(0)?).or_default().push(r.try_get_by_index(1)?);
    }
    Ok(held)
}

/// How many of `rows` (inbox ids in `tenant_schema`) are still pending.
pub async fn still_pending(db: &sea_orm::DatabaseConnection, tenant_schema: &str, rows: &[i64]) -> anyhow::Result<usize> {
    use sea_orm::ConnectionTrait as _;
    let q = format!("SELECT count(*) FROM \"{tenant_schema}\".inbox WHERE status = 'pending' AND id = ANY(string_to_array($1, ',')::bigint[])");
    let ids = rows.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let row = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, q, [ids.into()]))
        .await?
        .context("count returns a row")?;
    Ok(row.try_get_by_index::<i64>(0)? as usize)
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
