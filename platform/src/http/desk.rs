//! The desk's API beyond sign-in: the ticket list with its filters,
//! changes to tickets and messages, categories, people and statistics
//! (`/t/{slug}/api/v1/…`). Rules live in `tikethet_runtime::desk`; this file
//! only reads requests and shapes answers.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::desk::categories::{CategoryFields, CategoryIcon, CategoryName, Color};
use tikethet_runtime::desk::changes::TicketChanges;
use tikethet_runtime::desk::list::{AssigneeFilter, Cursor, SearchText, Sort, StatusCounts, TicketQuery};
use tikethet_runtime::desk::people::PeopleQuery;
use tikethet_runtime::domain::{Invalid, MessageText, Priority, Role, TicketDescription, TicketId, TicketStatus, TicketTitle};
use tikethet_runtime::storage::entities::categories;

use super::error::ApiError;
use super::tenant::{MessagePreview, MessageView, NewTicket, NoContent, Tag, TenantApi, TenantAuth, TicketCreated, TicketView, UserView};
use crate::AppState;

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
}

#[derive(Debug, Object)]
pub struct MessageEdit {
    /// Required (not blank), at most 4096 characters, no NUL.
    #[oai(validator(min_length = 1, max_length = 4096, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"))]
    pub text: String,
}

#[derive(Debug, Object)]
pub struct CategoryView {
    pub id: i64,
    pub name: String,
    /// An emoji (or a few characters).
    #[oai(nullable)]
    pub icon: Option<String>,
    /// `#rrggbb`.
    #[oai(nullable)]
    pub color: Option<String>,
    /// Categories are shown in ascending position.
    pub position: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<categories::Model> for CategoryView {
    fn from(c: categories::Model) -> Self {
        CategoryView { id: c.id, name: c.name, icon: c.icon, color: c.color, position: c.sort_order, active: c.active, created_at: c.created_at }
    }
}

#[derive(Debug, Object)]
pub struct CategoryList {
    pub items: Vec<CategoryView>,
}

#[derive(Debug, Object)]
pub struct CategoryInput {
    /// 1 to 64 characters on one line; unique in the desk.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// An emoji or up to 8 characters; `null` removes it.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub icon: MaybeUndefined<String>,
    /// `#rrggbb`; `null` removes it.
    #[oai(validator(pattern = "^#[0-9a-fA-F]{6}$"))]
    pub color: MaybeUndefined<String>,
    /// -10,000 to 10,000.
    #[oai(validator(minimum(value = "-10000"), maximum(value = "10000")))]
    pub position: Option<i32>,
    pub active: Option<bool>,
}

impl CategoryInput {
    fn fields(self) -> Result<CategoryFields, Invalid> {
        Ok(CategoryFields {
            name: self.name.as_deref().map(CategoryName::parse).transpose()?,
            icon: match self.icon {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(CategoryIcon::parse(&v)?)),
            },
            color: match self.color {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(Color::parse(&v)?)),
            },
            position: self.position,
            active: self.active,
        })
    }
}

#[derive(ApiResponse)]
pub enum CategoryCreated {
    #[oai(status = 201)]
    Created(Json<CategoryView>),
}

#[derive(Debug, Object)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `after` for the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_after: Option<i64>,
}

#[derive(Debug, Object)]
pub struct UserPatch {
    /// `user`, `helper`, `moderator` or `admin`, below the caller's own role.
    #[oai(validator(pattern = "^(user|helper|moderator|admin|owner)$"))]
    pub role: Option<String>,
    pub blocked: Option<bool>,
}

#[derive(Debug, Object)]
pub struct PriorityCount {
    pub priority: String,
    pub count: u64,
}

#[derive(Debug, Object)]
pub struct CategoryCount {
    /// `null`: tickets without a category.
    #[oai(nullable)]
    pub category_id: Option<i64>,
    pub count: u64,
}

#[derive(Debug, Object)]
pub struct TimesView {
    /// Tickets measured.
    pub count: u64,
    #[oai(nullable)]
    pub median_seconds: Option<f64>,
    #[oai(nullable)]
    pub p90_seconds: Option<f64>,
}

#[derive(Debug, Object)]
pub struct StatsView {
    pub by_status: Counts,
    /// Active tickets by priority.
    pub by_priority: Vec<PriorityCount>,
    /// Active tickets by category id (`null`: none).
    pub by_category: Vec<CategoryCount>,
    pub created_7d: u64,
    pub created_30d: u64,
    pub resolved_7d: u64,
    pub resolved_30d: u64,
    /// Creation to the first staff answer, tickets created in the last 30 days.
    pub first_response: TimesView,
    /// Creation to resolution, tickets resolved in the last 30 days.
    pub resolution: TimesView,
    /// The same, in working time (`null` unless the desk set business hours).
    #[oai(nullable)]
    pub first_response_business: Option<TimesView>,
    #[oai(nullable)]
    pub resolution_business: Option<TimesView>,
    /// Ratings of the last 30 days.
    pub csat: CsatView,
    /// Service-level targets met, tickets created in the last 30 days
    /// (`null`: no such target is set).
    #[oai(nullable)]
    pub first_response_met: Option<MetView>,
    #[oai(nullable)]
    pub resolution_met: Option<MetView>,
}

/// Customer satisfaction.
#[derive(Debug, Object)]
pub struct CsatView {
    pub rated: u64,
    /// Rated 4 or 5 of 5.
    pub satisfied: u64,
    /// `satisfied` of `rated`, in percent (`null` with no ratings).
    #[oai(nullable)]
    pub satisfied_percent: Option<f64>,
    #[oai(nullable)]
    pub average: Option<f64>,
}

/// Targets met and missed.
#[derive(Debug, Object)]
pub struct MetView {
    pub met: u64,
    pub missed: u64,
    #[oai(nullable)]
    pub percent: Option<f64>,
}

fn met(m: tikethet_runtime::desk::stats::Met) -> MetView {
    MetView { met: m.met, missed: m.missed, percent: m.percent() }
}

fn times(p: tikethet_runtime::desk::stats::Percentiles) -> TimesView {
    TimesView { count: p.count, median_seconds: p.median_seconds, p90_seconds: p.p90_seconds }
}

/// One limit of the plan and how much of it is used.
#[derive(Debug, Object)]
pub struct UsageLineView {
    /// `agents`, `tickets_per_month`, `messages_per_month`, `plugins` or
    /// `storage_bytes`.
    pub limit: String,
    pub used: u64,
    /// `null`: unlimited.
    #[oai(nullable)]
    pub allowed: Option<u64>,
}

/// The desk's usage against its plan.
#[derive(Debug, Object)]
pub struct UsageView {
    /// The plan's id and name.
    pub plan: String,
    pub plan_name: String,
    /// The first day of the month the monthly figures count (UTC).
    pub month: String,
    pub usage: Vec<UsageLineView>,
    /// Plugin calls this month (metered for billing, not limited).
    pub plugin_invocations: u64,
    /// The largest single file the plan takes, in bytes.
    pub max_attachment_bytes: u64,
}

/// A plan to buy.
#[derive(Debug, Object)]
pub struct CheckoutRequest {
    /// A plan of the catalogue that is sold through Stripe.
    #[oai(validator(min_length = 1, max_length = 40))]
    pub plan: String,
}

/// Where to send the owner to pay.
#[derive(Debug, Object)]
pub struct CheckoutView {
    /// The Checkout Session's id.
    pub id: String,
    /// Stripe's payment page; the desk's plan changes once Stripe reports
    /// the payment (its webhook), not before.
    pub url: String,
}

/// Stripe's Customer Portal for this desk.
#[derive(Debug, Object)]
pub struct PortalView {
    pub url: String,
}

/// One priority's service-level targets, in working minutes.
#[derive(Debug, Clone, Object)]
pub struct SlaTargetsView {
    /// First staff answer within this many minutes.
    #[oai(nullable)]
    pub first_response_minutes: Option<u64>,
    /// Resolved within this many minutes.
    #[oai(nullable)]
    pub resolution_minutes: Option<u64>,
}

/// When the desk works; targets count these hours only.
#[derive(Debug, Clone, Object)]
pub struct BusinessHoursView {
    /// `+03:00`, `-05:30`: the desk's offset from UTC (no daylight saving).
    pub utc_offset: String,
    /// Working days: `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, local.
    pub start: String,
    /// `HH:MM`, local, after `start`.
    pub end: String,
}

/// The desk's service levels: targets by priority (`low`, `normal`,
/// `high`, `critical`), counted in business hours (or around the clock).
/// Staff are reminded when three quarters of a target have passed and
/// admins told when it is missed.
#[derive(Debug, Clone, Object)]
pub struct SlaView {
    pub targets: std::collections::BTreeMap<String, SlaTargetsView>,
    /// `null`: around the clock.
    #[oai(nullable)]
    pub business_hours: Option<BusinessHoursView>,
}

impl SlaView {
    fn of(p: Option<&tikethet_runtime::desk::sla::SlaPolicy>) -> SlaView {
        let v = p.map(|p| p.to_json()).unwrap_or_else(|| serde_json::json!({"targets": {}, "business_hours": null}));
        let targets = v["targets"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, t)| (k.clone(), SlaTargetsView { first_response_minutes: t["first_response_minutes"].as_u64(), resolution_minutes: t["resolution_minutes"].as_u64() }))
                    .collect()
            })
            .unwrap_or_default();
        let business_hours = v["business_hours"].as_object().map(|h| BusinessHoursView {
            utc_offset: h["utc_offset"].as_str().unwrap_or_default().to_owned(),
            days: h["days"].as_array().map(|d| d.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default(),
            start: h["start"].as_str().unwrap_or_default().to_owned(),
            end: h["end"].as_str().unwrap_or_default().to_owned(),
        });
        SlaView { targets, business_hours }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "targets": self.targets.iter().map(|(k, t)| (k.clone(), serde_json::json!({"first_response_minutes": t.first_response_minutes, "resolution_minutes": t.resolution_minutes}))).collect::<serde_json::Map<_, _>>(),
            "business_hours": self.business_hours.as_ref().map(|h| serde_json::json!({"utc_offset": h.utc_offset, "days": h.days, "start": h.start, "end": h.end})),
        })
    }
}

/// An answer staff insert by typing `/shortcut` in a reply.
#[derive(Debug, Object)]
pub struct CannedView {
    pub id: i64,
    /// Typed after `/`: 1 to 32 lowercase letters, digits, `_` and `-`.
    pub shortcut: String,
    pub text: String,
    pub updated_at: DateTime<Utc>,
}

impl From<tikethet_runtime::storage::entities::canned_responses::Model> for CannedView {
    fn from(m: tikethet_runtime::storage::entities::canned_responses::Model) -> Self {
        CannedView { id: m.id, shortcut: m.shortcut, text: m.text, updated_at: m.updated_at }
    }
}

#[derive(Debug, Object)]
pub struct CannedList {
    pub items: Vec<CannedView>,
}

/// A new canned response.
#[derive(Debug, Object)]
pub struct CannedInput {
    #[oai(validator(min_length = 1, max_length = 33))]
    pub shortcut: String,
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub text: String,
}

/// Changes to a canned response; a field left out stays.
#[derive(Debug, Object)]
pub struct CannedPatch {
    #[oai(validator(min_length = 1, max_length = 33))]
    pub shortcut: Option<String>,
    #[oai(validator(min_length = 1, max_length = 4000))]
    pub text: Option<String>,
}

#[derive(ApiResponse)]
pub enum CannedCreated {
    #[oai(status = 201)]
    Created(Json<CannedView>),
}

/// A one-time sign-in link to the staff console.
#[derive(Debug, Object)]
pub struct ConsoleLinkView {
    /// Opens the console signed in, once, within ten minutes.
    pub url: String,
}

pub struct DeskApi {
    pub state: AppState,
}

impl DeskApi {
    fn tenant(&self) -> TenantApi {
        TenantApi { state: self.state.clone() }
    }

    /// The desk's console, where the owner comes back from Stripe.
    fn console_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/admin/", self.state.settings.public_url.as_str().trim_end_matches('/'))
    }
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
        sort,
        limit: limit.unwrap_or(20),
        cursor: cursor.map(|c| Cursor::parse(c, sort)).transpose()?,
    })
}

#[OpenApi]
impl DeskApi {
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
        slug: Path<String>,
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
        /// `updated_at`, `created_at` or `priority`; a leading `-` for
        /// descending (default `-updated_at`).
        #[oai(validator(pattern = "^-?(updated_at|created_at|priority)$"))]
        sort: Query<Option<String>>,
        /// 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the page before.
        #[oai(validator(min_length = 1, max_length = 200))]
        cursor: Query<Option<String>>,
    ) -> Result<Json<TicketPage>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let query = ticket_query(
            status.0.as_deref(),
            category.0,
            priority.0.as_deref(),
            assignee.0.as_deref(),
            customer.0,
            created_from.0,
            created_to.0,
            q.0.as_deref(),
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
    async fn create_ticket(&self, slug: Path<String>, auth: TenantAuth, body: Json<NewTicket>) -> Result<TicketCreated, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let title = TicketTitle::parse(&body.0.title)?;
        let description = TicketDescription::parse(&body.0.description)?;
        let priority = body.0.priority.as_deref().map(Priority::parse).transpose()?.unwrap_or(Priority::Normal);
        let t = ctx.create_ticket(&title, &description, priority, body.0.category_id, body.0.attachment_ids.as_deref().unwrap_or_default()).await?;
        Ok(TicketCreated::Created(Json(t.into())))
    }

    /// Show a ticket
    #[oai(path = "/t/:slug/api/v1/tickets/:id", method = "get", tag = "Tag::Tickets")]
    async fn ticket(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<TicketView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(ctx.ticket(TicketId(id.0)).await?.into()))
    }

    /// Merge a ticket into another of the same customer's
    ///
    /// Moderators and up. This ticket's messages move into `into` (in
    /// their time order), its tags join, a note on each says what happened,
    /// and this ticket is closed. Answers the ticket merged into. Tickets of
    /// different customers, a closed target or the ticket itself are 409.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/merge", method = "post", tag = "Tag::Tickets")]
    async fn merge_ticket(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<MergeBody>) -> Result<Json<TicketView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let merged = ctx.merge_tickets(TicketId(id.0), TicketId(body.0.into)).await?;
        Ok(Json(merged.into.into()))
    }

    /// Change a ticket
    ///
    /// A customer may close their own ticket or change its priority.
    /// Moderators and up change status (following the lifecycle), priority,
    /// category, assignee and title. An impossible status change is 409.
    #[oai(path = "/t/:slug/api/v1/tickets/:id", method = "patch", tag = "Tag::Tickets")]
    async fn change_ticket(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<TicketPatch>) -> Result<Json<TicketView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
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
        };
        let changed = ctx.change_ticket(TicketId(id.0), &changes).await?;
        Ok(Json(changed.ticket.into()))
    }

    /// Edit a message
    ///
    /// Only its author, within 24 hours of writing it.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages/:message_id", method = "patch", tag = "Tag::Tickets")]
    async fn edit_message(&self, slug: Path<String>, id: Path<i64>, message_id: Path<i64>, auth: TenantAuth, body: Json<MessageEdit>) -> Result<Json<MessageView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let text = MessageText::parse(&body.0.text)?;
        Ok(Json(ctx.edit_message(TicketId(id.0), message_id.0, &text).await?.into()))
    }

    /// Delete a message
    ///
    /// Its author within 24 hours, or a moderator and up at any time. The
    /// message keeps its place with its text removed.
    #[oai(path = "/t/:slug/api/v1/tickets/:id/messages/:message_id", method = "delete", tag = "Tag::Tickets")]
    async fn delete_message(&self, slug: Path<String>, id: Path<i64>, message_id: Path<i64>, auth: TenantAuth) -> Result<Json<MessageView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(ctx.delete_message(TicketId(id.0), message_id.0).await?.into()))
    }

    /// List categories
    ///
    /// Customers see active ones; staff see all.
    #[oai(path = "/t/:slug/api/v1/categories", method = "get", tag = "Tag::Categories")]
    async fn categories(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<CategoryList>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(CategoryList { items: ctx.categories().await?.into_iter().map(Into::into).collect() }))
    }

    /// Create a category (admins)
    #[oai(path = "/t/:slug/api/v1/categories", method = "post", tag = "Tag::Categories")]
    async fn create_category(&self, slug: Path<String>, auth: TenantAuth, body: Json<CategoryInput>) -> Result<CategoryCreated, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let c = ctx.create_category(body.0.fields()?).await?;
        Ok(CategoryCreated::Created(Json(c.into())))
    }

    /// Change a category (admins)
    #[oai(path = "/t/:slug/api/v1/categories/:id", method = "patch", tag = "Tag::Categories")]
    async fn update_category(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<CategoryInput>) -> Result<Json<CategoryView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(ctx.update_category(id.0, body.0.fields()?).await?.into()))
    }

    /// Delete a category (admins)
    ///
    /// Its tickets keep going without a category.
    #[oai(path = "/t/:slug/api/v1/categories/:id", method = "delete", tag = "Tag::Categories")]
    async fn delete_category(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        ctx.delete_category(id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// Canned responses (staff)
    #[oai(path = "/t/:slug/api/v1/canned", method = "get", tag = "Tag::Categories")]
    async fn canned(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<CannedList>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(CannedList { items: ctx.canned().await?.into_iter().map(Into::into).collect() }))
    }

    /// Add a canned response (admins)
    ///
    /// `409` when the shortcut is taken.
    #[oai(path = "/t/:slug/api/v1/canned", method = "post", tag = "Tag::Categories")]
    async fn create_canned(&self, slug: Path<String>, auth: TenantAuth, body: Json<CannedInput>) -> Result<CannedCreated, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let shortcut = tikethet_runtime::desk::canned::Shortcut::parse(&body.0.shortcut)?;
        let text = MessageText::parse(&body.0.text)?;
        Ok(CannedCreated::Created(Json(ctx.create_canned(&shortcut, &text).await?.into())))
    }

    /// Change a canned response (admins)
    #[oai(path = "/t/:slug/api/v1/canned/:id", method = "patch", tag = "Tag::Categories")]
    async fn update_canned(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<CannedPatch>) -> Result<Json<CannedView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let shortcut = body.0.shortcut.as_deref().map(tikethet_runtime::desk::canned::Shortcut::parse).transpose()?;
        let text = body.0.text.as_deref().map(MessageText::parse).transpose()?;
        Ok(Json(ctx.update_canned(id.0, shortcut.as_ref(), text.as_ref()).await?.into()))
    }

    /// Remove a canned response (admins)
    #[oai(path = "/t/:slug/api/v1/canned/:id", method = "delete", tag = "Tag::Categories")]
    async fn delete_canned(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        ctx.delete_canned(id.0).await?;
        Ok(NoContent::NoContent)
    }

    /// List the desk's people (moderators and up)
    #[oai(path = "/t/:slug/api/v1/users", method = "get", tag = "Tag::People")]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        slug: Path<String>,
        auth: TenantAuth,
        #[oai(validator(pattern = "^(user|helper|moderator|admin|owner)$"))] role: Query<Option<String>>,
        /// Staff only (helpers and up).
        staff: Query<Option<bool>>,
        blocked: Query<Option<bool>>,
        /// Part of a name or username.
        #[oai(validator(max_length = 64))]
        q: Query<Option<String>>,
        /// `next_after` of the page before.
        #[oai(validator(minimum(value = "0")))]
        after: Query<Option<i64>>,
        /// 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> Result<Json<UserPage>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let query = PeopleQuery {
            role: role.0.as_deref().map(Role::parse).transpose()?,
            staff: staff.0.unwrap_or(false),
            blocked: blocked.0,
            q: q.0.filter(|s| !s.contains('\0')),
            after: after.0,
            limit: limit.0.unwrap_or(50),
        };
        let (items, next_after) = ctx.people(&query).await?;
        Ok(Json(UserPage { items: items.into_iter().map(Into::into).collect(), next_after }))
    }

    /// Show one person (moderators and up)
    /// A one-time sign-in link to the staff console (staff)
    ///
    /// What `/admin` in the bot answers with, for staff who are in the Mini
    /// App: it opens the console signed in, once, within ten minutes.
    #[oai(path = "/t/:slug/api/v1/console/link", method = "post", tag = "Tag::People")]
    async fn console_link(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<ConsoleLinkView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(ConsoleLinkView { url: ctx.console_link().await? }))
    }

    #[oai(path = "/t/:slug/api/v1/users/:id", method = "get", tag = "Tag::People")]
    async fn user(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<Json<UserView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        Ok(Json(ctx.person(id.0).await?.into()))
    }

    /// Change a person's role or block them
    ///
    /// Only someone above the person's current role, and only to a role
    /// below their own. The owner role follows the desk's owner account.
    #[oai(path = "/t/:slug/api/v1/users/:id", method = "patch", tag = "Tag::People")]
    async fn change_user(&self, slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<UserPatch>) -> Result<Json<UserView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let role = body.0.role.as_deref().map(Role::parse).transpose()?;
        Ok(Json(ctx.change_person(id.0, role, body.0.blocked).await?.into()))
    }

    /// The desk's service levels (admins and up)
    #[oai(path = "/t/:slug/api/v1/settings/sla", method = "get", tag = "Tag::Stats")]
    async fn sla(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<SlaView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        ctx.require(Role::Admin)?;
        Ok(Json(SlaView::of(ctx.tenant.info.sla.as_ref())))
    }

    /// Set the desk's service levels (admins and up)
    ///
    /// Replaces them; no targets turns them off.
    #[oai(path = "/t/:slug/api/v1/settings/sla", method = "put", tag = "Tag::Stats")]
    async fn set_sla(&self, slug: Path<String>, auth: TenantAuth, body: Json<SlaView>) -> Result<Json<SlaView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        ctx.require(Role::Admin)?;
        let policy = tikethet_runtime::desk::sla::SlaPolicy::from_json(&body.0.to_json())?;
        let info = self.state.control.set_sla(ctx.tenant.info.slug.as_str(), &policy).await?;
        Ok(Json(SlaView::of(info.sla.as_ref())))
    }

    /// The desk's usage against its plan (admins and up)
    ///
    /// Going over a limit is refused with `402 plan_limit_reached`, except a
    /// customer's message: it is always kept (one that would open a ticket
    /// over the month's limit waits until the limit lifts).
    #[oai(path = "/t/:slug/api/v1/usage", method = "get", tag = "Tag::Stats")]
    async fn usage(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<UsageView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let u = ctx.usage().await?;
        Ok(Json(UsageView {
            plan: u.plan,
            plan_name: u.plan_name,
            month: u.month,
            usage: u.lines.into_iter().map(|l| UsageLineView { limit: l.limit.to_owned(), used: l.used, allowed: l.allowed }).collect(),
            plugin_invocations: u.plugin_invocations,
            max_attachment_bytes: u.max_attachment_bytes,
        }))
    }

    /// Subscribe, or change plan, through Stripe Checkout (the owner)
    ///
    /// `409 billing_offline` when the platform runs without Stripe keys
    /// (the operator sets plans then); `409 plan_not_for_sale` for a plan
    /// without a Stripe price.
    #[oai(path = "/t/:slug/api/v1/billing/checkout", method = "post", tag = "Tag::Stats")]
    async fn checkout(&self, slug: Path<String>, auth: TenantAuth, body: Json<CheckoutRequest>) -> Result<Json<CheckoutView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        ctx.require(Role::Owner)?;
        let back = self.console_url(&slug.0);
        let c = self.state.control.checkout(&slug.0, &body.0.plan, &format!("{back}?billing=paid"), &format!("{back}?billing=cancelled")).await?;
        Ok(Json(CheckoutView { id: c.id, url: c.url }))
    }

    /// Stripe's Customer Portal: payment methods, invoices, cancelling (the owner)
    #[oai(path = "/t/:slug/api/v1/billing/portal", method = "post", tag = "Tag::Stats")]
    async fn portal(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<PortalView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        ctx.require(Role::Owner)?;
        let url = self.state.control.portal(&slug.0, &self.console_url(&slug.0)).await?;
        Ok(Json(PortalView { url }))
    }

    /// Desk statistics (moderators and up)
    #[oai(path = "/t/:slug/api/v1/stats", method = "get", tag = "Tag::Stats")]
    async fn stats(&self, slug: Path<String>, auth: TenantAuth) -> Result<Json<StatsView>, ApiError> {
        let ctx = self.tenant().ctx(&slug.0, &auth).await?;
        let s = ctx.stats().await?;
        Ok(Json(StatsView {
            by_status: s.by_status.into(),
            by_priority: s.by_priority.into_iter().map(|(priority, count)| PriorityCount { priority, count }).collect(),
            by_category: s.by_category.into_iter().map(|(category_id, count)| CategoryCount { category_id, count }).collect(),
            created_7d: s.created_7d,
            created_30d: s.created_30d,
            resolved_7d: s.resolved_7d,
            resolved_30d: s.resolved_30d,
            first_response: times(s.first_response),
            resolution: times(s.resolution),
            first_response_business: s.first_response_business.map(times),
            resolution_business: s.resolution_business.map(times),
            csat: CsatView {
                rated: s.csat.rated,
                satisfied: s.csat.satisfied,
                satisfied_percent: (s.csat.rated > 0).then(|| s.csat.satisfied as f64 * 100.0 / s.csat.rated as f64),
                average: s.csat.average,
            },
            first_response_met: s.first_response_met.map(met),
            resolution_met: s.resolution_met.map(met),
        }))
    }
}
