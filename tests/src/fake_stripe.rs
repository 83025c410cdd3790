//! A stand-in for the parts of Stripe's API the platform calls: a real HTTP
//! server speaking the documented protocol (<https://docs.stripe.com/api>):
//! form-encoded bodies with bracketed keys (`line_items[0][price]`), a
//! secret key as a Bearer token, errors as `{"error": {"type", "code",
//! "message"}}`, and `Idempotency-Key` honoured as Stripe does it (the same
//! key replays the first answer; the same key with other parameters is a 400
//! `idempotency_error`) (<https://docs.stripe.com/api/idempotent_requests>).
//!
//! It keeps customers, Checkout Sessions, subscriptions, portal sessions and
//! meter events (<https://docs.stripe.com/api/billing/meter-event/create>;
//! an `identifier` seen before is refused, so a retried report never counts
//! twice), and plays Stripe's part after a customer pays: completing a
//! Checkout Session creates the subscription and sends the signed webhooks
//! (`checkout.session.completed`, `customer.subscription.created`), and any
//! event can be sent, signed with the endpoint's secret.
//!
//! `localstripe` (PyPI) was considered first: it has no Checkout Sessions,
//! Billing Portal sessions or meter events, which is most of what is used.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Path};
use poem::{EndpointExt, Request, Response, Route, handler};
use serde_json::{Value, json};
use sha2::Sha256;

/// The secret key the stand-in accepts.
pub const SECRET_KEY: &str = "sk_test_tikethet_0123456789";
/// The webhook signing secret it signs events with.
pub const WEBHOOK_SECRET: &str = "whsec_tikethet_standin_0123456789";

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub form: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    next: u64,
    customers: BTreeMap<String, Value>,
    sessions: BTreeMap<String, Value>,
    subscriptions: BTreeMap<String, Value>,
    /// identifier → (event_name, customer, value)
    meter_events: BTreeMap<String, (String, String, u64)>,
    /// (method, path, key) → (params, status, answer)
    idempotent: HashMap<(String, String, String), (BTreeMap<String, String>, u16, Value)>,
    calls: Vec<Call>,
    webhook_url: Option<String>,
    /// Requests answered 500 before the next ones go through (a flaky Stripe).
    fail_next: u32,
    /// Meter events are recorded at once but answered this late.
    meter_delay: Option<Duration>,
    /// Prices' monthly amounts in cents (`set_price`); a subscription's
    /// price change and its preview need them, as Stripe knows its prices.
    prices: BTreeMap<String, i64>,
    /// Invoices made by price changes (always_invoice), newest last.
    invoices: Vec<Value>,
    /// Events a request causes, sent (signed) after it is answered.
    outbox: Vec<(String, Value)>,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_test{:08}", self.next)
    }
}

#[derive(Clone)]
pub struct FakeStripe {
    /// Base URL to give the platform (`TIKETHET_STRIPE_API_URL`), with `/`.
    pub url: String,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> (u16, Value) {
    let mut e = json!({ "type": kind, "message": message });
    if let Some(c) = code {
        e["code"] = json!(c);
    }
    (status.as_u16(), json!({ "error": e }))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The `metadata[...]` fields of a form as an object.
fn metadata(form: &BTreeMap<String, String>, prefix: &str) -> Value {
    let open = format!("{prefix}[");
    let map: serde_json::Map<String, Value> =
        form.iter().filter_map(|(k, v)| k.strip_prefix(&open).and_then(|r| r.strip_suffix(']')).map(|k| (k.to_owned(), json!(v)))).collect();
    Value::Object(map)
}

#[handler]
async fn api(req: &Request, Path(path): Path<String>, body: poem::Body, Data(fake): Data<&FakeStripe>) -> Response {
    let method = req.method().as_str().to_owned();
    let path = format!("/v1/{path}");
    let bytes = body.into_bytes().await.unwrap_or_default();
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authorized = req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {SECRET_KEY}"));
    let (status, answer) = if !authorized {
        error(StatusCode::UNAUTHORIZED, "invalid_request_error", None, "Invalid API Key provided")
    } else {
        let mut st = fake.state.lock().unwrap();
        let replay = key.as_ref().and_then(|k| st.idempotent.get(&(method.clone(), path.clone(), k.clone())).cloned());
        match replay {
            Some((params, status, answer)) if params == form => (status, answer),
            Some(_) => error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ),
            None if st.fail_next > 0 => {
                st.fail_next -= 1;
                // Not kept under the key: Stripe does not save 500s.
                error(StatusCode::INTERNAL_SERVER_ERROR, "api_error", None, "Something went wrong on Stripe's end.")
            }
            None => {
                let (status, answer) = route(&mut st, &method, &path, &form, &fake.url);
                if let Some(k) = &key {
                    if method == "POST" {
                        st.idempotent.insert((method.clone(), path.clone(), k.clone()), (form.clone(), status, answer.clone()));
                    }
                }
                (status, answer)
            }
        }
    };
    let delay = fake.state.lock().unwrap().meter_delay.filter(|_| path == "/v1/billing/meter_events");
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let caused = std::mem::take(&mut fake.state.lock().unwrap().outbox);
    if !caused.is_empty() {
        // Stripe's events follow the answer, as they do.
        let f = fake.clone();
        tokio::spawn(async move {
            for (kind, object) in caused {
                if let Err(e) = f.send_event(&kind, object).await {
                    eprintln!("the Stripe stand-in could not send {kind}: {e:#}");
                }
            }
        });
    }
    fake.state.lock().unwrap().calls.push(Call { method, path, form, idempotency_key: key, status });
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .header("Request-Id", "req_standin")
        .body(answer.to_string())
}

fn route(st: &mut State, method: &str, path: &str, form: &BTreeMap<String, String>, base: &str) -> (u16, Value) {
    let missing = |p: &str| error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("parameter_missing"), &format!("Missing required param: {p}."));
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method, parts.as_slice()) {
        ("POST", ["customers"]) => {
            let id = st.id("cus");
            let c = json!({"id": id, "object": "customer", "created": now(), "livemode": false, "name": form.get("name"), "email": form.get("email"), "metadata": metadata(form, "metadata"), "balance": 0, "delinquent": false, "invoice_prefix": "TT0001", "preferred_locales": []});
            st.customers.insert(id, c.clone());
            (200, c)
        }
        ("GET", ["customers", id]) => match st.customers.get(*id) {
            Some(c) => (200, c.clone()),
            None => error(StatusCode::NOT_FOUND, "invalid_request_error", Some("resource_missing"), &format!("No such customer: '{id}'")),
        },
        ("POST", ["checkout", "sessions"]) => {
            if form.get("mode").map(String::as_str) != Some("subscription") {
                return missing("mode");
            }
            let Some(price) = form.get("line_items[0][price]") else { return missing("line_items[0][price]") };
            if form.get("success_url").is_none() {
                return missing("success_url");
            }
            if let Some(c) = form.get("customer") {
                if !st.customers.contains_key(c) {
                    return error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("resource_missing"), &format!("No such customer: '{c}'"));
                }
            }
            let id = st.id("cs");
            let s = json!({
                "id": id, "object": "checkout.session", "mode": "subscription", "status": "open", "created": now(), "expires_at": now() + 86_400, "livemode": false,
                "payment_status": "unpaid", "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
                "custom_fields": [], "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
                "payment_method_types": ["card"], "shipping_options": [],
                "url": format!("{base}pay/{id}"), "customer": form.get("customer"), "client_reference_id": form.get("client_reference_id"),
                "success_url": form.get("success_url"), "cancel_url": form.get("cancel_url"), "subscription": null,
                "metadata": metadata(form, "metadata"),
                "_price": price, "_subscription_metadata": metadata(form, "subscription_data[metadata]"),
            });
            st.sessions.insert(id, s.clone());
            (200, public(&s))
        }
        ("POST", ["billing_portal", "sessions"]) => {
            let Some(c) = form.get("customer") else { return missing("customer") };
            if !st.customers.contains_key(c) {
                return error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("resource_missing"), &format!("No such customer: '{c}'"));
            }
            let id = st.id("bps");
            (200, json!({"id": id, "object": "billing_portal.session", "configuration": "bpc_standin", "created": now(), "livemode": false, "customer": c, "return_url": form.get("return_url"), "url": format!("{base}portal/{id}")}))
        }
        ("GET", ["subscriptions", id]) => match st.subscriptions.get(*id) {
            Some(s) => (200, s.clone()),
            None => error(StatusCode::NOT_FOUND, "invalid_request_error", Some("resource_missing"), &format!("No such subscription: '{id}'")),
        },
        ("POST", ["billing", "meter_events"]) => {
            let Some(name) = form.get("event_name") else { return missing("event_name") };
            let Some(customer) = form.get("payload[stripe_customer_id]") else { return missing("payload[stripe_customer_id]") };
            let Some(value) = form.get("payload[value]") else { return missing("payload[value]") };
            let Ok(value) = value.parse::<u64>() else {
                return error(StatusCode::BAD_REQUEST, "invalid_request_error", None, "payload[value] must be a whole number");
            };
            let identifier = form.get("identifier").cloned().unwrap_or_else(|| st.id("mev"));
            if st.meter_events.contains_key(&identifier) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("resource_already_exists"),
                    &format!("An event already exists with identifier {identifier}."),
                );
            }
            st.meter_events.insert(identifier.clone(), (name.clone(), customer.clone(), value));
            (200, json!({"object": "billing.meter_event", "created": now(), "event_name": name, "identifier": identifier, "livemode": false, "payload": {"stripe_customer_id": customer, "value": value.to_string()}, "timestamp": form.get("timestamp").and_then(|t| t.parse::<i64>().ok()).unwrap_or_else(now)}))
        }
        ("POST", ["subscriptions", id]) => update_subscription(st, id, form, base),
        ("POST", ["invoices", "create_preview"]) => {
            let Some(sub_id) = form.get("subscription") else { return missing("subscription") };
            let Some(sub) = st.subscriptions.get(sub_id).cloned() else {
                return error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("resource_missing"), &format!("No such subscription: '{sub_id}'"));
            };
            if form.get("customer").is_some_and(|c| sub["customer"].as_str() != Some(c.as_str())) {
                return error(StatusCode::BAD_REQUEST, "invalid_request_error", None, "The subscription does not belong to this customer.");
            }
            let Some(price) = form.get("subscription_details[items][0][price]") else { return missing("subscription_details[items][0][price]") };
            let at = form.get("subscription_details[proration_date]").and_then(|t| t.parse::<i64>().ok()).unwrap_or_else(now);
            match proration(st, &sub, price, at) {
                Ok(amount) => (200, invoice_object(&st.id("upcoming_in"), sub["customer"].as_str().unwrap_or_default(), sub_id, amount, "draft", None)),
                Err(e) => e,
            }
        }
        _ => error(StatusCode::NOT_FOUND, "invalid_request_error", None, &format!("Unrecognized request URL ({method}: {path}).")),
    }
}

/// The proration of moving `sub`'s item to `price` at `at`: the rest of the
/// period on the new price less the rest on the old, in cents.
fn proration(st: &State, sub: &Value, price: &str, at: i64) -> Result<i64, (u16, Value)> {
    let unknown = |p: &str| error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("resource_missing"), &format!("No such price: '{p}'"));
    let new = *st.prices.get(price).ok_or_else(|| unknown(price))?;
    let item = &sub["items"]["data"][0];
    let old_price = item["price"]["id"].as_str().unwrap_or_default();
    let old = *st.prices.get(old_price).ok_or_else(|| unknown(old_price))?;
    let (start, end) = (item["current_period_start"].as_i64().unwrap_or(at), item["current_period_end"].as_i64().unwrap_or(at));
    let left = (end - at).clamp(0, (end - start).max(1)) as f64 / (end - start).max(1) as f64;
    Ok(((new - old) as f64 * left).round() as i64)
}

/// `POST /v1/subscriptions/{id}`: a price change (prorated; with
/// `always_invoice` the proration is invoiced and paid at once) or
/// `cancel_at_period_end`; `customer.subscription.updated` (and
/// `invoice.paid`) follow.
fn update_subscription(st: &mut State, id: &str, form: &BTreeMap<String, String>, base: &str) -> (u16, Value) {
    let Some(mut sub) = st.subscriptions.get(id).cloned() else {
        return error(StatusCode::NOT_FOUND, "invalid_request_error", Some("resource_missing"), &format!("No such subscription: '{id}'"));
    };
    if matches!(sub["status"].as_str(), Some("canceled" | "incomplete_expired")) {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", None, "A canceled subscription can only update its cancellation_details and metadata.");
    }
    if let Some(price) = form.get("items[0][price]") {
        if form.get("items[0][id]").map(String::as_str) != sub["items"]["data"][0]["id"].as_str() {
            return error(StatusCode::BAD_REQUEST, "invalid_request_error", None, "items[0][id] is not an item of this subscription.");
        }
        let at = form.get("proration_date").and_then(|t| t.parse::<i64>().ok()).unwrap_or_else(now);
        let amount = match proration(st, &sub, price, at) {
            Ok(a) => a,
            Err(e) => return e,
        };
        sub["items"]["data"][0]["price"]["id"] = json!(price);
        sub["items"]["data"][0]["plan"]["id"] = json!(price);
        if form.get("proration_behavior").map(String::as_str) == Some("always_invoice") && amount != 0 {
            let inv_id = st.id("in");
            let customer = sub["customer"].as_str().unwrap_or_default().to_owned();
            let inv = invoice_object(&inv_id, &customer, id, amount, "paid", Some(format!("{base}invoice/{inv_id}")));
            st.invoices.push(inv.clone());
            st.outbox.push(("invoice.paid".into(), inv));
        }
    }
    if let Some(c) = form.get("cancel_at_period_end") {
        sub["cancel_at_period_end"] = json!(c == "true");
    }
    st.subscriptions.insert(id.to_owned(), sub.clone());
    st.outbox.push(("customer.subscription.updated".into(), sub.clone()));
    (200, sub)
}

/// An invoice with every field Stripe always sends
/// (<https://docs.stripe.com/api/invoices/object>), of one amount.
fn invoice_object(id: &str, customer: &str, subscription: &str, amount: i64, status: &str, hosted: Option<String>) -> Value {
    let t = now();
    let due = amount.max(0);
    json!({
        "id": id, "object": "invoice", "customer": customer, "subscription": subscription, "status": status, "created": t, "livemode": false,
        "currency": "usd", "collection_method": "charge_automatically", "billing_reason": "subscription_update",
        "amount_due": due, "amount_paid": if status == "paid" { due } else { 0 }, "amount_remaining": if status == "paid" { 0 } else { due },
        "amount_overpaid": 0, "amount_shipping": 0, "attempt_count": 0, "attempted": status == "paid",
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "default_tax_rates": [], "discounts": [], "issuer": {"type": "self"},
        "lines": {"object": "list", "data": [], "has_more": false, "url": format!("/v1/invoices/{id}/lines")},
        "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
        "period_end": t, "period_start": t, "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0, "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null, "paid_at": null, "voided_at": null},
        "subtotal": amount, "total": amount, "hosted_invoice_url": hosted, "number": hosted.as_ref().map(|_| format!("TT-{}", &id[id.len().saturating_sub(4)..])),
    })
}

/// A subscription object with every field Stripe always sends
/// (<https://docs.stripe.com/api/subscriptions/object>), one item of `price`.
fn subscription_object(id: &str, customer: &str, status: &str, price: &Value, metadata: &Value) -> Value {
    let t = now();
    let plan = json!({"id": price, "object": "plan", "active": true, "billing_scheme": "per_unit", "created": t, "currency": "usd", "interval": "month", "interval_count": 1, "livemode": false, "usage_type": "licensed", "metadata": {}});
    let price = json!({"id": price, "object": "price", "active": true, "billing_scheme": "per_unit", "created": t, "currency": "usd", "livemode": false, "metadata": {}, "product": "prod_standin", "type": "recurring", "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}});
    json!({
        "id": id, "object": "subscription", "customer": customer, "status": status, "created": t, "start_date": t, "livemode": false,
        "automatic_tax": {"enabled": false, "liability": null}, "billing_cycle_anchor": t, "billing_mode": {"type": "classic"}, "billing_schedules": [],
        "cancel_at_period_end": false, "collection_method": "charge_automatically", "currency": "usd", "discounts": [],
        "invoice_settings": {"issuer": {"type": "self"}}, "metadata": metadata,
        "items": {"object": "list", "has_more": false, "url": format!("/v1/subscription_items?subscription={id}"), "data": [{
            "id": format!("si_{id}"), "object": "subscription_item", "created": t, "current_period_start": t, "current_period_end": t + 30 * 86_400,
            "discounts": [], "metadata": {}, "subscription": id, "quantity": 1, "plan": plan, "price": price
        }]}
    })
}

/// A session as Stripe shows it (without the stand-in's own notes).
fn public(s: &Value) -> Value {
    let mut s = s.clone();
    if let Some(o) = s.as_object_mut() {
        o.retain(|k, _| !k.starts_with('_'));
    }
    s
}

impl FakeStripe {
    pub async fn start() -> anyhow::Result<FakeStripe> {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let port = acceptor.local_addr()[0].as_socket_addr().map(|a| a.port()).unwrap_or(0);
        let fake = FakeStripe {
            url: format!("http://127.0.0.1:{port}/"),
            state: Arc::new(Mutex::new(State::default())),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        };
        let app = Route::new().at("/v1/*path", api).data(fake.clone());
        tokio::spawn(async move {
            if let Err(e) = poem::Server::new_with_acceptor(acceptor).run(app).await {
                eprintln!("the Stripe stand-in stopped: {e}");
            }
        });
        Ok(fake)
    }

    /// The settings that point a server at this stand-in, with the plans
    /// file `plans` and `more` settings; leaked, as `Options::env` takes
    /// `'static` pairs (a test's server lives as long as the test).
    pub fn server_env(&self, plans: &std::path::Path, more: &[(&'static str, &'static str)]) -> &'static [(&'static str, &'static str)] {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let mut env = vec![
            ("TIKETHET_STRIPE_SECRET_KEY", SECRET_KEY),
            ("TIKETHET_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("TIKETHET_STRIPE_API_URL", leak(self.url.clone())),
            ("TIKETHET_PLANS_FILE", leak(plans.display().to_string())),
        ];
        env.extend_from_slice(more);
        Box::leak(env.into_boxed_slice())
    }

    /// Where Stripe sends this account's events.
    pub fn set_webhook(&self, url: &str) {
        self.state.lock().unwrap().webhook_url = Some(url.to_owned());
    }

    /// The next `n` requests answer 500.
    pub fn fail_next(&self, n: u32) {
        self.state.lock().unwrap().fail_next = n;
    }

    /// Meter events are taken at once but answered `delay` later (`None`:
    /// at once), so that a reporter can be stopped between the two.
    pub fn delay_meter_answers(&self, delay: Option<Duration>) {
        self.state.lock().unwrap().meter_delay = delay;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn customers(&self) -> Vec<Value> {
        self.state.lock().unwrap().customers.values().cloned().collect()
    }

    pub fn session(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().sessions.get(id).map(public)
    }

    /// The sum of meter events' values per (event name, customer).
    pub fn meter_totals(&self) -> BTreeMap<(String, String), u64> {
        let mut out = BTreeMap::new();
        for (name, customer, value) in self.state.lock().unwrap().meter_events.values() {
            *out.entry((name.clone(), customer.clone())).or_insert(0) += value;
        }
        out
    }

    /// The identifiers of the meter events taken.
    pub fn meter_identifiers(&self) -> Vec<String> {
        self.state.lock().unwrap().meter_events.keys().cloned().collect()
    }

    pub fn meter_event_count(&self) -> usize {
        self.state.lock().unwrap().meter_events.len()
    }

    /// The customer pays: the session completes, a subscription to its
    /// price starts (`status`, `active` unless a trial), and Stripe's
    /// webhooks go out, signed. Returns the subscription's id.
    pub async fn complete_checkout(&self, session: &str, status: &str) -> anyhow::Result<String> {
        let (completed, subscription) = {
            let mut st = self.state.lock().unwrap();
            let sub_id = st.id("sub");
            let s = st.sessions.get_mut(session).ok_or_else(|| anyhow::anyhow!("no session {session}"))?;
            s["status"] = json!("complete");
            s["subscription"] = json!(sub_id);
            let customer = s["customer"].as_str().unwrap_or_default().to_owned();
            let price = s["_price"].clone();
            let meta = s["_subscription_metadata"].clone();
            let completed = public(s);
            let sub = subscription_object(&sub_id, &customer, status, &price, &meta);
            st.subscriptions.insert(sub_id.clone(), sub.clone());
            (completed, sub)
        };
        self.send_event("checkout.session.completed", completed).await?;
        self.send_event("customer.subscription.created", subscription.clone()).await?;
        Ok(subscription["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Sends an event about `object` to the webhook, signed as Stripe signs
    /// (`t=…,v1=HMAC-SHA256(secret, "t.payload")`); returns the answer's status.
    pub async fn send_event(&self, kind: &str, object: Value) -> anyhow::Result<u16> {
        self.send_event_at(kind, object, now()).await
    }

    /// A subscription changes status in Stripe (as a failed renewal makes
    /// it `past_due`); returns it as it now is. No event is sent.
    pub fn set_subscription_status(&self, id: &str, status: &str) -> Option<Value> {
        let mut st = self.state.lock().unwrap();
        let s = st.subscriptions.get_mut(id)?;
        s["status"] = json!(status);
        Some(s.clone())
    }

    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().subscriptions.get(id).cloned()
    }

    /// The subscriptions of a customer.
    pub fn subscriptions_of(&self, customer: &str) -> Vec<Value> {
        self.state.lock().unwrap().subscriptions.values().filter(|s| s["customer"].as_str() == Some(customer)).cloned().collect()
    }

    /// A price Stripe knows, at `cents` a month.
    pub fn set_price(&self, id: &str, cents: i64) {
        self.state.lock().unwrap().prices.insert(id.to_owned(), cents);
    }

    /// Invoices made by price changes.
    pub fn invoices(&self) -> Vec<Value> {
        self.state.lock().unwrap().invoices.clone()
    }

    /// As [`FakeStripe::send_event`], with the event's `created` given
    /// (events of one second arrive in any order).
    pub async fn send_event_at(&self, kind: &str, object: Value, created: i64) -> anyhow::Result<u16> {
        let (url, id) = {
            let mut st = self.state.lock().unwrap();
            (st.webhook_url.clone().ok_or_else(|| anyhow::anyhow!("no webhook endpoint set"))?, st.id("evt"))
        };
        let payload = json!({"id": id, "object": "event", "api_version": "2025-03-31.basil", "created": created, "livemode": false, "pending_webhooks": 1, "type": kind, "data": {"object": object}}).to_string();
        let t = now();
        let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes())?;
        mac.update(format!("{t}.{payload}").as_bytes());
        let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        let res = self.http.post(&url).header("content-type", "application/json; charset=utf-8").header("Stripe-Signature", signature).body(payload).send().await?;
        let status = res.status().as_u16();
        anyhow::ensure!(status == 200, "the webhook answered {status}: {}", res.text().await.unwrap_or_default());
        Ok(status)
    }
}
