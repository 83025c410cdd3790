//! Benchmark of webhook intake and processing: many tenants, the real
//! server (in this process, on loopback) and real storage, Telegram's
//! `message` updates (the only kind the desk asks Telegram for).
//!
//! It reports two things separately:
//! - intake: updates acknowledged per second and the acknowledgement's
//!   latency (p50/p99/max), with every error counted (non-2xx answers and
//!   transport errors are not in the rate or the latencies);
//! - processing: updates fully handled per second (tickets opened, answers
//!   queued), measured until every acknowledged update is processed, from
//!   `/metrics` (`tikethet_updates_processed_total` and `…_failed_total`).
//!
//! Closed loop by default (`--concurrency` deliveries in flight, each sent
//! when the previous answered, as Telegram does per bot); `--rate N` is open
//! loop: updates leave at N a second whatever the answers, and latency is
//! counted from when each was due, so a slow server cannot hide its queue.
//!
//! Before the runs, PostgreSQL's own rate of small committed transactions
//! (`pgbench`) is taken as the ceiling the guard measures against.
//! `--runs`, `--readme`, `--write-readme` and `--guard` work as in
//! `bench-desk`.
//!
//! `cargo run --release -p tikethet-tests --bin bench-intake -- --backend both`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use tikethet_platform::Application;
use tikethet_platform::config::{Settings, Sources};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, OPERATOR_TOKEN, bot_token, drop_pg_schemas, test_settings};

#[derive(Parser)]
struct Args {
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    #[arg(long, default_value_t = 100)]
    tenants: u32,
    /// Updates delivered in the measured run.
    #[arg(long, default_value_t = 20_000)]
    updates: u32,
    /// Closed loop: deliveries in flight at once (Telegram opens up to 100
    /// connections per bot; `max_connections` defaults to 40).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open loop: updates per second, sent on schedule whatever the answers.
    #[arg(long)]
    rate: Option<u32>,
    /// `message` (the default; handled fully) or `edited-intake-only`
    /// (`edited_message`, which the desk only stores: measures intake alone;
    /// Telegram does not send it to us, as we do not ask for it).
    #[arg(long, default_value = "message")]
    kind: String,
    /// Runs per backend; each figure is their median, with the spread.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Print the README's figure beside each (its `bench:intake` block).
    #[arg(long)]
    readme: Option<std::path::PathBuf>,
    /// Write the table into the README's `bench:intake` block.
    #[arg(long)]
    write_readme: Option<std::path::PathBuf>,
    /// Fail when a figure collapses against PostgreSQL's commit rate
    /// measured in this run (see `FLOORS`); for CI.
    #[arg(long)]
    guard: bool,
}

/// The guard's floors for `message` updates, as fractions of PostgreSQL's
/// own rate of small committed transactions in the same run (`CEILING`):
/// about half of what each measured against it when the guard was set (20
/// tenants, 4,000 updates: SQLite 0.065 acknowledged and 0.0155 processed,
/// PostgreSQL 0.023 and 0.0075).
const FLOORS: [(&str, f64, f64); 2] = [
    // backend, acknowledged/s, processed/s
    ("Sqlite", 0.03, 0.008),
    ("Postgres", 0.012, 0.004),
];

/// PostgreSQL alone committing one small write per transaction, from 64
/// clients: the same run's measure of what this machine's disk and cores
/// allow durable writes.
const CEILING: &str = "SELECT txid_current();\n";
const CEILING_ROW: &str = "PostgreSQL alone: one small commit per transaction (pgbench, 64 clients)";

/// One run's figures.
struct Figures {
    acknowledged: f64,
    p50: f64,
    p99: f64,
    errors: u64,
    processed: f64,
}

struct Target {
    url: String,
    secret: String,
}

/// What became of the deliveries.
#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    /// Non-2xx answers, by status.
    statuses: std::collections::BTreeMap<u16, u32>,
    transport_errors: u32,
    first_error: Option<String>,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.latencies.extend(o.latencies);
        for (s, n) in o.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport_errors += o.transport_errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }

    fn errors(&self) -> u32 {
        self.statuses.values().sum::<u32>() + self.transport_errors
    }

    async fn record(&mut self, due: Instant, r: reqwest::Result<reqwest::Response>) {
        match r {
            Ok(r) if r.status().is_success() => self.latencies.push(due.elapsed()),
            Ok(r) => {
                *self.statuses.entry(r.status().as_u16()).or_default() += 1;
                if self.first_error.is_none() {
                    let s = r.status();
                    self.first_error = Some(format!("{s}: {}", r.text().await.unwrap_or_default()));
                }
            }
            Err(e) => {
                self.transport_errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("transport: {e}"));
                }
            }
        }
    }
}

fn post(http: &reqwest::Client, target: &Target, body: String) -> impl Future<Output = reqwest::Result<reqwest::Response>> + use<> {
    http.post(&target.url)
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", &target.secret)
        .body(body)
        .send()
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<u64> {
    let text = http.get(format!("{base}/metrics")).bearer_auth(OPERATOR_TOKEN).send().await?.text().await?;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .ok_or_else(|| anyhow::anyhow!("{name} missing from /metrics"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(backend: Backend, args: &Args) -> anyhow::Result<Figures> {
    let fake = FakeTelegram::start().await?;
    // A loopback server: plain-HTTP webhooks accepted; Telegram's pacing off,
    // as the desk's own limiter already keeps to it and 429s would only add noise.
    fake.allow_insecure_webhooks(true);
    fake.rate_limits(false);
    let dir = tempfile::tempdir()?;
    let (mut m, schema) = test_settings(backend, dir.path(), &fake.url, false);
    m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
    let app = Application::build(Settings::load(&Sources::from_map(m))?).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        stop_rx.await.ok();
    }));
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).timeout(Duration::from_secs(30)).build()?;

    let started = Instant::now();
    let mut targets = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..args.tenants {
        let token = bot_token(n);
        fake.add_bot(&token, &format!("bench{n}_bot"));
        let res = http
            .post(format!("{base}/api/platform/v1/tenants"))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&json!({ "slug": format!("bench-{n}"), "name": format!("Bench {n}"), "bot_token": token, "owner_telegram_id": 1, "plan": "business" }))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "provisioning failed: {}", res.text().await?);
        let wh = fake.webhook(&token).expect("webhook registered");
        targets.push(Target { url: wh.url, secret: wh.secret_token.unwrap_or_default() });
        tokens.push(token);
    }
    println!("  provisioned {} tenants in {:.1} s", args.tenants, started.elapsed().as_secs_f64());

    // Bodies are prepared up front so the load generator measures the server.
    let intake_only = match args.kind.as_str() {
        "message" => false,
        "edited-intake-only" => true,
        other => anyhow::bail!("--kind is message or edited-intake-only, not {other}"),
    };
    let bodies: Vec<(usize, String)> = (0..args.updates)
        .map(|i| {
            let t = (i % args.tenants) as usize;
            let chat = 10_000 + i64::from(i % 5_000);
            // The customers wrote to the bot, so it may answer them.
            fake.start_chat(&tokens[t], chat);
            let update_id = 1_000_000 + i64::from(i);
            let v = if intake_only {
                let mut v = fixtures::named("edited_message", update_id);
                v["edited_message"]["chat"]["id"] = chat.into();
                v
            } else {
                fixtures::message(update_id, chat, &format!("Bench message {i}"))
            };
            (t, v.to_string())
        })
        .collect();

    let processed_before = metric(&http, &base, "tikethet_updates_processed_total").await? + metric(&http, &base, "tikethet_updates_failed_total").await?;
    let targets = Arc::new(targets);
    let t0 = Instant::now();
    let mut outcome = Outcome::default();
    let mode = match args.rate {
        None => {
            let queue = Arc::new(std::sync::Mutex::new(bodies.into_iter()));
            let mut workers = Vec::new();
            for _ in 0..args.concurrency {
                let (queue, targets, http) = (queue.clone(), targets.clone(), http.clone());
                workers.push(tokio::spawn(async move {
                    let mut o = Outcome::default();
                    loop {
                        let next = queue.lock().unwrap().next();
                        let Some((t, body)) = next else { break };
                        let due = Instant::now();
                        let r = post(&http, &targets[t], body).await;
                        o.record(due, r).await;
                    }
                    o
                }));
            }
            for w in workers {
                outcome.merge(w.await?);
            }
            format!("closed loop, {} in flight", args.concurrency)
        }
        Some(rate) => {
            anyhow::ensure!(rate > 0, "--rate must be positive");
            let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
            let mut tasks = Vec::with_capacity(bodies.len());
            for (i, (t, body)) in bodies.into_iter().enumerate() {
                let due = t0 + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let (targets, http) = (targets.clone(), http.clone());
                tasks.push(tokio::spawn(async move {
                    let mut o = Outcome::default();
                    let r = post(&http, &targets[t], body).await;
                    o.record(due, r).await;
                    o
                }));
            }
            for task in tasks {
                outcome.merge(task.await?);
            }
            format!("open loop at {rate}/s")
        }
    };
    let intake_wall = t0.elapsed();
    let acknowledged = outcome.latencies.len();
    let mut lat = outcome.latencies.clone();
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().map(ms).unwrap_or(f64::NAN);
    println!(
        "  intake ({}, {mode}): {acknowledged} of {} acknowledged in {:.2} s = {:.0}/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.kind,
        args.updates,
        intake_wall.as_secs_f64(),
        acknowledged as f64 / intake_wall.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        lat.last().copied().map(ms).unwrap_or(f64::NAN),
    );
    println!(
        "  errors: {} ({} transport, non-2xx by status {:?}){}",
        outcome.errors(),
        outcome.transport_errors,
        outcome.statuses,
        outcome.first_error.as_deref().map(|e| format!("; first: {}", e.chars().take(200).collect::<String>())).unwrap_or_default()
    );

    let mut processed = f64::NAN;
    if intake_only {
        println!("  processing: n/a (edited_message is stored, not processed)");
    } else {
        // Processing: until every acknowledged update is handled (or failed).
        let deadline = Instant::now() + Duration::from_secs(600);
        let done = loop {
            let n = metric(&http, &base, "tikethet_updates_processed_total").await? + metric(&http, &base, "tikethet_updates_failed_total").await? - processed_before;
            if n >= acknowledged as u64 || Instant::now() > deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let wall = t0.elapsed();
        let failed = metric(&http, &base, "tikethet_updates_failed_total").await?;
        anyhow::ensure!(done >= acknowledged as u64, "only {done} of {acknowledged} updates processed after 10 minutes");
        processed = done as f64 / wall.as_secs_f64();
        println!(
            "  processing: {done} updates handled in {:.2} s from the first delivery = {:.0}/s ({failed} failed); inbox drained {:.2} s after intake ended",
            wall.as_secs_f64(),
            done as f64 / wall.as_secs_f64(),
            (wall - intake_wall).as_secs_f64()
        );
    }
    stop_tx.send(()).ok();
    server.await??;
    if let Some(s) = schema {
        drop_pg_schemas(&s).await;
    }
    Ok(Figures { acknowledged: acknowledged as f64 / intake_wall.as_secs_f64(), p50: pct(0.50), p99: pct(0.99), errors: u64::from(outcome.errors()), processed })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backends: &[Backend] = match args.backend.as_str() {
        "sqlite" => &[Backend::Sqlite],
        "postgres" => &[Backend::Postgres],
        "both" => &[Backend::Sqlite, Backend::Postgres],
        other => anyhow::bail!("--backend is sqlite, postgres or both, not {other}"),
    };
    use tikethet_tests::bench_report::{Guard, Readme, Spread, Table};
    let readme = Readme::read(args.readme.as_deref())?;
    let (ceiling, failed) = tikethet_tests::bench_report::pgbench(CEILING, 64, 5).await?;
    println!("{CEILING_ROW}: {ceiling:.0}/s ({failed} failed)");
    let mut guard = Guard::default();
    guard.none("pgbench's failed transactions", failed);
    let mut table = Table { header: vec!["backend", "tenants", "in flight", "acknowledged/s", "ack p50 ms", "ack p99 ms", "errors", "processed/s"], rows: Vec::new() };
    table.rows.push(vec![CEILING_ROW.into(), "–".into(), "64".into(), tikethet_tests::bench_report::fmt(ceiling, 0), "–".into(), "–".into(), failed.to_string(), "–".into()]);
    for b in backends {
        let mut runs = Vec::new();
        for r in 0..args.runs {
            println!("{b:?}, run {} of {}:", r + 1, args.runs);
            runs.push(run(*b, &args).await?);
        }
        let spread = |f: fn(&Figures) -> f64| Spread::new(runs.iter().map(f).collect());
        let (ack, processed) = (spread(|f| f.acknowledged), spread(|f| f.processed));
        let errors: u64 = runs.iter().map(|f| f.errors).sum();
        let name = format!("{b:?}");
        table.rows.push(vec![
            name.clone(),
            args.tenants.to_string(),
            args.concurrency.to_string(),
            ack.cell(0),
            spread(|f| f.p50).cell(1),
            spread(|f| f.p99).cell(1),
            errors.to_string(),
            processed.cell(0),
        ]);
        println!("  {name}: acknowledged {}/s ({}), processed {}/s ({})", ack.cell(0), readme.beside("intake", &[&name], 3), processed.cell(0), readme.beside("intake", &[&name], 7));
        guard.none(&format!("{name}: errors"), errors);
        if let (Some((_, a, p)), "message") = (FLOORS.iter().find(|(n, _, _)| *n == name), args.kind.as_str()) {
            guard.floor(&format!("{name}: acknowledged/s"), ack.median(), "commits/s", ceiling, *a);
            guard.floor(&format!("{name}: processed/s"), processed.median(), "commits/s", ceiling, *p);
        }
    }
    println!();
    print!("{}", table.markdown());
    if let Some(path) = &args.write_readme {
        let body = format!(
            "Measured at {} ({} tenants, {} `{}` updates per run, closed loop, {} run(s) per backend: the median, the spread in brackets):\n\n{}",
            tikethet_tests::bench_report::provenance(),
            args.tenants,
            args.updates,
            args.kind,
            args.runs,
            table.markdown()
        );
        tikethet_tests::bench_report::write_readme(path, "intake", &body)?;
    }
    if args.guard {
        guard.finish("bench-intake")?;
    }
    Ok(())
}
