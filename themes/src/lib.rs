//! Themes: the templates and design tokens that make a tenant's desk its own.
//!
//! Owns the minijinja environment with the built-in templates (bot texts
//! today; Mini App and console pages as they arrive) and the catalogue of
//! named themes. Rendering runs with fuel so that a template can never spin;
//! nothing here touches a database or the network.

use std::sync::Arc;

use minijinja::{Environment, Value};

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

/// The bot's texts, one template each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotText {
    Welcome,
    Help,
    Suspended,
    TicketOpened,
    MessageAdded,
    StaffReply,
    Unsupported,
}

impl BotText {
    fn template(self) -> &'static str {
        match self {
            BotText::Welcome => "bot/welcome.txt",
            BotText::Help => "bot/help.txt",
            BotText::Suspended => "bot/suspended.txt",
            BotText::TicketOpened => "bot/ticket_opened.txt",
            BotText::MessageAdded => "bot/message_added.txt",
            BotText::StaffReply => "bot/staff_reply.txt",
            BotText::Unsupported => "bot/unsupported.txt",
        }
    }
}

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
        for (name, source) in [
            ("bot/welcome.txt", include_str!("../templates/bot/welcome.txt")),
            ("bot/help.txt", include_str!("../templates/bot/help.txt")),
            ("bot/suspended.txt", include_str!("../templates/bot/suspended.txt")),
            ("bot/ticket_opened.txt", include_str!("../templates/bot/ticket_opened.txt")),
            ("bot/message_added.txt", include_str!("../templates/bot/message_added.txt")),
            ("bot/staff_reply.txt", include_str!("../templates/bot/staff_reply.txt")),
            ("bot/unsupported.txt", include_str!("../templates/bot/unsupported.txt")),
            // `.html`: minijinja escapes every value for HTML.
            (miniapp::TEMPLATE, include_str!("../miniapp/app.html")),
        ] {
            env.add_template(name, source)
                .expect("built-in templates are valid");
        }
        Renderer { env: Arc::new(env) }
    }

    /// Renders one of the bot's texts for a tenant. `ctx` is merged with
    /// `theme` (the tokens) and `desk` (the tenant's display name).
    pub fn bot_text<C: Serialize>(
        &self,
        text: BotText,
        theme: Theme,
        desk_name: &str,
        ctx: C,
    ) -> Result<String, ThemeError> {
        let name = text.template();
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
                Theme::default_theme(),
                "Acme",
                minijinja::context! { number => 42, text => "Hello <there>" },
            )
            .unwrap();
        assert!(text.contains("#42") && text.contains("Hello <there>"), "{text}");
    }
}
