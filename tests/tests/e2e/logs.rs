//! Secrets stay out of the log: the real binary, at its default log level,
//! through a whole session (a desk provisioned with its bot token, a
//! customer and the owner signed in from the Mini App's initData, the
//! owner's one-time console link followed and redeemed, the console and
//! the operator's dashboard signed in, a webhook delivered with its
//! secret); then its log is searched for every secret it saw.

use std::time::Duration;

use serde_json::{Value, json};
use tikethet_tests::fake_telegram::FakeTelegram;
use tikethet_tests::helpers::{OPERATOR_TOKEN, init_data};

const BOT: &str = "700100:AAlog-test-bot-token-secret-part-0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_sessions_log_holds_no_token_init_data_or_secret() {
    let fake = FakeTelegram::start().await.unwrap();
    fake.allow_insecure_webhooks(true);
    fake.add_bot(BOT, "log_test_bot");
    fake.start_chat(BOT, 91_003);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
    let mut node = tikethet_tests::nodes::spawn(exe, dir.path(), "server", &[("TIKETHET_TELEGRAM_API_URL", fake.url.clone()), ("TIKETHET_OPERATOR_TOKEN", OPERATOR_TOKEN.to_owned())]).unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(30)).build().unwrap();
    tikethet_tests::nodes::ready(&http, &mut node).await.unwrap();
    let base = node.base.clone();
    let owner = 91_001;

    // Provisioning carries the bot token in its body.
    let res = http
        .post(format!("{base}/api/platform/v1/tenants"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({ "slug": "logs", "name": "Logs", "bot_token": BOT, "owner_telegram_id": owner }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let webhook = fake.webhook(BOT).expect("the webhook is set");
    let secret = webhook.secret_token.clone().expect("with a secret");

    // The Mini App: its page, then sign-in with initData for a customer and the owner.
    assert_eq!(http.get(format!("{base}/t/logs/app/")).send().await.unwrap().status(), 200);
    let now = chrono::Utc::now().timestamp();
    let mut secrets = vec![BOT.to_owned(), OPERATOR_TOKEN.to_owned(), secret.clone()];
    let mut access = String::new();
    for who in [91_002, owner] {
        let data = init_data(BOT, who, now);
        let hash = data.split('&').find_map(|p| p.strip_prefix("hash=")).unwrap().to_owned();
        let res = http.post(format!("{base}/t/logs/api/v1/auth/telegram")).json(&json!({ "init_data": data })).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let session: Value = res.json().await.unwrap();
        access = session["access_token"].as_str().unwrap().to_owned();
        secrets.extend([hash, access.clone(), session["refresh_token"].as_str().unwrap().to_owned()]);
        // A refresh, which carries the refresh token in its body.
        let res = http.post(format!("{base}/t/logs/api/v1/auth/refresh")).json(&json!({ "refresh_token": session["refresh_token"] })).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let refreshed: Value = res.json().await.unwrap();
        secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    }

    // The owner's one-time console link: followed (GET with ?token=) and redeemed.
    let res = http.post(format!("{base}/t/logs/api/v1/console/link")).bearer_auth(&access).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let link: Value = res.json().await.unwrap();
    let url = link["url"].as_str().unwrap().to_owned();
    let token = url.split("token=").nth(1).expect("the link carries its token").to_owned();
    secrets.push(token.clone());
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    let res = http.post(format!("{base}/t/logs/admin/login")).header("origin", &base).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303, "the console signs in");
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    secrets.push(cookie.split_once('=').unwrap().1.to_owned());
    assert_eq!(http.get(format!("{base}/t/logs/admin/")).header("cookie", &cookie).send().await.unwrap().status(), 200);
    // A link followed with a wrong token logs no token either.
    let wrong = "con_wrong-token-that-must-not-be-logged-1234";
    secrets.push(wrong.to_owned());
    http.get(format!("{base}/t/logs/admin/login?token={wrong}")).send().await.unwrap();

    // The operator's dashboard: its token in a form.
    let res = http.post(format!("{base}/operator/login")).header("origin", &base).form(&[("token", OPERATOR_TOKEN)]).send().await.unwrap();
    assert_eq!(res.status(), 303, "the operator signs in");
    let op_cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    secrets.push(op_cookie.split_once('=').unwrap().1.to_owned());
    assert_eq!(http.get(format!("{base}/operator/")).header("cookie", &op_cookie).send().await.unwrap().status(), 200);

    // A customer writes; the webhook carries its secret in a header.
    let route = webhook.url.rsplit('/').next().unwrap().to_owned();
    let update = tikethet_tests::fixtures::message(1, 91_003, "hello from the log test");
    let res = http.post(format!("{base}/tg/{route}")).header("X-Telegram-Bot-Api-Secret-Token", &secret).json(&update).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let answered = tikethet_tests::helpers::wait_until(Duration::from_secs(30), || (!fake.sends_to(BOT, 91_003).is_empty()).then_some(())).await;
    assert!(answered.is_some(), "the customer is answered");

    let log = std::fs::read_to_string(&node.log).unwrap();
    // The log is really there: the requests made above are in it, by path.
    for path in ["/api/platform/v1/tenants", "/t/logs/api/v1/auth/telegram", "/t/logs/admin/login", "/operator/login"] {
        assert!(log.contains(path), "{path} is not in the log:\n{log}");
    }
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "the log holds a secret ({}…):\n{log}", &s[..s.len().min(6)]);
    }
    assert!(!log.contains("token="), "a query string with a token:\n{log}");
    assert!(!log.contains("init_data") && !log.contains("auth_date="), "initData:\n{log}");
}
