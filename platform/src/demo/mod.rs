//! `tikethet demo`: the whole product on one machine with no bot token and
//! no network, for a newcomer's first minutes.
//!
//! It serves on SQLite in a fresh folder with the Telegram stand-in
//! (`tikethet-telegram-standin`, the one the tests use, as strict as
//! Telegram) in the same process: provisioning registers real webhooks with
//! it, and what the bots send lands there. Two demo desks are provisioned
//! through the control plane as an operator would (one in English, one in
//! Russian, in different themes) and given a past ([`seed`]). The links
//! printed sign in through the real routes (`http/demo.rs`): the Mini App
//! with initData signed by the bot's token, the console through a one-time
//! link issued by the desk's API, the operator's dashboard with a session of
//! its own. The chat simulator ([`chat`]) plays a customer's Telegram
//! client: what it sends goes through the real webhook route with the
//! desk's secret.
//!
//! Refused with `TIKETHET_ENV=production`: the secrets it makes up and the
//! stand-in it talks to have no place there.

pub mod chat;
pub mod plugins;
pub mod seed;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use tikethet_runtime::domain::{BotToken, TelegramUserId, TenantSlug};
use tikethet_telegram_standin::FakeTelegram;
use tikethet_themes::Theme;

use crate::Application;
use crate::config::{Settings, Sources};
use crate::control::NewTenant;

/// A person of a demo desk: Telegram id, first name, language.
#[derive(Debug, Clone, Copy)]
pub struct Person {
    pub id: i64,
    pub first_name: &'static str,
    pub language: &'static str,
}

/// One demo desk.
#[derive(Debug)]
pub struct Desk {
    pub slug: &'static str,
    pub name: &'static str,
    pub bot_token: &'static str,
    pub bot_username: &'static str,
    pub theme: &'static str,
    /// Of the shipped catalogue; room for the staff and the example plugins.
    pub plan: &'static str,
    pub owner: Person,
    /// The customer the Mini App link and the chat simulator play.
    pub customer: Person,
    pub language: &'static str,
}

pub const DESKS: [Desk; 2] = [
    Desk {
        slug: "acme",
        name: "Acme Support",
        bot_token: "7000000001:AAEdemoAcmeSupportBotToken-0123456789",
        bot_username: "acme_support_bot",
        theme: "default",
        plan: "pro",
        owner: Person { id: 700_000_101, first_name: "Olivia", language: "en" },
        customer: Person { id: 700_000_201, first_name: "Chris", language: "en" },
        language: "en",
    },
    Desk {
        slug: "romashka",
        name: "Ромашка",
        bot_token: "7000000002:AAEdemoRomashkaSupportBotToken-012345",
        bot_username: "romashka_help_bot",
        theme: "midnight",
        plan: "starter",
        owner: Person { id: 700_000_102, first_name: "Ольга", language: "ru" },
        customer: Person { id: 700_000_202, first_name: "Иван", language: "ru" },
        language: "ru",
    },
];

/// A bot the stand-in knows that serves no desk yet: the visitor signs it
/// up at `/signup` and claims the desk in the chat simulator
/// (`/demo/chat?desk=signup`), playing its owner-to-be. Its `slug` names
/// the chat, not a desk (signup picks the desk's).
pub const SIGNUP: Desk = Desk {
    slug: "signup",
    name: "Your own desk",
    bot_token: "7000000003:AAEdemoYourOwnDeskBotToken-0123456789",
    bot_username: "your_new_desk_bot",
    theme: "default",
    plan: "free",
    owner: Person { id: 700_000_103, first_name: "You", language: "en" },
    customer: Person { id: 700_000_103, first_name: "You", language: "en" },
    language: "en",
};

pub fn desk(slug: &str) -> Option<&'static Desk> {
    DESKS.iter().chain(std::iter::once(&SIGNUP)).find(|d| d.slug == slug)
}

/// What the demo routes need; set on the state only under `tikethet demo`.
pub struct Demo {
    pub fake: FakeTelegram,
    /// The chat simulator's record of what the customers sent.
    pub chats: chat::Chats,
}

/// Whether the configuration says production (`TIKETHET_ENV`, in any case).
fn refused_here(src: &Sources) -> bool {
    src.get("TIKETHET_ENV").is_some_and(|e| e.eq_ignore_ascii_case("production"))
}

/// Runs the demo until `shutdown` resolves.
pub async fn run(dir: Option<PathBuf>, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let started = Instant::now();
    // Production is refused however it is said: the environment, or the
    // `tikethet.toml` (or `$TIKETHET_CONFIG`) that `serve` would read here.
    let configured = Sources::from_process().context("failed to read the configuration the demo checks for production")?;
    if refused_here(&configured) {
        bail!(
            "tikethet demo is refused with TIKETHET_ENV=production: it makes up its secrets and talks to a built-in Telegram stand-in instead of Telegram. Run `tikethet serve` in production."
        );
    }
    let dir = prepare_dir(dir)?;
    let fake = FakeTelegram::start_on("127.0.0.1:0").await.context("failed to start the built-in Telegram stand-in")?;
    // The demo serves plain HTTP on loopback; Telegram itself would refuse
    // such a webhook.
    fake.allow_insecure_webhooks(true);
    fake.allow_insecure_web_apps(true);
    for d in &DESKS {
        fake.add_bot(d.bot_token, d.bot_username);
        // They have all talked to the bot before (a bot cannot write first).
        for id in [d.owner.id, d.customer.id].into_iter().chain(seed::staff_ids(d)) {
            fake.start_chat(d.bot_token, id);
        }
    }
    fake.add_bot(SIGNUP.bot_token, SIGNUP.bot_username);
    fake.start_chat(SIGNUP.bot_token, SIGNUP.customer.id);
    let listen = std::env::var("TIKETHET_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let mut m: HashMap<String, String> = HashMap::new();
    m.insert("TIKETHET_DATABASE_URL".into(), format!("sqlite://{}", dir.join("tikethet.db").display()));
    m.insert("TIKETHET_DATA_DIR".into(), dir.display().to_string());
    m.insert("TIKETHET_TELEGRAM_API_URL".into(), fake.url.clone());
    m.insert("TIKETHET_LISTEN".into(), listen.clone());
    m.insert("TIKETHET_PUBLIC_URL".into(), format!("http://{listen}"));
    m.insert("TIKETHET_OPERATOR_TOKEN".into(), format!("demo-{}", hex::encode(rand::random::<[u8; 16]>())));
    m.insert("TIKETHET_MASTER_KEY".into(), base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()));
    m.insert("TIKETHET_JWT_SECRET".into(), hex::encode(rand::random::<[u8; 32]>()));
    // A desk of the visitor's own, from /signup (see `SIGNUP`).
    m.insert("TIKETHET_SIGNUP".into(), "open".into());
    let mut settings = Settings::load(&Sources::from_map(m)).context("demo settings")?;
    settings.mini_app_over_http = true;
    let app = Application::build(settings).await.with_context(|| format!("failed to start the demo server on {listen} (TIKETHET_LISTEN picks another address)"))?;
    let state = app.state().clone();
    let base = state.settings.public_url.to_string().trim_end_matches('/').to_owned();
    let _ = state.demo.set(std::sync::Arc::new(Demo { fake: fake.clone(), chats: chat::Chats::default() }));
    let serving = tokio::spawn(app.run_until(shutdown));

    for d in &DESKS {
        let new = NewTenant {
            slug: TenantSlug::parse(d.slug).map_err(|e| anyhow::anyhow!("{e}"))?,
            name: d.name.to_owned(),
            bot_token: BotToken::parse(d.bot_token).map_err(|e| anyhow::anyhow!("{e}"))?,
            owner_telegram_id: TelegramUserId::parse(d.owner.id).map_err(|e| anyhow::anyhow!("{e}"))?,
            plan: Some(d.plan.to_owned()),
            theme: Theme::parse(d.theme).map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let record = state.control.create(new).await.with_context(|| format!("failed to provision the demo desk {}", d.slug))?;
        seed::seed(&state, &record.id, d).await.with_context(|| format!("failed to give the demo desk {} its past", d.slug))?;
        // A past of billing, so that the operator's MRR chart and the
        // desk's billing page have something to show.
        let path: &[&str] = if d.plan == "pro" { &["starter", "pro"] } else { &["starter"] };
        state.control.seed_demo_billing(&record.id, d.slug, path, 5).await.with_context(|| format!("failed to give the demo desk {} its billing past", d.slug))?;
    }
    println!("TiketHet demo is ready in {:.1} s; its data is in {}", started.elapsed().as_secs_f64(), dir.display());
    println!();
    println!("Start here:  {base}/demo/");
    println!();
    for d in &DESKS {
        println!("{} (@{}, {} theme, {})", d.name, d.bot_username, d.theme, if d.language == "ru" { "Russian" } else { "English" });
        println!("  Chat with the bot as {}:  {base}/demo/chat?desk={}", d.customer.first_name, d.slug);
        println!("  Mini App, as {}:  {base}/demo/app/{}", d.customer.first_name, d.slug);
        println!("  Admin console, as the owner {}:  {base}/demo/console/{}", d.owner.first_name, d.slug);
    }
    println!("A desk of your own:  {base}/signup with the bot token {}, then claim it at {base}/demo/chat?desk=signup", SIGNUP.bot_token);
    println!("Operator's billing dashboard:  {base}/demo/operator");
    println!();
    println!("Ctrl-C stops it; the data stays in {}.", dir.display());
    println!();
    println!("Installing the example plugins ({}) …", plugins::EXAMPLES.join(", "));
    tokio::spawn(plugins::install_all(base.clone()));
    serving.await.context("the demo server stopped")??;
    Ok(())
}

/// A fresh folder, or the one given if it holds no TiketHet data yet (the
/// secrets are made up per run, so an older demo's data could not be read).
fn prepare_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("tikethet-demo-{}-{:04x}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), rand::random::<u16>())),
    };
    if dir.join("tikethet.db").exists() {
        bail!("{} already holds TiketHet data; give the demo an empty or new folder", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    Ok(std::path::absolute(&dir).unwrap_or(dir))
}

/// initData for `who`, signed with the desk's bot token, as Telegram gives
/// a Mini App (fresh: the desk accepts it for a day).
pub fn init_data(d: &Desk, who: Person) -> String {
    let token = BotToken::parse(d.bot_token).expect("the demo tokens are valid");
    let user = serde_json::json!({ "id": who.id, "first_name": who.first_name, "language_code": who.language }).to_string();
    tikethet_runtime::auth::sign_init_data(
        &token,
        &[("auth_date", chrono::Utc::now().timestamp().to_string()), ("query_id", format!("AAHdemo{}", rand::random::<u32>())), ("user", user)],
    )
}

/// `url` opened as Telegram opens a Mini App: launch parameters in the hash.
pub fn with_launch_params(url: &str, d: &Desk, who: Person) -> String {
    let hash: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("tgWebAppData", &init_data(d, who))
        .append_pair("tgWebAppVersion", "8.0")
        .append_pair("tgWebAppPlatform", "tdesktop")
        .append_pair("tgWebAppThemeParams", "{}")
        .finish();
    format!("{}#{hash}", url.split('#').next().unwrap_or(url))
}

/// Signs `who` in to the desk's API with initData, as the Mini App does;
/// returns the access token.
pub async fn sign_in(http: &reqwest::Client, base: &str, d: &Desk, who: Person) -> anyhow::Result<String> {
    let res = http.post(format!("{base}/t/{}/api/v1/auth/telegram", d.slug)).json(&serde_json::json!({ "init_data": init_data(d, who) })).send().await?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    Ok(body["access_token"].as_str().with_context(|| format!("signing {} in answered {status}: {body}", who.first_name))?.to_owned())
}
