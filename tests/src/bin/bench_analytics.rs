//! Benchmark of the console's analytics on a desk of `--tickets` tickets
//! (10,000 by default) spread over 90 days, the real server on loopback in
//! this process, on SQLite and on PostgreSQL:
//!
//! - the queue (`/t/{slug}/admin/`: the active tickets, every ticket, a
//!   search, one tag, one assignee, and ordered by time to breach), with
//!   service-level targets and business hours set, each loaded `--runs`
//!   times: p50, p95 and the slowest load, the page whole (issue 30: under
//!   300 ms);
//! - the analytics page (`/t/{slug}/admin/analytics?days=7|30|90`), each
//!   window loaded `--runs` times in turn: p50, p95 and the slowest load;
//! - the export of every ticket (`…/analytics/tickets.csv`, streamed): its
//!   time, size and rows, and this process's resident memory, sampled every
//!   5 ms while it downloads, above what it was just before (the download
//!   is read and counted, never kept). A second export of `--tickets`
//!   × `--grow` tickets shows whether that memory follows the size.
//!
//! - search (`GET /t/{slug}/api/v1/tickets?q=…`, the tenant API as staff
//!   use it) over `--messages` customer messages in Russian and English
//!   (100,000 by default) spread over the tickets: words found by their
//!   stems ("заказы" finds "заказ"), a common word and a rare one, each
//!   `--runs` times: p50, p95 and the slowest answer, with the tickets
//!   found.
//!
//! `cargo run --release -p tikethet-tests --bin bench-analytics`

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};
use tikethet_platform::Application;
use tikethet_platform::config::{Settings, Sources};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::helpers::{Backend, OPERATOR_TOKEN, bot_token, drop_pg_schemas, init_data, test_settings};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    tickets: u32,
    /// Loads of each window of the page.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// The second export has this many times the tickets.
    #[arg(long, default_value_t = 5)]
    grow: u32,
    /// Customer messages the search runs over.
    #[arg(long, default_value_t = 100_000)]
    messages: u32,
    /// `sqlite`, `postgres` or both.
    #[arg(long, default_value = "sqlite,postgres", value_delimiter = ',')]
    backends: Vec<String>,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for b in &args.backends {
        let backend = match b.as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => anyhow::bail!("unknown backend {other:?}: sqlite or postgres"),
        };
        bench(&args, backend).await?;
    }
    Ok(())
}

async fn bench(args: &Args, backend: Backend) -> anyhow::Result<()> {
    let fake = FakeTelegram::start().await?;
    fake.allow_insecure_webhooks(true);
    let dir = tempfile::tempdir()?;
    let (mut m, schema) = test_settings(backend, dir.path(), &fake.url, false);
    m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
    m.insert("TIKETHET_RATE_LIMITS".into(), "off".into());
    let app = Application::build(Settings::load(&Sources::from_map(m))?).await?;
    let state = app.state().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        stop_rx.await.ok();
    }));
    let result = run(args, backend, &fake, &state, &base).await;
    stop_tx.send(()).ok();
    server.await.ok();
    if let Some(s) = schema {
        drop_pg_schemas(&s).await;
    }
    result
}

/// Inserts tickets `from + 1 ..= to` straight into the desk's storage
/// (1,000 a statement; a fresh desk numbers them so), created over the last
/// 90 days: half resolved after 1 to 48 hours, most answered within 5 to
/// 300 minutes, a tenth rated.
async fn seed(state: &tikethet_platform::AppState, owner_user: i64, from: u32, n: u32) -> anyhow::Result<()> {
    use sea_orm::{ActiveValue::Set, EntityTrait as _};
    use tikethet_runtime::storage::entities::{ticket_ratings, tickets};
    use tikethet_runtime::domain::{Priority, TicketStatus};
    let tenant = state.runtime.tenant_by_slug("bench")?;
    let now = chrono::Utc::now();
    let mut i = from;
    while i < n {
        let txn = tenant.db.begin().await?;
        let chunk: Vec<tickets::ActiveModel> = (i..(i + 1000).min(n))
            .map(|k| {
                let created = now - chrono::Duration::minutes(((k as i64) * 7919) % (90 * 24 * 60));
                let resolved = (k % 2 == 0).then(|| created + chrono::Duration::hours(1 + (k as i64 % 48)));
                tickets::ActiveModel {
                    customer_id: Set(1),
                    title: Set(format!("Order {k} did not arrive")),
                    description: Set("The parcel was due last week.".into()),
                    status: Set(if resolved.is_some() { TicketStatus::Resolved } else { [TicketStatus::Open, TicketStatus::InProgress, TicketStatus::WaitingResponse][k as usize % 3] }),
                    priority: Set(Priority::ALL[k as usize % 4]),
                    assignee_id: Set((k % 3 == 0).then_some(owner_user)),
                    created_at: Set(created),
                    updated_at: Set(resolved.unwrap_or(created)),
                    first_response_at: Set((k % 5 != 0).then(|| created + chrono::Duration::minutes(5 + (k as i64 % 295)))),
                    resolved_at: Set(resolved),
                    ..Default::default()
                }
            })
            .collect();
        let first = i64::from(i) + 1;
        tickets::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        let ratings: Vec<ticket_ratings::ActiveModel> = (i..(i + 1000).min(n))
            .filter(|k| k % 10 == 0)
            .map(|k| ticket_ratings::ActiveModel {
                ticket_id: Set(first + i64::from(k - i)),
                customer_id: Set(1),
                rating: Set(1 + (k % 5) as i16),
                comment: Set(None),
                rated_at: Set(now - chrono::Duration::days(i64::from(k % 28))),
            })
            .collect();
        if !ratings.is_empty() {
            ticket_ratings::Entity::insert_many(ratings).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        i = (i + 1000).min(n);
    }
    Ok(())
}

/// Customer messages, round the tickets, in Russian and English.
async fn seed_messages(state: &tikethet_platform::AppState, tickets: u32, n: u32) -> anyhow::Result<()> {
    use sea_orm::{ActiveValue::Set, EntityTrait as _};
    use tikethet_runtime::storage::entities::messages;
    const SAID: [&str; 8] = [
        "Мой заказ {k} задерживается, когда доставка?",
        "Where is my parcel? Tracking number {k}",
        "The order {k} arrived and the box is damaged",
        "Оплата за заказы не прошла, списали дважды",
        "Please refund order {k}, I returned it",
        "Спасибо, всё получил",
        "Упаковка повреждена, товар {k} разбит",
        "Can I change the delivery address?",
    ];
    let tenant = state.runtime.tenant_by_slug("bench")?;
    let now = chrono::Utc::now();
    let mut i = 0;
    while i < n {
        let txn = tenant.db.begin().await?;
        let chunk: Vec<messages::ActiveModel> = (i..(i + 1000).min(n))
            .map(|k| messages::ActiveModel {
                ticket_id: Set(i64::from(1 + k % tickets)),
                author_id: Set(Some(1)),
                author_role: Set("user".into()),
                text: Set(SAID[(k as usize * 7) % SAID.len()].replace("{k}", &k.to_string())),
                internal: Set(false),
                created_at: Set(now - chrono::Duration::minutes(i64::from(n - k))),
                ..Default::default()
            })
            .collect();
        messages::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        txn.commit().await?;
        i = (i + 1000).min(n);
    }
    Ok(())
}

async fn export(http: &reqwest::Client, base: &str, cookie: &str) -> anyhow::Result<(Duration, u64, u64, u64)> {
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let t0 = Instant::now();
    let mut res = http.get(format!("{base}/t/bench/admin/analytics/tickets.csv")).header("cookie", cookie).send().await?.error_for_status()?;
    let (mut bytes, mut rows) = (0u64, 0u64);
    while let Some(chunk) = res.chunk().await? {
        bytes += chunk.len() as u64;
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let took = t0.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    sampler.await.ok();
    Ok((took, bytes, rows.saturating_sub(1), peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before)))
}

async fn run(args: &Args, backend: Backend, fake: &FakeTelegram, state: &tikethet_platform::AppState, base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(120)).build()?;
    let token = bot_token(1);
    fake.add_bot(&token, "bench_analytics_bot");
    let owner = 9_000_001_i64;
    let res = http
        .post(format!("{base}/api/platform/v1/tenants"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({ "slug": "bench", "name": "Bench Desk", "bot_token": token, "owner_telegram_id": owner, "plan": "business" }))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 201, "provisioning failed: {}", res.text().await?);
    let signed: Value = http.post(format!("{base}/t/bench/api/v1/auth/telegram")).json(&json!({ "init_data": init_data(&token, owner, chrono::Utc::now().timestamp()) })).send().await?.error_for_status()?.json().await?;
    let access = signed["access_token"].as_str().unwrap_or_default().to_owned();
    let owner_user = signed["user"]["id"].as_i64().unwrap_or(1);
    let link: Value = http.post(format!("{base}/t/bench/api/v1/console/link")).bearer_auth(&access).send().await?.error_for_status()?.json().await?;
    let url = link["url"].as_str().unwrap_or_default();
    let path = &url[url.find("/t/").unwrap_or(0)..];
    let token = path.split("token=").nth(1).unwrap_or_default();
    let res = http.post(format!("{base}/t/bench/admin/login")).form(&[("token", token)]).send().await?;
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|c| c.split(';').next()).unwrap_or_default().to_owned();
    anyhow::ensure!(!cookie.is_empty(), "no console session");

    let t0 = Instant::now();
    seed(state, owner_user, 0, args.tickets).await?;
    println!("== {backend:?}: {} tickets seeded in {:.1} s", args.tickets, t0.elapsed().as_secs_f64());
    // A tenth of the tickets carry a tag, so the tag filter has work.
    {
        use sea_orm::EntityTrait as _;
        use tikethet_runtime::storage::entities::ticket_tags;
        let tenant = state.runtime.tenant_by_slug("bench")?;
        let txn = tenant.db.begin().await?;
        let rows: Vec<ticket_tags::ActiveModel> = (1..=i64::from(args.tickets)).filter(|k| k % 10 == 0).map(|k| ticket_tags::ActiveModel { ticket_id: sea_orm::ActiveValue::Set(k), tag: sea_orm::ActiveValue::Set("vip".into()) }).collect();
        for chunk in rows.chunks(1000) {
            ticket_tags::Entity::insert_many(chunk.to_vec()).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
    }
    // Service-level targets for every priority within business hours: each
    // queue row carries its badge, and the order by time to breach works
    // out every matching ticket's due time.
    let targets = |first: u32, resolution: u32| json!({ "first_response_minutes": first, "resolution_minutes": resolution });
    let sla = json!({
        "targets": { "low": targets(1440, 10080), "normal": targets(480, 4320), "high": targets(120, 1440), "critical": targets(30, 480) },
        "business_hours": { "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00", "utc_offset": "+03:00" },
    });
    http.put(format!("{base}/t/bench/api/v1/settings/sla")).bearer_auth(&access).json(&sla).send().await?.error_for_status()?;
    println!("{:<28} {:>9} {:>9} {:>9}", "queue page", "p50 ms", "p95 ms", "max ms");
    for (name, query) in [
        ("active", ""),
        ("every ticket", "?status=all"),
        ("search \"order\"", "?status=all&q=order"),
        ("tag vip", "?status=all&tag=vip"),
        ("assigned to me", "?assignee=me"),
        ("active, by time to breach", "?sort=due"),
        ("every ticket, by breach", "?status=all&sort=due"),
    ] {
        let mut times = Vec::new();
        for _ in 0..args.runs {
            let t = Instant::now();
            let res = http.get(format!("{base}/t/bench/admin/{query}")).header("cookie", &cookie).send().await?;
            anyhow::ensure!(res.status() == 200, "the queue answered {}", res.status());
            let body = res.text().await?;
            times.push(t.elapsed());
            anyhow::ensure!(body.contains("data-testid=\"queue\""), "no queue on the page ({name})");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{:<28} {:>9.1} {:>9.1} {:>9.1}", name, ms(pct(&times, 0.5)), ms(pct(&times, 0.95)), ms(*times.last().unwrap()));
    }
    println!("{:<28} {:>9} {:>9} {:>9}", "analytics page", "p50 ms", "p95 ms", "max ms");
    for days in [7, 30, 90] {
        let mut times = Vec::new();
        for _ in 0..args.runs {
            let t = Instant::now();
            let res = http.get(format!("{base}/t/bench/admin/analytics?days={days}")).header("cookie", &cookie).send().await?;
            anyhow::ensure!(res.status() == 200, "analytics answered {}", res.status());
            let body = res.text().await?;
            times.push(t.elapsed());
            anyhow::ensure!(body.contains("data-chart=\"flow\""), "no chart on the page");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{:<28} {:>9.1} {:>9.1} {:>9.1}", format!("{days} days"), ms(pct(&times, 0.5)), ms(pct(&times, 0.95)), ms(*times.last().unwrap()));
    }
    let t0 = Instant::now();
    seed_messages(state, args.tickets, args.messages).await?;
    println!("== {} messages seeded in {:.1} s", args.messages, t0.elapsed().as_secs_f64());
    println!("{:<28} {:>9} {:>9} {:>9} {:>9}", format!("search, {} messages", args.messages), "p50 ms", "p95 ms", "max ms", "found");
    for q in ["заказы", "повреждения", "orders", "damaged box", "refunds"] {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..args.runs {
            let t = Instant::now();
            let res = http.get(format!("{base}/t/bench/api/v1/tickets")).query(&[("q", q)]).bearer_auth(&access).send().await?;
            anyhow::ensure!(res.status() == 200, "the search answered {}", res.status());
            let page: Value = res.json().await?;
            times.push(t.elapsed());
            found = page["total"].as_u64().unwrap_or(0);
        }
        anyhow::ensure!(found > 0, "the search for {q:?} found nothing");
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{:<28} {:>9.1} {:>9.1} {:>9.1} {:>9}", format!("\"{q}\""), ms(pct(&times, 0.5)), ms(pct(&times, 0.95)), ms(*times.last().unwrap()), found);
    }
    println!("{:<28} {:>9} {:>9} {:>9} {:>12}", "export (tickets.csv)", "rows", "MiB", "seconds", "RSS +MiB");
    let (took, bytes, rows, grew) = export(&http, base, &cookie).await?;
    println!("{:<28} {:>9} {:>9.1} {:>9.2} {:>12.1}", format!("{} tickets", args.tickets), rows, bytes as f64 / 1048576.0, took.as_secs_f64(), grew as f64 / 1024.0);
    if args.grow > 1 {
        seed(state, owner_user, args.tickets, args.tickets * args.grow).await?;
        let (took, bytes, rows, grew) = export(&http, base, &cookie).await?;
        println!("{:<28} {:>9} {:>9.1} {:>9.2} {:>12.1}", format!("{} tickets", args.tickets * args.grow), rows, bytes as f64 / 1048576.0, took.as_secs_f64(), grew as f64 / 1024.0);
    }
    Ok(())
}
