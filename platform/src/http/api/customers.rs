//! Customers: notes staff keep about one, their custom attributes, and
//! opening a conversation with one who has talked to the bot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::desk::customers::Attributes;
use tikethet_runtime::domain::{MessageText, Role, TicketTitle};
use tikethet_runtime::storage::entities::customer_notes;

use super::people::UserView;
use super::tickets::TicketView;
use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct CustomerNoteView {
    pub id: i64,
    #[oai(nullable)]
    pub author_id: Option<i64>,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

impl From<customer_notes::Model> for CustomerNoteView {
    fn from(n: customer_notes::Model) -> Self {
        CustomerNoteView { id: n.id, author_id: n.author_id, text: n.text, created_at: n.created_at }
    }
}

#[derive(Debug, Object)]
pub struct CustomerNoteList {
    pub items: Vec<CustomerNoteView>,
}

#[derive(Debug, Object)]
pub struct CustomerNoteInput {
    /// Up to 4,096 characters.
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub text: String,
}

#[derive(Debug, Object)]
pub struct AttributesInput {
    /// Every attribute the customer carries (this replaces them): names of
    /// 1 to 64 lowercase letters, digits and `_`; values up to 500
    /// characters on one line; at most 50.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Object)]
pub struct ReachOut {
    /// The new ticket's title: at most 200 characters, one line.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: String,
    /// The first message, sent to the customer through the bot.
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub text: String,
}

#[derive(ApiResponse)]
pub enum NoteCreated {
    #[oai(status = 201)]
    Created(Json<CustomerNoteView>),
}

#[derive(ApiResponse)]
pub enum Opened {
    #[oai(status = 201)]
    Created(Json<TicketView>),
}

pub struct CustomersApi {
    pub state: AppState,
}

#[OpenApi]
impl CustomersApi {
    /// Notes about a customer (moderators and up)
    #[oai(path = "/t/:slug/api/v1/users/:id/notes", method = "get", tag = "Tag::People")]
    async fn notes(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<CustomerNoteList>, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        Ok(Json(CustomerNoteList { items: ctx.customer_profile(id.0).await?.notes.into_iter().map(Into::into).collect() }))
    }

    /// Keep a note about a customer (moderators and up)
    #[oai(path = "/t/:slug/api/v1/users/:id/notes", method = "post", tag = "Tag::People")]
    async fn add_note(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<CustomerNoteInput>) -> Result<NoteCreated, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        Ok(NoteCreated::Created(Json(ctx.note_customer(id.0, &MessageText::parse(&body.0.text)?).await?.into())))
    }

    /// Set a customer's custom attributes (moderators and up)
    #[oai(path = "/t/:slug/api/v1/users/:id/attributes", method = "put", tag = "Tag::People")]
    async fn set_attributes(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<AttributesInput>) -> Result<Json<UserView>, ApiError> {
        let ctx = auth.0.at_least(Role::Moderator)?;
        Ok(Json(ctx.set_attributes(id.0, Attributes::parse(body.0.attributes)?).await?.into()))
    }

    /// Open a conversation with a customer (staff)
    ///
    /// A new ticket whose first message is yours, sent through the bot and
    /// assigned to you. Telegram lets a bot write only to people who have
    /// started a chat with it and not blocked it since: anyone else is 409,
    /// with the reason.
    #[oai(path = "/t/:slug/api/v1/users/:id/tickets", method = "post", tag = "Tag::People")]
    async fn reach_out(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<ReachOut>) -> Result<Opened, ApiError> {
        let ctx = auth.0.at_least(Role::Helper)?;
        let t = ctx.reach_out(id.0, &TicketTitle::parse(&body.0.title)?, &MessageText::parse(&body.0.text)?).await?;
        Ok(Opened::Created(Json(t.into())))
    }
}
