//! What a desk's customers see, as its admins set it:
//! `/t/{slug}/api/v1/theme`, the theme and its brand over it (colours,
//! corner radius, font, logo), which the Mini App is rendered in (anyone
//! signed in reads it); `/t/{slug}/api/v1/bot-texts`, the desk's own
//! versions of the bot's texts per language (admins).

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tikethet_runtime::domain::Role;
use tikethet_themes::Theme;
use tikethet_themes::branding::{Branding, MAX_LOGO_BYTES, MAX_RADIUS};

use crate::http::error::ApiError;
use super::{Tag, TenantAuth};
use crate::AppState;

/// The desk's look: the built-in theme, the tenant's overrides, and the
/// tokens the pages use (the theme's with the overrides applied).
#[derive(Debug, Object)]
pub struct ThemeView {
    /// The built-in theme: `default`, `midnight` or `sunrise`.
    pub theme: String,
    pub overrides: BrandView,
    pub effective: BrandView,
}

#[derive(Debug, Object)]
pub struct BrandView {
    #[oai(nullable)]
    pub primary_color: Option<String>,
    #[oai(nullable)]
    pub accent_color: Option<String>,
    #[oai(nullable)]
    pub radius: Option<u8>,
    #[oai(nullable)]
    pub font: Option<String>,
    #[oai(nullable)]
    pub logo: Option<String>,
}

/// Replaces the brand: an absent or null field keeps the theme's own value.
#[derive(Debug, Object)]
pub struct ThemeInput {
    /// A built-in theme to switch to; absent keeps the current one.
    #[oai(validator(pattern = "^(default|midnight|sunrise)$"))]
    pub theme: Option<String>,
    /// `#rrggbb`.
    #[oai(validator(pattern = "^#[0-9a-fA-F]{6}$"))]
    pub primary_color: Option<String>,
    /// `#rrggbb`.
    #[oai(validator(pattern = "^#[0-9a-fA-F]{6}$"))]
    pub accent_color: Option<String>,
    /// Corner radius in CSS pixels, 0 to 32.
    #[oai(validator(minimum(value = "0"), maximum(value = "32")))]
    pub radius: Option<u8>,
    /// A CSS font family list: letters, digits, spaces, commas, hyphens and
    /// quotes, at most 100 characters.
    #[oai(validator(min_length = 1, max_length = 100, pattern = r#"^[\p{L}\p{N} ,'"-]+$"#))]
    pub font: Option<String>,
    /// `data:image/png|jpeg|webp;base64,…`, at most 32 KiB decoded; the
    /// type is judged from the bytes.
    #[oai(validator(max_length = 44000, pattern = "^data:image/(png|jpeg|webp);base64,"))]
    pub logo: Option<String>,
}

fn view(theme: Theme, brand: &Branding) -> ThemeView {
    let t = theme.tokens(brand);
    ThemeView {
        theme: theme.name.to_owned(),
        overrides: BrandView {
            primary_color: brand.primary_color.clone(),
            accent_color: brand.accent_color.clone(),
            radius: brand.radius,
            font: brand.font.clone(),
            logo: brand.logo.clone(),
        },
        effective: BrandView {
            primary_color: Some(t.primary_color),
            accent_color: Some(t.accent_color),
            radius: Some(t.radius),
            font: Some(t.font).filter(|f| !f.is_empty()),
            logo: t.logo,
        },
    }
}

/// The desk's own bot texts by language and name, e.g.
/// `{"ru": {"welcome": "Привет, {{ first_name }}!"}}`; other texts are the
/// built-in ones. Templates are minijinja; `desk` and `theme` are always
/// there, and each text has its own values (`first_name` in `welcome`,
/// `number` and `title` in `ticket_opened`, …, as in `built_in`).
#[derive(Debug, Object)]
pub struct BotTextsView {
    pub texts: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The built-in templates, by language and name, for reference.
    pub built_in: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The desk's own texts that recently gave way to the built-in ones
    /// when sent (newest first; kept by the serving process since its start
    /// and cleared when the texts are saved again).
    pub recent_fallbacks: Vec<TextFallbackView>,
}

/// A desk's own text that was not sent, and why (the built-in one was).
#[derive(Debug, Object)]
pub struct TextFallbackView {
    pub language: String,
    pub text: String,
    /// `text_too_long` (rendered past 12,288 UTF-16 units), or `text_invalid`.
    pub code: String,
    pub reason: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Object)]
pub struct BotTextsInput {
    /// Replaces all of the desk's own texts; `{}` goes back to the built-in ones.
    pub texts: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

fn texts_view(state: &AppState, tenant: &tikethet_runtime::domain::TenantId, texts: &tikethet_themes::BotTexts) -> BotTextsView {
    let r = &state.runtime.renderer();
    let built_in = tikethet_themes::language::BUILT_IN
        .iter()
        .map(|lang| {
            let by_name = tikethet_themes::BotText::ALL.iter().filter_map(|t| Some((t.name().to_owned(), r.built_in_text(lang, *t)?.to_owned()))).collect();
            ((*lang).to_owned(), by_name)
        })
        .collect();
    let recent_fallbacks = state
        .runtime
        .text_fallbacks(tenant)
        .into_iter()
        .map(|f| TextFallbackView { language: f.language.to_owned(), text: f.text.to_owned(), code: f.code.to_owned(), reason: f.reason, at: f.at })
        .collect();
    BotTextsView { texts: texts.0.clone(), built_in, recent_fallbacks }
}

/// A language the desk speaks.
#[derive(Debug, Object)]
pub struct LanguageView {
    /// BCP 47 tag (`en`, `es-MX`).
    pub code: String,
    /// Its own name, for a built-in language.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Built into the platform: every text exists in it.
    pub built_in: bool,
    /// How many texts the desk wrote in it (the rest come from the
    /// built-in language of the same code, else the default language).
    pub own_texts: u32,
    pub default: bool,
}

/// The languages the bot speaks for this desk.
#[derive(Debug, Object)]
pub struct LanguagesView {
    /// What a customer whose language the desk does not speak gets.
    pub default_language: String,
    pub languages: Vec<LanguageView>,
}

/// The desk's default language.
#[derive(Debug, Object)]
pub struct LanguagesInput {
    /// A built-in language or one the desk has texts in (see `PUT bot-texts`).
    pub default_language: String,
}

pub(crate) fn languages_view(info: &tikethet_runtime::storage::tenant::TenantInfo) -> LanguagesView {
    let mut languages: Vec<LanguageView> = tikethet_themes::language::NAMES
        .iter()
        .map(|(code, name)| LanguageView { code: (*code).to_owned(), name: Some((*name).to_owned()), built_in: true, own_texts: 0, default: false })
        .collect();
    for (code, texts) in &info.bot_texts.0 {
        match languages.iter_mut().find(|l| &l.code == code) {
            Some(l) => l.own_texts = texts.len() as u32,
            None => languages.push(LanguageView { code: code.clone(), name: None, built_in: false, own_texts: texts.len() as u32, default: false }),
        }
    }
    for l in &mut languages {
        l.default = l.code == info.default_language;
    }
    LanguagesView { default_language: info.default_language.clone(), languages }
}

pub struct ThemeApi {
    pub state: AppState,
}

#[OpenApi]
impl ThemeApi {
    /// The desk's theme and brand
    #[oai(path = "/t/:slug/api/v1/theme", method = "get", tag = "Tag::Theme")]
    async fn theme(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<ThemeView>, ApiError> {
        let ctx = auth.0;
        Ok(Json(view(ctx.tenant().theme, &ctx.tenant().branding)))
    }

    /// Set the desk's theme and brand (admins)
    ///
    /// Replaces the whole brand; the Mini App shows it on its next load, on
    /// every node within a few seconds.
    #[oai(path = "/t/:slug/api/v1/theme", method = "put", tag = "Tag::Theme")]
    async fn set_theme(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<ThemeInput>) -> Result<Json<ThemeView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let b = body.0;
        let theme = b.theme.as_deref().map(Theme::parse).transpose().map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
        let branding = Branding { primary_color: b.primary_color, accent_color: b.accent_color, radius: b.radius, font: b.font, logo: b.logo }
            .validated()
            .map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
        let info = self.state.control.set_theme(ctx.tenant().slug.as_str(), theme, &branding).await?;
        crate::http::recorded::by_staff(&ctx, "theme.changed", crate::http::recorded::theme(ctx.tenant(), &info)).await;
        Ok(Json(view(info.theme, &info.branding)))
    }

    /// The desk's own bot texts (admins)
    #[oai(path = "/t/:slug/api/v1/bot-texts", method = "get", tag = "Tag::Theme")]
    async fn bot_texts(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<BotTextsView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(texts_view(&self.state, &ctx.tenant().id, &ctx.tenant().bot_texts)))
    }

    /// Set the desk's own bot texts (admins)
    ///
    /// Each text must be a known text under a language tag (BCP 47: a
    /// built-in language, `en`, `ru`, `uk`, `es`, or any other, which makes
    /// a language of the desk's own), at most 4,000 characters, written in
    /// Fluent (`{ $first_name }`, `{ $count -> [one] … *[other] … }`) or,
    /// as before, in the small template language the README describes (no
    /// `*`, `+`, `~`, macros or capturing blocks), and
    /// render (within the template fuel, and to at most 12,288 UTF-16 units:
    /// three Telegram messages) to something with that text's values;
    /// otherwise 400 names it (`text_too_long`, `text_construct_not_allowed`,
    /// `text_invalid` or `invalid_request`), and nothing changes.
    #[oai(path = "/t/:slug/api/v1/bot-texts", method = "put", tag = "Tag::Theme")]
    async fn set_bot_texts(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<BotTextsInput>) -> Result<Json<BotTextsView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let texts = self
            .state
            .runtime
            .renderer()
            .check_texts(tikethet_themes::BotTexts(body.0.texts))
            .map_err(|why| ApiError::bad_request(why.code, format!("texts.{}", why.message)))?;
        let info = self.state.control.set_bot_texts(ctx.tenant().slug.as_str(), &texts).await?;
        crate::http::recorded::by_staff(&ctx, "bot_texts.changed", crate::http::recorded::bot_texts(&ctx.tenant().bot_texts, &info.bot_texts)).await;
        self.state.runtime.clear_text_fallbacks(&info.id);
        Ok(Json(texts_view(&self.state, &info.id, &info.bot_texts)))
    }

    /// The languages the bot speaks (staff)
    ///
    /// The built-in ones and those the desk wrote texts in, with its
    /// default: what a customer whose Telegram language the desk does not
    /// speak (or who has none) is answered in.
    #[oai(path = "/t/:slug/api/v1/languages", method = "get", tag = "Tag::Theme")]
    async fn languages(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<LanguagesView>, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        Ok(Json(languages_view(ctx.tenant())))
    }

    /// Choose the desk's default language (admins)
    ///
    /// A built-in language or one the desk has texts in; 400 names any other.
    #[oai(path = "/t/:slug/api/v1/languages", method = "put", tag = "Tag::Theme")]
    async fn set_languages(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<LanguagesInput>) -> Result<Json<LanguagesView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let before = ctx.tenant().default_language.clone();
        let info = self.state.control.set_default_language(ctx.tenant().slug.as_str(), &body.0.default_language).await?;
        if before != info.default_language {
            crate::http::recorded::by_staff(&ctx, "language.changed", format!("default language {before} → {}", info.default_language)).await;
        }
        Ok(Json(languages_view(&info)))
    }
}

// The document's limits and the checks of `tikethet_themes::branding` agree.
const _: () = assert!(MAX_RADIUS == 32 && MAX_LOGO_BYTES == 32 * 1024);
