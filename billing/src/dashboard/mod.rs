//! The operator's dashboard at `/operator/`: its pages (minijinja
//! templates in `billing/templates/operator/`), the views they render and
//! the charts they draw. The platform fills the views from the control
//! plane and the tenants' usage and serves the pages; nothing here reads
//! storage or knows about HTTP.
//!
//! The pages speak the [`LANGUAGES`], from `billing/locales/{lang}/dashboard.ftl`
//! (English the source). Templates translate with the `t` filter, in the
//! page's language (`v.frame.lang`, or `v.lang` on the pages without a
//! frame): by the English text (`{{ "Tenants" | t }}`) or by id with values,
//! counts taking their language's plural forms
//! (`{{ "failed-payments-in-30-days" | t(count=n) }}`); `t_html` is for the
//! few texts of ours that carry markup (its values are escaped). The
//! platform translates what it builds with [`tr`] and [`trv`]. A text a
//! language lacks is shown in English, and a test fails on it.

use std::sync::LazyLock;

use tikethet_themes::language::Catalog;

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
    /// The page's language, one of [`LANGUAGES`].
    pub lang: &'static str,
    /// The page's address (without `lang`), for the language switch to
    /// come back to; empty: no switch.
    pub here: String,
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
    /// As in [`Frame`].
    pub lang: &'static str,
    pub here: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorPage {
    pub title: String,
    pub message: String,
    /// As in [`Frame`].
    pub lang: &'static str,
    pub here: String,
}

/// The languages the dashboard speaks, English (the source) first.
pub const LANGUAGES: [(&str, &str); 4] = [("en", "English"), ("ru", "Русский"), ("uk", "Українська"), ("es", "Español")];

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::new(&[
        ("en", include_str!("../../locales/en/dashboard.ftl")),
        ("ru", include_str!("../../locales/ru/dashboard.ftl")),
        ("uk", include_str!("../../locales/uk/dashboard.ftl")),
        ("es", include_str!("../../locales/es/dashboard.ftl")),
    ])
});

/// The dashboard's texts.
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

/// One of [`LANGUAGES`] by its code (`?lang=`, the cookie), if it is one.
pub fn language(code: &str) -> Option<&'static str> {
    let code = code.trim();
    LANGUAGES.iter().map(|(l, _)| *l).find(|l| l.eq_ignore_ascii_case(code))
}

/// The page's language for an `Accept-Language` header: the first of ours
/// it names (in its order, `ru-RU` as `ru`), else English.
pub fn lang_of(accept_language: Option<&str>) -> &'static str {
    let chosen = tikethet_themes::language::choose_from_header(accept_language, LANGUAGES.iter().map(|(l, _)| *l), "en");
    language(&chosen).unwrap_or("en")
}

/// `text` (English) in `lang`; itself when no language has it (a message
/// from elsewhere, say).
pub fn tr<'a>(lang: &str, text: &'a str) -> &'a str {
    CATALOG.text(lang, text)
}

/// The text `id` with values in `lang` (counts take the language's plural
/// forms).
pub fn trv(lang: &str, id: &str, values: &serde_json::Value) -> String {
    CATALOG.format(lang, id, values).unwrap_or_else(|| id.to_owned())
}

/// The page's language, as the view says (`v.frame.lang`, else `v.lang`).
fn page_lang(state: &minijinja::State) -> String {
    let v = state.lookup("v");
    let of = |x: Option<minijinja::Value>| x.and_then(|l| l.as_str().map(str::to_owned));
    of(v.as_ref().and_then(|v| v.get_attr("frame").ok()).filter(|f| !f.is_none() && !f.is_undefined()).and_then(|f| f.get_attr("lang").ok()))
        .or_else(|| of(v.and_then(|v| v.get_attr("lang").ok())))
        .unwrap_or_else(|| "en".to_owned())
}

fn kwargs_json(values: &minijinja::value::Kwargs, each: impl Fn(minijinja::Value) -> serde_json::Value) -> Result<serde_json::Value, minijinja::Error> {
    let mut given = serde_json::Map::new();
    for name in values.args().map(str::to_owned).collect::<Vec<_>>() {
        let v: minijinja::Value = values.get(&name)?;
        given.insert(name, each(v));
    }
    Ok(serde_json::Value::Object(given))
}

/// The `t` filter: a text in the page's language. With values
/// (`t(count=3)`), `text` is the id of a text that uses them.
fn translate(state: &minijinja::State, text: String, values: minijinja::value::Kwargs) -> Result<String, minijinja::Error> {
    let lang = page_lang(state);
    if values.args().next().is_none() {
        return Ok(tr(&lang, &text).to_owned());
    }
    let given = kwargs_json(&values, |v| serde_json::to_value(&v).unwrap_or(serde_json::Value::Null))?;
    Ok(trv(&lang, &text, &given))
}

/// The `t_html` filter: the text `id`, whose markup is ours (the
/// resources are compiled in), with its values escaped, as HTML.
fn translate_html(state: &minijinja::State, id: String, values: minijinja::value::Kwargs) -> Result<minijinja::Value, minijinja::Error> {
    let lang = page_lang(state);
    let given = kwargs_json(&values, |v| match v.as_str() {
        Some(s) => serde_json::Value::String(chart::escape(s)),
        None if v.is_number() => serde_json::to_value(&v).unwrap_or(serde_json::Value::Null),
        None => serde_json::Value::String(chart::escape(&v.to_string())),
    })?;
    Ok(minijinja::Value::from_safe_string(trv(&lang, &id, &given)))
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
        Pages(tikethet_themes::pages::PageSet::new(templates!("layout.html", "_macros.html", "login.html", "overview.html", "tenant.html", "error.html"), CSS_VERSION).with_env(|env| {
            env.add_filter("t", translate);
            env.add_filter("t_html", translate_html);
        }))
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

    fn overview(frame: Frame, tenants: Vec<TenantRow>) -> Overview {
        Overview {
            frame,
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
            total: tenants.len() as u64,
            tenants,
            query: String::new(),
            status_filter: String::new(),
            page: 1,
            pages: 1,
            plans: vec![],
            form: ProvisionForm::default(),
            signups: SignupsView::default(),
            domains: Vec::new(),
        }
    }

    fn row(name: &str) -> TenantRow {
        TenantRow {
            slug: "acme".into(),
            name: name.into(),
            status: "active".into(),
            plan: "Free".into(),
            subscription: None,
            mrr: "$0.00".into(),
            usage: vec![UsageBar::new("tickets_per_month", 5, Some(100), count), UsageBar::new("messages_per_month", 7, None, count)],
            last_active: None,
        }
    }

    fn frame(lang: &'static str) -> Frame {
        Frame { csrf: "tok".into(), flash: None, offline: true, lang, here: "/operator/".into() }
    }

    #[test]
    fn every_page_renders_and_escapes_what_tenants_named() {
        let p = Pages::new();
        let html = p.login(&LoginPage { error: Some("<b>no</b>".into()), next: "/operator/".into(), lang: "en", here: "/operator/login".into() }).unwrap();
        assert!(html.contains("&lt;b&gt;no&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;no&lt;/b&gt;"), "{html}");
        let html = p.overview(&overview(frame("en"), vec![row("<script>x</script>")])).unwrap();
        assert!(!html.contains("<script>x") && html.contains("&lt;script&gt;x"));
        assert!(html.contains(r#"name="csrf" value="tok""#), "forms carry the CSRF token");
        assert!(p.error(&ErrorPage { title: "Not found".into(), message: "no tenant".into(), lang: "en", here: String::new() }).unwrap().contains("no tenant"));
    }

    #[test]
    fn the_suspend_question_escapes_the_name_and_keeps_its_markup() {
        let p = Pages::new();
        let page = TenantPage {
            frame: frame("en"),
            slug: "acme".into(),
            name: "<i>Acme</i>".into(),
            status: "active".into(),
            plan: "free".into(),
            plan_name: "Free".into(),
            plans: vec![],
            bot_username: "acme_bot".into(),
            owner_telegram_id: 42,
            created: "2026-01-01".into(),
            mrr: "$0.00".into(),
            subscription: None,
            usage: vec![],
            plugin_invocations: "1,234".into(),
            usage_chart: String::new(),
            usage_legend: String::new(),
            usage_columns: vec![],
            usage_days: vec![],
            invoices: vec![],
            events: vec![],
            audit: vec![],
            limits: vec![],
            limits_error: None,
        };
        let html = p.tenant(&page).unwrap();
        assert!(html.contains("Suspend <strong>&lt;i&gt;Acme&lt;/i&gt;</strong>? Its bot answers"), "{html}");
        assert!(html.contains("owner 42 · since 2026-01-01") && html.contains("Plugin calls this month: 1,234 (metered, not limited)."), "{html}");
        let html = p.tenant(&TenantPage { frame: frame("uk"), ..page }).unwrap();
        assert!(html.contains("Призупинити <strong>&lt;i&gt;Acme&lt;/i&gt;</strong>?") && html.contains("власник 42"), "{html}");
    }

    #[test]
    fn every_language_has_every_text() {
        // Texts without values (what `missing` knows)…
        for (lang, _) in LANGUAGES {
            let missing = CATALOG.missing(lang);
            assert!(missing.is_empty(), "{lang} lacks {} texts: {missing:?}", missing.len());
        }
        // …and every message, those with values included, both ways.
        let ids = |src: &str| -> std::collections::BTreeSet<String> {
            src.lines().filter_map(|l| l.split_once(" =").map(|(id, _)| id)).filter(|id| id.starts_with(|c: char| c.is_ascii_lowercase()) && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')).map(str::to_owned).collect()
        };
        let en = ids(include_str!("../../locales/en/dashboard.ftl"));
        for (lang, src) in [("ru", include_str!("../../locales/ru/dashboard.ftl")), ("uk", include_str!("../../locales/uk/dashboard.ftl")), ("es", include_str!("../../locales/es/dashboard.ftl"))] {
            let theirs = ids(src);
            assert_eq!(en.difference(&theirs).collect::<Vec<_>>(), Vec::<&String>::new(), "{lang} lacks these");
            assert_eq!(theirs.difference(&en).collect::<Vec<_>>(), Vec::<&String>::new(), "{lang} has these that English has not");
        }
    }

    #[test]
    fn every_text_the_templates_ask_for_is_there() {
        let templates: &[(&str, &str)] = templates!("layout.html", "_macros.html", "login.html", "overview.html", "tenant.html", "error.html");
        let mut asked = 0;
        for (name, src) in templates {
            for (at, _) in src.match_indices("\" | t") {
                let text = src[..at].rsplit('"').next().unwrap();
                let with_values = src[at + 1..].trim_start_matches(" | t").starts_with("_html") || src[at + 1..].trim_start_matches(" | t").starts_with('(');
                let known = if with_values { CATALOG.format("en", text, &serde_json::json!({})).is_some() || catalog_has(text) } else { CATALOG.knows(text) };
                assert!(known, "{name}: {text:?} is not in en/dashboard.ftl");
                asked += 1;
            }
        }
        assert!(asked > 100, "{asked}");
        for text in ["Agents", "Tickets this month", "Messages this month", "Plugins", "Largest attachment", "Attachment storage", "unlimited"] {
            assert!(CATALOG.knows(text), "{text}");
        }
        for limit in ["agents", "tickets_per_month", "messages_per_month", "plugins", "attachment_bytes", "storage_bytes"] {
            assert!(CATALOG.knows(limit_label(limit)), "{limit}");
        }
    }

    /// Whether the source has a message `id` (one with values, say).
    fn catalog_has(id: &str) -> bool {
        include_str!("../../locales/en/dashboard.ftl").lines().any(|l| l.strip_prefix(id).is_some_and(|rest| rest.starts_with(" =")))
    }

    #[test]
    fn the_language_is_the_first_of_ours_the_browser_names() {
        assert_eq!(lang_of(None), "en");
        assert_eq!(lang_of(Some("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7")), "ru");
        assert_eq!(lang_of(Some("de-DE,de;q=0.9,uk;q=0.8")), "uk");
        assert_eq!(lang_of(Some("es-AR")), "es");
        assert_eq!(lang_of(Some("fr, de")), "en");
        assert_eq!(lang_of(Some("en-GB,ru;q=0.5")), "en");
        assert_eq!(lang_of(Some("")), "en");
        assert_eq!((language("RU"), language("pt"), language("")), (Some("ru"), None, None));
        assert_eq!(LANGUAGES.map(|(l, _)| l), ["en", "ru", "uk", "es"]);
    }

    #[test]
    fn counts_take_their_plural_forms() {
        let n = |lang: &str, id: &str, count: u64| trv(lang, id, &serde_json::json!({ "count": count }));
        let forms = |lang: &str, id: &str, counts: &[u64]| counts.iter().map(|c| n(lang, id, *c)).collect::<Vec<_>>();
        assert_eq!(forms("ru", "failed-payments-in-30-days", &[1, 2, 5, 21, 11]), ["1 неудачный платёж за 30 дней", "2 неудачных платежа за 30 дней", "5 неудачных платежей за 30 дней", "21 неудачный платёж за 30 дней", "11 неудачных платежей за 30 дней"]);
        assert_eq!(forms("uk", "failed-payments-in-30-days", &[1, 2, 5]), ["1 невдалий платіж за 30 днів", "2 невдалі платежі за 30 днів", "5 невдалих платежів за 30 днів"]);
        assert_eq!(forms("en", "failed-payments-in-30-days", &[1, 2, 5]), ["1 failed payment in 30 days", "2 failed payments in 30 days", "5 failed payments in 30 days"]);
        assert_eq!(forms("es", "failed-payments-in-30-days", &[1, 2, 5]), ["1 pago fallido en 30 días", "2 pagos fallidos en 30 días", "5 pagos fallidos en 30 días"]);
        assert_eq!(forms("ru", "of-tenants-count", &[1, 2, 5]), ["из 1 службы", "из 2 служб", "из 5 служб"]);
        assert_eq!(forms("ru", "suspended-count", &[1, 3, 0]), ["1 приостановлена", "3 приостановлены", "0 приостановлено"]);
        assert_eq!(forms("uk", "tenants-could-not-be-read", &[1, 2, 5]), ["1 службу не вдалося прочитати", "2 служби не вдалося прочитати", "5 служб не вдалося прочитати"]);
        assert_eq!(forms("en", "of-tenants-count", &[1, 7]), ["of 1 tenant", "of 7 tenants"]);
        // The same through the pages' filter.
        let mut env = minijinja::Environment::new();
        env.add_filter("t", translate);
        let said = env.render_str(r#"{{ "failed-payments-in-30-days" | t(count=1) }}, {{ "failed-payments-in-30-days" | t(count=2) }}, {{ "failed-payments-in-30-days" | t(count=5) }}"#, minijinja::context! { v => minijinja::context! { lang => "ru" } }).unwrap();
        assert_eq!(said, "1 неудачный платёж за 30 дней, 2 неудачных платежа за 30 дней, 5 неудачных платежей за 30 дней");
    }

    #[test]
    fn a_page_speaks_its_language() {
        let p = Pages::new();
        let ru = p.overview(&overview(Frame { flash: Some(Flash::ok(tr("ru", "Plan changed."))), ..frame("ru") }, vec![row("Acme")])).unwrap();
        for text in [r#"<html lang="ru">"#, "Обзор", "Службы", "Движение MRR", "Создать службу", "Тариф изменён.", "Биллинг отключён", "Обращения за месяц", "без ограничений", "активна", "Данные на now."] {
            assert!(ru.contains(text), "{text} in {ru}");
        }
        for text in ["Overview</h1>", "Provision a tenant", "Tickets this month", "Sign out"] {
            assert!(!ru.contains(text), "{text} in Russian: {ru}");
        }
        // The switch offers the other languages, back to this page.
        assert!(ru.contains(r#"href="/operator/?lang=en""#) || ru.contains(r#"href="&#x2f;operator&#x2f;?lang=en""#), "{ru}");
        assert!(!ru.contains("lang=ru\""), "not its own language");

        let en = p.overview(&overview(frame("en"), vec![row("Acme")])).unwrap();
        for text in [r#"<html lang="en">"#, "<h1>Overview</h1>", "Provision a tenant", "Tickets this month", "5 / 100", "7 / unlimited", "Read now.", "Businesses open desks"] {
            assert!(en.contains(text), "{text} in {en}");
        }
        let login = p.login(&LoginPage { error: None, next: "/operator/".into(), lang: "es", here: "/operator/login?next=%2Foperator%2F".into() }).unwrap();
        assert!(login.contains(r#"<html lang="es">"#) && login.contains("Pega el token del operador (<code>TIKETHET_OPERATOR_TOKEN</code>") && login.contains("Iniciar sesión"), "{login}");
        assert!(login.contains("lang=ru"), "{login}");
        let error = p.error(&ErrorPage { title: tr("uk", "No such tenant").into(), message: "—".into(), lang: "uk", here: String::new() }).unwrap();
        assert!(error.contains(r#"<html lang="uk">"#) && error.contains("Немає такої служби") && error.contains("Назад до огляду"), "{error}");
        assert!(!error.contains("lang=en"), "no switch without a page to come back to");
    }
}
