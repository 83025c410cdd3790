//! The dashboard's views, filled from the control plane, the billing
//! accounts and the tenants' own usage counters, in the page's language
//! ([`Ui`]): what is built here is translated here, with `d::tr` (a text
//! of the dashboard's, by its English) and `d::trv` (one with values).

use std::collections::HashMap;

use chrono::{DateTime, TimeZone as _, Utc};
use tikethet_billing::dashboard::{
    self as d, AuditRow, DayRow, EventRow, Flash, Frame, InvoiceRow, Kpi, LimitField, MonthRow, Overview, PastDueRow, PaymentRow, PlanOption,
    ProvisionForm, SubscriptionView, TenantPage, TenantRow, TrialRow, SignupsView, InviteRow, UsageBar,
};
use tikethet_billing::dashboard::chart::{self, Chart, Kind, Series};
use tikethet_billing::revenue::{self, money};
use tikethet_billing::{Limit, Overrides};
use tikethet_runtime::domain::TenantId;

use super::{Session, Ui};
use crate::AppState;
use crate::control::billing::GRACE_PERIOD;
use crate::control::{ControlError, TenantRecord, dashboard};

type Result<T> = std::result::Result<T, ControlError>;

/// Tenants per page of the overview.
const PAGE: usize = 25;

/// What a finished action says, in English (fixed texts: nothing from the
/// address is echoed into the page; the handlers translate them).
pub fn done_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "provisioned" => "Provisioned: the bot's webhook is registered and the desk is live.",
        "suspended" => "Suspended. The desk's customers are told it is paused; nothing is deleted.",
        "resumed" => "Resumed: the desk runs again.",
        "plan" => "Plan changed.",
        "limits" => "Limits saved.",
        "domain_revoked" => "Domain revoked: the desk no longer answers on it, and its owner was told.",
        _ => return None,
    })
}

fn frame(state: &AppState, s: &Session, ui: &Ui, flash: Option<Flash>) -> Frame {
    Frame { csrf: s.csrf.clone(), flash, offline: !state.control.billing_online(), lang: ui.lang, here: ui.here.clone() }
}

/// A text with values in `lang`.
fn trv(lang: &str, id: &str, values: serde_json::Value) -> String {
    d::trv(lang, id, &values)
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn unix(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0).single().map(when).unwrap_or_default()
}

fn plan_options(state: &AppState, lang: &str) -> Vec<PlanOption> {
    state
        .control
        .plans()
        .plans()
        .iter()
        .map(|p| PlanOption { id: p.id.clone(), name: p.name.clone(), price: trv(lang, "price-month", serde_json::json!({ "price": money(p.monthly_price_cents as i64, &p.currency) })) })
        .collect()
}

fn plan_name(state: &AppState, id: &str) -> String {
    state.control.plans().plan(id).map(|p| p.name.clone()).unwrap_or_else(|_| id.to_owned())
}

/// The catalogue's currency (its first plan's) for sums across plans.
fn currency(state: &AppState) -> String {
    state.control.plans().plans().first().map(|p| p.currency.clone()).unwrap_or_else(|| "usd".into())
}

fn bar_of(line: &tikethet_runtime::desk::usage::UsageLine) -> UsageBar {
    let format = if line.limit == "storage_bytes" { d::bytes } else { d::count };
    UsageBar::new(line.limit, line.used, line.allowed, format)
}

/// A tenant's usage bars now (empty when it is not served here).
async fn usage_now(state: &AppState, tenant_id: &str) -> (Vec<UsageBar>, u64) {
    let Some(t) = state.runtime.tenants().get(&TenantId::from_stored(tenant_id.to_owned())) else { return (vec![], 0) };
    match tikethet_runtime::desk::usage::now(&t).await {
        Ok((lines, plugin_calls)) => (lines.iter().map(bar_of).collect(), plugin_calls),
        Err(e) => {
            tracing::warn!(tenant = %tenant_id, error = %e, "the dashboard could not read a tenant's usage");
            (vec![], 0)
        }
    }
}

const METERS: [(&str, &str, &str); 3] = [
    (tikethet_runtime::desk::usage::MESSAGES, "messages", "#2457c5"),
    (tikethet_runtime::desk::usage::TICKETS, "tickets", "#1f8a4c"),
    (tikethet_runtime::desk::usage::PLUGIN_INVOCATIONS, "plugin calls", "#b7791f"),
];

fn short(day: &str) -> String {
    day.get(5..).unwrap_or(day).to_owned()
}

/// The overview's search, filter and page (`?q=&status=&page=`), and the
/// flash of a finished action (`?done=`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct OverviewQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    pub page: Option<String>,
    pub done: Option<String>,
}

pub async fn overview(state: &AppState, s: &Session, ui: &Ui, flash: Option<Flash>, q: &OverviewQuery, form: ProvisionForm) -> Result<Overview> {
    let lang = ui.lang;
    let tr = |text: &'static str| d::tr(lang, text).to_owned();
    let control = &state.control;
    let cur = currency(state);
    let now = Utc::now();
    let records = control.list().await?;
    let accounts: HashMap<String, _> = control.billing_accounts().await?.into_iter().map(|a| (a.tenant_id.clone(), a)).collect();
    let status_of = |id: &str| accounts.get(id).and_then(|a| a.subscription_status.clone());
    let mrr_of = |r: &TenantRecord| dashboard::mrr_of(control.plans(), &r.plan, status_of(&r.id).as_deref());

    // Revenue: now, and its movements over the last twelve months.
    let mrr_now: u64 = records.iter().map(mrr_of).sum();
    let paying = records.iter().filter(|r| mrr_of(r) > 0).count();
    let months: Vec<String> = (0..12).rev().map(|back| month_back(now, back)).collect();
    let changes: Vec<revenue::Change> = control
        .mrr_changes()
        .await?
        .into_iter()
        .map(|c| revenue::Change { tenant: c.tenant_id, month: c.at.format("%Y-%m").to_string(), before: c.before_cents.max(0) as u64, after: c.after_cents.max(0) as u64 })
        .collect();
    let moves = revenue::months(&changes, &months);
    let dollars = |v: f64| money((v * 100.0).round() as i64, &cur);
    let cents = |v: u64| v as f64 / 100.0;
    let mrr_series = [
        Series { name: tr("new"), color: "#1f8a4c", values: moves.iter().map(|m| cents(m.new)).collect() },
        Series { name: tr("won back"), color: "#2c9c9c", values: moves.iter().map(|m| cents(m.reactivation)).collect() },
        Series { name: tr("expansion"), color: "#2457c5", values: moves.iter().map(|m| cents(m.expansion)).collect() },
        Series { name: tr("contraction"), color: "#d69e2e", values: moves.iter().map(|m| -cents(m.contraction)).collect() },
        Series { name: tr("churn"), color: "#c53030", values: moves.iter().map(|m| -cents(m.churn)).collect() },
    ];
    let mrr_chart = chart::render(&Chart { id: "mrr", title: d::tr(lang, "MRR movements per month"), labels: &months, series: &mrr_series, kind: Kind::StackedBars, format: &dollars });
    let m = |c: u64| money(c as i64, &cur);
    let month_rows: Vec<MonthRow> = moves
        .iter()
        .rev()
        .map(|x| MonthRow {
            month: x.month.clone(),
            new: m(x.new),
            reactivation: m(x.reactivation),
            expansion: m(x.expansion),
            contraction: m(x.contraction),
            churn: m(x.churn),
            net: money(x.net(), &cur),
            mrr_end: m(x.mrr_end),
        })
        .collect();
    let this_month = moves.last().map(|x| x.net()).unwrap_or(0);

    // Usage across tenants, last 30 days.
    let usage = control.usage_across(30).await;
    let labels: Vec<String> = usage.days.iter().map(|d| short(d)).collect();
    let usage_series: Vec<Series> = METERS
        .iter()
        .map(|(metric, name, color)| Series { name: tr(*name), color, values: usage.totals.get(*metric).map(|v| v.iter().map(|x| *x as f64).collect()).unwrap_or_else(|| vec![0.0; labels.len()]) })
        .collect();
    let whole = |v: f64| d::count(v.max(0.0).round() as u64);
    let usage_chart = chart::render(&Chart { id: "usage-all", title: d::tr(lang, "Usage per day, all tenants"), labels: &labels, series: &usage_series, kind: Kind::Lines, format: &whole });
    let active_series = [Series { name: tr("active tenants"), color: "#2457c5", values: usage.active.iter().map(|x| *x as f64).collect() }];
    let active_chart = chart::render(&Chart { id: "active", title: d::tr(lang, "Tenants with activity per day"), labels: &labels, series: &active_series, kind: Kind::StackedBars, format: &whole });
    let month_start = tikethet_runtime::desk::usage::month_of(now);
    let month_total = |metric: &str| -> u64 {
        usage.totals.get(metric).map(|v| v.iter().zip(&usage.days).filter(|(_, d)| **d >= month_start).map(|(x, _)| *x).sum()).unwrap_or(0)
    };
    let metered_note = trv(
        lang,
        if control.billing_online() { "metered-this-month-reported" } else { "metered-this-month-offline" },
        serde_json::json!({
            "messages": d::count(month_total(tikethet_runtime::desk::usage::MESSAGES)),
            "calls": d::count(month_total(tikethet_runtime::desk::usage::PLUGIN_INVOCATIONS)),
        }),
    );

    // Who needs attention.
    let by_id: HashMap<&str, &TenantRecord> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut past_due: Vec<PastDueRow> = accounts
        .values()
        .filter_map(|a| {
            let since = a.unpaid_since?;
            let r = by_id.get(a.tenant_id.as_str())?;
            Some(PastDueRow {
                slug: r.slug.clone(),
                name: r.name.clone(),
                subscription: a.subscription_status.clone().unwrap_or_default(),
                since: day(since),
                suspends: day(since + GRACE_PERIOD),
                suspended: a.suspended_by_billing,
            })
        })
        .collect();
    past_due.sort_by(|a, b| a.since.cmp(&b.since));
    let month_ago = (now - chrono::Duration::days(30)).timestamp();
    let failed_payments: Vec<PaymentRow> = control
        .stripe_events_of(&["invoice.payment_failed"], month_ago, 50)
        .await?
        .into_iter()
        .filter_map(|e| {
            let i = dashboard::invoice_in(&e.payload)?;
            let slug = e.tenant_id.as_deref().and_then(|id| by_id.get(id)).map(|r| r.slug.clone());
            Some(PaymentRow {
                slug,
                amount: money(i.amount_due, &i.currency),
                at: unix(e.created),
                attempts: i.attempt_count,
                next_attempt: i.next_payment_attempt.map(unix),
                url: i.hosted_invoice_url,
                invoice: i.id,
            })
        })
        .collect();
    // Trials of desks opened by signup, and Stripe's own trials.
    let mut trials_ending: Vec<TrialRow> = records
        .iter()
        .filter_map(|r| r.trial_ends_at.filter(|e| *e > now && *e - now <= chrono::Duration::days(7)).map(|e| TrialRow { slug: r.slug.clone(), ends: when(e) }))
        .collect();
    let stripe_trials: Vec<TrialRow> = control
        .stripe_events_of(&["customer.subscription.trial_will_end"], (now - chrono::Duration::days(7)).timestamp(), 50)
        .await?
        .into_iter()
        .filter_map(|e| {
            let end = dashboard::trial_end_in(&e.payload).filter(|end| *end > now.timestamp())?;
            let r = by_id.get(e.tenant_id.as_deref()?)?;
            (status_of(&r.id).as_deref() == Some("trialing")).then(|| TrialRow { slug: r.slug.clone(), ends: unix(end) })
        })
        .collect();
    trials_ending.extend(stripe_trials);
    let funnel = control.funnel().await?;
    let signups = SignupsView {
        mode: state.settings.signup.as_str().to_owned(),
        started: funnel.started,
        claimed: funnel.claimed,
        expired: funnel.expired,
        trialling: funnel.trialling,
        paying: funnel.paying,
        invites: control
            .invites()
            .await?
            .into_iter()
            .map(|i| InviteRow { note: i.note, created: when(i.created_at), used: i.used_at.map(when), used_by: i.used_by })
            .collect(),
        new_invite: None,
    };

    // The tenants, searched, filtered and a page of them.
    let needle = q.q.as_deref().map(|x| x.trim().to_lowercase()).unwrap_or_default();
    let status_filter = q.status.clone().filter(|x| ["active", "suspended", "past_due"].contains(&x.as_str())).unwrap_or_default();
    let mut matching: Vec<&TenantRecord> = records
        .iter()
        .filter(|r| needle.is_empty() || r.slug.contains(&needle) || r.name.to_lowercase().contains(&needle))
        .filter(|r| match status_filter.as_str() {
            "" => true,
            "past_due" => accounts.get(&r.id).is_some_and(|a| a.unpaid_since.is_some()),
            st => r.status == st,
        })
        .collect();
    matching.sort_by(|a, b| a.slug.cmp(&b.slug));
    let total = matching.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = q.page.as_deref().and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).clamp(1, pages);
    let mut tenants = Vec::new();
    for r in matching.iter().skip((page - 1) * PAGE).take(PAGE) {
        let (bars, _) = usage_now(state, &r.id).await;
        let bars = bars.into_iter().filter(|b| ["tickets_per_month", "messages_per_month", "agents"].contains(&b.limit.as_str())).collect();
        tenants.push(TenantRow {
            slug: r.slug.clone(),
            name: r.name.clone(),
            status: r.status.clone(),
            plan: plan_name(state, &r.plan),
            subscription: status_of(&r.id),
            mrr: money(mrr_of(r) as i64, &cur),
            usage: bars,
            last_active: usage.last_active.get(&r.id).cloned(),
        });
    }

    let active_tenants = records.iter().filter(|r| r.status == "active").count();
    let counted = |id: &str, count: usize| trv(lang, id, serde_json::json!({ "count": count }));
    let kpis = vec![
        Kpi { key: "mrr", label: tr("MRR"), value: money(mrr_now as i64, &cur), note: trv(lang, "amount-this-month", serde_json::json!({ "amount": signed(this_month, &cur) })) },
        Kpi { key: "arr", label: tr("ARR"), value: money(mrr_now as i64 * 12, &cur), note: tr("MRR × 12") },
        Kpi { key: "paying", label: tr("Paying tenants"), value: d::count(paying as u64), note: counted("of-tenants-count", records.len()) },
        Kpi { key: "active", label: tr("Active tenants"), value: d::count(active_tenants as u64), note: counted("suspended-count", records.len() - active_tenants) },
        Kpi { key: "past-due", label: tr("Behind on payment"), value: d::count(past_due.len() as u64), note: counted("failed-payments-in-30-days", failed_payments.len()) },
    ];
    Ok(Overview {
        frame: frame(state, s, ui, flash),
        kpis,
        mrr_chart,
        mrr_legend: chart::legend(&mrr_series),
        months: month_rows,
        usage_chart,
        usage_legend: chart::legend(&usage_series),
        active_chart,
        usage_as_of: format!("{}{}", when(usage.read_at), if usage.unreadable > 0 { format!(" ({})", counted("tenants-could-not-be-read", usage.unreadable)) } else { String::new() }),
        metered_note,
        past_due,
        failed_payments,
        trials_ending,
        tenants,
        query: q.q.clone().unwrap_or_default(),
        status_filter,
        page: page as u64,
        pages: pages as u64,
        total: total as u64,
        plans: plan_options(state, lang),
        form: ProvisionForm { plan: if form.plan.is_empty() { control.plans().default_plan().id.clone() } else { form.plan.clone() }, ..form },
        signups,
        domains: control
            .domains()
            .await?
            .into_iter()
            .map(|d| tikethet_billing::dashboard::DomainRow {
                slug: d.slug,
                desk: d.desk,
                domain: d.domain,
                status: d.status,
                routed: d.routed,
                verified: d.verified_at.map(when),
                checked: d.checked_at.map(when),
                error: d.last_error,
            })
            .collect(),
    })
}

fn signed(cents: i64, cur: &str) -> String {
    if cents > 0 { format!("+{}", money(cents, cur)) } else { money(cents, cur) }
}

/// `YYYY-MM` of the month `back` months before `now`'s.
fn month_back(now: DateTime<Utc>, back: u32) -> String {
    use chrono::Datelike as _;
    let total = now.year() * 12 + now.month0() as i32 - back as i32;
    format!("{:04}-{:02}", total.div_euclid(12), total.rem_euclid(12) + 1)
}

pub async fn tenant(state: &AppState, s: &Session, ui: &Ui, slug: &str, flash: Option<Flash>, limits_form: Option<(HashMap<String, String>, String)>) -> Result<TenantPage> {
    let lang = ui.lang;
    let control = &state.control;
    let (t, account, events) = control.billing_of(slug, 50).await?;
    let r = control.get(slug).await?;
    let cur = currency(state);
    let (usage, plugin_calls) = usage_now(state, &r.id).await;

    // Usage over 90 days.
    let now = Utc::now();
    let days = dashboard::window(90, now);
    let counts = match state.runtime.tenants().get(&TenantId::from_stored(r.id.clone())) {
        Some(rt) => tikethet_runtime::desk::usage::daily(&rt, &days[0]).await.unwrap_or_else(|e| {
            tracing::warn!(tenant = %r.id, error = %e, "the dashboard could not read a tenant's daily usage");
            vec![]
        }),
        None => vec![],
    };
    let index: HashMap<&str, usize> = days.iter().enumerate().map(|(i, d)| (d.as_str(), i)).collect();
    let mut per: HashMap<&str, Vec<u64>> = HashMap::new();
    for c in &counts {
        if let Some(&i) = index.get(c.day.as_str()) {
            per.entry(METERS.iter().find(|(m, _, _)| *m == c.metric).map(|(m, _, _)| *m).unwrap_or("other")).or_insert_with(|| vec![0; days.len()])[i] += c.count;
        }
    }
    let series: Vec<Series> = METERS
        .iter()
        .map(|(metric, name, color)| Series { name: d::tr(lang, *name).to_owned(), color, values: per.get(metric).map(|v| v.iter().map(|x| *x as f64).collect()).unwrap_or_else(|| vec![0.0; days.len()]) })
        .collect();
    let labels: Vec<String> = days.iter().map(|d| short(d)).collect();
    let whole = |v: f64| d::count(v.max(0.0).round() as u64);
    let usage_chart = chart::render(&Chart { id: "usage", title: d::tr(lang, "Usage per day, last 90 days"), labels: &labels, series: &series, kind: Kind::Lines, format: &whole });
    let usage_days: Vec<DayRow> = (0..days.len())
        .rev()
        .filter(|i| METERS.iter().any(|(m, _, _)| per.get(m).is_some_and(|v| v[*i] > 0)))
        .map(|i| DayRow { day: days[i].clone(), values: METERS.iter().map(|(m, _, _)| d::count(per.get(m).map_or(0, |v| v[i]))).collect() })
        .collect();

    let subscription = account.as_ref().map(|a| SubscriptionView {
        id: a.stripe_subscription_id.clone(),
        customer: a.stripe_customer_id.clone(),
        status: a.subscription_status.clone(),
        unpaid_since: a.unpaid_since.map(day),
        grace_ends: a.unpaid_since.map(|u| day(u + GRACE_PERIOD)),
        suspended_by_billing: a.suspended_by_billing,
        updated: when(a.updated_at),
    });
    let mrr = dashboard::mrr_of(control.plans(), &r.plan, account.as_ref().and_then(|a| a.subscription_status.as_deref()));
    let invoices = control
        .invoices_of(&t.id, 24)
        .await?
        .into_iter()
        .map(|(i, failed)| InvoiceRow {
            status: i.status.clone(),
            amount_due: money(i.amount_due, &i.currency),
            amount_paid: money(i.amount_paid, &i.currency),
            at: unix(i.created),
            url: i.hosted_invoice_url.clone(),
            failed,
            id: i.id,
        })
        .collect();
    let events = events.into_iter().map(|e| EventRow { id: e.id, kind: e.kind, at: unix(e.created), outcome: e.outcome }).collect();
    let audit = control.audit_of(slug, 50).await?.into_iter().map(|a| AuditRow { at: when(a.at), actor: a.actor, action: a.action, detail: a.detail }).collect();

    // The override form: as posted (when refused), else as stored.
    let plan_limits = control.plans().limits_of(&r.plan, &Overrides::default());
    // What the operator set, as set (the effective limits clamp some).
    let overrides = Overrides::from_stored(t.limit_overrides.as_deref());
    let (typed, limits_error) = match limits_form {
        Some((form, why)) => (Some(form), Some(why)),
        None => (None, None),
    };
    let limits = Limit::ALL
        .iter()
        .map(|l| {
            let name = l.as_str();
            let bytes = matches!(l, Limit::AttachmentBytes | Limit::StorageBytes);
            let stored = overrides.0.get(l).map(|v| match v {
                Some(v) => v.to_string(),
                None => "unlimited".to_owned(),
            });
            LimitField {
                name: name.to_owned(),
                label: d::tr(lang, d::limit_label(name)).to_owned(),
                plan_value: match plan_limits.get(*l) {
                    Some(v) if bytes => format!("{v} ({})", d::bytes(v)),
                    Some(v) => v.to_string(),
                    None => "unlimited".into(),
                },
                value: typed.as_ref().map(|f| f.get(name).cloned().unwrap_or_default()).or(stored).unwrap_or_default(),
                unit: if bytes { d::tr(lang, "bytes") } else { "" },
            }
        })
        .collect();

    Ok(TenantPage {
        frame: frame(state, s, ui, flash),
        slug: r.slug.clone(),
        name: r.name.clone(),
        status: r.status.clone(),
        plan: r.plan.clone(),
        plan_name: plan_name(state, &r.plan),
        plans: plan_options(state, lang),
        bot_username: r.bot_username.clone(),
        owner_telegram_id: r.owner_telegram_id,
        created: day(r.created_at),
        mrr: money(mrr as i64, &cur),
        subscription,
        usage,
        plugin_invocations: d::count(plugin_calls),
        usage_chart,
        usage_legend: chart::legend(&series),
        usage_columns: METERS.iter().map(|(_, n, _)| d::tr(lang, *n).to_owned()).collect(),
        usage_days,
        invoices,
        events,
        audit,
        limits,
        limits_error,
    })
}

/// The override form as overrides (every limit named replaces all earlier
/// overrides) and what it set (for the audit, in English), or why it
/// cannot be (in `lang`).
pub fn parse_limits(form: &HashMap<String, String>, lang: &str) -> std::result::Result<(Overrides, String), String> {
    let mut map = serde_json::Map::new();
    for l in Limit::ALL {
        let typed = form.get(l.as_str()).map(|v| v.trim()).unwrap_or_default();
        if typed.is_empty() {
            continue;
        }
        let value = if typed.eq_ignore_ascii_case("unlimited") {
            serde_json::Value::Null
        } else {
            let digits: String = typed.chars().filter(|c| !matches!(c, ',' | '_' | ' ')).collect();
            match digits.parse::<u64>() {
                Ok(n) => n.into(),
                Err(_) => return Err(trv(lang, "limit-not-a-number", serde_json::json!({ "limit": d::tr(lang, d::limit_label(l.as_str())), "value": format!("{typed:?}") }))),
            }
        };
        map.insert(l.as_str().to_owned(), value);
    }
    let said = if map.is_empty() { "none: the plan's limits".to_owned() } else { serde_json::Value::Object(map.clone()).to_string() };
    Overrides::from_json(&serde_json::Value::Object(map)).map(|o| (o, said)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_back_across_years() {
        let now = DateTime::parse_from_rfc3339("2026-02-15T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!((month_back(now, 0), month_back(now, 1), month_back(now, 2), month_back(now, 14)), ("2026-02".into(), "2026-01".into(), "2025-12".into(), "2024-12".into()));
    }

    #[test]
    fn the_limits_form_reads_numbers_unlimited_and_blanks() {
        let form: HashMap<String, String> =
            [("agents", "12"), ("tickets_per_month", " unlimited "), ("messages_per_month", "10,000"), ("plugins", ""), ("csrf", "x")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let (o, said) = parse_limits(&form, "en").unwrap();
        assert_eq!(o.0.get(&Limit::Agents), Some(&Some(12)));
        assert_eq!(o.0.get(&Limit::TicketsPerMonth), Some(&None));
        assert_eq!(o.0.get(&Limit::MessagesPerMonth), Some(&Some(10_000)));
        assert!(!o.0.contains_key(&Limit::Plugins), "blank keeps the plan's");
        assert!(said.contains("\"agents\":12"));
        let bad: HashMap<String, String> = [("agents".to_owned(), "lots".to_owned())].into();
        assert!(parse_limits(&bad, "en").unwrap_err().contains("Agents"));
        let too_big: HashMap<String, String> = [("attachment_bytes".to_owned(), "999999999999".to_owned())].into();
        assert!(parse_limits(&too_big, "en").unwrap_err().contains("Telegram"));
        assert_eq!(parse_limits(&HashMap::new(), "en").unwrap().0, Overrides::default());
    }
}
