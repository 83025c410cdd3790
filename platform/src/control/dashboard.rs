//! What the operator's dashboard reads from the control plane: MRR changes
//! (written as Stripe's subscription events are applied), the audit of
//! operator actions, payment events, and usage across every tenant (read
//! from each tenant's own counters and kept for a minute, since with
//! thousands of tenants it is thousands of small queries).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tikethet_billing::revenue::{self, Invoice};
use tikethet_billing::stripe::events::Status;

use super::billing::{accounts, events};
use super::{ControlPlane, Result};

pub mod mrr_changes {
    use sea_orm::entity::prelude::*;

    /// One change of a tenant's MRR, in cents.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "mrr_changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant_id: String,
        pub at: DateTimeUtc,
        pub plan: String,
        pub before_cents: i64,
        pub after_cents: i64,
        pub currency: String,
        /// The Stripe event that made it.
        pub cause: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit {
    use sea_orm::entity::prelude::*;

    /// An operator action: who (`dashboard`, `api`), what, on which tenant.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "operator_audit")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTimeUtc,
        pub actor: String,
        pub action: String,
        pub tenant_slug: Option<String>,
        pub detail: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A tenant's MRR in cents under a plan and a subscription status.
pub(crate) fn mrr_of(plans: &tikethet_billing::Catalogue, plan: &str, status: Option<&str>) -> u64 {
    let price = plans.plan(plan).map(|p| p.monthly_price_cents).unwrap_or(0);
    revenue::mrr_cents(price, status.and_then(Status::parse))
}

/// Records a change of a tenant's MRR (nothing when it did not change).
pub(crate) async fn record_mrr_change(
    txn: &impl ConnectionTrait,
    plans: &tikethet_billing::Catalogue,
    tenant_id: &str,
    plan: &str,
    before: u64,
    after: u64,
    cause: &str,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let currency = plans.plan(plan).map(|p| p.currency.clone()).unwrap_or_else(|_| "usd".into());
    mrr_changes::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        tenant_id: Set(tenant_id.to_owned()),
        at: Set(Utc::now()),
        plan: Set(plan.chars().take(40).collect()),
        before_cents: Set(i64::try_from(before).unwrap_or(i64::MAX)),
        after_cents: Set(i64::try_from(after).unwrap_or(i64::MAX)),
        currency: Set(currency.chars().take(3).collect()),
        cause: Set(cause.chars().take(255).collect()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Usage across every tenant served, per day.
#[derive(Debug, Clone, Default)]
pub struct UsageAcross {
    /// Ascending `YYYY-MM-DD`, every day of the window.
    pub days: Vec<String>,
    /// Per meter, one sum per day.
    pub totals: BTreeMap<String, Vec<u64>>,
    /// Tenants with anything counted, per day.
    pub active: Vec<u64>,
    /// The last day each tenant (by id) had anything counted, in the window.
    pub last_active: BTreeMap<String, String>,
    /// Tenants whose usage could not be read.
    pub unreadable: usize,
    pub read_at: DateTime<Utc>,
}

/// How long usage across tenants is reused before it is read again.
const USAGE_CACHE: std::time::Duration = std::time::Duration::from_secs(60);
/// Tenants read at once for it.
const USAGE_READERS: usize = 8;

/// The days from `days - 1` days ago to today, as stored.
pub fn window(days: i64, now: DateTime<Utc>) -> Vec<String> {
    (0..days).rev().map(|d| tikethet_runtime::desk::usage::day_of(now - chrono::Duration::days(d))).collect()
}

impl ControlPlane {
    /// Whether Stripe is configured (billing is offline otherwise).
    pub fn billing_online(&self) -> bool {
        self.stripe.is_some()
    }

    /// Records an operator action.
    pub async fn audit(&self, actor: &str, action: &str, tenant_slug: Option<&str>, detail: &str) -> Result<()> {
        audit::ActiveModel {
            id: sea_orm::ActiveValue::NotSet,
            at: Set(Utc::now()),
            actor: Set(actor.chars().take(20).collect()),
            action: Set(action.chars().take(40).collect()),
            tenant_slug: Set(tenant_slug.map(|s| s.chars().take(40).collect())),
            detail: Set(detail.to_owned()),
        }
        .insert(self.storage.control())
        .await?;
        // The desk's own log says it too, so that its admins see what the
        // platform's operator changed (a deleted desk has no log left).
        if let Some(t) = tenant_slug.and_then(|s| self.runtime.tenant_by_slug(s).ok()) {
            if let Err(e) = self.runtime.record_for_desk(&t.info.id, &format!("operator.{action}"), format!("by the platform's operator ({actor}): {detail}")).await {
                tracing::error!(action, error = %e, "an operator action was kept but could not be written to the desk's audit log");
            }
        }
        Ok(())
    }

    /// The newest operator actions on a tenant.
    pub async fn audit_of(&self, slug: &str, limit: u64) -> Result<Vec<audit::Model>> {
        Ok(audit::Entity::find()
            .filter(audit::Column::TenantSlug.eq(slug))
            .order_by_desc(audit::Column::At)
            .order_by_desc(audit::Column::Id)
            .limit(limit)
            .all(self.storage.control())
            .await?)
    }

    /// Every MRR change, oldest first.
    pub async fn mrr_changes(&self) -> Result<Vec<mrr_changes::Model>> {
        Ok(mrr_changes::Entity::find().order_by_asc(mrr_changes::Column::At).order_by_asc(mrr_changes::Column::Id).all(self.storage.control()).await?)
    }

    /// Every billing account.
    pub async fn billing_accounts(&self) -> Result<Vec<accounts::Model>> {
        Ok(accounts::Entity::find().all(self.storage.control()).await?)
    }

    /// Stripe events of these kinds since `since` (Stripe's `created`), newest first.
    pub async fn stripe_events_of(&self, kinds: &[&str], since: i64, limit: u64) -> Result<Vec<events::Model>> {
        Ok(events::Entity::find()
            .filter(events::Column::Kind.is_in(kinds.iter().copied()))
            .filter(events::Column::Created.gte(since))
            .order_by_desc(events::Column::Created)
            .limit(limit)
            .all(self.storage.control())
            .await?)
    }

    /// A tenant's invoices as Stripe's `invoice.*` events told them, the
    /// newest state of each, newest first; and whether its last event was
    /// a failed payment.
    pub async fn invoices_of(&self, tenant_id: &str, limit: u64) -> Result<Vec<(Invoice, bool)>> {
        let rows = events::Entity::find()
            .filter(events::Column::TenantId.eq(tenant_id))
            .filter(events::Column::Kind.starts_with("invoice."))
            .order_by_desc(events::Column::Created)
            .limit(limit * 4)
            .all(self.storage.control())
            .await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for e in rows {
            let Some(i) = invoice_in(&e.payload) else { continue };
            if seen.insert(i.id.clone()) {
                out.push((i, e.kind == "invoice.payment_failed"));
            }
            if out.len() as u64 >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Usage across every tenant served for the last `days` days, read at
    /// most once a minute.
    pub async fn usage_across(&self, days: i64) -> Arc<UsageAcross> {
        let mut cached = self.usage_across.lock().await;
        if let Some((at, u)) = cached.as_ref() {
            if at.elapsed() < USAGE_CACHE && u.days.len() as i64 == days {
                return u.clone();
            }
        }
        let u = Arc::new(self.read_usage_across(days).await);
        *cached = Some((std::time::Instant::now(), u.clone()));
        u
    }

    async fn read_usage_across(&self, days: i64) -> UsageAcross {
        use futures::StreamExt as _;
        let now = Utc::now();
        let days = window(days, now);
        let since = days.first().cloned().unwrap_or_default();
        let index: BTreeMap<&str, usize> = days.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
        let tenants = self.runtime.tenants().all();
        let reads = futures::stream::iter(tenants)
            .map(|t| {
                let since = since.clone();
                async move { (t.info.id.as_str().to_owned(), tikethet_runtime::desk::usage::daily(&t, &since).await) }
            })
            .buffer_unordered(USAGE_READERS)
            .collect::<Vec<_>>()
            .await;
        let mut out = UsageAcross { days: days.clone(), read_at: now, active: vec![0; days.len()], ..UsageAcross::default() };
        for (tenant, read) in reads {
            let Ok(counts) = read else {
                out.unreadable += 1;
                continue;
            };
            let mut active_days = std::collections::BTreeSet::new();
            for c in counts {
                let Some(&i) = index.get(c.day.as_str()) else { continue };
                out.totals.entry(c.metric.clone()).or_insert_with(|| vec![0; days.len()])[i] += c.count;
                if c.count > 0 {
                    active_days.insert(i);
                }
            }
            for &i in &active_days {
                out.active[i] += 1;
            }
            if let Some(&last) = active_days.last() {
                out.last_active.insert(tenant, days[last].clone());
            }
        }
        out
    }
}

/// The invoice in a stored event's payload.
impl ControlPlane {
    /// A past of billing for `tikethet demo`: the desk subscribed to
    /// `plans[0]` `months` ago and moved through the others, one a month;
    /// its account says active, each month's invoice is a paid event and
    /// each move an MRR change, as Stripe's events would have left them.
    /// Only the demo calls it (its Stripe is offline: nothing is charged).
    pub async fn seed_demo_billing(&self, tenant_id: &str, slug: &str, plans: &[&str], months: i64) -> Result<()> {
        let now = Utc::now();
        let db = self.storage.control();
        let price = |p: &str| self.plans.plan(p).map(|p| (p.monthly_price_cents as i64, p.currency.clone())).unwrap_or((0, "usd".into()));
        let mut before = 0;
        for m in 0..months {
            let at = now - chrono::Duration::days(30 * (months - m));
            let plan = plans[(m as usize).min(plans.len() - 1)];
            let (cents, currency) = price(plan);
            if cents != before {
                mrr_changes::ActiveModel {
                    id: sea_orm::ActiveValue::NotSet,
                    tenant_id: Set(tenant_id.to_owned()),
                    at: Set(at),
                    plan: Set(plan.to_owned()),
                    before_cents: Set(before),
                    after_cents: Set(cents),
                    currency: Set(currency.clone()),
                    cause: Set(format!("evt_demo_{slug}_{m}")),
                }
                .insert(db)
                .await?;
                before = cents;
            }
            let id = format!("in_demo_{slug}_{m}");
            let object = serde_json::json!({"id": id, "object": "invoice", "status": "paid", "amount_due": cents, "amount_paid": cents, "currency": currency, "created": at.timestamp(), "hosted_invoice_url": null, "attempt_count": 1});
            let payload = serde_json::json!({"id": format!("evt_demo_{slug}_inv_{m}"), "object": "event", "type": "invoice.paid", "created": at.timestamp(), "livemode": false, "data": {"object": object}});
            events::ActiveModel {
                id: Set(format!("evt_demo_{slug}_inv_{m}")),
                kind: Set("invoice.paid".into()),
                created: Set(at.timestamp()),
                tenant_id: Set(Some(tenant_id.to_owned())),
                outcome: Set("recorded".into()),
                payload: Set(payload.to_string()),
                received_at: Set(at),
            }
            .insert(db)
            .await?;
        }
        accounts::ActiveModel {
            tenant_id: Set(tenant_id.to_owned()),
            stripe_customer_id: Set(Some(format!("cus_demo_{slug}"))),
            stripe_subscription_id: Set(Some(format!("sub_demo_{slug}"))),
            subscription_status: Set(Some("active".into())),
            state_at: Set(Some(now.timestamp())),
            unpaid_since: Set(None),
            suspended_by_billing: Set(false),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        Ok(())
    }
}

pub fn invoice_in(payload: &str) -> Option<Invoice> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    Invoice::from_object(v.pointer("/data/object")?)
}

/// The subscription's `trial_end` in a stored event's payload.
pub fn trial_end_in(payload: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    v.pointer("/data/object/trial_end")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_today_and_counts_its_days() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().with_timezone(&Utc);
        let w = window(30, now);
        assert_eq!((w.len(), w[0].as_str(), w[29].as_str()), (30, "2026-11-04", "2026-12-03"));
    }

    #[test]
    fn mrr_follows_the_plan_price_while_the_subscription_counts() {
        let plans = tikethet_billing::Catalogue::builtin();
        let pro = plans.plan("pro").unwrap().monthly_price_cents;
        assert!(pro > 0);
        assert_eq!(mrr_of(&plans, "pro", Some("active")), pro);
        assert_eq!(mrr_of(&plans, "pro", Some("trialing")), 0);
        assert_eq!(mrr_of(&plans, "pro", None), 0);
        assert_eq!(mrr_of(&plans, "nonsense", Some("active")), 0);
    }
}
