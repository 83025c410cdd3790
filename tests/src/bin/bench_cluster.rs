//! Benchmark of several nodes: 1, 2 and 3 `tikethet serve` processes (the
//! real binary, `tikethet-under-test` beside this one) on one PostgreSQL,
//! through a PgBouncer in transaction mode (`--direct` to skip it), and one
//! Redis, with every update posted to a node picked at random, as a load
//! balancer would.
//!
//! It reports, for each number of nodes, apart:
//! - intake: updates acknowledged per second (first post to last
//!   acknowledgement) and the acknowledgement's latency, errors counted;
//! - processing: updates fully handled per second (first post until the
//!   nodes' `tikethet_updates_processed_total` and `…_failed_total` add up
//!   to every update), summed over the nodes.
//!
//! Each chat's updates go in order (Telegram sends a chat's next update
//! after the last was acknowledged); `--concurrency` chats at once.
//! Everything shares this machine's cores: nodes, PostgreSQL, PgBouncer,
//! Redis, the Telegram stand-in and this load generator. A node's error
//! stops the benchmark at once with it: a rate measured over errors would
//! be wrong.
//!
//! `--kill N`: in the run with N nodes, one is killed (SIGKILL) once 40% of
//! the updates are acknowledged, after being frozen a moment (SIGSTOP) to
//! read the chats it held with updates pending. Posts it failed go again to
//! another node, as Telegram retries; the benchmark reports how long after
//! its death those chats were worked again (the update its death stopped
//! in each processed; the node heartbeat's promise is under 5 s), and when
//! every update pending in them then was.
//!
//! `cargo build --release -p tikethet-tests --bins && target/release/bench-cluster`

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use rand::Rng as _;
use serde_json::json;
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{bot_token, drop_pg_schemas, postgres_url, random_suffix, redis_url};
use tikethet_tests::nodes;
use tikethet_tests::pgbouncer::PgBouncer;

#[derive(Parser)]
struct Args {
    /// Node counts to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    nodes: Vec<usize>,
    #[arg(long, default_value_t = 20)]
    tenants: i64,
    #[arg(long, default_value_t = 20)]
    chats_per_tenant: i64,
    #[arg(long, default_value_t = 10)]
    messages_per_chat: i64,
    /// Chats posting at once (each one update at a time).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Straight to PostgreSQL instead of through PgBouncer.
    #[arg(long)]
    direct: bool,
    /// Kill one node mid-load in the run with this many nodes.
    #[arg(long)]
    kill: Option<usize>,
}

/// What the kill left and how soon it was worked again.
struct Killed {
    at_acked: u64,
    chats: usize,
    pending: usize,
    /// Until the update its death stopped in each chat was processed.
    worked_again: Duration,
    /// Until every update pending in them at its death was.
    drained: Duration,
}

/// Updates still pending in a tenant's inbox.
async fn pending_updates(pg: &sea_orm::DatabaseConnection, tenant_schema: &str) -> anyhow::Result<u64> {
    use sea_orm::ConnectionTrait as _;
    let q = format!("SELECT count(*) FROM \"{tenant_schema}\".inbox WHERE status = 'pending'");
    let row = pg.query_one_raw(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, q)).await?.context("count returns a row")?;
    Ok(row.try_get_by_index::<i64>(0)? as u64)
}

async fn metric(http: &reqwest::Client, base: &str, op: &str, name: &str) -> anyhow::Result<u64> {
    let text = http.get(format!("{base}/metrics")).bearer_auth(op).send().await?.text().await?;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
        .ok_or_else(|| anyhow::anyhow!("{name} missing from /metrics"))
}

struct Chat {
    /// The webhook path and secret of its tenant.
    path: String,
    secret: String,
    chat: i64,
    /// Its updates, in order.
    updates: Vec<String>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(exe: &std::path::Path, n_nodes: usize, args: &Args) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    fake.allow_insecure_webhooks(true);
    fake.rate_limits(false);
    let dir = tempfile::tempdir()?;
    let schema = format!("bench_{}", random_suffix());
    let op = format!("operator_token_{}_bench", random_suffix());
    let bouncer = if args.direct { None } else { Some(PgBouncer::start(&postgres_url(), &schema)?) };
    let db = bouncer.as_ref().map(PgBouncer::url).unwrap_or_else(postgres_url);
    let env = [
        ("TIKETHET_TELEGRAM_API_URL", fake.url.clone()),
        ("TIKETHET_DATABASE_URL", db),
        ("TIKETHET_DATABASE_SCHEMA", schema.clone()),
        ("TIKETHET_REDIS_URL", redis_url()),
        ("TIKETHET_REDIS_PREFIX", format!("{schema}:")),
        ("TIKETHET_OPERATOR_TOKEN", op.clone()),
        ("TIKETHET_MASTER_KEY", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned()),
        ("TIKETHET_JWT_SECRET", format!("bench-{}-0123456789abcdef0123456789", random_suffix())),
        ("TIKETHET_RATE_LIMITS", "off".to_owned()),
        ("TIKETHET_LOG", "warn".to_owned()),
    ];
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).timeout(Duration::from_secs(30)).build()?;
    let mut nodes = Vec::new();
    for i in 0..n_nodes {
        let mut n = nodes::spawn(exe, dir.path(), &format!("node{i}"), &env)?;
        nodes::ready(&http, &mut n).await?;
        nodes.push(n);
    }
    let mut chats = VecDeque::new();
    for t in 0..args.tenants {
        let token = bot_token(t as u32 + 1);
        fake.add_bot(&token, &format!("desk{t}_bot"));
        let owner = 9_000_000 + t;
        fake.start_chat(&token, owner);
        let res = http
            .post(format!("{}/api/platform/v1/tenants", nodes[t as usize % nodes.len()].base))
            .bearer_auth(&op)
            .json(&json!({ "slug": format!("desk{t}"), "name": format!("Desk {t}"), "bot_token": token, "owner_telegram_id": owner, "plan": "business" }))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "provisioning failed: {}", res.text().await?);
        let wh = fake.webhook(&token).context("no webhook")?;
        let path = wh.url.split_once("/tg/").map(|(_, r)| format!("/tg/{r}")).context("no webhook route")?;
        for c in 0..args.chats_per_tenant {
            let chat = 700_000 + t * 1_000 + c;
            fake.start_chat(&token, chat);
            let updates = (0..args.messages_per_chat).map(|k| fixtures::message(1_000 + k * 10_000 + c, chat, &format!("message {k}")).to_string()).collect();
            chats.push_back(Chat { path: path.clone(), secret: wh.secret_token.clone().unwrap_or_default(), chat, updates });
        }
    }
    // Every node serves every tenant before the load starts (a wrong
    // secret is refused with 401 by a node that knows the route, 404 else).
    let paths: Vec<String> = chats.iter().map(|c| c.path.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for n in &nodes {
        for path in &paths {
            let ok = tikethet_tests::helpers::wait_for(Duration::from_secs(30), || async {
                let r = http.post(format!("{}{path}", n.base)).header("X-Telegram-Bot-Api-Secret-Token", "wrong").json(&json!({})).send().await.ok()?;
                (r.status() == 401).then_some(())
            })
            .await;
            anyhow::ensure!(ok.is_some(), "node {} does not serve {path}", n.base);
        }
    }
    let total = (args.tenants * args.chats_per_tenant * args.messages_per_chat) as u64;
    let kill = args.kill == Some(n_nodes) && n_nodes > 1;
    let victim = n_nodes - 1;
    let victim_base = nodes[victim].base.clone();
    let bases: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(nodes.iter().map(|n| n.base.clone()).collect()));
    let queue = Arc::new(Mutex::new(chats));
    let acked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (queue, bases, http, acked, victim_base) = (queue.clone(), bases.clone(), http.clone(), acked.clone(), victim_base.clone());
        workers.spawn(async move {
            let (mut lat, mut retried) = (Vec::new(), 0u64);
            loop {
                let Some(chat) = queue.lock().unwrap().pop_front() else { break };
                for u in &chat.updates {
                    loop {
                        let base = {
                            let b = bases.lock().unwrap();
                            b[rand::rng().random_range(0..b.len())].clone()
                        };
                        let t0 = Instant::now();
                        let r = http
                            .post(format!("{base}{}", chat.path))
                            .header("content-type", "application/json")
                            .header("X-Telegram-Bot-Api-Secret-Token", &chat.secret)
                            .body(u.clone())
                            .send()
                            .await;
                        let error = match r {
                            Ok(r) if r.status().is_success() => {
                                lat.push(t0.elapsed());
                                break;
                            }
                            Ok(r) => format!("{}", r.status()),
                            Err(e) => e.to_string(),
                        };
                        // Only the node being killed may fail a post (it
                        // goes again to another); any other error ends
                        // the benchmark.
                        anyhow::ensure!(kill && base == victim_base, "chat {}: node {base} answered {error}", chat.chat);
                        retried += 1;
                    }
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok((lat, retried))
        });
    }
    let mut killed = None;
    if kill {
        while acked.load(std::sync::atomic::Ordering::Relaxed) < total * 2 / 5 {
            if let Some(done) = workers.try_join_next() {
                done??;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at_acked = acked.load(std::sync::atomic::Ordering::Relaxed);
        bases.lock().unwrap().retain(|b| *b != victim_base);
        nodes[victim].pause()?;
        let died = Instant::now();
        let pg = sea_orm::Database::connect(postgres_url()).await?;
        // Per tenant: the oldest pending update of each chat it held (the
        // one its death stopped), and all of them.
        let mut held = Vec::new();
        let (mut chats, mut pending) = (0, 0);
        for t in 0..args.tenants {
            let work = nodes::held_work(&pg, &format!("{schema}_desk{t}"), nodes[victim].port()).await?;
            chats += work.len();
            pending += work.values().map(Vec::len).sum::<usize>();
            let heads: Vec<i64> = work.values().filter_map(|rows| rows.first().copied()).collect();
            held.push((format!("{schema}_desk{t}"), heads, work.into_values().flatten().collect::<Vec<i64>>()));
        }
        nodes[victim].child.kill()?;
        nodes[victim].child.wait()?;
        anyhow::ensure!(pending > 0, "the killed node held no chat with pending updates; nothing to measure");
        let deadline = died + Duration::from_secs(120);
        let mut worked_again = None;
        let drained = loop {
            let (mut heads_left, mut left) = (0, 0);
            for (schema, heads, rows) in held.iter().filter(|(_, _, rows)| !rows.is_empty()) {
                heads_left += nodes::still_pending(&pg, schema, heads).await?;
                left += nodes::still_pending(&pg, schema, rows).await?;
            }
            if heads_left == 0 && worked_again.is_none() {
                worked_again = Some(died.elapsed());
            }
            if left == 0 {
                break died.elapsed();
            }
            anyhow::ensure!(Instant::now() < deadline, "the killed node's chats were not worked again within 120 s ({left} updates left)");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        pg.close().await.ok();
        killed = Some(Killed { at_acked, chats, pending, worked_again: worked_again.unwrap_or(drained), drained });
    }
    let (mut lat, mut retried) = (Vec::new(), 0);
    while let Some(done) = workers.join_next().await {
        // The first error stops the run (the other workers are dropped).
        let (l, r) = done??;
        lat.extend(l);
        retried += r;
    }
    let errors = 0;
    let intake = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    let live: Vec<String> = bases.lock().unwrap().clone();
    let (processed, failed) = if kill {
        // The killed node's counters died with it: count in the database.
        let pg = sea_orm::Database::connect(postgres_url()).await?;
        let done = loop {
            let mut left = 0;
            for t in 0..args.tenants {
                left += pending_updates(&pg, &format!("{schema}_desk{t}")).await?;
            }
            if left == 0 || Instant::now() > deadline {
                break total - left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        pg.close().await.ok();
        (done, 0)
    } else {
        loop {
            let (mut p, mut f) = (0, 0);
            for b in live.iter() {
                p += metric(&http, b, &op, "tikethet_updates_processed_total").await?;
                f += metric(&http, b, &op, "tikethet_updates_failed_total").await?;
            }
            if p + f >= total || Instant::now() > deadline {
                break (p, f);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let processing = started.elapsed();
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or_default();
    println!(
        "| {n_nodes}{} | {total} | {:.0} | {:.1} ms | {:.1} ms | {errors} | {:.0} | {processed} / {failed} |",
        if killed.is_some() { ", one killed" } else { "" },
        lat.len() as f64 / intake.as_secs_f64(),
        ms(pct(0.5)),
        ms(pct(0.99)),
        (processed + failed) as f64 / processing.as_secs_f64(),
    );
    if let Some(k) = killed {
        println!(
            "  node {victim} killed at {} of {total} acknowledged, holding {} chats with {} updates pending: each of those chats worked again (the update the death stopped processed) {:.2} s after the death, all {} updates {:.2} s after it; {retried} posts the killed node failed went to another node",
            k.at_acked,
            k.chats,
            k.pending,
            k.worked_again.as_secs_f64(),
            k.pending,
            k.drained.as_secs_f64()
        );
    }
    drop(nodes);
    drop(bouncer);
    drop_pg_schemas(&schema).await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let exe = std::env::current_exe()?.with_file_name("tikethet-under-test");
    anyhow::ensure!(exe.exists(), "{} is missing: cargo build --release -p tikethet-tests --bins", exe.display());
    println!(
        "{} tenants x {} chats x {} messages, {} chats posting at once, {}",
        args.tenants,
        args.chats_per_tenant,
        args.messages_per_chat,
        args.concurrency,
        if args.direct { "straight to PostgreSQL" } else { "through PgBouncer (transaction mode)" }
    );
    println!("| nodes | updates | acknowledged/s | ack p50 | ack p99 | errors | processed/s | processed / failed |");
    println!("|---|---|---|---|---|---|---|---|");
    for n in args.nodes.clone() {
        run(&exe, n, &args).await?;
    }
    Ok(())
}
