//! A ticket's conversation: reading it, writing in it, editing and deleting a message.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::domain::{MessageBody, MessageText, TicketId};
use tikethet_runtime::storage::entities::messages;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct MessageEdit {
    /// Required (not blank), at most 4096 characters, no NUL.
    #[oai(validator(min_length = 1, max_length = 4096, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"))]
    pub text: String,
}

#[derive(Debug, Object)]
pub struct MessageView {
    pub id: i64,
    pub ticket_id: i64,
    #[oai(nullable)]
    pub author_id: Option<i64>,
    /// The author's role when they wrote it.
    pub author_role: String,
    pub text: String,
    /// Internal notes are visible to staff only.
    pub internal: bool,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub edited_at: Option<DateTime<Utc>>,
    /// A deleted message keeps its place with its text removed.
    pub deleted: bool,
    /// Its files, in the order they were sent.
    pub attachments: Vec<super::files::AttachmentView>,
    /// `text`, or the kind of what a customer sent from Telegram: `photo`,
    /// `document`, `voice`, `audio`, `video`, `video_note`, `animation`,
    /// `sticker` (each with its file in `attachments`), `location`,
    /// `venue`, `contact`, or `unsupported` (a kind the desk cannot show,
    /// named in `unsupported`; `text` says what it was).
    pub kind: String,
    /// A location's or venue's place.
    #[oai(nullable)]
    pub location: Option<PlaceView>,
    /// A shared contact.
    #[oai(nullable)]
    pub contact: Option<ContactView>,
    /// How long a voice note, audio file or video plays, in seconds.
    #[oai(nullable)]
    pub duration: Option<u32>,
    /// A sticker's emoji.
    #[oai(nullable)]
    pub emoji: Option<String>,
    /// The Bot API's name for an unsupported kind (`poll`, `dice`, …).
    #[oai(nullable)]
    pub unsupported: Option<String>,
    /// The texts a customer's message had before they edited it in
    /// Telegram, oldest first.
    pub revisions: Vec<RevisionView>,
}

#[derive(Debug, Object)]
pub struct RevisionView {
    pub text: String,
    /// When the edit replaced it.
    pub replaced_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct PlaceView {
    pub latitude: f64,
    pub longitude: f64,
    /// A venue's name and address.
    #[oai(nullable)]
    pub title: Option<String>,
    #[oai(nullable)]
    pub address: Option<String>,
    /// The place on OpenStreetMap.
    pub map_url: String,
}

#[derive(Debug, Object)]
pub struct ContactView {
    pub phone_number: String,
    pub first_name: String,
    #[oai(nullable)]
    pub last_name: Option<String>,
    /// The contact's Telegram user id, when they use Telegram.
    #[oai(nullable)]
    pub telegram_user_id: Option<i64>,
}

impl From<messages::Model> for MessageView {
    fn from(m: messages::Model) -> Self {
        MessageView {
            id: m.id,
            ticket_id: m.ticket_id,
            author_id: m.author_id,
            author_role: m.author_role,
            text: m.text,
            internal: m.internal,
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted: m.deleted_at.is_some(),
            attachments: tikethet_runtime::storage::files::refs_of(m.attachments.as_deref()).into_iter().map(Into::into).collect(),
            revisions: messages::revisions_of(m.revisions.as_deref()).into_iter().map(|r| RevisionView { text: r.text, replaced_at: r.replaced_at }).collect(),
            ..details_of(m.kind, m.details.as_deref())
        }
    }
}

/// The kind's fields of a message view (the rest left to the caller).
fn details_of(kind: String, stored: Option<&str>) -> MessageView {
    use tikethet_runtime::worker::incoming::Details;
    let details = Details::parse(stored);
    let mut v = MessageView {
        id: 0,
        ticket_id: 0,
        author_id: None,
        author_role: String::new(),
        text: String::new(),
        internal: false,
        created_at: DateTime::<Utc>::MIN_UTC,
        edited_at: None,
        deleted: false,
        attachments: Vec::new(),
        kind,
        location: None,
        contact: None,
        duration: None,
        emoji: None,
        unsupported: None,
        revisions: Vec::new(),
    };
    let map_url = details.as_ref().and_then(Details::map_url).unwrap_or_default();
    match details {
        Some(Details::Location { latitude, longitude }) => v.location = Some(PlaceView { latitude, longitude, title: None, address: None, map_url }),
        Some(Details::Venue { latitude, longitude, title, address }) => v.location = Some(PlaceView { latitude, longitude, title: Some(title), address: Some(address), map_url }),
        Some(Details::Contact { phone_number, first_name, last_name, user_id }) => {
            v.contact = Some(ContactView { phone_number, first_name, last_name, telegram_user_id: user_id.and_then(|u| i64::try_from(u).ok()) })
        }
        Some(Details::Media { duration }) => v.duration = Some(duration),
        Some(Details::Sticker { emoji }) => v.emoji = emoji,
        Some(Details::Unsupported { telegram_type }) => v.unsupported = Some(telegram_type),
        None => {}
    }
    v
}

#[derive(Debug, Object)]
pub struct MessageList {
    pub items: Vec<MessageView>,
}

#[derive(Debug, Object)]
pub struct NewMessage {
    /// At most 4096 characters, no NUL; not blank unless files go with it.
    #[oai(validator(max_length = 4096, pattern = r"^[^\x00]*$"))]
    pub text: String,
    /// Uploads (`POST …/uploads`) sent with the message, at most 10.
    #[oai(validator(max_items = 10, unique_items = true))]
    pub attachment_ids: Option<Vec<i64>>,
    /// Staff only: a note the customer never sees.
    pub internal: Option<bool>,
}

#[derive(ApiResponse)]
pub enum MessageCreated {
    /// Stored; a staff answer is on its way to the customer's chat.
    #[oai(status = 201)]
    Created(Json<MessageView>),
}

pub struct MessagesApi {
    pub state: AppState,
}

#[OpenApi]
impl MessagesApi {
    /// A ticket's conversation
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages", method = "get", tag = "Tag::Tickets")]
    async fn messages(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<MessageList>, ApiError> {
        let ctx = auth.0;
        let items = ctx.messages(TicketId::new(id.0)).await?.into_iter().map(Into::into).collect();
        Ok(Json(MessageList { items }))
    }

    /// Write in a ticket
    ///
    /// A staff member's message (not internal) is sent to the customer
    /// through the desk's bot.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages", method = "post", tag = "Tag::Tickets")]
    async fn post_message(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<NewMessage>) -> Result<MessageCreated, ApiError> {
        let ctx = auth.0;
        let message = MessageBody::parse(&body.0.text, body.0.attachment_ids.as_deref().unwrap_or_default())?;
        let m = ctx.post_message(TicketId::new(id.0), &message, body.0.internal.unwrap_or(false)).await?;
        Ok(MessageCreated::Created(Json(m.into())))
    }

    /// Edit a message
    ///
    /// Only its author, within 24 hours of writing it. A staff answer the
    /// customer already has is edited in their Telegram chat too
    /// (`editMessageText`); 409 when it went as several Telegram messages
    /// and would now take another number of them.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages/:message_id", method = "patch", tag = "Tag::Tickets")]
    async fn edit_message(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, message_id: Path<i64>, auth: TenantAuth, body: Json<MessageEdit>) -> Result<Json<MessageView>, ApiError> {
        let ctx = auth.0;
        let text = MessageText::parse(&body.0.text)?;
        Ok(Json(ctx.edit_message(TicketId::new(id.0), message_id.0, &text).await?.into()))
    }

    /// Delete a message
    ///
    /// Its author within 24 hours, or a moderator and up at any time. The
    /// message keeps its place with its text removed. A staff answer leaves
    /// the customer's Telegram chat too (`deleteMessage`; one not sent yet
    /// never goes); Telegram lets a bot delete its messages for 48 hours,
    /// so for an older answer this is 409 unless `desk_only=true`, which
    /// deletes it in the desk and leaves the customer's chat as it is.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages/:message_id", method = "delete", tag = "Tag::Tickets")]
    async fn delete_message(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        id: Path<i64>,
        message_id: Path<i64>,
        desk_only: Query<Option<bool>>,
        auth: TenantAuth,
    ) -> Result<Json<MessageView>, ApiError> {
        let ctx = auth.0;
        Ok(Json(ctx.delete_message(TicketId::new(id.0), message_id.0, desk_only.0.unwrap_or(false)).await?.into()))
    }
}
