//! The ticket list: filters, full-text search, sorting, keyset pages, and
//! counters by status, as one viewer may see them.
//!
//! Keyset (cursor) pages instead of offsets: a page costs the same however
//! deep it is, and tickets moving while someone scrolls never repeat or
//! vanish between pages. The cursor names the sort it belongs to, so a
//! cursor of another sort is refused instead of skipping tickets.
//!
//! The order by time to breach (`due`) depends on the desk's service-level
//! targets and business hours, which SQL cannot follow: that sort reads the
//! few columns it needs of every matching ticket, orders them here and
//! reads the page's rows by number (see [`due_page`]).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::{Invalid, Priority, TicketStatus};
use crate::storage::entities::{messages, ticket_counts, ticket_tags, tickets};
use crate::error::Result;
use crate::desk::context::{Scope, Viewer};
use crate::desk::sla::SlaPolicy;
use crate::storage::{Direct, TenantDb};

/// Largest page.
pub const MAX_PAGE: u64 = 100;
/// Longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Words of a search that count; more are ignored.
const MAX_SEARCH_WORDS: usize = 8;

/// What the list is ordered by; every order ends with the ticket number so
/// that it is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    UpdatedAt,
    CreatedAt,
    Priority,
    /// When the ticket's next service-level target falls due (soonest
    /// first); tickets without one come after those with one.
    Due,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    /// Most recently updated first.
    fn default() -> Self {
        Sort { key: SortKey::UpdatedAt, descending: true }
    }
}

impl Sort {
    pub const ACCEPTED: &'static str = "updated_at, -updated_at, created_at, -created_at, priority, -priority, due, -due";

    /// `updated_at`, `created_at` or `priority`, with a leading `-` for descending.
    pub fn parse(s: &str) -> Result<Sort, Invalid> {
        let (descending, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let key = match name {
            "updated_at" => SortKey::UpdatedAt,
            "created_at" => SortKey::CreatedAt,
            "priority" => SortKey::Priority,
            "due" => SortKey::Due,
            _ => return Err(Invalid::new("sort", format!("must be one of: {}", Self::ACCEPTED))),
        };
        Ok(Sort { key, descending })
    }

    fn code(self) -> &'static str {
        match (self.key, self.descending) {
            (SortKey::UpdatedAt, false) => "u",
            (SortKey::UpdatedAt, true) => "U",
            (SortKey::CreatedAt, false) => "c",
            (SortKey::CreatedAt, true) => "C",
            (SortKey::Priority, false) => "p",
            (SortKey::Priority, true) => "P",
            (SortKey::Due, false) => "d",
            (SortKey::Due, true) => "D",
        }
    }
}

/// Whose tickets, by assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Me,
    Nobody,
    User(i64),
}

impl AssigneeFilter {
    /// `me`, `none`, or a user id.
    pub fn parse(s: &str) -> Result<AssigneeFilter, Invalid> {
        match s {
            "me" => Ok(AssigneeFilter::Me),
            "none" => Ok(AssigneeFilter::Nobody),
            _ => s
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(AssigneeFilter::User)
                .ok_or_else(|| Invalid::new("assignee", "must be `me`, `none` or a user id")),
        }
    }
}

/// Whose tickets, by team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamFilter {
    Nobody,
    Team(i64),
}

impl TeamFilter {
    /// `none`, or a team id.
    pub fn parse(s: &str) -> Result<TeamFilter, Invalid> {
        match s {
            "none" => Ok(TeamFilter::Nobody),
            _ => s.parse::<i64>().ok().filter(|id| *id > 0).map(TeamFilter::Team).ok_or_else(|| Invalid::new("team", "must be `none` or a team id")),
        }
    }
}

/// Words to search for: letters and digits only, so that nothing a user
/// types is read as query syntax by either database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(Vec<String>);

impl SearchText {
    /// `None` when the text holds no word at all.
    pub fn parse(s: &str) -> Result<Option<SearchText>, Invalid> {
        if s.chars().count() > MAX_SEARCH_CHARS {
            return Err(Invalid::new("q", format!("must be at most {MAX_SEARCH_CHARS} characters")));
        }
        let words: Vec<String> = s
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_SEARCH_WORDS)
            .map(|w| w.to_lowercase())
            .collect();
        Ok((!words.is_empty()).then_some(SearchText(words)))
    }

    /// PostgreSQL: every word, each as a prefix or its stem's
    /// (`to_tsquery` syntax).
    fn tsquery(&self) -> String {
        self.query(|f| format!("{f}:*"), " | ", " & ")
    }

    /// SQLite FTS5: every word, each as a quoted prefix or its stem's.
    fn fts5(&self) -> String {
        self.query(|f| format!("\"{f}\"*"), " OR ", " ")
    }

    /// Every word must match: one of its forms, each written by `term`.
    fn query(&self, term: impl Fn(&str) -> String, or: &str, and: &str) -> String {
        self.0
            .iter()
            .map(|w| match forms(w).as_slice() {
                [one] => term(one),
                many => format!("({})", many.iter().map(|f| term(f)).collect::<Vec<_>>().join(or)),
            })
            .collect::<Vec<_>>()
            .join(and)
    }
}

/// What a searched word matches as a prefix: itself and its stem (Snowball,
/// Russian for Cyrillic words, English for Latin ones), so that "заказы"
/// finds "заказ" and "orders" finds "order" on both databases with their
/// indexes as they are. English stems that turn a final "y" into "i"
/// ("companies" → "compani") also match the "y" ("company"). Stems under
/// three letters are not used: they would match too much.
fn forms(word: &str) -> Vec<String> {
    use rust_stemmers::{Algorithm, Stemmer};
    static RUSSIAN: std::sync::LazyLock<Stemmer> = std::sync::LazyLock::new(|| Stemmer::create(Algorithm::Russian));
    static ENGLISH: std::sync::LazyLock<Stemmer> = std::sync::LazyLock::new(|| Stemmer::create(Algorithm::English));
    let mut out = vec![word.to_owned()];
    let (stemmer, english) = if word.chars().any(|c| matches!(c, 'а'..='я' | 'ё')) {
        (&*RUSSIAN, false)
    } else if word.chars().all(|c| c.is_ascii_alphabetic()) {
        (&*ENGLISH, true)
    } else {
        return out;
    };
    let stem = stemmer.stem(word).into_owned();
    if stem.chars().count() >= 3 && stem != word && !word.starts_with(&stem) {
        out.push(stem.clone());
    } else if stem.chars().count() >= 3 && stem != word {
        // A stem that is the word's beginning matches everything the word
        // does and more: it alone is enough.
        out = vec![stem.clone()];
    }
    if let Some(base) = stem.strip_suffix('i').filter(|_| english && stem.chars().count() >= 4) {
        out.push(format!("{base}y"));
    }
    out
}

/// Where a page starts: the sort value and number of the last ticket of
/// the page before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    sort: Sort,
    /// Nanoseconds since the epoch for a time, the rank for a priority.
    key: i64,
    id: i64,
}

impl Cursor {
    pub fn parse(s: &str, sort: Sort) -> Result<Cursor, Invalid> {
        let bad = || Invalid::new("cursor", "is not a cursor this list handed out; start from the first page");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.split('.');
        let (Some(code), Some(key), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if code != sort.code() {
            return Err(Invalid::new("cursor", "belongs to another sort order; start from the first page"));
        }
        Ok(Cursor { sort, key: key.parse().map_err(|_| bad())?, id: id.parse().map_err(|_| bad())? })
    }

    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}.{}.{}", self.sort.code(), self.key, self.id))
    }

    fn after(sort: Sort, t: &tickets::Model) -> Cursor {
        let key = match sort.key {
            SortKey::UpdatedAt => nanos(t.updated_at),
            SortKey::CreatedAt => nanos(t.created_at),
            SortKey::Priority => rank(t.priority),
            // Never built from a row: `due_page` keeps its own keys.
            SortKey::Due => i64::MAX,
        };
        Cursor { sort, key, id: t.id }
    }
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn rank(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Critical => 3,
    }
}

/// The priority's rank in SQL; the column only ever holds the four names.
fn rank_sql() -> SimpleExpr {
    Expr::cust("(CASE priority WHEN 'low' THEN 0 WHEN 'normal' THEN 1 WHEN 'high' THEN 2 ELSE 3 END)")
}

/// A ticket list request, validated.
#[derive(Debug, Clone)]
pub struct TicketQuery {
    /// Any of these statuses; empty for all.
    pub statuses: Vec<TicketStatus>,
    pub category: Option<i64>,
    pub priority: Option<Priority>,
    pub assignee: Option<AssigneeFilter>,
    /// Staff only: one customer's tickets.
    pub customer: Option<i64>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub search: Option<SearchText>,
    /// Tickets carrying this tag (as stored).
    pub tag: Option<String>,
    /// Staff: a team's tickets, or those of no team.
    pub team: Option<TeamFilter>,
    pub sort: Sort,
    pub limit: u64,
    pub cursor: Option<Cursor>,
}

impl Default for TicketQuery {
    fn default() -> Self {
        TicketQuery {
            statuses: Vec::new(),
            category: None,
            priority: None,
            assignee: None,
            customer: None,
            created_from: None,
            created_to: None,
            search: None,
            tag: None,
            team: None,
            sort: Sort::default(),
            limit: 20,
            cursor: None,
        }
    }
}

/// Tickets per status under the list's other filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub open: u64,
    pub in_progress: u64,
    pub waiting_response: u64,
    pub resolved: u64,
    pub closed: u64,
}

impl StatusCounts {
    /// From `(status, count)` rows of a `GROUP BY status`.
    pub fn from_rows(rows: &[(TicketStatus, i64)]) -> StatusCounts {
        let mut c = StatusCounts::default();
        for (status, n) in rows {
            c.add(*status, u64::try_from(*n).unwrap_or(0));
        }
        c
    }

    fn add(&mut self, status: TicketStatus, n: u64) {
        match status {
            TicketStatus::Open => self.open += n,
            TicketStatus::InProgress => self.in_progress += n,
            TicketStatus::WaitingResponse => self.waiting_response += n,
            TicketStatus::Resolved => self.resolved += n,
            TicketStatus::Closed => self.closed += n,
        }
    }

    pub fn of(&self, s: TicketStatus) -> u64 {
        match s {
            TicketStatus::Open => self.open,
            TicketStatus::InProgress => self.in_progress,
            TicketStatus::WaitingResponse => self.waiting_response,
            TicketStatus::Resolved => self.resolved,
            TicketStatus::Closed => self.closed,
        }
    }
}

/// One page of tickets.
#[derive(Debug, Clone)]
pub struct TicketPage {
    pub items: Vec<tickets::Model>,
    /// The last public message of each ticket on the page, by ticket.
    pub last_messages: Vec<messages::Model>,
    pub next_cursor: Option<String>,
    /// Tickets matching every filter, over all pages.
    pub total: u64,
    /// Counters by status under every filter but the status one.
    pub counts: StatusCounts,
}

/// The filters every part of the list shares, status aside.
fn filters(backend: DatabaseBackend, viewer: &Viewer, q: &TicketQuery) -> Condition {
    let mut c = Condition::all();
    match viewer.scope() {
        Scope::Own => c = c.add(tickets::Column::CustomerId.eq(viewer.user_id.get())),
        Scope::Assigned => c = c.add(tickets::Column::AssigneeId.eq(viewer.user_id.get())),
        Scope::All => {}
    }
    if let Some(id) = q.category {
        c = c.add(tickets::Column::CategoryId.eq(id));
    }
    if let Some(p) = q.priority {
        c = c.add(tickets::Column::Priority.eq(p.as_str()));
    }
    match q.assignee {
        Some(AssigneeFilter::Me) => c = c.add(tickets::Column::AssigneeId.eq(viewer.user_id.get())),
        Some(AssigneeFilter::Nobody) => c = c.add(tickets::Column::AssigneeId.is_null()),
        Some(AssigneeFilter::User(id)) => c = c.add(tickets::Column::AssigneeId.eq(id)),
        None => {}
    }
    if let Some(id) = q.customer {
        c = c.add(tickets::Column::CustomerId.eq(id));
    }
    match q.team {
        Some(TeamFilter::Nobody) => c = c.add(tickets::Column::TeamId.is_null()),
        Some(TeamFilter::Team(id)) => c = c.add(tickets::Column::TeamId.eq(id)),
        None => {}
    }
    if let Some(t) = q.created_from {
        c = c.add(tickets::Column::CreatedAt.gte(t));
    }
    if let Some(t) = q.created_to {
        c = c.add(tickets::Column::CreatedAt.lt(t));
    }
    if let Some(s) = &q.search {
        // Titles and public messages (internal notes are not searched, so a
        // customer's search can never reveal one).
        c = c.add(match backend {
            DatabaseBackend::Sqlite => Expr::cust_with_values(
                "(tickets.id IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?) \
                 OR tickets.id IN (SELECT ticket_id FROM messages WHERE id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)))",
                [s.fts5(), s.fts5()],
            ),
            _ => Expr::cust_with_values(
                "(to_tsvector('simple', tickets.title) @@ to_tsquery('simple', $1) \
                 OR tickets.id IN (SELECT ticket_id FROM messages WHERE internal = false AND deleted_at IS NULL \
                 AND to_tsvector('simple', text) @@ to_tsquery('simple', $2)))",
                [s.tsquery(), s.tsquery()],
            ),
        });
    }
    c
}

/// Whether the counters asked for are the whole desk's: a viewer who sees
/// every ticket, and no filter but the status one (which counters ignore).
fn whole_desk(viewer: &Viewer, q: &TicketQuery) -> bool {
    viewer.scope() == Scope::All
        && q.category.is_none()
        && q.priority.is_none()
        && q.assignee.is_none()
        && q.customer.is_none()
        && q.created_from.is_none()
        && q.created_to.is_none()
        && q.search.is_none()
        && q.tag.is_none()
        && q.team.is_none()
}

/// One page of the tickets the viewer may see. Without a search it is
/// three reads outside a transaction (see [`TenantDb::direct`]); a search
/// names the full-text tables in raw SQL, so it runs in a transaction of
/// the tenant's schema.
pub async fn list(db: &TenantDb, viewer: &Viewer, q: &TicketQuery, sla: Option<&SlaPolicy>) -> Result<TicketPage> {
    if q.tag.is_some() && !viewer.role.is_staff() {
        // Tags are the staff's words about a ticket.
        return Err(crate::error::RuntimeError::Forbidden("filtering by tag is for staff".into()));
    }
    if q.team.is_some() && !viewer.role.is_staff() {
        return Err(crate::error::RuntimeError::Forbidden("filtering by team is for staff".into()));
    }
    if q.search.is_some() {
        let txn = db.begin().await?;
        let page = list_on(&txn, &Tables::Unqualified, viewer, q, sla).await?;
        txn.commit().await?;
        return Ok(page);
    }
    let direct = db.direct().await?;
    list_on(&*direct, &Tables::Of(&direct), viewer, q, sla).await
}

/// How the list names its tables: as they are (in a transaction of the
/// tenant's schema) or qualified for reads outside one.
enum Tables<'a> {
    Unqualified,
    Of(&'a Direct<'a>),
}

impl Tables<'_> {
    fn qualify<E: EntityTrait>(&self, select: sea_orm::Select<E>) -> sea_orm::Select<E> {
        match self {
            Tables::Unqualified => select,
            Tables::Of(r) => r.qualify(select),
        }
    }

    fn table<E: EntityTrait>(&self) -> sea_orm::sea_query::TableRef {
        use sea_orm::sea_query::IntoTableRef as _;
        match self {
            Tables::Unqualified => E::default().into_table_ref(),
            Tables::Of(r) => r.table::<E>(),
        }
    }
}

async fn list_on<C: ConnectionTrait>(conn: &C, tables: &Tables<'_>, viewer: &Viewer, q: &TicketQuery, sla: Option<&SlaPolicy>) -> Result<TicketPage> {
    let backend = conn.get_database_backend();
    let mut base = filters(backend, viewer, q);
    if let Some(tag) = &q.tag {
        // The tags' table named as the list names its own (qualified for
        // reads outside a transaction).
        let tagged = sea_orm::sea_query::Query::select()
            .column(ticket_tags::Column::TicketId)
            .from(tables.table::<ticket_tags::Entity>())
            .and_where(Expr::col(ticket_tags::Column::Tag).eq(tag.as_str()))
            .to_owned();
        base = base.add(Expr::col((tickets::Entity, tickets::Column::Id)).in_subquery(tagged));
    }

    // Counters first: they ignore the status filter, and the total follows
    // from them. The whole desk's, which staff who see every ticket get
    // without other filters, are kept by the database as tickets are
    // written: a few rows read instead of every ticket counted.
    let rows: Vec<(TicketStatus, i64)> = if whole_desk(viewer, q) {
        let kept = ticket_counts::Entity::find()
            .select_only()
            .column(ticket_counts::Column::Status)
            .column_as(Expr::cust("CAST(SUM(n) AS BIGINT)"), "n")
            .group_by(ticket_counts::Column::Status);
        tables.qualify(kept).into_tuple().all(conn).await?
    } else {
        let counting = tickets::Entity::find()
            .select_only()
            .column(tickets::Column::Status)
            .column_as(tickets::Column::Id.count(), "n")
            .filter(base.clone())
            .group_by(tickets::Column::Status);
        tables.qualify(counting).into_tuple().all(conn).await?
    };
    let counts = StatusCounts::from_rows(&rows);
    let total = if q.statuses.is_empty() {
        TicketStatus::ALL.iter().map(|s| counts.of(*s)).sum()
    } else {
        q.statuses.iter().map(|s| counts.of(*s)).sum()
    };

    let mut cond = base;
    if !q.statuses.is_empty() {
        cond = cond.add(tickets::Column::Status.is_in(q.statuses.iter().map(|s| s.as_str())));
    }
    if q.sort.key == SortKey::Due {
        let (items, next_cursor) = due_page(conn, tables, q, cond, sla).await?;
        let last_messages = last_public_messages(conn, tables, items.iter().map(|t| t.id)).await?;
        return Ok(TicketPage { items, last_messages, next_cursor, total, counts });
    }
    let order = if q.sort.descending { Order::Desc } else { Order::Asc };
    let key: SimpleExpr = match q.sort.key {
        SortKey::UpdatedAt => Expr::col((tickets::Entity, tickets::Column::UpdatedAt)).into(),
        SortKey::CreatedAt => Expr::col((tickets::Entity, tickets::Column::CreatedAt)).into(),
        SortKey::Priority | SortKey::Due => rank_sql(),
    };
    if let Some(c) = &q.cursor {
        let value: SimpleExpr = match q.sort.key {
            SortKey::Priority => Expr::val(c.key).into(),
            _ => Expr::val(DateTime::<Utc>::from_timestamp_nanos(c.key)).into(),
        };
        let id = Expr::col((tickets::Entity, tickets::Column::Id));
        // (key, id) strictly past the cursor in the list's direction.
        let past = if q.sort.descending {
            Condition::any().add(key.clone().lt(value.clone())).add(Condition::all().add(key.clone().eq(value)).add(id.lt(c.id)))
        } else {
            Condition::any().add(key.clone().gt(value.clone())).add(Condition::all().add(key.clone().eq(value)).add(id.gt(c.id)))
        };
        cond = cond.add(past);
    }
    let limit = q.limit.clamp(1, MAX_PAGE);
    let page = tickets::Entity::find().filter(cond).order_by(key, order.clone()).order_by(tickets::Column::Id, order).limit(limit + 1);
    let mut items = tables.qualify(page).all(conn).await?;
    let next_cursor = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|t| Cursor::after(q.sort, t).encode())
    } else {
        None
    };
    let last_messages = last_public_messages(conn, tables, items.iter().map(|t| t.id)).await?;
    Ok(TicketPage { items, last_messages, next_cursor, total, counts })
}

/// A page in order of time to breach: every matching ticket's due time
/// (from the columns it depends on), ordered by (due, number) with the
/// tickets without one last (key `i64::MAX`), the page cut past the cursor,
/// and its rows read by number.
async fn due_page<C: ConnectionTrait>(
    conn: &C,
    tables: &Tables<'_>,
    q: &TicketQuery,
    cond: Condition,
    sla: Option<&SlaPolicy>,
) -> Result<(Vec<tickets::Model>, Option<String>)> {
    let light = tickets::Entity::find()
        .select_only()
        .columns([tickets::Column::Id, tickets::Column::Status, tickets::Column::Priority, tickets::Column::CreatedAt, tickets::Column::FirstResponseAt])
        .filter(cond);
    let rows: Vec<(i64, TicketStatus, Priority, DateTime<Utc>, Option<DateTime<Utc>>)> = tables.qualify(light).into_tuple().all(conn).await?;
    let mut keyed: Vec<(i64, i64)> = rows
        .into_iter()
        .map(|(id, status, priority, created, answered)| {
            let due = sla.and_then(|p| p.next_due_of(status, priority, created, answered.is_some())).map_or(i64::MAX, |(_, at)| nanos(at));
            (due, id)
        })
        .collect();
    keyed.sort_unstable();
    if q.sort.descending {
        keyed.reverse();
    }
    if let Some(c) = &q.cursor {
        let past = |k: &(i64, i64)| if q.sort.descending { *k < (c.key, c.id) } else { *k > (c.key, c.id) };
        keyed.retain(past);
    }
    let limit = q.limit.clamp(1, MAX_PAGE) as usize;
    let next_cursor = (keyed.len() > limit).then(|| Cursor { sort: q.sort, key: keyed[limit - 1].0, id: keyed[limit - 1].1 }.encode());
    keyed.truncate(limit);
    if keyed.is_empty() {
        return Ok((Vec::new(), next_cursor));
    }
    let page = tickets::Entity::find().filter(tickets::Column::Id.is_in(keyed.iter().map(|k| k.1)));
    let mut by_id: std::collections::HashMap<i64, tickets::Model> = tables.qualify(page).all(conn).await?.into_iter().map(|t| (t.id, t)).collect();
    Ok((keyed.iter().filter_map(|k| by_id.remove(&k.1)).collect(), next_cursor))
}

/// The newest public, undeleted message of each ticket.
async fn last_public_messages<C: ConnectionTrait>(conn: &C, tables: &Tables<'_>, ids: impl Iterator<Item = i64>) -> Result<Vec<messages::Model>> {
    let ids: Vec<i64> = ids.collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // One statement: the newest ids per ticket as a subquery.
    let newest = sea_orm::sea_query::Query::select()
        .expr(Expr::col(messages::Column::Id).max())
        .from(tables.table::<messages::Entity>())
        .and_where(messages::Column::TicketId.is_in(ids))
        .and_where(messages::Column::Internal.eq(false))
        .and_where(messages::Column::DeletedAt.is_null())
        .group_by_col(messages::Column::TicketId)
        .to_owned();
    Ok(tables.qualify(messages::Entity::find().filter(messages::Column::Id.in_subquery(newest))).all(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_parse_and_name_what_is_accepted() {
        assert_eq!(Sort::parse("-updated_at").unwrap(), Sort::default());
        assert_eq!(Sort::parse("priority").unwrap(), Sort { key: SortKey::Priority, descending: false });
        assert_eq!(Sort::parse("-due").unwrap(), Sort { key: SortKey::Due, descending: true });
        let e = Sort::parse("title").unwrap_err();
        assert!(e.to_string().contains("-created_at"), "{e}");
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_sorts_and_garbage() {
        let sort = Sort::parse("-created_at").unwrap();
        let c = Cursor { sort, key: 1_763_797_200_123_456_789, id: 42 };
        assert_eq!(Cursor::parse(&c.encode(), sort).unwrap(), c);
        let other = Cursor::parse(&c.encode(), Sort::default()).unwrap_err();
        assert!(other.to_string().contains("another sort"), "{other}");
        for bad in ["", "!!", "Qw", &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("C.1"), &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("C.1.2.3"), &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("C.x.2")] {
            assert!(Cursor::parse(bad, sort).is_err(), "{bad}");
        }
    }

    #[test]
    fn search_keeps_words_only() {
        assert_eq!(SearchText::parse("  ").unwrap(), None);
        assert_eq!(SearchText::parse("\"; DROP TABLE tickets; --").unwrap().unwrap().0, vec!["drop", "table", "tickets"]);
        let s = SearchText::parse("Возврат денег, refund:* OR").unwrap().unwrap();
        assert_eq!(s.tsquery(), "возврат:* & денег:* & refund:* & or:*");
        assert_eq!(s.fts5(), "\"возврат\"* \"денег\"* \"refund\"* \"or\"*");
        assert!(SearchText::parse(&"a".repeat(MAX_SEARCH_CHARS + 1)).is_err());
    }

    #[test]
    fn words_are_searched_by_their_stems_too() {
        // Russian: the stem is the word's beginning, searched as a prefix.
        assert_eq!(forms("заказы"), ["заказ"]);
        assert_eq!(forms("заказ"), ["заказ"]);
        assert_eq!(forms("доставкой"), ["доставк"]);
        // English: likewise, and a "y" turned "i" is searched both ways.
        assert_eq!(forms("orders"), ["order"]);
        assert_eq!(forms("companies"), ["compani", "company"]);
        // Short stems and words with digits stay as typed.
        assert_eq!(forms("мы"), ["мы"]);
        assert_eq!(forms("1042"), ["1042"]);
        assert_eq!(forms("a1b"), ["a1b"]);
        let s = SearchText::parse("Заказы companies").unwrap().unwrap();
        assert_eq!(s.tsquery(), "заказ:* & (compani:* | company:*)");
        assert_eq!(s.fts5(), "\"заказ\"* (\"compani\"* OR \"company\"*)");
    }

    #[test]
    fn assignee_filters() {
        assert_eq!(AssigneeFilter::parse("me").unwrap(), AssigneeFilter::Me);
        assert_eq!(AssigneeFilter::parse("none").unwrap(), AssigneeFilter::Nobody);
        assert_eq!(AssigneeFilter::parse("7").unwrap(), AssigneeFilter::User(7));
        for bad in ["0", "-1", "x", ""] {
            assert!(AssigneeFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
