//! Themes: the templates and design tokens that make a tenant's desk its own.
//!
//! Owns the minijinja environment with the built-in templates (bot texts
//! today; Mini App and console pages as they arrive) and the catalogue of
//! named themes. Rendering runs with fuel so that a template can never spin,
//! and a tenant's own texts are held to the bounds of [`bounded`] (a small
//! template language, a capped output); nothing here touches a database or
//! the network.

use std::sync::Arc;

use minijinja::{Environment, Value};

pub mod bounded;
pub mod branding;
pub mod chart;
pub mod language;
pub mod pages;
pub mod miniapp;
use serde::Serialize;

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The theme name is not one of [`THEMES`].
    #[error("unknown theme {0:?}; known themes: {known}", known = THEMES.iter().map(|t| t.name).collect::<Vec<_>>().join(", "))]
    UnknownTheme(String),
    /// A built-in text failed to render in Fluent (a bug in a text).
    #[error("failed to render the bot text {name} in {lang}: {why}")]
    Text { name: &'static str, lang: String, why: String },
    /// The template failed to render (a bug in a template, or it ran out of fuel).
    #[error("failed to render template {name}: {source}")]
    Render {
        name: &'static str,
        #[source]
        source: minijinja::Error,
    },
}

/// Design tokens of one theme: what the Mini App and console style with, and
/// the voice the bot speaks in.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Theme {
    pub name: &'static str,
    pub primary_color: &'static str,
    pub accent_color: &'static str,
    pub greeting_emoji: &'static str,
    /// Corner radius of cards and buttons, in CSS pixels.
    pub radius: u8,
    /// CSS font family; empty keeps the platform's (Telegram's) own.
    pub font: &'static str,
}

/// Built-in themes. The first one is the default.
pub const THEMES: &[Theme] = &[
    Theme {
        name: "default",
        primary_color: "#2481cc",
        accent_color: "#31b545",
        greeting_emoji: "👋",
        radius: 12,
        font: "",
    },
    Theme {
        name: "midnight",
        primary_color: "#1f2937",
        accent_color: "#f59e0b",
        greeting_emoji: "🌙",
        radius: 6,
        font: "",
    },
    Theme {
        name: "sunrise",
        primary_color: "#e8590c",
        accent_color: "#2b8a3e",
        greeting_emoji: "🌅",
        radius: 18,
        font: "Georgia, 'Times New Roman', serif",
    },
];

impl Theme {
    /// Finds a built-in theme by name.
    pub fn parse(name: &str) -> Result<Theme, ThemeError> {
        THEMES
            .iter()
            .find(|t| t.name == name)
            .copied()
            .ok_or_else(|| ThemeError::UnknownTheme(name.to_owned()))
    }

    pub fn default_theme() -> Theme {
        THEMES[0]
    }
}

/// The bot's texts, one template each per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotText {
    Welcome,
    Help,
    Suspended,
    /// A message that would open a ticket over the plan's monthly limit:
    /// kept, and handled once the limit lifts.
    OverLimit,
    TicketOpened,
    MessageAdded,
    StaffReply,
    Unsupported,
    /// `/tickets` when the Mini App opens from a button (an https desk).
    Tickets,
    /// `/tickets` when it cannot (`url`: the page, for a browser).
    TicketsLink,
    /// `/status` with `tickets: [{number, title, status}]`.
    Status,
    StatusEmpty,
    /// `/support`: the category buttons follow.
    SupportChoose,
    /// `/support`, next step (`category`: the chosen one's name, if any).
    SupportDescribe,
    /// The `/support` button for no particular category.
    SupportOther,
    /// The button under a notification that opens its ticket (`number`).
    ButtonOpenTicket,
    /// A press on a button whose question was answered or has gone (shown
    /// over the chat; at most 200 characters).
    ButtonStale,
    ButtonOpenApp,
    /// The chat's menu button, set at provisioning.
    MenuButton,
    /// `/admin` from staff: a one-time console sign-in link (`url`).
    AdminLink,
    /// The button under it that opens the link.
    ButtonOpenConsole,
    /// To staff: a new ticket (`number`, `title`, `customer`, `link` when there is no button).
    NotifyNewTicket,
    /// To the assignee (`number`, `title`, `by`, `link`).
    NotifyAssigned,
    /// To the assignee: the customer wrote (`number`, `title`, `customer`, `text`, `link`).
    NotifyCustomerMessage,
    /// To a staff member @mentioned in a note (`number`, `title`, `author`, `text`, `link`).
    NotifyMention,
    /// To the assignee (or the moderators): a plugin's reminder (`number`, `title`, `text`, `link`).
    NotifyReminder,
    /// To the customer: their ticket's status changed (`number`, `title`, `status`).
    NotifyStatus,
    /// The button under a staff notification that opens the ticket in the console.
    ButtonOpenInConsole,
    /// To staff: a service-level target nears (`kind`: `first_response` or `resolution`; `number`, `title`, `due`, `link`).
    SlaReminder,
    /// To admins: a target was missed (`kind`, `number`, `title`, `due`, `link`).
    SlaBreach,
    /// To the customer of a resolved ticket, above the rating buttons (`number`, `title`).
    CsatAsk,
    /// After a rating (`number`, `rating`): a comment may follow.
    CsatThanks,
    /// After the rating's comment.
    CsatCommentThanks,
    /// `/skip` instead of the rating's comment.
    CsatSkipped,
    /// `/stats` for staff (`open`, `in_progress`, `waiting`, `created_7d`,
    /// `resolved_7d`, `first_response`, `csat`).
    StaffStats,
    /// `/role @username ROLE` (`ok`, `username`, `role`, `reason`).
    RoleChanged,
    /// In the staff group after `/staffgroup` (`outcome`: `linked`, `unlinked`, `not_forum`, `not_admin`, `not_linked`; `desk`).
    StaffGroup,
    /// First post in a ticket's forum topic (`number`, `title`, `customer`, `username`, `text`, `link`).
    TopicOpened,
    /// The customer's message, in its ticket's topic (`customer`, `text`).
    TopicCustomerMessage,
    /// A reply or note written elsewhere, in the ticket's topic (`author`, `text`, `note`).
    TopicStaffMessage,
    /// In a topic: a staff reply written there was not sent (`reason`).
    TopicRefused,
    /// `/resolve` or `/assign @username` in a ticket's topic (`outcome`:
    /// `resolved` or `assigned` with `author` and `assignee`; `refused`
    /// with `reason`).
    TopicCommand,
    /// `/broadcast TEXT`: the preview above the confirmation buttons (`count`, `text`).
    BroadcastConfirm,
    /// The button that confirms a broadcast (`count`).
    ButtonBroadcastSend,
    /// The button that drops a broadcast's draft.
    ButtonBroadcastCancel,
    /// `/broadcast` answers (`outcome`: `usage`, `too_long`, `nobody`, `busy`, `started`,
    /// `progress`, `cancelled`, `expired`, `stopped`, `over_limit`, `none`; `number`, `total`, `done`,
    /// `sent`, `failed`, `minutes`, `dropped`, `limit`, `length`, `reason`).
    BroadcastStatus,
    /// To the broadcast's author at the end (`number`, `total`, `sent`, `failed`, `unconfirmed`).
    BroadcastReport,
    /// A desk opened through signup and its claim code (`outcome`:
    /// `claimed` with `url`, the console sign-in link; `taken`; `wrong`;
    /// `expired`; `unclaimed`, any other message before the claim; `signup`,
    /// the signup page's address).
    Claim,
    /// To the owner about the desk's trial (`outcome`: `ending` with `days`
    /// and `date`; `ended`; `plan`, the trial's plan; `fallback`, the plan
    /// it falls to).
    Trial,
    /// To the owner about the desk's own domain (`outcome`: `failing` with
    /// `checks_left`, the daily checks left before it stops being routed;
    /// `removed`, no longer routed after failed checks; `restored`, its
    /// record holds again; `revoked`, by the platform's operator; `domain`,
    /// `record`, the TXT record's name).
    Domain,
}

impl BotText {
    pub const ALL: &[BotText] = &[
        BotText::Welcome,
        BotText::Help,
        BotText::Suspended,
        BotText::OverLimit,
        BotText::TicketOpened,
        BotText::MessageAdded,
        BotText::StaffReply,
        BotText::Unsupported,
        BotText::Tickets,
        BotText::TicketsLink,
        BotText::Status,
        BotText::StatusEmpty,
        BotText::SupportChoose,
        BotText::SupportDescribe,
        BotText::SupportOther,
        BotText::ButtonOpenTicket,
        BotText::ButtonStale,
        BotText::ButtonOpenApp,
        BotText::MenuButton,
        BotText::AdminLink,
        BotText::ButtonOpenConsole,
        BotText::NotifyNewTicket,
        BotText::NotifyAssigned,
        BotText::NotifyCustomerMessage,
        BotText::NotifyMention,
        BotText::NotifyReminder,
        BotText::NotifyStatus,
        BotText::ButtonOpenInConsole,
        BotText::SlaReminder,
        BotText::SlaBreach,
        BotText::CsatAsk,
        BotText::CsatThanks,
        BotText::CsatCommentThanks,
        BotText::CsatSkipped,
        BotText::StaffStats,
        BotText::RoleChanged,
        BotText::StaffGroup,
        BotText::TopicOpened,
        BotText::TopicCustomerMessage,
        BotText::TopicStaffMessage,
        BotText::TopicRefused,
        BotText::TopicCommand,
        BotText::BroadcastConfirm,
        BotText::ButtonBroadcastSend,
        BotText::ButtonBroadcastCancel,
        BotText::BroadcastStatus,
        BotText::BroadcastReport,
        BotText::Claim,
        BotText::Trial,
        BotText::Domain,
    ];

    fn file(self) -> &'static str {
        match self {
            BotText::Welcome => "welcome",
            BotText::Help => "help",
            BotText::Suspended => "suspended",
            BotText::OverLimit => "over_limit",
            BotText::TicketOpened => "ticket_opened",
            BotText::MessageAdded => "message_added",
            BotText::StaffReply => "staff_reply",
            BotText::Unsupported => "unsupported",
            BotText::Tickets => "tickets",
            BotText::TicketsLink => "tickets_link",
            BotText::Status => "status",
            BotText::StatusEmpty => "status_empty",
            BotText::SupportChoose => "support_choose",
            BotText::SupportDescribe => "support_describe",
            BotText::SupportOther => "support_other",
            BotText::ButtonOpenTicket => "button_open_ticket",
            BotText::ButtonStale => "button_stale",
            BotText::ButtonOpenApp => "button_open_app",
            BotText::MenuButton => "menu_button",
            BotText::AdminLink => "admin_link",
            BotText::ButtonOpenConsole => "button_open_console",
            BotText::NotifyNewTicket => "notify_new_ticket",
            BotText::NotifyAssigned => "notify_assigned",
            BotText::NotifyCustomerMessage => "notify_customer_message",
            BotText::NotifyMention => "notify_mention",
            BotText::NotifyReminder => "notify_reminder",
            BotText::NotifyStatus => "notify_status",
            BotText::ButtonOpenInConsole => "button_open_in_console",
            BotText::SlaReminder => "sla_reminder",
            BotText::SlaBreach => "sla_breach",
            BotText::CsatAsk => "csat_ask",
            BotText::CsatThanks => "csat_thanks",
            BotText::CsatCommentThanks => "csat_comment_thanks",
            BotText::CsatSkipped => "csat_skipped",
            BotText::StaffStats => "staff_stats",
            BotText::RoleChanged => "role_changed",
            BotText::StaffGroup => "staff_group",
            BotText::TopicOpened => "topic_opened",
            BotText::TopicCustomerMessage => "topic_customer_message",
            BotText::TopicStaffMessage => "topic_staff_message",
            BotText::TopicRefused => "topic_refused",
            BotText::TopicCommand => "topic_command",
            BotText::BroadcastConfirm => "broadcast_confirm",
            BotText::ButtonBroadcastSend => "button_broadcast_send",
            BotText::ButtonBroadcastCancel => "button_broadcast_cancel",
            BotText::BroadcastStatus => "broadcast_status",
            BotText::BroadcastReport => "broadcast_report",
            BotText::Claim => "claim",
            BotText::Trial => "trial",
            BotText::Domain => "domain",
        }
    }
}

impl BotText {
    /// The text's name in the API and in overrides (`welcome`, `help`, …).
    pub fn name(self) -> &'static str {
        self.file()
    }

    pub fn from_name(name: &str) -> Option<BotText> {
        BotText::ALL.iter().copied().find(|t| t.file() == name)
    }
}

/// Longest template a tenant may set for one text.
pub const MAX_OVERRIDE_CHARS: usize = 4000;

/// A tenant's own versions of the bot's texts, by language and text name
/// (`{"ru": {"welcome": "…"}}`); the built-in text serves the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct BotTexts(pub std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>);

impl BotTexts {
    fn get(&self, lang: &str, text: BotText) -> Option<&str> {
        self.0.get(lang)?.get(text.name()).map(String::as_str)
    }

    /// Reads stored overrides. They were checked when saved; what they cost
    /// at send time is bounded by [`Renderer::tenant_bot_text`] (which falls
    /// back to the built-in text), so they are not rendered again here, at
    /// every start and sync.
    pub fn from_stored(stored: Option<&str>) -> BotTexts {
        stored.and_then(|s| serde_json::from_str::<BotTexts>(s).ok()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|m| m.is_empty())
    }
}

/// Renders the built-in templates. Cheap to clone.
#[derive(Clone)]
pub struct Renderer {
    pub(crate) env: Arc<Environment<'static>>,
    /// Where tenants' own texts run: see [`bounded`].
    tenant_env: Arc<Environment<'static>>,
}

/// A bot text as rendered for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// Set when the tenant's own text failed or went past its bounds and
    /// the built-in text was sent instead: why, for the desk's admins.
    pub fell_back: Option<TextFallback>,
}

/// A tenant's text that could not be used at send time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFallback {
    /// The language of the desk's text that failed (a BCP 47 tag).
    pub language: String,
    pub text: BotText,
    pub why: bounded::TextLimit,
}

/// Why a tenant's texts were not saved: a code for the API and a message
/// that names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TextsRefused {
    pub code: &'static str,
    pub message: String,
}

impl TextsRefused {
    fn invalid(message: String) -> Self {
        TextsRefused { code: "invalid_request", message }
    }
}

// Templates are tiny; this bounds a runaway loop without limiting real use.
const TEMPLATE_FUEL: u64 = 50_000;

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_fuel(Some(TEMPLATE_FUEL));
        // `.html`: minijinja escapes every value for HTML; `.txt` nothing.
        env.add_template(miniapp::TEMPLATE, include_str!("../miniapp/app.html")).expect("built-in templates are valid");
        Renderer { env: Arc::new(env), tenant_env: Arc::new(bounded::tenant_environment(TEMPLATE_FUEL)) }
    }

    /// Renders one of the bot's texts for a tenant in a customer's language
    /// (their Telegram `language_code`; English when we do not speak it).
    /// `ctx` is merged with `emoji` (the theme's greeting), `theme` (the
    /// tokens) and `desk` (the tenant's display name).
    pub fn bot_text<C: Serialize>(
        &self,
        text: BotText,
        language_code: Option<&str>,
        theme: Theme,
        desk_name: &str,
        ctx: C,
    ) -> Result<String, ThemeError> {
        self.tenant_bot_text(&BotTexts::default(), language::BUILT_IN[0], text, language_code, theme, desk_name, ctx).map(|r| r.text)
    }

    /// Like [`Renderer::bot_text`], for a desk: its own texts and languages
    /// first, then the built-in text. The language is the customer's when
    /// the desk speaks it (its own texts under that tag, or a built-in
    /// language), else the desk's default. A text is looked up in that
    /// language's own texts, the built-in language of the same primary
    /// tag, the default language's own texts, then the built-in default
    /// (English last). A desk's text that fails, or renders past
    /// [`bounded::MAX_TEXT_UTF16`], gives way to the next and
    /// [`Rendered::fell_back`] says why: a customer always gets an answer,
    /// and an update is never failed (and retried) for a tenant's text.
    #[allow(clippy::too_many_arguments)]
    pub fn tenant_bot_text<C: Serialize>(
        &self,
        overrides: &BotTexts,
        default_language: &str,
        text: BotText,
        language_code: Option<&str>,
        theme: Theme,
        desk_name: &str,
        ctx: C,
    ) -> Result<Rendered, ThemeError> {
        let name = text.name();
        let mut values = serde_json::to_value(&ctx).map_err(|e| ThemeError::Text { name, lang: String::new(), why: e.to_string() })?;
        if !values.is_object() {
            values = serde_json::Value::Object(Default::default());
        }
        values["desk"] = desk_name.into();
        values["emoji"] = theme.greeting_emoji.into();
        let lang = language::choose(language_code, overrides.0.keys().map(String::as_str), default_language);
        let mut fell_back = None;
        for (own, l) in lookup_order(&lang, default_language) {
            if own {
                let Some(src) = overrides.get(&l, text) else { continue };
                match self.render_tenant_text(&l, src, theme, &values) {
                    Ok(out) => return Ok(Rendered { text: out.trim().to_owned(), fell_back }),
                    Err(why) => {
                        fell_back.get_or_insert(TextFallback { language: l.clone(), text, why });
                    }
                }
            } else if let Some((out, problem)) = language::built_in(&l, name, &values) {
                // A built-in text that names a value the caller did not
                // give is a bug: loud in debug builds (every test), while
                // a served desk still answers with what rendered.
                if let Some(why) = problem.filter(|_| cfg!(debug_assertions)) {
                    return Err(ThemeError::Text { name, lang: l.clone(), why: why.to_string() });
                }
                return Ok(Rendered { text: out.trim().to_owned(), fell_back });
            }
        }
        Err(ThemeError::Text { name, lang, why: "no language has this text".to_owned() })
    }

    /// A tenant's text: Fluent, or (as written before Fluent) a template
    /// inside the small language; within bounds either way.
    fn render_tenant_text(&self, lang: &str, src: &str, theme: Theme, values: &serde_json::Value) -> Result<String, bounded::TextLimit> {
        if is_template(src) {
            let ctx = minijinja::context! {
                theme => Value::from(minijinja::value::Serde(theme)),
                ..Value::from(minijinja::value::Serde(values))
            };
            return bounded::render(&bounded::compile(&self.tenant_env, src)?, ctx);
        }
        let compiled = language::compile_own(lang, src).map_err(|e| bounded::TextLimit::Failed(e.to_string()))?;
        let out = compiled.render(values).map_err(|e| bounded::TextLimit::Failed(e.to_string()))?;
        if out.encode_utf16().count() > bounded::MAX_TEXT_UTF16 {
            return Err(bounded::TextLimit::TooLong);
        }
        Ok(out)
    }

    /// The built-in source of a text in a built-in language (what a desk's
    /// own text replaces), in Fluent.
    pub fn built_in_text(&self, lang: &str, text: BotText) -> Option<String> {
        language::built_in_source(lang, text.name())
    }


    /// Checks a tenant's texts: known languages and names, at most
    /// [`MAX_OVERRIDE_CHARS`] each, inside the small language of
    /// [`bounded`], and each renders (within fuel and
    /// [`bounded::MAX_TEXT_UTF16`], to something) with the context the bot
    /// gives that text. A text can still grow past the limit for values the
    /// sample does not have; then the built-in text is sent instead.
    pub fn check_texts(&self, texts: BotTexts) -> Result<BotTexts, TextsRefused> {
        let mut checked = BotTexts::default();
        let mut sample = sample_values();
        sample["emoji"] = Theme::default_theme().greeting_emoji.into();
        for (lang, by_name) in texts.0 {
            let tag = language::canonical_tag(&lang).map_err(|e| TextsRefused::invalid(format!("{lang}: {e}")))?;
            for (name, src) in &by_name {
                if let Some(id) = name.strip_prefix(miniapp::APP_PREFIX) {
                    if src.chars().count() > MAX_OVERRIDE_CHARS {
                        return Err(TextsRefused { code: "text_too_long", message: format!("{tag}.{name}: at most {MAX_OVERRIDE_CHARS} characters") });
                    }
                    miniapp::check_text(&tag, id, src).map_err(|why| TextsRefused { code: "text_invalid", message: format!("{tag}.{name}: {why}") })?;
                    continue;
                }
                if BotText::from_name(name).is_none() {
                    return Err(TextsRefused::invalid(format!("{tag}.{name}: unknown text; known: {} (and the Mini App's, as app.{{id}})", BotText::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "))));
                }
                if src.chars().count() > MAX_OVERRIDE_CHARS {
                    return Err(TextsRefused { code: "text_too_long", message: format!("{tag}.{name}: at most {MAX_OVERRIDE_CHARS} characters") });
                }
                match self.render_tenant_text(&tag, src, Theme::default_theme(), &sample) {
                    Ok(out) if !out.trim().is_empty() => {}
                    Ok(_) => return Err(TextsRefused::invalid(format!("{tag}.{name}: renders to nothing"))),
                    Err(why) => return Err(TextsRefused { code: why.code(), message: format!("{tag}.{name}: {why}") }),
                }
            }
            if checked.0.insert(tag.clone(), by_name).is_some() {
                return Err(TextsRefused::invalid(format!("{tag}: given twice (tags are compared in their canonical form)")));
            }
        }
        Ok(checked)
    }
}

/// Whether a desk's text is a template from before Fluent (they keep working).
fn is_template(src: &str) -> bool {
    src.contains("{{") || src.contains("{%")
}

/// Where a text is looked for, in order: `(own, language)`.
fn lookup_order(lang: &str, default_language: &str) -> Vec<(bool, String)> {
    let mut order: Vec<(bool, String)> = Vec::with_capacity(5);
    for (own, l) in [(true, lang.to_owned()), (false, language::primary(lang)), (true, default_language.to_owned()), (false, language::primary(default_language)), (false, language::BUILT_IN[0].to_owned())] {
        if !order.contains(&(own, l.clone())) {
            order.push((own, l));
        }
    }
    order
}

/// Everything the bot passes to any of its texts, with sample values (a
/// desk's own text is checked against these).
pub fn sample_values() -> serde_json::Value {
    serde_json::from_str(SAMPLE_VALUES).expect("the sample is JSON")
}

const SAMPLE_VALUES: &str = r#"{
    "first_name": "Ann", "number": 7, "title": "Lamp", "text": "Hello", "url": "https://example.com/app/",
    "category": "Billing", "outcome": "linked", "count": 3, "total": 5, "done": 1, "sent": 4, "failed": 2, "unconfirmed": 1,
    "minutes": 3, "dropped": 2, "limit": 4096, "length": 5000, "note": false, "author": "Bo", "customer": "Ann", "reason": "limit",
    "username": "ann", "link": "https://example.com/t", "by": "Cy", "status": "resolved", "kind": "first_response", "due": "12:00",
    "open": 1, "in_progress": 2, "waiting": 5, "created_7d": 21, "resolved_7d": 11, "first_response": "5m", "csat": "4.5",
    "ok": true, "role": "agent", "desk": "Desk", "rating": 4, "assignee": "ann", "days": 3, "date": "2026-12-10",
    "plan": "Pro", "fallback": "Free", "signup": "https://example.com/signup", "checks_left": 2, "domain": "help.example.com",
    "record": "_tikethet.help.example.com", "tickets": [{ "number": 7, "title": "Lamp", "status": "waiting_response" }, { "number": 8, "title": "Desk", "status": "open" }]
}"#;


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_theme_is_rejected_with_the_known_names() {
        let err = Theme::parse("neon").unwrap_err().to_string();
        assert!(err.contains("neon") && err.contains("default") && err.contains("midnight"), "{err}");
    }

    #[test]
    fn welcome_names_the_desk_and_the_customer() {
        let r = Renderer::new();
        let text = r
            .bot_text(
                BotText::Welcome,
                None,
                Theme::parse("midnight").unwrap(),
                "Acme Support",
                minijinja::context! { first_name => "Ann" },
            )
            .unwrap();
        assert!(text.contains("Acme Support"), "{text}");
        assert!(text.contains("Ann"), "{text}");
        assert!(text.starts_with("🌙"), "{text}");
    }

    #[test]
    fn staff_reply_quotes_the_ticket_number() {
        let r = Renderer::new();
        let text = r
            .bot_text(
                BotText::StaffReply,
                Some("en-GB"),
                Theme::default_theme(),
                "Acme",
                minijinja::context! { number => 42, text => "Hello <there>" },
            )
            .unwrap();
        assert!(text.contains("#42") && text.contains("Hello <there>"), "{text}");
    }

    #[test]
    fn a_tenants_text_replaces_ours_in_its_language_and_bad_ones_are_refused() {
        let r = Renderer::new();
        let texts = r.check_texts(BotTexts([("ru".to_owned(), [("welcome".to_owned(), "Привет, {{ first_name }}! Это {{ desk }}.".to_owned())].into())].into())).unwrap();
        let ctx = minijinja::context! { first_name => "Ира" };
        assert_eq!(r.tenant_bot_text(&texts, "en", BotText::Welcome, Some("ru"), Theme::default_theme(), "Acme", &ctx).unwrap().text, "Привет, Ира! Это Acme.");
        assert!(r.tenant_bot_text(&texts, "en", BotText::Welcome, Some("en"), Theme::default_theme(), "Acme", &ctx).unwrap().text.starts_with("👋 Hi Ира"));
        let one = |lang: &str, name: &str, src: &str| BotTexts([(lang.to_owned(), [(name.to_owned(), src.to_owned())].into())].into());
        assert!(r.check_texts(one("not a tag", "welcome", "Hallo")).unwrap_err().message.contains("not a language tag"));
        assert!(r.check_texts(one("en", "farewell", "Bye")).unwrap_err().message.contains("unknown text"));
        assert!(r.check_texts(one("en", "welcome", "{% if %}")).is_err(), "syntax");
        assert!(r.check_texts(one("en", "welcome", "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")).is_err(), "runs out of fuel");
        assert!(r.check_texts(one("en", "welcome", "{{ '' }}")).unwrap_err().message.contains("renders to nothing"));
        assert_eq!(r.check_texts(one("en", "welcome", &"x".repeat(MAX_OVERRIDE_CHARS + 1))).unwrap_err().code, "text_too_long");
    }

    #[test]
    fn a_text_that_renders_past_the_limit_is_refused_with_a_code_naming_the_limit() {
        let r = Renderer::new();
        let one = |src: &str| BotTexts([("en".to_owned(), [("welcome".to_owned(), src.to_owned())].into())].into());
        let err = r.check_texts(one("{% for i in range(20000) %}xxxxxxxxxx{% endfor %}")).unwrap_err();
        assert_eq!(err.code, "text_too_long", "{err}");
        assert!(err.message.starts_with("en.welcome: renders to more than 12288 characters"), "{err}");
        let err = r.check_texts(one("{{ 'x' * 20000 }}")).unwrap_err();
        assert_eq!(err.code, "text_construct_not_allowed", "{err}");
        assert_eq!(err.message, "en.welcome: the operator * is not allowed in a bot text");
    }

    #[test]
    fn a_text_that_grows_only_for_real_names_falls_back_to_ours_and_says_why() {
        let r = Renderer::new();
        let src = "{% if first_name != 'Ann' %}{% for i in range(40000) %}{{ first_name }}{% endfor %}{% else %}Hi Ann{% endif %}";
        let texts = r.check_texts(BotTexts([("en".to_owned(), [("welcome".to_owned(), src.to_owned())].into())].into())).expect("passes with the sample name");
        let out = r.tenant_bot_text(&texts, "en", BotText::Welcome, Some("en"), Theme::default_theme(), "Acme", minijinja::context! { first_name => "Bartholomew" }).unwrap();
        assert!(out.text.starts_with("👋 Hi Bartholomew"), "the built-in welcome: {}", out.text);
        let fell = out.fell_back.expect("says why");
        assert_eq!((fell.language.as_str(), fell.text, fell.why), ("en", BotText::Welcome, bounded::TextLimit::TooLong));
        let ok = r.tenant_bot_text(&texts, "en", BotText::Welcome, Some("en"), Theme::default_theme(), "Acme", minijinja::context! { first_name => "Ann" }).unwrap();
        assert_eq!((ok.text.as_str(), ok.fell_back), ("Hi Ann", None));
    }

    #[test]
    fn every_text_exists_in_every_language_and_russian_speakers_get_russian() {
        let r = Renderer::new();
        let ctx = sample_values();
        for lang in language::BUILT_IN {
            for t in BotText::ALL {
                let text = r.bot_text(*t, Some(lang), Theme::default_theme(), "Acme", &ctx).unwrap_or_else(|e| panic!("{t:?} in {lang}: {e}"));
                assert!(!text.is_empty(), "{t:?} in {lang} is empty");
            }
        }
        let status = r.bot_text(BotText::Status, Some("ru-RU"), Theme::default_theme(), "Acme", &ctx).unwrap();
        assert!(status.contains("№7 Lamp – ждёт вашего ответа"), "{status}");
        let status = r.bot_text(BotText::Status, Some("de"), Theme::default_theme(), "Acme", &ctx).unwrap();
        assert!(status.contains("#7 Lamp – waiting for your reply"), "{status}");
    }

    /// Every context the bot gives a text, with each optional value absent
    /// and each `outcome`/`kind`/`status` the template tests for.
    fn contexts_for(src: &str) -> Vec<serde_json::Value> {
        let base = sample_values();
        let mut out = vec![base.clone()];
        let keyed = regex_lite_values(src);
        for (key, value) in keyed {
            let mut c = base.clone();
            c[key.as_str()] = serde_json::Value::String(value);
            out.push(c);
        }
        for key in ["link", "csat", "by", "username", "category", "signup", "url", "reason", "title"] {
            let mut c = base.clone();
            c[key] = serde_json::Value::Null;
            out.push(c);
        }
        for (key, v) in [("failed", 0), ("unconfirmed", 0), ("count", 1), ("count", 2), ("dropped", 0), ("days", 1), ("total", 1)] {
            let mut c = base.clone();
            c[key] = v.into();
            out.push(c);
        }
        for key in ["note", "ok"] {
            let mut c = base.clone();
            c[key] = serde_json::Value::Bool(!base[key].as_bool().unwrap());
            out.push(c);
        }
        out
    }

    /// The variants a text selects on: `{ $outcome ->` then `[key]` lines.
    fn regex_lite_values(src: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for line in src.lines() {
            if let Some(i) = line.find("{ $").filter(|_| line.trim_end().ends_with("->")) {
                current = line[i + 3..].split_whitespace().next().map(str::to_owned);
            }
            let t = line.trim_start().trim_start_matches('*');
            if let (Some(var), Some(rest)) = (&current, t.strip_prefix('[')) {
                if let Some(key) = rest.split(']').next().filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
                    out.push((var.clone(), key.to_owned()));
                }
            }
        }
        out
    }

    /// Every text exists in every built-in language and renders, without a
    /// Fluent error, for every variant of its context.
    #[test]
    fn every_fluent_text_renders_in_every_built_in_language() {
        let r = Renderer::new();
        let mut failures = Vec::new();
        for lang in language::BUILT_IN {
            for t in BotText::ALL {
                for mut ctx in contexts_for(&r.built_in_text("en", *t).unwrap()) {
                    ctx["emoji"] = "👋".into();
                    match language::built_in(lang, t.name(), &ctx) {
                        None => failures.push(format!("{lang}/{}: missing", t.name())),
                        Some((_, Some(e))) => failures.push(format!("{lang}/{}: {e} with {ctx}", t.name())),
                        Some((s, None)) if s.trim().is_empty() => failures.push(format!("{lang}/{}: empty with {ctx}", t.name())),
                        Some(_) => continue,
                    }
                    break;
                }
            }
        }
        assert!(failures.is_empty(), "{} texts fail:\n{}", failures.len(), failures.join("\n"));
    }

    /// Counts take their language's plural forms where the bot shows them.
    #[test]
    fn the_status_counts_tickets_in_each_languages_plural_forms() {
        let r = Renderer::new();
        let said = |lang: &str, count: u32| {
            let ctx = serde_json::json!({ "count": count, "tickets": [{ "number": 7, "title": "Lamp", "status": "open" }] });
            let text = r.bot_text(BotText::Status, Some(lang), Theme::default_theme(), "Acme", ctx).unwrap();
            text.lines().next().unwrap().to_owned()
        };
        assert_eq!([said("ru", 1), said("ru", 2), said("ru", 5)], ["У вас 1 открытое обращение:", "У вас 2 открытых обращения:", "У вас 5 открытых обращений:"]);
        assert_eq!([said("uk", 1), said("uk", 3), said("uk", 11)], ["У вас 1 відкрите звернення:", "У вас 3 відкриті звернення:", "У вас 11 відкритих звернень:"]);
        assert_eq!([said("en", 1), said("en", 2)], ["You have 1 open ticket:", "You have 2 open tickets:"]);
        assert_eq!([said("es", 1), said("es", 4)], ["Tienes 1 ticket abierto:", "Tienes 4 tickets abiertos:"]);
    }

    /// A desk's text in Fluent, in a language of its own, with its values.
    #[test]
    fn a_desks_fluent_text_in_a_language_of_its_own() {
        let r = Renderer::new();
        let texts = r.check_texts(BotTexts([("DE".to_owned(), [("welcome".to_owned(), "Hallo { $first_name }, hier ist { $desk }.".to_owned())].into())].into())).unwrap();
        assert!(texts.0.contains_key("de"), "the tag is kept in its canonical form");
        let ctx = serde_json::json!({ "first_name": "Jo" });
        let out = r.tenant_bot_text(&texts, "ru", BotText::Welcome, Some("de-AT"), Theme::default_theme(), "Acme", &ctx).unwrap();
        assert_eq!(out.text, "Hallo Jo, hier ist Acme.");
        let out = r.tenant_bot_text(&texts, "ru", BotText::Help, Some("de"), Theme::default_theme(), "Acme", &ctx).unwrap();
        assert!(out.text.contains("Acme") && out.text.chars().any(|c| ('а'..='я').contains(&c)), "the default language for what it lacks: {}", out.text);
        let refused = r.check_texts(BotTexts([("de".to_owned(), [("welcome".to_owned(), "Hallo { $nobody }".to_owned())].into())].into())).unwrap_err();
        assert_eq!((refused.code, refused.message.as_str()), ("text_invalid", "de.welcome: unknown variable $nobody"));
    }
}
