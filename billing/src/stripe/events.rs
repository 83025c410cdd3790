//! Stripe events (<https://docs.stripe.com/api/events/object>) read for what
//! drives a tenant: who a Checkout Session was for, and each subscription's
//! state. Read loosely (only the fields used), so events of any API version
//! carry through; what is not understood is recorded and acknowledged.

use serde_json::Value;

/// An event as delivered to the webhook endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `evt_…`: processed once.
    pub id: String,
    /// `customer.subscription.updated`, …
    pub kind: String,
    /// When Stripe created it (Unix seconds): events arrive in any order,
    /// so an older one never overrides a newer one's state.
    pub created: i64,
    pub livemode: bool,
    /// `data.object`: the object as it was at the event.
    pub object: Value,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a Stripe event: {0}")]
pub struct NotAnEvent(String);

pub fn parse(payload: &[u8]) -> Result<Event, NotAnEvent> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| NotAnEvent(e.to_string()))?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| NotAnEvent(format!("no {k}")));
    if v.get("object").and_then(Value::as_str) != Some("event") {
        return Err(NotAnEvent("its object is not \"event\"".into()));
    }
    let id = text("id")?;
    if !id.starts_with("evt_") || id.len() > 255 {
        return Err(NotAnEvent("its id is not an event id".into()));
    }
    Ok(Event {
        id,
        kind: text("type")?,
        created: v.get("created").and_then(Value::as_i64).ok_or_else(|| NotAnEvent("no created".into()))?,
        livemode: v.get("livemode").and_then(Value::as_bool).unwrap_or(false),
        object: v.pointer("/data/object").cloned().filter(Value::is_object).ok_or_else(|| NotAnEvent("no data.object".into()))?,
    })
}

/// <https://docs.stripe.com/api/subscriptions/object#subscription_object-status>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "incomplete" => Status::Incomplete,
            "incomplete_expired" => Status::IncompleteExpired,
            "trialing" => Status::Trialing,
            "active" => Status::Active,
            "past_due" => Status::PastDue,
            "canceled" => Status::Canceled,
            "unpaid" => Status::Unpaid,
            "paused" => Status::Paused,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Incomplete => "incomplete",
            Status::IncompleteExpired => "incomplete_expired",
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Canceled => "canceled",
            Status::Unpaid => "unpaid",
            Status::Paused => "paused",
        }
    }

    /// What the tenant does under it.
    pub fn standing(self) -> Standing {
        match self {
            Status::Trialing | Status::Active => Standing::Paid,
            // The first payment is still being made: nothing changes yet.
            Status::Incomplete => Standing::Pending,
            Status::PastDue | Status::Unpaid | Status::Canceled | Status::IncompleteExpired | Status::Paused => Standing::Unpaid,
        }
    }
}

/// A subscription status as the desk lives with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Runs on the subscription's plan.
    Paid,
    /// Nothing changes until the first payment settles.
    Pending,
    /// Runs for the grace period (with a banner), then is suspended until
    /// paid again.
    Unpaid,
}

/// The fields of a subscription the desk needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: Status,
    /// The recurring price of its (first) item: the plan it buys.
    pub price: Option<String>,
    /// `metadata.tenant_id`, set when the Checkout Session made it.
    pub tenant: Option<String>,
}

impl Subscription {
    pub fn from_object(o: &Value) -> Result<Subscription, NotAnEvent> {
        if o.get("object").and_then(Value::as_str) != Some("subscription") {
            return Err(NotAnEvent("data.object is not a subscription".into()));
        }
        let id = o.get("id").and_then(Value::as_str).ok_or_else(|| NotAnEvent("subscription without id".into()))?;
        // `customer` is an id, or the customer object when expanded.
        let customer = match o.get("customer") {
            Some(Value::String(s)) => s.clone(),
            Some(c) => c.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
            None => String::new(),
        };
        if customer.is_empty() {
            return Err(NotAnEvent("subscription without customer".into()));
        }
        let status = o.get("status").and_then(Value::as_str).and_then(Status::parse).ok_or_else(|| NotAnEvent("subscription with an unknown status".into()))?;
        let price = o
            .pointer("/items/data/0/price/id")
            .or_else(|| o.pointer("/items/data/0/plan/id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let tenant = o.pointer("/metadata/tenant_id").and_then(Value::as_str).map(str::to_owned);
        Ok(Subscription { id: id.to_owned(), customer, status, price, tenant })
    }
}

/// A completed Checkout Session: which tenant (`client_reference_id`) now
/// has which customer and subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutCompleted {
    pub tenant: String,
    pub customer: String,
    pub subscription: Option<String>,
}

impl CheckoutCompleted {
    pub fn from_object(o: &Value) -> Result<CheckoutCompleted, NotAnEvent> {
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(CheckoutCompleted {
            tenant: s("client_reference_id").ok_or_else(|| NotAnEvent("checkout session without client_reference_id".into()))?,
            customer: s("customer").ok_or_else(|| NotAnEvent("checkout session without customer".into()))?,
            subscription: s("subscription"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, created: i64, object: Value) -> Vec<u8> {
        json!({"id": "evt_1NxYz", "object": "event", "api_version": "2025-03-31.basil", "created": created, "livemode": false, "type": kind, "data": {"object": object}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_subscription_event_reads_as_documented() {
        let sub = json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "past_due",
            "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item", "price": {"id": "price_pro", "object": "price"}}]},
            "metadata": {"tenant_id": "t_42"}
        });
        let e = parse(&event("customer.subscription.updated", 1_700_000_100, sub)).unwrap();
        assert_eq!((e.id.as_str(), e.kind.as_str(), e.created, e.livemode), ("evt_1NxYz", "customer.subscription.updated", 1_700_000_100, false));
        let s = Subscription::from_object(&e.object).unwrap();
        assert_eq!(
            s,
            Subscription { id: "sub_1".into(), customer: "cus_1".into(), status: Status::PastDue, price: Some("price_pro".into()), tenant: Some("t_42".into()) }
        );
        assert_eq!(s.status.standing(), Standing::Unpaid);
        let expanded = json!({"id": "sub_2", "object": "subscription", "customer": {"id": "cus_2", "object": "customer"}, "status": "active", "items": {"data": []}});
        let s = Subscription::from_object(&expanded).unwrap();
        assert_eq!((s.customer.as_str(), s.price, s.tenant, s.status.standing()), ("cus_2", None, None, Standing::Paid));
    }

    #[test]
    fn what_is_not_an_event_is_refused_with_the_reason() {
        for (body, says) in [
            (b"not json".to_vec(), "expected"),
            (json!({"id": "evt_1", "object": "charge"}).to_string().into_bytes(), "object"),
            (json!({"id": "ch_1", "object": "event", "type": "x", "created": 1, "data": {"object": {}}}).to_string().into_bytes(), "event id"),
            (json!({"id": "evt_1", "object": "event", "type": "x", "created": 1}).to_string().into_bytes(), "data.object"),
            (json!({"id": "evt_1", "object": "event", "created": 1, "data": {"object": {}}}).to_string().into_bytes(), "type"),
        ] {
            let e = parse(&body).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        assert!(Subscription::from_object(&json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "sleeping"})).is_err());
        assert!(CheckoutCompleted::from_object(&json!({"id": "cs_1", "customer": "cus_1"})).is_err(), "no tenant");
        let c = CheckoutCompleted::from_object(&json!({"id": "cs_1", "object": "checkout.session", "client_reference_id": "t_1", "customer": "cus_1", "subscription": "sub_1"})).unwrap();
        assert_eq!(c, CheckoutCompleted { tenant: "t_1".into(), customer: "cus_1".into(), subscription: Some("sub_1".into()) });
    }
}
