//! Several nodes, one deployment: three `tikethet serve` processes on one
//! PostgreSQL (through PgBouncer in transaction mode) and one Redis, each update posted to a node picked at random
//! (as a load balancer would), one node killed with SIGKILL mid-load. Every
//! chat's messages must land in its ticket once each and in `update_id`
//! order, whichever node received or processed them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::Rng as _;
use serde_json::{Value, json};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, bot_token, drop_pg_schemas, init_data, postgres_url, random_suffix, redis_url, spawn_app_with};
use tikethet_tests::pgbouncer::PgBouncer;

use super::live::{Node, healthy, node};

const CHATS: i64 = 50;
const PER_CHAT: i64 = 20;
const ROUNDS: usize = 5;
/// Short, so the killed node's chats are taken over within the test.
const LEASE_SECS: &str = "20";

/// One round: a fresh deployment, the load, a node killed when 40% of the
/// updates are acknowledged, and the check of every ticket.
async fn round(n: usize) {
    let fake = FakeTelegram::start().await.unwrap();
    fake.allow_insecure_webhooks(true);
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tt_{}", random_suffix());
    let op = format!("operator_token_{}_cluster", random_suffix());
    let bouncer = PgBouncer::start(&postgres_url(), &schema).unwrap_or_else(|e| panic!("PgBouncer is needed by this test: {e:#}"));
    let env = [
        ("TIKETHET_TELEGRAM_API_URL", fake.url.clone()),
        ("TIKETHET_DATABASE_URL", bouncer.url()),
        ("TIKETHET_DATABASE_SCHEMA", schema.clone()),
        ("TIKETHET_REDIS_URL", redis_url()),
        ("TIKETHET_REDIS_PREFIX", format!("{schema}:")),
        ("TIKETHET_OPERATOR_TOKEN", op.clone()),
        ("TIKETHET_MASTER_KEY", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned()),
        ("TIKETHET_JWT_SECRET", format!("cluster-{}-0123456789abcdef0123456789", random_suffix())),
        ("TIKETHET_CLAIM_LEASE_SECS", LEASE_SECS.to_owned()),
    ];
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut nodes: Vec<Node> = Vec::new();
    for name in ["one", "two", "three"] {
        let mut n = node(dir.path(), name, &env);
        healthy(&http, &mut n).await;
        nodes.push(n);
    }
    let token = bot_token(1);
    fake.add_bot(&token, "acme_bot");
    let owner_tg = 9_100_001;
    fake.start_chat(&token, owner_tg);
    let res = http
        .post(format!("{}/api/platform/v1/tenants", nodes[0].base))
        .bearer_auth(&op)
        .json(&json!({ "slug": "acme", "name": "Acme", "bot_token": token, "owner_telegram_id": owner_tg, "plan": "business" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let webhook = fake.webhook(&token).expect("the bot's webhook is set");
    let path = webhook.url.split_once("/tg/").map(|(_, r)| format!("/tg/{r}")).expect("a webhook route");
    let secret = webhook.secret_token.clone().expect("a webhook secret");
    // Every node must serve the tenant before updates are spread over them.
    for n in &nodes {
        let ok = tikethet_tests::helpers::wait_for(Duration::from_secs(20), || async {
            let r = http.post(format!("{}{path}", n.base)).header("X-Telegram-Bot-Api-Secret-Token", "wrong").json(&json!({})).send().await.ok()?;
            (r.status() == 401).then_some(())
        })
        .await;
        assert!(ok.is_some(), "node {} does not know the tenant", n.base);
    }

    // The load: each chat's updates in order (Telegram sends a chat's next
    // update after the last was acknowledged), the chats at once, each
    // update to a node at random; one refused or cut off goes again to
    // another, as Telegram retries.
    let bases: Arc<std::sync::Mutex<Vec<String>>> = Arc::new(std::sync::Mutex::new(nodes.iter().map(|n| n.base.clone()).collect()));
    let acked = Arc::new(AtomicUsize::new(0));
    let total = (CHATS * PER_CHAT) as usize;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CHATS {
        let (bases, acked, http, path, secret, fake, token) = (bases.clone(), acked.clone(), http.clone(), path.clone(), secret.clone(), fake.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let chat = 700_000 + c;
            fake.start_chat(&token, chat);
            for k in 0..PER_CHAT {
                // update_id grows with k in every chat and is unique.
                let update = fixtures::message(1_000 + k * CHATS + c, chat, &format!("c{chat} m{k:02}"));
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let base = {
                        let b = bases.lock().unwrap();
                        b[rand::rng().random_range(0..b.len())].clone()
                    };
                    let sent = http.post(format!("{base}{path}")).header("X-Telegram-Bot-Api-Secret-Token", &secret).json(&update).send().await;
                    if sent.as_ref().is_ok_and(|r| r.status() == 200) {
                        break;
                    }
                    assert!(Instant::now() < deadline, "update {k} of chat {chat} was never acknowledged: {sent:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                acked.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Kill a node mid-load.
    let victim = n % 3;
    while acked.load(Ordering::Relaxed) < total * 2 / 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed_at = acked.load(Ordering::Relaxed);
    bases.lock().unwrap().retain(|b| *b != nodes[victim].base);
    nodes[victim].child.kill().unwrap(); // SIGKILL
    nodes[victim].child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let intake = started.elapsed();

    // Every chat's ticket holds its 20 messages once each, in order.
    let survivor = nodes.iter().enumerate().find(|(i, _)| *i != victim).map(|(_, n)| n.base.clone()).unwrap();
    let res = http.post(format!("{survivor}/t/acme/api/v1/auth/telegram")).json(&json!({ "init_data": init_data(&token, owner_tg, chrono::Utc::now().timestamp()) })).send().await.unwrap();
    let owner = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    let last: std::sync::Mutex<HashMap<i64, Vec<String>>> = std::sync::Mutex::default();
    let done = tikethet_tests::helpers::wait_for(Duration::from_secs(120), || async {
        let list: Value = http.get(format!("{survivor}/t/acme/api/v1/tickets?limit=100")).bearer_auth(&owner).send().await.ok()?.json().await.ok()?;
        let tickets = list["items"].as_array()?.clone();
        let mut texts: HashMap<i64, Vec<String>> = HashMap::new();
        for t in &tickets {
            let m: Value = http.get(format!("{survivor}/t/acme/api/v1/tickets/{}/messages?limit=100", t["id"])).bearer_auth(&owner).send().await.ok()?.json().await.ok()?;
            let mine: Vec<String> = m["items"].as_array()?.iter().filter_map(|m| m["text"].as_str()).filter(|t| t.starts_with('c')).map(str::to_owned).collect();
            let chat = mine.first()?.split(' ').next()?.trim_start_matches('c').parse::<i64>().ok()?;
            texts.entry(chat).or_default().extend(mine);
        }
        let complete = tickets.len() as i64 == CHATS && texts.values().all(|v| v.len() as i64 >= PER_CHAT);
        *last.lock().unwrap() = texts;
        complete.then_some(())
    })
    .await;
    let processed = started.elapsed();
    let last = last.into_inner().unwrap();
    assert!(done.is_some(), "round {n}: not every message reached its ticket: {:?}", last.iter().map(|(c, v)| (c, v.len())).collect::<Vec<_>>());
    for (chat, texts) in &last {
        let want: Vec<String> = (0..PER_CHAT).map(|k| format!("c{chat} m{k:02}")).collect();
        assert_eq!(texts, &want, "round {n}: chat {chat}'s messages, once each and in update_id order");
    }
    eprintln!(
        "round {n}: node {victim} killed after {killed_at} of {total} updates were acknowledged; all acknowledged in {:.1} s, all in their tickets after {:.1} s",
        intake.as_secs_f64(),
        processed.as_secs_f64()
    );
    drop(nodes);
    drop(bouncer);
    drop_pg_schemas(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_keep_each_chats_order_with_one_killed_mid_load_five_times() {
    for n in 0..ROUNDS {
        round(n).await;
    }
}

async fn metric(app: &tikethet_tests::helpers::TestApp, name: &str) -> u64 {
    let text = app.http.get(app.url("/metrics")).bearer_auth(tikethet_tests::helpers::OPERATOR_TOKEN).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())).unwrap_or_else(|| panic!("{name} missing"))
}

/// Redis lost while serving: webhooks are still taken and processed, the
/// answers still go out (each node pacing its bots alone, slower), nothing
/// is lost; once Redis is back, sends are paced through it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_redis_slows_sending_and_loses_nothing_then_recovers() {
    let upstream = url::Url::parse(&redis_url()).unwrap();
    let cut = tikethet_tests::tcp_cut::TcpCut::start(format!("{}:{}", upstream.host_str().unwrap(), upstream.port().unwrap_or(6379))).await.unwrap();
    let through: &'static str = Box::leak(format!("redis://127.0.0.1:{}", cut.port).into_boxed_str());
    let env: &'static [(&'static str, &'static str)] = Box::leak(vec![("TIKETHET_REDIS_URL", through)].into_boxed_slice());
    let app = spawn_app_with(Backend::Sqlite, Options { redis: true, env, ..Default::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let answered = |chat: i64| {
        let app = &app;
        let token = t.token.clone();
        async move { tikethet_tests::helpers::wait_for(Duration::from_secs(20), || async { (!app.fake.sent_to(&token, chat).is_empty()).then_some(()) }).await.is_some() }
    };
    app.deliver(&t, &fixtures::message(1, 801, "before")).await;
    assert!(answered(801).await, "answered while Redis is there");
    assert_eq!(metric(&app, "tikethet_sends_rate_limited_locally_total").await, 0);

    cut.cut().await;
    for i in 2..=6 {
        assert_eq!(app.deliver(&t, &fixtures::message(i, 800 + i, "while Redis is away")).await, 200, "webhooks are taken without Redis");
    }
    for i in 2..=6 {
        app.wait_processed("acme", i).await;
        assert!(answered(800 + i).await, "chat {} answered without Redis", 800 + i);
    }
    let paced_alone = metric(&app, "tikethet_sends_rate_limited_locally_total").await;
    assert!(paced_alone >= 5, "paced by the node alone meanwhile: {paced_alone} of the 5 answers");

    cut.restore();
    // Back through Redis: a send that does not count as paced locally.
    let mut next = 7;
    let recovered = tikethet_tests::helpers::wait_for(Duration::from_secs(30), || {
        let (app, t) = (&app, &t);
        let i = next;
        next += 1;
        async move {
            let before = metric(app, "tikethet_sends_rate_limited_locally_total").await;
            app.deliver(t, &fixtures::message(i, 800 + i, "after")).await;
            app.wait_processed("acme", i).await;
            tikethet_tests::helpers::wait_for(Duration::from_secs(20), || async { (!app.fake.sent_to(&t.token, 800 + i).is_empty()).then_some(()) }).await?;
            (metric(app, "tikethet_sends_rate_limited_locally_total").await == before).then_some(())
        }
    })
    .await;
    assert!(recovered.is_some(), "sends went back through Redis once it answered");
    let outbox = app.wait_outbox_settled("acme").await;
    assert!(outbox.iter().all(|m| m.status == tikethet_runtime::entities::outbox::SENT), "every answer sent: {:?}", outbox.iter().map(|m| (&m.status, &m.last_error)).collect::<Vec<_>>());
}
