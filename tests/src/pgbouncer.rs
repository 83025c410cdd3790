//! A PgBouncer of the test's own, in transaction pooling mode, in front of
//! the test PostgreSQL: what several nodes are deployed behind
//! (`deploy/cluster`). The binary is PgBouncer 1.24 built from Debian's
//! source by `deploy/cluster/pgbouncer.sh` (bookworm's 1.18 cannot keep
//! named prepared statements across pooled transactions, and sqlx prepares
//! every query); `.ci/run` builds it before the tests.
//!
//! Each bouncer serves one database, named after the test's control schema
//! only for telling bouncers apart in logs: its server connections carry no
//! `search_path` (no `connect_query`). TiketHet keeps no session state, so
//! it needs none: every control-plane and tenant transaction sets its own,
//! local to the transaction (a session `SET` would stay on whichever server
//! connection ran it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A running PgBouncer; stopped when dropped.
pub struct PgBouncer {
    child: Child,
    pub port: u16,
    database: String,
    user: String,
    _dir: tempfile::TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The PgBouncer binary: `TIKETHET_TEST_PGBOUNCER`, or the one
/// `deploy/cluster/pgbouncer.sh` builds (or has built) into the cache.
pub fn binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("TIKETHET_TEST_PGBOUNCER") {
        return Ok(PathBuf::from(p));
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/cluster/pgbouncer.sh");
    let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output().with_context(|| format!("failed to run {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed ({}); these tests need PgBouncer >= 1.21", script.display(), out.status);
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if path.is_empty() {
        bail!("{} printed no path", script.display());
    }
    Ok(PathBuf::from(path))
}

impl PgBouncer {
    /// Starts a bouncer in front of `upstream` (a `postgres://` URL) with one
    /// database, named `schema`.
    pub fn start(upstream: &str, schema: &str) -> anyhow::Result<PgBouncer> {
        let bin = binary()?;
        let up = url::Url::parse(upstream).context("the test database URL does not parse")?;
        let host = up.host_str().unwrap_or("127.0.0.1").to_owned();
        let pg_port = up.port().unwrap_or(5432);
        let user = if up.username().is_empty() { "postgres".to_owned() } else { up.username().to_owned() };
        let dbname = up.path().trim_start_matches('/').to_owned();
        let dir = tempfile::Builder::new().prefix("pgbouncer-").tempdir()?;
        // PgBouncer refuses to run as root; it drops to `postgres` and must
        // still read its files then.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let users = dir.path().join("userlist.txt");
        std::fs::write(&users, format!("\"{user}\" \"\"\n"))?;
        let as_root = running_as_root();
        let ini = format!(
            "[databases]\n\
             {schema} = host={host} port={pg_port} dbname={dbname} user={user}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             {run_as}\n\
             auth_type = trust\n\
             auth_file = {users}\n\
             admin_users = {user}\n\
             pool_mode = transaction\n\
             max_prepared_statements = 200\n\
             server_reset_query_always = 0\n\
             ignore_startup_parameters = extra_float_digits\n\
             max_client_conn = 500\n\
             default_pool_size = 20\n\
             max_db_connections = 30\n\
             query_wait_timeout = 25\n\
             server_tls_sslmode = disable\n\
             log_connections = 0\n\
             log_disconnections = 0\n",
            run_as = if as_root { "user = postgres" } else { "" },
            users = users.display(),
        );
        let ini_path = dir.path().join("pgbouncer.ini");
        std::fs::write(&ini_path, ini)?;
        for f in [&ini_path, &users] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644))?;
        }
        let log = std::fs::File::create(dir.path().join("pgbouncer.log"))?;
        let child = Command::new(&bin)
            .arg(&ini_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {}", bin.display()))?;
        let mut b = PgBouncer { child, port, database: schema.to_owned(), user, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = b.child.try_wait() {
                let log = std::fs::read_to_string(b._dir.path().join("pgbouncer.log")).unwrap_or_default();
                bail!("PgBouncer exited with {status}:\n{log}");
            }
            if Instant::now() > deadline {
                bail!("PgBouncer did not listen on {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(b)
    }

    /// The URL the nodes connect with.
    pub fn url(&self) -> String {
        format!("postgres://{}@127.0.0.1:{}/{}", self.user, self.port, self.database)
    }

    /// The client connections open to this bouncer whose
    /// `application_name` is `app`, each as its port and when it connected
    /// (PgBouncer's admin console, `SHOW CLIENTS`; it speaks only the
    /// simple query protocol, so `psql` asks).
    /// <https://www.pgbouncer.org/usage.html#show-clients>
    pub fn clients(&self, app: &str) -> anyhow::Result<Vec<String>> {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", &self.user, "-d", "pgbouncer", "-AX", "-F", "\t", "-P", "footer=off", "-c", "SHOW CLIENTS"])
            .output()
            .context("failed to run psql")?;
        if !out.status.success() {
            bail!("SHOW CLIENTS failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let names: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let col = |n: &str| names.iter().position(|c| *c == n).with_context(|| format!("SHOW CLIENTS has no {n} column: {text}"));
        let (name, port, since) = (col("application_name")?, col("port")?, col("connect_time")?);
        Ok(lines
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|f| f.get(name) == Some(&app))
            .map(|f| format!("{}@{}", f.get(port).unwrap_or(&""), f.get(since).unwrap_or(&"")))
            .collect())
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}
