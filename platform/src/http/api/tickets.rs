//! Tickets: the list with its filters, opening one, reading, changing and merging it, its tags (and the desk's tags).

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::desk::changes::TicketChanges;
use tikethet_runtime::desk::list::{AssigneeFilter, Cursor, SearchText, Sort, StatusCounts, TeamFilter, TicketQuery};
use tikethet_runtime::domain::{Invalid, Priority, TagName, TicketDescription, TicketId, TicketStatus, TicketTitle};
use tikethet_runtime::storage::entities::tickets;

use super::{Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct Counts {
    pub open: u64,
    pub in_progress: u64,
    pub waiting_response: u64,
    pub resolved: u64,
    pub closed: u64,
}

impl From<StatusCounts> for Counts {
    fn from(c: StatusCounts) -> Self {
        Counts { open: c.open, in_progress: c.in_progress, waiting_response: c.waiting_response, resolved: c.resolved, closed: c.closed }
    }
}

#[derive(Debug, Object)]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
    /// Tickets matching every filter, over all pages.
    pub total: u64,
    /// Tickets by status under every filter except `status`.
    pub counts: Counts,
}

/// Which ticket to merge this one into.
#[derive(Debug, Object)]
pub struct MergeBody {
    /// The customer's other ticket, which receives this one's messages.
    pub into: i64,
}

#[derive(Debug, Object)]
pub struct TicketPatch {
    /// At most 200 characters, one line.
    #[oai(validator(min_length = 1, max_length = 200, pattern = r"^\s*[^\s\x00](?:[^\n\x00]*[^\s\x00])?\s*$"))]
    pub title: Option<String>,
    /// A customer may only set `closed`; staff follow the lifecycle
    /// (a resolved or closed ticket can only be reopened to `open`).
    #[oai(validator(pattern = "^(open|in_progress|waiting_response|resolved|closed)$"))]
    pub status: Option<String>,
    #[oai(validator(pattern = "^(low|normal|high|critical)$"))]
    pub priority: Option<String>,
    /// `null` takes the ticket out of its category (moderators and up).
    #[oai(validator(minimum(value = "1")))]
    pub category_id: MaybeUndefined<i64>,
    /// A staff member, or `null` to unassign (moderators and up).
    #[oai(validator(minimum(value = "1")))]
    pub assignee_id: MaybeUndefined<i64>,
    /// A team, or `null` for none (moderators and up). Given to a team
    /// without `assignee_id`, the team's rule (round robin, fewest open)
    /// picks the assignee.
    #[oai(validator(minimum(value = "1")))]
    pub team_id: MaybeUndefined<i64>,
}

#[derive(Debug, Object)]
pub struct TicketView {
    /// The ticket's id, used in paths.
    pub id: i64,
    /// What customers see ("#42"): the ticket's number in this desk.
    pub number: i64,
    pub customer_id: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    #[oai(nullable)]
    pub category_id: Option<i64>,
    #[oai(nullable)]
    pub assignee_id: Option<i64>,
    /// The team the ticket is given to.
    #[oai(nullable)]
    pub team_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(nullable)]
    pub first_response_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub closed_at: Option<DateTime<Utc>>,
    /// In lists: the newest public message.
    #[oai(nullable)]
    pub last_message: Option<MessagePreview>,
}

/// The newest public message of a ticket, in lists.
#[derive(Debug, Object)]
pub struct MessagePreview {
    pub text: String,
    pub author_role: String,
    pub created_at: DateTime<Utc>,
}

impl From<tickets::Model> for TicketView {
    fn from(t: tickets::Model) -> Self {
        TicketView {
            id: t.id,
            number: t.id,
            last_message: None,
            customer_id: t.customer_id,
            title: t.title,
            description: t.description,
            status: t.status.to_string(),
            priority: t.priority.to_string(),
            category_id: t.category_id,
            assignee_id: t.assignee_id,
            team_id: t.team_id,
            created_at: t.created_at,
            updated_at: t.updated_at,
            first_response_at: t.first_response_at,
            resolved_at: t.resolved_at,
            closed_at: t.closed_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct NewTicket {
    /// Required, at most 200 characters, one line, no NUL (surrounding
    /// whitespace is trimmed).
    #[oai(validator(min_length = 1, max_length = 200, pattern = r"^\s*[^\s\x00](?:[^\n\x00]*[^\s\x00])?\s*$"))]
    pub title: String,
    /// Required (not blank), at most 2000 characters, no NUL.
    #[oai(validator(min_length = 1, max_length = 2000, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"))]
    pub description: String,
    /// `low`, `normal` (default), `high` or `critical`.
    #[oai(validator(pattern = "^(low|normal|high|critical)$"))]
    pub priority: Option<String>,
    /// An active category of the desk (see `GET …/categories`).
    #[oai(validator(minimum(value = "1"), maximum(value = "9007199254740991")))]
    pub category_id: Option<i64>,
    /// Uploads (`POST …/uploads`) sent with the description, at most 10.
    #[oai(validator(max_items = 10, unique_items = true))]
    pub attachment_ids: Option<Vec<i64>>,
}

#[derive(ApiResponse)]
pub enum TicketCreated {
    #[oai(status = 201)]
    Created(Json<TicketView>),
}

#[derive(Debug, Object)]
pub struct TagList {
    pub items: Vec<String>,
}

/// A tag to add.
#[derive(Debug, Object)]
pub struct TagBody {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub tag: String,
}

/// A tag's new name.
#[derive(Debug, Object)]
pub struct TagRename {
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: String,
}

/// A tag of the desk and how many tickets carry it.
#[derive(Debug, Object)]
pub struct DeskTagView {
    pub tag: String,
    pub tickets: u64,
}

#[derive(Debug, Object)]
pub struct DeskTagList {
    pub items: Vec<DeskTagView>,
}

/// A ticket list query from its parameters; every value checked here.
#[allow(clippy::too_many_arguments)]
fn ticket_query(
    status: Option<&str>,
    category: Option<i64>,
    priority: Option<&str>,
    assignee: Option<&str>,
    customer: Option<i64>,
    created_from: Option<DateTime<Utc>>,
    created_to: Option<DateTime<Utc>>,
    q: Option<&str>,
    tag: Option<&str>,
    team: Option<&str>,
    sort: Option<&str>,
    limit: Option<u64>,
    cursor: Option<&str>,
) -> Result<TicketQuery, Invalid> {
    let statuses = match status {
        Some(s) => s.split(',').map(TicketStatus::parse).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let sort = sort.map(Sort::parse).transpose()?.unwrap_or_default();
    if let (Some(a), Some(b)) = (created_from, created_to)
        && a >= b
    {
        return Err(Invalid::new("created_to", "must be after created_from"));
    }
    Ok(TicketQuery {
        statuses,
        category,
        priority: priority.map(Priority::parse).transpose()?,
        assignee: assignee.map(AssigneeFilter::parse).transpose()?,
        customer,
        created_from,
        created_to,
        search: q.map(SearchText::parse).transpose()?.flatten(),
        tag: tag.map(str::to_owned),
        team: team.map(TeamFilter::parse).transpose()?,
        sort,
        limit: limit.unwrap_or(20),
        cursor: cursor.map(|c| Cursor::parse(c, sort)).transpose()?,
    })
}

pub struct TicketsApi {
    pub state: AppState,
}

#[OpenApi]
impl TicketsApi {
    /// List tickets
    ///
    /// Customers see their own tickets, helpers those assigned to them,
    /// moderators and up all of the desk's. Pages are keyset pages: pass
    /// `next_cursor` back as `cursor`. `counts` count by status under every
    /// filter but `status`; `total` counts under all of them.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/t/:slug/api/v1/tickets", method = "get", tag = "Tag::Tickets")]
    async fn list_tickets(
        &self,
        #[oai(name = "slug")] _slug: Path<String>,
        auth: TenantAuth,
        /// One status or several separated by commas: `open`, `in_progress`,
        /// `waiting_response`, `resolved`, `closed`.
        #[oai(validator(pattern = "^(open|in_progress|waiting_response|resolved|closed)(,(open|in_progress|waiting_response|resolved|closed)){0,4}$"))]
        status: Query<Option<String>>,
        /// A category id.
        #[oai(validator(minimum(value = "1")))]
        category: Query<Option<i64>>,
        #[oai(validator(pattern = "^(low|normal|high|critical)$"))]
        priority: Query<Option<String>>,
        /// `me`, `none` or a user id.
        #[oai(validator(pattern = "^(me|none|[1-9][0-9]{0,17})$"))]
        assignee: Query<Option<String>>,
        /// Staff: one customer's tickets (a user id).
        #[oai(validator(minimum(value = "1")))]
        customer: Query<Option<i64>>,
        /// Created at or after (RFC 3339).
        created_from: Query<Option<DateTime<Utc>>>,
        /// Created before (RFC 3339).
        created_to: Query<Option<DateTime<Utc>>>,
        /// Words to find in titles and public messages (each as a prefix).
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Staff: tickets carrying this tag.
        #[oai(validator(min_length = 1, max_length = 64))]
        tag: Query<Option<String>>,
        /// Staff: a team's tickets (a team id), or `none` for tickets of no team.
        #[oai(validator(pattern = "^(none|[1-9][0-9]{0,17})$"))]
        team: Query<Option<String>>,
        /// `updated_at`, `created_at`, `priority` or `due` (when the next
        /// service-level target falls due, the most overdue first; tickets
        /// without one last); a leading `-` for descending (default
        /// `-updated_at`).
        #[oai(validator(pattern = "^-?(updated_at|created_at|priority|due)$"))]
        sort: Query<Option<String>>,
        /// 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the page before.
        #[oai(validator(min_length = 1, max_length = 200))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<TicketPage>, ApiError> {
        let ctx = auth.0;
        let query = ticket_query(
            status.0.as_deref(),
            category.0,
            priority.0.as_deref(),
            assignee.0.as_deref(),
            customer.0,
            created_from.0,
            created_to.0,
            q.0.as_deref(),
            tag.0.as_deref(),
            team.0.as_deref(),
            sort.0.as_deref(),
            limit.0,
            cursor.0.as_deref(),
        )?;
        let page = ctx.ticket_page(&query).await?;
        let mut last: std::collections::HashMap<i64, _> = page.last_messages.into_iter().map(|m| (m.ticket_id, m)).collect();
        let items = page
            .items
            .into_iter()
            .map(|t| {
                let preview = last.remove(&t.id).map(|m| MessagePreview { text: m.text, author_role: m.author_role, created_at: m.created_at });
                TicketView { last_message: preview, ..t.into() }
            })
            .collect();
        Ok(Json(TicketPage { items, next_cursor: page.next_cursor, total: page.total, counts: page.counts.into() }))
    }

    /// Open a ticket
    #[oai(path = "/t/:slug/api/v1/tickets", method = "post", tag = "Tag::Tickets")]
    async fn create_ticket(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<NewTicket>) -> Result<TicketCreated, ApiError> {
        let ctx = auth.0;
        let title = TicketTitle::parse(&body.0.title)?;
        let description = TicketDescription::parse(&body.0.description)?;
        let priority = body.0.priority.as_deref().map(Priority::parse).transpose()?.unwrap_or(Priority::Normal);
        let t = ctx.create_ticket(&title, &description, priority, body.0.category_id, body.0.attachment_ids.as_deref().unwrap_or_default()).await?;
        Ok(TicketCreated::Created(Json(t.into())))
    }

    /// Show a ticket
    #[oai(path = "/t/:slug/api/v1/tickets/:id", method = "get", tag = "Tag::Tickets")]
    async fn ticket(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<TicketView>, ApiError> {
        let ctx = auth.0;
        Ok(Json(ctx.ticket(TicketId::new(id.0)).await?.into()))
    }

    /// Merge a ticket into another of the same customer's
    ///
    /// Moderators and up. This ticket's messages move into `into` (in
    /// their time order), its tags join, a note on each says what happened,
    /// and this ticket is closed. Answers the ticket merged into. Tickets of
    /// different customers, a closed target or the ticket itself are 409.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/merge", method = "post", tag = "Tag::Tickets")]
    async fn merge_ticket(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<MergeBody>) -> Result<Json<TicketView>, ApiError> {
        let ctx = auth.0;
        let merged = ctx.merge_tickets(TicketId::new(id.0), TicketId::new(body.0.into)).await?;
        Ok(Json(merged.into.into()))
    }

    /// Change a ticket
    ///
    /// A customer may close their own ticket or change its priority.
    /// Moderators and up change status (following the lifecycle), priority,
    /// category, assignee, team and title. An impossible status change is 409.
    #[oai(path = "/t/:slug/api/v1/tickets/:id", method = "patch", tag = "Tag::Tickets")]
    async fn change_ticket(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<TicketPatch>) -> Result<Json<TicketView>, ApiError> {
        let ctx = auth.0;
        let b = body.0;
        let opt = |m: MaybeUndefined<i64>| match m {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        let changes = TicketChanges {
            title: b.title.as_deref().map(TicketTitle::parse).transpose()?,
            status: b.status.as_deref().map(TicketStatus::parse).transpose()?,
            priority: b.priority.as_deref().map(Priority::parse).transpose()?,
            category_id: opt(b.category_id),
            assignee_id: opt(b.assignee_id),
            team_id: opt(b.team_id),
        };
        let changed = ctx.change_ticket(TicketId::new(id.0), &changes).await?;
        Ok(Json(changed.ticket.into()))
    }

    /// A ticket's tags
    #[oai(path = "/t/:slug/api/v1/tickets/:id/tags", method = "get", tag = "Tag::Tickets")]
    async fn tags(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<TagList>, ApiError> {
        let ctx = auth.0;
        Ok(Json(TagList { items: ctx.tags(TicketId::new(id.0)).await? }))
    }

    /// Tag a ticket (staff)
    ///
    /// The tag is lowercased, spaces become `-`; letters, digits and
    /// `- _ . : /`, at most 64. Tagging twice changes nothing. A ticket
    /// carries at most 20 tags (409). Answers the ticket's tags.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/tags", method = "post", tag = "Tag::Tickets")]
    async fn add_tag(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<TagBody>) -> Result<Json<TagList>, ApiError> {
        let tag = TagName::parse(&body.0.tag)?;
        Ok(Json(TagList { items: auth.0.tag_ticket(TicketId::new(id.0), &tag).await? }))
    }

    /// Remove a tag from a ticket (staff)
    ///
    /// Any tag the ticket carries, whoever added it; 404 when it has no
    /// such tag. Answers the ticket's tags.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/tags/:tag", method = "delete", tag = "Tag::Tickets")]
    async fn remove_tag(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, #[oai(validator(min_length = 1, max_length = 64))] tag: Path<String>, auth: TenantAuth) -> Result<Json<TagList>, ApiError> {
        Ok(Json(TagList { items: auth.0.untag_ticket(TicketId::new(id.0), &tag.0).await? }))
    }

    /// The desk's tags, each with how many tickets carry it (staff)
    #[oai(path = "/t/:slug/api/v1/tags", method = "get", tag = "Tag::Tickets")]
    async fn desk_tags(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<DeskTagList>, ApiError> {
        let items = auth.0.desk_tags().await?.into_iter().map(|t| DeskTagView { tag: t.tag, tickets: t.tickets }).collect();
        Ok(Json(DeskTagList { items }))
    }

    /// Rename a tag on every ticket (admins)
    ///
    /// Onto a tag that exists, the two merge. 404 when no ticket carries
    /// the tag. Answers the new tag with its count.
    #[oai(path = "/t/:slug/api/v1/tags/:tag", method = "patch", tag = "Tag::Tickets")]
    async fn rename_tag(&self, #[oai(name = "slug")] _slug: Path<String>, #[oai(validator(min_length = 1, max_length = 64))] tag: Path<String>, auth: TenantAuth, body: Json<TagRename>) -> Result<Json<DeskTagView>, ApiError> {
        let to = TagName::parse(&body.0.name)?;
        let t = auth.0.rename_tag(&tag.0, &to).await?;
        Ok(Json(DeskTagView { tag: t.tag, tickets: t.tickets }))
    }
}
