//! The operator's dashboard at `/operator/`: its pages (minijinja
//! templates in `billing/templates/operator/`), the views they render and
//! the charts they draw. The platform fills the views from the control
//! plane and the tenants' usage and serves the pages; nothing here reads
//! storage or knows about HTTP.

/// The charts the pages draw (shared with the staff console).
pub use tikethet_themes::chart;

/// Why a page could not be rendered (a bug in a template).
pub use minijinja::Error as RenderError;
use serde::Serialize;

/// A message shown once at the top of a page after an action.
#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: &'static str,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Flash {
        Flash { kind: "ok", text: text.into() }
    }
    pub fn error(text: impl Into<String>) -> Flash {
        Flash { kind: "error", text: text.into() }
    }
}

/// What every signed-in page carries.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    /// The CSRF token every form posts back.
    pub csrf: String,
    pub flash: Option<Flash>,
    /// No Stripe keys: plans are the operator's, nothing is charged.
    pub offline: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub label: String,
    pub value: String,
    pub note: String,
    /// `data-kpi` in the page, for tests and styling.
    pub key: &'static str,
}

/// Usage of one limit as a bar.
#[derive(Debug, Clone, Serialize)]
pub struct UsageBar {
    /// The limit's name (`tickets_per_month`, …).
    pub limit: String,
    pub label: String,
    pub used: String,
    /// `unlimited` or the limit, formatted.
    pub allowed: String,
    /// How full, 0 to 100; `None` when unlimited.
    pub percent: Option<u8>,
    /// `ok`, `warn` (80% or more) or `full`.
    pub level: &'static str,
}

impl UsageBar {
    pub fn new(limit: &str, used: u64, allowed: Option<u64>, format: fn(u64) -> String) -> UsageBar {
        let percent = allowed.map(|a| if a == 0 { 100 } else { (used.saturating_mul(100) / a).min(100) as u8 });
        let level = match (allowed, percent) {
            (Some(a), _) if used >= a => "full",
            (_, Some(p)) if p >= 80 => "warn",
            _ => "ok",
        };
        UsageBar {
            limit: limit.to_owned(),
            label: limit_label(limit).to_owned(),
            used: format(used),
            allowed: allowed.map_or_else(|| "unlimited".to_owned(), format),
            percent,
            level,
        }
    }
}

/// What a limit is called on the page.
pub fn limit_label(limit: &str) -> &str {
    match limit {
        "agents" => "Agents",
        "tickets_per_month" => "Tickets this month",
        "messages_per_month" => "Messages this month",
        "plugins" => "Plugins",
        "attachment_bytes" => "Largest attachment",
        "storage_bytes" => "Attachment storage",
        other => other,
    }
}

/// A whole number with thousands separators.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Bytes in binary units: `512 B`, `5.0 MiB`, `1.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    /// The subscription's status, if the tenant has one.
    pub subscription: Option<String>,
    pub mrr: String,
    pub usage: Vec<UsageBar>,
    /// The last day anything was counted.
    pub last_active: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonthRow {
    pub month: String,
    pub new: String,
    pub reactivation: String,
    pub expansion: String,
    pub contraction: String,
    pub churn: String,
    pub net: String,
    pub mrr_end: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PastDueRow {
    pub slug: String,
    pub name: String,
    pub subscription: String,
    pub since: String,
    /// When the desk is (or was) suspended.
    pub suspends: String,
    pub suspended: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentRow {
    /// `None`: no tenant has the invoice's customer.
    pub slug: Option<String>,
    pub invoice: String,
    pub amount: String,
    pub at: String,
    pub attempts: i64,
    pub next_attempt: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrialRow {
    pub slug: String,
    pub ends: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanOption {
    pub id: String,
    pub name: String,
    pub price: String,
}

/// The provisioning form's values, kept when it is refused.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProvisionForm {
    pub slug: String,
    pub name: String,
    pub owner_telegram_id: String,
    pub plan: String,
    pub error: Option<String>,
}

/// Self-serve signups: the mode, the funnel and the invitations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignupsView {
    /// `open`, `invite` or `off` (`TIKETHET_SIGNUP`).
    pub mode: String,
    pub started: u64,
    pub claimed: u64,
    pub expired: u64,
    pub trialling: u64,
    pub paying: u64,
    pub invites: Vec<InviteRow>,
    /// An invitation just made: its code, shown this once.
    pub new_invite: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InviteRow {
    pub note: String,
    pub created: String,
    /// The desk it opened, if used.
    pub used_by: Option<String>,
    pub used: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub frame: Frame,
    pub kpis: Vec<Kpi>,
    pub mrr_chart: String,
    pub mrr_legend: String,
    pub months: Vec<MonthRow>,
    pub usage_chart: String,
    pub usage_legend: String,
    pub active_chart: String,
    /// When the usage across tenants was read (it is cached briefly).
    pub usage_as_of: String,
    pub metered_note: String,
    pub past_due: Vec<PastDueRow>,
    pub failed_payments: Vec<PaymentRow>,
    pub trials_ending: Vec<TrialRow>,
    pub tenants: Vec<TenantRow>,
    pub query: String,
    pub status_filter: String,
    pub page: u64,
    pub pages: u64,
    pub total: u64,
    pub plans: Vec<PlanOption>,
    pub form: ProvisionForm,
    pub signups: SignupsView,
    /// Desks' own domains, routed or asked for.
    pub domains: Vec<DomainRow>,
}

/// A desk's own domain as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct DomainRow {
    pub slug: String,
    pub desk: String,
    pub domain: String,
    /// `pending`, `verified`, `failing`, `removed`, `revoked`, or
    /// `operator` (set by the operator, not checked).
    pub status: String,
    pub routed: bool,
    pub verified: Option<String>,
    pub checked: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    pub id: Option<String>,
    pub customer: Option<String>,
    pub status: Option<String>,
    pub unpaid_since: Option<String>,
    pub grace_ends: Option<String>,
    pub suspended_by_billing: bool,
    pub updated: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InvoiceRow {
    pub id: String,
    pub status: String,
    pub amount_due: String,
    pub amount_paid: String,
    pub at: String,
    pub url: Option<String>,
    /// The event said the payment failed.
    pub failed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub at: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayRow {
    pub day: String,
    pub values: Vec<String>,
}

/// One limit in the override form.
#[derive(Debug, Clone, Serialize)]
pub struct LimitField {
    pub name: String,
    pub label: String,
    /// The plan's own value, formatted, as a placeholder.
    pub plan_value: String,
    /// The override as typed: a number, `unlimited`, or empty (the plan's).
    pub value: String,
    pub unit: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantPage {
    pub frame: Frame,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub plan: String,
    pub plan_name: String,
    pub plans: Vec<PlanOption>,
    pub bot_username: String,
    pub owner_telegram_id: i64,
    pub created: String,
    pub mrr: String,
    pub subscription: Option<SubscriptionView>,
    pub usage: Vec<UsageBar>,
    pub plugin_invocations: String,
    pub usage_chart: String,
    pub usage_legend: String,
    pub usage_columns: Vec<String>,
    pub usage_days: Vec<DayRow>,
    pub invoices: Vec<InvoiceRow>,
    pub events: Vec<EventRow>,
    pub audit: Vec<AuditRow>,
    pub limits: Vec<LimitField>,
    pub limits_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoginPage {
    pub error: Option<String>,
    /// Where to go once signed in (a path under `/operator/`).
    pub next: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorPage {
    pub title: String,
    pub message: String,
}

/// The pages, parsed once.
pub struct Pages(tikethet_themes::pages::PageSet);

impl Default for Pages {
    fn default() -> Self {
        Pages::new()
    }
}

macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/operator/", $name)))),+]
    };
}

impl Pages {
    pub fn new() -> Pages {
        Pages(tikethet_themes::pages::PageSet::new(templates!("layout.html", "_macros.html", "login.html", "overview.html", "tenant.html", "error.html"), CSS_VERSION))
    }

    fn render(&self, name: &str, view: impl Serialize) -> Result<String, minijinja::Error> {
        self.0.render(name, view)
    }

    pub fn login(&self, v: &LoginPage) -> Result<String, minijinja::Error> {
        self.render("login.html", v)
    }
    pub fn overview(&self, v: &Overview) -> Result<String, minijinja::Error> {
        self.render("overview.html", v)
    }
    pub fn tenant(&self, v: &TenantPage) -> Result<String, minijinja::Error> {
        self.render("tenant.html", v)
    }
    pub fn error(&self, v: &ErrorPage) -> Result<String, minijinja::Error> {
        self.render("error.html", v)
    }
}

/// The stylesheet, served at `/operator/assets/operator.css?v=…`.
pub const CSS: &str = include_str!("../../templates/operator/operator.css");
/// Changes with the stylesheet, so that it can be cached for good.
pub const CSS_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_bars_fill_and_warn_as_the_limit_nears() {
        let b = UsageBar::new("tickets_per_month", 85, Some(100), count);
        assert_eq!((b.percent, b.level, b.used.as_str(), b.allowed.as_str()), (Some(85), "warn", "85", "100"));
        let b = UsageBar::new("tickets_per_month", 250, Some(100), count);
        assert_eq!((b.percent, b.level), (Some(100), "full"));
        let b = UsageBar::new("messages_per_month", 7, None, count);
        assert_eq!((b.percent, b.level, b.allowed.as_str()), (None, "ok", "unlimited"));
        let b = UsageBar::new("plugins", 0, Some(0), count);
        assert_eq!((b.percent, b.level), (Some(100), "full"), "a limit of 0 is full");
        assert_eq!(UsageBar::new("storage_bytes", 5 * 1024 * 1024, None, bytes).used, "5.0 MiB");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!((count(0), count(1234), count(1_000_000)), ("0".into(), "1,234".into(), "1,000,000".into()));
        assert_eq!((bytes(512), bytes(1536), bytes(5_368_709_120)), ("512 B".into(), "1.5 KiB".into(), "5.0 GiB".into()));
    }

    #[test]
    fn every_page_renders_and_escapes_what_tenants_named() {
        let p = Pages::new();
        let html = p.login(&LoginPage { error: Some("<b>no</b>".into()), next: "/operator/".into() }).unwrap();
        assert!(html.contains("&lt;b&gt;no&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;no&lt;/b&gt;"), "{html}");
        let frame = Frame { csrf: "tok".into(), flash: None, offline: true };
        let row = TenantRow {
            slug: "acme".into(),
            name: "<script>x</script>".into(),
            status: "active".into(),
            plan: "Free".into(),
            subscription: None,
            mrr: "$0.00".into(),
            usage: vec![UsageBar::new("tickets_per_month", 5, Some(100), count)],
            last_active: None,
        };
        let o = Overview {
            frame: frame.clone(),
            kpis: vec![],
            mrr_chart: String::new(),
            mrr_legend: String::new(),
            months: vec![],
            usage_chart: String::new(),
            usage_legend: String::new(),
            active_chart: String::new(),
            usage_as_of: "now".into(),
            metered_note: String::new(),
            past_due: vec![],
            failed_payments: vec![],
            trials_ending: vec![],
            tenants: vec![row],
            query: String::new(),
            status_filter: String::new(),
            page: 1,
            pages: 1,
            total: 1,
            plans: vec![],
            form: ProvisionForm::default(),
            signups: SignupsView::default(),
            domains: Vec::new(),
        };
        let html = p.overview(&o).unwrap();
        assert!(!html.contains("<script>x") && html.contains("&lt;script&gt;x"));
        assert!(html.contains(r#"name="csrf" value="tok""#), "forms carry the CSRF token");
        assert!(p.error(&ErrorPage { title: "Not found".into(), message: "no tenant".into() }).unwrap().contains("no tenant"));
    }
}
