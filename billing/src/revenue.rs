//! Revenue as the operator reads it: a tenant's monthly recurring revenue
//! (MRR) from its subscription's state and plan, the movements of MRR
//! (new, expansion, contraction, churn, reactivation) from the changes
//! recorded as Stripe's events arrived, and invoices as Stripe sent them.
//!
//! As in Stripe's own figures, MRR counts subscriptions that are `active`
//! or `past_due` (still owed, not yet lost) and leaves out trials and
//! metered usage, which the dashboard shows apart.

use serde_json::Value;

use crate::stripe::events::Status;

/// Whether a subscription in this state counts in MRR.
pub fn counts_in_mrr(status: Option<Status>) -> bool {
    matches!(status, Some(Status::Active | Status::PastDue))
}

/// A tenant's MRR in cents: its plan's monthly price while its
/// subscription counts, else nothing.
pub fn mrr_cents(monthly_price_cents: u64, status: Option<Status>) -> u64 {
    if counts_in_mrr(status) { monthly_price_cents } else { 0 }
}

/// What one change of a tenant's MRR was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// From nothing, for the first time.
    New,
    /// From nothing, after having paid before (won back).
    Reactivation,
    Expansion,
    Contraction,
    /// To nothing.
    Churn,
}

impl Movement {
    /// `None` when the MRR did not change.
    pub fn of(before: u64, after: u64, paid_before: bool) -> Option<Movement> {
        Some(match (before, after) {
            (b, a) if a == b => return None,
            (0, _) if paid_before => Movement::Reactivation,
            (0, _) => Movement::New,
            (_, 0) => Movement::Churn,
            (b, a) if a > b => Movement::Expansion,
            _ => Movement::Contraction,
        })
    }
}

/// One recorded change of a tenant's MRR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub tenant: String,
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub before: u64,
    pub after: u64,
}

/// A month's movements, in cents (contraction and churn as positive
/// amounts lost), and the MRR at its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Month {
    pub month: String,
    pub new: u64,
    pub reactivation: u64,
    pub expansion: u64,
    pub contraction: u64,
    pub churn: u64,
    pub mrr_end: u64,
}

impl Month {
    /// The month's net change.
    pub fn net(&self) -> i64 {
        (self.new + self.reactivation + self.expansion) as i64 - (self.contraction + self.churn) as i64
    }
}

/// Each of `months` (`YYYY-MM`, ascending) with its movements, from every
/// change ever recorded in the order it happened (those before the first
/// month make up the MRR it starts from).
pub fn months(changes: &[Change], months: &[String]) -> Vec<Month> {
    let mut out: Vec<Month> = months.iter().map(|m| Month { month: m.clone(), ..Month::default() }).collect();
    let mut mrr: i64 = 0;
    let mut paid_before = std::collections::HashSet::new();
    let mut at = 0;
    for c in changes {
        // Months with no change carry the MRR over.
        while at < out.len() && out[at].month < c.month {
            out[at].mrr_end = mrr.max(0) as u64;
            at += 1;
        }
        mrr += c.after as i64 - c.before as i64;
        let movement = Movement::of(c.before, c.after, paid_before.contains(&c.tenant));
        if c.after > 0 {
            paid_before.insert(c.tenant.clone());
        }
        let Some(m) = out.get_mut(at).filter(|m| m.month == c.month) else { continue };
        match movement {
            Some(Movement::New) => m.new += c.after,
            Some(Movement::Reactivation) => m.reactivation += c.after,
            Some(Movement::Expansion) => m.expansion += c.after - c.before,
            Some(Movement::Contraction) => m.contraction += c.before - c.after,
            Some(Movement::Churn) => m.churn += c.before,
            None => {}
        }
    }
    for m in &mut out[at..] {
        m.mrr_end = mrr.max(0) as u64;
    }
    out
}

/// The fields of an invoice the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invoice {
    pub id: String,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub created: i64,
    pub hosted_invoice_url: Option<String>,
    pub attempt_count: i64,
    /// When Stripe tries to collect again (a failed payment).
    pub next_payment_attempt: Option<i64>,
}

impl Invoice {
    /// Reads an invoice object (`data.object` of an `invoice.*` event).
    pub fn from_object(o: &Value) -> Option<Invoice> {
        if o.get("object").and_then(Value::as_str) != Some("invoice") {
            return None;
        }
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        let n = |k: &str| o.get(k).and_then(Value::as_i64);
        Some(Invoice {
            id: s("id")?,
            status: s("status").unwrap_or_default(),
            amount_due: n("amount_due").unwrap_or(0),
            amount_paid: n("amount_paid").unwrap_or(0),
            currency: s("currency").unwrap_or_default(),
            created: n("created").unwrap_or(0),
            hosted_invoice_url: s("hosted_invoice_url").filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            attempt_count: n("attempt_count").unwrap_or(0),
            next_payment_attempt: n("next_payment_attempt"),
        })
    }
}

/// Cents as money: `$19.00`, `€1,234.50`, or `12.00 SEK`.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let whole = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let amount = format!("{grouped}.{:02}", c % 100);
    match currency.to_ascii_lowercase().as_str() {
        "usd" => format!("{sign}${amount}"),
        "eur" => format!("{sign}€{amount}"),
        "gbp" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {}", other.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mrr_counts_active_and_past_due_only() {
        assert_eq!(mrr_cents(4900, Some(Status::Active)), 4900);
        assert_eq!(mrr_cents(4900, Some(Status::PastDue)), 4900);
        for s in [Status::Trialing, Status::Canceled, Status::Unpaid, Status::Incomplete, Status::IncompleteExpired, Status::Paused] {
            assert_eq!(mrr_cents(4900, Some(s)), 0, "{s:?}");
        }
        assert_eq!(mrr_cents(4900, None), 0);
    }

    #[test]
    fn a_change_is_classified_by_its_amounts() {
        assert_eq!(Movement::of(0, 1900, false), Some(Movement::New));
        assert_eq!(Movement::of(0, 1900, true), Some(Movement::Reactivation));
        assert_eq!(Movement::of(1900, 4900, true), Some(Movement::Expansion));
        assert_eq!(Movement::of(4900, 1900, true), Some(Movement::Contraction));
        assert_eq!(Movement::of(4900, 0, true), Some(Movement::Churn));
        assert_eq!(Movement::of(4900, 4900, true), None);
    }

    #[test]
    fn months_sum_movements_and_carry_mrr_over() {
        let c = |tenant: &str, month: &str, before, after| Change { tenant: tenant.into(), month: month.into(), before, after };
        let changes = [
            c("a", "2026-08", 0, 1900),    // before the window: the start
            c("b", "2026-10", 0, 4900),    // new
            c("a", "2026-10", 1900, 4900), // expansion
            c("b", "2026-12", 4900, 0),    // churn
            c("b", "2026-12", 0, 1900),    // won back
            c("a", "2026-12", 4900, 1900), // contraction
        ];
        let window = ["2026-09", "2026-10", "2026-11", "2026-12"].map(String::from);
        let m = months(&changes, &window);
        let row = |i: usize| (m[i].new, m[i].reactivation, m[i].expansion, m[i].contraction, m[i].churn, m[i].mrr_end);
        assert_eq!(row(0), (0, 0, 0, 0, 0, 1900));
        assert_eq!(row(1), (4900, 0, 3000, 0, 0, 9800));
        assert_eq!(row(2), (0, 0, 0, 0, 0, 9800), "no change: carried over");
        assert_eq!(row(3), (0, 1900, 0, 3000, 4900, 3800));
        assert_eq!(m[3].net(), 1900 - 3000 - 4900);
        assert_eq!(months(&[], &window).iter().map(|m| m.mrr_end).sum::<u64>(), 0);
    }

    #[test]
    fn an_invoice_reads_as_stripe_sends_it() {
        let o = json!({"id": "in_1", "object": "invoice", "status": "open", "amount_due": 4900, "amount_paid": 0, "currency": "usd",
            "created": 1_764_000_000, "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test", "attempt_count": 2, "next_payment_attempt": 1_764_086_400});
        let i = Invoice::from_object(&o).unwrap();
        assert_eq!((i.id.as_str(), i.status.as_str(), i.amount_due, i.attempt_count, i.next_payment_attempt), ("in_1", "open", 4900, 2, Some(1_764_086_400)));
        assert_eq!(i.hosted_invoice_url.as_deref(), Some("https://invoice.stripe.com/i/acct_1/test"));
        let sneaky = json!({"id": "in_2", "object": "invoice", "hosted_invoice_url": "javascript:alert(1)"});
        assert_eq!(Invoice::from_object(&sneaky).unwrap().hosted_invoice_url, None, "only web links are shown as links");
        assert!(Invoice::from_object(&json!({"id": "sub_1", "object": "subscription"})).is_none());
    }

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(money(1900, "usd"), "$19.00");
        assert_eq!(money(123_456_789, "eur"), "€1,234,567.89");
        assert_eq!(money(-5, "gbp"), "-£0.05");
        assert_eq!(money(100_000, "sek"), "1,000.00 SEK");
    }
}
