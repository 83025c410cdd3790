//! The console's pages for running the desk, beside the queue: people and
//! their roles, categories, canned answers, plugins, and the settings page
//! (staff group, broadcasts, service levels). Every change goes through the
//! desk's own rules (`TenantContext`), the same as the API's: who may grant
//! which role, who may edit what.

use std::collections::HashMap;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use tikethet_admin_console::{
    BroadcastRow, CannedPage, CannedRow, CategoriesPage, CategoryRow, Choice, PeoplePage, PersonRow, SettingsPage, SlaForm, StaffGroupView,
};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::canned::Shortcut;
use tikethet_runtime::desk::categories::{CategoryFields, CategoryIcon, CategoryName, Color};
use tikethet_runtime::desk::people::{PeopleQuery, may_grant};
use tikethet_runtime::desk::sla::SlaPolicy;
use tikethet_runtime::domain::{Invalid, MessageText, Priority, Role};

use serde::Deserialize;

use super::{Done, NoFields, Staff, base, tr, desk_error, error_page, frame, name_of, posted, redirect, rendered, when};
use crate::http::web;

/// A form with a field per item (the SLA's targets, the bot's texts in
/// every language): its fields by name.
type Fields = HashMap<String, String>;
use crate::AppState;

/// People per page.
const PEOPLE_PAGE: u64 = 50;

fn flash_of(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    let text = match web::query::<Done>(req).done.as_deref() {
        Some("person") => "Saved.",
        Some("category") => "Category saved.",
        Some("canned") => "Answer saved.",
        Some("deleted") => "Deleted.",
        Some("unlinked") => "The staff group is unlinked.",
        Some("sla") => "Service levels saved.",
        Some("conversations") => "Conversation settings saved.",
        Some("tag") => "Tag renamed.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

/// A refusal the staff member can fix shows on the page; others as an error page.
pub(super) fn fixable(e: &RuntimeError) -> bool {
    matches!(e, RuntimeError::Invalid(_) | RuntimeError::Conflict(_) | RuntimeError::Forbidden(_) | RuntimeError::PlanLimit(_) | RuntimeError::NotFound(_))
}

macro_rules! posted_form {
    ($state:expr, $req:expr, $slug:expr, $staff:expr, $body:expr) => {
        match posted($state, $req, $slug, $staff, $body).await {
            Ok(p) => p,
            Err(r) => return r,
        }
    };
}

// ---- People ----

async fn people_page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode) -> Response {
    #[derive(Default, Deserialize)]
    struct Shown {
        show: Option<String>,
        q: Option<String>,
        after: Option<String>,
    }
    let q: Shown = web::query(req);
    let show = q.show.unwrap_or_else(|| "staff".into());
    let search = q.q.map(|x| x.trim().to_owned()).unwrap_or_default();
    let mut pq = PeopleQuery { limit: PEOPLE_PAGE, q: (!search.is_empty()).then(|| search.clone()), after: q.after.and_then(|a| a.parse().ok()), ..Default::default() };
    match show.as_str() {
        "staff" => pq.staff = true,
        "customers" => pq.role = Some(Role::User),
        "blocked" => pq.blocked = Some(true),
        _ => {}
    }
    let (found, next) = match s.ctx.people(&pq).await {
        Ok(p) => p,
        Err(e) => return desk_error(state, slug, &e),
    };
    let me = s.ctx.viewer().role;
    let rows = found
        .iter()
        .map(|u| {
            let from = u.role;
            let grantable: Vec<Role> = Role::ALL.iter().copied().filter(|r| *r == from || may_grant(me, from, *r)).collect();
            let may_change = u.id != s.ctx.user().id && me > from && me >= Role::Moderator;
            PersonRow {
                id: u.id,
                name: name_of(Some(u)),
                username: u.username.clone(),
                role: u.role.to_string(),
                blocked: u.blocked,
                roles: if may_change { grantable.iter().map(|r| Choice { value: r.as_str().into(), label: tr(s, r.as_str()), count: None, selected: *r == from }).collect() } else { Vec::new() },
                since: when(u.created_at),
            }
        })
        .collect();
    let filters = [("staff", "Staff"), ("customers", "Customers"), ("blocked", "Blocked"), ("all", "Everyone")]
        .into_iter()
        .map(|(v, l)| Choice { value: v.into(), label: tr(s, l), count: None, selected: show == v })
        .collect();
    let v = PeoplePage { frame: frame(state, req, slug, s, flash).await, rows, query: search, filters, filter: show, next: next.map(|n| n.to_string()) };
    rendered(status, state.console_pages.people(&v))
}

/// `GET /t/{slug}/admin/people`
#[handler]
pub async fn people(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    people_page(state, req, &slug, &s, flash_of(req, &s), StatusCode::OK).await
}

/// A person's form, and the list's filter to go back to.
#[derive(Deserialize)]
struct PersonForm {
    #[serde(rename = "do")]
    action: Option<String>,
    role: Option<String>,
    show: Option<String>,
    q: Option<String>,
}

/// `POST /t/{slug}/admin/people/{id}`: `do=role` with `role`, `do=block`, `do=unblock`.
#[handler]
pub async fn person(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: PersonForm = posted_form!(state, req, &slug, &s, body);
    let result = match form.action.as_deref() {
        Some("role") => match Role::parse(form.role.as_deref().unwrap_or_default()) {
            Ok(r) => s.ctx.change_person(id, Some(r), None).await,
            Err(e) => Err(e.into()),
        },
        Some("block") => s.ctx.change_person(id, None, Some(true)).await,
        Some("unblock") => s.ctx.change_person(id, None, Some(false)).await,
        _ => return error_page(state, &slug, StatusCode::BAD_REQUEST, "Not accepted", "Choose what to change."),
    };
    match result {
        Ok(_) => {
            // Back to the list as it was filtered.
            let keep: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("show", form.show.as_deref().unwrap_or("staff"))
                .append_pair("q", form.q.as_deref().unwrap_or_default())
                .append_pair("done", "person")
                .finish();
            redirect(&format!("{}/people?{keep}", base(req, &slug)))
        }
        Err(e) if fixable(&e) => people_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

// ---- Categories ----

async fn categories_page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode) -> Response {
    let list = match s.ctx.categories().await {
        Ok(l) => l,
        Err(e) => return desk_error(state, slug, &e),
    };
    let rows = list
        .into_iter()
        .map(|c| CategoryRow { id: c.id, name: c.name, icon: c.icon.unwrap_or_default(), color: c.color.unwrap_or_default(), position: c.sort_order, active: c.active })
        .collect();
    let tags = match s.ctx.desk_tags().await {
        Ok(t) => t.into_iter().map(|g| (g.tag, g.tickets)).collect(),
        Err(e) => return desk_error(state, slug, &e),
    };
    let v = CategoriesPage { frame: frame(state, req, slug, s, flash).await, rows, can_edit: s.ctx.viewer().role >= Role::Admin, tags };
    rendered(status, state.console_pages.categories(&v))
}

/// `GET /t/{slug}/admin/categories`
#[handler]
pub async fn categories(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    categories_page(state, req, &slug, &s, flash_of(req, &s), StatusCode::OK).await
}

/// A category's form (`do=delete` on an edit removes it).
#[derive(Deserialize)]
struct CategoryForm {
    #[serde(rename = "do")]
    action: Option<String>,
    name: Option<String>,
    icon: Option<String>,
    color: Option<String>,
    position: Option<String>,
    active: Option<String>,
}

fn category_fields(form: &CategoryForm, editing: bool) -> Result<CategoryFields, RuntimeError> {
    let icon = form.icon.as_deref().map(str::trim).filter(|i| !i.is_empty());
    Ok(CategoryFields {
        name: Some(CategoryName::parse(form.name.as_deref().unwrap_or_default())?),
        icon: Some(icon.map(CategoryIcon::parse).transpose()?),
        color: form.color.as_deref().filter(|c| !c.is_empty()).map(|c| Color::parse(c).map(Some)).transpose()?,
        position: form.position.as_deref().filter(|p| !p.is_empty()).map(|p| p.parse::<i32>().map_err(|_| tikethet_runtime::domain::Invalid::new("position", "must be a whole number"))).transpose()?,
        // An unticked box sends nothing: on an edit that means "not offered".
        active: editing.then(|| form.active.is_some()),
    })
}

/// `POST /t/{slug}/admin/categories`: a new category.
#[handler]
pub async fn add_category(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: CategoryForm = posted_form!(state, req, &slug, &s, body);
    let result = match category_fields(&form, false) {
        Ok(f) => s.ctx.create_category(f).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => redirect(&format!("{}/categories?done=category", base(req, &slug))),
        Err(e) if fixable(&e) => categories_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// A tag's rename on the categories page.
#[derive(Deserialize)]
struct TagRename {
    from: String,
    to: String,
}

/// `POST /t/{slug}/admin/tags` (`from`, `to`): renames a tag on every
/// ticket, merging it into `to` when that exists (admins).
#[handler]
pub async fn rename_tag(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: TagRename = posted_form!(state, req, &slug, &s, body);
    let result = match tikethet_runtime::domain::TagName::parse(&form.to) {
        Ok(to) => s.ctx.rename_tag(&form.from, &to).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => redirect(&format!("{}/categories?done=tag", base(req, &slug))),
        Err(e) if fixable(&e) => categories_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/categories/{id}`: `do=save` or `do=delete`.
#[handler]
pub async fn category(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: CategoryForm = posted_form!(state, req, &slug, &s, body);
    let (result, done) = match form.action.as_deref() {
        Some("delete") => (s.ctx.delete_category(id).await, "deleted"),
        _ => (
            match category_fields(&form, true) {
                Ok(f) => s.ctx.update_category(id, f).await.map(|_| ()),
                Err(e) => Err(e),
            },
            "category",
        ),
    };
    match result {
        Ok(()) => redirect(&format!("{}/categories?done={done}", base(req, &slug))),
        Err(e) if fixable(&e) => categories_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

// ---- Canned answers ----

async fn canned_page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode) -> Response {
    let list = match s.ctx.canned().await {
        Ok(l) => l,
        Err(e) => return desk_error(state, slug, &e),
    };
    let rows = list.into_iter().map(|c| CannedRow { id: c.id, shortcut: c.shortcut, text: c.text }).collect();
    let v = CannedPage { frame: frame(state, req, slug, s, flash).await, rows, can_edit: s.ctx.viewer().role >= Role::Admin };
    rendered(status, state.console_pages.canned(&v))
}

/// `GET /t/{slug}/admin/canned`
#[handler]
pub async fn canned(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    canned_page(state, req, &slug, &s, flash_of(req, &s), StatusCode::OK).await
}

/// A canned answer's form (`do=delete` on an edit removes it).
#[derive(Deserialize)]
struct CannedForm {
    #[serde(rename = "do")]
    action: Option<String>,
    shortcut: Option<String>,
    text: Option<String>,
}

fn canned_fields(form: &CannedForm) -> Result<(Shortcut, MessageText), RuntimeError> {
    let shortcut = Shortcut::parse(form.shortcut.as_deref().map(|s| s.trim().trim_start_matches('/')).unwrap_or_default())?;
    let text = MessageText::parse(form.text.as_deref().unwrap_or_default())?;
    Ok((shortcut, text))
}

/// `POST /t/{slug}/admin/canned`: a new answer.
#[handler]
pub async fn add_canned(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: CannedForm = posted_form!(state, req, &slug, &s, body);
    let result = match canned_fields(&form) {
        Ok((sc, t)) => s.ctx.create_canned(&sc, &t).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => redirect(&format!("{}/canned?done=canned", base(req, &slug))),
        Err(e) if fixable(&e) => canned_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/canned/{id}`: `do=save` or `do=delete`.
#[handler]
pub async fn canned_one(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: CannedForm = posted_form!(state, req, &slug, &s, body);
    let (result, done) = match form.action.as_deref() {
        Some("delete") => (s.ctx.delete_canned(id).await, "deleted"),
        _ => (
            match canned_fields(&form) {
                Ok((sc, t)) => s.ctx.update_canned(id, Some(&sc), Some(&t)).await.map(|_| ()),
                Err(e) => Err(e),
            },
            "canned",
        ),
    };
    match result {
        Ok(()) => redirect(&format!("{}/canned?done={done}", base(req, &slug))),
        Err(e) if fixable(&e) => canned_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

// ---- Settings ----

fn minutes(m: Option<u32>) -> String {
    match m {
        None => "—".into(),
        Some(m) if m % 60 == 0 => format!("{} h", m / 60),
        Some(m) => format!("{} h {:02} min", m / 60, m % 60),
    }
}

/// `GET /t/{slug}/admin/settings`
#[handler]
pub async fn settings(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    settings_page(state, req, &slug, &s, flash_of(req, &s), StatusCode::OK, None).await
}

/// The service-level form as the desk has it, or as it was posted (to show
/// again with what was wrong).
fn sla_form(policy: Option<&SlaPolicy>, posted: Option<&HashMap<String, String>>, days_posted: &[String]) -> SlaForm {
    let labels = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let values = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    if let Some(f) = posted {
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        return SlaForm {
            rows: Priority::ALL.iter().map(|p| (p.as_str().to_owned(), get(&format!("first_{}", p.as_str())), get(&format!("resolution_{}", p.as_str())))).collect(),
            hours_on: f.contains_key("hours"),
            days: values.iter().zip(labels).map(|(v, l)| ((*v).to_owned(), l.to_owned(), days_posted.iter().any(|d| d == v))).collect(),
            start: get("start"),
            end: get("end"),
            zone: get("zone"),
            holidays: get("holidays"),
        };
    }
    let n = |m: Option<u32>| m.map(|m| m.to_string()).unwrap_or_default();
    let hours = policy.and_then(|p| p.hours.as_ref());
    SlaForm {
        rows: Priority::ALL
            .iter()
            .map(|pr| {
                let t = policy.map(|p| p.targets(*pr)).unwrap_or_default();
                (pr.as_str().to_owned(), n(t.first_response), n(t.resolution))
            })
            .collect(),
        hours_on: hours.is_some(),
        days: values.iter().zip(labels).enumerate().map(|(i, (v, l))| ((*v).to_owned(), l.to_owned(), hours.map_or(i < 5, |h| h.days[i]))).collect(),
        start: hours.map_or("09:00".into(), |h| hm(h.start)),
        end: hours.map_or("18:00".into(), |h| hm(h.end)),
        zone: hours.map_or("UTC".into(), |h| match h.zone {
            tikethet_runtime::desk::sla::Zone::Fixed(m) => tikethet_runtime::desk::sla::offset_text(m),
            tikethet_runtime::desk::sla::Zone::Named(tz) => tz.name().to_owned(),
        }),
        holidays: hours.map(|h| h.holidays.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect::<Vec<_>>().join("\n")).unwrap_or_default(),
    }
}

/// `POST /t/{slug}/admin/settings/sla`: targets in minutes per priority
/// (`first_{priority}`, `resolution_{priority}`, empty for none) and, with
/// `hours`, the working time they count in (`day` repeated, `start`, `end`,
/// `zone`: an IANA time zone or an offset such as `+03:00`; `holidays`:
/// dates separated by lines, commas or spaces). Admins; checked as the API
/// checks them.
#[handler]
pub async fn save_sla(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    // The fields in order: `day` repeats.
    let pairs: Vec<(String, String)> = posted_form!(state, req, &slug, &s, body);
    let days: Vec<String> = pairs.iter().filter(|(k, _)| k == "day").map(|(_, v)| v.clone()).collect();
    let form: Fields = pairs.into_iter().filter(|(k, _)| k != "day").collect();
    let outcome = async {
        s.ctx.require(Role::Admin)?;
        let minutes_of = |k: String| -> Result<serde_json::Value, RuntimeError> {
            match form.get(&k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(serde_json::Value::Null),
                Some(v) => v.parse::<u64>().map(serde_json::Value::from).map_err(|_| Invalid::new("targets", format!("{v:?} is not a whole number of minutes")).into()),
            }
        };
        let mut targets = serde_json::Map::new();
        for p in Priority::ALL {
            let (first, resolution) = (minutes_of(format!("first_{}", p.as_str()))?, minutes_of(format!("resolution_{}", p.as_str()))?);
            if !first.is_null() || !resolution.is_null() {
                targets.insert(p.as_str().to_owned(), serde_json::json!({ "first_response_minutes": first, "resolution_minutes": resolution }));
            }
        }
        let hours = if form.contains_key("hours") {
            let mut hours = serde_json::json!({
                "days": days,
                "start": form.get("start").map(|v| v.trim()).unwrap_or_default(),
                "end": form.get("end").map(|v| v.trim()).unwrap_or_default(),
                "holidays": form.get("holidays").map(|v| v.split(|c: char| c == ',' || c.is_whitespace()).filter(|d| !d.is_empty()).collect::<Vec<_>>()).unwrap_or_default(),
            });
            // An offset (`+03:00`) or a zone's name (`Europe/Berlin`).
            let zone = form.get("zone").map(|v| v.trim()).filter(|v| !v.is_empty()).unwrap_or("UTC");
            if zone.starts_with(['+', '-']) {
                hours["utc_offset"] = serde_json::json!(zone);
            } else {
                hours["time_zone"] = serde_json::json!(zone);
            }
            hours
        } else {
            serde_json::Value::Null
        };
        let policy = SlaPolicy::from_json(&serde_json::json!({ "targets": targets, "business_hours": hours }))?;
        let after = state.control.set_sla(&slug, &policy).await.map_err(|e| RuntimeError::Conflict(e.to_string()))?;
        crate::http::recorded::by_staff(&s.ctx, "sla.changed", crate::http::recorded::sla(s.ctx.tenant().sla.as_ref(), after.sla.as_ref())).await;
        Ok::<(), RuntimeError>(())
    }
    .await;
    match outcome {
        Ok(()) => redirect(&format!("{}/settings?done=sla", base(req, &slug))),
        Err(e) if fixable(&e) => settings_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e), Some((&form, days.as_slice()))).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/settings/conversations`: `reopen_days` (0 to
/// 90). Admins; checked as the API checks it.
#[handler]
pub async fn save_conversations(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: Fields = posted_form!(state, req, &slug, &s, body);
    let outcome = async {
        s.ctx.require(Role::Admin)?;
        let raw = form.get("reopen_days").map(|v| v.trim()).unwrap_or_default();
        let max = tikethet_runtime::storage::tenant::MAX_REOPEN_DAYS;
        let days = raw.parse::<u32>().ok().filter(|d| *d <= max).ok_or_else(|| Invalid::new("reopen_days", format!("{raw:?} is not a whole number of days from 0 to {max}")))?;
        let before = s.ctx.tenant().reopen_days;
        let after = state.control.set_reopen_days(&slug, days).await.map_err(|e| RuntimeError::Conflict(e.to_string()))?;
        if before != after.reopen_days {
            crate::http::recorded::by_staff(&s.ctx, "conversations.changed", format!("reopen window {before} → {} days", after.reopen_days)).await;
        }
        Ok::<(), RuntimeError>(())
    }
    .await;
    match outcome {
        Ok(()) => redirect(&format!("{}/settings?done=conversations", base(req, &slug))),
        Err(e) if fixable(&e) => settings_page(state, req, &slug, &s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e), None).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

async fn settings_page(
    state: &AppState,
    req: &Request,
    slug: &str,
    s: &Staff,
    flash: Option<(&str, String)>,
    status: StatusCode,
    posted: Option<(&HashMap<String, String>, &[String])>,
) -> Response {
    let (group, casts) = match (s.ctx.staff_group().await, s.ctx.broadcasts(10).await) {
        (Ok(g), Ok(b)) => (g, b),
        (Err(e), _) | (_, Err(e)) => return desk_error(state, slug, &e),
    };
    // The desk as the registry has it now (a form just saved changed it).
    let fresh = state.runtime.tenant_by_slug(slug).map(|t| t.info.clone());
    let info = fresh.as_ref().unwrap_or(&s.ctx.tenant());
    let sla = info
        .sla
        .as_ref()
        .map(|p| Priority::ALL.iter().map(|pr| (pr.as_str().to_owned(), minutes(p.targets(*pr).first_response), minutes(p.targets(*pr).resolution))).collect())
        .unwrap_or_default();
    let business_hours = match info.sla.as_ref().and_then(|p| p.hours.as_ref()) {
        None => "Counted around the clock.".into(),
        Some(h) => {
            let days: Vec<&str> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().zip(h.days).filter(|(_, on)| *on).map(|(d, _)| *d).collect();
            let shown: Vec<String> = h.holidays.iter().take(3).map(|d| d.format("%Y-%m-%d").to_string()).collect();
            let off = match h.holidays.len() {
                0 => String::new(),
                n if n <= 3 => format!("; holidays: {}", shown.join(", ")),
                n => format!("; holidays: {} and {} more", shown.join(", "), n - 3),
            };
            format!("Counted in working time: {} {:02}:{:02}–{:02}:{:02}, {}{off}.", days.join(", "), h.start / 60, h.start % 60, h.end / 60, h.end % 60, h.zone.label())
        }
    };
    let broadcasts = casts
        .into_iter()
        .map(|(b, p)| BroadcastRow {
            id: b.id,
            text: b.text.chars().take(120).collect(),
            status: b.status,
            total: b.total,
            sent: p.sent,
            failed: p.failed,
            unconfirmed: p.unconfirmed,
            started: b.started_at.map(when).unwrap_or_default(),
            finished: b.finished_at.map(when).unwrap_or_default(),
        })
        .collect();
    let v = SettingsPage {
        frame: frame(state, req, slug, s, flash).await,
        bot: info.bot_username.clone(),
        staff_group: group.map(|g| StaffGroupView { title: g.title, chat_id: g.chat_id, since: when(g.linked_at) }),
        broadcasts,
        sla,
        business_hours,
        sla_form: sla_form(info.sla.as_ref(), posted.map(|p| p.0), posted.map(|p| p.1).unwrap_or_default()),
        reopen_days: info.reopen_days,
    };
    rendered(status, state.console_pages.settings(&v))
}

/// `POST /t/{slug}/admin/settings/staff-group`: `do=unlink`.
#[handler]
pub async fn staff_group(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let NoFields {} = posted_form!(state, req, &slug, &s, body);
    match s.ctx.unlink_staff_group().await {
        Ok(_) => redirect(&format!("{}/settings?done=unlinked", base(req, &slug))),
        Err(e) => desk_error(state, &slug, &e),
    }
}

// ---- Audit log ----

/// The audit page's filter: an action (family), a ticket, a page.
#[derive(Default, Deserialize)]
struct AuditFilter {
    action: Option<String>,
    ticket: Option<String>,
    before: Option<String>,
}

impl AuditFilter {
    /// The filter as typed (action, ticket number) and as the log takes it.
    fn read(req: &Request) -> (String, String, tikethet_runtime::desk::audit::AuditQuery) {
        let q: AuditFilter = web::query(req);
        let action = q.action.clone().unwrap_or_default();
        let ticket = q.ticket.as_deref().map(|t| t.trim().trim_start_matches('#').to_owned()).unwrap_or_default();
        let aq = tikethet_runtime::desk::audit::AuditQuery {
            action: (!action.is_empty()).then(|| action.clone()),
            actor: None,
            ticket: ticket.parse().ok(),
            before: q.before.as_deref().and_then(|b| b.parse().ok()),
        };
        (action, ticket, aq)
    }
}

/// Who an entry names: a person of the desk, or (none) the platform.
fn actor_name(s: &Staff, id: Option<i64>, actors: &HashMap<i64, tikethet_runtime::storage::entities::users::Model>) -> String {
    match id {
        Some(a) => name_of(actors.get(&a)),
        None => tr(s, "the platform"),
    }
}

/// `GET /t/{slug}/admin/audit.csv?action=…&ticket=…`: every entry of the
/// filter (newest first, at most 50,000), as CSV.
#[handler]
pub async fn audit_csv(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    const MAX_ROWS: usize = 50_000;
    let (_, _, mut aq) = AuditFilter::read(req);
    aq.before = None;
    let mut out = super::analytics::lines([["at", "actor_id", "actor", "action", "ticket", "detail"]]);
    let mut written = 0;
    loop {
        let rows = match s.ctx.audit(&aq).await {
            Ok(r) => r,
            Err(e) => return desk_error(state, &slug, &e),
        };
        let ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
        let actors = s.ctx.people_by_ids(&ids).await.unwrap_or_default();
        out.push_str(&super::analytics::lines(rows.iter().map(|r| {
            [r.at.to_rfc3339(), r.actor_id.map(|a| a.to_string()).unwrap_or_default(), actor_name(&s, r.actor_id, &actors), r.action.clone(), r.ticket_id.map(|t| t.to_string()).unwrap_or_default(), r.detail.clone()]
        })));
        written += rows.len();
        match rows.last() {
            Some(last) if rows.len() as u64 == tikethet_runtime::desk::audit::PAGE && written < MAX_ROWS => aq.before = Some(last.id),
            _ => break,
        }
    }
    super::analytics::csv_response(&format!("audit-{slug}.csv"), Body::from_string(out))
}

/// `GET /t/{slug}/admin/audit?action=ticket.&ticket=12&before=…`
#[handler]
pub async fn audit(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    use tikethet_runtime::desk::audit::PAGE;
    let (action, ticket, aq) = AuditFilter::read(req);
    let filter = url::form_urlencoded::Serializer::new(String::new()).append_pair("action", &action).append_pair("ticket", &ticket).finish();
    let rows = match s.ctx.audit(&aq).await {
        Ok(r) => r,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
    let actors = s.ctx.people_by_ids(&ids).await.unwrap_or_default();
    let next = (rows.len() as u64 == PAGE).then(|| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &action)
            .append_pair("ticket", &ticket)
            .append_pair("before", &rows.last().map(|r| r.id).unwrap_or_default().to_string())
            .finish()
    });
    let families = [
        ("", "Everything"),
        ("ticket.", "Tickets"),
        ("ticket.reopened", "· reopened"),
        ("ticket.merged", "· merged"),
        ("ticket.tagged", "· tagged"),
        ("ticket.untagged", "· untagged"),
        ("tag.", "Tags"),
        ("person.", "People and roles"),
        ("category.", "Categories"),
        ("canned.", "Canned answers"),
        ("staff_group.", "Staff group"),
        ("broadcast.", "Broadcasts"),
        ("message.", "Message edits and deletions"),
        ("plugin.", "Plugins and schedules"),
        ("theme.", "Theme and brand"),
        ("bot_texts.", "Bot texts"),
        ("language.", "Languages"),
        ("bot_token.", "Bot token"),
        ("sla.", "Service levels"),
        ("conversations.", "Conversations"),
        ("domain.", "Domain"),
        ("api_key.", "API keys"),
        ("billing.", "Billing"),
        ("operator.", "The platform's operator"),
    ];
    let actions = families.into_iter().map(|(v, l)| Choice { value: v.into(), label: tr(&s, l), count: None, selected: action == v }).collect();
    let rows = rows
        .into_iter()
        .map(|r| tikethet_admin_console::AuditRow {
            at: when(r.at),
            actor: actor_name(&s, r.actor_id, &actors),
            action: r.action,
            ticket: r.ticket_id,
            detail: r.detail,
        })
        .collect();
    let v = tikethet_admin_console::AuditPage { frame: frame(state, req, &slug, &s, None).await, rows, actions, ticket, next, filter };
    rendered(StatusCode::OK, state.console_pages.audit(&v))
}

// ---- Look and bot ----

/// The texts the console edits: the ones every customer meets first.
const EDITED_TEXTS: [(tikethet_themes::BotText, &str); 2] = [(tikethet_themes::BotText::Welcome, "Welcome (/start)"), (tikethet_themes::BotText::Help, "Help (/help)")];

/// `adding`: a language (checked tag) whose texts the admin is about to write.
async fn look_page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode, adding: Option<String>) -> Response {
    if let Err(e) = s.ctx.require(Role::Admin) {
        return desk_error(state, slug, &e);
    }
    let info = &s.ctx.tenant();
    let b = &info.branding;
    let themes = tikethet_themes::THEMES.iter().map(|t| Choice { value: t.name.into(), label: t.name.into(), count: None, selected: t.name == info.theme.name }).collect();
    // The built-in languages, the desk's own, and one being added.
    let mut langs: Vec<String> = tikethet_themes::language::BUILT_IN.iter().map(|l| (*l).to_owned()).collect();
    langs.extend(info.bot_texts.0.keys().filter(|l| !langs.contains(l)).cloned().collect::<Vec<_>>());
    if let Some(added) = adding.filter(|l| !langs.contains(l)) {
        langs.push(added);
    }
    let mut texts = Vec::new();
    for lang in &langs {
        for (text, label) in EDITED_TEXTS {
            let value = info.bot_texts.0.get(lang).and_then(|m| m.get(text.name())).cloned().unwrap_or_default();
            let built_in = state
                .runtime
                .renderer()
                .built_in_text(&tikethet_themes::language::primary(lang), text)
                .or_else(|| state.runtime.renderer().built_in_text(&info.default_language, text))
                .unwrap_or_default();
            texts.push(tikethet_admin_console::TextField { lang: lang.clone(), name: text.name().into(), label: tr(s, label), value, built_in });
        }
    }
    let names = tikethet_themes::language::NAMES;
    let languages = langs
        .iter()
        .filter(|l| tikethet_themes::language::is_built_in(l) || info.bot_texts.0.contains_key(*l))
        .map(|l| Choice {
            value: l.clone(),
            label: names.iter().find(|(c, _)| c == l).map_or_else(|| l.clone(), |(_, n)| format!("{n} ({l})")),
            count: None,
            selected: *l == info.default_language,
        })
        .collect();
    let v = tikethet_admin_console::LookPage {
        frame: frame(state, req, slug, s, flash).await,
        themes,
        primary: b.primary_color.clone().unwrap_or_else(|| info.theme.primary_color.to_owned()),
        accent: b.accent_color.clone().unwrap_or_else(|| info.theme.accent_color.to_owned()),
        radius: b.radius.unwrap_or(info.theme.radius),
        font: b.font.clone().unwrap_or_else(|| info.theme.font.to_owned()),
        texts,
        languages,
        bot: info.bot_username.clone(),
        owner: s.ctx.viewer().role == Role::Owner,
    };
    rendered(status, state.console_pages.look(&v))
}

/// `GET /t/{slug}/admin/look`: the theme editor with its preview, the bot's
/// welcome and help, and (for the owner) the bot's token.
#[handler]
pub async fn look(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let flash = match web::query::<Done>(req).done.as_deref() {
        Some("look") => Some(("ok", tr(&s, "Look saved."))),
        Some("texts") => Some(("ok", tr(&s, "Texts saved."))),
        Some("language") => Some(("ok", tr(&s, "Language saved."))),
        Some("token") => Some(("ok", tr(&s, "The bot is replaced."))),
        // A desk's own text that gave way to the built-in one when sent:
        // the admins see the latest, and why, where they edit the texts.
        _ => state.runtime.text_fallbacks(&s.ctx.tenant().id).first().map(|f| {
            ("error", format!("{} ({}.{}, {}): {}", tr(&s, "A text of yours was not sent; the built-in one was sent instead"), f.language, f.text, f.at.format("%Y-%m-%d %H:%M UTC"), f.reason))
        }),
    };
    // `?add=de`: a language of the desk's own, checked before its fields show.
    let (flash, adding) = match req.params::<AddLanguage>().ok().and_then(|q| q.add).filter(|a| !a.trim().is_empty()) {
        None => (flash, None),
        Some(raw) => match tikethet_themes::language::canonical_tag(&raw) {
            Ok(tag) => (flash, Some(tag)),
            Err(e) => (Some(("error", e)), None),
        },
    };
    look_page(state, req, &slug, &s, flash, StatusCode::OK, adding).await
}

#[derive(serde::Deserialize)]
struct AddLanguage {
    add: Option<String>,
}

/// `POST /t/{slug}/admin/look/{what}`: `theme`, `texts`, `language` or `token`.
#[handler]
pub async fn look_save(Path((slug, what)): Path<(String, String)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    // The texts have a field per language and text: the form by name.
    let form: Fields = posted_form!(state, req, &slug, &s, body);
    if let Err(e) = s.ctx.require(if what == "token" { Role::Owner } else { Role::Admin }) {
        return desk_error(state, &slug, &e);
    }
    let tenant_slug = s.ctx.tenant().slug.as_str().to_owned();
    let field = |k: &str| form.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let outcome: Result<&str, String> = async {
        Ok(match what.as_str() {
            "theme" => {
                let theme = match tikethet_themes::Theme::parse(form.get("theme").map(String::as_str).unwrap_or_default()) {
                    Ok(t) => t,
                    Err(e) => return Err(e.to_string()),
                };
                // Only what differs from the chosen theme is kept as the brand.
                let differs = |v: Option<String>, builtin: &str| v.filter(|v| !v.eq_ignore_ascii_case(builtin));
                let radius = match field("radius").map(|r| r.parse::<u8>()) {
                    Some(Ok(r)) => Some(r).filter(|r| *r != theme.radius),
                    Some(Err(_)) => return Err("radius: must be a whole number from 0 to 32".into()),
                    None => None,
                };
                let branding = tikethet_themes::branding::Branding {
                    primary_color: differs(field("primary_color"), theme.primary_color),
                    accent_color: differs(field("accent_color"), theme.accent_color),
                    radius,
                    font: differs(field("font"), theme.font),
                    logo: s.ctx.tenant().branding.logo.clone(),
                };
                let branding = match branding.validated() {
                    Ok(b) => b,
                    Err(e) => return Err(e.to_string()),
                };
                match state.control.set_theme(&tenant_slug, Some(theme), &branding).await {
                    Ok(after) => crate::http::recorded::by_staff(&s.ctx, "theme.changed", crate::http::recorded::theme(s.ctx.tenant(), &after)).await,
                    Err(e) => return Err(e.to_string()),
                }
                "look"
            }
            "texts" => {
                let mut texts = s.ctx.tenant().bot_texts.clone();
                // Every language the form has fields for (a new one too).
                let langs: std::collections::BTreeSet<String> = form
                    .keys()
                    .filter_map(|k| k.rsplit_once('.').filter(|(_, n)| EDITED_TEXTS.iter().any(|(t, _)| t.name() == *n)).map(|(l, _)| l.to_owned()))
                    .collect();
                for lang in &langs {
                    for (text, _) in EDITED_TEXTS {
                        let by_name = texts.0.entry(lang.clone()).or_default();
                        match field(&format!("{lang}.{}", text.name())) {
                            Some(v) => by_name.insert(text.name().to_owned(), v),
                            None => by_name.remove(text.name()),
                        };
                    }
                }
                texts.0.retain(|_, m| !m.is_empty());
                let texts = match state.runtime.renderer().check_texts(texts) {
                    Ok(t) => t,
                    Err(why) => return Err(format!("Not saved: {why}")),
                };
                match state.control.set_bot_texts(&tenant_slug, &texts).await {
                    Ok(after) => crate::http::recorded::by_staff(&s.ctx, "bot_texts.changed", crate::http::recorded::bot_texts(&s.ctx.tenant().bot_texts, &after.bot_texts)).await,
                    Err(e) => return Err(e.to_string()),
                }
                state.runtime.clear_text_fallbacks(&s.ctx.tenant().id);
                "texts"
            }
            "language" => {
                let before = s.ctx.tenant().default_language.clone();
                match state.control.set_default_language(&tenant_slug, form.get("default_language").map(String::as_str).unwrap_or_default()).await {
                    Ok(after) if after.default_language != before => {
                        crate::http::recorded::by_staff(&s.ctx, "language.changed", format!("default language {before} → {}", after.default_language)).await
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
                "language"
            }
            "token" => {
                let token = match tikethet_runtime::domain::BotToken::parse(form.get("token").map(|t| t.trim()).unwrap_or_default()) {
                    Ok(t) => t,
                    Err(e) => return Err(e.to_string()),
                };
                match state.control.replace_bot_token(&tenant_slug, token).await {
                    Ok(after) => crate::http::recorded::by_staff(&s.ctx, "bot_token.changed", format!("bot @{} → @{}", s.ctx.tenant().bot_username, after.bot_username)).await,
                    Err(e) => return Err(e.to_string()),
                }
                "token"
            }
            _ => return Err("The console has no such setting.".to_owned()),
        })
    }
    .await;
    match outcome {
        Ok(done) => redirect(&format!("{}/look?done={done}", base(req, &slug))),
        Err(message) => look_page(state, req, &slug, &s, Some(("error", message)), StatusCode::BAD_REQUEST, None).await,
    }
}
