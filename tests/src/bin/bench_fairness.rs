//! bench-fairness: does one tenant's heavy load leave another tenant's
//! customers waiting?
//!
//! Tenant A ("heavy") has a plugin that runs to its 50 ms CPU-time deadline
//! on every message (the `hostile` test plugin in `spin` mode), its
//! customers keep writing, and it broadcasts to thousands of chats (outbox
//! rows queued at once, delivered within Telegram's 30 messages a second per
//! bot). Tenant B ("steady") has customers writing `/help` at a steady rate;
//! each gets an answer. The benchmark measures B's message-to-reply latency
//! (from the webhook delivery to the stand-in receiving `sendMessage`) with A
//! idle and then with A busy, in one run, and prints them side by side.
//!
//! ```sh
//! cargo run --release -p tikethet-tests --bin bench-fairness -- --backend postgres
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, TestApp, Tenant, spawn_app, wait_until};

#[derive(Parser)]
struct Args {
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    backend: String,
    /// Length of each phase.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// B's messages per second, spread over its chats.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// B's customers.
    #[arg(long, default_value_t = 60)]
    chats: i64,
    /// Chats A broadcasts to.
    #[arg(long, default_value_t = 5000)]
    broadcast: i64,
    /// A's customers writing (each message runs A's spinning plugin).
    #[arg(long, default_value_t = 20)]
    a_chats: i64,
    /// A's messages per second.
    #[arg(long, default_value_t = 40)]
    a_rate: u64,
}

struct Phase {
    latencies: Vec<Duration>,
    sent: usize,
    errors: usize,
    unanswered: usize,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// B's customers write `/help` at a fixed rate (open loop: the next message
/// does not wait for the last answer); each answer is matched to its
/// message by chat and order.
async fn run_b(app: &TestApp, b: &Tenant, args: &Args, first_update: i64) -> Phase {
    let total = (args.seconds * args.rate) as i64;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let started = Instant::now();
    let before: HashMap<i64, usize> = (0..args.chats).map(|c| (900_000 + c, app.fake.sends_to(&b.token, 900_000 + c).len())).collect();
    let mut delivered: HashMap<i64, Vec<Instant>> = HashMap::new();
    let mut tasks = Vec::new();
    let mut errors = 0;
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let chat = 900_000 + i % args.chats;
        let update = fixtures::start(first_update + i, chat);
        let mut update = update;
        update["message"]["text"] = json!("/help");
        update["message"]["entities"] = json!([{"offset": 0, "length": 5, "type": "bot_command"}]);
        let at = Instant::now();
        delivered.entry(chat).or_default().push(at);
        let fake = app.fake.clone();
        let token = b.token.clone();
        tasks.push(tokio::spawn(async move { fake.deliver(&token, &update).await }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(200)) => {}
            _ => errors += 1,
        }
    }
    // Wait (bounded) for every answer, then pair them up.
    let expected: usize = delivered.values().map(Vec::len).sum();
    let done = wait_until(Duration::from_secs(120), || {
        let got: usize = delivered.keys().map(|c| app.fake.sends_to(&b.token, *c).iter().filter(|x| x.ok).count() - before[c].min(usize::MAX)).sum();
        (got >= expected).then_some(())
    })
    .await;
    if done.is_none() {
        eprintln!("warning: not every B message was answered within 120 s");
    }
    let mut latencies = Vec::new();
    let mut unanswered = 0;
    for (chat, times) in &delivered {
        let answers: Vec<Instant> = app.fake.sends_to(&b.token, *chat).into_iter().filter(|c| c.ok).skip(before[chat]).map(|c| c.at).collect();
        for (k, t0) in times.iter().enumerate() {
            match answers.get(k) {
                Some(t1) => latencies.push(t1.saturating_duration_since(*t0)),
                None => unanswered += 1,
            }
        }
    }
    latencies.sort();
    Phase { latencies, sent: total as usize, errors, unanswered }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backend = match args.backend.as_str() {
        "postgres" => Backend::Postgres,
        "sqlite" => Backend::Sqlite,
        other => anyhow::bail!("--backend must be postgres or sqlite, not {other:?}"),
    };
    let app = spawn_app(backend).await;
    let a = app.create_tenant("heavy", 1).await;
    let b = app.create_tenant("steady", 2).await;

    // A's plugin spins until its CPU-time deadline on every message.
    let owner = app.sign_in(&a, a.owner).await;
    let bytes = std::fs::read(tikethet_plugins::build::build_bundled("hostile")?)?;
    let res = app
        .http
        .put(app.url("/t/heavy/api/v1/plugins/spinner"))
        .bearer_auth(&owner)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await?;
    anyhow::ensure!(res.status() == 200, "upload: {}", res.text().await?);
    let res = app.http.patch(app.url("/t/heavy/api/v1/plugins/spinner")).bearer_auth(&owner).json(&json!({"config": {"mode": "spin"}})).send().await?;
    anyhow::ensure!(res.status() == 200, "configure: {}", res.text().await?);

    println!("bench-fairness: backend {:?}, {} s per phase, B {} msg/s over {} chats; A busy = {} msg/s over {} chats through a plugin that runs to its deadline + a broadcast to {} chats", backend, args.seconds, args.rate, args.chats, args.a_rate, args.a_chats, args.broadcast);

    // Warm up B (first connections, statements, the first replies).
    let _ = run_b(&app, &b, &Args { seconds: 2, ..Args::parse() }, 1).await;
    let idle = run_b(&app, &b, &args, 100_000).await;

    // A gets busy: a broadcast queued at once, and customers writing.
    let heavy = app.state.runtime.tenants().by_slug("heavy").expect("served");
    for c in 0..args.broadcast {
        app.fake.start_chat(&a.token, 5_000_000 + c);
    }
    {
        use sea_orm::{ConnectionTrait, Statement};
        let txn = heavy.db.begin().await?;
        let backend_kind = txn.get_database_backend();
        for chunk in (0..args.broadcast).collect::<Vec<_>>().chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|c| format!("({}, 'Our shop opens an hour later tomorrow.', 'pending', 0, {})", 5_000_000 + c, match backend_kind {
                    sea_orm::DbBackend::Postgres => "now()",
                    _ => "CURRENT_TIMESTAMP",
                }))
                .collect();
            let sql = format!("INSERT INTO outbox (chat_id, text, status, attempts, created_at) VALUES {}", values.join(","));
            txn.execute_raw(Statement::from_string(backend_kind, sql)).await?;
        }
        txn.commit().await?;
    }
    let broadcast_start = Instant::now();
    app.state.runtime.recover(&heavy).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let a_sent = Arc::new(AtomicU64::new(0));
    let writer = {
        let (fake, token, stop, a_sent) = (app.fake.clone(), a.token.clone(), stop.clone(), a_sent.clone());
        let (rate, chats) = (args.a_rate, args.a_chats);
        tokio::spawn(async move {
            let interval = Duration::from_secs_f64(1.0 / rate as f64);
            let mut i = 0i64;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep_until((start + interval * i as u32).into()).await;
                let update = fixtures::message(2_000_000 + i, 7_000_000 + i % chats, &format!("heavy {i}"));
                let (fake, token) = (fake.clone(), token.clone());
                let a_sent = a_sent.clone();
                tokio::spawn(async move {
                    if let Ok(200) = fake.deliver(&token, &update).await {
                        a_sent.fetch_add(1, Ordering::Relaxed);
                    }
                });
                i += 1;
            }
        })
    };
    // Five timeouts in a row switch a plugin off; a hostile tenant's admin
    // keeps switching it back on.
    let reenabler = {
        let (http, url, owner, stop) = (app.http.clone(), app.url("/t/heavy/api/v1/plugins/spinner"), owner.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = http.patch(&url).bearer_auth(&owner).json(&json!({"enabled": true})).send().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // Let A's load build up before measuring B.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let plugin_calls_before = plugin_invocations(&app).await;
    let busy = run_b(&app, &b, &args, 200_000).await;
    let plugin_calls = plugin_invocations(&app).await - plugin_calls_before;
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    reenabler.await?;
    let broadcast_sent: usize = (0..args.broadcast).filter(|c| app.fake.sends_to(&a.token, 5_000_000 + c).iter().any(|x| x.ok)).count();
    let broadcast_secs = broadcast_start.elapsed().as_secs_f64();

    println!();
    println!("| B's message → reply | A | sent | errors | unanswered | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, p) in [("idle", &idle), ("busy", &busy)] {
        println!(
            "| | {name} | {} | {} | {} | {} | {} | {} | {} |",
            p.sent,
            p.errors,
            p.unanswered,
            ms(pct(&p.latencies, 0.5)),
            ms(pct(&p.latencies, 0.95)),
            ms(pct(&p.latencies, 0.99)),
            ms(p.latencies.last().copied().unwrap_or_default())
        );
    }
    let ratio = pct(&busy.latencies, 0.99).as_secs_f64() / pct(&idle.latencies, 0.99).as_secs_f64().max(1e-9);
    println!();
    println!("B's p99 busy / idle: {ratio:.2}x (aim: 2x or less)");
    println!(
        "A while B was measured: {} messages acknowledged, {} plugin calls ({:.1}/s, each up to the 50 ms deadline); broadcast: {} of {} delivered in {:.1} s ({:.1}/s; Telegram's limit is 30/s per bot)",
        a_sent.load(Ordering::Relaxed),
        plugin_calls,
        plugin_calls as f64 / args.seconds as f64,
        broadcast_sent,
        args.broadcast,
        broadcast_secs,
        broadcast_sent as f64 / broadcast_secs
    );
    Ok(())
}

/// Plugin calls A made so far: those that ran to the deadline are recorded
/// as failures (timeouts), the others count as invocations.
async fn plugin_invocations(app: &TestApp) -> i64 {
    let heavy = app.state.runtime.tenants().by_slug("heavy").expect("served");
    let txn = heavy.db.begin().await.expect("storage");
    use sea_orm::{EntityTrait, PaginatorTrait};
    let n = tikethet_runtime::storage::entities::plugin_failures::Entity::find().count(&txn).await.unwrap_or(0) as i64;
    let p: i64 = tikethet_runtime::storage::entities::plugins::Entity::find().all(&txn).await.map(|v| v.iter().map(|p| p.invocations).sum()).unwrap_or(0);
    txn.commit().await.ok();
    n + p
}
