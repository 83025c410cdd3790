//! Scheduled plugins: `on-schedule` (contract 1.2.0 and later), run on the
//! cron schedule a desk's admin set for a plugin, with the desk's tickets
//! waiting for their customer (1.3.0: and the unassigned, those waiting for
//! staff and those past a service-level target, see [`listed_tickets`]).
//!
//! The maintenance loop ticks `Runtime::tick_schedules` once a minute (or
//! as often as the service-level watch, `TIKETHET_SLA_CHECK_SECS`, when that
//! is more often). A tick looks only at desks whose next due time has come,
//! as remembered in memory (every desk is read at start, when its schedules
//! change, and hourly, so another node's changes are seen).
//!
//! Each due time runs at most once, across restarts and nodes: a run takes
//! its due time in the plugin's `plugin_schedules` row (a claim token, and
//! the next due time moved past now, in one guarded statement), runs the
//! plugin on the plugin pool with no transaction open, then commits the
//! plugin's effects (replies queued, ticket actions, its key-value store,
//! failures and the switch-off, usage) together with the claim's release,
//! guarded by the token. A process that dies mid-run leaves the claim,
//! which another run takes over after [`CLAIM_LEASE`]: the due time runs
//! then, and its effects commit once. Times missed while the desk was down
//! are made up by one run. A plugin switched off (or of an older contract)
//! misses its times, as do all of a desk over its month's messages; a
//! suspended desk's wait until it is resumed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tikethet_plugins::limits::MAX_INPUT_BYTES;
use tikethet_plugins::{DeskTicket, HookEvent, ScheduleEvent};

use crate::worker::hooks::{plugin_priority, plugin_status};
use crate::Runtime;
use crate::desk::context::TenantContext;
use crate::outbound::effects::Effects;
use crate::domain::{Invalid, PluginName, Role, TenantId, TicketStatus};
use crate::storage::entities::{categories, messages, plugin_schedules, plugins, teams, ticket_tags, tickets, users};
use crate::error::{Result, RuntimeError};
use crate::worker::hooks::ticket_actions_of;
use crate::storage::tenant::{Tenant, TenantStatus};

/// How often schedules are checked, at most: a plugin runs within this of
/// its due time.
pub const SCHEDULE_CHECK: Duration = Duration::from_secs(60);
/// How long a run holds its due time before another may take it over (its
/// process died). A run is one plugin call: seconds at most.
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How long what a desk's schedules need is trusted before it is read
/// again (another node may have changed them).
const REREAD: Duration = Duration::from_secs(3600);
/// Tickets each list of an event holds at most (and no more than its
/// share of [`MAX_INPUT_BYTES`]).
pub const MAX_LISTED: usize = 100;
/// Active tickets looked at per run, those changed most recently first.
const MAX_SCANNED: u64 = 5000;
/// Desks whose schedules run at once.
const CONCURRENCY: usize = 4;
/// The longest least wait an admin may set: a year, in minutes.
pub const MAX_WAITING_MINUTES: i32 = 525_600;

/// When a plugin's `on-schedule` runs: a standard cron expression in UTC,
/// five fields (minute, hour, day of month, month, day of week) or six with
/// seconds first, or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
#[derive(Debug, Clone)]
pub struct PluginSchedule {
    cron: Cron,
    text: String,
}

impl PluginSchedule {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> std::result::Result<PluginSchedule, Invalid> {
        let bad = |r: String| Invalid::new("schedule", r);
        let text = s.trim();
        if text.is_empty() {
            return Err(bad("must be a cron expression such as \"0 * * * *\" (null clears the schedule)".into()));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(bad(format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(bad("may contain only printable ASCII characters and spaces".into()));
        }
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') && !(5..=6).contains(&fields) {
            return Err(bad(format!(
                "{text:?} has {fields} field(s); a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 with seconds first"
            )));
        }
        // An empty item (`1,,2`) would leave a field matching nothing, which
        // the search for the next time only finds out after centuries.
        if let Some(field) = text.split_whitespace().find(|f| f.split(',').any(str::is_empty)) {
            return Err(bad(format!("{text:?}: the field {field:?} has an empty item between its commas")));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| bad(format!("{text:?} is not a cron expression: {e}")))?;
        let schedule = PluginSchedule { cron, text: text.to_owned() };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(bad(format!("{text:?} never comes due")));
        }
        Ok(schedule)
    }

    /// The expression as the admin wrote it (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first due time strictly after `t`, if it ever comes.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t, false).ok()
    }
}

/// What this node knows of each desk's schedules.
#[derive(Default)]
pub struct Schedules {
    next: std::sync::Mutex<HashMap<TenantId, Known>>,
    /// A pass is under way (ticks do not overlap).
    running: AtomicBool,
}

/// When a desk next needs a look (`None`: it has no schedule), and when
/// that was read.
#[derive(Clone, Copy)]
struct Known {
    at: Option<DateTime<Utc>>,
    read: Instant,
}

impl Schedules {
    /// Whether a desk needs a look now.
    fn due(&self, tenant: &TenantId, now: DateTime<Utc>) -> bool {
        match self.next.lock().expect("poisoned").get(tenant) {
            None => true,
            Some(k) => k.read.elapsed() >= REREAD || k.at.is_some_and(|at| at <= now),
        }
    }

    fn remember(&self, tenant: &TenantId, next: Option<DateTime<Utc>>) {
        self.next.lock().expect("poisoned").insert(tenant.clone(), Known { at: next, read: Instant::now() });
    }

    /// Makes the next tick read the desk's schedules again.
    pub(crate) fn forget(&self, tenant: &TenantId) {
        self.next.lock().expect("poisoned").remove(tenant);
    }
}

/// Clears the running mark however a pass ends.
struct PassGuard<'a>(&'a AtomicBool);

impl Drop for PassGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// A due time a run took.
struct Taken {
    plugin_id: i64,
    token: i64,
    due: DateTime<Utc>,
    cron: String,
    waiting_minutes: i32,
    /// The plugin's contract version.
    version: String,
}

fn millis(t: DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp_millis()).unwrap_or(0)
}

/// Whether a plugin of this contract version has `on-schedule` (1.2.0 and
/// later).
pub fn has_on_schedule(version: &str) -> bool {
    at_least(version, 1, 2)
}

/// Whether a contract version (`major.minor.patch`) is `major.minor` or later.
fn at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}


impl Runtime {
    /// One tick of the maintenance loop: starts a pass over the desks with
    /// schedules due, unless the last pass is still running.
    pub(crate) fn tick_schedules(&self) {
        if self.inner.work.schedules.running.swap(true, Ordering::SeqCst) {
            return;
        }
        let rt = self.clone();
        tokio::spawn(async move {
            let _guard = PassGuard(&rt.inner.work.schedules.running);
            rt.schedule_pass().await;
        });
    }

    async fn schedule_pass(&self) {
        use futures::StreamExt as _;
        let now = Utc::now();
        let all = self.inner.tenants.all();
        {
            let served: std::collections::HashSet<&TenantId> = all.iter().map(|t| &t.info.id).collect();
            self.inner.work.schedules.next.lock().expect("poisoned").retain(|id, _| served.contains(id));
        }
        let due: Vec<Arc<Tenant>> =
            all.into_iter().filter(|t| t.info.status == TenantStatus::Active && self.inner.work.schedules.due(&t.info.id, now)).collect();
        futures::stream::iter(due)
            .for_each_concurrent(CONCURRENCY, |t| async move {
                match self.run_schedules(&t).await {
                    Ok(next) => self.inner.work.schedules.remember(&t.info.id, next),
                    Err(e) => {
                        // Read again at the next tick.
                        self.inner.work.schedules.forget(&t.info.id);
                        tracing::warn!(tenant = %t.info.id, error = %format!("{e:#}"), "running scheduled plugins failed; the next check retries");
                    }
                }
            })
            .await;
    }

    /// Runs a desk's plugins whose schedules are due, each once; returns
    /// when the desk next needs a look (`None`: it has no schedule).
    pub async fn run_schedules(&self, tenant: &Tenant) -> Result<Option<DateTime<Utc>>> {
        let taken = self.take_due(tenant).await?;
        for t in taken {
            self.run_taken(tenant, t).await?;
        }
        // What is left: the next due times, and the leases of claims under
        // way elsewhere.
        let txn = tenant.db.begin_unnoticed().await?;
        let rows = plugin_schedules::Entity::find().all(&txn).await?;
        txn.commit().await?;
        let lease_ends = rows.iter().filter(|r| r.claim.is_some()).filter_map(|r| r.claimed_at.map(|at| at + CLAIM_LEASE));
        Ok(rows.iter().map(|r| r.next_due_at).chain(lease_ends).min())
    }

    /// Takes the due times that have come, in one transaction: each by a
    /// statement that only one run can win.
    async fn take_due(&self, tenant: &Tenant) -> Result<Vec<Taken>> {
        let now = Utc::now();
        let txn = tenant.db.begin_unnoticed().await?;
        let rows = plugin_schedules::Entity::find().order_by_asc(plugin_schedules::Column::PluginId).all(&txn).await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(Vec::new());
        }
        let owners: HashMap<i64, (bool, String)> = plugins::Entity::find()
            .select_only()
            .columns([plugins::Column::Id, plugins::Column::Enabled, plugins::Column::Version])
            .filter(plugins::Column::Id.is_in(rows.iter().map(|r| r.plugin_id)))
            .into_tuple::<(i64, bool, String)>()
            .all(&txn)
            .await?
            .into_iter()
            .map(|(id, enabled, version)| (id, (enabled, version)))
            .collect();
        let mut taken = Vec::new();
        for row in rows {
            let Some((enabled, version)) = owners.get(&row.plugin_id) else {
                // Its plugin was removed.
                plugin_schedules::Entity::delete_by_id(row.plugin_id).exec(&txn).await?;
                continue;
            };
            let token = rand::random::<i64>();
            if let Some(old) = row.claim {
                if row.claimed_at.is_some_and(|at| at + CLAIM_LEASE > now) {
                    continue; // under way
                }
                // A run whose process died: its due time is taken over.
                let n = plugin_schedules::Entity::update_many()
                    .col_expr(plugin_schedules::Column::Claim, Expr::value(token))
                    .col_expr(plugin_schedules::Column::ClaimedAt, Expr::value(now))
                    .filter(plugin_schedules::Column::PluginId.eq(row.plugin_id))
                    .filter(plugin_schedules::Column::Claim.eq(old))
                    .exec(&txn)
                    .await?
                    .rows_affected;
                if n == 1 {
                    tracing::info!(tenant = %tenant.info.id, plugin_id = row.plugin_id, "taking over a scheduled run whose process stopped");
                    let due = row.claimed_due_at.unwrap_or(row.next_due_at);
                    taken.push(Taken { plugin_id: row.plugin_id, token, due, cron: row.cron, waiting_minutes: row.waiting_minutes, version: version.clone() });
                }
                continue;
            }
            if row.next_due_at > now {
                continue;
            }
            let next = match PluginSchedule::parse(&row.cron) {
                Ok(s) => s.next_after(now),
                Err(e) => {
                    tracing::warn!(tenant = %tenant.info.id, plugin_id = row.plugin_id, error = %e, "a stored schedule no longer parses");
                    None
                }
            };
            // A schedule that never comes again waits a year (until the
            // admin sets another).
            let next = next.unwrap_or(now + chrono::Duration::days(366));
            let mut update = plugin_schedules::Entity::update_many()
                .col_expr(plugin_schedules::Column::NextDueAt, Expr::value(next))
                .filter(plugin_schedules::Column::PluginId.eq(row.plugin_id))
                .filter(plugin_schedules::Column::Claim.is_null())
                .filter(plugin_schedules::Column::NextDueAt.lte(now));
            let runs = *enabled && has_on_schedule(version);
            if runs {
                update = update
                    .col_expr(plugin_schedules::Column::Claim, Expr::value(token))
                    .col_expr(plugin_schedules::Column::ClaimedDueAt, Expr::value(row.next_due_at))
                    .col_expr(plugin_schedules::Column::ClaimedAt, Expr::value(now));
            }
            let n = update.exec(&txn).await?.rows_affected;
            if n == 1 && runs {
                taken.push(Taken { plugin_id: row.plugin_id, token, due: row.next_due_at, cron: row.cron, waiting_minutes: row.waiting_minutes, version: version.clone() });
            }
        }
        txn.commit().await?;
        Ok(taken)
    }

    /// Runs one taken due time and commits its effects with the claim's
    /// release, if the claim is still this run's.
    async fn run_taken(&self, tenant: &Tenant, t: Taken) -> Result<()> {
        let txn = tenant.db.begin().await?;
        // Over the month's messages, the extras (plugins) stop, as they do
        // for customers' messages.
        let over = crate::desk::usage::over_month(&txn, tenant.info.quotas.messages_per_month, crate::desk::usage::MESSAGES).await?;
        let plugin = if over { None } else { self.enabled_plugins(&txn).await?.into_iter().find(|p| p.id == t.plugin_id) };
        let now = Utc::now();
        let at_least = chrono::Duration::minutes(i64::from(t.waiting_minutes));
        let event = match &plugin {
            Some(_) => {
                let budget = MAX_INPUT_BYTES.saturating_sub(t.cron.len());
                let l = listed_tickets(&txn, tenant.info.sla.as_ref(), now, at_least, budget, sees_whole_desk(&t.version)).await?;
                Some(ScheduleEvent {
                    scheduled_at: millis(t.due),
                    now: millis(now),
                    schedule: t.cron.clone(),
                    waiting_at_least: u64::try_from(at_least.num_milliseconds()).unwrap_or(0),
                    waiting: l.waiting.0,
                    waiting_total: l.waiting.1,
                    unassigned: l.unassigned.0,
                    unassigned_total: l.unassigned.1,
                    waiting_for_staff: l.waiting_for_staff.0,
                    waiting_for_staff_total: l.waiting_for_staff.1,
                    breached: l.breached.0,
                    breached_total: l.breached.1,
                })
            }
            None => None,
        };
        // Switched off or removed since it was taken, or over the month's
        // messages: the time passes without a call.
        let mut kicks = Effects::default();
        let Some((txn, runs)) = self.call_plugins(tenant, txn, plugin.into_iter().collect(), event.map(HookEvent::OnSchedule), None, &mut kicks).await? else {
            return Ok(());
        };
        let mut release = plugin_schedules::Entity::update_many()
            .col_expr(plugin_schedules::Column::Claim, Expr::value(Option::<i64>::None))
            .col_expr(plugin_schedules::Column::ClaimedDueAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(plugin_schedules::Column::ClaimedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(plugin_schedules::Column::PluginId.eq(t.plugin_id))
            .filter(plugin_schedules::Column::Claim.eq(t.token));
        if !runs.is_empty() {
            release = release
                .col_expr(plugin_schedules::Column::LastRunAt, Expr::value(t.due))
                .col_expr(plugin_schedules::Column::Runs, Expr::col(plugin_schedules::Column::Runs).add(1));
        }
        let released = release.exec(&txn).await?.rows_affected;
        if released != 1 {
            // Taken over (this run outlived its lease) or the schedule was
            // cleared: whoever holds it now decides; nothing of this run
            // is kept.
            tracing::info!(tenant = %tenant.info.id, plugin_id = t.plugin_id, "a scheduled run lost its claim; its results are dropped");
            return Ok(());
        }
        self.apply_ticket_actions(tenant, &txn, &ticket_actions_of(&runs), &mut kicks).await?;
        txn.commit().await?;
        self.after_commit(&tenant.info.id, kicks).await;
        Ok(())
    }
}

/// Whether a plugin of this contract version sees the whole desk in its
/// scheduled runs (1.3.0 and later), not only the tickets waiting for their
/// customer.
pub fn sees_whole_desk(version: &str) -> bool {
    at_least(version, 1, 3)
}

/// One list of an event, and how many it would hold uncut.
type List = (Vec<DeskTicket>, u32);

/// What a scheduled run lists.
#[derive(Default)]
struct Listed {
    unassigned: List,
    waiting_for_staff: List,
    waiting: List,
    breached: List,
}

/// When the first service-level target a ticket has not met fell due, if
/// one has (an unanswered first response past its time, or an active
/// ticket past its resolution time).
fn breached_at(policy: &crate::desk::sla::SlaPolicy, t: &tickets::Model, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !t.status.is_active() {
        return None;
    }
    let targets = policy.targets(t.priority);
    let first = targets.first_response.filter(|_| t.first_response_at.is_none()).map(|m| policy.after(t.created_at, m));
    let resolution = targets.resolution.map(|m| policy.after(t.created_at, m));
    [first, resolution].into_iter().flatten().filter(|due| *due <= now).min()
}

/// The desk's active tickets a run lists, each list holding those whose
/// age is at least `at_least`, those that became so most recently first,
/// up to [`MAX_LISTED`] and an equal share of `budget` bytes (see
/// [`ScheduleEvent::input_bytes`]):
/// - waiting for their customer (`waiting_response`), aged from their
///   newest message the customer can see (their last change if none);
/// - with `whole_desk` (contract 1.3.0) also the unassigned, aged from
///   their opening; those the desk owes an answer (open, in progress),
///   aged like the waiting; and those past a service-level target, aged
///   from the target's due time.
async fn listed_tickets(
    txn: &DatabaseTransaction,
    sla: Option<&crate::desk::sla::SlaPolicy>,
    now: DateTime<Utc>,
    at_least: chrono::Duration,
    budget: usize,
    whole_desk: bool,
) -> Result<Listed> {
    let statuses: Vec<&str> = if whole_desk {
        vec![TicketStatus::Open.as_str(), TicketStatus::InProgress.as_str(), TicketStatus::WaitingResponse.as_str()]
    } else {
        vec![TicketStatus::WaitingResponse.as_str()]
    };
    let rows: Vec<tickets::Model> = tickets::Entity::find()
        .filter(tickets::Column::Status.is_in(statuses))
        .order_by_desc(tickets::Column::UpdatedAt)
        .limit(MAX_SCANNED)
        .all(txn)
        .await?;
    if rows.is_empty() {
        return Ok(Listed::default());
    }
    // The newest public message of each, by id (one statement).
    let newest = sea_orm::sea_query::Query::select()
        .expr(Expr::col(messages::Column::Id).max())
        .from(messages::Entity)
        .and_where(messages::Column::TicketId.is_in(rows.iter().map(|r| r.id)))
        .and_where(messages::Column::Internal.eq(false))
        .and_where(messages::Column::DeletedAt.is_null())
        .group_by_col(messages::Column::TicketId)
        .to_owned();
    let last: HashMap<i64, DateTime<Utc>> = messages::Entity::find()
        .select_only()
        .columns([messages::Column::TicketId, messages::Column::CreatedAt])
        .filter(messages::Column::Id.in_subquery(newest))
        .into_tuple::<(i64, DateTime<Utc>)>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let last_of = |t: &tickets::Model| last.get(&t.id).copied().unwrap_or(t.updated_at);
    let cutoff = now - at_least;
    // Each kind's tickets as (since, index into rows), newest first, cut.
    let pick = |f: &dyn Fn(&tickets::Model) -> Option<DateTime<Utc>>| -> (Vec<(DateTime<Utc>, usize)>, u32) {
        let mut l: Vec<(DateTime<Utc>, usize)> = rows.iter().enumerate().filter_map(|(i, t)| f(t).filter(|s| *s <= cutoff).map(|s| (s, i))).collect();
        l.sort_by(|a, b| b.0.cmp(&a.0).then(rows[b.1].id.cmp(&rows[a.1].id)));
        let total = u32::try_from(l.len()).unwrap_or(u32::MAX);
        l.truncate(MAX_LISTED);
        (l, total)
    };
    let waiting = pick(&|t| (t.status == TicketStatus::WaitingResponse).then(|| last_of(t)));
    let (unassigned, waiting_for_staff, breached) = if whole_desk {
        (
            pick(&|t| t.assignee_id.is_none().then_some(t.created_at)),
            pick(&|t| matches!(t.status, TicketStatus::Open | TicketStatus::InProgress).then(|| last_of(t))),
            match sla {
                Some(policy) => pick(&|t| breached_at(policy, t, now)),
                None => (Vec::new(), 0),
            },
        )
    } else {
        Default::default()
    };
    // What the listed tickets name: customers, assignees, tags, category
    // and team names, each read once.
    let listed: std::collections::BTreeSet<usize> =
        [&waiting.0, &unassigned.0, &waiting_for_staff.0, &breached.0].into_iter().flatten().map(|(_, i)| *i).collect();
    let ids: Vec<i64> = listed.iter().map(|i| rows[*i].id).collect();
    let people: std::collections::BTreeSet<i64> = listed.iter().flat_map(|i| [Some(rows[*i].customer_id), rows[*i].assignee_id]).flatten().collect();
    let known: HashMap<i64, users::Model> = if people.is_empty() {
        HashMap::new()
    } else {
        users::Entity::find().filter(users::Column::Id.is_in(people)).all(txn).await?.into_iter().map(|u| (u.id, u)).collect()
    };
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    let mut category_names: HashMap<i64, String> = HashMap::new();
    let mut team_names: HashMap<i64, String> = HashMap::new();
    if whole_desk && !ids.is_empty() {
        let rows = ticket_tags::Entity::find()
            .filter(ticket_tags::Column::TicketId.is_in(ids.iter().copied()))
            .order_by_asc(ticket_tags::Column::Tag)
            .all(txn)
            .await?;
        for r in rows {
            tags.entry(r.ticket_id).or_default().push(r.tag);
        }
        category_names = categories::Entity::find().all(txn).await?.into_iter().map(|c| (c.id, c.name)).collect();
        team_names = teams::Entity::find().all(txn).await?.into_iter().map(|t| (t.id, t.name)).collect();
    }
    let desk_ticket = |i: usize| -> Option<DeskTicket> {
        let t = &rows[i];
        let c = known.get(&t.customer_id)?;
        let assignee = t.assignee_id.and_then(|a| known.get(&a)).map(|a| a.username.clone().unwrap_or_else(|| crate::outbound::notify::name_of(a)));
        Some(DeskTicket {
            ticket_id: t.id,
            title: t.title.clone(),
            status: plugin_status(t.status),
            priority: plugin_priority(t.priority),
            category: t.category_id.and_then(|id| category_names.get(&id).cloned()),
            team: t.team_id.and_then(|id| team_names.get(&id).cloned()),
            assignee,
            tags: tags.get(&t.id).cloned().unwrap_or_default(),
            customer_telegram_id: c.telegram_id,
            customer_name: c.first_name.clone(),
            customer_username: c.username.clone(),
            language_code: c.language_code.clone(),
            opened_at: millis(t.created_at),
            last_message_at: millis(last_of(t)),
            breached_at: sla.and_then(|p| breached_at(p, t, now)).map(millis),
        })
    };
    let share = if whole_desk { budget / 4 } else { budget };
    let fill = |(picked, total): (Vec<(DateTime<Utc>, usize)>, u32)| -> List {
        let mut out = Vec::with_capacity(picked.len());
        let mut used = 0;
        for (_, i) in picked {
            let Some(t) = desk_ticket(i) else { continue };
            used += t.input_bytes();
            if used > share {
                break;
            }
            out.push(t);
        }
        (out, total)
    };
    Ok(Listed { waiting: fill(waiting), unassigned: fill(unassigned), waiting_for_staff: fill(waiting_for_staff), breached: fill(breached) })
}

impl TenantContext {
    /// The desk's plugin schedules, by plugin id (admins).
    pub async fn plugin_schedules(&self) -> Result<HashMap<i64, plugin_schedules::Model>> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let rows = plugin_schedules::Entity::find().all(&txn).await?;
        txn.commit().await?;
        Ok(rows.into_iter().map(|r| (r.plugin_id, r)).collect())
    }

    /// One plugin's schedule, if it has one (admins).
    pub async fn plugin_schedule(&self, plugin_id: i64) -> Result<Option<plugin_schedules::Model>> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let row = plugin_schedules::Entity::find_by_id(plugin_id).one(&txn).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Sets (`Some`) or clears (`None`) when a plugin's `on-schedule` runs,
    /// and the least wait of the tickets a run lists (`waiting_minutes`;
    /// kept when not given, 0 for a new schedule). A new expression counts
    /// from now: the first run is at its next due time. Only plugins of
    /// contract 1.2.0 and later have the hook.
    pub async fn set_plugin_schedule(
        &self,
        name: &str,
        schedule: Option<Option<&PluginSchedule>>,
        waiting_minutes: Option<i32>,
    ) -> Result<Option<plugin_schedules::Model>> {
        self.require(Role::Admin)?;
        if let Some(m) = waiting_minutes.filter(|m| !(0..=MAX_WAITING_MINUTES).contains(m)) {
            return Err(Invalid::new("schedule_waiting_minutes", format!("must be 0 to {MAX_WAITING_MINUTES} (a year); got {m}")).into());
        }
        if PluginName::parse(name).is_err() {
            return Err(RuntimeError::NotFound("plugin"));
        }
        let now = Utc::now();
        let txn = self.tenant.db.begin().await?;
        let plugin = plugins::Entity::find().filter(plugins::Column::Name.eq(name)).one(&txn).await?.ok_or(RuntimeError::NotFound("plugin"))?;
        let existing = plugin_schedules::Entity::find_by_id(plugin.id).one(&txn).await?;
        let said = |r: Option<&plugin_schedules::Model>| r.map(|r| format!("{:?} (waiting {} min)", r.cron, r.waiting_minutes)).unwrap_or_else(|| "none".into());
        let before = said(existing.as_ref());
        let row = match (schedule, existing) {
            (None, None) if waiting_minutes.is_some() => {
                return Err(Invalid::new("schedule_waiting_minutes", "applies to a schedule; set `schedule` too").into());
            }
            (None, existing) => match (existing, waiting_minutes) {
                (Some(row), Some(m)) => {
                    let mut am: plugin_schedules::ActiveModel = row.into();
                    am.waiting_minutes = Set(m);
                    am.updated_at = Set(now);
                    Some(am.update(&txn).await?)
                }
                (row, _) => row,
            },
            (Some(None), _) => {
                plugin_schedules::Entity::delete_by_id(plugin.id).exec(&txn).await?;
                None
            }
            (Some(Some(s)), existing) => {
                if !has_on_schedule(&plugin.version) {
                    return Err(Invalid::new(
                        "schedule",
                        format!("the plugin targets contract {}, which has no on-schedule (contract 1.2.0 and later have it)", plugin.version),
                    )
                    .into());
                }
                let next = s.next_after(now).ok_or_else(|| Invalid::new("schedule", format!("{:?} never comes due", s.as_str())))?;
                match existing {
                    Some(row) => {
                        let keep = row.waiting_minutes;
                        let mut am: plugin_schedules::ActiveModel = row.into();
                        am.cron = Set(s.as_str().to_owned());
                        am.waiting_minutes = Set(waiting_minutes.unwrap_or(keep));
                        am.next_due_at = Set(next);
                        am.updated_at = Set(now);
                        Some(am.update(&txn).await?)
                    }
                    None => Some(
                        plugin_schedules::ActiveModel {
                            plugin_id: Set(plugin.id),
                            cron: Set(s.as_str().to_owned()),
                            waiting_minutes: Set(waiting_minutes.unwrap_or(0)),
                            next_due_at: Set(next),
                            claim: Set(None),
                            claimed_due_at: Set(None),
                            claimed_at: Set(None),
                            last_run_at: Set(None),
                            runs: Set(0),
                            updated_at: Set(now),
                        }
                        .insert(&txn)
                        .await?,
                    ),
                }
            }
        };
        let after = said(row.as_ref());
        if after != before {
            crate::desk::audit::record(&txn, Some(self.user.id), "plugin.scheduled", None, format!("{}: {before} → {after}", plugin.name)).await?;
        }
        txn.commit().await?;
        self.runtime.inner.work.schedules.forget(&self.tenant.info.id);
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Priority;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn standard_cron_expressions_parse_and_come_due_in_utc() {
        let hourly = PluginSchedule::parse(" 0 * * * * ").unwrap();
        assert_eq!(hourly.as_str(), "0 * * * *");
        assert_eq!(hourly.next_after(at("2026-12-01T10:00:00Z")), Some(at("2026-12-01T11:00:00Z")), "strictly after");
        assert_eq!(hourly.next_after(at("2026-12-01T10:59:59.500Z")), Some(at("2026-12-01T11:00:00Z")));
        // Monday to Friday at 9:30 (0 and 7 are Sunday, as in cron).
        let weekdays = PluginSchedule::parse("30 9 * * 1-5").unwrap();
        assert_eq!(weekdays.next_after(at("2026-12-05T12:00:00Z")), Some(at("2026-12-07T09:30:00Z")), "Saturday → Monday");
        assert_eq!(PluginSchedule::parse("@daily").unwrap().next_after(at("2026-12-01T10:00:00Z")), Some(at("2026-12-02T00:00:00Z")));
        // Six fields: seconds first.
        let every_ten = PluginSchedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(every_ten.next_after(at("2026-12-01T10:00:01Z")), Some(at("2026-12-01T10:00:10Z")));
    }

    #[test]
    fn refused_schedules_name_the_problem() {
        for (text, says) in [
            ("", "must be a cron expression"),
            ("   ", "must be a cron expression"),
            ("* * * *", "has 4 field(s)"),
            ("0 0 * * * * 2030", "has 7 field(s)"),
            ("61 * * * *", "is not a cron expression"),
            ("0 25 * * *", "is not a cron expression"),
            ("every hour", "has 2 field(s)"),
            ("0 0 31 2 *", "never comes due"),
        ] {
            let e = PluginSchedule::parse(text).map(|s| s.as_str().to_owned()).unwrap_err();
            assert_eq!(e.field, "schedule");
            assert!(e.reason.contains(says), "{text:?}: {}", e.reason);
        }
        assert!(PluginSchedule::parse("0\t0 * * *").unwrap_err().reason.contains("printable"));
        assert!(PluginSchedule::parse(&"1,".repeat(70)).unwrap_err().reason.contains("at most 128"));
    }

    #[test]
    fn odd_expressions_are_answered_without_a_panic() {
        for text in [
            "*/0 * * * *", "0-0/0 * * * *", "5-1 * * * *", "? ? ? ? ?", "L * * * *", "# * * * *", "@every 5m", "@", "@@hourly",
            "0 0 L * *", "0 0 LW * *", "0 0 * * 5#3", "0 0 * * 5L", "0 0 29 2 *", "0 0 * * 8", "-1 * * * *", "99999999999999999999 * * * *",
            ",,, * * * *", "*/ * * * *", "1-/2 * * * *", "0 0 1 1 * *", "* * 31 2,4,6,9,11 *", "* * * 30 2 *", "0 0 30 2 5#5", "0 0 ,5 * *",
            "0 0 * * 5#6", "0 0 L 2 *", "0 0 1W 2 *", "1, * * * *", "0 0 * * ,", "0 ,,, * * *",
        ] {
            let started = Instant::now();
            if let Ok(s) = PluginSchedule::parse(text) {
                assert!(s.next_after(Utc::now()).is_some(), "{text:?}");
            }
            // Even the search that finds a schedule never comes is short.
            assert!(started.elapsed() < Duration::from_secs(5), "{text:?} took {:?}", started.elapsed());
        }
        assert!(PluginSchedule::parse("0 ,,, * * *").unwrap_err().reason.contains("empty item"));
        // The 29th of February comes, if rarely.
        assert!(PluginSchedule::parse("0 0 29 2 *").is_ok());
    }

    #[test]
    fn contract_versions_with_on_schedule() {
        assert!(!has_on_schedule("1.0.0") && !has_on_schedule("1.1.0"));
        assert!(has_on_schedule("1.2.0") && has_on_schedule("1.10.0") && has_on_schedule("2.0.0"));
        assert!(!has_on_schedule("garbage"));
        assert!(!sees_whole_desk("1.2.0") && sees_whole_desk("1.3.0") && sees_whole_desk("2.0.0"));
    }

    #[test]
    fn a_ticket_is_breached_from_its_first_unmet_target_that_fell_due() {
        let policy = crate::desk::sla::SlaPolicy::from_json(&serde_json::json!({"targets": {"high": {"first_response_minutes": 60, "resolution_minutes": 240}}})).unwrap();
        let opened = at("2026-12-01T10:00:00Z");
        let t = tickets::Model {
            forum_topic_id: None,
            id: 1,
            customer_id: 1,
            title: "t".into(),
            description: "d".into(),
            status: TicketStatus::Open,
            priority: Priority::High,
            category_id: None,
            team_id: None,
            assignee_id: None,
            created_at: opened,
            updated_at: opened,
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
        };
        assert_eq!(breached_at(&policy, &t, at("2026-12-01T10:59:00Z")), None, "before the first response is due");
        assert_eq!(breached_at(&policy, &t, at("2026-12-01T11:30:00Z")), Some(at("2026-12-01T11:00:00Z")));
        let answered = tickets::Model { first_response_at: Some(at("2026-12-01T11:30:00Z")), ..t.clone() };
        assert_eq!(breached_at(&policy, &answered, at("2026-12-01T12:00:00Z")), None, "answered (late): no unmet target yet");
        assert_eq!(breached_at(&policy, &answered, at("2026-12-01T15:00:00Z")), Some(at("2026-12-01T14:00:00Z")), "then resolution");
        let done = tickets::Model { status: TicketStatus::Resolved, ..answered };
        assert_eq!(breached_at(&policy, &done, at("2026-12-02T00:00:00Z")), None, "finished tickets breach nothing");
        let normal = tickets::Model { priority: Priority::Normal, ..t };
        assert_eq!(breached_at(&policy, &normal, at("2026-12-09T00:00:00Z")), None, "no targets for its priority");
    }

    #[test]
    fn a_desk_needs_a_look_when_unknown_due_or_read_long_ago() {
        let s = Schedules::default();
        let id = TenantId::generate();
        let now = at("2026-12-01T10:00:00Z");
        assert!(s.due(&id, now), "unknown");
        s.remember(&id, None);
        assert!(!s.due(&id, now), "no schedule");
        s.remember(&id, Some(now + chrono::Duration::minutes(5)));
        assert!(!s.due(&id, now) && s.due(&id, now + chrono::Duration::minutes(5)));
        s.forget(&id);
        assert!(s.due(&id, now));
    }
}
