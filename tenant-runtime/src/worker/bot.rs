//! What the bot says by itself, in the customer's language: its commands
//! (`/start`, `/help`, `/tickets`, `/status`, `/support` step by step, and
//! `/admin` for staff: a one-time console sign-in link; `/stats`, `/role`
//! and `/broadcast` (see `crate::worker::broadcast`) for those above) and
//! the buttons under its messages that open the desk's Mini App.
//!
//! Telegram opens a Mini App only from an https URL, so the buttons exist
//! only when the public URL is https; a development desk on plain HTTP gets
//! the link as text instead.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tikethet_themes::BotText;

use crate::Runtime;
use crate::domain::TenantId;
use crate::outbound::effects::Effects;
use crate::domain::TicketStatus;
use crate::storage::entities::{categories, tickets as ticket_rows, users};
use crate::error::RuntimeError;
use crate::storage::tenant::Tenant;
use crate::desk::tickets::{self, Button};

/// Callback data of the `/support` topic buttons: `tt:support:<category id>`
/// (0: no particular topic). Plugins never see presses of these.
pub const SUPPORT_PREFIX: &str = "tt:support:";

/// Callback data of the rating buttons under a resolved ticket:
/// `tt:csat:<ticket>:<1-5>`. Plugins never see presses of these.
pub const CSAT_PREFIX: &str = "tt:csat:";

/// `/tickets` and `/status` show this many tickets at most.
const STATUS_LIMIT: u64 = 10;

/// A command the bot answers by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    Tickets,
    Status,
    Support,
    /// Staff: a one-time sign-in link to the console (others get the help).
    Admin,
    /// No comment after a rating.
    Skip,
    /// Staff (moderators and up): the desk in figures.
    Stats,
    /// Staff (moderators and up): `/role @username ROLE`.
    Role,
    /// Admins and the owner: `/broadcast TEXT`, `/broadcast`, `/broadcast stop`.
    Broadcast,
}

impl Command {
    /// The command of a message (`/start`, `/status@AcmeBot`); `None` for
    /// plain text or a command addressed to another bot. Unknown commands
    /// get the help.
    pub fn of(text: &str, bot_username: &str) -> Option<Command> {
        let word = text.split_whitespace().next()?.strip_prefix('/')?;
        let (cmd, target) = word.split_once('@').unwrap_or((word, ""));
        if !target.is_empty() && !target.eq_ignore_ascii_case(bot_username) {
            return None;
        }
        Some(match cmd.to_ascii_lowercase().as_str() {
            "start" => Command::Start,
            "tickets" => Command::Tickets,
            "status" => Command::Status,
            "support" => Command::Support,
            "admin" => Command::Admin,
            "skip" => Command::Skip,
            "stats" => Command::Stats,
            "role" => Command::Role,
            "broadcast" => Command::Broadcast,
            _ => Command::Help,
        })
    }
}

/// What the customer's next message is, after a step the bot started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportStep {
    /// `/support` in progress: opens a new ticket (even beside an open
    /// one), in this category.
    NewTicket(Option<i64>),
    /// After a rating: the comment on that ticket's rating (the ticket, and
    /// when the rating was given, Unix seconds).
    CsatComment(i64, i64),
}

impl SupportStep {
    pub fn parse(stored: Option<&str>) -> Option<SupportStep> {
        match stored? {
            "new" => Some(SupportStep::NewTicket(None)),
            s if s.starts_with("csat:") => {
                let (ticket, at) = s.strip_prefix("csat:")?.split_once(':')?;
                Some(SupportStep::CsatComment(ticket.parse().ok()?, at.parse().ok()?))
            }
            s => s.strip_prefix("category:")?.parse().ok().map(|id| SupportStep::NewTicket(Some(id))),
        }
    }

    fn stored(self) -> String {
        match self {
            SupportStep::NewTicket(None) => "new".to_owned(),
            SupportStep::NewTicket(Some(id)) => format!("category:{id}"),
            SupportStep::CsatComment(ticket, at) => format!("csat:{ticket}:{at}"),
        }
    }
}

/// Each desk's latest fallbacks, newest last, at most [`TextFallbacks::KEEP`].
#[derive(Debug, Default, Clone)]
pub struct TextFallbacks(std::collections::VecDeque<TextFallback>);

impl TextFallbacks {
    const KEEP: usize = 20;
}

/// A desk's own text that was not sent, and the built-in one that was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TextFallback {
    pub language: String,
    pub text: &'static str,
    /// The error code (`text_too_long`, …) and what it means.
    pub code: &'static str,
    pub reason: String,
    pub at: chrono::DateTime<Utc>,
}

impl Runtime {
    /// One of the bot's texts for this desk in a customer's language. A
    /// desk's own text that fails or goes past its bounds is replaced by the
    /// built-in one and recorded (see [`Runtime::text_fallbacks`]), so that
    /// an update is never failed, and retried, for a tenant's template.
    pub(crate) fn text(&self, tenant: &Tenant, lang: Option<&str>, which: BotText, ctx: impl serde::Serialize) -> Result<String, RuntimeError> {
        let rendered = self
            .inner.renderer
            .tenant_bot_text(&tenant.info.bot_texts, &tenant.info.default_language, which, lang, tenant.info.theme, &tenant.info.name, ctx)
            .map_err(|e| RuntimeError::Internal(e.into()))?;
        if let Some(f) = rendered.fell_back {
            tracing::warn!(tenant = %tenant.info.slug.as_str(), text = f.text.name(), language = %f.language, reason = %f.why, "a desk's own bot text gave way to the built-in one");
            let record = TextFallback { language: f.language, text: f.text.name(), code: f.why.code(), reason: f.why.to_string(), at: Utc::now() };
            let mut all = self.inner.work.text_fallbacks.lock().unwrap_or_else(|e| e.into_inner());
            let mine = &mut all.entry(tenant.info.id.clone()).or_default().0;
            if mine.len() == TextFallbacks::KEEP {
                mine.pop_front();
            }
            mine.push_back(record);
        }
        Ok(rendered.text)
    }

    /// The desk's own texts that recently gave way to the built-in ones
    /// (newest first), since this process started.
    pub fn text_fallbacks(&self, tenant: &TenantId) -> Vec<TextFallback> {
        let all = self.inner.work.text_fallbacks.lock().unwrap_or_else(|e| e.into_inner());
        all.get(tenant).map(|f| f.0.iter().rev().cloned().collect()).unwrap_or_default()
    }

    /// Forgets a desk's fallbacks (its texts were saved again).
    pub fn clear_text_fallbacks(&self, tenant: &TenantId) {
        self.inner.work.text_fallbacks.lock().unwrap_or_else(|e| e.into_inner()).remove(tenant);
    }

    /// The desk's Mini App, opening one ticket when given; `None` unless
    /// the public URL is https (Telegram refuses anything else).
    pub fn mini_app_url(&self, tenant: &Tenant, ticket: Option<i64>) -> Option<String> {
        if tenant.info.custom_domain.is_none() && self.inner.out.public_url.scheme() != "https" && !self.inner.out.mini_app_over_http {
            return None;
        }
        Some(self.mini_app_link(tenant, ticket))
    }

    /// The Mini App's address whatever the scheme (for a browser): on the
    /// tenant's own domain (served over https by the deployment's proxy)
    /// when it has one.
    fn mini_app_link(&self, tenant: &Tenant, ticket: Option<i64>) -> String {
        let mut url = match &tenant.info.custom_domain {
            Some(domain) => format!("https://{domain}/app/"),
            None => format!("{}/t/{}/app/", self.inner.out.public_url.as_str().trim_end_matches('/'), tenant.info.slug.as_str()),
        };
        if let Some(id) = ticket {
            // Read by the page like Telegram's own `startapp` parameter.
            url.push_str(&format!("?tgWebAppStartParam=ticket-{id}"));
        }
        url
    }

    /// The button under a notification about a ticket (none on plain HTTP).
    pub(crate) fn ticket_buttons(&self, tenant: &Tenant, lang: Option<&str>, ticket: i64) -> Result<Vec<Button>, RuntimeError> {
        let Some(url) = self.mini_app_url(tenant, Some(ticket)) else { return Ok(Vec::new()) };
        let text = self.text(tenant, lang, BotText::ButtonOpenTicket, serde_json::json!({ "number": ticket }))?;
        Ok(vec![Button::WebApp { text, web_app: url }])
    }

    fn app_buttons(&self, tenant: &Tenant, lang: Option<&str>) -> Result<Vec<Button>, RuntimeError> {
        let Some(url) = self.mini_app_url(tenant, None) else { return Ok(Vec::new()) };
        Ok(vec![Button::WebApp { text: self.text(tenant, lang, BotText::ButtonOpenApp, ())?, web_app: url }])
    }

    /// Answers a command inside the update's transaction; `args` is what
    /// follows the command word.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn command(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        user: &users::Model,
        chat: i64,
        command: Command,
        args: &str,
        kicks: &mut Effects,
    ) -> Result<(), RuntimeError> {
        let lang = user.language_code.as_deref();
        let moderator = !user.blocked && user.role >= crate::domain::Role::Moderator;
        let (text, buttons) = match command {
            // The claim link's `/start {code}` once the desk is claimed:
            // its owner gets the console, anyone else is told it is taken.
            Command::Start if tenant.info.claimed_with(args) => {
                if !user.blocked && user.role == crate::domain::Role::Owner {
                    let url = self.console_link_in(txn, tenant, user).await?;
                    let buttons = if url.starts_with("https://") {
                        vec![Button::Url { text: self.text(tenant, lang, BotText::ButtonOpenConsole, ())?, url: url.clone() }]
                    } else {
                        Vec::new()
                    };
                    (self.text(tenant, lang, BotText::Claim, serde_json::json!({ "outcome": "claimed", "url": url }))?, buttons)
                } else {
                    (self.text(tenant, lang, BotText::Claim, serde_json::json!({ "outcome": "taken" }))?, Vec::new())
                }
            }
            Command::Start => (self.text(tenant, lang, BotText::Welcome, serde_json::json!({ "first_name": user.first_name }))?, self.app_buttons(tenant, lang)?),
            Command::Help => (self.text(tenant, lang, BotText::Help, ())?, Vec::new()),
            Command::Admin if !user.blocked && user.role.is_staff() => {
                let url = self.console_link_in(txn, tenant, user).await?;
                // Telegram takes only public addresses in buttons: on a
                // development desk the link in the text serves.
                let buttons = if url.starts_with("https://") {
                    vec![Button::Url { text: self.text(tenant, lang, BotText::ButtonOpenConsole, ())?, url: url.clone() }]
                } else {
                    Vec::new()
                };
                (self.text(tenant, lang, BotText::AdminLink, serde_json::json!({ "url": url }))?, buttons)
            }
            Command::Admin => (self.text(tenant, lang, BotText::Help, ())?, Vec::new()),
            Command::Skip if matches!(SupportStep::parse(user.support_pending.as_deref()), Some(SupportStep::CsatComment(..))) => {
                set_step(txn, user, None).await?;
                (self.text(tenant, lang, BotText::CsatSkipped, ())?, Vec::new())
            }
            Command::Skip => (self.text(tenant, lang, BotText::Help, ())?, Vec::new()),
            Command::Stats if moderator => (self.staff_stats(tenant, txn, lang).await?, Vec::new()),
            Command::Role if moderator => (self.role_command(tenant, txn, user, lang, args, kicks).await?, Vec::new()),
            Command::Stats | Command::Role => (self.text(tenant, lang, BotText::Help, ())?, Vec::new()),
            Command::Broadcast if !user.blocked && user.role >= crate::domain::Role::Admin => {
                self.broadcast_command(tenant, txn, user, chat, args).await?
            }
            Command::Broadcast => (self.text(tenant, lang, BotText::Help, ())?, Vec::new()),
            Command::Tickets => match self.mini_app_url(tenant, None) {
                Some(_) => (self.text(tenant, lang, BotText::Tickets, ())?, self.app_buttons(tenant, lang)?),
                None => (self.text(tenant, lang, BotText::TicketsLink, serde_json::json!({ "url": self.mini_app_link(tenant, None) }))?, Vec::new()),
            },
            Command::Status => {
                let mine = ticket_rows::Entity::find()
                    .filter(ticket_rows::Column::CustomerId.eq(user.id))
                    .filter(ticket_rows::Column::Status.is_not_in([TicketStatus::Resolved.as_str(), TicketStatus::Closed.as_str()]));
                let open = mine.clone().order_by_desc(ticket_rows::Column::UpdatedAt).limit(STATUS_LIMIT).all(txn).await?;
                // All of them, when there are more than the list shows.
                let count = if (open.len() as u64) < STATUS_LIMIT { open.len() as u64 } else { mine.count(txn).await? };
                if open.is_empty() {
                    (self.text(tenant, lang, BotText::StatusEmpty, ())?, Vec::new())
                } else {
                    let list: Vec<_> = open.iter().map(|t| serde_json::json!({ "number": t.id, "title": t.title, "status": t.status })).collect();
                    let buttons = match open.as_slice() {
                        [one] => self.ticket_buttons(tenant, lang, one.id)?,
                        _ => self.app_buttons(tenant, lang)?,
                    };
                    (self.text(tenant, lang, BotText::Status, serde_json::json!({ "tickets": list, "count": count }))?, buttons)
                }
            }
            Command::Support => {
                let topics = categories::Entity::find()
                    .filter(categories::Column::Active.eq(true))
                    .order_by_asc(categories::Column::SortOrder)
                    .order_by_asc(categories::Column::Id)
                    .all(txn)
                    .await?;
                if topics.is_empty() {
                    set_step(txn, user, Some(SupportStep::NewTicket(None))).await?;
                    (self.text(tenant, lang, BotText::SupportDescribe, serde_json::json!({ "category": null }))?, Vec::new())
                } else {
                    let mut buttons: Vec<Button> = topics
                        .iter()
                        .map(|c| Button::Callback {
                            text: match &c.icon {
                                Some(icon) => format!("{icon} {}", c.name),
                                None => c.name.clone(),
                            },
                            data: format!("{SUPPORT_PREFIX}{}", c.id),
                        })
                        .collect();
                    buttons.push(Button::Callback { text: self.text(tenant, lang, BotText::SupportOther, ())?, data: format!("{SUPPORT_PREFIX}0") });
                    (self.text(tenant, lang, BotText::SupportChoose, ())?, buttons)
                }
            }
        };
        kicks.push(tickets::enqueue_with_buttons(txn, chat, text, None, &buttons).await?.chat_id);
        Ok(())
    }

    /// A press of a `/support` topic button: the next message opens a new
    /// ticket in that topic. An unknown or inactive topic counts as none.
    pub(crate) async fn support_topic(
        &self,
        tenant: &Tenant,
        txn: &DatabaseTransaction,
        user: &users::Model,
        chat: i64,
        data: &str,
        kicks: &mut Effects,
    ) -> Result<crate::worker::update::Pressed, RuntimeError> {
        let id: i64 = data.strip_prefix(SUPPORT_PREFIX).and_then(|s| s.parse().ok()).unwrap_or(0);
        let topic = match id {
            0 => None,
            id => categories::Entity::find_by_id(id).filter(categories::Column::Active.eq(true)).one(txn).await?,
        };
        set_step(txn, user, Some(SupportStep::NewTicket(topic.as_ref().map(|c| c.id)))).await?;
        let lang = user.language_code.as_deref();
        let text = self.text(tenant, lang, BotText::SupportDescribe, serde_json::json!({ "category": topic.map(|c| c.name) }))?;
        kicks.push(tickets::enqueue(txn, chat, text, None).await?.chat_id);
        Ok(crate::worker::update::Pressed::Done)
    }
}

impl Runtime {
    /// `/stats`: the desk in a few figures.
    async fn staff_stats(&self, tenant: &Tenant, txn: &DatabaseTransaction, lang: Option<&str>) -> Result<String, RuntimeError> {
        let s = crate::desk::stats::stats(txn, tenant.info.sla.as_ref()).await?;
        let median = s.first_response.median_seconds.map(|m| {
            let m = (m / 60.0).round() as i64;
            if m < 60 { format!("{m} min") } else { format!("{} h {} min", m / 60, m % 60) }
        });
        let csat = (s.csat.rated > 0).then(|| format!("{:.0}% ({} ratings)", s.csat.satisfied as f64 * 100.0 / s.csat.rated as f64, s.csat.rated));
        self.text(
            tenant,
            lang,
            BotText::StaffStats,
            serde_json::json!({
                "open": s.by_status.of(TicketStatus::Open),
                "in_progress": s.by_status.of(TicketStatus::InProgress),
                "waiting": s.by_status.of(TicketStatus::WaitingResponse),
                "created_7d": s.created_7d,
                "resolved_7d": s.resolved_7d,
                "first_response": median.unwrap_or_else(|| "—".into()),
                "csat": csat,
            }),
        )
    }

    /// `/role @username ROLE`: as the API's role change, by the same rules
    /// (and the plan's agent limit).
    async fn role_command(&self, tenant: &Tenant, txn: &DatabaseTransaction, actor: &users::Model, lang: Option<&str>, args: &str, kicks: &mut Effects) -> Result<String, RuntimeError> {
        use crate::domain::Role;
        use sea_orm::sea_query::ExprTrait as _;
        let say = |ok: bool, username: &str, role: &str, reason: String| self.text(tenant, lang, BotText::RoleChanged, serde_json::json!({ "ok": ok, "username": username, "role": role, "reason": reason }));
        let mut words = args.split_whitespace();
        let (Some(name), Some(role)) = (words.next(), words.next()) else {
            return say(false, "", "", "write it as /role @username ROLE (user, helper, moderator or admin)".into());
        };
        let name = name.trim_start_matches('@');
        let Ok(to) = Role::parse(&role.to_ascii_lowercase()) else {
            return say(false, name, role, format!("{role:?} is not a role: user, helper, moderator or admin"));
        };
        let target = users::Entity::find().filter(sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(sea_orm::sea_query::Expr::col(users::Column::Username))).eq(name.to_ascii_lowercase())).one(txn).await?;
        let Some(target) = target else {
            return say(false, name, to.as_str(), format!("nobody called @{name} has written to this bot yet"));
        };
        let viewer = crate::desk::context::Viewer::from_user(actor)?;
        let was_staff = target.role.is_staff();
        match crate::desk::people::change(txn, &viewer, target.id, Some(to), None).await {
            // After the commit, their open sockets check their role again.
            Ok(_) => kicks.events.push(crate::live::Event::AccessChanged { user_id: Some(target.id) }),
            Err(RuntimeError::Forbidden(why)) => return say(false, name, to.as_str(), why),
            Err(e) => return Err(e),
        }
        if to.is_staff() && !was_staff {
            let agents = crate::desk::usage::agents(txn).await?;
            if let Err(RuntimeError::PlanLimit(why)) = crate::desk::usage::within(&tenant.info, "agents", tenant.info.quotas.agents, agents - 1, 1) {
                // The update's transaction commits (it holds the reply), so
                // the role is put back in it.
                crate::desk::people::restore_role(txn, target.id, &target.role).await?;
                return say(false, name, to.as_str(), why);
            }
        }
        say(true, name, to.as_str(), String::new())
    }
}

/// Records (or clears) the customer's `/support` step.
pub(crate) async fn set_step(txn: &DatabaseTransaction, user: &users::Model, step: Option<SupportStep>) -> Result<(), RuntimeError> {
    let mut am: users::ActiveModel = user.clone().into();
    am.support_pending = Set(step.map(SupportStep::stored));
    am.updated_at = Set(Utc::now());
    am.update(txn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_like_telegram_clients_send_them() {
        assert_eq!(Command::of("/start", "AcmeBot"), Some(Command::Start));
        assert_eq!(Command::of("/status@acmebot please", "AcmeBot"), Some(Command::Status));
        assert_eq!(Command::of("/SUPPORT", "AcmeBot"), Some(Command::Support));
        assert_eq!(Command::of("/tickets", "AcmeBot"), Some(Command::Tickets));
        assert_eq!(Command::of("/whatever", "AcmeBot"), Some(Command::Help));
        assert_eq!(Command::of("/start@OtherBot", "AcmeBot"), None);
        assert_eq!(Command::of("hello /start", "AcmeBot"), None);
    }

    #[test]
    fn support_steps_round_trip() {
        for step in [SupportStep::NewTicket(None), SupportStep::NewTicket(Some(12)), SupportStep::CsatComment(7, 1_764_000_000)] {
            assert_eq!(SupportStep::parse(Some(&step.stored())), Some(step));
        }
        assert_eq!(SupportStep::parse(Some("category:x")), None);
        assert_eq!(SupportStep::parse(None), None);
    }
}
