//! The admin console: the web UI that a tenant's staff answer tickets in,
//! served under `/t/{slug}/admin/`.
//!
//! Owns the console's pages (minijinja templates in `templates/`, in the
//! tenant's colours), the views they render, and the stylesheet and the
//! small script they load (`assets/`: keyboard shortcuts, the collision
//! warning). The platform fills the views from the tenant's desk and serves
//! them; nothing here touches storage or HTTP.

use serde::Serialize;

pub mod i18n;

/// Why a page could not be rendered (a bug in a template).
pub use minijinja::Error as RenderError;

/// What every signed-in page carries.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub desk: String,
    /// Where the console's paths start (`/t/acme/admin` or `/admin`).
    pub base: String,
    /// The form token of the session.
    pub csrf: String,
    pub me: String,
    pub role: String,
    /// The theme's colours.
    pub primary: String,
    pub accent: String,
    /// A message after an action: `(kind, text)`, kind `ok` or `error`.
    pub flash: Option<(String, String)>,
    /// Billing's word to staff (an overdue payment).
    pub banner: Option<String>,
    /// The page's language (`en`, `ru`; see [`i18n`]).
    pub lang: String,
    /// The current page's address, for the language switch to come back to.
    pub here: String,
    /// The staff member said they are away (teams' rules pass them over).
    pub away: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub count: Option<u64>,
    pub selected: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueRow {
    pub id: i64,
    pub title: String,
    pub status: String,
    pub status_label: String,
    pub priority: String,
    /// The priority in the page's language.
    pub priority_label: String,
    pub customer: String,
    pub assignee: Option<String>,
    pub updated: String,
    pub preview: String,
    /// The next service-level target: `(text, state)`, the state `breached`,
    /// `soon` (within a quarter of its time) or `ok`.
    pub due: Option<(String, String)>,
    /// The ticket's team.
    pub team: Option<String>,
    /// When it last changed (ms since the epoch): the live queue marks
    /// rows that changed since the page was shown.
    pub stamp: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Queue {
    pub frame: Frame,
    pub rows: Vec<QueueRow>,
    /// The status tabs with their counters.
    pub statuses: Vec<Choice>,
    pub assignees: Vec<Choice>,
    pub query: String,
    /// The query string of the current filters (for links that keep them).
    pub filters: String,
    pub total: u64,
    /// The next page's cursor, if any.
    pub next: Option<String>,
    /// Who selected tickets may be assigned to (moderators and up; empty:
    /// no bulk actions).
    pub bulk_assignees: Vec<Choice>,
    /// The desk's tags to filter by, with their counts (staff).
    pub tags: Vec<Choice>,
    /// The tag filtered by, if any.
    pub tag: String,
    /// The desk's teams to filter by (with "no team"); empty without teams.
    pub teams: Vec<Choice>,
    /// The team filtered by (`none`, an id or empty).
    pub team: String,
    /// The desk's shared saved views.
    pub views: Vec<SavedView>,
    /// The queue's orders (recently updated, time to breach, …).
    pub sorts: Vec<Choice>,
}

/// A saved view of the queue, shared by the desk's staff.
#[derive(Debug, Clone, Serialize)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The queue's query string.
    pub query: String,
    /// The viewer may delete it (its author, or an admin).
    pub can_delete: bool,
}

/// A macro on its page: its fields as the form shows them.
#[derive(Debug, Clone, Serialize)]
pub struct MacroRow {
    pub id: i64,
    pub name: String,
    pub reply: String,
    pub statuses: Vec<Choice>,
    pub priorities: Vec<Choice>,
    pub teams: Vec<Choice>,
    /// Its tags, separated by commas.
    pub tags: String,
    pub assign_to_me: bool,
    /// What it does, in words (for those who only look).
    pub summary: String,
}

/// The desk's macros (admins write them).
#[derive(Debug, Clone, Serialize)]
pub struct MacrosPage {
    pub frame: Frame,
    pub rows: Vec<MacroRow>,
    pub can_edit: bool,
    /// A new macro's choices (nothing selected: "leave as it is").
    pub statuses: Vec<Choice>,
    pub priorities: Vec<Choice>,
    /// Empty when the desk has no teams.
    pub teams: Vec<Choice>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub author: String,
    /// `customer`, `staff` or `note`.
    pub kind: String,
    pub text: String,
    pub at: String,
    pub files: Vec<FileView>,
    /// Arrived after the page the reply was written on.
    pub newer: bool,
    /// A location or venue the customer shared.
    pub place: Option<PlaceView>,
    /// A contact the customer shared.
    pub contact: Option<ContactView>,
    /// The Bot API's name of a kind the desk cannot show (`poll`, …).
    pub unsupported: Option<String>,
    /// Edited after it was written; `previous`: a customer's texts before
    /// their edits in Telegram, oldest first.
    pub edited: bool,
    pub previous: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlaceView {
    /// A venue's name and address (a plain location has none).
    pub title: Option<String>,
    pub address: Option<String>,
    /// "55.755800, 37.617300".
    pub coords: String,
    pub map_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    pub name: String,
    pub phone: String,
}

/// A file sent with a message, shown as its kind is (all through the
/// console's authenticated route).
#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    pub id: i64,
    pub name: String,
    /// `image` (a photo, inline), `sticker`, `audio` (a player), `video`
    /// (a player), `loop` (a GIF or round video: plays muted, looping),
    /// or `file` (a link).
    pub shown: &'static str,
    /// "12 KB".
    pub size: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketPage {
    pub frame: Frame,
    pub id: i64,
    pub title: String,
    pub status: String,
    pub status_label: String,
    pub priority: String,
    pub customer: String,
    pub customer_username: Option<String>,
    pub assignee: Option<String>,
    pub created: String,
    pub messages: Vec<MessageView>,
    /// The newest message shown: a reply posted from this page is refused
    /// if a newer one arrived meanwhile.
    pub seen: i64,
    pub statuses: Vec<Choice>,
    pub priorities: Vec<Choice>,
    /// Who the ticket may be assigned to (empty: the viewer may not assign).
    pub assignees: Vec<Choice>,
    /// The desk's canned responses: `(shortcut, text)`.
    pub canned: Vec<(String, String)>,
    /// The customer's other tickets this one may be merged into (moderators and up).
    pub merge_into: Vec<Choice>,
    /// What was typed, kept when a reply is refused.
    pub draft: String,
    pub note_draft: String,
    /// The categories the ticket may be moved to (empty: the viewer may not).
    pub categories: Vec<Choice>,
    /// The ticket's tags.
    pub tags: Vec<String>,
    /// The desk's tags, offered as the tag box's suggestions (staff).
    pub desk_tags: Vec<String>,
    /// The viewer may tag (staff).
    pub can_tag: bool,
    /// The teams the ticket may be given to (empty: the viewer may not, or
    /// the desk has none).
    pub teams: Vec<Choice>,
    /// The ticket's team.
    pub team: Option<String>,
    /// The macros the viewer may apply here.
    pub macros: Vec<Choice>,
    pub customer_id: i64,
    /// The viewer may open the customer's page (moderators and up).
    pub customer_link: bool,
    /// The active queue beside the conversation on wide screens (the
    /// three-pane layout; hidden on narrow ones).
    pub pane: Vec<QueueRow>,
}

/// A customer's page: who they are, their tickets, ratings, notes and
/// attributes, and a conversation to open.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    pub frame: Frame,
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub telegram_id: i64,
    pub language: Option<String>,
    pub blocked: bool,
    pub since: String,
    /// Why the bot may not write to them first, if it may not.
    pub unreachable: Option<String>,
    /// `(id, title, status, status label, updated)`.
    pub tickets: Vec<(i64, String, String, String, String)>,
    /// `(ticket, stars, comment)`.
    pub ratings: Vec<(i64, i16, String)>,
    /// `(author, when, text)`.
    pub notes: Vec<(String, String, String)>,
    /// `name=value` lines, as the form edits them.
    pub attributes: Vec<(String, String)>,
    pub attributes_text: String,
    /// What was typed, kept when refused.
    pub draft_title: String,
    pub draft_text: String,
}

/// The desk's customers, searched.
#[derive(Debug, Clone, Serialize)]
pub struct CustomersPage {
    pub frame: Frame,
    /// `(id, name, username, since, blocked)`.
    pub rows: Vec<(i64, String, Option<String>, String, bool)>,
    pub query: String,
    pub next: Option<String>,
}

/// A team as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TeamRow {
    pub id: i64,
    pub name: String,
    /// The rule's choices, the team's selected.
    pub rules: Vec<Choice>,
    pub rule_label: String,
    pub takes_new: bool,
    pub members: Vec<TeamMemberRow>,
    /// Staff who are not members yet, to add.
    pub candidates: Vec<Choice>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamMemberRow {
    pub id: i64,
    pub name: String,
    pub away: bool,
    pub open: u64,
}

/// The desk's teams: members, rules, the team taking new tickets.
#[derive(Debug, Clone, Serialize)]
pub struct TeamsPage {
    pub frame: Frame,
    pub teams: Vec<TeamRow>,
    /// Admins change teams; others look.
    pub can_edit: bool,
    /// The rules for a new team.
    pub rules: Vec<Choice>,
}

/// The desk's API keys (admins).
#[derive(Debug, Clone, Serialize)]
pub struct KeysPage {
    pub frame: Frame,
    pub keys: Vec<KeyRow>,
    /// Every scope, with those of the form ticked.
    pub scopes: Vec<Choice>,
    /// A key just made: shown once.
    pub token: Option<String>,
    /// The form's name when it comes back with an error.
    pub name: String,
    pub expires_days: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_by: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    /// "revoked", "expired" or empty (in use).
    pub state: String,
}

/// A key figure.
#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub key: String,
    pub label: String,
    pub value: String,
    pub note: String,
}

/// A table as the page shows it, with its CSV when it has one.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub id: String,
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub csv: Option<String>,
    /// What an empty table says.
    pub empty: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnalyticsPage {
    pub frame: Frame,
    /// The window's choices (7, 30, 90 days).
    pub windows: Vec<Choice>,
    pub days: i64,
    pub kpis: Vec<Kpi>,
    /// Server-drawn SVG charts and their legends.
    pub flow_chart: String,
    pub flow_legend: String,
    pub backlog_chart: String,
    pub tables: Vec<Table>,
    /// Every ticket as CSV.
    pub export: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub id: i64,
    pub browser: String,
    pub started: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionsPage {
    pub frame: Frame,
    pub sessions: Vec<SessionRow>,
}

/// The desk's billing page: its plan and trial, usage against the
/// plan's limits, the subscription, invoices, and (for the owner) plan
/// choices, a previewed change awaiting confirmation, cancelling and the
/// Stripe portal.
#[derive(Debug, Clone, Serialize)]
pub struct BillingPage {
    pub frame: Frame,
    pub plan: String,
    /// No Stripe keys: plans are the operator's.
    pub offline: bool,
    /// Days left of the trial, and its end.
    pub trial: Option<(i64, String)>,
    /// Stripe's status of the subscription, when it has one that bills.
    pub status: Option<String>,
    pub cancel_at_period_end: bool,
    pub period_end: Option<String>,
    pub next_invoice: Option<String>,
    pub unpaid_since: Option<String>,
    pub usage: Vec<UsageBar>,
    pub invoices: Vec<BillingInvoice>,
    pub plans: Vec<BillingPlan>,
    /// The owner may change things (admins only look).
    pub owner: bool,
    /// A previewed change: plan id, its name, the amount charged now, and
    /// the preview's proration date to confirm with.
    pub preview: Option<BillingPreview>,
    pub stripe_error: Option<String>,
}

/// The desk's own domain: what is routed, what was asked for and the DNS
/// record that proves it, and a form to ask for one.
#[derive(Debug, Clone, Serialize)]
pub struct DomainPage {
    pub frame: Frame,
    /// The domain the desk answers on now.
    pub routed: Option<String>,
    pub request: Option<DomainRequest>,
    /// The platform's host, which the domain's CNAME points at.
    pub platform_host: String,
    /// What was typed into the form, when it comes back refused.
    pub typed: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DomainRequest {
    pub domain: String,
    /// `pending`, `verified`, `failing`, `removed` or `revoked`.
    pub status: String,
    pub record_name: String,
    pub record_value: String,
    pub checked_at: Option<String>,
    pub verified_at: Option<String>,
    pub last_error: Option<String>,
    pub routed: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageBar {
    pub label: String,
    pub used: String,
    /// `None`: unlimited.
    pub allowed: Option<String>,
    /// 0 to 100.
    pub percent: u64,
    pub over: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillingInvoice {
    pub number: String,
    pub status: String,
    pub amount: String,
    pub at: String,
    pub url: Option<String>,
    pub failed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillingPlan {
    pub id: String,
    pub name: String,
    pub price: String,
    pub for_sale: bool,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BillingPreview {
    pub plan: String,
    pub name: String,
    pub amount: String,
    pub credit: bool,
    pub proration_date: i64,
}

/// The page a sign-in link opens: the link is spent only by its button
/// (a POST), never by the GET that link previews and scanners make.
#[derive(Debug, Clone, Serialize)]
pub struct LoginPage {
    pub desk: String,
    pub token: String,
    /// Where the form posts.
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorPage {
    /// The page's language (it has no frame: nobody may be signed in).
    pub lang: String,
    pub desk: String,
    /// The bot staff send `/admin` to (the way in).
    pub bot: String,
    pub title: String,
    pub message: String,
    pub status: u16,
}

/// The console's pages, parsed once.
/// A person of the desk, with what the viewer may do to them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub role: String,
    pub blocked: bool,
    /// Roles the viewer may give them (empty: the viewer may not change them).
    pub roles: Vec<Choice>,
    pub since: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeoplePage {
    pub frame: Frame,
    pub rows: Vec<PersonRow>,
    pub query: String,
    /// `staff`, `customers`, `blocked` or empty (everyone).
    pub filters: Vec<Choice>,
    pub filter: String,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryRow {
    pub id: i64,
    pub name: String,
    pub icon: String,
    pub color: String,
    pub position: i32,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoriesPage {
    pub frame: Frame,
    pub rows: Vec<CategoryRow>,
    pub can_edit: bool,
    /// The desk's tags and how many tickets carry each (renamed here by admins).
    pub tags: Vec<(String, u64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CannedRow {
    pub id: i64,
    pub shortcut: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CannedPage {
    pub frame: Frame,
    pub rows: Vec<CannedRow>,
    pub can_edit: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailureRow {
    pub id: i64,
    pub at: String,
    pub hook: String,
    pub kind: String,
    pub message: String,
    pub input: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginRow {
    pub name: String,
    pub version: String,
    pub enabled: bool,
    pub position: i32,
    pub disabled_reason: Option<String>,
    pub invocations: i64,
    pub config: String,
    pub failures: Vec<FailureRow>,
    /// Contract 1.2.0 and later: the plugin has `on-schedule`.
    pub schedulable: bool,
    /// Its cron expression, empty when it has none.
    pub schedule: String,
    pub waiting_minutes: i32,
    pub next_due: Option<String>,
    pub last_run: Option<String>,
    pub runs: i64,
}

/// A failure run again on the plugins page (a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct ReplayView {
    pub plugin: String,
    pub failure_id: i64,
    pub failed_at: String,
    pub hook: String,
    pub version: String,
    pub ok: bool,
    /// The plugin's answer as JSON, or why it failed again.
    pub output: String,
    pub logs: Vec<String>,
    pub elapsed_ms: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginsPage {
    pub frame: Frame,
    pub rows: Vec<PluginRow>,
    pub replay: Option<ReplayView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BroadcastRow {
    pub id: i64,
    pub text: String,
    pub status: String,
    pub total: i32,
    pub sent: i64,
    pub failed: i64,
    pub unconfirmed: i64,
    pub started: String,
    pub finished: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaffGroupView {
    pub title: String,
    pub chat_id: i64,
    pub since: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsPage {
    pub frame: Frame,
    pub bot: String,
    pub staff_group: Option<StaffGroupView>,
    pub broadcasts: Vec<BroadcastRow>,
    /// Service-level targets: priority, first answer, resolution.
    pub sla: Vec<(String, String, String)>,
    pub business_hours: String,
    /// The form that sets them (admins).
    pub sla_form: SlaForm,
    /// Days after resolution in which a customer's message reopens a ticket.
    pub reopen_days: u32,
}

/// The service-level form: minutes per priority (empty: no target) and the
/// working hours they are counted in.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SlaForm {
    /// (priority, first answer minutes, resolution minutes), "" for none.
    pub rows: Vec<(String, String, String)>,
    /// Counted in working hours rather than around the clock.
    pub hours_on: bool,
    /// (value, label, checked), Monday first.
    pub days: Vec<(String, String, bool)>,
    pub start: String,
    pub end: String,
    /// An IANA time zone (`Europe/Berlin`) or a fixed offset (`+03:00`).
    pub zone: String,
    /// Days off, `YYYY-MM-DD`, one a line.
    pub holidays: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub ticket: Option<i64>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditPage {
    pub frame: Frame,
    pub rows: Vec<AuditRow>,
    /// The action families and actions to filter by.
    pub actions: Vec<Choice>,
    pub ticket: String,
    /// The next (older) page's query string, if any.
    pub next: Option<String>,
    /// The current filter's query string, for its CSV export.
    pub filter: String,
}

/// One of the bot's texts the console edits, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct TextField {
    pub lang: String,
    pub name: String,
    pub label: String,
    /// The desk's own version; empty: the built-in text.
    pub value: String,
    /// What is sent when it is empty (shown as the placeholder).
    pub built_in: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LookPage {
    pub frame: Frame,
    pub themes: Vec<Choice>,
    pub primary: String,
    pub accent: String,
    pub radius: u8,
    pub font: String,
    pub texts: Vec<TextField>,
    /// The languages the desk speaks; the selected one is its default.
    pub languages: Vec<Choice>,
    pub bot: String,
    /// Only the owner replaces the bot's token.
    pub owner: bool,
}

pub struct Pages(tikethet_themes::pages::PageSet);

impl Default for Pages {
    fn default() -> Self {
        Pages::new()
    }
}

macro_rules! templates {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),+]
    };
}

impl Pages {
    pub fn new() -> Pages {
        Pages(tikethet_themes::pages::PageSet::new(
            templates!("layout.html", "queue.html", "ticket.html", "sessions.html", "analytics.html", "error.html", "login.html", "people.html", "categories.html", "canned.html", "plugins.html", "settings.html", "audit.html", "look.html", "billing.html", "domain.html", "teams.html", "macros.html", "customer.html", "customers.html", "keys.html"),
            ASSET_VERSION,
        )
        .with_env(|env| env.add_filter("t", translate)))
    }

    fn render(&self, name: &str, view: impl Serialize) -> Result<String, RenderError> {
        self.0.render(name, view)
    }

    pub fn queue(&self, v: &Queue) -> Result<String, RenderError> {
        self.render("queue.html", v)
    }
    pub fn ticket(&self, v: &TicketPage) -> Result<String, RenderError> {
        self.render("ticket.html", v)
    }
    pub fn analytics(&self, v: &AnalyticsPage) -> Result<String, RenderError> {
        self.render("analytics.html", v)
    }
    pub fn sessions(&self, v: &SessionsPage) -> Result<String, RenderError> {
        self.render("sessions.html", v)
    }
    pub fn people(&self, v: &PeoplePage) -> Result<String, RenderError> {
        self.render("people.html", v)
    }
    pub fn customer(&self, v: &CustomerPage) -> Result<String, RenderError> {
        self.render("customer.html", v)
    }
    pub fn customers(&self, v: &CustomersPage) -> Result<String, RenderError> {
        self.render("customers.html", v)
    }
    pub fn macros(&self, v: &MacrosPage) -> Result<String, RenderError> {
        self.render("macros.html", v)
    }
    pub fn keys(&self, v: &KeysPage) -> Result<String, RenderError> {
        self.render("keys.html", v)
    }
    pub fn teams(&self, v: &TeamsPage) -> Result<String, RenderError> {
        self.render("teams.html", v)
    }
    pub fn categories(&self, v: &CategoriesPage) -> Result<String, RenderError> {
        self.render("categories.html", v)
    }
    pub fn canned(&self, v: &CannedPage) -> Result<String, RenderError> {
        self.render("canned.html", v)
    }
    pub fn plugins(&self, v: &PluginsPage) -> Result<String, RenderError> {
        self.render("plugins.html", v)
    }
    pub fn settings(&self, v: &SettingsPage) -> Result<String, RenderError> {
        self.render("settings.html", v)
    }
    pub fn audit(&self, v: &AuditPage) -> Result<String, RenderError> {
        self.render("audit.html", v)
    }
    pub fn look(&self, v: &LookPage) -> Result<String, RenderError> {
        self.render("look.html", v)
    }
    pub fn billing(&self, v: &BillingPage) -> Result<String, RenderError> {
        self.render("billing.html", v)
    }
    pub fn domain(&self, v: &DomainPage) -> Result<String, RenderError> {
        self.render("domain.html", v)
    }
    pub fn login(&self, v: &LoginPage) -> Result<String, RenderError> {
        self.render("login.html", v)
    }
    pub fn error(&self, v: &ErrorPage) -> Result<String, RenderError> {
        self.render("error.html", v)
    }
}

/// The console's stylesheet and script, by file name.
/// The `t` filter: a text in the page's language (`v.frame.lang`).
/// With values (`t(count=3)`), `text` is the id of a text that uses them.
fn translate(state: &minijinja::State, text: String, values: minijinja::value::Kwargs) -> Result<String, minijinja::Error> {
    let v = state.lookup("v");
    let lang = v
        .as_ref()
        .and_then(|v| v.get_attr("frame").ok())
        .filter(|f| !f.is_undefined() && !f.is_none())
        .and_then(|f| f.get_attr("lang").ok())
        .or_else(|| v.as_ref().and_then(|v| v.get_attr("lang").ok()))
        .and_then(|l| l.as_str().map(str::to_owned));
    let lang = lang.as_deref().unwrap_or("en");
    let names: Vec<String> = values.args().map(str::to_owned).collect();
    if names.is_empty() {
        return Ok(i18n::tr(lang, &text).to_owned());
    }
    let mut given = serde_json::Map::new();
    for name in names {
        let v: minijinja::Value = values.get(&name)?;
        given.insert(name, serde_json::to_value(&v).map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))?);
    }
    Ok(i18n::trv(lang, &text, &serde_json::Value::Object(given)))
}

pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "console.css" => Some(("text/css; charset=utf-8", include_str!("../assets/console.css"))),
        "console.js" => Some(("text/javascript; charset=utf-8", include_str!("../assets/console.js"))),
        _ => None,
    }
}

/// Changes with the assets, so that they can be cached for good.
pub const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            desk: "Acme".into(),
            base: "/t/acme/admin".into(),
            csrf: "tok".into(),
            me: "Ann".into(),
            role: "admin".into(),
            primary: "#2481cc".into(),
            accent: "#31b545".into(),
            flash: None,
            banner: None,
            lang: "en".into(),
            here: "/t/acme/admin/".into(),
            away: false,
        }
    }

    #[test]
    fn pages_render_escape_and_carry_the_form_token() {
        let p = Pages::new();
        let m = |id, kind: &str, text: &str| MessageView { id, author: "Bob".into(), kind: kind.into(), text: text.into(), at: "now".into(), files: vec![], newer: false, place: None, contact: None, unsupported: None, edited: false, previous: vec![] };
        let t = TicketPage {
            frame: frame(),
            id: 7,
            title: "<img src=x onerror=alert(1)>".into(),
            status: "open".into(),
            status_label: "Open".into(),
            priority: "normal".into(),
            customer: "Bob".into(),
            customer_username: None,
            assignee: None,
            created: "now".into(),
            messages: vec![m(1, "customer", "Hello"), m(2, "note", "VIP customer")],
            seen: 2,
            statuses: vec![],
            priorities: vec![],
            assignees: vec![],
            canned: vec![("thanks".into(), "Thank you!".into())],
            merge_into: vec![],
            draft: String::new(),
            note_draft: String::new(),
            categories: vec![],
            tags: vec!["<b>vip</b>".into()],
            desk_tags: vec![],
            can_tag: true,
            teams: vec![],
            team: None,
            macros: vec![],
            customer_id: 3,
            customer_link: true,
            pane: vec![],
        };
        let html = p.ticket(&t).unwrap();
        assert!(!html.contains("<img src=x") && html.contains("&lt;img src=x"));
        assert!(!html.contains("<b>vip") && html.contains("&lt;b&gt;vip"), "tags are escaped too");
        assert!(html.contains(r#"name="csrf" value="tok""#) && html.contains(r#"name="seen" value="2""#));
        assert!(html.contains(r#"data-kind="note""#), "notes look apart");
        let q = Queue { frame: frame(), rows: vec![], statuses: vec![], assignees: vec![], query: String::new(), filters: String::new(), total: 0, next: None, bulk_assignees: vec![], tags: vec![], tag: String::new(), teams: vec![], team: String::new(), views: vec![], sorts: vec![] };
        assert!(p.queue(&q).unwrap().contains("No tickets"));
        assert!(asset("console.js").is_some() && asset("../lib.rs").is_none());
    }
}
