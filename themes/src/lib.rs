//! Themes: the templates and design tokens that make a tenant's desk its own.
//!
//! Owns the minijinja environment with the built-in templates (bot texts
//! today; Mini App and console pages as they arrive) and the catalogue of
//! named themes. Rendering runs with fuel so that a template can never spin;
//! nothing here touches a database or the network.

use std::sync::Arc;

use minijinja::{Environment, Value};

pub mod branding;
pub mod miniapp;
use serde::Serialize;

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// The theme name is not one of [`THEMES`].
    #[error("unknown theme {0:?}; known themes: {known}", known = THEMES.iter().map(|t| t.name).collect::<Vec<_>>().join(", "))]
    UnknownTheme(String),
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
    ButtonOpenApp,
    /// The chat's menu button, set at provisioning.
    MenuButton,
}

impl BotText {
    pub const ALL: &[BotText] = &[
        BotText::Welcome,
        BotText::Help,
        BotText::Suspended,
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
        BotText::ButtonOpenApp,
        BotText::MenuButton,
    ];

    fn file(self) -> &'static str {
        match self {
            BotText::Welcome => "welcome",
            BotText::Help => "help",
            BotText::Suspended => "suspended",
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
            BotText::ButtonOpenApp => "button_open_app",
            BotText::MenuButton => "menu_button",
        }
    }
}

/// The bot's templates, `bot/{language}/{name}.txt`, compiled in.
macro_rules! bot_templates {
    ($($lang:literal: [$($name:literal),+ $(,)?]),+ $(,)?) => {
        &[$($((concat!("bot/", $lang, "/", $name, ".txt"), include_str!(concat!("../templates/bot/", $lang, "/", $name, ".txt"))),)+)+]
    };
}

const BOT_TEMPLATES: &[(&str, &str)] = bot_templates!(
    "en": ["welcome", "help", "suspended", "ticket_opened", "message_added", "staff_reply", "unsupported", "tickets", "tickets_link", "status", "status_empty", "support_choose", "support_describe", "support_other", "button_open_ticket", "button_open_app", "menu_button"],
    "ru": ["welcome", "help", "suspended", "ticket_opened", "message_added", "staff_reply", "unsupported", "tickets", "tickets_link", "status", "status_empty", "support_choose", "support_describe", "support_other", "button_open_ticket", "button_open_app", "menu_button"],
);

/// Renders the built-in templates. Cheap to clone.
#[derive(Clone)]
pub struct Renderer {
    pub(crate) env: Arc<Environment<'static>>,
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
        for &(name, source) in BOT_TEMPLATES.iter().chain([(miniapp::TEMPLATE, include_str!("../miniapp/app.html"))].iter()) {
            env.add_template(name, source)
                .expect("built-in templates are valid");
        }
        Renderer { env: Arc::new(env) }
    }

    /// Renders one of the bot's texts for a tenant in a customer's language
    /// (their Telegram `language_code`; English when we do not speak it).
    /// `ctx` is merged with `theme` (the tokens) and `desk` (the tenant's
    /// display name).
    pub fn bot_text<C: Serialize>(
        &self,
        text: BotText,
        language_code: Option<&str>,
        theme: Theme,
        desk_name: &str,
        ctx: C,
    ) -> Result<String, ThemeError> {
        let lang = miniapp::language(language_code);
        let wanted = format!("bot/{lang}/{}.txt", text.file());
        let name = BOT_TEMPLATES.iter().map(|(n, _)| *n).find(|n| *n == wanted).expect("every text exists in every language (tested)");
        let tmpl = self.env.get_template(name).map_err(|source| ThemeError::Render { name, source })?;
        let ctx = minijinja::context! {
            theme => Value::from(minijinja::value::Serde(theme)),
            desk => desk_name,
            ..Value::from(minijinja::value::Serde(ctx))
        };
        tmpl.render(ctx)
            .map(|s| s.trim().to_owned())
            .map_err(|source| ThemeError::Render { name, source })
    }
}

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
    fn every_text_exists_in_every_language_and_russian_speakers_get_russian() {
        let r = Renderer::new();
        let ctx = minijinja::context! {
            first_name => "Ann", number => 7, title => "Lamp", text => "hi", url => "http://x/",
            category => "Billing", tickets => vec![minijinja::context! { number => 7, title => "Lamp", status => "waiting_response" }],
        };
        for lang in miniapp::LANGUAGES {
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
}
