//! Usage against the tenant's plan. Work is counted per day and meter in
//! the tenant's own storage, in the transaction that does the work, so a
//! month's figures (for limits) and each day's (for metered billing) are
//! exact. A limit reached refuses the extras, never a customer's message:
//! a message that would open a ticket over the month's limit waits in the
//! inbox as `over_limit` and is processed once the limit lifts (a new plan,
//! an override, the next month).

use chrono::{DateTime, Datelike as _, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

use crate::RuntimeError;
use crate::storage::entities::{attachments, plugins, usage_counters, users};
use crate::storage::tenant::{Quotas, TenantInfo};

pub use usage_counters::{MESSAGES, PLUGIN_INVOCATIONS, TICKETS};

type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Adds `n` to today's count of a meter.
pub(crate) async fn count(txn: &DatabaseTransaction, metric: &'static str, n: i64) -> Result<()> {
    count_all(txn, &[(metric, n)]).await
}

/// Rows a day's count of a meter is spread over on PostgreSQL. A
/// transaction that counts holds its row's lock until it commits; with one
/// row, every write of a desk waited for the commit of the one before.
pub const SHARDS: i16 = 16;

/// Adds to today's counts of several meters in one statement, on one shard
/// picked at random (SQLite has one writer at a time: one shard there).
/// The row stays locked until the transaction ends: call this as late in
/// the transaction as possible.
pub(crate) async fn count_all(txn: &DatabaseTransaction, counts: &[(&'static str, i64)]) -> Result<()> {
    use sea_orm::ConnectionTrait as _;
    let day = day_of(Utc::now());
    let shard = match txn.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => 0,
        _ => rand::random_range(0..SHARDS),
    };
    let rows: Vec<usage_counters::ActiveModel> = counts
        .iter()
        .filter(|(_, n)| *n != 0)
        .map(|(metric, n)| usage_counters::ActiveModel {
            day: Set(day.clone()),
            metric: Set((*metric).to_owned()),
            shard: Set(shard),
            count: Set(*n),
            reported: Set(0),
            reporting: Set(0),
            reporting_at: Set(None),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let added = Expr::col((sea_orm::sea_query::Alias::new("excluded"), usage_counters::Column::Count));
    usage_counters::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([usage_counters::Column::Day, usage_counters::Column::Metric, usage_counters::Column::Shard])
                .value(usage_counters::Column::Count, Expr::col((usage_counters::Entity, usage_counters::Column::Count)).add(added))
                .to_owned(),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// The day a count belongs to, as stored.
pub fn day_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The first day of `t`'s month, as stored (days compare as text).
pub fn month_of(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}-01", t.year(), t.month())
}

/// A meter's count this month.
pub(crate) async fn this_month(txn: &DatabaseTransaction, metric: &str) -> Result<u64> {
    let counts: Vec<i64> = usage_counters::Entity::find()
        .select_only()
        .column(usage_counters::Column::Count)
        .filter(usage_counters::Column::Metric.eq(metric))
        .filter(usage_counters::Column::Day.gte(month_of(Utc::now())))
        .into_tuple()
        .all(txn)
        .await?;
    Ok(counts.into_iter().map(|c| u64::try_from(c).unwrap_or(0)).sum())
}

/// Staff members now (helper and above).
pub(crate) async fn agents(txn: &DatabaseTransaction) -> Result<u64> {
    use sea_orm::PaginatorTrait as _;
    let staff = [crate::domain::Role::Helper, crate::domain::Role::Moderator, crate::domain::Role::Admin, crate::domain::Role::Owner];
    Ok(users::Entity::find().filter(users::Column::Role.is_in(staff.map(|r| r.as_str()))).count(txn).await?)
}

/// Bytes of all attachments kept.
pub(crate) async fn storage_bytes(txn: &DatabaseTransaction) -> Result<u64> {
    let sizes: Vec<i64> = attachments::Entity::find().select_only().column(attachments::Column::Size).into_tuple().all(txn).await?;
    Ok(sizes.into_iter().map(|s| u64::try_from(s).unwrap_or(0)).sum())
}

pub(crate) async fn plugins_installed(txn: &DatabaseTransaction) -> Result<u64> {
    use sea_orm::PaginatorTrait as _;
    Ok(plugins::Entity::find().count(txn).await?)
}

/// Refuses when `used + adding` would pass `allowed`, naming the limit and
/// the plan.
pub(crate) fn within(info: &TenantInfo, what: &str, allowed: Option<u64>, used: u64, adding: u64) -> Result<()> {
    match allowed {
        Some(max) if used.saturating_add(adding) > max => Err(RuntimeError::PlanLimit(format!(
            "the {} plan allows {max} {what}; this desk has {used}. Upgrade the plan (or ask the operator to raise the limit) to go on",
            info.plan_name
        ))),
        _ => Ok(()),
    }
}

/// Refuses one more of a monthly meter over its limit; counts nothing when
/// the plan has no such limit (every customer message passes here).
pub(crate) async fn within_month(txn: &DatabaseTransaction, info: &TenantInfo, what: &str, allowed: Option<u64>, metric: &str) -> Result<()> {
    if allowed.is_none() {
        return Ok(());
    }
    within(info, what, allowed, this_month(txn, metric).await?, 1)
}

/// Whether one more of a monthly meter would pass its limit; counts
/// nothing when the plan has none.
pub(crate) async fn over_month(txn: &DatabaseTransaction, allowed: Option<u64>, metric: &str) -> Result<bool> {
    match allowed {
        None => Ok(false),
        Some(max) => Ok(this_month(txn, metric).await? >= max),
    }
}

/// One line of a tenant's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    /// The limit's name (`tickets_per_month`, …).
    pub limit: &'static str,
    pub used: u64,
    /// `None`: unlimited.
    pub allowed: Option<u64>,
}

/// The tenant's usage against its limits now (monthly ones for this
/// calendar month), and plugin calls this month (metered, not limited).
pub(crate) async fn report(txn: &DatabaseTransaction, q: &Quotas) -> Result<(Vec<UsageLine>, u64)> {
    let lines = vec![
        UsageLine { limit: "agents", used: agents(txn).await?, allowed: q.agents },
        UsageLine { limit: "tickets_per_month", used: this_month(txn, TICKETS).await?, allowed: q.tickets_per_month },
        UsageLine { limit: "messages_per_month", used: this_month(txn, MESSAGES).await?, allowed: q.messages_per_month },
        UsageLine { limit: "plugins", used: plugins_installed(txn).await?, allowed: q.plugins },
        UsageLine { limit: "storage_bytes", used: storage_bytes(txn).await?, allowed: q.storage_bytes },
    ];
    Ok((lines, this_month(txn, PLUGIN_INVOCATIONS).await?))
}

/// A slice of usage to report to Stripe: `value` units of `metric` on
/// `day`, counted in `shard`, after the `offset` units of that shard
/// reported before. The four name the report ([`Slice::identifier`]), so a
/// report retried after a crash is the same report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub day: String,
    pub metric: String,
    pub shard: i16,
    pub offset: i64,
    pub value: i64,
    /// The event's timestamp (Unix seconds), fixed when the slice is taken.
    pub at: i64,
}

impl Slice {
    /// The report's identifier (Stripe keeps one event per identifier).
    /// Shard 0 keeps the form reports had before counts were sharded, so a
    /// report in flight across the upgrade stays the same report.
    pub fn identifier(&self, tenant_id: &str) -> String {
        match self.shard {
            0 => format!("{tenant_id}-{}-{}-{}", self.metric, self.day, self.offset),
            n => format!("{tenant_id}-{}-{}.{n}-{}", self.metric, self.day, self.offset),
        }
    }
}

/// The next slices of a tenant's usage to report for these meters: a slice
/// already in flight (written before it was sent) is given again as it
/// was, its timestamp included; otherwise what was counted since the last
/// report becomes the next slice, stamped by `stamp(day)` and written down
/// before it is handed out.
pub async fn next_slices(tenant: &crate::Tenant, metrics: &[&str], stamp: impl Fn(&str) -> i64) -> Result<Vec<Slice>> {
    let txn = tenant.db.begin().await?;
    let rows = usage_counters::Entity::find()
        .filter(usage_counters::Column::Metric.is_in(metrics.iter().copied()))
        .filter(Expr::col(usage_counters::Column::Count).gt(Expr::col(usage_counters::Column::Reported)))
        .all(&txn)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let (value, at) = if r.reporting > 0 {
            // Stamped before it was first sent (a row from before the stamp
            // was kept is stamped now, once).
            (r.reporting, r.reporting_at.unwrap_or_else(|| stamp(&r.day)))
        } else {
            (r.count - r.reported, stamp(&r.day))
        };
        if r.reporting == 0 || r.reporting_at.is_none() {
            usage_counters::Entity::update_many()
                .col_expr(usage_counters::Column::Reporting, Expr::value(value))
                .col_expr(usage_counters::Column::ReportingAt, Expr::value(at))
                .filter(usage_counters::Column::Day.eq(r.day.as_str()))
                .filter(usage_counters::Column::Metric.eq(r.metric.as_str()))
                .filter(usage_counters::Column::Shard.eq(r.shard))
                .filter(usage_counters::Column::Reporting.eq(r.reporting))
                .exec(&txn)
                .await?;
        }
        out.push(Slice { day: r.day, metric: r.metric, shard: r.shard, offset: r.reported, value, at });
    }
    txn.commit().await?;
    Ok(out)
}

/// Marks a slice reported (Stripe has it).
pub async fn slice_reported(tenant: &crate::Tenant, s: &Slice) -> Result<()> {
    let txn = tenant.db.begin().await?;
    usage_counters::Entity::update_many()
        .col_expr(usage_counters::Column::Reported, Expr::col(usage_counters::Column::Reported).add(s.value))
        .col_expr(usage_counters::Column::Reporting, Expr::value(0))
        .col_expr(usage_counters::Column::ReportingAt, Expr::value(Option::<i64>::None))
        .filter(usage_counters::Column::Day.eq(s.day.as_str()))
        .filter(usage_counters::Column::Metric.eq(s.metric.as_str()))
        .filter(usage_counters::Column::Shard.eq(s.shard))
        .filter(usage_counters::Column::Reported.eq(s.offset))
        .filter(usage_counters::Column::Reporting.eq(s.value))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// A tenant's usage now against its limits (monthly ones for this
/// calendar month) and its plugin calls this month: what the operator's
/// dashboard shows beside the tenant.
pub async fn now(tenant: &crate::Tenant) -> Result<(Vec<UsageLine>, u64)> {
    let txn = tenant.db.begin().await?;
    let out = report(&txn, &tenant.info.quotas).await?;
    txn.commit().await?;
    Ok(out)
}

/// One day's count of one meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: String,
    pub metric: String,
    pub count: u64,
}

/// Every meter's count per day from `since` (a day as stored) on, oldest
/// first; days with nothing counted are absent.
pub async fn daily(tenant: &crate::Tenant, since: &str) -> Result<Vec<DayCount>> {
    use sea_orm::QueryOrder as _;
    let txn = tenant.db.begin().await?;
    let rows = usage_counters::Entity::find()
        .filter(usage_counters::Column::Day.gte(since))
        .order_by_asc(usage_counters::Column::Day)
        .all(&txn)
        .await?;
    txn.commit().await?;
    // The shards of a day and meter are adjacent (ordered by day, then by
    // the primary key) or not; summed by key either way.
    let mut out: Vec<DayCount> = Vec::new();
    for r in rows {
        let n = u64::try_from(r.count).unwrap_or(0);
        match out.iter_mut().find(|d| d.day == r.day && d.metric == r.metric) {
            Some(d) => d.count += n,
            None => out.push(DayCount { day: r.day, metric: r.metric, count: n }),
        }
    }
    Ok(out)
}

/// Units counted and not yet reported, per meter.
pub async fn unreported(tenant: &crate::Tenant, metrics: &[&str]) -> Result<u64> {
    let txn = tenant.db.begin().await?;
    let rows = usage_counters::Entity::find().filter(usage_counters::Column::Metric.is_in(metrics.iter().copied())).all(&txn).await?;
    txn.commit().await?;
    Ok(rows.iter().map(|r| u64::try_from(r.count - r.reported).unwrap_or(0)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_compare_as_stored_text() {
        let t = DateTime::parse_from_rfc3339("2026-03-09T23:59:59Z").unwrap().with_timezone(&Utc);
        assert_eq!((day_of(t), month_of(t)), ("2026-03-09".to_owned(), "2026-03-01".to_owned()));
        assert!(day_of(t) >= month_of(t) && "2026-02-28".to_owned() < month_of(t) && "2026-12-01".to_owned() > month_of(t));
    }

    #[test]
    fn a_slice_is_named_by_day_meter_shard_and_offset_and_shard_0_as_before_shards() {
        let s = |shard| Slice { day: "2026-03-09".into(), metric: "messages".into(), shard, offset: 40, value: 2, at: 0 };
        assert_eq!(s(0).identifier("t_1"), "t_1-messages-2026-03-09-40");
        assert_eq!(s(3).identifier("t_1"), "t_1-messages-2026-03-09.3-40");
        assert_ne!(s(3).identifier("t_1"), s(4).identifier("t_1"));
    }
}
