//! Benchmark of webhook intake: many tenants, concurrent deliveries, the
//! real server (in this process, on loopback) and real storage. Prints
//! acknowledged updates per second and p50/p99/max acknowledgement latency.
//!
//! `cargo run --release -p tikethet-tests --bin bench-intake -- --backend both`

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
    /// Deliveries in flight at once (Telegram opens up to 100 connections per bot).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// `message`: text messages, fully processed (tickets, replies) while
    /// intake is measured; `edited`: an update kind that is only stored.
    #[arg(long, default_value = "message")]
    kind: String,
}

struct Target {
    url: String,
    secret: String,
}

async fn run(backend: Backend, args: &Args) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    let dir = tempfile::tempdir()?;
    let (mut m, schema) = test_settings(backend, dir.path(), &fake.url, false);
    m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
    let app = Application::build(Settings::load(&Sources::from_map(m))?).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).timeout(Duration::from_secs(30)).build()?;

    let started = Instant::now();
    let mut targets = Vec::new();
    for n in 0..args.tenants {
        let token = bot_token(n);
        fake.add_bot(&token, &format!("bench{n}_bot"));
        let res = http
            .post(format!("{base}/api/platform/v1/tenants"))
            .bearer_auth(OPERATOR_TOKEN)
            .json(&json!({ "slug": format!("bench-{n}"), "name": format!("Bench {n}"), "bot_token": token, "owner_telegram_id": 1 }))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "provisioning failed: {}", res.text().await?);
        let wh = fake.webhook(&token).expect("webhook registered");
        targets.push(Target { url: wh.url, secret: wh.secret_token.unwrap_or_default() });
    }
    println!("  provisioned {} tenants in {:.1} s", args.tenants, started.elapsed().as_secs_f64());

    // Bodies are prepared up front so the load generator measures the server.
    let bodies: Vec<(usize, String)> = (0..args.updates)
        .map(|i| {
            let t = (i % args.tenants) as usize;
            let chat = 10_000 + i64::from(i % 5_000);
            let update_id = 1_000_000 + i64::from(i);
            let v = if args.kind == "edited" {
                let mut v = fixtures::named("edited_message", update_id);
                v["edited_message"]["chat"]["id"] = chat.into();
                v
            } else {
                fixtures::message(update_id, chat, &format!("Bench message {i}"))
            };
            (t, v.to_string())
        })
        .collect();

    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies.into_iter()));
    let targets = std::sync::Arc::new(targets);
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (queue, targets, http) = (queue.clone(), targets.clone(), http.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u32;
            loop {
                let next = queue.lock().unwrap().next();
                let Some((t, body)) = next else { break };
                let target = &targets[t];
                let s = Instant::now();
                let r = http
                    .post(&target.url)
                    .header("content-type", "application/json")
                    .header("X-Telegram-Bot-Api-Secret-Token", &target.secret)
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => lat.push(s.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        lat.extend(l);
        errors += e;
    }
    let wall = t0.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "  {} updates ({}), {} tenants, {} in flight: {:.0} acknowledged/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} errors",
        lat.len(),
        args.kind,
        args.tenants,
        args.concurrency,
        lat.len() as f64 / wall.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        errors
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    if let Some(s) = schema {
        drop_pg_schemas(&s).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backends: &[Backend] = match args.backend.as_str() {
        "sqlite" => &[Backend::Sqlite],
        "postgres" => &[Backend::Postgres],
        _ => &[Backend::Sqlite, Backend::Postgres],
    };
    for b in backends {
        println!("{b:?}:");
        run(*b, &args).await?;
    }
    Ok(())
}
