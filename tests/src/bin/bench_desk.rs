//! Benchmark of the desk's API and Mini App on PostgreSQL: one desk with
//! `--tickets` tickets, the real server on loopback (in this process, rate
//! limits off: it measures the server, not the limiter), and four requests
//! at `--connections` concurrent connections each (closed loop: a
//! connection sends its next request when the previous answered):
//!
//! - list: `GET …/tickets` as staff (the first page of 20 by last update,
//!   with the total and the counters by status, and each ticket's last message);
//! - read: `GET …/tickets/{id}`, a random ticket;
//! - create: `POST …/tickets` by a random customer;
//! - sign-in: `POST …/auth/telegram` with a random customer's initData.
//!
//! For each it prints requests/s, p50/p99 and every error (non-2xx answers
//! and transport errors, which are in neither the rate nor the latencies).
//! Reads run first over exactly the seeded tickets, then PostgreSQL's own
//! ceiling for the list: `pgbench` running the same statements the list
//! runs (the caller, then the counters, the page and the last messages,
//! each on its own, as the server sends them), prepared, with 50 clients;
//! creates run last.
//! Last, the Mini App in headless Chromium: the time from navigation to the
//! list of 50 tickets on screen, and the render of those 50 (DOM, style and
//! layout) as the page measures it.
//!
//! `--runs 5` reports each figure as the median of five runs with the
//! spread; `--write-readme README.md` writes the table into the README's
//! `bench:desk` block; `--readme README.md` prints the README's figures
//! beside this run's; `--guard` fails on a collapse against the ceiling
//! (see `FLOORS`), which is how CI runs it.
//!
//! `cargo run --release -p tikethet-tests --bin bench-desk`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use tikethet_platform::Application;
use tikethet_platform::config::{Settings, Sources};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::helpers::{Backend, OPERATOR_TOKEN, bot_token, drop_pg_schemas, init_data, test_settings};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    tickets: u32,
    /// Seconds each request kind runs at each connection count.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent connections, comma-separated.
    #[arg(long, default_value = "50,200", value_delimiter = ',')]
    connections: Vec<usize>,
    /// pgbench clients for PostgreSQL's ceiling (0: skip).
    #[arg(long, default_value_t = 50)]
    pgbench_clients: u32,
    /// Page loads of the Mini App measured in Chromium (0: skip).
    #[arg(long, default_value_t = 10)]
    browser_loads: u32,
    /// Runs of each row; each figure is their median, with the spread.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Print the README's figure beside each (its `bench:desk` block).
    #[arg(long)]
    readme: Option<std::path::PathBuf>,
    /// Write the table into the README's `bench:desk` block.
    #[arg(long)]
    write_readme: Option<std::path::PathBuf>,
    /// Fail when a figure collapses against PostgreSQL's ceiling of this
    /// run (see `guard`); for CI.
    #[arg(long)]
    guard: bool,
}

/// The guard's floors, as fractions of PostgreSQL's own rate for the list's
/// statements in the same run. About half of what each measured against
/// that ceiling when the guard was set (list 0.32 to 0.36, read 1.12 to
/// 1.23, sign-in 0.84 to 0.85, create 0.23, at 50 connections): a request
/// that becomes twice as slow as the rest of the machine fails, a slow or
/// busy machine does not.
const FLOORS: [(&str, f64); 4] = [("list", 0.16), ("read", 0.55), ("sign-in", 0.42), ("create", 0.11)];

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "critical"];

/// Customers who open the tickets and sign in.
const CUSTOMERS: i64 = 200;

#[derive(Default)]
struct Stats {
    ok: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, u32>,
    transport: u32,
    first_error: Option<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.ok.extend(o.ok);
        for (s, n) in o.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport += o.transport;
        self.first_error = self.first_error.take().or(o.first_error);
    }

    fn errors(&self) -> u32 {
        self.statuses.values().sum::<u32>() + self.transport
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `connections` loops of `make` for `secs`; every answer read whole.
async fn load(http: &reqwest::Client, connections: usize, secs: u64, make: Arc<dyn Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync>) -> (Stats, Duration) {
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(secs);
    let mut workers = Vec::new();
    for w in 0..connections {
        let (http, make) = (http.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            let mut s = Stats::default();
            let mut i = w as u64 * 1_000_003;
            while Instant::now() < deadline {
                i += 1;
                let start = Instant::now();
                match make(&http, i).send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body = res.bytes().await;
                        match (status, body) {
                            (200..=299, Ok(_)) => s.ok.push(start.elapsed()),
                            (_, Err(e)) => {
                                s.transport += 1;
                                s.first_error.get_or_insert_with(|| e.to_string());
                            }
                            (status, Ok(b)) => {
                                *s.statuses.entry(status).or_default() += 1;
                                s.first_error.get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&b)));
                            }
                        }
                    }
                    Err(e) => {
                        s.transport += 1;
                        s.first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            s
        }));
    }
    let mut all = Stats::default();
    for w in workers {
        all.merge(w.await.expect("a load worker"));
    }
    (all, t0.elapsed())
}

/// A fixed pseudo-random pick in `0..n` for request `i`.
fn pick(i: u64, n: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) % n
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fake = FakeTelegram::start().await?;
    fake.allow_insecure_webhooks(true);
    fake.rate_limits(false);
    let dir = tempfile::tempdir()?;
    let (mut m, schema) = test_settings(Backend::Postgres, dir.path(), &fake.url, false);
    m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
    m.insert("TIKETHET_RATE_LIMITS".into(), "off".into());
    let app = Application::build(Settings::load(&Sources::from_map(m))?).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        stop_rx.await.ok();
    }));
    let most = args.connections.iter().copied().max().unwrap_or(50);
    let http = reqwest::Client::builder().pool_max_idle_per_host(most * 2).timeout(Duration::from_secs(30)).build()?;
    let result = run(&args, &fake, &http, &base, schema.as_deref().unwrap_or_default()).await;
    stop_tx.send(()).ok();
    server.await.ok();
    if let Some(s) = schema {
        drop_pg_schemas(&s).await;
    }
    result
}

async fn run(args: &Args, fake: &FakeTelegram, http: &reqwest::Client, base: &str, schema: &str) -> anyhow::Result<()> {
    // The desk.
    let token = bot_token(1);
    fake.add_bot(&token, "bench_desk_bot");
    let owner_id = 9_000_001_i64;
    let res = http
        .post(format!("{base}/api/platform/v1/tenants"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({ "slug": "bench", "name": "Bench Desk", "bot_token": token, "owner_telegram_id": owner_id, "plan": "business" }))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 201, "provisioning failed: {}", res.text().await?);
    let sign_in = |user: i64| {
        let body = json!({ "init_data": init_data(&token, user, chrono::Utc::now().timestamp()) });
        let req = http.post(format!("{base}/t/bench/api/v1/auth/telegram")).json(&body);
        async move {
            let v: Value = req.send().await?.error_for_status()?.json().await?;
            anyhow::Ok(v["access_token"].as_str().unwrap_or_default().to_owned())
        }
    };
    let owner = sign_in(owner_id).await?;
    let mut customers = Vec::new();
    for c in 0..CUSTOMERS {
        customers.push(sign_in(100_000 + c).await?);
    }
    let customers = Arc::new(customers);

    // The tickets, opened through the API by the customers.
    let t0 = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut seeders = Vec::new();
    for _ in 0..16 {
        let (http, base, customers, next, n) = (http.clone(), base.to_owned(), customers.clone(), next.clone(), args.tickets);
        seeders.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let c = &customers[(i as usize) % customers.len()];
                let body = json!({ "title": format!("Order {i} did not arrive"), "description": format!("Ticket {i}: the parcel was due last week and tracking shows nothing."), "priority": PRIORITIES[(i % 4) as usize] });
                let v: Value = http.post(format!("{base}/t/bench/api/v1/tickets")).bearer_auth(c).json(&body).send().await?.error_for_status()?.json().await?;
                ids.push(v["id"].as_i64().unwrap_or_default());
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::new();
    for s in seeders {
        ids.extend(s.await??);
    }
    let ids = Arc::new(ids);
    let build = if cfg!(debug_assertions) { "DEBUG build: use --release for figures" } else { "release build" };
    println!("desk: {} tickets by {CUSTOMERS} customers, opened through the API in {:.1} s (PostgreSQL, {build}, rate limits off)", ids.len(), t0.elapsed().as_secs_f64());

    // Sign-in bodies are made up front: signing initData is the client's work.
    let sign_ins: Arc<Vec<String>> = Arc::new(
        (0..CUSTOMERS).map(|c| json!({ "init_data": init_data(&token, 100_000 + c, chrono::Utc::now().timestamp()) }).to_string()).collect(),
    );
    let readme = tikethet_tests::bench_report::Readme::read(args.readme.as_deref())?;
    let mut table = tikethet_tests::bench_report::Table { header: vec!["request", "connections", "requests/s", "p50 ms", "p99 ms", "errors"], rows: Vec::new() };
    let mut guard = tikethet_tests::bench_report::Guard::default();
    let mut ceiling = f64::NAN;
    let mut rates_at_first = Vec::new();
    println!();
    println!("| request | connections | requests/s | p50 ms | p99 ms | errors | README |");
    println!("|---|---|---|---|---|---|---|");
    // Reads first, at every connection count, over exactly the seeded
    // tickets; PostgreSQL's ceiling over the same rows; creates last.
    for (phase, &conns) in [false, true].into_iter().flat_map(|c| args.connections.iter().map(move |n| (c, n))) {
        if phase && conns == args.connections[0] && args.pgbench_clients > 0 {
            let name = PGBENCH_ROW;
            let mut rates = Vec::new();
            let mut failed = 0;
            for _ in 0..args.runs {
                let (tps, f) = pgbench(args, http, base, &owner, schema).await?;
                rates.push(tps);
                failed += f;
            }
            let rates = tikethet_tests::bench_report::Spread::new(rates);
            ceiling = rates.median();
            let clients = format!("{} clients", args.pgbench_clients);
            let row = vec![name.to_owned(), clients.clone(), rates.cell(0), "–".into(), "–".into(), failed.to_string()];
            println!("| {} | {} |", row.join(" | "), readme.beside("desk", &[name, &clients], 2));
            table.rows.push(row);
            guard.none("pgbench's failed transactions", failed);
        }
        let kinds: Vec<(&str, Arc<dyn Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync>)> = vec![
            ("list", {
                let (base, owner) = (base.to_owned(), owner.clone());
                Arc::new(move |h: &reqwest::Client, _| h.get(format!("{base}/t/bench/api/v1/tickets")).bearer_auth(&owner))
            }),
            ("read", {
                let (base, owner, ids) = (base.to_owned(), owner.clone(), ids.clone());
                Arc::new(move |h: &reqwest::Client, i| h.get(format!("{base}/t/bench/api/v1/tickets/{}", ids[pick(i, ids.len() as u64) as usize])).bearer_auth(&owner))
            }),
            ("create", {
                let (base, customers) = (base.to_owned(), customers.clone());
                Arc::new(move |h: &reqwest::Client, i| {
                    let c = &customers[pick(i, customers.len() as u64) as usize];
                    h.post(format!("{base}/t/bench/api/v1/tickets")).bearer_auth(c).json(&json!({ "title": "Cannot sign in", "description": "The code never arrives." }))
                })
            }),
            ("sign-in", {
                let (base, bodies) = (base.to_owned(), sign_ins.clone());
                Arc::new(move |h: &reqwest::Client, i| {
                    h.post(format!("{base}/t/bench/api/v1/auth/telegram")).header("content-type", "application/json").body(bodies[pick(i, bodies.len() as u64) as usize].clone())
                })
            }),
        ];
        for (name, make) in kinds {
            // Creates change what the reads read: they run last.
            if (name == "create") != phase {
                continue;
            }
            let (mut rates, mut p50s, mut p99s, mut errors, mut first) = (Vec::new(), Vec::new(), Vec::new(), 0u64, None);
            for _ in 0..args.runs {
                let (mut s, took) = load(http, conns, args.seconds, make.clone()).await;
                s.ok.sort();
                rates.push(s.ok.len() as f64 / took.as_secs_f64());
                p50s.push(pct(&s.ok, 0.5));
                p99s.push(pct(&s.ok, 0.99));
                errors += u64::from(s.errors());
                if s.errors() > 0 && first.is_none() {
                    first = Some(format!("{:?}, transport {}; first: {}", s.statuses, s.transport, s.first_error.as_deref().unwrap_or("").chars().take(120).collect::<String>()));
                }
            }
            let rate = tikethet_tests::bench_report::Spread::new(rates);
            let errors_cell = match first {
                None => errors.to_string(),
                Some(f) => format!("{errors} ({f})"),
            };
            let conns_cell = conns.to_string();
            let row = vec![name.to_owned(), conns_cell.clone(), rate.cell(0), tikethet_tests::bench_report::Spread::new(p50s).cell(1), tikethet_tests::bench_report::Spread::new(p99s).cell(1), errors_cell];
            println!("| {} | {} |", row.join(" | "), readme.beside("desk", &[name, &conns_cell], 2));
            table.rows.push(row);
            guard.none(&format!("{name} at {conns} connections, errors"), errors);
            if conns == args.connections[0] {
                rates_at_first.push((name, rate.median()));
            }
        }
    }
    // Against the ceiling, which was taken between the reads and the creates.
    for (name, rate) in rates_at_first {
        if let Some((_, fraction)) = FLOORS.iter().find(|(n, _)| *n == name) {
            guard.floor(&format!("{name} at {} connections, requests/s", args.connections[0]), rate, "pgbench", ceiling, *fraction);
        }
    }

    let mut notes = Vec::new();
    if args.browser_loads > 0 {
        notes.push(browser(args, base, &token, owner_id).await?);
    }
    if let Some(path) = &args.write_readme {
        let body = format!(
            "Measured at {} ({} tickets, {} s per row, {} run(s) each: the median, the spread in brackets; rate limits off):\n\n{}{}",
            tikethet_tests::bench_report::provenance(),
            ids.len(),
            args.seconds,
            args.runs,
            table.markdown(),
            notes.iter().map(|n| format!("\n{n}\n")).collect::<String>()
        );
        tikethet_tests::bench_report::write_readme(path, "desk", &body)?;
    }
    if args.guard {
        guard.finish("bench-desk")?;
    }
    Ok(())
}

/// The table's row for PostgreSQL's own ceiling.
const PGBENCH_ROW: &str = "PostgreSQL alone: the list's statements (pgbench, prepared)";

/// PostgreSQL's ceiling for the list: the statements one list request runs
/// as a pgbench script (prepared, `--pgbench-clients`): its rate and failed
/// transactions.
async fn pgbench(args: &Args, http: &reqwest::Client, base: &str, owner: &str, schema: &str) -> anyhow::Result<(f64, u64)> {
    // The first page's ids, as the list answers them.
    let page: Value = http.get(format!("{base}/t/bench/api/v1/tickets")).bearer_auth(owner).send().await?.json().await?;
    let ids: Vec<String> = page["items"].as_array().map(|a| a.iter().map(|t| t["id"].to_string()).collect()).unwrap_or_default();
    let me: Value = http.get(format!("{base}/t/bench/api/v1/auth/me")).bearer_auth(owner).send().await?.json().await?;
    let s = format!("\"{schema}_bench\"");
    let list = ids.join(", ");
    // The statements sea-orm sends for resolving the caller
    // (`TenantDb::find_one`) and for `desk::list` without a search: three
    // reads outside a transaction, their tables qualified with the desk's
    // schema (see tenant-runtime/src/desk/list.rs).
    let script = format!(
        "SELECT * FROM {s}.users WHERE id = {me};\n\
         SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM {s}.ticket_counts GROUP BY status;\n\
         SELECT * FROM {s}.tickets ORDER BY updated_at DESC, id DESC LIMIT 21;\n\
         SELECT * FROM {s}.messages WHERE id IN (SELECT MAX(id) FROM {s}.messages WHERE ticket_id IN ({list}) AND internal = false AND deleted_at IS NULL GROUP BY ticket_id);\n",
        me = me["id"]
    );
    tikethet_tests::bench_report::pgbench(&script, args.pgbench_clients, args.seconds).await
}

/// The Mini App in headless Chromium, opened as Telegram opens it, by the
/// desk's owner (who sees every ticket: the first page holds 50).
async fn browser(args: &Args, base: &str, token: &str, owner_id: i64) -> anyhow::Result<String> {
    let (_driver, c) = tikethet_tests::browser::browser().await;
    // Resolves, at the first frame where the list is ready, with the time
    // since navigation, the items shown and the page's own render measure.
    let ready = "const done = arguments[arguments.length - 1];\
        const tick = () => { const n = document.querySelectorAll('[data-testid=ticket-item]').length;\
          if (document.body.dataset.state === 'ready' && document.body.dataset.view === 'list' && n > 0) done([performance.now(), n, window.__tikethet.lastListRenderMs]);\
          else requestAnimationFrame(tick); };\
        tick();";
    let mut shown = Vec::new();
    let mut render = Vec::new();
    let mut items = 0;
    for _ in 0..args.browser_loads {
        c.goto("about:blank").await?;
        c.goto(&tikethet_tests::browser::launch_url(base, "bench", token, owner_id, false)).await?;
        let v = c.execute_async(ready, vec![]).await?;
        shown.push(v[0].as_f64().unwrap_or(f64::NAN));
        items = v[1].as_u64().unwrap_or(0);
        render.push(v[2].as_f64().unwrap_or(f64::NAN));
    }
    c.close().await?;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (shown_med, shown_max) = median(&mut shown);
    let (render_med, render_max) = median(&mut render);
    let text = format!(
        "The Mini App in headless Chromium, {} loads as the desk's owner, {items} tickets on the first page: navigation to the list on screen (sign-in, list request, render) median {shown_med:.0} ms, max {shown_max:.0} ms; render of the {items} tickets (DOM, style, layout) median {render_med:.1} ms, max {render_max:.1} ms.",
        args.browser_loads
    );
    println!();
    println!("{text}");
    Ok(text)
}
