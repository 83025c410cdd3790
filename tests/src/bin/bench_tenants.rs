//! Benchmark of many tenants on one node: the real `tikethet` binary as a
//! child process (so its memory and open files are its own), under an
//! open-files limit (`--nofile`, 1,024 by default, as `ulimit -n 1024`).
//!
//! For each backend it prints:
//! - provisioning one at a time (`--single` tenants, each once the node is
//!   idle: on PostgreSQL, with its spare schemas ready), each call's mean,
//!   p50 and p99; then the rest through the operator API, `--concurrency`
//!   at once: ms per tenant (wall time / tenants) and each call's p50/p99,
//!   with every error counted;
//! - resident memory (VmRSS) and open files after provisioning, after a
//!   customer message to each of `--sample` tenants picked at random (each
//!   must open a ticket), and after a restart;
//! - restart to healthy: SIGTERM, start again, until `/readyz` answers
//!   and `/metrics` says every tenant is served;
//! - `tikethet migrate` over every tenant, all up to date; then over
//!   `--behind` tenants put one migration back; then a server started with
//!   `--behind` tenants behind: how soon it is ready (they are held) and
//!   how soon it has migrated and serves them all;
//! - on PostgreSQL, the summed proportional memory (PSS) of the database
//!   server's processes after the sample, with the connection lifetime given
//!   (`--pg-connection-lifetime`), and with `--second-lifetime` again after
//!   a restart with that lifetime and another sample made active.
//!
//! `cargo build --release -p tikethet-tests --bins &&
//!  target/release/bench-tenants --backend both --tenants 10000`

// Signals and `pre_exec` for the child server: the workspace denies
// unsafe code everywhere else.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt as _;
use serde_json::json;
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::ChildServer as Server;
use tikethet_tests::helpers::{
    Backend, OPERATOR_TOKEN, bot_token, drop_pg_schemas, free_port, postgres_url, put_tenant_one_migration_back, random_suffix,
};

#[derive(Parser)]
struct Args {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    #[arg(long, default_value_t = 10_000)]
    tenants: usize,
    /// Tenants that get a customer message (picked at random).
    #[arg(long, default_value_t = 500)]
    sample: usize,
    /// Operator API calls in flight while provisioning.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Tenants provisioned first, one at a time on an idle node.
    #[arg(long, default_value_t = 100)]
    single: usize,
    /// The server's open-files limit (soft and hard).
    #[arg(long, default_value_t = 1024)]
    nofile: u64,
    /// Tenants put one migration back before the second `tikethet migrate`.
    #[arg(long, default_value_t = 1000)]
    behind: usize,
    /// `TIKETHET_PG_CONNECTION_LIFETIME_SECS` for the server.
    #[arg(long, default_value_t = 300)]
    pg_connection_lifetime: u64,
    /// PostgreSQL: after the sample, restart the server with this connection
    /// lifetime and make another `--sample` tenants active, to compare
    /// PostgreSQL's memory with and without recycling in one run.
    #[arg(long)]
    second_lifetime: Option<u64>,
}


struct Setup {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    exe: std::path::PathBuf,
    nofile: u64,
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(args).current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("TIKETHET_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let nofile = self.nofile;
        // SAFETY: only an async-signal-safe system call between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                rlimit::setrlimit(rlimit::Resource::NOFILE, nofile, nofile)?;
                Ok(())
            });
        }
        cmd
    }

    async fn start(&self, port: u16) -> anyhow::Result<Server> {
        self.start_with(port, &[]).await
    }

    /// `serve` with some settings changed.
    async fn start_with(&self, port: u16, extra: &[(&str, String)]) -> anyhow::Result<Server> {
        let child = self
            .command(&["serve"])
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .env("TIKETHET_LISTEN", format!("127.0.0.1:{port}"))
            .env("TIKETHET_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("TIKETHET_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(Server { child, base: format!("http://127.0.0.1:{port}") })
    }
}

/// Resident memory (MiB) and open files of a process.
fn usage(pid: u32) -> (f64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    (kb / 1024.0, fds)
}

/// Summed proportional memory (MiB) of the PostgreSQL server's processes.
fn postgres_pss() -> f64 {
    let mut kb = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let p = entry.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with("postgres") {
            continue;
        }
        let rollup = std::fs::read_to_string(p.join("smaps_rollup")).unwrap_or_default();
        kb += rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    kb / 1024.0
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<u64> {
    let text = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR_TOKEN).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

/// Waits until the server answers ready and serves `tenants` (or more);
/// how long it took.
async fn healthy(http: &reqwest::Client, server: &mut Server, tenants: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait()? {
            anyhow::bail!("the server exited with {status}");
        }
        let ready = http.get(format!("{}/readyz", server.base)).send().await.is_ok_and(|r| r.status().is_success());
        if ready && metric(http, &server.base, "tikethet_tenants").await.is_some_and(|n| n >= tenants as u64) {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the server was not healthy within 2 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(backend: Backend, args: &Args) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    fake.allow_insecure_webhooks(true);
    fake.rate_limits(false);
    let dir = tempfile::tempdir()?;
    let schema = format!("tt_{}", random_suffix());
    let mut env = vec![
        ("TIKETHET_DATA_DIR".to_owned(), dir.path().join("data").display().to_string()),
        ("TIKETHET_TELEGRAM_API_URL".to_owned(), fake.url.clone()),
        ("TIKETHET_OPERATOR_TOKEN".to_owned(), OPERATOR_TOKEN.to_owned()),
        ("TIKETHET_RATE_LIMITS".to_owned(), "off".to_owned()),
        ("TIKETHET_PG_CONNECTION_LIFETIME_SECS".to_owned(), args.pg_connection_lifetime.to_string()),
    ];
    match backend {
        Backend::Sqlite => env.push(("TIKETHET_DATABASE_URL".into(), format!("sqlite://{}", dir.path().join("data/tikethet.db").display()))),
        Backend::Postgres => {
            env.push(("TIKETHET_DATABASE_URL".into(), postgres_url()));
            env.push(("TIKETHET_DATABASE_SCHEMA".into(), schema.clone()));
        }
    }
    let exe = std::env::current_exe()?.with_file_name("tikethet-under-test");
    anyhow::ensure!(exe.exists(), "{} is missing: build the package's binaries (cargo build --release -p tikethet-tests --bins)", exe.display());
    let setup = Setup { dir, env, exe, nofile: args.nofile };
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).timeout(Duration::from_secs(60)).build()?;
    let port = free_port();
    let mut server = setup.start(port).await?;
    healthy(&http, &mut server, 0).await?;
    let pid = server.child.id();
    let (rss0, fds0) = usage(pid);
    println!("\n== {backend:?}: {} tenants, open-files limit {}", args.tenants, args.nofile);
    println!("empty server: {rss0:.1} MiB resident, {fds0} open files");

    // Provisioning.
    let tokens: Vec<String> = (0..args.tenants).map(|i| bot_token(i as u32 + 1)).collect();
    for (i, t) in tokens.iter().enumerate() {
        fake.add_bot(t, &format!("bench{i}_bot"));
        fake.start_chat(t, 77);
    }
    let provision = |i: usize| {
        let http = &http;
        let base = &server.base;
        let token = &tokens[i];
        async move {
            let t0 = Instant::now();
            let r = http
                .post(format!("{base}/api/platform/v1/tenants"))
                .bearer_auth(OPERATOR_TOKEN)
                .json(&json!({ "slug": format!("t{i:05}"), "name": format!("Desk {i}"), "bot_token": token, "owner_telegram_id": 42 }))
                .send()
                .await;
            let outcome = match r {
                Ok(r) if r.status().as_u16() == 201 => Ok(i),
                Ok(r) => Err(format!("{}: {}", r.status(), r.text().await.unwrap_or_default())),
                Err(e) => Err(format!("transport: {e}")),
            };
            (t0.elapsed(), outcome)
        }
    };
    let report = |what: String, results: &[(Duration, Result<usize, String>)], wall: Option<Duration>| {
        let mut lat: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
        lat.sort();
        let errors: Vec<&String> = results.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
        let mean = lat.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / lat.len().max(1) as f64;
        let per_tenant = wall.map(|w| format!("{:.1} ms per tenant ({} in {:.1} s), ", w.as_secs_f64() * 1000.0 / results.len().max(1) as f64, results.len(), w.as_secs_f64())).unwrap_or_default();
        println!(
            "provisioning {what}: {per_tenant}each call mean {mean:.1} ms, p50 {:.1} ms, p99 {:.1} ms; errors {}{}",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            errors.len(),
            errors.first().map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
    };
    // One at a time, as tenants sign up: on PostgreSQL each waits for the
    // node's spare schemas to be ready again, as they would be by then.
    let single = args.single.min(args.tenants);
    let mut results = Vec::with_capacity(single);
    for i in 0..single {
        if backend == Backend::Postgres {
            let t0 = Instant::now();
            while metric(&http, &server.base, "tikethet_pg_spare_schemas").await != Some(tikethet_runtime::storage::DEFAULT_PG_SPARE_SCHEMAS as u64) {
                anyhow::ensure!(t0.elapsed() < Duration::from_secs(60), "the node's spare schemas were not ready within a minute");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        results.push(provision(i).await);
    }
    report(format!("{single} one at a time"), &results, None);
    let mut created: Vec<usize> = results.iter().filter_map(|(_, r)| r.as_ref().ok().copied()).collect();
    let started = Instant::now();
    let results: Vec<(Duration, Result<usize, String>)> =
        futures::stream::iter(single..args.tenants).map(provision).buffer_unordered(args.concurrency).collect().await;
    report(format!("{} more, {} at once", args.tenants - single, args.concurrency), &results, Some(started.elapsed()));
    created.extend(results.iter().filter_map(|(_, r)| r.as_ref().ok().copied()));
    created.sort();
    // What follows counts the tenants that exist (all of them, unless
    // provisioning reported errors above).
    let total = created.len();
    let (rss, fds) = usage(pid);
    println!("after provisioning: {rss:.1} MiB resident, {fds} open files");

    // A customer message to a random sample (and, to compare recycling,
    // later to a second one, disjoint from the first).
    let mut rng = rand::rng();
    let picked: Vec<usize> = rand::seq::index::sample(&mut rng, total, (2 * args.sample).min(total)).into_iter().map(|k| created[k]).collect();
    let (sample, second) = picked.split_at(args.sample.min(picked.len()));
    let activate = |base: String, tenants: Vec<usize>| {
        let (fake, tokens, http) = (&fake, &tokens, &http);
        async move {
            let statuses: Vec<u16> = futures::stream::iter(tenants.iter().enumerate())
                .map(|(k, &i)| async move {
                    fake.deliver(&tokens[i], &fixtures::message(k as i64 + 1, 77, "Hello, my order did not arrive")).await.unwrap_or(0)
                })
                .buffer_unordered(32)
                .collect()
                .await;
            let failed: Vec<u16> = statuses.into_iter().filter(|s| *s != 200).collect();
            let t0 = Instant::now();
            let opened = loop {
                let opened = metric(http, &base, "tikethet_tickets_opened_total").await.unwrap_or(0);
                if opened as usize >= tenants.len() || t0.elapsed() > Duration::from_secs(120) {
                    break opened;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let failed_updates = metric(http, &base, "tikethet_updates_failed_total").await.unwrap_or(0);
            println!(
                "sample: {} tenants got a message: {} acknowledged, {} not ({}), {opened} tickets opened, {failed_updates} updates failed",
                tenants.len(),
                tenants.len() - failed.len(),
                failed.len(),
                if failed.is_empty() { "no 5xx".to_owned() } else { format!("{failed:?}") }
            );
        }
    };
    activate(server.base.clone(), sample.to_vec()).await;
    let (rss, fds) = usage(pid);
    println!("after the sample: {rss:.1} MiB resident, {fds} open files");
    if backend == Backend::Postgres {
        println!("PostgreSQL server processes: {:.1} MiB PSS (connection lifetime {} s)", postgres_pss(), args.pg_connection_lifetime);
        if let Some(lifetime) = args.second_lifetime {
            // SAFETY: plain kill(2) of our own child.
            unsafe { libc_kill(server.child.id() as i32, 15) };
            server.child.wait()?;
            drop(server);
            server = setup.start_with(port, &[("TIKETHET_PG_CONNECTION_LIFETIME_SECS", lifetime.to_string())]).await?;
            healthy(&http, &mut server, total).await?;
            activate(server.base.clone(), second.to_vec()).await;
            println!("PostgreSQL server processes: {:.1} MiB PSS (connection lifetime {lifetime} s, another {} tenants active)", postgres_pss(), second.len());
        }
    }

    // Restart.
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc_kill(server.child.id() as i32, 15) };
    server.child.wait()?;
    drop(server);
    let mut server = setup.start(port).await?;
    let took = healthy(&http, &mut server, total).await?;
    let (rss, fds) = usage(server.child.id());
    println!("restart to healthy: {:.2} s; after the restart: {rss:.1} MiB resident, {fds} open files", took.as_secs_f64());
    drop(server);

    // Migrations: each run timed, with the command's last line (its tally).
    let migrate = |what: String| -> anyhow::Result<()> {
        let t0 = Instant::now();
        let out = setup.command(&["migrate"]).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        // A failed migration is no figure: stop with what it said.
        anyhow::ensure!(
            out.status.success(),
            "migrate ({what}) failed with {}:\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        println!("migrate, {what}: {:.2} s ({})", t0.elapsed().as_secs_f64(), text.lines().last().unwrap_or_default());
        Ok(())
    };
    migrate(format!("all {total} up to date"))?;
    let behind = args.behind.min(total);
    let data = setup.dir.path().join("data");
    let put_back = |n: usize| {
        let (data, schema, created) = (&data, &schema, &created);
        async move {
            futures::stream::iter(0..n)
                .map(|i| async move { put_tenant_one_migration_back(backend, data, schema, &format!("t{:05}", created[i])).await })
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<anyhow::Result<Vec<()>>>()
        }
    };
    put_back(behind).await?;
    migrate(format!("{behind} of {total} one migration behind"))?;

    // A server started with tenants behind: ready at once, holding their
    // updates while it migrates them in the background.
    put_back(behind).await?;
    let t0 = Instant::now();
    let mut server = setup.start(port).await?;
    let ready = healthy(&http, &mut server, total - behind).await?;
    let caught_up = loop {
        let held = metric(&http, &server.base, "tikethet_tenants_held").await;
        if held == Some(0) && metric(&http, &server.base, "tikethet_tenants").await == Some(total as u64) {
            break t0.elapsed();
        }
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(600), "the server did not migrate the tenants behind within 10 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "serve with {behind} tenants behind: ready in {:.2} s (serving the other {}, holding those), all migrated and served after {:.2} s",
        ready.as_secs_f64(),
        total - behind,
        caught_up.as_secs_f64()
    );
    drop(server);
    if backend == Backend::Postgres {
        drop_pg_schemas(&schema).await;
    }
    Ok(())
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backends = match args.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        "both" => vec![Backend::Sqlite, Backend::Postgres],
        other => anyhow::bail!("--backend must be sqlite, postgres or both (got {other})"),
    };
    for b in backends {
        run(b, &args).await?;
    }
    Ok(())
}
