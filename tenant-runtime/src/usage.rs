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
use crate::entities::{attachments, plugins, usage_counters, users};
use crate::tenant::{Quotas, TenantInfo};

pub use usage_counters::{MESSAGES, PLUGIN_INVOCATIONS, TICKETS};

type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Adds `n` to today's count of a meter.
pub(crate) async fn count(txn: &DatabaseTransaction, metric: &'static str, n: i64) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    usage_counters::Entity::insert(usage_counters::ActiveModel {
        day: Set(day_of(Utc::now())),
        metric: Set(metric.to_owned()),
        count: Set(n),
        reported: Set(0),
        reporting: Set(0),
    })
    .on_conflict(
        OnConflict::columns([usage_counters::Column::Day, usage_counters::Column::Metric])
            .value(usage_counters::Column::Count, Expr::col((usage_counters::Entity, usage_counters::Column::Count)).add(n))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_compare_as_stored_text() {
        let t = DateTime::parse_from_rfc3339("2026-03-09T23:59:59Z").unwrap().with_timezone(&Utc);
        assert_eq!((day_of(t), month_of(t)), ("2026-03-09".to_owned(), "2026-03-01".to_owned()));
        assert!(day_of(t) >= month_of(t) && "2026-02-28".to_owned() < month_of(t) && "2026-12-01".to_owned() > month_of(t));
    }
}
