//! The console's Teams page (admins change teams, moderators look) and the
//! header's switch by which any staff member says they are away or
//! available. Every change goes through the desk's rules
//! (`TenantContext`), the same as the API's.

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use serde::Deserialize;
use tikethet_admin_console::{Choice, TeamMemberRow, TeamRow, TeamsPage};
use tikethet_runtime::RuntimeError;
use tikethet_runtime::desk::people::PeopleQuery;
use tikethet_runtime::desk::teams::{Rule, TeamFields, TeamName};
use tikethet_runtime::domain::{Invalid, Role};

use super::manage::fixable;
use super::{Done, Staff, back_to, base, desk_error, frame, name_of, posted, redirect, rendered, tr};
use crate::AppState;
use crate::http::web;

/// A rule's words on the page.
fn rule_label(s: &Staff, r: Rule) -> String {
    tr(
        s,
        match r {
            Rule::Manual => "Manual",
            Rule::RoundRobin => "Round robin",
            Rule::FewestOpen => "Fewest open",
        },
    )
}

fn rules(s: &Staff, selected: Rule) -> Vec<Choice> {
    Rule::ALL.into_iter().map(|r| Choice { value: r.as_str().into(), label: rule_label(s, r), count: None, selected: r == selected }).collect()
}

async fn page(state: &AppState, req: &Request, slug: &str, s: &Staff, flash: Option<(&str, String)>, status: StatusCode) -> Response {
    if let Err(r) = super::need(state, slug, s, Role::Moderator) {
        return r;
    }
    let teams = match s.ctx.teams().await {
        Ok(t) => t,
        Err(e) => return desk_error(state, slug, &e),
    };
    let can_edit = s.ctx.viewer().role >= Role::Admin;
    let staff = if can_edit {
        match s.ctx.people(&PeopleQuery { staff: true, blocked: Some(false), limit: 100, ..Default::default() }).await {
            Ok((p, _)) => p,
            Err(e) => return desk_error(state, slug, &e),
        }
    } else {
        Vec::new()
    };
    let rows = teams
        .into_iter()
        .map(|t| {
            let rule = Rule::of(&t.row);
            TeamRow {
                id: t.row.id,
                name: t.row.name,
                rules: rules(s, rule),
                rule_label: rule_label(s, rule),
                takes_new: t.row.takes_new,
                candidates: staff
                    .iter()
                    .filter(|u| !t.members.iter().any(|m| m.user.id == u.id))
                    .map(|u| Choice { value: u.id.to_string(), label: name_of(Some(u)), count: None, selected: false })
                    .collect(),
                members: t.members.iter().map(|m| TeamMemberRow { id: m.user.id, name: name_of(Some(&m.user)), away: m.user.away, open: m.open_tickets }).collect(),
            }
        })
        .collect();
    let v = TeamsPage { frame: frame(state, req, slug, s, flash).await, teams: rows, can_edit, rules: rules(s, Rule::RoundRobin) };
    rendered(status, state.console_pages.teams(&v))
}

fn flash_of(req: &Request, s: &Staff) -> Option<(&'static str, String)> {
    let text = match web::query::<Done>(req).done.as_deref() {
        Some("team") => "Team saved.",
        Some("deleted") => "Deleted.",
        _ => return None,
    };
    Some(("ok", tr(s, text)))
}

/// `GET /t/{slug}/admin/teams`
#[handler]
pub async fn show(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    page(state, req, &slug, &s, flash_of(req, &s), StatusCode::OK).await
}

/// A team's form (`do=delete` on an edit removes it).
#[derive(Deserialize)]
struct TeamForm {
    #[serde(rename = "do")]
    action: Option<String>,
    name: Option<String>,
    rule: Option<String>,
    takes_new: Option<String>,
}

impl TeamForm {
    fn fields(&self) -> Result<TeamFields, Invalid> {
        Ok(TeamFields {
            name: Some(TeamName::parse(self.name.as_deref().unwrap_or_default())?),
            rule: self.rule.as_deref().map(Rule::parse).transpose()?,
            // An unticked box sends nothing: "does not take new tickets".
            takes_new: Some(self.takes_new.is_some()),
        })
    }
}

/// A result as the page shows it: back to the page, or the page again
/// with what to fix.
async fn after(state: &AppState, req: &Request, slug: &str, s: &Staff, result: Result<(), RuntimeError>, done: &str) -> Response {
    match result {
        Ok(()) => redirect(&format!("{}/teams?done={done}", base(req, slug))),
        Err(e) if fixable(&e) => page(state, req, slug, s, Some(("error", e.to_string())), crate::http::error::runtime_status(&e)).await,
        Err(e) => desk_error(state, slug, &e),
    }
}

/// `POST /t/{slug}/admin/teams`: a new team.
#[handler]
pub async fn add(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: TeamForm = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let result = match form.fields() {
        Ok(f) => s.ctx.create_team(f).await.map(|_| ()),
        Err(e) => Err(e.into()),
    };
    after(state, req, &slug, &s, result, "team").await
}

/// `POST /t/{slug}/admin/teams/{id}`: `do=save` or `do=delete`.
#[handler]
pub async fn team(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    let form: TeamForm = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (result, done) = match form.action.as_deref() {
        Some("delete") => (s.ctx.delete_team(id).await, "deleted"),
        _ => (
            match form.fields() {
                Ok(f) => s.ctx.update_team(id, f).await.map(|_| ()),
                Err(e) => Err(e.into()),
            },
            "team",
        ),
    };
    after(state, req, &slug, &s, result, done).await
}

/// `POST /t/{slug}/admin/teams/{id}/members`: `do=add` or `do=remove`
/// the staff member `user`.
#[handler]
pub async fn members(Path((slug, id)): Path<(String, i64)>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct MemberForm {
        #[serde(rename = "do")]
        action: Option<String>,
        user: Option<String>,
    }
    let form: MemberForm = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(user) = form.user.as_deref().and_then(|u| u.parse::<i64>().ok()) else {
        return after(state, req, &slug, &s, Err(Invalid::new("user", "choose a staff member").into()), "team").await;
    };
    let result = match form.action.as_deref() {
        Some("remove") => s.ctx.remove_team_member(id, user).await,
        _ => s.ctx.add_team_member(id, user).await,
    };
    after(state, req, &slug, &s, result.map(|_| ()), "team").await
}

/// `POST /t/{slug}/admin/away` (`away=yes|no`, `back`): the header's switch.
#[handler]
pub async fn away(Path(slug): Path<String>, req: &Request, s: Staff, body: Body, Data(state): Data<&AppState>) -> Response {
    #[derive(Deserialize)]
    struct AwayForm {
        away: Option<String>,
        back: Option<String>,
    }
    let form: AwayForm = match posted(state, req, &slug, &s, body).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let away = match form.away.as_deref() {
        Some("yes") => true,
        Some("no") => false,
        _ => return desk_error(state, &slug, &Invalid::new("away", "must be yes or no").into()),
    };
    match s.ctx.set_away(away).await {
        Ok(_) => redirect(&back_to(req, &slug, form.back)),
        Err(e) => desk_error(state, &slug, &e),
    }
}
