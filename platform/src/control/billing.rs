//! Billing in the control plane: Stripe events applied to tenants. The
//! HTTP boundary has checked the signature; here each event is recorded
//! once (its id is the key, so a replay changes nothing) and a
//! subscription's state drives its tenant: paid (trialing, active) runs on
//! the subscription's plan; unpaid (past due, unpaid, canceled) runs for
//! the grace period and is then suspended, until paid again. Events arrive
//! in any order: an event older than the state already applied changes
//! nothing.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr};
use tikethet_billing::stripe::events::{CheckoutCompleted, Event, Standing, Status, Subscription};
use tikethet_runtime::TenantStatus;

use super::{ControlError, ControlPlane, Result, tenants};

/// How long an unpaid subscription's desk keeps running.
pub const GRACE_PERIOD: chrono::Duration = chrono::Duration::days(7);

pub mod accounts {
    use sea_orm::entity::prelude::*;

    /// A tenant's Stripe customer and subscription, as the webhooks told it.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "billing_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(unique)]
        pub stripe_customer_id: Option<String>,
        pub stripe_subscription_id: Option<String>,
        pub subscription_status: Option<String>,
        /// `created` of the newest subscription event applied.
        pub state_at: Option<i64>,
        /// Since when the subscription has not been paid (grace runs from here).
        pub unpaid_since: Option<DateTimeUtc>,
        /// Billing suspended the tenant (and resumes it once paid); an
        /// operator's suspension is never lifted by a payment.
        pub suspended_by_billing: bool,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod events {
    use sea_orm::entity::prelude::*;

    /// Every Stripe event received, once.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stripe_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub created: i64,
        pub tenant_id: Option<String>,
        /// What it did (`applied`, `stale`, `recorded`, …).
        pub outcome: String,
        pub payload: String,
        pub received_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The tenant an event is about, the tenant row it changed, what it did.
struct Touched {
    tenant_id: Option<String>,
    changed: Option<tenants::Model>,
    outcome: String,
}

impl Touched {
    fn nobody(outcome: String) -> Touched {
        Touched { tenant_id: None, changed: None, outcome }
    }
}

/// What an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Seen before: nothing done again.
    Duplicate,
    /// Processed; says what it did.
    Done(String),
}

impl ControlPlane {
    /// Records a (verified) Stripe event and applies it, once.
    pub async fn apply_stripe_event(&self, event: &Event, payload: &str) -> Result<Applied> {
        let db = self.storage.control();
        let txn = db.begin().await?;
        if events::Entity::find_by_id(event.id.clone()).one(&txn).await?.is_some() {
            return Ok(Applied::Duplicate);
        }
        let Touched { tenant_id, changed: tenant, outcome } = match self.apply(&txn, event).await {
            // Recorded and acknowledged all the same: Stripe would retry
            // an event we cannot read for days, to no end.
            Err(ControlError::Invalid(e)) => Touched { tenant_id: None, changed: None, outcome: format!("not understood: {e}") },
            other => other?,
        };
        let row = events::ActiveModel {
            id: Set(event.id.clone()),
            kind: Set(event.kind.chars().take(100).collect()),
            created: Set(event.created),
            tenant_id: Set(tenant_id),
            outcome: Set(outcome.clone()),
            payload: Set(payload.to_owned()),
            received_at: Set(Utc::now()),
        };
        match row.insert(&txn).await {
            Ok(_) => {}
            // The same event delivered twice at once: the other one won.
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => return Ok(Applied::Duplicate),
            Err(e) => return Err(e.into()),
        }
        txn.commit().await?;
        if let Some(m) = tenant {
            // Served now on this node; other nodes pick it up at their sync.
            let m = tenants::Entity::find_by_id(m.id).one(db).await?.ok_or_else(|| ControlError::NotFound(m.slug.clone()))?;
            self.serve(&m).await?;
        }
        tracing::info!(event = %event.id, kind = %event.kind, outcome = %outcome, "Stripe event");
        Ok(Applied::Done(outcome))
    }

    /// Applies an event in `txn`.
    async fn apply(&self, txn: &sea_orm::DatabaseTransaction, event: &Event) -> Result<Touched> {
        let invalid = |e: tikethet_billing::stripe::events::NotAnEvent| ControlError::Invalid(tikethet_runtime::domain::Invalid::new("event", e.to_string()));
        match event.kind.as_str() {
            "checkout.session.completed" => {
                let c = CheckoutCompleted::from_object(&event.object).map_err(invalid)?;
                let Some(t) = tenants::Entity::find_by_id(c.tenant.clone()).one(txn).await? else {
                    return Ok(Touched::nobody(format!("no tenant {}", c.tenant)));
                };
                let (mut a, new) = account(txn, &t.id).await?;
                a.stripe_customer_id = Set(Some(c.customer));
                if c.subscription.is_some() {
                    a.stripe_subscription_id = Set(c.subscription);
                }
                a.updated_at = Set(Utc::now());
                store(txn, (a, new)).await?;
                Ok(Touched { tenant_id: Some(t.id), changed: None, outcome: "customer linked".into() })
            }
            k if k.starts_with("customer.subscription.") => {
                let s = Subscription::from_object(&event.object).map_err(invalid)?;
                self.apply_subscription(txn, event, &s).await
            }
            k if k.starts_with("invoice.") => {
                // Kept for the dashboard's invoices and failed payments,
                // under the tenant whose customer it bills.
                let customer = match event.object.get("customer") {
                    Some(serde_json::Value::String(c)) => Some(c.clone()),
                    Some(c) => c.get("id").and_then(serde_json::Value::as_str).map(str::to_owned),
                    None => None,
                };
                let tenant = match customer {
                    Some(c) => accounts::Entity::find().filter(accounts::Column::StripeCustomerId.eq(c)).one(txn).await?.map(|a| a.tenant_id),
                    None => None,
                };
                let outcome = match tenant {
                    Some(_) => "recorded".to_owned(),
                    None => "recorded: no tenant has this customer".to_owned(),
                };
                Ok(Touched { tenant_id: tenant, changed: None, outcome })
            }
            _ => Ok(Touched::nobody("recorded".into())),
        }
    }

    async fn apply_subscription(&self, txn: &sea_orm::DatabaseTransaction, event: &Event, s: &Subscription) -> Result<Touched> {
        // The tenant: by the customer the Checkout Session linked, else by
        // the id the session put in the subscription's metadata.
        let by_customer = accounts::Entity::find().filter(accounts::Column::StripeCustomerId.eq(s.customer.as_str())).one(txn).await?;
        let tenant_id = match (by_customer, &s.tenant) {
            (Some(a), _) => a.tenant_id,
            (None, Some(t)) => t.clone(),
            (None, None) => return Ok(Touched::nobody(format!("no tenant for customer {}", s.customer))),
        };
        let Some(t) = tenants::Entity::find_by_id(tenant_id.clone()).one(txn).await? else {
            return Ok(Touched::nobody(format!("no tenant {tenant_id}")));
        };
        let about = |outcome: String| Touched { tenant_id: Some(t.id.clone()), changed: None, outcome };
        let current = accounts::Entity::find_by_id(t.id.clone()).one(txn).await?;
        if let Some(a) = &current {
            if a.state_at.is_some_and(|at| at > event.created) {
                return Ok(about("stale: a newer state is applied".into()));
            }
            if a.stripe_subscription_id.as_deref().is_some_and(|id| id != s.id) && s.status.standing() != Standing::Paid {
                // An old subscription ending after a new one was bought.
                return Ok(about(format!("about another subscription ({})", s.id)));
            }
        }
        // Two events of the same second arrive in either order: what
        // Stripe has now settles it, when Stripe can be asked.
        let fetched;
        let s = match (&self.stripe, current.as_ref().and_then(|a| a.state_at)) {
            (Some(stripe), Some(at)) if at == event.created && event.kind != "customer.subscription.deleted" => {
                fetched = stripe.subscription(&s.id).await?;
                &fetched
            }
            _ => s,
        };
        let status = if event.kind == "customer.subscription.deleted" { Status::Canceled } else { s.status };
        let (mut a, new) = account(txn, &t.id).await?;
        a.stripe_customer_id = Set(Some(s.customer.clone()));
        a.stripe_subscription_id = Set(Some(s.id.clone()));
        a.subscription_status = Set(Some(status.as_str().to_owned()));
        a.state_at = Set(Some(event.created));
        a.updated_at = Set(Utc::now());
        let was_suspended_by_billing = current.as_ref().is_some_and(|c| c.suspended_by_billing);
        let mut tenant: tenants::ActiveModel = t.clone().into();
        let mut changed = false;
        let outcome = match status.standing() {
            Standing::Paid => {
                a.unpaid_since = Set(None);
                if let Some(plan) = s.price.as_deref().and_then(|p| self.plans.by_stripe_price(p)) {
                    if plan.id != t.plan {
                        tenant.plan = Set(plan.id.clone());
                        changed = true;
                    }
                }
                if was_suspended_by_billing {
                    a.suspended_by_billing = Set(false);
                    if t.status == TenantStatus::Suspended.as_str() {
                        tenant.status = Set(TenantStatus::Active.as_str().to_owned());
                        changed = true;
                    }
                }
                format!("{}: runs on {}", status.as_str(), if changed { "a new state" } else { "its plan" })
            }
            Standing::Pending => format!("{}: waiting for the first payment", status.as_str()),
            Standing::Unpaid => {
                if current.as_ref().and_then(|c| c.unpaid_since).is_none() {
                    a.unpaid_since = Set(Some(Utc::now()));
                }
                format!("{}: grace period of {} days, then suspended", status.as_str(), GRACE_PERIOD.num_days())
            }
        };
        store(txn, (a, new)).await?;
        let plan_now = tenant.plan.as_ref().clone();
        let before = super::dashboard::mrr_of(&self.plans, &t.plan, current.as_ref().and_then(|c| c.subscription_status.as_deref()));
        let after = super::dashboard::mrr_of(&self.plans, &plan_now, Some(status.as_str()));
        super::dashboard::record_mrr_change(txn, &self.plans, &t.id, &plan_now, before, after, &event.id).await?;
        if !changed {
            return Ok(about(outcome));
        }
        tenant.updated_at = Set(Utc::now());
        let t = tenant.update(txn).await?;
        Ok(Touched { tenant_id: Some(t.id.clone()), changed: Some(t), outcome })
    }

    /// Suspends the tenants whose grace period ran out. Runs with each sync.
    pub(crate) async fn suspend_after_grace(&self, now: DateTime<Utc>) -> Result<usize> {
        let db = self.storage.control();
        let due = accounts::Entity::find()
            .filter(accounts::Column::UnpaidSince.lt(now - GRACE_PERIOD))
            .filter(accounts::Column::SuspendedByBilling.eq(false))
            .all(db)
            .await?;
        let mut n = 0;
        for a in due {
            let txn = db.begin().await?;
            let Some(t) = tenants::Entity::find_by_id(a.tenant_id.clone()).one(&txn).await? else { continue };
            if t.status != TenantStatus::Active.as_str() {
                // Suspended by the operator (or being deleted): theirs to
                // lift, never a payment's.
                continue;
            }
            let mut acc: accounts::ActiveModel = a.into();
            acc.suspended_by_billing = Set(true);
            acc.updated_at = Set(now);
            acc.update(&txn).await?;
            let slug = t.slug.clone();
            let mut am: tenants::ActiveModel = t.into();
            am.status = Set(TenantStatus::Suspended.as_str().to_owned());
            am.updated_at = Set(now);
            am.update(&txn).await?;
            txn.commit().await?;
            tracing::warn!(tenant = %slug, "suspended: the subscription is unpaid past the grace period");
            n += 1;
        }
        Ok(n)
    }

    /// A tenant's billing account (if it has one) and its latest Stripe
    /// events, newest first.
    pub async fn billing_of(&self, slug: &str, events_limit: u64) -> Result<(tenants::Model, Option<accounts::Model>, Vec<events::Model>)> {
        use sea_orm::{QueryOrder as _, QuerySelect as _};
        let t = self.find(slug).await?;
        let db = self.storage.control();
        let account = self.billing_account_of(&t.id).await?;
        let recent = events::Entity::find()
            .filter(events::Column::TenantId.eq(t.id.as_str()))
            .order_by_desc(events::Column::Created)
            .order_by_desc(events::Column::ReceivedAt)
            .limit(events_limit)
            .all(db)
            .await?;
        Ok((t, account, recent))
    }
}

/// The meters reported to Stripe: the desk's counter and the event name of
/// the Billing Meter the operator creates in Stripe for it.
pub const METERS: [(&str, &str); 2] =
    [(tikethet_runtime::desk::usage::MESSAGES, "tikethet_messages"), (tikethet_runtime::desk::usage::PLUGIN_INVOCATIONS, "tikethet_plugin_invocations")];

/// Stripe takes meter events up to 35 days old.
const OLDEST_EVENT: chrono::Duration = chrono::Duration::days(34);

/// The timestamp a day's usage is reported at: the day's last second (now,
/// for today), never older than Stripe takes.
fn report_time(day: &str, now: DateTime<Utc>) -> i64 {
    let end = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc())
        .unwrap_or(now);
    end.min(now).max(now - OLDEST_EVENT).timestamp()
}

impl ControlPlane {
    /// Starts reporting usage to Stripe every `every` (nothing offline).
    pub fn spawn_usage_reports(self: std::sync::Arc<Self>, every: std::time::Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.stripe.as_ref()?;
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.report_usage().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(units = n, "usage reported to Stripe"),
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "reporting usage to Stripe failed; the next pass resumes it"),
                }
            }
        }))
    }

    /// How long ago usage was last reported in full; `None` offline,
    /// `Some(None)` before the first full pass.
    pub fn usage_report_age(&self) -> Option<Option<std::time::Duration>> {
        self.stripe.as_ref()?;
        Some(self.usage_reported_at.lock().expect("poisoned").map(|t| t.elapsed()))
    }

    /// One pass: every subscribed tenant's usage not yet reported goes to
    /// Stripe as meter events, one per slice (day, meter and how much of
    /// the day came before), the slice written down before it is sent. A
    /// pass cut short (a crash, Stripe down) resends the same slices with
    /// the same identifiers, which Stripe counts once. Returns the units
    /// reported.
    pub async fn report_usage(&self) -> Result<u64> {
        let Some(stripe) = &self.stripe else { return Ok(0) };
        let subscribed = accounts::Entity::find()
            .filter(accounts::Column::StripeCustomerId.is_not_null())
            .filter(accounts::Column::StripeSubscriptionId.is_not_null())
            .all(self.storage.control())
            .await?;
        let metrics = METERS.map(|(m, _)| m);
        let (mut units, mut whole) = (0u64, true);
        for a in subscribed {
            let Some(t) = self.runtime.tenants().get(&tikethet_runtime::domain::TenantId::from_stored(a.tenant_id.clone())) else { continue };
            let customer = a.stripe_customer_id.as_deref().unwrap_or_default();
            let now = Utc::now();
            let slices = tikethet_runtime::desk::usage::next_slices(&t, &metrics, |day| report_time(day, now)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            for s in slices {
                let Some((_, event_name)) = METERS.iter().find(|(m, _)| *m == s.metric) else { continue };
                let identifier = s.identifier(&a.tenant_id);
                match stripe.meter_event(event_name, customer, u64::try_from(s.value).unwrap_or(0), &identifier, s.at).await {
                    Ok(_) => {
                        tikethet_runtime::desk::usage::slice_reported(&t, &s).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                        units += u64::try_from(s.value).unwrap_or(0);
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %a.tenant_id, identifier, error = %e, "a usage report failed; it is resent next pass");
                        whole = false;
                        break;
                    }
                }
            }
        }
        if whole {
            *self.usage_reported_at.lock().expect("poisoned") = Some(std::time::Instant::now());
        }
        Ok(units)
    }

    /// A Checkout Session for the tenant to buy `plan`; the tenant's Stripe
    /// customer is made first if it has none. Returns the session's id and
    /// the page to send the owner to.
    pub async fn checkout(&self, tenant_slug: &str, plan: &str, success_url: &str, cancel_url: &str) -> Result<tikethet_billing::stripe::client::Checkout> {
        let stripe = self.stripe()?;
        let plan = self.plans.plan(plan).map_err(|e| tikethet_runtime::domain::Invalid::new("plan", e.to_string()))?;
        let price = plan.stripe_price.clone().ok_or_else(|| ControlError::NotForSale(plan.name.clone()))?;
        let t = self.find(tenant_slug).await?;
        if self.has_live_subscription(&t).await? {
            // A second subscription would bill beside the first.
            return Err(ControlError::AlreadySubscribed);
        }
        let customer = self.customer_of(stripe, &t).await?;
        // Each request is a new purchase; a retry of this very call inside
        // the client would reuse the key.
        let key = format!("checkout-{}-{}", t.id, super::random_hex(16));
        Ok(stripe.checkout(&customer, &t.id, &price, success_url, cancel_url, &key).await?)
    }

    /// A Customer Portal session for the tenant's owner.
    pub async fn portal(&self, tenant_slug: &str, return_url: &str) -> Result<String> {
        let stripe = self.stripe()?;
        let t = self.find(tenant_slug).await?;
        let customer = self.billing_account_of(&t.id).await?.and_then(|a| a.stripe_customer_id).ok_or(ControlError::NoCustomer)?;
        Ok(stripe.portal(&customer, return_url, &format!("portal-{}-{}", t.id, super::random_hex(16))).await?)
    }

    /// What the console tells staff about the desk's billing: an unpaid
    /// subscription and when the desk will be suspended for it.
    pub async fn billing_banner(&self, tenant_id: &str) -> Result<Option<String>> {
        let Some(a) = self.billing_account_of(tenant_id).await? else { return Ok(None) };
        let Some(since) = a.unpaid_since else { return Ok(None) };
        let status = a.subscription_status.as_deref().unwrap_or("unpaid").replace('_', " ");
        Ok(Some(if a.suspended_by_billing {
            format!("This desk is suspended: its subscription is {status} since {}. Paying the open invoice resumes it.", since.format("%Y-%m-%d"))
        } else {
            format!(
                "Payment is overdue: the subscription is {status} since {}. The desk keeps running until {}, then it is suspended until paid; the owner can pay from the billing portal.",
                since.format("%Y-%m-%d"),
                (since + GRACE_PERIOD).format("%Y-%m-%d")
            )
        }))
    }

    /// The tenant's subscription status, if it has one.
    pub(crate) async fn billing_status_of(&self, tenant_id: &str) -> Result<Option<String>> {
        Ok(self.billing_account_of(tenant_id).await?.and_then(|a| a.subscription_status))
    }

    /// Whether the tenant's subscription stands as paid (active or trialing).
    pub(crate) async fn is_paying(&self, tenant_id: &str) -> Result<bool> {
        Ok(self.billing_status_of(tenant_id).await?.and_then(|s| Status::parse(&s)).is_some_and(|s| s.standing() == Standing::Paid))
    }

    pub(crate) async fn billing_account_of(&self, tenant_id: &str) -> Result<Option<accounts::Model>> {
        Ok(accounts::Entity::find_by_id(tenant_id.to_owned()).one(self.storage.control()).await?)
    }

    /// The tenant's Stripe customer, made (once: the idempotency key is the
    /// tenant's) and recorded when it has none.
    async fn customer_of(&self, stripe: &tikethet_billing::stripe::client::StripeApi, t: &tenants::Model) -> Result<String> {
        if let Some(c) = self.billing_account_of(&t.id).await?.and_then(|a| a.stripe_customer_id) {
            return Ok(c);
        }
        let customer = stripe.create_customer(&t.id, &t.name, &format!("customer-{}", t.id)).await?;
        let txn = self.storage.control().begin().await?;
        let (mut a, new) = account(&txn, &t.id).await?;
        a.stripe_customer_id = Set(Some(customer.clone()));
        a.updated_at = Set(Utc::now());
        store(&txn, (a, new)).await?;
        txn.commit().await?;
        Ok(customer)
    }
}

/// The tenant's account row to change, and whether it is new.
async fn account(txn: &sea_orm::DatabaseTransaction, tenant: &str) -> Result<(accounts::ActiveModel, bool)> {
    Ok(match accounts::Entity::find_by_id(tenant.to_owned()).one(txn).await? {
        Some(a) => (a.into(), false),
        None => (accounts::ActiveModel {
            tenant_id: Set(tenant.to_owned()),
            stripe_customer_id: Set(None),
            stripe_subscription_id: Set(None),
            subscription_status: Set(None),
            state_at: Set(None),
            unpaid_since: Set(None),
            suspended_by_billing: Set(false),
            updated_at: Set(Utc::now()),
        }, true),
    })
}

async fn store(txn: &sea_orm::DatabaseTransaction, (a, new): (accounts::ActiveModel, bool)) -> Result<()> {
    if new {
        a.insert(txn).await?;
    } else {
        a.update(txn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_days_usage_is_reported_at_its_last_second_within_what_stripe_takes() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T10:00:00Z").unwrap().with_timezone(&Utc);
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        assert_eq!(report_time("2026-12-01", now), at("2026-12-01T23:59:59Z"));
        assert_eq!(report_time("2026-12-02", now), now.timestamp(), "today: now");
        assert_eq!(report_time("2026-09-01", now), (now - OLDEST_EVENT).timestamp(), "never older than Stripe takes");
    }
}
