//! The console's billing page, `/t/{slug}/admin/billing` (owner and
//! admins; the owner alone changes anything): the plan, the trial, usage
//! against each limit, the subscription and its invoices; the first plan
//! through Stripe Checkout, later ones on the same subscription after the
//! prorated amount from Stripe's preview is shown and confirmed;
//! cancelling at the period's end and taking it back; Stripe's portal.
//! The same facts and actions as `GET|POST /t/{slug}/api/v1/billing…`.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tikethet_admin_console::{BillingInvoice, BillingPage, BillingPlan, BillingPreview, UsageBar};
use tikethet_billing::dashboard::{bytes, count};
use tikethet_billing::revenue::money;
use tikethet_runtime::domain::Role;

use super::{NoFields, Staff, base, desk_error, frame, need, posted, redirect, refused_by_control, rendered, tr};
use crate::AppState;
use crate::control::ControlError;
use crate::control::subscription::at;

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A refused billing action as a page (the API's status for it).
fn control_error(state: &AppState, slug: &str, s: &Staff, e: &ControlError) -> Response {
    refused_by_control(state, slug, s, "Billing", e)
}

fn label(limit: &str) -> &'static str {
    match limit {
        "agents" => "Staff members",
        "tickets_per_month" => "Tickets this month",
        "messages_per_month" => "Messages this month",
        "plugins" => "Plugins installed",
        "storage_bytes" => "Attachments stored",
        _ => "Other",
    }
}

/// What a finished billing action says (`?done=`, or Stripe's return).
fn done(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    #[derive(Default, Deserialize)]
    struct Q {
        done: Option<String>,
        billing: Option<String>,
    }
    let q: Q = crate::http::web::query(req);
    let text = match (q.done.as_deref(), q.billing.as_deref()) {
        (Some("plan"), _) => "The plan is changed; Stripe charged the prorated amount.",
        (Some("cancelled"), _) => "The subscription ends at the period's end.",
        (Some("resumed"), _) => "The subscription continues.",
        (_, Some("paid")) => "Paid: the plan changes as soon as Stripe confirms it.",
        (_, Some("cancelled")) => "Checkout was left; nothing was charged.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, previewed: Option<BillingPreview>, status: StatusCode) -> Response {
    if let Err(r) = need(state, slug, s, Role::Admin) {
        return r;
    }
    let usage = match s.ctx.usage().await {
        Ok(u) => u,
        Err(e) => return desk_error(state, slug, &e),
    };
    let b = match state.control.desk_billing(slug).await {
        Ok(b) => b,
        Err(e) => return control_error(state, slug, s, &e),
    };
    let plans = state.control.plans();
    let current = plans.plan(&b.plan).ok();
    let now = chrono::Utc::now();
    let sub = b.subscription.as_ref();
    let cancelling = sub.is_some_and(|s| s.cancel_at_period_end);
    let v = BillingPage {
        frame: frame(state, req, slug, s, done(req, s)).await,
        plan: current.map(|p| p.name.clone()).unwrap_or_else(|| b.plan.clone()),
        offline: b.offline,
        trial: b.trial_ends_at.filter(|e| *e > now).map(|e| (((e - now).num_seconds() + 86_399) / 86_400, day(e))),
        // Stripe's word when it could be asked; else what its last event said.
        status: sub.map(|s| s.subscription.status.as_str().to_owned()).or_else(|| b.status.clone().filter(|_| b.stripe_error.is_some() || b.offline)),
        cancel_at_period_end: cancelling,
        period_end: sub.and_then(|s| s.current_period_end).and_then(at).map(day),
        next_invoice: match (sub, current) {
            (Some(st), Some(p)) if !cancelling && p.monthly_price_cents > 0 => {
                st.current_period_end.and_then(at).map(|end| format!("{} · {}", money(p.monthly_price_cents as i64, &p.currency), day(end)))
            }
            _ => None,
        },
        unpaid_since: b.unpaid_since.map(day),
        usage: usage
            .lines
            .iter()
            .map(|l| {
                let shown = |n: u64| if l.limit == "storage_bytes" { bytes(n) } else { count(n) };
                let percent = l.allowed.map(|a| if a == 0 { 100 } else { (l.used.saturating_mul(100) / a).min(100) }).unwrap_or(0);
                UsageBar { label: label(l.limit).to_owned(), used: shown(l.used), allowed: l.allowed.map(shown), percent, over: l.allowed.is_some_and(|a| l.used >= a) }
            })
            .collect(),
        invoices: b
            .invoices
            .iter()
            .map(|(i, failed)| BillingInvoice {
                number: i.id.clone(),
                status: i.status.clone(),
                amount: money(i.amount_due, &i.currency),
                at: at(i.created).map(day).unwrap_or_default(),
                url: i.hosted_invoice_url.clone(),
                failed: *failed,
            })
            .collect(),
        plans: plans
            .plans()
            .iter()
            .map(|p| BillingPlan {
                id: p.id.clone(),
                name: p.name.clone(),
                price: money(p.monthly_price_cents as i64, &p.currency),
                for_sale: p.stripe_price.is_some(),
                current: p.id == b.plan,
            })
            .collect(),
        owner: s.ctx.viewer().role == Role::Owner,
        preview: previewed,
        stripe_error: b.stripe_error,
    };
    rendered(status, state.console_pages.billing(&v))
}

/// `GET /t/{slug}/admin/billing`
#[handler]
pub async fn show(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    page(state, req, &slug, &s, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct Choice {
    plan: String,
}

#[derive(Deserialize)]
struct Change {
    plan: String,
    proration_date: i64,
}

/// The owner, or the page that refuses.
fn owner(state: &AppState, slug: &str, s: &Staff) -> Result<(), Response> {
    need(state, slug, s, Role::Owner)
}

/// The billing page's full address, where Stripe sends the owner back: on
/// the desk's own domain when the console is served there.
fn back(state: &AppState, req: &Request, slug: &str) -> String {
    let origin = match (req.extensions().get::<crate::http::domains::OwnDomain>(), crate::http::domains::host_of(req)) {
        (Some(_), Some(host)) => format!("https://{host}"),
        _ => state.settings.public_url.as_str().trim_end_matches('/').to_owned(),
    };
    format!("{origin}{}/billing", base(req, slug))
}

/// Sends the browser on to Stripe's page. A redirect answering a form
/// post would be blocked by our pages' `form-action 'self'`; a page that
/// moves on by itself (with a link, in case it does not) is not.
fn to_stripe(s: &Staff, url: &str) -> Response {
    let escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;");
    let url = escape(url);
    let text = escape(&tr(s, "Continue to Stripe"));
    crate::http::web::page(
        StatusCode::OK,
        format!(r#"<!doctype html><html lang="{lang}"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="0;url={url}"><title>Stripe</title><p style="font: 16px system-ui, sans-serif; margin: 2rem"><a href="{url}" data-testid="to-stripe">{text}</a></p></html>"#, lang = s.lang),
    )
}

/// `POST /t/{slug}/admin/billing/checkout` (`plan`): to Stripe Checkout.
#[handler]
pub async fn checkout(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let Choice { plan } = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = owner(state, &slug, &s) {
        return r;
    }
    let to = back(state, req, &slug);
    match state.control.checkout(&slug, &plan, &format!("{to}?billing=paid"), &format!("{to}?billing=cancelled")).await {
        Ok(c) => to_stripe(&s, &c.url),
        Err(e) => control_error(state, &slug, &s, &e),
    }
}

/// `POST /t/{slug}/admin/billing/preview` (`plan`): the page again, with
/// what the change would charge now and a button that confirms it.
#[handler]
pub async fn preview(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let Choice { plan } = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = owner(state, &slug, &s) {
        return r;
    }
    match state.control.preview_plan(&slug, &plan).await {
        Ok((plan, p)) => {
            let name = state.control.plans().plan(&plan).map(|x| x.name.clone()).unwrap_or_else(|_| plan.clone());
            let credit = p.total < 0;
            let amount = money(if credit { p.total } else { p.amount_due }, &p.currency);
            let shown = BillingPreview { plan, name, amount, credit, proration_date: p.proration_date };
            page(state, req, &slug, &s, Some(shown), StatusCode::OK).await
        }
        Err(e) => control_error(state, &slug, &s, &e),
    }
}

/// `POST /t/{slug}/admin/billing/plan` (`plan`, `proration_date`): the
/// previewed change, confirmed.
#[handler]
pub async fn change(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let Change { plan, proration_date } = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = owner(state, &slug, &s) {
        return r;
    }
    match state.control.change_plan(&slug, &plan, proration_date).await {
        Ok(_) => {
            crate::http::recorded::by_staff(&s.ctx, "billing.plan", format!("{} → {plan} (prorated, on the same subscription)", s.ctx.tenant().plan)).await;
            redirect(&format!("{}/billing?done=plan", base(req, &slug)))
        }
        Err(e) => control_error(state, &slug, &s, &e),
    }
}

async fn set_cancel(state: &AppState, req: &Request, slug: &str, s: &Staff, body: Body, to_cancel: bool) -> Response {
    let NoFields {} = match posted(state, req, slug, s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = owner(state, slug, s) {
        return r;
    }
    match state.control.set_cancel_at_period_end(slug, to_cancel).await {
        Ok(_) => {
            let (action, said) = if to_cancel { ("billing.cancelled", "ends at the period's end") } else { ("billing.resumed", "continues") };
            crate::http::recorded::by_staff(&s.ctx, action, format!("the {} subscription {said}", s.ctx.tenant().plan)).await;
            redirect(&format!("{}/billing?done={}", base(req, slug), if to_cancel { "cancelled" } else { "resumed" }))
        }
        Err(e) => control_error(state, slug, s, &e),
    }
}

/// `POST /t/{slug}/admin/billing/cancel`
#[handler]
pub async fn cancel(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    set_cancel(state, req, &slug, &s, body, true).await
}

/// `POST /t/{slug}/admin/billing/resume`
#[handler]
pub async fn resume(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    set_cancel(state, req, &slug, &s, body, false).await
}

/// `POST /t/{slug}/admin/billing/portal`: to Stripe's Customer Portal.
#[handler]
pub async fn portal(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(r) = owner(state, &slug, &s) {
        return r;
    }
    match state.control.portal(&slug, &back(state, req, &slug)).await {
        Ok(url) => to_stripe(&s, &url),
        Err(e) => control_error(state, &slug, &s, &e),
    }
}
