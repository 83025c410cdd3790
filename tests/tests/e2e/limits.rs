//! Request limits of the tenant API: sign-ins and writes per client address
//! and per user answer 429 with `Retry-After` and do nothing; other clients
//! and users go on; the counts live in Redis when it is configured.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_runtime::outbound::limiter::Rate;
use tikethet_runtime::auth::throttle::Policy;
use tikethet_tests::helpers::{Backend, Limits, Options, TestApp, init_data, spawn_app_with};

// Redis (on PostgreSQL) and this process's counts (on SQLite).
on_both!(sign_ins_and_writes_over_their_limits_get_429_with_retry_after_and_change_nothing);

/// Sends a request as the client at `ip` (the server believes
/// `X-Forwarded-For` from a loopback peer, as from a proxy in front of it).
async fn call(app: &TestApp, ip: &str, method: Method, path: &str, token: Option<&str>, body: Value) -> (u16, Option<u64>, Value) {
    let mut r = app.http.request(method, app.url(path)).header("x-forwarded-for", ip).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().expect("Retry-After is whole seconds"));
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

async fn sign_in(app: &TestApp, token: &str, ip: &str, telegram_id: i64) -> (u16, Option<u64>, Value) {
    let init = init_data(token, telegram_id, chrono::Utc::now().timestamp());
    call(app, ip, Method::POST, "/t/acme/api/v1/auth/telegram", None, json!({ "init_data": init })).await
}

async fn new_ticket(app: &TestApp, ip: &str, token: &str, title: &str) -> (u16, Option<u64>, Value) {
    call(app, ip, Method::POST, "/t/acme/api/v1/tickets", Some(token), json!({ "title": title, "description": "d", "priority": "normal" })).await
}

fn assert_limited(res: &(u16, Option<u64>, Value), max_wait: u64, what: &str) {
    let (status, retry, body) = res;
    assert_eq!(*status, 429, "{what}: {body}");
    assert_eq!(body["error"]["code"], "rate_limited", "{what}: {body}");
    let retry = retry.unwrap_or_else(|| panic!("{what}: a 429 without Retry-After"));
    assert!((1..=max_wait).contains(&retry), "{what}: Retry-After {retry}, expected 1..={max_wait}");
}

async fn sign_ins_and_writes_over_their_limits_get_429_with_retry_after_and_change_nothing(b: Backend) {
    // Slow rates (slots 5 to 30 s apart), so that a loaded machine cannot
    // free a slot between the requests that spend a burst.
    let policy = Policy {
        sign_in_per_ip: Rate::per_minute(3, 3),
        sign_in_per_user: Rate::per_minute(2, 2),
        writes_per_ip: Rate::per_minute(5, 5),
        writes_per_user: Rate::per_minute(12, 3),
        ..Policy::default()
    };
    let redis = b == Backend::Postgres;
    let app = spawn_app_with(b, Options { redis, limits: Limits::Custom(policy), ..Options::default() }).await;
    let t = app.create_tenant("acme", 1).await;
    let token = |v: &Value| v["access_token"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned();

    // Per address: three sign-ins of three people, then the fourth waits
    // for the next slot (20 s); another address is not affected.
    for id in [101, 102, 103] {
        let (s, _, body) = sign_in(&app, &t.token, "203.0.113.1", id).await;
        assert_eq!(s, 200, "{body}");
    }
    assert_limited(&sign_in(&app, &t.token, "203.0.113.1", 104).await, 20, "a fourth sign-in from one address");
    let (s, _, body) = sign_in(&app, &t.token, "203.0.113.2", 104).await;
    assert_eq!(s, 200, "another address: {body}");

    // Per person: two sign-ins, then a third is refused from any address.
    assert_eq!(sign_in(&app, &t.token, "203.0.113.3", 105).await.0, 200);
    assert_eq!(sign_in(&app, &t.token, "203.0.113.4", 105).await.0, 200);
    assert_limited(&sign_in(&app, &t.token, "203.0.113.5", 105).await, 30, "a third sign-in of one person");
    assert_eq!(sign_in(&app, &t.token, "203.0.113.5", 106).await.0, 200, "the address itself is within its limit");

    // Per user writes: a burst of three, then a fourth (from another
    // address) is refused and creates nothing; another user goes on.
    let a = token(&sign_in(&app, &t.token, "203.0.113.10", 110).await.2);
    let c = token(&sign_in(&app, &t.token, "203.0.113.11", 111).await.2);
    for i in 0..3 {
        let (s, _, body) = new_ticket(&app, "198.51.100.1", &a, &format!("t{i}")).await;
        assert_eq!(s, 201, "{body}");
    }
    let refused = new_ticket(&app, "198.51.100.3", &a, "one too many").await;
    assert_limited(&refused, 5, "a fourth write of one user");
    let (s, _, body) = new_ticket(&app, "198.51.100.1", &c, "another user").await;
    assert_eq!(s, 201, "{body}");
    let (_, page) = app.tenant_get("acme", "/tickets", &a).await;
    assert_eq!(page["total"], 3, "the refused write created nothing: {page}");
    // Forged tokens are refused by the handler and spend nobody's allowance
    // (the user's next slot would otherwise move further away).
    let forged = format!("{}x", &a[..a.len() - 1]);
    for _ in 0..3 {
        assert_eq!(new_ticket(&app, "198.51.100.2", &forged, "forged").await.0, 401);
    }
    // After the wait the server named, the user may write again.
    tokio::time::sleep(Duration::from_secs(refused.1.unwrap())).await;
    let (s, _, body) = new_ticket(&app, "198.51.100.4", &a, "after the wait").await;
    assert_eq!(s, 201, "Retry-After was too short: {body}");

    // Per address writes: five from one address, whoever writes, then the
    // sixth is refused though its user is within their own limit.
    let d = token(&sign_in(&app, &t.token, "203.0.113.12", 112).await.2);
    let e = token(&sign_in(&app, &t.token, "203.0.113.13", 113).await.2);
    for (i, who) in [&d, &e, &d, &e, &d].into_iter().enumerate() {
        let (s, _, body) = new_ticket(&app, "192.0.2.9", who, &format!("shared address {i}")).await;
        assert_eq!(s, 201, "write {i}: {body}");
    }
    assert_limited(&new_ticket(&app, "192.0.2.9", &e, "sixth").await, 12, "a sixth write from one address");

    if redis {
        // The counts are Redis's: another node that spent an address's
        // sign-ins there makes this server refuse that address at once.
        use tikethet_runtime::outbound::limiter::Limiter;
        let prefix = app.state.settings.redis_prefix.clone();
        let other_node = Limiter::redis(&tikethet_tests::helpers::redis_url(), &prefix).await.expect("Redis runs");
        for _ in 0..3 {
            assert_eq!(other_node.try_acquire("th:ip:signin:203.0.113.99", policy.sign_in_per_ip).await.unwrap(), None);
        }
        assert_limited(&sign_in(&app, &t.token, "203.0.113.99", 199).await, 20, "an address spent on another node");
    }
}
