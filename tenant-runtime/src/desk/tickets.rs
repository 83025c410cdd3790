//! Tickets, their messages and the people in them, inside one tenant's
//! transaction. No network here: what must reach Telegram is written to the
//! outbox in the same transaction and delivered after commit.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::desk::context::{Scope, Viewer};
use crate::domain::{Invalid, MessageBody, MessageText, Priority, Role, TicketDescription, TicketId, TicketStatus, TicketTitle, UserId};
use crate::storage::entities::{attachments, messages, outbox, tickets, users};
use crate::error::{Result, RuntimeError};

/// A Telegram user as the bot or initData saw them.
#[derive(Debug, Clone)]
pub struct TelegramProfile {
    pub telegram_id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Whether a user's row must be written for a sign-in or message with this
/// profile: a changed name, a block of the bot to undo, or an owner role to
/// give or take.
pub(crate) fn profile_differs(u: &users::Model, p: &TelegramProfile, owner_telegram_id: i64) -> bool {
    let is_owner = p.telegram_id == owner_telegram_id;
    u.first_name != cut(&p.first_name, 128)
        || u.username != p.username
        || u.last_name != p.last_name
        || u.bot_blocked_at.is_some()
        || (!is_owner && u.role == Role::Owner)
        || (is_owner && u.role != Role::Owner)
}

/// Finds or creates the tenant's user for a Telegram account and refreshes
/// their profile. The tenant's owner account always holds the owner role.
pub async fn upsert_user(txn: &DatabaseTransaction, p: &TelegramProfile, owner_telegram_id: i64) -> Result<users::Model> {
    upsert(txn, p, owner_telegram_id, false).await
}

/// [`upsert_user`] for someone writing to the bot in a private chat: it
/// also notes, once, that they started the bot (from then on staff may open
/// a conversation with them), in the same statement as the rest.
pub async fn upsert_chat_user(txn: &DatabaseTransaction, p: &TelegramProfile, owner_telegram_id: i64) -> Result<users::Model> {
    upsert(txn, p, owner_telegram_id, true).await
}

async fn upsert(txn: &DatabaseTransaction, p: &TelegramProfile, owner_telegram_id: i64, in_chat: bool) -> Result<users::Model> {
    let now = Utc::now();
    let existing = users::Entity::find().filter(users::Column::TelegramId.eq(p.telegram_id)).one(txn).await?;
    let is_owner = p.telegram_id == owner_telegram_id;
    match existing {
        Some(u) => {
            let start = in_chat && u.bot_started_at.is_none();
            if !profile_differs(&u, p, owner_telegram_id) && !start {
                return Ok(u);
            }
            let demote = !is_owner && u.role == Role::Owner;
            let mut am: users::ActiveModel = u.into();
            am.first_name = Set(cut(&p.first_name, 128));
            am.last_name = Set(p.last_name.as_deref().map(|s| cut(s, 128)));
            am.username = Set(p.username.as_deref().map(|s| cut(s, 64)));
            if is_owner {
                am.role = Set(Role::Owner);
            } else if demote {
                // The tenant's owner changed: the previous one stays staff.
                am.role = Set(Role::Admin);
            }
            // Writing to the bot (or opening its Mini App) undoes a block.
            am.bot_blocked_at = Set(None);
            if start {
                am.bot_started_at = Set(Some(now));
            }
            am.updated_at = Set(now);
            Ok(am.update(txn).await?)
        }
        None => {
            let role = if is_owner { Role::Owner } else { Role::User };
            let am = users::ActiveModel {
                telegram_id: Set(p.telegram_id),
                username: Set(p.username.as_deref().map(|s| cut(s, 64))),
                first_name: Set(cut(&p.first_name, 128)),
                last_name: Set(p.last_name.as_deref().map(|s| cut(s, 128))),
                language_code: Set(p.language_code.as_deref().map(|s| cut(s, 16))),
                role: Set(role),
                blocked: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                bot_started_at: Set(in_chat.then_some(now)),
                ..Default::default()
            };
            // Two first sign-ins of one person at once: the second insert
            // does nothing and both read the one row.
            let res = users::Entity::insert(am)
                .on_conflict(sea_orm::sea_query::OnConflict::column(users::Column::TelegramId).do_nothing().to_owned())
                .exec(txn)
                .await;
            match res {
                Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => {}
                Err(e) => return Err(e.into()),
            }
            users::Entity::find()
                .filter(users::Column::TelegramId.eq(p.telegram_id))
                .one(txn)
                .await?
                .ok_or_else(|| RuntimeError::Internal(anyhow::anyhow!("a user just inserted cannot be read back")))
        }
    }
}

pub async fn tickets_by_id(txn: &DatabaseTransaction, id: i64) -> Result<Option<tickets::Model>> {
    Ok(tickets::Entity::find_by_id(id).one(txn).await?)
}

/// The customer's active ticket, if any: the one their next message continues.
pub async fn active_ticket_of(txn: &DatabaseTransaction, customer: UserId) -> Result<Option<tickets::Model>> {
    Ok(tickets::Entity::find()
        .filter(tickets::Column::CustomerId.eq(customer.get()))
        .filter(tickets::Column::Status.is_not_in([TicketStatus::Resolved.as_str(), TicketStatus::Closed.as_str()]))
        .order_by_desc(tickets::Column::UpdatedAt)
        .one(txn)
        .await?)
}

/// What opens a ticket, from the bot or the API.
pub struct NewTicket<'a> {
    pub customer: &'a users::Model,
    pub title: &'a TicketTitle,
    pub description: &'a TicketDescription,
    pub priority: Priority,
    /// An active category of the desk (checked by the caller).
    pub category: Option<i64>,
    /// The customer's uploads, sent with the description.
    pub files: &'a [i64],
    /// The first message's kind and details (see `crate::worker::incoming`):
    /// `text` and none, but for a customer's voice note, sticker, location…
    pub kind: &'a str,
    pub details: Option<String>,
    /// The customer's message in Telegram that opened it, if it came so.
    pub telegram_message_id: Option<i64>,
}

impl crate::Runtime {
    /// Opens a ticket, the one way the bot and the API both do: the ticket
    /// and its first message (with its files), the month's usage, the
    /// staff's notifications and the live event, in `txn`. Its routing
    /// plugins run after `txn` commits (`route_ticket`); whatever the
    /// customer is told is the caller's.
    pub(crate) async fn open_ticket(&self, tenant: &crate::storage::tenant::Tenant, txn: &DatabaseTransaction, new: NewTicket<'_>, effects: &mut crate::outbound::effects::Effects) -> Result<tickets::Model> {
        let now = Utc::now();
        let customer = new.customer.id;
        let ticket = tickets::ActiveModel {
            customer_id: Set(customer),
            title: Set(new.title.as_str().to_owned()),
            description: Set(new.description.as_str().to_owned()),
            status: Set(TicketStatus::Open),
            priority: Set(new.priority),
            category_id: Set(new.category),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let message = messages::ActiveModel {
            ticket_id: Set(ticket.id),
            author_id: Set(Some(customer)),
            author_role: Set(Role::User.as_str().to_owned()),
            text: Set(new.description.as_str().to_owned()),
            internal: Set(false),
            created_at: Set(now),
            kind: Set(new.kind.to_owned()),
            details: Set(new.details),
            telegram_message_id: Set(new.telegram_message_id),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        attach(txn, UserId::new(customer), message, new.files).await?;
        // The team that takes new tickets, if one does, gets it now (its
        // rule picking the agent); a plugin's routing may move it after.
        // On a desk without teams this is one small read.
        let ticket = match crate::desk::teams::taking_new(txn).await? {
            Some(team) => {
                let given = crate::desk::teams::give(txn, ticket, team.id).await?;
                self.notify_assigned(tenant, txn, &given, None, effects).await?;
                given
            }
            None => ticket,
        };
        self.notify_new_ticket(tenant, txn, &ticket, new.customer, new.files, effects).await?;
        // Last: the day's counters are rows every ticket of the desk updates.
        crate::desk::usage::count_all(txn, &[(crate::desk::usage::TICKETS, 1), (crate::desk::usage::MESSAGES, 1)]).await?;
        self.inner.metrics.tickets_opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        effects.events.push(crate::live::Event::TicketCreated { ticket: ticket.clone() });
        Ok(ticket)
    }
}

/// Gives a message the uploads sent with it and keeps their summary on it.
/// Each must be the author's own upload, not yet sent with anything: an
/// upload is sent once, and nobody sends another's.
pub async fn attach(txn: &DatabaseTransaction, author: UserId, message: messages::Model, ids: &[i64]) -> Result<(messages::Model, Vec<attachments::Model>)> {
    if ids.is_empty() {
        return Ok((message, Vec::new()));
    }
    let found = attachments::Entity::find()
        .filter(attachments::Column::Id.is_in(ids.iter().copied()))
        .filter(attachments::Column::UploaderId.eq(author.get()))
        .filter(attachments::Column::MessageId.is_null())
        .all(txn)
        .await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|a| a.id == **id)) {
        return Err(Invalid::new("attachment_ids", format!("file {missing} is not an upload of yours waiting to be sent")).into());
    }
    let taken = attachments::Entity::update_many()
        .col_expr(attachments::Column::MessageId, sea_orm::sea_query::Expr::value(message.id))
        .filter(attachments::Column::Id.is_in(ids.iter().copied()))
        .filter(attachments::Column::MessageId.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    if taken != ids.len() as u64 {
        return Err(RuntimeError::Conflict("a file was just sent with another message; upload it again".into()));
    }
    let ordered: Vec<attachments::Model> = ids.iter().filter_map(|id| found.iter().find(|a| a.id == *id).cloned()).collect();
    let refs: Vec<crate::storage::files::FileRef> = ordered.iter().map(Into::into).collect();
    let mut am: messages::ActiveModel = message.into();
    am.attachments = Set(Some(serde_json::to_string(&refs).map_err(|e| RuntimeError::Internal(e.into()))?));
    Ok((am.update(txn).await?, ordered))
}

/// One ticket, if the viewer may see it. Someone else's ticket is "not
/// found", exactly like a missing one.
pub async fn get_ticket(txn: &DatabaseTransaction, viewer: &Viewer, id: TicketId) -> Result<tickets::Model> {
    let t = tickets::Entity::find_by_id(id.get()).one(txn).await?;
    visible_to(viewer, t)
}

/// A ticket read without a transaction, if the viewer may see it (see [`get_ticket`]).
pub fn visible_to(viewer: &Viewer, t: Option<tickets::Model>) -> Result<tickets::Model> {
    let t = t.ok_or(RuntimeError::NotFound("ticket"))?;
    let visible = match viewer.scope() {
        Scope::Own => t.customer_id == viewer.user_id.get(),
        Scope::Assigned => t.assignee_id == Some(viewer.user_id.get()),
        Scope::All => true,
    };
    if !visible {
        return Err(RuntimeError::NotFound("ticket"));
    }
    Ok(t)
}

/// A ticket's conversation as the viewer may see it (customers never see
/// internal notes).
pub async fn list_messages(txn: &DatabaseTransaction, viewer: &Viewer, ticket: &tickets::Model) -> Result<Vec<messages::Model>> {
    let mut q = messages::Entity::find().filter(messages::Column::TicketId.eq(ticket.id));
    if !viewer.role.is_staff() {
        q = q.filter(messages::Column::Internal.eq(false));
    }
    Ok(q.order_by_asc(messages::Column::Id).limit(500).all(txn).await?)
}

/// What a new message asks the caller to deliver after commit.
pub struct Added {
    pub message: messages::Model,
    /// The ticket as the message left it (status, times).
    pub ticket: tickets::Model,
    pub outbox: Option<outbox::Model>,
}

/// Adds a message to a ticket and moves its status the way a helpdesk does:
/// a staff answer waits for the customer; a customer's message puts the
/// ticket back in the queue. A staff answer that is not internal goes to
/// the customer's chat through the outbox (`delivery` renders its text).
pub async fn add_message(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    ticket: tickets::Model,
    body: &MessageBody,
    internal: bool,
    delivery: impl FnOnce(i64, Option<&str>, &str) -> Result<(String, Vec<Button>)>,
) -> Result<Added> {
    let staff = viewer.role.is_staff();
    if internal && !staff {
        return Err(RuntimeError::Forbidden("only staff can write internal notes".into()));
    }
    let now = Utc::now();
    let message = messages::ActiveModel {
        ticket_id: Set(ticket.id),
        author_id: Set(Some(viewer.user_id.get())),
        author_role: Set(viewer.role.as_str().to_owned()),
        text: Set(body.text().to_owned()),
        internal: Set(internal),
        created_at: Set(now),
        kind: Set(body.kind().to_owned()),
        details: Set(body.details().map(str::to_owned)),
        telegram_message_id: Set(body.telegram_message_id()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let (message, files) = attach(txn, viewer.user_id, message, body.files()).await?;

    let status = ticket.status;
    let customer_id = ticket.customer_id;
    let ticket_number = ticket.id;
    let first_response_missing = ticket.first_response_at.is_none();
    let mut am: tickets::ActiveModel = ticket.into();
    am.updated_at = Set(now);
    if staff && !internal {
        if first_response_missing && viewer.user_id.get() != customer_id {
            am.first_response_at = Set(Some(now));
        }
        am.status = Set(TicketStatus::WaitingResponse);
    } else if !staff {
        let next = match status {
            TicketStatus::WaitingResponse => TicketStatus::InProgress,
            TicketStatus::Resolved | TicketStatus::Closed => TicketStatus::Open,
            s => s,
        };
        if !status.is_active() {
            // Reopened: the ticket is neither resolved nor closed any more.
            am.resolved_at = Set(None);
            am.closed_at = Set(None);
            crate::desk::audit::record(txn, Some(viewer.user_id.get()), "ticket.reopened", Some(ticket_number), format!("{status} → open by the customer's message")).await?;
        }
        am.status = Set(next);
    }
    let ticket = am.update(txn).await?;

    let mut queued = None;
    if staff && !internal && viewer.user_id.get() != customer_id {
        let customer = users::Entity::find_by_id(customer_id).one(txn).await?.ok_or(RuntimeError::NotFound("customer"))?;
        // Files alone are announced by their names.
        let shown = if body.text().is_empty() {
            files.iter().map(|f| format!("📎 {}", f.name)).collect::<Vec<_>>().join("\n")
        } else {
            body.text().to_owned()
        };
        let (text, buttons) = delivery(ticket_number, customer.language_code.as_deref(), &shown)?;
        let mut last = enqueue_rows(txn, customer.telegram_id, text, Some(message.id), &buttons, None, Some(ticket_number)).await?;
        for f in &files {
            last = enqueue_file(txn, customer.telegram_id, f.id, message.id).await?;
        }
        queued = Some(last);
    }
    if !internal {
        // Last: the day's counter is a row every message of the desk updates.
        crate::desk::usage::count(txn, crate::desk::usage::MESSAGES, 1).await?;
    }
    Ok(Added { message, ticket, outbox: queued })
}

/// Telegram's limit on a message's text
/// (<https://core.telegram.org/bots/api#sendmessage>: 1-4096 characters).
/// Counted in UTF-16 code units, which is never fewer than characters.
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// Splits a text into pieces Telegram accepts, in order, breaking at the
/// last line break (else space) before the limit when there is one. Linear
/// in the text: each piece looks only at its own window, and a window is
/// searched back for a break at most once.
pub fn split_for_telegram(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        // The byte index where the limit falls, if the rest goes past it.
        let mut units = 0;
        let mut hard = None;
        for (i, c) in rest.char_indices() {
            if units + c.len_utf16() > TELEGRAM_TEXT_LIMIT {
                hard = Some(i);
                break;
            }
            units += c.len_utf16();
        }
        let Some(hard) = hard else { break };
        let window = &rest[..hard];
        let cut = window.rfind('\n').or_else(|| window.rfind(' ')).filter(|&i| i > hard / 2).map_or(hard, |i| i + 1);
        out.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// Queues a text for a chat; the sender delivers it after commit. A text
/// longer than Telegram takes becomes several messages, in order.
pub async fn enqueue(txn: &DatabaseTransaction, chat_id: i64, text: String, message_id: Option<i64>) -> Result<outbox::Model> {
    enqueue_with_buttons(txn, chat_id, text, message_id, &[]).await
}

/// An inline button under a bot message, one per row, as the outbox keeps
/// it (`{"text","data"}`, `{"text","web_app"}` or `{"text","url"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Button {
    /// Pressing it sends `data` back as a callback query.
    Callback { text: String, data: String },
    /// Opens `web_app` (an https URL) as a Mini App.
    WebApp { text: String, web_app: String },
    /// Opens `url` in the browser.
    Url { text: String, url: String },
    /// Several buttons side by side in one row.
    Row { row: Vec<Button> },
}

/// Queues a text with inline buttons under its last piece. Returns the last
/// row.
pub async fn enqueue_with_buttons(
    txn: &DatabaseTransaction,
    chat_id: i64,
    text: String,
    message_id: Option<i64>,
    buttons: &[Button],
) -> Result<outbox::Model> {
    enqueue_rows(txn, chat_id, text, message_id, buttons, None, None).await
}

/// Queues a notice to a ticket's customer about the ticket (its opening, a
/// status change, the rating question): a reply to it continues that
/// ticket ([`ticket_replied_to`]). Returns the last row.
pub async fn enqueue_about(txn: &DatabaseTransaction, chat_id: i64, text: String, ticket: i64, buttons: &[Button]) -> Result<outbox::Model> {
    enqueue_rows(txn, chat_id, text, None, buttons, None, Some(ticket)).await
}

/// The ticket a bot message in a customer's chat was about, found by the
/// Telegram message it became: a staff answer's (or its file's) ticket, or
/// a notice's. `None` for other messages, and for ones long gone from the
/// outbox.
pub async fn ticket_replied_to(txn: &DatabaseTransaction, chat_id: i64, telegram_message_id: i64) -> Result<Option<tickets::Model>> {
    let Some(row) = outbox::Entity::find()
        .filter(outbox::Column::ChatId.eq(chat_id))
        .filter(outbox::Column::TelegramMessageId.eq(telegram_message_id))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let id = match (row.ticket_id, row.message_id) {
        (Some(t), _) => Some(t),
        (None, Some(m)) => messages::Entity::find_by_id(m).one(txn).await?.map(|m| m.ticket_id),
        (None, None) => None,
    };
    Ok(match id {
        Some(id) => tickets_by_id(txn, id).await?,
        None => None,
    })
}

/// A customer's edit of their Telegram message `telegram_message_id`: the
/// desk's copy (theirs, not deleted) takes the new text, its text before
/// kept in its revisions; the edit is audited. Returns the ticket and the
/// message, or `None` when the desk has no such message (or the text did
/// not change, as when only a link preview did).
pub async fn edit_by_customer(txn: &DatabaseTransaction, customer: &users::Model, telegram_message_id: i64, text: &str) -> Result<Option<(tickets::Model, messages::Model)>> {
    let Some(m) = messages::Entity::find()
        .filter(messages::Column::TelegramMessageId.eq(telegram_message_id))
        .filter(messages::Column::AuthorId.eq(customer.id))
        .filter(messages::Column::DeletedAt.is_null())
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let text = text.trim();
    if text == m.text || (text.is_empty() && m.attachments.is_none()) {
        return Ok(None);
    }
    let text = cut(text, MessageText::MAX_CHARS);
    let now = Utc::now();
    let mut revisions = messages::revisions_of(m.revisions.as_deref());
    revisions.push(messages::Revision { text: m.text.clone(), replaced_at: now });
    let ticket_id = m.ticket_id;
    let before = m.text.clone();
    let mut am: messages::ActiveModel = m.into();
    am.text = Set(text.clone());
    am.edited_at = Set(Some(now));
    am.revisions = Set(Some(serde_json::to_string(&revisions).map_err(|e| RuntimeError::Internal(e.into()))?));
    let m = am.update(txn).await?;
    crate::desk::audit::record(txn, Some(customer.id), "message.edited", Some(ticket_id), format!("message {} by the customer in Telegram: {} → {}", m.id, crate::desk::audit::quoted(&before), crate::desk::audit::quoted(&text))).await?;
    let Some(t) = tickets_by_id(txn, ticket_id).await? else { return Ok(None) };
    Ok(Some((t, m)))
}

/// The customer's ticket resolved within the last `days` days, if any (the
/// latest): their next message reopens it rather than opening a new one.
pub async fn recently_resolved_of(txn: &DatabaseTransaction, customer: UserId, days: u32) -> Result<Option<tickets::Model>> {
    if days == 0 {
        return Ok(None);
    }
    let since = Utc::now() - chrono::Duration::days(i64::from(days));
    Ok(tickets::Entity::find()
        .filter(tickets::Column::CustomerId.eq(customer.get()))
        .filter(tickets::Column::Status.eq(TicketStatus::Resolved.as_str()))
        .filter(tickets::Column::ResolvedAt.gte(since))
        .order_by_desc(tickets::Column::ResolvedAt)
        .one(txn)
        .await?)
}

/// Queues a text with buttons, into a ticket's forum topic when
/// `topic_ticket` is given (the staff group's), about the ticket `about`
/// when it is a notice to the customer. Returns the last row.
pub async fn enqueue_rows(
    txn: &DatabaseTransaction,
    chat_id: i64,
    text: String,
    message_id: Option<i64>,
    buttons: &[Button],
    topic_ticket: Option<i64>,
    about: Option<i64>,
) -> Result<outbox::Model> {
    let markup = if buttons.is_empty() { None } else { Some(serde_json::to_string(buttons).map_err(|e| RuntimeError::Internal(e.into()))?) };
    let pieces = split_for_telegram(&text);
    let n = pieces.len();
    let mut last = None;
    for (i, piece) in pieces.into_iter().enumerate() {
        last = Some(
            outbox::ActiveModel {
                chat_id: Set(chat_id),
                text: Set(piece),
                reply_markup: Set(if i + 1 == n { markup.clone() } else { None }),
                message_id: Set(message_id),
                status: Set(outbox::PENDING.to_owned()),
                attempts: Set(0),
                created_at: Set(Utc::now()),
                topic_ticket_id: Set(topic_ticket),
                ticket_id: Set(about),
                ..Default::default()
            }
            .insert(txn)
            .await?,
        );
    }
    last.ok_or_else(|| RuntimeError::Internal(anyhow::anyhow!("nothing to enqueue")))
}

/// Queues a file for a chat (sent with `sendPhoto` or `sendDocument`).
pub async fn enqueue_file(txn: &DatabaseTransaction, chat_id: i64, attachment_id: i64, message_id: i64) -> Result<outbox::Model> {
    Ok(outbox::ActiveModel {
        chat_id: Set(chat_id),
        text: Set(String::new()),
        message_id: Set(Some(message_id)),
        attachment_id: Set(Some(attachment_id)),
        status: Set(outbox::PENDING.to_owned()),
        attempts: Set(0),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// Adds a tag to a ticket (once).
pub async fn add_tag(txn: &DatabaseTransaction, ticket: TicketId, tag: &str) -> Result<()> {
    use crate::storage::entities::ticket_tags;
    use sea_orm::sea_query::OnConflict;
    let res = ticket_tags::Entity::insert(ticket_tags::ActiveModel { ticket_id: Set(ticket.get()), tag: Set(cut(tag, 64)) })
        .on_conflict(OnConflict::columns([ticket_tags::Column::TicketId, ticket_tags::Column::Tag]).do_nothing().to_owned())
        .exec(txn)
        .await;
    match res {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn tags_of(txn: &DatabaseTransaction, ticket: TicketId) -> Result<Vec<String>> {
    use crate::storage::entities::ticket_tags;
    Ok(ticket_tags::Entity::find()
        .filter(ticket_tags::Column::TicketId.eq(ticket.get()))
        .order_by_asc(ticket_tags::Column::Tag)
        .all(txn)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect())
}

async fn update_ticket(txn: &DatabaseTransaction, ticket: TicketId, f: impl FnOnce(&mut tickets::ActiveModel)) -> Result<()> {
    let t = tickets::Entity::find_by_id(ticket.get()).one(txn).await?.ok_or(RuntimeError::NotFound("ticket"))?;
    let mut am: tickets::ActiveModel = t.into();
    f(&mut am);
    am.updated_at = Set(Utc::now());
    am.update(txn).await?;
    Ok(())
}

pub async fn set_priority(txn: &DatabaseTransaction, ticket: TicketId, p: Priority) -> Result<()> {
    update_ticket(txn, ticket, |am| am.priority = Set(p)).await
}

/// Puts a ticket in the category with this name, creating the category the
/// first time it is named.
pub async fn set_category(txn: &DatabaseTransaction, ticket: TicketId, name: &str) -> Result<()> {
    use crate::storage::entities::categories;
    let name = cut(name.trim(), 64);
    let cat = match categories::Entity::find().filter(categories::Column::Name.eq(name.clone())).one(txn).await? {
        Some(c) => c,
        None => {
            categories::ActiveModel {
                name: Set(name),
                sort_order: Set(0),
                active: Set(true),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(txn)
            .await?
        }
    };
    update_ticket(txn, ticket, |am| am.category_id = Set(Some(cat.id))).await
}

/// Assigns a ticket as a plugin asks: to a staff member by Telegram
/// username (`@name` names only a person), or else to a team by name, whose
/// rule picks the agent ([`crate::desk::teams::give`]). A name that is
/// neither becomes an internal note instead, so the intent is not lost.
pub async fn assign_by_username(txn: &DatabaseTransaction, ticket: TicketId, who: &str) -> Result<bool> {
    let person_only = who.trim().starts_with('@');
    let name = who.trim().trim_start_matches('@').to_owned();
    let staff = users::Entity::find()
        .filter(users::Column::Username.eq(name.clone()))
        .filter(users::Column::Role.is_in([Role::Helper.as_str(), Role::Moderator.as_str(), Role::Admin.as_str(), Role::Owner.as_str()]))
        .one(txn)
        .await?;
    if let Some(u) = staff {
        update_ticket(txn, ticket, |am| am.assignee_id = Set(Some(u.id))).await?;
        return Ok(true);
    }
    let team = if person_only { None } else { crate::desk::teams::by_name(txn, &name).await? };
    match (team, tickets_by_id(txn, ticket.get()).await?) {
        (Some(team), Some(t)) => {
            crate::desk::teams::give(txn, t, team.id).await?;
            Ok(true)
        }
        _ => {
            add_note(txn, ticket, &format!("Could not assign to {who}: no staff member with that username and no team of that name.")).await?;
            Ok(false)
        }
    }
}

/// An internal note written by the desk itself (a plugin, a rule).
pub async fn add_note(txn: &DatabaseTransaction, ticket: TicketId, text: &str) -> Result<()> {
    messages::ActiveModel {
        ticket_id: Set(ticket.get()),
        author_id: Set(None),
        author_role: Set("system".to_owned()),
        text: Set(cut(text, MessageText::MAX_CHARS)),
        internal: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_split_at_line_breaks_within_the_limit() {
        assert_eq!(split_for_telegram("hi"), vec!["hi"]);
        assert_eq!(split_for_telegram(""), vec![""]);
        let exact = "x".repeat(TELEGRAM_TEXT_LIMIT);
        assert_eq!(split_for_telegram(&exact), vec![exact.clone()]);
        let text = format!("{}\n{}", "a".repeat(3000), "b".repeat(3000));
        let parts = split_for_telegram(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], format!("{}\n", "a".repeat(3000)));
        assert_eq!(parts.concat(), text);
        // No break anywhere: a hard cut at the limit.
        let solid = "y".repeat(9000);
        let parts = split_for_telegram(&solid);
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![4096, 4096, 808]);
        // Astral characters count two UTF-16 units each and are never cut in half.
        let emoji = "😀".repeat(3000);
        let parts = split_for_telegram(&emoji);
        assert!(parts.iter().all(|p| p.encode_utf16().count() <= TELEGRAM_TEXT_LIMIT));
        assert_eq!(parts.concat(), emoji);
    }
}

/// Messages of a ticket after `seen` that someone other than `me` wrote
/// (the customer, other staff, the bot), oldest first, at most 20: what a
/// page showing messages up to `seen` missed.
pub async fn newer_than(txn: &DatabaseTransaction, ticket: i64, seen: i64, me: i64) -> Result<Vec<messages::Model>> {
    Ok(messages::Entity::find()
        .filter(messages::Column::TicketId.eq(ticket))
        .filter(messages::Column::Id.gt(seen))
        .filter(messages::Column::DeletedAt.is_null())
        .filter(sea_orm::Condition::any().add(messages::Column::AuthorId.is_null()).add(messages::Column::AuthorId.ne(me)))
        .order_by_asc(messages::Column::Id)
        .limit(20)
        .all(txn)
        .await?)
}
