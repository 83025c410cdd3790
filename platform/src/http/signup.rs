//! Signup's doors: `POST /api/v1/signup` (JSON, in the OpenAPI document)
//! and the `/signup` page (a server-rendered form that posts to itself, so
//! it works without JavaScript; English and Russian). Both count against
//! the signup limits (per client address and in total) before anything is
//! checked, and both call [`ControlPlane::signup`](crate::control::ControlPlane::signup).

use chrono::{DateTime, Utc};
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Request, Response, handler};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde::{Deserialize, Serialize};
use tikethet_runtime::domain::{BotToken, TenantSlug};

use super::error::ApiError;
use super::web;
use crate::AppState;
use crate::config::Signup as SignupMode;
use crate::control::parse_name;
use crate::control::signup::{Language, NewSignup, Opened, SignupError};

#[derive(Tags)]
enum Tag {
    /// Opening a desk without the operator.
    Signup,
}

#[derive(Debug, Object)]
pub struct SignupRequest {
    /// The desk's name, 1-200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// The bot token from @BotFather (`<bot id>:<secret>`); checked with
    /// `getMe`, stored encrypted, never returned.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub bot_token: String,
    /// The desk's address (`/t/{slug}/`): 3-40 lowercase letters, digits
    /// and single hyphens, starting with a letter. Made from the name when
    /// left out.
    #[oai(validator(min_length = 1, max_length = 40))]
    pub slug: Option<String>,
    /// `en` (default) or `ru`: the language the bot first speaks.
    pub language: Option<String>,
    /// An invitation code from the operator (`TIKETHET_SIGNUP=invite`).
    #[oai(validator(max_length = 64))]
    pub invite: Option<String>,
}

#[derive(Debug, Object)]
pub struct SignupAnswer {
    pub slug: String,
    pub bot_username: String,
    /// Open it in Telegram (`/start {code}` to the bot) to become the
    /// desk's owner; the bot answers with the console sign-in link.
    pub claim_link: String,
    /// When the claim link stops working; the desk is removed 24 hours
    /// after signup unless claimed.
    pub expires_at: DateTime<Utc>,
    /// The plan the desk is on.
    pub plan: String,
    /// Days of trial on `plan`, counted from the claim (`null`: no trial).
    #[oai(nullable)]
    pub trial_days: Option<u32>,
}

impl From<Opened> for SignupAnswer {
    fn from(o: Opened) -> Self {
        SignupAnswer { slug: o.slug, bot_username: o.bot_username, claim_link: o.claim_link, expires_at: o.expires_at, plan: o.plan, trial_days: o.trial_days }
    }
}

#[derive(ApiResponse)]
pub enum SignedUp {
    /// The desk is open and waits for its claim.
    #[oai(status = 201)]
    Created(Json<SignupAnswer>),
}

pub struct SignupApi {
    pub state: AppState,
}

/// Validates what was sent, once, at the door.
fn new_signup(name: &str, token: &str, slug: Option<&str>, language: Option<&str>, invite: Option<&str>) -> Result<NewSignup, SignupError> {
    let some = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    Ok(NewSignup {
        name: parse_name(name)?,
        bot_token: BotToken::parse(token)?,
        slug: some(slug).map(|s| TenantSlug::parse(&s)).transpose()?,
        language: some(language).map(|l| Language::parse(&l)).transpose()?.unwrap_or(Language::EN),
        invite: some(invite),
    })
}

async fn sign_up(state: &AppState, req: &Request, new: impl FnOnce() -> Result<NewSignup, SignupError>) -> Result<Opened, SignupError> {
    if state.settings.signup == SignupMode::Off {
        return Err(SignupError::Closed);
    }
    // Counted before anything is checked or asked of Telegram.
    state.runtime.throttle_signup(super::limits::client_ip(req)).await.map_err(|e| match e {
        tikethet_runtime::RuntimeError::RateLimited { retry_after } => SignupError::RateLimited(retry_after),
        other => SignupError::Internal(other.into()),
    })?;
    state.control.signup(state.settings.signup, new()?).await
}

#[OpenApi(tag = "Tag::Signup")]
impl SignupApi {
    /// Open a desk: checks the bot token with Telegram, provisions the desk
    /// on the trial plan, unclaimed, and answers with its claim link.
    /// `422 bot_token_invalid`, `409 bot_taken`, `409 slug_taken`,
    /// `403 signup_closed` or `invite_invalid`, `429` past the limits.
    #[oai(path = "/api/v1/signup", method = "post")]
    async fn signup(&self, req: &Request, body: Json<SignupRequest>) -> Result<SignedUp, ApiError> {
        let b = body.0;
        let opened = sign_up(&self.state, req, || new_signup(&b.name, &b.bot_token, b.slug.as_deref(), b.language.as_deref(), b.invite.as_deref())).await?;
        Ok(SignedUp::Created(Json(opened.into())))
    }
}

/// What the page's form posts.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct SignupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    bot_token: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    invite: String,
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// The page's language: `?lang=`, else the browser's first of ours.
fn page_language(req: &Request) -> Language {
    if let Some(l) = req.params::<LangQuery>().ok().and_then(|q| q.lang).and_then(|l| Language::parse(&l).ok()) {
        return l;
    }
    let accepted = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Language::parse(tikethet_themes::miniapp::language(accepted)).unwrap_or(Language::EN)
}

/// The page's words.
fn words(lang: Language) -> serde_json::Value {
    // The page itself speaks English and Russian; a desk may start in any
    // built-in language (the select below).
    match lang.as_str() {
        "ru" => ru_words(),
        _ => serde_json::json!({
            "lang": "en", "other": "ru", "other_name": "Русский",
            "title": "Open your support desk",
            "lead": "A help desk in your Telegram bot: tickets, a Mini App for your customers and a console for your team. Free to try.",
            "name": "Desk name", "name_hint": "Your customers see it, e.g. “Acme Support”.",
            "token": "Bot token", "token_hint": "In Telegram, open @BotFather, send /newbot, follow its steps and paste the token it gives you. Use a bot that serves no other desk.",
            "slug": "Address (optional)", "slug_hint": "3 to 40 lowercase letters, digits and hyphens. Made from the name if left empty.",
            "language": "Language of the bot's first words",
            "invite": "Invitation code", "invite_hint": "Signups here are by invitation: the operator gave you a code.",
            "submit": "Open my desk",
            "closed_title": "Signups are closed", "closed": "Desks on this platform are opened by its operator. Ask them for one.",
            "claim_title": "Now claim your desk",
            "claim_lead": "Open the link in Telegram on the account that should own the desk and press Start. The bot answers with your console sign-in link.",
            "claim_button": "Open @{bot} in Telegram", "claim_qr": "Or scan this code with your phone's camera.",
            "claim_expires": "The link works for 30 minutes, until {at} UTC. A desk nobody claims is removed after 24 hours; signing up again with the same bot gives a new link.",
            "trial": "Your desk starts on a {days}-day trial of the {plan} plan from the moment you claim it.",
            "address": "Its address:",
            "working": "Opening your desk… this takes a few seconds.",
        }),
    }
}

fn ru_words() -> serde_json::Value {
    serde_json::json!({
            "lang": "ru", "other": "en", "other_name": "English",
            "title": "Откройте свою службу поддержки",
            "lead": "Служба поддержки в вашем Telegram-боте: обращения, мини-приложение для клиентов и консоль для команды. Попробовать можно бесплатно.",
            "name": "Название", "name_hint": "Его видят клиенты, например «Поддержка Acme».",
            "token": "Токен бота", "token_hint": "Откройте в Telegram @BotFather, отправьте /newbot, пройдите шаги и вставьте выданный токен. Бот не должен обслуживать другую службу.",
            "slug": "Адрес (необязательно)", "slug_hint": "От 3 до 40 строчных латинских букв, цифр и дефисов. Если оставить пустым, будет сделан из названия.",
            "language": "Язык первых сообщений бота",
            "invite": "Код приглашения", "invite_hint": "Регистрация здесь по приглашениям: код выдаёт оператор.",
            "submit": "Открыть службу",
            "closed_title": "Регистрация закрыта", "closed": "Службы на этой платформе открывает её оператор. Обратитесь к нему.",
            "claim_title": "Теперь закрепите службу за собой",
            "claim_lead": "Откройте ссылку в Telegram с того аккаунта, который будет владельцем, и нажмите «Запустить». Бот пришлёт ссылку для входа в консоль.",
            "claim_button": "Открыть @{bot} в Telegram", "claim_qr": "Или отсканируйте код камерой телефона.",
            "claim_expires": "Ссылка работает 30 минут, до {at} UTC. Незакреплённая служба удаляется через 24 часа; повторная регистрация с тем же ботом даст новую ссылку.",
            "trial": "С момента закрепления у службы {days} дней пробного периода на тарифе {plan}.",
            "address": "Её адрес:",
            "working": "Открываем службу… это займёт несколько секунд.",
        })
}

/// The signup pages, parsed once.
fn pages() -> &'static tikethet_themes::pages::PageSet {
    static PAGES: std::sync::OnceLock<tikethet_themes::pages::PageSet> = std::sync::OnceLock::new();
    PAGES.get_or_init(|| tikethet_themes::pages::PageSet::new(&[("signup.html", include_str!("templates/signup.html"))], env!("CARGO_PKG_VERSION")))
}

#[derive(Serialize)]
struct View<'a> {
    t: serde_json::Value,
    /// The languages a desk may start in: code and own name.
    languages: &'static [(&'static str, &'static str)],
    mode: &'static str,
    form: &'a SignupForm,
    error: Option<String>,
    base: String,
    opened: Option<OpenedView>,
}

#[derive(Serialize)]
struct OpenedView {
    link: String,
    bot: String,
    qr_svg: String,
    expires: String,
    address: String,
    plan: String,
    trial_days: Option<u32>,
}

fn qr_svg(link: &str) -> String {
    match qrcode::QrCode::new(link.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(220, 220).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

fn render(state: &AppState, lang: Language, status: StatusCode, form: &SignupForm, error: Option<String>, opened: Option<&Opened>) -> Response {
    let base = state.settings.public_url.as_str().trim_end_matches('/').to_owned();
    let opened = opened.map(|o| OpenedView {
        link: o.claim_link.clone(),
        bot: o.bot_username.clone(),
        qr_svg: qr_svg(&o.claim_link),
        expires: o.expires_at.format("%H:%M").to_string(),
        address: format!("{base}/t/{}/", o.slug),
        plan: state.control.plans().plan(&o.plan).map(|p| p.name.clone()).unwrap_or_else(|_| o.plan.clone()),
        trial_days: o.trial_days,
    });
    let view = View { t: words(lang), languages: tikethet_themes::language::NAMES, mode: state.settings.signup.as_str(), form, error, base, opened };
    web::rendered(status, pages().render("signup.html", view))
}

/// `GET /signup`: the form (or, with signups off, the page that says so).
#[handler]
pub async fn page(req: &Request, Data(state): Data<&AppState>) -> Response {
    render(state, page_language(req), StatusCode::OK, &SignupForm::default(), None, None)
}

/// `POST /signup`: the form, sent. An error shows the form again with what
/// was typed and the reason; success shows the claim link and its QR code.
#[handler]
pub async fn submit(req: &Request, body: poem::Body, Data(state): Data<&AppState>) -> Response {
    let lang = page_language(req);
    let form: SignupForm = match web::posted_anonymously(req, body, web::MAX_FORM).await {
        Ok(f) => f,
        Err(r) => return render(state, lang, r.status(), &SignupForm::default(), Some(r.message()), None),
    };
    let lang = Language::parse(&form.language).unwrap_or(lang);
    let form_lang = if form.language.trim().is_empty() { lang.as_str().to_owned() } else { form.language.clone() };
    let result = sign_up(state, req, || new_signup(&form.name, &form.bot_token, Some(&form.slug), Some(&form_lang), Some(&form.invite))).await;
    match result {
        Ok(opened) => render(state, lang, StatusCode::CREATED, &form, None, Some(&opened)),
        Err(e) => {
            let (status, _) = super::error::signup_kind(&e);
            let mut r = render(state, lang, status, &form, Some(e.to_string()), None);
            if let SignupError::RateLimited(wait) = e {
                if let Ok(v) = header::HeaderValue::from_str(&tikethet_runtime::auth::throttle::retry_secs(wait).to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            r
        }
    }
}
