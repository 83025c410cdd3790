//! Benchmark of self-serve signup: the real server on loopback (in this
//! process, rate limits off) and the Telegram stand-in; `--signups` desks
//! opened one after another as businesses do, each:
//!
//! - signup: `POST /api/v1/signup` answered (getMe, the desk's storage, its
//!   webhook), the claim link in hand;
//! - claim: `/start {code}` delivered to the bot's webhook until the bot
//!   has sent the owner the console link;
//! - served: from the signup's request until the desk's Mini App answers
//!   200 and the owner holds the console link (the whole of it).
//!
//! It prints p50, p95 and the slowest of each, per backend (on PostgreSQL
//! each signup takes one of the node's ready spare schemas, refilled in the
//! background, as provisioning does).
//!
//! `cargo run --release -p tikethet-tests --bin bench-signup -- --backend both`

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use tikethet_platform::Application;
use tikethet_platform::config::{Settings, Sources};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, bot_token, drop_pg_schemas, test_settings};

#[derive(Parser)]
struct Args {
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    backend: String,
    #[arg(long, default_value_t = 30)]
    signups: u32,
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backends = match args.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        "both" => vec![Backend::Sqlite, Backend::Postgres],
        other => anyhow::bail!("--backend must be sqlite, postgres or both (got {other:?})"),
    };
    println!("| backend | signups | signup answered p50 / p95 / max | claim to console link p50 / p95 / max | signup to a served desk p50 / p95 / max |");
    println!("|---|---|---|---|---|");
    for b in backends {
        let fake = FakeTelegram::start().await?;
        fake.allow_insecure_webhooks(true);
        fake.rate_limits(false);
        let dir = tempfile::tempdir()?;
        let (mut m, schema) = test_settings(b, dir.path(), &fake.url, false);
        m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
        m.insert("TIKETHET_RATE_LIMITS".into(), "off".into());
        m.insert("TIKETHET_SIGNUP".into(), "open".into());
        let app = Application::build(Settings::load(&Sources::from_map(m))?).await?;
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            stop_rx.await.ok();
        }));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let result = run(&args, b, &fake, &http, &base).await;
        stop_tx.send(()).ok();
        server.await.ok();
        if let Some(s) = schema {
            drop_pg_schemas(&s).await;
        }
        result?;
    }
    Ok(())
}

async fn run(args: &Args, b: Backend, fake: &FakeTelegram, http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let (mut answered, mut claimed, mut served) = (Vec::new(), Vec::new(), Vec::new());
    // A first desk outside the figures: the server's first requests warm
    // its pools.
    for n in 0..=args.signups {
        let token = bot_token(n + 1);
        fake.add_bot(&token, &format!("bench_signup_{n}_bot"));
        let owner = 9_100_000 + i64::from(n);
        let started = Instant::now();
        let res = http.post(format!("{base}/api/v1/signup")).json(&json!({ "name": format!("Bench shop {n}"), "bot_token": token })).send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status == 201, "signup {n}: {status} {body}");
        let t_answered = started.elapsed();
        let slug = body["slug"].as_str().unwrap_or_default().to_owned();
        let code = body["claim_link"].as_str().and_then(|l| l.split_once("?start=")).map(|(_, c)| c.to_owned()).unwrap_or_default();
        let claim_at = Instant::now();
        let delivered = fake.deliver(&token, &fixtures::message(1, owner, &format!("/start {code}"))).await?;
        anyhow::ensure!(delivered == 200, "claim {n}: the webhook answered {delivered}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut linked = None;
        loop {
            if linked.is_none() && fake.find_sent(&token, owner, "/admin/login?token=").is_some() {
                linked = Some(claim_at.elapsed());
            }
            if linked.is_some() && http.get(format!("{base}/t/{slug}/app/")).send().await?.status() == 200 {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "desk {slug} was not served within 30 s of its signup");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if n > 0 {
            answered.push(t_answered);
            claimed.push(linked.unwrap_or_default());
            served.push(started.elapsed());
        }
    }
    let row = |v: &mut Vec<Duration>| format!("{} / {} / {}", ms(pct(v, 0.5)), ms(pct(v, 0.95)), ms(*v.iter().max().unwrap_or(&Duration::ZERO)));
    println!("| {b:?} | {} | {} | {} | {} |", args.signups, row(&mut answered), row(&mut claimed), row(&mut served));
    Ok(())
}
