//! `tikethet demo` as a newcomer runs it: the binary in a new folder with
//! nothing configured and no network. Every link it prints opens in
//! Chromium; a message typed in the chat simulator becomes a ticket in the
//! console, the staff's reply from the console reaches the simulator, and
//! the keyword plugin answers there (a button included). Screenshots of
//! every page are saved (`demo-*`).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tikethet_tests::browser::{browser_sized, save_screenshot};
use tikethet_tests::helpers::{ChildServer, free_port, wait_for};

/// The demo process and what it printed so far.
struct Demo {
    server: ChildServer,
    out: Arc<Mutex<Vec<String>>>,
    err_log: std::path::PathBuf,
    started: Instant,
}

fn command(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tikethet-under-test"));
    cmd.arg("demo").arg(dir.join("data"));
    for (k, _) in std::env::vars() {
        if k.starts_with("TIKETHET_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn spawn(dir: &std::path::Path) -> Demo {
    let port = free_port();
    let err_log = dir.join("demo.log");
    let mut cmd = command(dir);
    cmd.env("TIKETHET_LISTEN", format!("127.0.0.1:{port}")).stdout(Stdio::piped()).stderr(std::fs::File::create(&err_log).unwrap());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("the tikethet binary starts");
    let out = Arc::new(Mutex::new(Vec::new()));
    let lines = out.clone();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    Demo { server: ChildServer { child, base: format!("http://127.0.0.1:{port}") }, out, err_log, started }
}

impl Demo {
    /// Waits for a printed line containing `needle`.
    async fn line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(l) = self.out.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            if let Ok(Some(status)) = self.server.child.try_wait() {
                panic!("the demo exited with {status}; it printed {:?}; its log:\n{}", self.out.lock().unwrap(), std::fs::read_to_string(&self.err_log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "no line with {needle:?} within {within:?}; printed: {:?}", self.out.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn links(&self) -> Vec<String> {
        self.out
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_owned))
            .collect()
    }

    async fn feed(&self, desk: &str) -> Value {
        reqwest::get(format!("{}/demo/chat/{desk}/feed", self.server.base)).await.unwrap().json().await.unwrap()
    }
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body")).await.unwrap().text().await.unwrap_or_default()
}

/// Waits until the page's text contains `needle`; returns how long it took.
async fn shows(c: &Client, needle: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    let ok = wait_for(within, || async { body_text(c).await.contains(needle).then_some(()) }).await;
    if ok.is_none() {
        panic!("the page never showed {needle:?}; it shows: {}", body_text(c).await);
    }
    t0.elapsed()
}

async fn chat_says(c: &Client, text: &str) {
    let input = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#text")).await.unwrap();
    input.send_keys(&format!("{text}\n")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_refused_in_production_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).env("TIKETHET_ENV", "production").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused with TIKETHET_ENV=production") && err.contains("tikethet serve"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing is made before the refusal");
    // Production said in the configuration file is refused too: the
    // `tikethet.toml` in the folder it runs in, or the one TIKETHET_CONFIG names.
    std::fs::write(dir.path().join("tikethet.toml"), "env = \"Production\"\n").unwrap();
    let out = command(dir.path()).current_dir(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused with TIKETHET_ENV=production"), "tikethet.toml: {err}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = command(dir.path()).current_dir(elsewhere.path()).env("TIKETHET_CONFIG", dir.path().join("tikethet.toml")).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused with TIKETHET_ENV=production"), "TIKETHET_CONFIG: {err}");
    assert!(!dir.path().join("data").exists(), "nothing is made before the refusal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_opens_every_demo_link_chats_with_the_bot_and_is_answered_from_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = spawn(dir.path());
    let ready = demo.line("TiketHet demo is ready", Duration::from_secs(60)).await;
    let up_in = demo.started.elapsed();
    demo.line("Operator's billing dashboard", Duration::from_secs(5)).await;
    println!("{ready} (process start to ready line: {:.2} s)", up_in.as_secs_f64());
    let links = demo.links();
    let base = demo.server.base.clone();
    for path in ["/demo/", "/demo/chat?desk=acme", "/demo/app/acme", "/demo/console/acme", "/demo/chat?desk=romashka", "/demo/app/romashka", "/demo/console/romashka", "/demo/operator"] {
        assert!(links.contains(&format!("{base}{path}")), "{path} is printed: {links:?}");
    }
    // Plugins are built (once, cached) and installed after the start.
    let plugins = demo.line("Plugins", Duration::from_secs(600)).await;
    assert!(plugins.contains("Plugins ready"), "{plugins}");

    let (_driver, c) = browser_sized(1280, 900).await;
    // Every printed link opens.
    c.goto(&format!("{base}/demo/")).await.unwrap();
    shows(&c, "Two support desks", Duration::from_secs(10)).await;
    save_screenshot(&c, "demo-index").await;
    for slug in ["acme", "romashka"] {
        c.goto(&format!("{base}/demo/app/{slug}")).await.unwrap();
        let mine = wait_for(Duration::from_secs(15), || async {
            let n = c.execute("return document.querySelectorAll('[data-testid=ticket-item]').length", vec![]).await.ok()?.as_u64()?;
            (n > 0).then_some(n)
        })
        .await
        .unwrap_or_else(|| panic!("the {slug} Mini App lists no tickets"));
        assert_eq!(mine, 2, "the demo customer's past tickets");
        save_screenshot(&c, &format!("demo-miniapp-{slug}")).await;
        c.goto(&format!("{base}/demo/console/{slug}")).await.unwrap();
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=continue]")).await.unwrap().click().await.unwrap();
        let rows = wait_for(Duration::from_secs(10), || async {
            let n = c.execute("return document.querySelectorAll('[data-testid=queue] li[data-ticket]').length", vec![]).await.ok()?.as_u64()?;
            (n > 0).then_some(n)
        })
        .await
        .unwrap_or_else(|| panic!("the {slug} console shows no queue"));
        assert!(rows >= 10, "the seeded open tickets are in the queue: {rows}");
        save_screenshot(&c, &format!("demo-console-{slug}")).await;
        c.goto(&format!("{base}/t/{slug}/admin/analytics")).await.unwrap();
        let page = wait_for(Duration::from_secs(10), || async { c.execute("return document.body && document.body.dataset.page", vec![]).await.ok().filter(|p| p == "analytics") }).await;
        assert!(page.is_some(), "the {slug} analytics page opens: {}", body_text(&c).await);
        save_screenshot(&c, &format!("demo-analytics-{slug}")).await;
    }
    c.goto(&format!("{base}/demo/operator")).await.unwrap();
    let tenants = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=tenants]")).await.unwrap().text().await.unwrap();
    assert!(tenants.contains("acme") && tenants.contains("romashka"), "{tenants}");
    save_screenshot(&c, "demo-operator").await;

    // The customer writes in the chat simulator: the bot answers, and the
    // ticket is in the console.
    let (_phone_driver, phone) = browser_sized(420, 860).await;
    phone.goto(&format!("{base}/demo/chat?desk=acme")).await.unwrap();
    shows(&phone, "No messages yet", Duration::from_secs(10)).await;
    let typed = "My parcel from last week still has not arrived";
    chat_says(&phone, typed).await;
    let sent_at = Instant::now();
    shows(&phone, "is open", Duration::from_secs(10)).await;
    let ticket = loop {
        let q: String = url::form_urlencoded::byte_serialize(typed.as_bytes()).collect();
        c.goto(&format!("{base}/t/acme/admin/?q={q}")).await.unwrap();
        let id = c
            .execute(
                "const li = [...document.querySelectorAll('[data-testid=queue] li[data-ticket]')].find(l => l.textContent.includes(arguments[0])); return li ? Number(li.dataset.ticket) : null",
                vec![json!(typed)],
            )
            .await
            .unwrap();
        if let Some(id) = id.as_i64() {
            break id;
        }
        assert!(sent_at.elapsed() < Duration::from_secs(10), "the typed message never became a ticket in the console");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("typed in the simulator → in the console's queue: {:.0} ms", sent_at.elapsed().as_secs_f64() * 1000.0);

    // The agent answers from the console; the customer sees it.
    c.goto(&format!("{base}/t/acme/admin/tickets/{ticket}")).await.unwrap();
    shows(&c, typed, Duration::from_secs(10)).await;
    let reply = "Sorry about that! The courier has it today; you will get it before 18:00.";
    c.find(Locator::Css("[data-testid=reply]")).await.unwrap().send_keys(reply).await.unwrap();
    save_screenshot(&c, "demo-console-ticket").await;
    c.find(Locator::Css("[data-testid=send-reply]")).await.unwrap().click().await.unwrap();
    let took = shows(&phone, reply, Duration::from_secs(15)).await;
    println!("console reply → in the simulator: {:.0} ms", took.as_secs_f64() * 1000.0);

    // The keyword plugin answers, and its button too.
    chat_says(&phone, "Can I get a refund?").await;
    shows(&phone, "Refunds reach your card within 5 business days", Duration::from_secs(15)).await;
    phone
        .execute("[...document.querySelectorAll('.keys button')].find(b => b.textContent === 'How do I ask for one?').click()", vec![])
        .await
        .unwrap();
    shows(&phone, "Reply here with your order number", Duration::from_secs(15)).await;
    save_screenshot(&phone, "demo-chat").await;

    // The bot's Mini App button opens the ticket, signed in as the customer.
    let feed = demo.feed("acme").await;
    let open = feed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["buttons"].as_array().cloned().unwrap_or_default())
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .find(|b| b["kind"] == "web_app" && b["value"].as_str().is_some_and(|v| v.contains(&format!("ticket-{ticket}"))))
        .unwrap_or_else(|| panic!("a button opens ticket {ticket} in the Mini App: {feed}"));
    phone.goto(open["value"].as_str().unwrap()).await.unwrap();
    shows(&phone, reply, Duration::from_secs(15)).await;
    save_screenshot(&phone, "demo-miniapp-ticket").await;

    // The Russian desk's simulator speaks Russian.
    phone.goto(&format!("{base}/demo/chat?desk=romashka")).await.unwrap();
    chat_says(&phone, "Хочу оформить возврат").await;
    shows(&phone, "Деньги поступят на карту", Duration::from_secs(15)).await;
    save_screenshot(&phone, "demo-chat-ru").await;
}

/// A visitor signs up a desk of their own from the demo, with the bot the
/// stand-in keeps for it, and claims it in the chat simulator: the bot
/// answers with the console link, which signs them in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_signs_up_from_the_demo_and_claims_the_desk_in_the_chat_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = spawn(dir.path());
    let line = demo.line("A desk of your own", Duration::from_secs(60)).await;
    let token = line.split_whitespace().find(|w| w.starts_with("7000000003:")).unwrap_or_else(|| panic!("the token is printed: {line}")).trim_end_matches(',').to_owned();
    let base = demo.server.base.clone();
    let index = reqwest::get(format!("{base}/demo/")).await.unwrap().text().await.unwrap();
    assert!(index.contains(&token) && index.contains(r#"href="/demo/chat?desk=signup""#), "the demo's page says how: {index}");
    let http = reqwest::Client::new();
    let res = http.post(format!("{base}/api/v1/signup")).json(&json!({ "name": "My Bakery", "bot_token": token })).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let code = body["claim_link"].as_str().and_then(|l| l.split_once("?start=")).map(|(_, c)| c.to_owned()).unwrap();
    let sent = http.post(format!("{base}/demo/chat/signup/send")).json(&json!({ "text": format!("/start {code}") })).send().await.unwrap();
    assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap_or_default());
    let answer = wait_for(Duration::from_secs(20), || async {
        demo.feed("signup").await["entries"].as_array().and_then(|e| e.iter().find(|e| e["from"] == "bot" && e["text"].as_str().is_some_and(|t| t.contains("is yours"))).cloned())
    })
    .await
    .expect("the bot answers the claim with the console link, in the simulated chat");
    let link = answer["text"].as_str().unwrap().split_whitespace().find(|w| w.contains("/admin/login?token=")).unwrap().to_owned();
    assert!(link.starts_with(&format!("{base}/t/my-bakery/admin/login?token=")), "{link}");
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200, "the console's sign-in page opens");
}
