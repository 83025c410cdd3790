//! Spawning the real server for a test: a fresh database (a temp folder on
//! SQLite, throwaway schemas on PostgreSQL), a fresh Redis key prefix, the
//! Telegram stand-in, and a typed client.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tikethet_platform::Application;
use tikethet_platform::config::{Settings, Sources};
use tikethet_runtime::domain::BotToken;

use crate::fake_telegram::FakeTelegram;

pub const OPERATOR_TOKEN: &str = "op_test_token_0123456789abcdef";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> String {
    std::env::var("TIKETHET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("TIKETHET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn random_suffix() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 5];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Settings as a deployment would load them, pointed at throwaway storage.
pub fn test_settings(backend: Backend, dir: &std::path::Path, telegram: &str, redis: bool) -> (HashMap<String, String>, Option<String>) {
    let mut m = HashMap::new();
    let mut schema = None;
    m.insert("TIKETHET_DATA_DIR".into(), dir.join("data").display().to_string());
    match backend {
        Backend::Sqlite => {
            m.insert("TIKETHET_DATABASE_URL".into(), format!("sqlite://{}", dir.join("data/tikethet.db").display()));
        }
        Backend::Postgres => {
            let s = format!("tt_{}", random_suffix());
            m.insert("TIKETHET_DATABASE_URL".into(), postgres_url());
            m.insert("TIKETHET_DATABASE_SCHEMA".into(), s.clone());
            // No spare schemas (each costs a schema's worth of DDL per test
            // server); the tests of spares turn them on.
            m.insert("TIKETHET_PG_SPARE_SCHEMAS".into(), "0".into());
            schema = Some(s);
        }
    }
    if redis {
        m.insert("TIKETHET_REDIS_URL".into(), redis_url());
        m.insert("TIKETHET_REDIS_PREFIX".into(), format!("tt_{}:", random_suffix()));
    }
    m.insert("TIKETHET_TELEGRAM_API_URL".into(), telegram.to_owned());
    m.insert("TIKETHET_OPERATOR_TOKEN".into(), OPERATOR_TOKEN.into());
    (m, schema)
}

/// Drops a test's PostgreSQL schemas (the control plane and its tenants).
pub async fn drop_pg_schemas(schema: &str) {
    let url = tikethet_runtime::storage::StorageUrl::parse(&postgres_url(), schema).expect("test schema");
    if let Ok(storage) = tikethet_runtime::storage::Storage::open(&url, Default::default()).await {
        storage.drop_everything_postgres().await.ok();
        storage.close().await;
    }
}

pub struct TestApp {
    pub address: String,
    pub fake: FakeTelegram,
    pub http: reqwest::Client,
    pub state: tikethet_platform::AppState,
    pub backend: Backend,
    schema: Option<String>,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// With `TIKETHET_TEST_THROUGH_PGBOUNCER=1`, the bouncer PostgreSQL is
    /// reached through.
    _bouncer: Option<crate::pgbouncer::PgBouncer>,
}

/// Options of [`spawn_app_with`].
#[derive(Default, Clone, Copy)]
pub struct Options {
    pub redis: bool,
    /// `TIKETHET_ENV=production`, with the secrets and the https public URL
    /// production insists on.
    pub production: bool,
    pub limits: Limits,
    /// An https public URL (`TIKETHET_PUBLIC_URL`), so that the bot offers
    /// Mini App buttons; the stand-in delivers its webhooks to the server.
    pub https_public_url: bool,
    /// `TIKETHET_FILES_URL` (unset: files under the data folder).
    pub files_url: Option<&'static str>,
    /// More settings, as environment variables would give them.
    pub env: &'static [(&'static str, &'static str)],
}

/// The public URL of [`Options::https_public_url`].
pub const HTTPS_PUBLIC_URL: &str = "https://desk.example.com";

/// The tenant API's request limits in a test.
#[derive(Default, Clone, Copy)]
pub enum Limits {
    /// A deployment's defaults.
    #[default]
    Default,
    /// `TIKETHET_RATE_LIMITS=off`.
    Off,
    /// Limits small enough to reach in a test.
    Custom(tikethet_runtime::auth::throttle::Policy),
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, opts: Options) -> TestApp {
    // `TIKETHET_TEST_LOG=debug` shows the server's log beside a test's output.
    if let Ok(filter) = std::env::var("TIKETHET_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).with_test_writer().try_init();
    }
    let fake = FakeTelegram::start().await.expect("the Telegram stand-in starts");
    // The server listens on plain HTTP on loopback; Telegram would refuse
    // such a webhook, so the test says it accepts it.
    fake.allow_insecure_webhooks(true);
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut m, schema) = test_settings(backend, dir.path(), &fake.url, opts.redis);
    m.insert("TIKETHET_LISTEN".into(), "127.0.0.1:0".into());
    if opts.production {
        m.insert("TIKETHET_ENV".into(), "production".into());
        m.insert("TIKETHET_PUBLIC_URL".into(), "https://desk.example.com".into());
        m.insert("TIKETHET_MASTER_KEY".into(), "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".into());
        m.insert("TIKETHET_JWT_SECRET".into(), format!("test-jwt-secret-{}-0123456789abcdef", random_suffix()));
    }
    if opts.https_public_url {
        // A public address off this machine gets production's checks
        // whatever TIKETHET_ENV says, so its secrets must be set.
        m.insert("TIKETHET_PUBLIC_URL".into(), HTTPS_PUBLIC_URL.into());
        m.insert("TIKETHET_MASTER_KEY".into(), "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".into());
        m.insert("TIKETHET_JWT_SECRET".into(), format!("test-jwt-secret-{}-0123456789abcdef", random_suffix()));
    }
    if let Some(url) = opts.files_url {
        m.insert("TIKETHET_FILES_URL".into(), url.into());
    }
    if matches!(opts.limits, Limits::Off) {
        m.insert("TIKETHET_RATE_LIMITS".into(), "off".into());
    }
    // `TIKETHET_TEST_THROUGH_PGBOUNCER=1`: the server reaches PostgreSQL
    // through a PgBouncer of its own in transaction mode, as several nodes
    // are deployed (`.ci/run` runs the PostgreSQL tests this way too).
    let bouncer = match (&schema, std::env::var("TIKETHET_TEST_THROUGH_PGBOUNCER").as_deref()) {
        (Some(s), Ok("1")) => {
            let b = crate::pgbouncer::PgBouncer::start(&postgres_url(), s).unwrap_or_else(|e| panic!("PgBouncer is needed (TIKETHET_TEST_THROUGH_PGBOUNCER=1): {e:#}"));
            m.insert("TIKETHET_DATABASE_URL".into(), b.url());
            Some(b)
        }
        _ => None,
    };
    for (k, v) in opts.env {
        m.insert((*k).into(), (*v).into());
    }
    let mut settings = Settings::load(&Sources::from_map(m)).expect("test settings load");
    if let Limits::Custom(policy) = opts.limits {
        settings.throttle = Some(policy);
    }
    let app = match Application::build(settings).await {
        Ok(a) => a,
        Err(e) => panic!(
            "could not start the server on {backend:?}: {e:#}\n(PostgreSQL at {} and Redis at {} must be running; see the README)",
            postgres_url(),
            redis_url()
        ),
    };
    let port = app.port();
    if opts.https_public_url || opts.production {
        fake.route_origin(HTTPS_PUBLIC_URL, &format!("http://127.0.0.1:{port}"));
    }
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        // A dropped sender (the test ended) stops the server too.
        rx.await.ok();
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        fake,
        http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
        state,
        backend,
        schema,
        _dir: dir,
        shutdown: Some(tx),
        _bouncer: bouncer,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // The server may have stopped already; nothing to do then.
            tx.send(()).ok();
        }
        if let Some(schema) = self.schema.take() {
            // Drop cannot await; a short-lived runtime on another thread can.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(drop_pg_schemas(&schema));
            })
            .join();
            if dropped.is_err() && !std::thread::panicking() {
                panic!("dropping the test's PostgreSQL schemas panicked");
            }
        }
    }
}

/// A test bot: a valid token the stand-in knows.
pub fn bot_token(n: u32) -> String {
    format!("{}:AAH{}Tcvch1vGWJxfSeofSAs0K5PALDsaw", 700_000 + n, random_suffix())
}

pub struct Tenant {
    pub slug: String,
    pub token: String,
    pub owner: i64,
    pub body: Value,
}

impl TestApp {
    /// The control plane's PostgreSQL schema (tenants' schemas start with it).
    /// The server's data folder.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    pub fn pg_schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The control plane's PostgreSQL schema (`None` on SQLite).
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The value of a metric on `/metrics` (asked with the operator's
    /// token); panics when the page is refused or the metric is missing, so
    /// a check on it cannot pass on a metric nobody exports.
    pub async fn metric(&self, name: &str) -> i64 {
        let res = self.http.get(self.url("/metrics")).bearer_auth(OPERATOR_TOKEN).send().await.expect("/metrics answers");
        let status = res.status();
        let text = res.text().await.expect("the metrics page");
        assert_eq!(status, 200, "/metrics: {text}");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} is missing from /metrics:\n{text}"))
    }

    /// The `_count` of a latency histogram on `/metrics`, summed over the
    /// series whose labels contain `labels` (`""`: all of them).
    pub async fn histogram_count(&self, name: &str, labels: &str) -> u64 {
        let text = self.http.get(self.url("/metrics")).bearer_auth(OPERATOR_TOKEN).send().await.expect("/metrics answers").text().await.expect("the metrics page");
        histogram_count(&text, name, labels)
    }

    pub async fn operator(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut r = self.http.request(method, self.url(path)).bearer_auth(OPERATOR_TOKEN);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request")
    }

    /// Provisions a tenant whose bot the stand-in knows; panics unless 201.
    /// A tenant on the Business plan, whose limits the tests of the desk
    /// never meet (`plans.rs` tests the limits, on the plans that have them).
    pub async fn create_tenant(&self, slug: &str, n: u32) -> Tenant {
        self.create_tenant_on(slug, n, "business").await
    }

    pub async fn create_tenant_on(&self, slug: &str, n: u32, plan: &str) -> Tenant {
        let token = bot_token(n);
        self.fake.add_bot(&token, &format!("{}_bot", slug.replace('-', "_")));
        let owner = 5_000_000 + i64::from(n);
        // The owner set the bot up, so has talked to it: it may write to them.
        self.fake.start_chat(&token, owner);
        let res = self
            .operator(
                reqwest::Method::POST,
                "/api/platform/v1/tenants",
                Some(json!({ "slug": slug, "name": format!("{slug} Support"), "bot_token": token, "owner_telegram_id": owner, "plan": plan })),
            )
            .await;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "create tenant {slug}: {body}");
        Tenant { slug: slug.to_owned(), token, owner, body }
    }

    /// Plays Telegram delivering an update to a tenant's webhook; panics
    /// unless the server acknowledged it (200), which Telegram needs.
    pub async fn deliver(&self, t: &Tenant, update: &Value) -> u16 {
        let status = self.fake.deliver(&t.token, update).await.expect("delivery");
        assert_eq!(status, 200, "the webhook did not acknowledge {update}");
        status
    }

    /// Posts to a tenant's webhook with an explicit secret header.
    pub async fn post_webhook(&self, t: &Tenant, secret: Option<&str>, body: &str) -> u16 {
        let wh = self.fake.webhook(&t.token).expect("webhook registered");
        if let Ok(update) = serde_json::from_str::<Value>(body) {
            self.fake.note_update(&t.token, &update);
        }
        let mut r = self.http.post(&wh.url).header("content-type", "application/json").body(body.to_owned());
        if let Some(s) = secret {
            r = r.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        r.send().await.expect("request").status().as_u16()
    }

    /// Signs in through initData as a Telegram user of a tenant.
    pub async fn sign_in(&self, t: &Tenant, telegram_id: i64) -> String {
        let init = init_data(&t.token, telegram_id, chrono::Utc::now().timestamp());
        let res = self
            .http
            .post(self.url(&format!("/t/{}/api/v1/auth/telegram", t.slug)))
            .json(&json!({ "init_data": init }))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "sign in: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The path and query of a console link (the server builds it on its
    /// public URL, which in a test is not where it listens).
    pub fn console_path(link: &str) -> String {
        let at = link.find("/t/").unwrap_or_else(|| panic!("a console link: {link}"));
        link[at..].split_whitespace().next().unwrap().to_owned()
    }

    /// Opens a console sign-in link as a browser does: the page (which
    /// spends nothing), then its button (a POST of the token).
    pub async fn redeem_console_link(&self, http: &reqwest::Client, path: &str, user_agent: Option<&str>) -> reqwest::Response {
        let page = http.get(self.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "the link's page");
        let page = page.text().await.unwrap();
        let at = page.find(r#"name="token" value=""#).expect("the sign-in button's form") + r#"name="token" value=""#.len();
        let token = page[at..].split('"').next().unwrap().to_owned();
        let action = path.split('?').next().unwrap();
        let mut r = http.post(self.url(action)).form(&[("token", token)]);
        if let Some(a) = user_agent {
            r = r.header("user-agent", a);
        }
        r.send().await.unwrap()
    }

    /// Signs a staff member in to the console the Mini App's way (a
    /// one-time link from the API, opened): the session cookie, as
    /// `name=value`.
    pub async fn console_cookie(&self, t: &Tenant, telegram_id: i64) -> String {
        let token = self.sign_in(t, telegram_id).await;
        let (status, body) = self.tenant_post(&t.slug, "/console/link", &token, json!({})).await;
        assert_eq!(status, 200, "a console link: {body}");
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = self.redeem_console_link(&no_redirects, &Self::console_path(body["url"].as_str().unwrap()), None).await;
        assert_eq!(res.status(), 303, "the link signs in");
        let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        cookie.split(';').next().unwrap().to_owned()
    }

    pub async fn tenant_get(&self, slug: &str, path: &str, token: &str) -> (u16, Value) {
        let res = self.http.get(self.url(&format!("/t/{slug}/api/v1{path}"))).bearer_auth(token).send().await.unwrap();
        let s = res.status().as_u16();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn tenant_post(&self, slug: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let res = self.http.post(self.url(&format!("/t/{slug}/api/v1{path}"))).bearer_auth(token).json(&body).send().await.unwrap();
        let s = res.status().as_u16();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    /// Any method on the tenant API; `body` as JSON when given.
    /// The request is built at once, so the future borrows nothing.
    pub fn tenant_call(&self, method: reqwest::Method, slug: &str, path: &str, token: &str, body: Option<Value>) -> impl std::future::Future<Output = (u16, Value)> + use<> {
        let mut r = self.http.request(method, self.url(&format!("/t/{slug}/api/v1{path}"))).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let res = r.send().await.unwrap();
            let s = res.status().as_u16();
            (s, res.json().await.unwrap_or(Value::Null))
        }
    }

    /// Waits until the bot has sent `n` messages to a chat; returns them.
    pub async fn wait_sent(&self, t: &Tenant, chat: i64, n: usize) -> Vec<String> {
        wait_until(Duration::from_secs(20), || {
            let sent = self.fake.sent_to(&t.token, chat);
            (sent.len() >= n).then_some(sent)
        })
        .await
        .unwrap_or_else(|| panic!("expected {n} message(s) to chat {chat}, got {:?}", self.fake.sent_to(&t.token, chat)))
    }
}

impl TestApp {
    /// The tenant's inbox, oldest first.
    pub async fn inbox(&self, slug: &str) -> Vec<tikethet_runtime::storage::entities::inbox::Model> {
        use sea_orm::{EntityTrait, QueryOrder};
        use tikethet_runtime::storage::entities::inbox;
        let tenant = self.state.runtime.tenants().by_slug(slug).expect("tenant is served");
        let txn = tenant.db.begin().await.expect("begin");
        let rows = inbox::Entity::find().order_by_asc(inbox::Column::Id).all(&txn).await.expect("read the inbox");
        txn.commit().await.expect("commit");
        rows
    }

    /// The tenant's outbox, oldest first.
    pub async fn outbox(&self, slug: &str) -> Vec<tikethet_runtime::storage::entities::outbox::Model> {
        use sea_orm::{EntityTrait, QueryOrder};
        use tikethet_runtime::storage::entities::outbox;
        let tenant = self.state.runtime.tenants().by_slug(slug).expect("tenant is served");
        let txn = tenant.db.begin().await.expect("begin");
        let rows = outbox::Entity::find().order_by_asc(outbox::Column::Id).all(&txn).await.expect("read the outbox");
        txn.commit().await.expect("commit");
        rows
    }

    /// Waits until the update is processed (its inbox row is no longer
    /// pending); returns the row.
    pub async fn wait_processed(&self, slug: &str, update_id: i64) -> tikethet_runtime::storage::entities::inbox::Model {
        let found = wait_for(Duration::from_secs(20), || async {
            self.inbox(slug).await.into_iter().find(|r| r.update_id == Some(update_id) && r.status != tikethet_runtime::storage::entities::inbox::PENDING)
        })
        .await;
        match found {
            Some(row) => row,
            None => panic!("update {update_id} was not processed: {:#?}", self.inbox(slug).await),
        }
    }

    /// Waits until no outbox row is pending; returns the rows.
    pub async fn wait_outbox_settled(&self, slug: &str) -> Vec<tikethet_runtime::storage::entities::outbox::Model> {
        self.wait_outbox_settled_within(slug, Duration::from_secs(30)).await
    }

    /// Like [`TestApp::wait_outbox_settled`], for a test that sends more
    /// than a group takes in a minute (Telegram's 20).
    pub async fn wait_outbox_settled_within(&self, slug: &str, within: Duration) -> Vec<tikethet_runtime::storage::entities::outbox::Model> {
        let found = wait_for(within, || async {
            let rows = self.outbox(slug).await;
            rows.iter().all(|r| r.status != tikethet_runtime::storage::entities::outbox::PENDING).then_some(rows)
        })
        .await;
        match found {
            Some(rows) => rows,
            None => panic!("outbox still pending after {within:?}: {:#?}", self.outbox(slug).await),
        }
    }
}

/// Signed Mini App initData for a user, as Telegram would build it.
pub fn init_data(token: &str, telegram_id: i64, auth_date: i64) -> String {
    init_data_in(token, telegram_id, auth_date, None)
}

/// Like [`init_data`], from a user whose Telegram speaks `language_code`.
pub fn init_data_in(token: &str, telegram_id: i64, auth_date: i64, language_code: Option<&str>) -> String {
    let token = BotToken::parse(token).expect("test token");
    let mut user = json!({ "id": telegram_id, "first_name": "Owner", "username": "owner" });
    if let Some(l) = language_code {
        user["language_code"] = json!(l);
    }
    tikethet_runtime::auth::sign_init_data(
        &token,
        &[("auth_date", auth_date.to_string()), ("query_id", "AAHdF6IQAAAAAN0XohDhrOrc".into()), ("user", user.to_string())],
    )
}

/// A client that does not follow redirects (to read a form's `303`).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The value of a page's first `name="csrf"` field (the console's and the
/// dashboard's form token).
pub fn csrf_in(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub async fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls the async `f` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Builds a plugin crate of this test package (`tests/plugins/NAME`) and
/// returns the component's bytes.
pub fn test_plugin(name: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("../target"));
    let path = tikethet_plugins::build::build_plugin(&root.join("plugins").join(name), &base.join("wasm-guest"), &base.join("plugins"))
        .unwrap_or_else(|e| panic!("building test plugin {name}: {e:#}"));
    std::fs::read(path).expect("the built component")
}

/// A server (or any command) running as a child process, killed when
/// dropped.
pub struct ChildServer {
    pub child: std::process::Child,
    pub base: String,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Already dead after a test's own kill: nothing to do.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One connection to a server's control plane: `data_dir/tikethet.db` on
/// SQLite, schema `pg_schema` on PostgreSQL.
pub async fn connect_control(backend: Backend, data_dir: &std::path::Path, pg_schema: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let mut opts = match backend {
        Backend::Sqlite => sea_orm::ConnectOptions::new(format!("sqlite://{}", data_dir.join("tikethet.db").display())),
        Backend::Postgres => {
            let mut o = sea_orm::ConnectOptions::new(postgres_url());
            o.set_schema_search_path(pg_schema.to_owned());
            o
        }
    };
    opts.max_connections(1).sqlx_logging(false);
    Ok(sea_orm::Database::connect(opts).await?)
}

/// A tenant's storage as a build one migration older left it: made again
/// from the migrations up to the one before the newest (SQLite files under
/// `data_dir/tenants`, in WAL mode as the server keeps them; PostgreSQL
/// schemas under `pg_schema`), with its control-plane row saying so.
pub async fn put_tenant_one_migration_back(backend: Backend, data_dir: &std::path::Path, pg_schema: &str, slug: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait as _;
    use tikethet_migrations::{MigratorTrait as _, TenantMigrator};
    let latest = TenantMigrator::migrations().len() as u32;
    let mut opts = match backend {
        Backend::Sqlite => {
            let file = data_dir.join(format!("tenants/{slug}.db"));
            for suffix in ["", "-wal", "-shm"] {
                std::fs::remove_file(format!("{}{suffix}", file.display())).ok();
            }
            sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=rwc", file.display()))
        }
        Backend::Postgres => {
            let name = format!("{pg_schema}_{}", slug.replace('-', "_"));
            let admin = sea_orm::Database::connect(postgres_url()).await?;
            admin.execute_unprepared(&format!("DROP SCHEMA \"{name}\" CASCADE; CREATE SCHEMA \"{name}\"")).await?;
            admin.close().await?;
            let mut o = sea_orm::ConnectOptions::new(postgres_url());
            o.set_schema_search_path(name);
            o
        }
    };
    opts.max_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(opts).await?;
    if backend == Backend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    TenantMigrator::up(&db, Some(latest - 1)).await?;
    db.close().await?;
    // And the control plane says so, as that build recorded it.
    let previous = TenantMigrator::migrations()[latest as usize - 2].name().to_owned();
    let control = connect_control(backend, data_dir, pg_schema).await?;
    let backend_kind = control.get_database_backend();
    let sql = match backend_kind {
        sea_orm::DbBackend::Postgres => "UPDATE tenants SET schema_version = $1 WHERE slug = $2",
        _ => "UPDATE tenants SET schema_version = ? WHERE slug = ?",
    };
    let done = control.execute_raw(sea_orm::Statement::from_sql_and_values(backend_kind, sql, [previous.into(), slug.into()])).await?;
    anyhow::ensure!(done.rows_affected() == 1, "no tenant {slug} in the control plane");
    control.close().await?;
    Ok(())
}

/// The `_count` of a histogram in a `/metrics` page, summed over the series
/// whose labels contain `labels`.
pub fn histogram_count(text: &str, name: &str, labels: &str) -> u64 {
    let prefix = format!("{name}_count");
    text.lines()
        .filter(|l| l.strip_prefix(&prefix).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
