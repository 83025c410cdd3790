//! Tickets, their messages and the people in them, inside one tenant's
//! transaction. No network here: what must reach Telegram is written to the
//! outbox in the same transaction and delivered after commit.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::domain::{MessageText, Priority, Role, TicketDescription, TicketId, TicketStatus, TicketTitle, UserId};
use crate::entities::{messages, outbox, tickets, users};
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

/// Finds or creates the tenant's user for a Telegram account and refreshes
/// their profile. The tenant's owner account always holds the owner role.
pub async fn upsert_user(txn: &DatabaseTransaction, p: &TelegramProfile, owner_telegram_id: i64) -> Result<users::Model> {
    let now = Utc::now();
    let existing = users::Entity::find().filter(users::Column::TelegramId.eq(p.telegram_id)).one(txn).await?;
    let is_owner = p.telegram_id == owner_telegram_id;
    match existing {
        Some(u) => {
            let changed = u.first_name != cut(&p.first_name, 128)
                || u.username != p.username
                || u.last_name != p.last_name
                || (is_owner && u.role != Role::Owner.as_str());
            if !changed {
                return Ok(u);
            }
            let mut am: users::ActiveModel = u.into();
            am.first_name = Set(cut(&p.first_name, 128));
            am.last_name = Set(p.last_name.as_deref().map(|s| cut(s, 128)));
            am.username = Set(p.username.as_deref().map(|s| cut(s, 64)));
            if is_owner {
                am.role = Set(Role::Owner.as_str().to_owned());
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
                role: Set(role.as_str().to_owned()),
                blocked: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            Ok(am.insert(txn).await?)
        }
    }
}

/// Who is asking, inside a tenant.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: UserId,
    pub telegram_id: i64,
    pub role: Role,
}

impl Viewer {
    pub fn from_user(u: &users::Model) -> Result<Viewer> {
        Ok(Viewer { user_id: UserId(u.id), telegram_id: u.telegram_id, role: Role::parse(&u.role)? })
    }
}

pub async fn tickets_by_id(txn: &DatabaseTransaction, id: i64) -> Result<Option<tickets::Model>> {
    Ok(tickets::Entity::find_by_id(id).one(txn).await?)
}

/// The customer's active ticket, if any: the one their next message continues.
pub async fn active_ticket_of(txn: &DatabaseTransaction, customer: UserId) -> Result<Option<tickets::Model>> {
    Ok(tickets::Entity::find()
        .filter(tickets::Column::CustomerId.eq(customer.0))
        .filter(tickets::Column::Status.is_not_in([TicketStatus::Resolved.as_str(), TicketStatus::Closed.as_str()]))
        .order_by_desc(tickets::Column::UpdatedAt)
        .one(txn)
        .await?)
}

pub async fn create_ticket(
    txn: &DatabaseTransaction,
    customer: UserId,
    title: &TicketTitle,
    description: &TicketDescription,
    priority: Priority,
) -> Result<tickets::Model> {
    let now = Utc::now();
    let ticket = tickets::ActiveModel {
        customer_id: Set(customer.0),
        title: Set(title.as_str().to_owned()),
        description: Set(description.as_str().to_owned()),
        status: Set(TicketStatus::Open.as_str().to_owned()),
        priority: Set(priority.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    messages::ActiveModel {
        ticket_id: Set(ticket.id),
        author_id: Set(Some(customer.0)),
        author_role: Set(Role::User.as_str().to_owned()),
        text: Set(description.as_str().to_owned()),
        internal: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(ticket)
}

/// Filters of a ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub limit: u64,
    pub offset: u64,
}

/// Tickets the viewer may see, most recently updated first, and their count.
pub async fn list_tickets(txn: &DatabaseTransaction, viewer: &Viewer, f: &TicketFilter) -> Result<(Vec<tickets::Model>, u64)> {
    let mut q = tickets::Entity::find();
    if !viewer.role.is_staff() {
        q = q.filter(tickets::Column::CustomerId.eq(viewer.user_id.0));
    }
    if let Some(s) = f.status {
        q = q.filter(tickets::Column::Status.eq(s.as_str()));
    }
    let total = q.clone().count(txn).await?;
    let items = q
        .order_by_desc(tickets::Column::UpdatedAt)
        .order_by_desc(tickets::Column::Id)
        .limit(f.limit.clamp(1, 100))
        .offset(f.offset)
        .all(txn)
        .await?;
    Ok((items, total))
}

/// One ticket, if the viewer may see it. Someone else's ticket is "not
/// found", exactly like a missing one.
pub async fn get_ticket(txn: &DatabaseTransaction, viewer: &Viewer, id: TicketId) -> Result<tickets::Model> {
    let t = tickets::Entity::find_by_id(id.0).one(txn).await?.ok_or(RuntimeError::NotFound("ticket"))?;
    if !viewer.role.is_staff() && t.customer_id != viewer.user_id.0 {
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
    text: &MessageText,
    internal: bool,
    delivery: impl FnOnce(i64) -> Result<String>,
) -> Result<Added> {
    let staff = viewer.role.is_staff();
    if internal && !staff {
        return Err(RuntimeError::Forbidden("only staff can write internal notes".into()));
    }
    let now = Utc::now();
    let message = messages::ActiveModel {
        ticket_id: Set(ticket.id),
        author_id: Set(Some(viewer.user_id.0)),
        author_role: Set(viewer.role.as_str().to_owned()),
        text: Set(text.as_str().to_owned()),
        internal: Set(internal),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;

    let status = TicketStatus::parse(&ticket.status)?;
    let customer_id = ticket.customer_id;
    let ticket_number = ticket.id;
    let first_response_missing = ticket.first_response_at.is_none();
    let mut am: tickets::ActiveModel = ticket.into();
    am.updated_at = Set(now);
    if staff && !internal {
        if first_response_missing && viewer.user_id.0 != customer_id {
            am.first_response_at = Set(Some(now));
        }
        am.status = Set(TicketStatus::WaitingResponse.as_str().to_owned());
    } else if !staff {
        let next = match status {
            TicketStatus::WaitingResponse => TicketStatus::InProgress,
            TicketStatus::Resolved | TicketStatus::Closed => TicketStatus::Open,
            s => s,
        };
        am.status = Set(next.as_str().to_owned());
    }
    am.update(txn).await?;

    let mut queued = None;
    if staff && !internal && viewer.user_id.0 != customer_id {
        let customer = users::Entity::find_by_id(customer_id).one(txn).await?.ok_or(RuntimeError::NotFound("customer"))?;
        let body = delivery(ticket_number)?;
        queued = Some(enqueue(txn, customer.telegram_id, body, Some(message.id)).await?);
    }
    Ok(Added { message, outbox: queued })
}

/// Queues a text for a chat; the sender delivers it after commit.
pub async fn enqueue(txn: &DatabaseTransaction, chat_id: i64, text: String, message_id: Option<i64>) -> Result<outbox::Model> {
    Ok(outbox::ActiveModel {
        chat_id: Set(chat_id),
        text: Set(text),
        reply_markup: Set(None),
        message_id: Set(message_id),
        status: Set(outbox::PENDING.to_owned()),
        attempts: Set(0),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?)
}

/// Queues a text with inline buttons (`(text, callback data)` pairs).
pub async fn enqueue_with_buttons(txn: &DatabaseTransaction, chat_id: i64, text: String, buttons: &[(String, String)]) -> Result<outbox::Model> {
    let mut o = enqueue(txn, chat_id, text, None).await?;
    if !buttons.is_empty() {
        let markup = serde_json::to_string(&buttons.iter().map(|(t, d)| serde_json::json!({"text": t, "data": d})).collect::<Vec<_>>())
            .map_err(|e| RuntimeError::Internal(e.into()))?;
        let mut am: outbox::ActiveModel = o.into();
        am.reply_markup = Set(Some(markup));
        o = am.update(txn).await?;
    }
    Ok(o)
}

/// Adds a tag to a ticket (once).
pub async fn add_tag(txn: &DatabaseTransaction, ticket: TicketId, tag: &str) -> Result<()> {
    use crate::entities::ticket_tags;
    use sea_orm::sea_query::OnConflict;
    let res = ticket_tags::Entity::insert(ticket_tags::ActiveModel { ticket_id: Set(ticket.0), tag: Set(cut(tag, 64)) })
        .on_conflict(OnConflict::columns([ticket_tags::Column::TicketId, ticket_tags::Column::Tag]).do_nothing().to_owned())
        .exec(txn)
        .await;
    match res {
        Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn tags_of(txn: &DatabaseTransaction, ticket: TicketId) -> Result<Vec<String>> {
    use crate::entities::ticket_tags;
    Ok(ticket_tags::Entity::find()
        .filter(ticket_tags::Column::TicketId.eq(ticket.0))
        .order_by_asc(ticket_tags::Column::Tag)
        .all(txn)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect())
}

async fn update_ticket(txn: &DatabaseTransaction, ticket: TicketId, f: impl FnOnce(&mut tickets::ActiveModel)) -> Result<()> {
    let t = tickets::Entity::find_by_id(ticket.0).one(txn).await?.ok_or(RuntimeError::NotFound("ticket"))?;
    let mut am: tickets::ActiveModel = t.into();
    f(&mut am);
    am.updated_at = Set(Utc::now());
    am.update(txn).await?;
    Ok(())
}

pub async fn set_priority(txn: &DatabaseTransaction, ticket: TicketId, p: Priority) -> Result<()> {
    update_ticket(txn, ticket, |am| am.priority = Set(p.as_str().to_owned())).await
}

/// Puts a ticket in the category with this name, creating the category the
/// first time it is named.
pub async fn set_category(txn: &DatabaseTransaction, ticket: TicketId, name: &str) -> Result<()> {
    use crate::entities::categories;
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

/// Assigns a ticket to a staff member by Telegram username; an unknown name
/// becomes an internal note instead, so the intent is not lost.
pub async fn assign_by_username(txn: &DatabaseTransaction, ticket: TicketId, who: &str) -> Result<bool> {
    let name = who.trim().trim_start_matches('@').to_owned();
    let staff = users::Entity::find()
        .filter(users::Column::Username.eq(name.clone()))
        .filter(users::Column::Role.is_in([Role::Helper.as_str(), Role::Moderator.as_str(), Role::Admin.as_str(), Role::Owner.as_str()]))
        .one(txn)
        .await?;
    match staff {
        Some(u) => {
            update_ticket(txn, ticket, |am| am.assignee_id = Set(Some(u.id))).await?;
            Ok(true)
        }
        None => {
            add_note(txn, ticket, &format!("Could not assign to {who}: no staff member with that username.")).await?;
            Ok(false)
        }
    }
}

/// An internal note written by the desk itself (a plugin, a rule).
pub async fn add_note(txn: &DatabaseTransaction, ticket: TicketId, text: &str) -> Result<()> {
    messages::ActiveModel {
        ticket_id: Set(ticket.0),
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
