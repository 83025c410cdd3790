//! The console's Macros page (admins write macros, staff read them), a
//! macro applied from the ticket page, and the queue's shared saved views.
//! Every change goes through the desk's rules (`TenantContext`), the same
//! as the API's.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tikethet_admin_console::{Choice, MacroRow, MacrosPage};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::macros::{Macro, MacroFields, MacroName, MacroReply};
use tikethet_runtime::desk::views::ViewFields;
use tikethet_runtime::domain::{Invalid, Priority, Role, TagName, TicketId, TicketStatus};

use super::manage::fixable;
use super::{Done, Staff, again, base, desk_error, frame, posted, priority_label, redirect, rendered, status_label, tr};
use crate::AppState;
use crate::http::web;

/// A select's choices with "leave as it is" first.
fn choices(s: &Staff, keep: &str, items: impl Iterator<Item = (String, String)>, selected: Option<&str>) -> Vec<Choice> {
    let mut out = vec![Choice { value: String::new(), label: tr(s, keep), count: None, selected: selected.is_none() }];
    out.extend(items.map(|(value, label)| Choice { selected: selected == Some(value.as_str()), value, label, count: None }));
    out
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode) -> Response {
    let (list, teams) = match (s.ctx.macros().await, s.ctx.teams().await) {
        (Ok(m), Ok(t)) => (m, t),
        (Err(e), _) | (_, Err(e)) => return desk_error(state, slug, &e),
    };
    let statuses = |sel: Option<&str>| choices(s, "Status as it is", TicketStatus::ALL.iter().map(|st| (st.as_str().to_owned(), status_label(s.lang, st.as_str()))), sel);
    let priorities = |sel: Option<&str>| choices(s, "Priority as it is", Priority::ALL.iter().map(|p| (p.as_str().to_owned(), priority_label(s.lang, p.as_str()))), sel);
    let team_choices = |sel: Option<i64>| {
        if teams.is_empty() {
            return Vec::new();
        }
        let sel = sel.map(|t| t.to_string());
        choices(s, "Team as it is", teams.iter().map(|t| (t.row.id.to_string(), t.row.name.clone())), sel.as_deref())
    };
    let rows = list
        .iter()
        .map(|m: &Macro| MacroRow {
            id: m.row.id,
            name: m.row.name.clone(),
            reply: m.row.reply.clone().unwrap_or_default(),
            statuses: statuses(m.row.status.as_deref()),
            priorities: priorities(m.row.priority.as_deref()),
            teams: team_choices(m.row.team_id),
            tags: m.tags.join(", "),
            assign_to_me: m.row.assign_to_me,
            summary: summary(s, m, &teams),
        })
        .collect();
    let v = MacrosPage {
        frame: frame(state, req, slug, s, flash).await,
        rows,
        can_edit: s.ctx.viewer().role >= Role::Admin,
        statuses: statuses(None),
        priorities: priorities(None),
        teams: team_choices(None),
    };
    rendered(status, state.console_pages.macros(&v))
}

/// What a macro does, in the page's words.
fn summary(s: &Staff, m: &Macro, teams: &[tikethet_runtime::desk::teams::Team]) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &m.row.reply {
        parts.push(format!("{}: “{}”", tr(s, "answers"), r.chars().take(80).collect::<String>()));
    }
    if let Some(st) = &m.row.status {
        parts.push(format!("{} {}", tr(s, "status"), status_label(s.lang, st)));
    }
    if let Some(p) = &m.row.priority {
        parts.push(format!("{} {}", tr(s, "priority"), priority_label(s.lang, p)));
    }
    if !m.tags.is_empty() {
        parts.push(format!("{} {}", tr(s, "tags"), m.tags.join(", ")));
    }
    if let Some(t) = m.row.team_id {
        parts.push(format!("{} {}", tr(s, "team"), teams.iter().find(|x| x.row.id == t).map_or_else(|| t.to_string(), |x| x.row.name.clone())));
    }
    if m.row.assign_to_me {
        parts.push(tr(s, "the agent takes the ticket"));
    }
    parts.join("; ")
}

fn flash_of(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    let text = match web::query::<Done>(req).done.as_deref() {
        Some("macro") => "Macro saved.",
        Some("deleted") => "Deleted.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

/// `GET /t/{slug}/admin/macros`
#[handler]
pub async fn show(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    page(state, req, &slug, &s, flash_of(req, &s), StatusCode::OK).await
}

/// A macro's form; empty selects leave that part of a ticket as it is.
#[derive(Deserialize)]
struct MacroForm {
    #[serde(rename = "do")]
    action: Option<String>,
    name: Option<String>,
    reply: Option<String>,
    status: Option<String>,
    priority: Option<String>,
    team: Option<String>,
    tags: Option<String>,
    assign_to_me: Option<String>,
}

impl MacroForm {
    fn fields(&self) -> Result<MacroFields, Invalid> {
        let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned);
        Ok(MacroFields {
            name: MacroName::parse(self.name.as_deref().unwrap_or_default())?,
            reply: some(&self.reply).as_deref().map(MacroReply::parse).transpose()?,
            status: some(&self.status).as_deref().map(TicketStatus::parse).transpose()?,
            priority: some(&self.priority).as_deref().map(Priority::parse).transpose()?,
            team_id: some(&self.team).map(|t| t.parse::<i64>().map_err(|_| Invalid::new("team", "must be a team of the desk"))).transpose()?,
            tags: self.tags.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|t| !t.is_empty()).map(TagName::parse).collect::<Result<_, _>>()?,
            assign_to_me: self.assign_to_me.is_some(),
        })
    }
}

async fn after(state: &AppState, req: &Request, slug: &str, s: &Staff, result: Result<(), RuntimeError>, done: &str) -> Response {
    match result {
        Ok(()) => redirect(&format!("{}/macros?done={done}", base(req, slug))),
        Err(e) if fixable(&e) => page(state, req, slug, s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, slug, &e),
    }
}

/// `POST /t/{slug}/admin/macros`: a new macro (admins).
#[handler]
pub async fn add(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: MacroForm = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match form.fields() {
        Ok(f) => s.ctx.create_macro(f).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    after(state, req, &slug, &s, result, "macro").await
}

/// `POST /t/{slug}/admin/macros/{id}`: `do=save` or `do=delete` (admins).
#[handler]
pub async fn one(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: MacroForm = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (result, done) = match form.action.as_deref() {
        Some("delete") => (s.ctx.delete_macro(id).await, "deleted"),
        _ => (
            match form.fields() {
                Ok(f) => s.ctx.update_macro(id, f).await.map(|_| ()),
                Err(e) => Err(e.into()),
            },
            "macro",
        ),
    };
    after(state, req, &slug, &s, result, done).await
}

/// `POST /t/{slug}/admin/tickets/{id}/macro` (`macro`): applies it.
#[handler]
pub async fn apply(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Apply {
        #[serde(rename = "macro")]
        chosen: Option<String>,
    }
    let form: Apply = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(chosen) = form.chosen.and_then(|m| m.parse::<i64>().ok()) else {
        return again(state, req, &slug, &s, id, tr(&s, "Choose a macro."), Default::default(), None, StatusCode::BAD_REQUEST).await;
    };
    match s.ctx.apply_macro(TicketId::new(id), chosen).await {
        Ok(_) => redirect(&format!("{}/tickets/{id}?done=macro", base(req, &slug))),
        Err(e) if fixable(&e) => again(state, req, &slug, &s, id, e.to_string(), Default::default(), None, crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/views` (`name`, `query`): the queue's filters
/// saved for the desk; back to the view.
#[handler]
pub async fn save_view(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct Save {
        name: Option<String>,
        query: Option<String>,
    }
    let form: Save = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match ViewFields::parse(form.name.as_deref().unwrap_or_default(), form.query.as_deref().unwrap_or_default()) {
        Ok(f) => s.ctx.save_view(f).await,
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(v) => redirect(&format!("{}/?{}{}done=view", base(req, &slug), v.query, if v.query.is_empty() { "" } else { "&" })),
        // A taken name or a full list: the error page says which, and
        // links back to the queue.
        Err(e) => desk_error(state, &slug, &e),
    }
}

/// `POST /t/{slug}/admin/views/{id}/delete` (its author or an admin).
#[handler]
pub async fn delete_view(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let super::NoFields {} = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.ctx.delete_view(id).await {
        Ok(()) => redirect(&format!("{}/?done=view-deleted", base(req, &slug))),
        Err(e) => desk_error(state, &slug, &e),
    }
}
