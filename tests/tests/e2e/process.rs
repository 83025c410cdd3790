//! The binary as an operator runs it: `serve` in an empty folder with only
//! the Bot API URL set, killed with SIGKILL and started again.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fake_telegram::{Failure, FakeTelegram};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::ChildServer as Server;
use tikethet_tests::helpers::{
    Backend, bot_token, connect_control, drop_pg_schemas, free_port, init_data, postgres_url, put_tenant_one_migration_back, random_suffix, wait_for, wait_until,
};


fn start(dir: &Path, port: u16, fake: &str, pg_schema: Option<&str>, run: u32) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
    cmd.arg("serve").current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("TIKETHET_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TIKETHET_TELEGRAM_API_URL", fake)
        .env("TIKETHET_LISTEN", format!("127.0.0.1:{port}"))
        .env("TIKETHET_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        // The tests below sign in without Telegram.
        .env("TIKETHET_DEV_SIGN_IN", "on");
    if let Some(schema) = pg_schema {
        cmd.env("TIKETHET_DATABASE_URL", postgres_url()).env("TIKETHET_DATABASE_SCHEMA", schema);
    }
    let log = std::fs::File::create(dir.join(format!("server-{run}.log"))).unwrap();
    cmd.stdout(Stdio::null()).stderr(log);
    Server { child: cmd.spawn().expect("the server binary starts"), base: format!("http://127.0.0.1:{port}") }
}

async fn wait_healthy(http: &reqwest::Client, s: &mut Server, dir: &Path, run: u32) {
    for _ in 0..300 {
        if let Ok(Some(status)) = s.child.try_wait() {
            let log = std::fs::read_to_string(dir.join(format!("server-{run}.log"))).unwrap_or_default();
            panic!("server exited with {status}:\n{log}");
        }
        if let Ok(r) = http.get(format!("{}/healthz", s.base)).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
}

async fn create(http: &reqwest::Client, base: &str, op: &str, fake: &FakeTelegram, slug: &str, n: u32) -> (String, i64) {
    let token = bot_token(n);
    fake.add_bot(&token, &format!("{slug}_bot"));
    let owner = 9_000_000 + i64::from(n);
    let res = http
        .post(format!("{base}/api/platform/v1/tenants"))
        .bearer_auth(op)
        .json(&json!({ "slug": slug, "name": format!("{slug} desk"), "bot_token": token, "owner_telegram_id": owner, "plan": "business" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    (token, owner)
}

async fn sign_in(http: &reqwest::Client, base: &str, slug: &str, token: &str, who: i64) -> String {
    let init = init_data(token, who, chrono::Utc::now().timestamp());
    let v: Value = http
        .post(format!("{base}/t/{slug}/api/v1/auth/telegram"))
        .json(&json!({ "init_data": init }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap_or_else(|| panic!("sign in: {v}")).to_owned()
}

async fn tickets(http: &reqwest::Client, base: &str, slug: &str, token: &str) -> (u16, Vec<Value>) {
    let res = http.get(format!("{base}/t/{slug}/api/v1/tickets?limit=100")).bearer_auth(token).send().await.unwrap();
    let s = res.status().as_u16();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    (s, v["items"].as_array().cloned().unwrap_or_default())
}

async fn wait_sent(fake: &FakeTelegram, token: &str, chat: i64, n: usize) -> Vec<String> {
    wait_until(Duration::from_secs(20), || Some(fake.sent_to(token, chat)).filter(|s| s.len() >= n))
        .await
        .unwrap_or_else(|| panic!("expected {n} message(s) to {chat}: {:?}", fake.sent_to(token, chat)))
}

/// The stand-in for a server on plain HTTP on loopback.
async fn stand_in() -> FakeTelegram {
    let fake = FakeTelegram::start().await.unwrap();
    fake.allow_insecure_webhooks(true);
    fake
}

async fn serve_kill_restart(backend: Backend) {
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let schema = (backend == Backend::Postgres).then(|| format!("tt_{}", random_suffix()));
    let port = free_port();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut server = start(dir.path(), port, &fake.url, schema.as_deref(), 1);
    wait_healthy(&http, &mut server, dir.path(), 1).await;
    let base = server.base.clone();

    // Development secrets were generated into data/.
    let op = std::fs::read_to_string(dir.path().join("data/operator.token")).unwrap().trim().to_owned();
    assert!(dir.path().join("data/master.key").exists() && dir.path().join("data/jwt.secret").exists());

    let (ta, owner_a) = create(&http, &base, &op, &fake, "alpha", 1).await;
    let (tb, owner_b) = create(&http, &base, &op, &fake, "beta", 2).await;
    if backend == Backend::Sqlite {
        assert!(dir.path().join("data/tikethet.db").exists());
        assert!(dir.path().join("data/tenants/alpha.db").exists() && dir.path().join("data/tenants/beta.db").exists());
    }
    for t in [&ta, &tb] {
        let wh = fake.webhook(t).unwrap();
        assert!(wh.url.starts_with(&format!("{base}/tg/")) && !wh.url.contains(t.split(':').nth(1).unwrap()));
        assert!(wh.secret_token.unwrap().len() >= 32);
    }

    // /start, then one message delivered three times: one ticket.
    let customer = 31_337;
    assert_eq!(fake.deliver(&ta, &fixtures::start(1, customer)).await.unwrap(), 200);
    assert!(wait_sent(&fake, &ta, customer, 1).await[0].contains("welcome"));
    let msg = fixtures::message(2, customer, "The app crashes on login");
    for _ in 0..3 {
        assert_eq!(fake.deliver(&ta, &msg).await.unwrap(), 200);
    }
    wait_sent(&fake, &ta, customer, 2).await;

    // A wrong or missing secret: 401.
    let wh = fake.webhook(&ta).unwrap();
    let r = http.post(&wh.url).json(&fixtures::message(3, customer, "x")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.post(&wh.url).header("X-Telegram-Bot-Api-Secret-Token", "nope").json(&fixtures::message(3, customer, "x")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // The owner lists and replies; the reply reaches the customer.
    let owner = sign_in(&http, &base, "alpha", &ta, owner_a).await;
    let (_, list) = tickets(&http, &base, "alpha", &owner).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap();
    let r = http
        .post(format!("{base}/t/alpha/api/v1/tickets/{id}/messages"))
        .bearer_auth(&owner)
        .json(&json!({ "text": "Fixed in 2.1, please update." }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(wait_sent(&fake, &ta, customer, 3).await[2].contains("Fixed in 2.1"));

    // Cross-tenant and stale or foreign initData are refused.
    assert_eq!(tickets(&http, &base, "beta", &owner).await.0, 401);
    for init in [
        init_data(&ta, owner_a, chrono::Utc::now().timestamp() - 25 * 3600),
        init_data(&tb, owner_a, chrono::Utc::now().timestamp()),
    ] {
        let r = http.post(format!("{base}/t/alpha/api/v1/auth/telegram")).json(&json!({ "init_data": init })).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }

    // A burst of acknowledged updates, each processed but with its answer
    // still to send at the kill: Telegram answers 500 until the restart.
    fake.fail(Failure::status("sendMessage", 500, 100_000));
    let burst: Vec<i64> = (0..10).map(|i| 600 + i).collect();
    for (i, chat) in burst.iter().enumerate() {
        let s = fake.deliver(&tb, &fixtures::message(100 + i as i64, *chat, &format!("burst {i}"))).await.unwrap();
        assert_eq!(s, 200);
    }
    // Every answer was tried and refused: each update is done and its
    // outbox row pending, and nothing reached a customer yet.
    let tried = wait_until(Duration::from_secs(20), || burst.iter().all(|c| fake.sends_to(&tb, *c).iter().any(|s| s.status == 500)).then_some(())).await;
    assert!(tried.is_some(), "not every burst answer was attempted: {:?}", burst.iter().map(|c| fake.sends_to(&tb, *c).len()).collect::<Vec<_>>());
    assert!(burst.iter().all(|c| fake.sent_to(&tb, *c).is_empty()));
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    fake.clear_failures();

    let mut server = start(dir.path(), port, &fake.url, schema.as_deref(), 2);
    wait_healthy(&http, &mut server, dir.path(), 2).await;
    let r: Value = http.get(format!("{base}/api/platform/v1/tenants")).bearer_auth(&op).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["items"].as_array().unwrap().len(), 2, "{r}");
    // The old access token is still good: the JWT secret persisted in data/.
    let (s, list) = tickets(&http, &base, "alpha", &owner).await;
    assert_eq!((s, list.len()), (200, 1));
    // Every customer gets the answer to their message after the restart.
    for (i, chat) in burst.iter().enumerate() {
        let sent = wait_sent(&fake, &tb, *chat, 1).await;
        assert!(sent[0].contains(&format!("burst {i}")), "{sent:?}");
    }
    // Then a /start from each: answers go out in order per chat, so once
    // the welcome is there, any second copy of the answer would be too.
    for (i, chat) in burst.iter().enumerate() {
        assert_eq!(fake.deliver(&tb, &fixtures::start(200 + i as i64, *chat)).await.unwrap(), 200);
    }
    for (i, chat) in burst.iter().enumerate() {
        let sent = wait_sent(&fake, &tb, *chat, 2).await;
        assert_eq!(sent.len(), 2, "exactly one answer, then the welcome: {sent:?}");
        assert!(sent[0].contains(&format!("burst {i}")) && sent[1].contains("welcome"), "{sent:?}");
    }
    // Each update was processed exactly once: one ticket per customer, one
    // message in each.
    let owner_b_token = sign_in(&http, &base, "beta", &tb, owner_b).await;
    let (s, list) = tickets(&http, &base, "beta", &owner_b_token).await;
    assert_eq!((s, list.len()), (200, 10), "{list:?}");
    for t in &list {
        let v: Value = http
            .get(format!("{base}/t/beta/api/v1/tickets/{}/messages", t["id"]))
            .bearer_auth(&owner_b_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{v}");
    }
    // And still answering after the restart.
    assert_eq!(fake.deliver(&ta, &fixtures::start(4, customer)).await.unwrap(), 200);
    assert!(wait_sent(&fake, &ta, customer, 4).await[3].contains("welcome"));

    drop(server);
    if let Some(s) = schema {
        drop_pg_schemas(&s).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_serve_in_an_empty_folder_survives_kill_9() {
    serve_kill_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serve_survives_kill_9_with_a_schema_per_tenant() {
    serve_kill_restart(Backend::Postgres).await;
}

#[tokio::test]
async fn production_refuses_generated_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"))
        .arg("serve")
        .current_dir(dir.path())
        .env("TIKETHET_ENV", "production")
        .env("TIKETHET_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env_remove("TIKETHET_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("production") && err.contains("TIKETHET_MASTER_KEY") && err.contains("https"), "{err}");
}

// Multi-threaded: the stand-in must answer while this thread waits on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_tenants_and_migrates_idempotently() {
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let token = bot_token(1);
    fake.add_bot(&token, "cli_bot");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"))
            .args(args)
            .current_dir(dir.path())
            .env("TIKETHET_TELEGRAM_API_URL", &fake.url)
            .env("TIKETHET_BOT_TOKEN", &token)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out, err) = run(&["tenant", "create", "--slug", "cli-desk", "--name", "CLI desk", "--owner-telegram-id", "42"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("cli-desk") && out.contains("/tg/"), "{out}");
    let (ok, out, _) = run(&["tenant", "list"]);
    assert!(ok && out.contains("cli-desk") && out.contains("active"), "{out}");
    let (ok, out, _) = run(&["tenant", "suspend", "cli-desk"]);
    assert!(ok && out.contains("suspended"), "{out}");
    let (ok, out, _) = run(&["tenant", "resume", "cli-desk"]);
    assert!(ok && out.contains("active"), "{out}");
    for _ in 0..2 {
        let (ok, out, err) = run(&["migrate"]);
        assert!(ok, "{out}{err}");
        // Made at the newest version, a tenant has nothing to migrate.
        assert!(out.contains("1 tenant(s): 1 up to date, 0 to migrate") && out.contains("0 tenant(s) migrated, 0 failed, 1 up to date"), "{out}");
    }
    // A tenant whose storage is broken is reported, and the others still migrate.
    let token2 = bot_token(2);
    fake.add_bot(&token2, "second_bot");
    let out = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"))
        .args(["tenant", "create", "--slug", "second", "--name", "Second", "--owner-telegram-id", "43"])
        .current_dir(dir.path())
        .env("TIKETHET_TELEGRAM_API_URL", &fake.url)
        .env("TIKETHET_BOT_TOKEN", &token2)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = dir.path().join("data/tenants/cli-desk.db");
    for suffix in ["-wal", "-shm"] {
        // Present only if SQLite left them.
        std::fs::remove_file(dir.path().join(format!("data/tenants/cli-desk.db{suffix}"))).ok();
    }
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    let (ok, out, _) = run(&["migrate"]);
    assert!(!ok, "{out}");
    assert!(out.contains("[1/1] cli-desk: FAILED") && out.contains("0 tenant(s) migrated, 1 failed, 1 up to date"), "{out}");
    let (ok, out, err) = run(&["tenant", "delete", "cli-desk", "--yes"]);
    assert!(ok && out.contains("deleted"), "{out}{err}");
    let (ok, out, _) = run(&["tenant", "list"]);
    assert!(ok && !out.contains("cli-desk"), "{out}");
    let (ok, _, err) = run(&["tenant", "suspend", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
}

#[test]
fn plugin_run_reports_actions_and_usage_and_fails_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let keyword = tikethet_plugins::build::build_bundled("keyword-reply").unwrap();
    let hostile = tikethet_plugins::build::build_bundled("hostile").unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"hook": "on-message", "customer_telegram_id": 42, "customer_name": "Ann", "text": "refund please"}"#).unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, r#"{"rules": [{"keywords": ["refund"], "answer": "Refunds take 5 days."}]}"#).unwrap();
    let run = |file: &Path, config: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"))
            .args(["plugin", "run"])
            .arg(file)
            .arg("--event")
            .arg(&event)
            .arg("--config")
            .arg(config)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, out, err) = run(&keyword, &cfg);
    assert!(ok, "{out}{err}");
    assert!(out.contains("\"action\": \"reply\"") && out.contains("Refunds take 5 days."), "{out}");
    assert!(out.contains("fuel ") && out.contains("peak memory") && out.contains("of 50 ms"), "{out}");
    let loop_cfg = dir.path().join("loop.json");
    std::fs::write(&loop_cfg, r#"{"mode": "loop"}"#).unwrap();
    let (ok, out, err) = run(&hostile, &loop_cfg);
    assert!(!ok, "{out}");
    assert!(err.contains("out_of_fuel"), "{err}");
    // Not a component: a clear refusal.
    let (ok, _, err) = run(&event, &cfg);
    assert!(!ok && err.contains("invalid"), "{err}");
}

/// `tikethet.toml` (or `$TIKETHET_CONFIG`) sets what the environment does
/// not; the environment wins where both do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_file_under_environment_variables() {
    let fake = stand_in().await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (file_token, env_token) = ("op_from_the_file_0123456789", "op_from_the_environment_0123456789");
    for via_config_var in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (file_port, env_port) = (free_port(), free_port());
        let toml = format!(
            "listen = \"127.0.0.1:{file_port}\"\noperator_token = \"{file_token}\"\ntelegram_api_url = \"{}\"\npublic_url = \"http://127.0.0.1:{env_port}\"\n",
            fake.url
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
        cmd.arg("serve").current_dir(dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("TIKETHET_") {
                cmd.env_remove(k);
            }
        }
        if via_config_var {
            let path = dir.path().join("elsewhere.toml");
            std::fs::write(&path, &toml).unwrap();
            cmd.env("TIKETHET_CONFIG", &path);
        } else {
            std::fs::write(dir.path().join("tikethet.toml"), &toml).unwrap();
        }
        cmd.env("TIKETHET_LISTEN", format!("127.0.0.1:{env_port}")).env("TIKETHET_OPERATOR_TOKEN", env_token);
        let log = std::fs::File::create(dir.path().join("server-1.log")).unwrap();
        cmd.stdout(Stdio::null()).stderr(log);
        let mut server = Server { child: cmd.spawn().unwrap(), base: format!("http://127.0.0.1:{env_port}") };
        // The environment's address, not the file's.
        wait_healthy(&http, &mut server, dir.path(), 1).await;
        assert!(http.get(format!("http://127.0.0.1:{file_port}/healthz")).send().await.is_err(), "listening on the file's port too");
        let tenants = |token: &'static str| http.get(format!("{}/api/platform/v1/tenants", server.base)).bearer_auth(token).send();
        assert_eq!(tenants(env_token).await.unwrap().status(), 200);
        assert_eq!(tenants(file_token).await.unwrap().status(), 401, "the file's operator token won over the environment's");
        // Only the file names the Bot API: provisioning reaches the stand-in.
        let before = fake.calls(Some("getMe")).len();
        let (token, _) = create(&http, &server.base, env_token, &fake, "filecfg", 1).await;
        assert_eq!(fake.calls(Some("getMe")).len(), before + 1);
        assert!(fake.webhook(&token).unwrap().url.starts_with(&format!("http://127.0.0.1:{env_port}/tg/")), "public_url from the file");
        assert!(!dir.path().join("data/operator.token").exists(), "a configured operator token is not generated");
    }
}

/// `tikethet migrate` on PostgreSQL: a tenant whose schema is broken is
/// reported, the others migrate, and the exit status says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrate_isolates_a_broken_tenant_schema() {
    use sea_orm::ConnectionTrait as _;
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tt_{}", random_suffix());
    let run = |args: &[&str], bot: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
        cmd.args(args)
            .current_dir(dir.path())
            .env("TIKETHET_TELEGRAM_API_URL", &fake.url)
            .env("TIKETHET_DATABASE_URL", postgres_url())
            .env("TIKETHET_DATABASE_SCHEMA", &schema);
        if let Some(b) = bot {
            cmd.env("TIKETHET_BOT_TOKEN", b);
        }
        let out = cmd.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for (n, slug) in [(1, "broken-desk"), (2, "good-desk"), (3, "other-desk")] {
        let token = bot_token(n);
        fake.add_bot(&token, &format!("bot{n}"));
        let (ok, out, err) = run(&["tenant", "create", "--slug", slug, "--name", slug, "--owner-telegram-id", "42"], Some(&token));
        assert!(ok, "{out}{err}");
    }
    let (ok, out, err) = run(&["migrate"], None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 tenant(s) migrated, 0 failed, 3 up to date"), "{out}");
    // Break one schema: it records a migration this build does not have.
    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    let broken = format!("{schema}_broken_desk");
    let exists = db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'seaql_migrations'",
            [broken.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(exists, 1, "the tenant schema is {broken}");
    db.execute_unprepared(&format!("INSERT INTO \"{broken}\".seaql_migrations (version, applied_at) VALUES ('m29991231_000000_from_the_future', 0)")).await.unwrap();
    let (ok, out, _) = run(&["migrate"], None);
    assert!(!ok, "a failed tenant must fail the command: {out}");
    // The others are found up to date in one statement and left alone.
    assert!(out.contains("3 tenant(s): 2 up to date, 1 to migrate") && out.contains("[1/1] broken-desk: FAILED"), "{out}");
    assert!(out.contains("0 tenant(s) migrated, 1 failed, 2 up to date"), "{out}");
    db.close().await.ok();
    drop_pg_schemas(&schema).await;
}

/// `tikethet migrate` killed half-way: every tenant it finished stays
/// migrated, the one it was in the middle of is left as it was (its
/// migration is one transaction), and the next run migrates only what is
/// left.
async fn an_interrupted_migration_resumes(backend: Backend) {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    use std::io::BufRead as _;
    use tikethet_migrations::{MigratorTrait as _, TenantMigrator};
    const TENANTS: usize = 6;
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tt_{}", random_suffix());
    let command = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
        cmd.args(args).current_dir(dir.path()).env("TIKETHET_TELEGRAM_API_URL", &fake.url);
        if backend == Backend::Postgres {
            cmd.env("TIKETHET_DATABASE_URL", postgres_url()).env("TIKETHET_DATABASE_SCHEMA", &schema);
        }
        cmd
    };
    let run = |args: &[&str]| {
        let out = command(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for n in 0..TENANTS {
        let token = bot_token(n as u32 + 1);
        fake.add_bot(&token, &format!("bot{n}"));
        let slug = format!("desk-{n}");
        let out = command(&["tenant", "create", "--slug", &slug, "--name", &slug, "--owner-telegram-id", "42"]).env("TIKETHET_BOT_TOKEN", &token).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (ok, out, err) = run(&["migrate"]);
    assert!(ok && out.contains(&format!("{TENANTS} tenant(s): {TENANTS} up to date, 0 to migrate")), "new tenants are made at the newest version: {out}{err}");

    // Put every tenant one migration back, as a build ago would have left it.
    let latest = TenantMigrator::migrations().len() as u32;
    let storage_of = |n: usize| match backend {
        Backend::Sqlite => dir.path().join(format!("data/tenants/desk-{n}.db")).display().to_string(),
        Backend::Postgres => format!("{schema}_desk_{n}"),
    };
    let connect = |n: usize| {
        let target = storage_of(n);
        async move {
            match backend {
                Backend::Sqlite => {
                    let mut o = sea_orm::ConnectOptions::new(format!("sqlite://{target}?mode=rwc"));
                    o.max_connections(1).sqlx_logging(false);
                    sea_orm::Database::connect(o).await.unwrap()
                }
                Backend::Postgres => {
                    let mut o = sea_orm::ConnectOptions::new(postgres_url());
                    o.max_connections(1).sqlx_logging(false).set_schema_search_path(target);
                    sea_orm::Database::connect(o).await.unwrap()
                }
            }
        }
    };
    for n in 0..TENANTS {
        put_tenant_one_migration_back(backend, &dir.path().join("data"), &schema, &format!("desk-{n}")).await.unwrap();
    }

    // Hold the last tenant's tables, so that its migration waits; kill the
    // command once every other tenant is reported migrated.
    let held = connect(TENANTS - 1).await;
    let txn = held.begin().await.unwrap();
    match backend {
        // A write takes the file's one write lock until rolled back.
        Backend::Sqlite => txn.execute_unprepared("CREATE TABLE held (x INTEGER)").await.unwrap(),
        // The migrator's own table, against writes only: `migrate` reads
        // every schema's in one statement first, then each migration waits
        // to record itself (in the transaction it runs in).
        Backend::Postgres => txn.execute_unprepared("LOCK TABLE seaql_migrations IN EXCLUSIVE MODE").await.unwrap(),
    };
    let mut child = command(&["migrate"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in lines.lines() {
        let line = line.unwrap();
        if line.contains(": ok (") {
            seen.push(line.clone());
        }
        assert!(!line.contains("FAILED"), "{line}");
        if line.contains(&format!("{TENANTS} tenant(s):")) {
            assert!(line.contains(&format!("0 up to date, {TENANTS} to migrate")), "{line}");
        }
        if seen.len() == TENANTS - 1 {
            break;
        }
    }
    assert_eq!(seen.len(), TENANTS - 1, "the command ended early: {seen:?}");
    assert!(seen.iter().all(|l| !l.contains(&format!("desk-{}:", TENANTS - 1))), "{seen:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    txn.rollback().await.unwrap();
    held.close().await.ok();

    let (ok, out, err) = run(&["migrate"]);
    assert!(ok, "{out}{err}");
    let last = format!("desk-{}", TENANTS - 1);
    assert!(out.contains(&format!("{TENANTS} tenant(s): {} up to date, 1 to migrate", TENANTS - 1)), "{out}");
    assert!(out.contains(&format!("[1/1] {last}: ok")) && out.contains("1 tenant(s) migrated, 0 failed"), "{out}");
    for n in 0..TENANTS {
        let db = connect(n).await;
        let applied = TenantMigrator::get_applied_migrations(&db).await.unwrap().len() as u32;
        assert_eq!(applied, latest, "desk-{n}");
        db.close().await.ok();
    }
    if backend == Backend::Postgres {
        drop_pg_schemas(&schema).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_migration_resumes_on_sqlite() {
    an_interrupted_migration_resumes(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_migration_resumes_on_postgres() {
    an_interrupted_migration_resumes(Backend::Postgres).await
}

/// The number of webhook updates held in the control plane.
async fn held_updates(backend: Backend, dir: &Path, schema: &str) -> i64 {
    use sea_orm::ConnectionTrait as _;
    let db = connect_control(backend, &dir.join("data"), schema).await.unwrap();
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM held_updates")).await.unwrap().unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    db.close().await.ok();
    n
}

/// A server on a build with a new tenant migration, for a tenant whose
/// migration cannot finish yet (its storage is locked): the server is
/// healthy at once, the tenant's webhooks are acknowledged and held in the
/// control plane (through a SIGKILL and restart too), its API answers 503
/// `upgrading`, and nothing is processed; once the lock goes, the schema
/// is migrated and the held updates become one ticket, in arrival order.
async fn a_tenant_behind_holds_its_updates_until_migrated(backend: Backend) {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tt_{}", random_suffix());
    let pg = (backend == Backend::Postgres).then_some(schema.as_str());
    let port = free_port();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut server = start(dir.path(), port, &fake.url, pg, 1);
    wait_healthy(&http, &mut server, dir.path(), 1).await;
    let base = server.base.clone();
    let op = std::fs::read_to_string(dir.path().join("data/operator.token")).unwrap().trim().to_owned();
    let (token, owner) = create(&http, &base, &op, &fake, "alpha", 1).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    put_tenant_one_migration_back(backend, &dir.path().join("data"), &schema, "alpha").await.unwrap();
    // Keep the migration from finishing: PostgreSQL's migrators take a
    // per-schema lock, SQLite's need the file's one write lock.
    let locker = match backend {
        Backend::Sqlite => {
            let mut o = sea_orm::ConnectOptions::new(format!("sqlite://{}", dir.path().join("data/tenants/alpha.db").display()));
            o.max_connections(1).sqlx_logging(false);
            sea_orm::Database::connect(o).await.unwrap()
        }
        Backend::Postgres => {
            let mut o = sea_orm::ConnectOptions::new(postgres_url());
            o.max_connections(1).sqlx_logging(false);
            sea_orm::Database::connect(o).await.unwrap()
        }
    };
    let lock = locker.begin().await.unwrap();
    match backend {
        Backend::Sqlite => lock.execute_unprepared("CREATE TABLE locked (x INTEGER)").await.unwrap(),
        Backend::Postgres => lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock(hashtext('{schema}_alpha'))")).await.unwrap(),
    };

    let mut server = start(dir.path(), port, &fake.url, pg, 2);
    wait_healthy(&http, &mut server, dir.path(), 2).await;
    let metrics = http.get(format!("{base}/metrics")).bearer_auth(&op).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("\ntikethet_tenants_held 1\n"), "{metrics}");
    let r = http.post(format!("{base}/t/alpha/api/v1/auth/dev")).json(&json!({ "telegram_id": owner, "first_name": "Owner" })).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upgrading", "{body}");

    let customer = 4_242;
    let first = fixtures::message(10, customer, "first, while the desk upgrades");
    assert_eq!(fake.deliver(&token, &first).await.unwrap(), 200);
    assert_eq!(fake.deliver(&token, &first).await.unwrap(), 200, "Telegram's retry of the same update");
    // A wrong secret is still refused for a held tenant.
    let wh = fake.webhook(&token).unwrap();
    let r = http.post(&wh.url).header("X-Telegram-Bot-Api-Secret-Token", "nope").json(&first).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(held_updates(backend, dir.path(), &schema).await, 2);

    // Held updates survive a crash; the restarted server holds the tenant again.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut server = start(dir.path(), port, &fake.url, pg, 3);
    wait_healthy(&http, &mut server, dir.path(), 3).await;
    assert_eq!(fake.deliver(&token, &fixtures::message(11, customer, "second")).await.unwrap(), 200);
    assert_eq!(held_updates(backend, dir.path(), &schema).await, 3);
    // The server served the tenant's route, and the updates are in the
    // control plane: nothing was processed (no answer went to the customer).
    assert!(fake.sent_to(&token, customer).is_empty(), "{:?}", fake.sent_to(&token, customer));

    lock.rollback().await.unwrap();
    locker.close().await.ok();
    let sent = wait_sent(&fake, &token, customer, 1).await;
    assert!(!sent.is_empty());
    let held = wait_for(Duration::from_secs(20), || async { (held_updates(backend, dir.path(), &schema).await == 0).then_some(()) }).await;
    assert!(held.is_some(), "the held updates were not moved");
    let owner_token = wait_for(Duration::from_secs(20), || async {
        let r = http.post(format!("{base}/t/alpha/api/v1/auth/dev")).json(&json!({ "telegram_id": owner, "first_name": "Owner" })).send().await.ok()?;
        let v: Value = r.json().await.ok()?;
        v["access_token"].as_str().map(str::to_owned)
    })
    .await
    .expect("the desk answers once migrated");
    let (_, list) = tickets(&http, &base, "alpha", &owner_token).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap();
    let texts = wait_for(Duration::from_secs(20), || async {
        let v: Value = http.get(format!("{base}/t/alpha/api/v1/tickets/{id}/messages")).bearer_auth(&owner_token).send().await.ok()?.json().await.ok()?;
        let texts: Vec<String> = v["items"].as_array()?.iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect();
        (texts.len() >= 2).then_some(texts)
    })
    .await
    .expect("both held messages reach the ticket");
    assert_eq!(texts, ["first, while the desk upgrades", "second"]);
    let t: Value = http.get(format!("{base}/api/platform/v1/tenants/alpha")).bearer_auth(&op).send().await.unwrap().json().await.unwrap();
    let latest = tikethet_migrations::latest_tenant_version();
    assert_eq!(t["schema_version"].as_str(), Some(latest.as_str()), "{t}");
    // The desk is released once its held updates are handed on, which may
    // finish just after they are processed.
    let released = wait_for(Duration::from_secs(10), || async {
        let metrics = http.get(format!("{base}/metrics")).bearer_auth(&op).send().await.ok()?.text().await.ok()?;
        metrics.contains("\ntikethet_tenants_held 0\n").then_some(())
    })
    .await;
    assert!(released.is_some(), "the held gauge never went back to 0");
    drop(server);
    if backend == Backend::Postgres {
        drop_pg_schemas(&schema).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_behind_holds_its_updates_until_migrated_on_sqlite() {
    a_tenant_behind_holds_its_updates_until_migrated(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_behind_holds_its_updates_until_migrated_on_postgres() {
    a_tenant_behind_holds_its_updates_until_migrated(Backend::Postgres).await
}

/// Usage reporting killed with SIGKILL between Stripe taking a meter event
/// and the desk hearing so: after the restart the same slice is sent again
/// under the same identifier, Stripe refuses the repeat, and its totals
/// equal the desk's counters: every unit reported exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_reporting_killed_mid_report_reports_each_unit_once() {
    use tikethet_tests::fake_stripe::{self, FakeStripe};
    let fake = stand_in().await;
    let stripe = FakeStripe::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tikethet.toml"),
        format!(
            "stripe_secret_key = \"{}\"\nstripe_webhook_secret = \"{}\"\nstripe_api_url = \"{}\"\nusage_report_secs = 1\n",
            fake_stripe::SECRET_KEY,
            fake_stripe::WEBHOOK_SECRET,
            stripe.url
        ),
    )
    .unwrap();
    let port = free_port();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut server = start(dir.path(), port, &fake.url, None, 1);
    wait_healthy(&http, &mut server, dir.path(), 1).await;
    let base = server.base.clone();
    stripe.set_webhook(&format!("{base}/billing/stripe/webhook"));
    let op = std::fs::read_to_string(dir.path().join("data/operator.token")).unwrap().trim().to_owned();
    let (token, owner) = create(&http, &base, &op, &fake, "alpha", 1).await;
    let tenant: Value = http.get(format!("{base}/api/platform/v1/tenants/alpha")).bearer_auth(&op).send().await.unwrap().json().await.unwrap();
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    let subscription = json!({
        "id": "sub_kill", "object": "subscription", "customer": "cus_kill", "status": "active",
        "items": {"object": "list", "data": [{"id": "si_kill", "object": "subscription_item", "price": {"id": "price_tikethet_business_monthly", "object": "price"}}]},
        "metadata": {"tenant_id": tenant_id}
    });
    stripe.send_event("customer.subscription.created", subscription).await.unwrap();

    // Stripe takes the first report and answers it only after the kill.
    stripe.delay_meter_answers(Some(Duration::from_secs(30)));
    for (n, customer) in [(1, 501), (2, 502), (3, 503)] {
        assert_eq!(fake.deliver(&token, &fixtures::message(n, customer, "help")).await.unwrap(), 200);
        wait_sent(&fake, &token, customer, 1).await;
    }
    wait_until(Duration::from_secs(20), || (stripe.meter_event_count() >= 1).then_some(())).await.expect("a report reached Stripe");
    let first_try = chrono::Utc::now().timestamp();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // The retry comes in a later second than the first try, as after any
    // real crash: it must still be the same request (a report stamped anew
    // would be refused by Stripe as another use of the key, forever).
    while chrono::Utc::now().timestamp() <= first_try + 1 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = stripe.meter_totals();
    let taken = stripe.meter_identifiers();
    assert!(stripe.calls().iter().all(|c| c.path != "/v1/billing/meter_events"), "no meter event was answered before the kill");

    stripe.delay_meter_answers(None);
    let mut server = start(dir.path(), port, &fake.url, None, 2);
    wait_healthy(&http, &mut server, dir.path(), 2).await;
    let owner_token = sign_in(&http, &base, "alpha", &token, owner).await;
    let usage: Value = http.get(format!("{base}/t/alpha/api/v1/usage")).bearer_auth(&owner_token).send().await.unwrap().json().await.unwrap();
    let counted = usage["usage"].as_array().unwrap().iter().find(|l| l["limit"] == "messages_per_month").unwrap()["used"].as_u64().unwrap();
    assert_eq!(counted, 3, "{usage}");
    let key = ("tikethet_messages".to_owned(), "cus_kill".to_owned());
    let totals = wait_until(Duration::from_secs(20), || stripe.meter_totals().get(&key).copied().filter(|t| *t == counted))
        .await
        .unwrap_or_else(|| panic!("Stripe has {:?} (before the kill {before:?}), the desk counted {counted}", stripe.meter_totals()));
    assert_eq!(totals, counted);
    // The report cut short went again as the same event (same identifier,
    // same Idempotency-Key), and Stripe counted it once.
    let again: Vec<_> = stripe
        .calls()
        .into_iter()
        .filter(|c| c.path == "/v1/billing/meter_events" && c.form.get("identifier").is_some_and(|i| taken.contains(i)))
        .collect();
    assert!(!again.is_empty(), "the report cut short was not sent again: {taken:?}");
    assert!(again.iter().all(|c| c.idempotency_key.as_deref() == Some(&format!("meter-{}", c.form["identifier"]))), "{again:#?}");
    server.child.kill().ok();
    server.child.wait().ok();
}

/// A message Telegram asked to retry after 3 s is not sent earlier by a
/// server that was killed and started again meanwhile: the retry time is
/// stored with the message, not only slept on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_holds_across_a_kill_and_restart() {
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut server = start(dir.path(), port, &fake.url, None, 1);
    wait_healthy(&http, &mut server, dir.path(), 1).await;
    let op = std::fs::read_to_string(dir.path().join("data/operator.token")).unwrap().trim().to_owned();
    let (token, _) = create(&http, &server.base, &op, &fake, "alpha", 1).await;
    let customer = 777;
    fake.fail(Failure::retry_after("sendMessage", 3, 1));
    assert_eq!(fake.deliver(&token, &fixtures::start(1, customer)).await.unwrap(), 200);
    let refused = wait_until(Duration::from_secs(10), || fake.sends_to(&token, customer).into_iter().find(|c| c.status == 429)).await.expect("the welcome met a 429");
    // Killed only once the desk has stored the retry time (before that, it
    // has not heard the 429 for good).
    let db = {
        let mut o = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=ro", dir.path().join("data/tenants/alpha.db").display()));
        o.max_connections(1).sqlx_logging(false);
        sea_orm::Database::connect(o).await.unwrap()
    };
    let stored = wait_for(Duration::from_secs(10), || async {
        use sea_orm::EntityTrait as _;
        use tikethet_runtime::storage::entities::outbox;
        outbox::Entity::find().all(&db).await.ok()?.into_iter().find(|o| o.next_attempt_at.is_some())
    })
    .await;
    assert!(stored.is_some(), "the retry time was never stored");
    db.close().await.ok();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let mut server = start(dir.path(), port, &fake.url, None, 2);
    wait_healthy(&http, &mut server, dir.path(), 2).await;
    let sent = wait_sent(&fake, &token, customer, 1).await;
    assert!(sent[0].contains("welcome"), "{sent:?}");
    let retry = fake.sends_to(&token, customer).into_iter().find(|c| c.ok).unwrap();
    assert!(retry.at - refused.at >= Duration::from_secs(3), "sent {:?} after a 429 asking for 3 s", retry.at - refused.at);
    server.child.kill().ok();
    server.child.wait().ok();
}

/// The most calls that started within any one second.
fn busiest_second(mut at: Vec<std::time::Instant>) -> usize {
    at.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..at.len() {
        while at[end].duration_since(at[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// A broadcast to 5,000 customers: within Telegram's 30 messages a second
/// for the bot, killed with SIGKILL halfway and started again, nobody gets
/// it twice, and the author gets a report whose counts match what
/// Telegram (the stand-in) delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_to_5000_customers_keeps_the_rate_survives_kill_9_and_reports() {
    use sea_orm::EntityTrait as _;
    use tikethet_runtime::storage::entities::users;
    const CUSTOMERS: i64 = 5_000;
    const TEXT: &str = "Spring sale: everything half price until Sunday.";
    let fake = stand_in().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let mut server = start(dir.path(), port, &fake.url, None, 1);
    wait_healthy(&http, &mut server, dir.path(), 1).await;
    let op = std::fs::read_to_string(dir.path().join("data/operator.token")).unwrap().trim().to_owned();
    let (token, owner) = create(&http, &server.base, &op, &fake, "alpha", 1).await;

    // 5,000 customers who talked to the bot, written straight into the
    // desk's database (5,000 /start's would add 5,000 welcomes to wait for).
    {
        let mut o = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=rw", dir.path().join("data/tenants/alpha.db").display()));
        o.max_connections(1).sqlx_logging(false);
        let db = sea_orm::Database::connect(o).await.unwrap();
        let now = chrono::Utc::now();
        let ids: Vec<i64> = (0..CUSTOMERS).map(|i| 100_000 + i).collect();
        for chunk in ids.chunks(500) {
            let rows = chunk.iter().map(|id| users::ActiveModel {
                telegram_id: sea_orm::Set(*id),
                username: sea_orm::Set(None),
                first_name: sea_orm::Set(format!("Customer {id}")),
                last_name: sea_orm::Set(None),
                language_code: sea_orm::Set(Some("en".into())),
                role: sea_orm::Set(tikethet_runtime::domain::Role::User),
                blocked: sea_orm::Set(false),
                created_at: sea_orm::Set(now),
                updated_at: sea_orm::Set(now),
                bot_blocked_at: sea_orm::Set(None),
                support_pending: sea_orm::Set(None),
                ..Default::default()
            });
            users::Entity::insert_many(rows).exec(&db).await.unwrap();
        }
        db.close().await.unwrap();
        for id in ids {
            fake.start_chat(&token, id);
        }
    }

    assert_eq!(fake.deliver(&token, &fixtures::message(1, owner, &format!("/broadcast {TEXT}"))).await.unwrap(), 200);
    let preview = wait_sent(&fake, &token, owner, 1).await;
    assert_eq!(preview[0], format!("Send this to 5000 customers?\n\n{TEXT}"));
    let call = fake.sends_to(&token, owner).into_iter().find(|c| c.ok).unwrap();
    let markup: Value = match &call.params["reply_markup"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    };
    let send = markup["inline_keyboard"][0][0]["callback_data"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    assert_eq!(fake.deliver(&token, &fixtures::button_press(2, owner, &send, &preview[0])).await.unwrap(), 200);

    // Halfway, SIGKILL.
    let halfway = wait_for(Duration::from_secs(240), || async { Some(fake.delivered_count(&token, TEXT)).filter(|n| *n >= CUSTOMERS as usize / 2) }).await;
    assert!(halfway.is_some(), "half the broadcast was not delivered in 240 s: {}", fake.delivered_count(&token, TEXT));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let at_kill = fake.delivered_count(&token, TEXT);
    let mut server = start(dir.path(), port, &fake.url, None, 2);
    wait_healthy(&http, &mut server, dir.path(), 2).await;

    let report = wait_for(Duration::from_secs(360), || async { fake.find_sent(&token, owner, "finished") })
        .await
        .unwrap_or_else(|| panic!("no report; delivered {} of {CUSTOMERS}: {:?}", fake.delivered_count(&token, TEXT), fake.sent_to(&token, owner)));
    let took = started.elapsed();
    // "📣 Broadcast #1 finished: S of 5000 delivered." and maybe
    // "\nU interrupted by a restart during the send: …"
    let number = |s: &str| s.trim().parse::<i64>().unwrap_or_else(|_| panic!("{s:?} in {report:?}"));
    let sent = number(report.split("finished: ").nth(1).unwrap().split(" of ").next().unwrap());
    assert!(report.contains(&format!(" of {CUSTOMERS} delivered.")), "{report}");
    let unconfirmed = report.lines().find(|l| l.contains("interrupted by a restart")).map(|l| number(l.split(' ').next().unwrap())).unwrap_or(0);
    assert!(!report.contains("not delivered"), "nobody blocked the bot: {report}");
    assert_eq!(sent + unconfirmed, CUSTOMERS, "{report}");
    // At most the copies in flight at the kill (the tenant's sender share).
    assert!(unconfirmed <= tikethet_runtime::SENDER_PER_TENANT as i64, "{report}");

    // Nobody got it twice; everybody but the unconfirmed got it.
    let calls = fake.calls(Some("sendMessage"));
    let mut per_chat = std::collections::HashMap::<i64, usize>::new();
    for c in calls.iter().filter(|c| c.ok && c.text() == Some(TEXT)) {
        *per_chat.entry(c.chat_id().unwrap()).or_default() += 1;
    }
    let twice: Vec<_> = per_chat.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    let delivered = per_chat.len() as i64;
    assert!(sent <= delivered && delivered <= sent + unconfirmed, "the report says {sent} (+{unconfirmed} unconfirmed); Telegram delivered {delivered}");

    // Within Telegram's limit for the bot, in every second, both runs.
    let at: Vec<_> = calls.iter().filter(|c| c.token == token).map(|c| c.at).collect();
    // The desk starts at most 28 sends in any second; a loaded machine may
    // deliver some of them to the stand-in closer together (31 seen with
    // the whole suite running beside it, 36 once in CI: a second's last
    // sends held up and arriving with the next's), so arrivals are held to
    // 40 in any one second, to 28.5 a second over any ten (the rate
    // itself), and Telegram (the stand-in, which paces at 30 a second)
    // never had to refuse one (below).
    let busiest = busiest_second(at.clone());
    let mut sorted = at.clone();
    sorted.sort();
    let ten = sorted.iter().enumerate().map(|(i, t)| sorted[i..].iter().take_while(|u| u.duration_since(*t) < Duration::from_secs(10)).count()).max().unwrap_or(0);
    assert!(ten <= 285, "{ten} messages arrived within ten seconds");
    assert!(busiest <= 40, "{busiest} messages arrived within one second; per second from the first: {:?}", {
        let t0 = *at.iter().min().unwrap();
        let mut per = std::collections::BTreeMap::<u64, usize>::new();
        for a in &at {
            *per.entry(a.duration_since(t0).as_secs()).or_default() += 1;
        }
        per
    });
    let refused = calls.iter().filter(|c| c.status == 429).count();
    assert_eq!(refused, 0, "Telegram never had to slow the bot down");
    eprintln!(
        "broadcast of {CUSTOMERS}: {delivered} delivered ({at_kill} before the kill), {unconfirmed} unconfirmed, {:.1} s in all with the restart, busiest second {busiest} sends, busiest ten seconds {ten}",
        took.as_secs_f64()
    );
    server.child.kill().ok();
    server.child.wait().ok();
}
