//! Teams: named groups of staff that tickets are given to, and the rules
//! that pick an agent of the team for each ticket it is given.
//!
//! A team's rule is `manual` (the ticket waits in the team's queue),
//! `round_robin` (the next available member after the one picked last) or
//! `fewest_open` (the available member with the fewest active tickets, ties
//! going round). Members who are away, blocked or no longer staff are
//! passed over; with nobody available the ticket stays unassigned in the
//! team. One team may take the desk's new tickets (those no plugin gave a
//! team or an assignee). A plugin's `assign` names a staff member's
//! username or a team's name ([`crate::desk::tickets::assign_by_username`]).
//!
//! Two tickets given to one team at once must not both go to the same
//! "next" agent: the pick is written with a conditional update of the
//! team's `last_user_id` (`WHERE last_user_id` is what was read), retried
//! when another transaction moved it first. On PostgreSQL the second
//! update waits for the first's commit and then matches nothing; SQLite
//! has one writer at a time.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::desk::audit;
use crate::desk::context::TenantContext;
use crate::domain::{Invalid, Role, TicketStatus};
use crate::error::{Result, RuntimeError};
use crate::storage::entities::{team_members, teams, tickets, users};

/// Most teams one desk may have.
pub const MAX_TEAMS: u64 = 100;
/// Attempts at writing a pick before giving up on the rule (the ticket
/// then stays unassigned in its team, never lost).
const PICK_TRIES: usize = 8;

/// How a team's tickets find an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Manual,
    RoundRobin,
    FewestOpen,
}

impl Rule {
    pub const ALL: [Rule; 3] = [Rule::Manual, Rule::RoundRobin, Rule::FewestOpen];
    pub const ACCEPTED: &'static str = "manual, round_robin, fewest_open";

    pub fn parse(s: &str) -> Result<Rule, Invalid> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| Invalid::new("rule", format!("must be one of: {}", Rule::ACCEPTED)))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Manual => "manual",
            Rule::RoundRobin => "round_robin",
            Rule::FewestOpen => "fewest_open",
        }
    }

    /// A stored rule; an unknown one (a newer build's) counts as manual.
    pub fn of(team: &teams::Model) -> Rule {
        Rule::parse(&team.rule).unwrap_or(Rule::Manual)
    }
}

/// A team's name: 1 to 64 characters on one line, trimmed; unique in the
/// desk, compared without case (plugins name teams as people type them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamName(String);

impl TeamName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
            return Err(Invalid::new("name", "must be 1 to 64 characters on one line"));
        }
        if t.starts_with('@') {
            return Err(Invalid::new("name", "must not start with @ (that names a person)"));
        }
        Ok(TeamName(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A team to create, or the changes to one (`None` keeps a field).
#[derive(Debug, Clone, Default)]
pub struct TeamFields {
    pub name: Option<TeamName>,
    pub rule: Option<Rule>,
    pub takes_new: Option<bool>,
}

/// A member as the team lists them.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: users::Model,
    /// Their active tickets (open, in progress, waiting).
    pub open_tickets: u64,
}

/// A team with its members.
#[derive(Debug, Clone)]
pub struct Team {
    pub row: teams::Model,
    pub members: Vec<Member>,
}

const ACTIVE: [TicketStatus; 3] = [TicketStatus::Open, TicketStatus::InProgress, TicketStatus::WaitingResponse];

/// Active tickets assigned to each of `ids`.
async fn open_counts(txn: &DatabaseTransaction, ids: &[i64]) -> Result<Vec<(i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tickets::Entity::find()
        .select_only()
        .column(tickets::Column::AssigneeId)
        .column_as(tickets::Column::Id.count(), "n")
        .filter(tickets::Column::AssigneeId.is_in(ids.to_vec()))
        .filter(tickets::Column::Status.is_in(ACTIVE.map(|s| s.as_str())))
        .group_by(tickets::Column::AssigneeId)
        .into_tuple::<(i64, i64)>()
        .all(txn)
        .await?)
}

async fn members_of(txn: &DatabaseTransaction, team: i64) -> Result<Vec<users::Model>> {
    let ids: Vec<i64> = team_members::Entity::find().filter(team_members::Column::TeamId.eq(team)).all(txn).await?.into_iter().map(|m| m.user_id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(users::Entity::find().filter(users::Column::Id.is_in(ids)).order_by_asc(users::Column::Id).all(txn).await?)
}

async fn with_members(txn: &DatabaseTransaction, row: teams::Model) -> Result<Team> {
    let users = members_of(txn, row.id).await?;
    let counts = open_counts(txn, &users.iter().map(|u| u.id).collect::<Vec<_>>()).await?;
    let members = users
        .into_iter()
        .map(|user| {
            let open_tickets = counts.iter().find(|(id, _)| *id == user.id).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            Member { user, open_tickets }
        })
        .collect();
    Ok(Team { row, members })
}

/// The desk's teams by name, with their members.
pub async fn list(txn: &DatabaseTransaction) -> Result<Vec<Team>> {
    let rows = teams::Entity::find().order_by_asc(teams::Column::Name).all(txn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(with_members(txn, r).await?);
    }
    Ok(out)
}

async fn row(txn: &DatabaseTransaction, id: i64) -> Result<teams::Model> {
    teams::Entity::find_by_id(id).one(txn).await?.ok_or(RuntimeError::NotFound("team"))
}

pub async fn get(txn: &DatabaseTransaction, id: i64) -> Result<Team> {
    with_members(txn, row(txn, id).await?).await
}

/// A team's name as the log and notes say it (`no team` for none).
pub async fn name_of(txn: &DatabaseTransaction, id: Option<i64>) -> Result<String> {
    Ok(match id {
        Some(id) => teams::Entity::find_by_id(id).one(txn).await?.map_or_else(|| format!("team {id}"), |t| t.name),
        None => "no team".to_owned(),
    })
}

/// The team of that name, compared without case.
pub async fn by_name(txn: &DatabaseTransaction, name: &str) -> Result<Option<teams::Model>> {
    let wanted = name.trim().to_lowercase();
    Ok(teams::Entity::find().all(txn).await?.into_iter().find(|t| t.name.to_lowercase() == wanted))
}

async fn name_taken(txn: &DatabaseTransaction, name: &TeamName, except: Option<i64>) -> Result<()> {
    if by_name(txn, name.as_str()).await?.is_some_and(|t| Some(t.id) != except) {
        return Err(RuntimeError::Conflict(format!("a team named {:?} exists", name.as_str())));
    }
    Ok(())
}

/// Only one team takes new tickets: giving it to one takes it from the rest.
async fn take_new_tickets(txn: &DatabaseTransaction, id: i64) -> Result<()> {
    teams::Entity::update_many().col_expr(teams::Column::TakesNew, Expr::value(false)).filter(teams::Column::Id.ne(id)).exec(txn).await?;
    Ok(())
}

pub async fn create(txn: &DatabaseTransaction, f: TeamFields) -> Result<teams::Model> {
    let name = f.name.ok_or_else(|| Invalid::new("name", "is required"))?;
    if teams::Entity::find().count(txn).await? >= MAX_TEAMS {
        return Err(RuntimeError::Conflict(format!("a desk has at most {MAX_TEAMS} teams")));
    }
    name_taken(txn, &name, None).await?;
    let t = teams::ActiveModel {
        name: Set(name.0),
        rule: Set(f.rule.unwrap_or(Rule::Manual).as_str().to_owned()),
        takes_new: Set(f.takes_new.unwrap_or(false)),
        last_user_id: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    if t.takes_new {
        take_new_tickets(txn, t.id).await?;
    }
    Ok(t)
}

pub async fn update(txn: &DatabaseTransaction, id: i64, f: TeamFields) -> Result<teams::Model> {
    let t = row(txn, id).await?;
    let mut am: teams::ActiveModel = t.into();
    if let Some(n) = f.name {
        name_taken(txn, &n, Some(id)).await?;
        am.name = Set(n.0);
    }
    if let Some(r) = f.rule {
        am.rule = Set(r.as_str().to_owned());
    }
    if let Some(n) = f.takes_new {
        am.takes_new = Set(n);
    }
    let t = am.update(txn).await?;
    if t.takes_new {
        take_new_tickets(txn, t.id).await?;
    }
    Ok(t)
}

/// Deletes a team: its tickets stay with their assignees, without a team.
pub async fn delete(txn: &DatabaseTransaction, id: i64) -> Result<teams::Model> {
    let t = row(txn, id).await?;
    tickets::Entity::update_many().col_expr(tickets::Column::TeamId, Expr::value(Option::<i64>::None)).filter(tickets::Column::TeamId.eq(id)).exec(txn).await?;
    team_members::Entity::delete_many().filter(team_members::Column::TeamId.eq(id)).exec(txn).await?;
    teams::Entity::delete_by_id(id).exec(txn).await?;
    Ok(t)
}

/// Adds a staff member to a team (adding one twice changes nothing); the
/// member as stored.
pub async fn add_member(txn: &DatabaseTransaction, team: i64, user: i64) -> Result<(teams::Model, users::Model)> {
    let t = row(txn, team).await?;
    let u = users::Entity::find_by_id(user).one(txn).await?.ok_or(RuntimeError::NotFound("user"))?;
    if !u.role.is_staff() || u.blocked {
        return Err(Invalid::new("user_id", "must be a staff member of this desk who is not blocked").into());
    }
    let exists = team_members::Entity::find_by_id((team, user)).one(txn).await?.is_some();
    if !exists {
        team_members::ActiveModel { team_id: Set(team), user_id: Set(user) }.insert(txn).await?;
    }
    Ok((t, u))
}

/// Takes someone out of a team (their tickets stay theirs).
pub async fn remove_member(txn: &DatabaseTransaction, team: i64, user: i64) -> Result<(teams::Model, users::Model)> {
    let t = row(txn, team).await?;
    let gone = team_members::Entity::delete_many().filter(team_members::Column::TeamId.eq(team)).filter(team_members::Column::UserId.eq(user)).exec(txn).await?.rows_affected;
    if gone == 0 {
        return Err(RuntimeError::NotFound("member of this team"));
    }
    let u = users::Entity::find_by_id(user).one(txn).await?.ok_or(RuntimeError::NotFound("user"))?;
    Ok((t, u))
}

/// Whether someone may be given tickets by a rule now.
fn available(u: &users::Model) -> bool {
    u.role.is_staff() && !u.blocked && !u.away
}

/// The members in the order the rule goes round: starting after the one
/// picked last (by user id, wrapping).
fn in_turn(members: Vec<users::Model>, last: Option<i64>) -> Vec<users::Model> {
    let at = last.map_or(0, |l| members.iter().position(|m| m.id > l).unwrap_or(members.len()));
    let mut m = members;
    m.rotate_left(at);
    m
}

/// Who the team's rule gives its next ticket to, written down as its last
/// pick; `None` for a manual team or nobody available.
pub async fn pick(txn: &DatabaseTransaction, team: i64) -> Result<Option<i64>> {
    for _ in 0..PICK_TRIES {
        let t = row(txn, team).await?;
        let rule = Rule::of(&t);
        if rule == Rule::Manual {
            return Ok(None);
        }
        let turn = in_turn(members_of(txn, team).await?.into_iter().filter(available).collect(), t.last_user_id);
        let chosen = match rule {
            Rule::Manual => None,
            Rule::RoundRobin => turn.first().map(|u| u.id),
            Rule::FewestOpen => {
                let counts = open_counts(txn, &turn.iter().map(|u| u.id).collect::<Vec<_>>()).await?;
                let open = |id: i64| counts.iter().find(|(a, _)| *a == id).map_or(0, |(_, n)| *n);
                // The first of the fewest in turn: ties go round.
                turn.iter().map(|u| u.id).min_by_key(|id| open(*id))
            }
        };
        let Some(chosen) = chosen else { return Ok(None) };
        let same_last = match t.last_user_id {
            Some(l) => teams::Column::LastUserId.eq(l),
            None => teams::Column::LastUserId.is_null(),
        };
        let moved = teams::Entity::update_many()
            .col_expr(teams::Column::LastUserId, Expr::value(chosen))
            .filter(teams::Column::Id.eq(team))
            .filter(same_last)
            .exec(txn)
            .await?
            .rows_affected;
        if moved == 1 {
            return Ok(Some(chosen));
        }
    }
    tracing::warn!(team, "a team's assignment rule lost {PICK_TRIES} races in a row; the ticket stays unassigned in its team");
    Ok(None)
}

/// Gives a ticket to a team. Unless the team is manual or the ticket's
/// assignee is already one of its members, the team's rule picks the
/// assignee. The ticket after.
pub async fn give(txn: &DatabaseTransaction, ticket: tickets::Model, team: i64) -> Result<tickets::Model> {
    let in_team = match ticket.assignee_id {
        Some(a) => team_members::Entity::find_by_id((team, a)).one(txn).await?.is_some(),
        None => false,
    };
    let assignee = if in_team { ticket.assignee_id } else { pick(txn, team).await?.or(ticket.assignee_id) };
    let mut am: tickets::ActiveModel = ticket.into();
    am.team_id = Set(Some(team));
    am.assignee_id = Set(assignee);
    am.updated_at = Set(Utc::now());
    Ok(am.update(txn).await?)
}

/// The team that takes the desk's new tickets, if one does.
pub async fn taking_new(txn: &DatabaseTransaction) -> Result<Option<teams::Model>> {
    Ok(teams::Entity::find().filter(teams::Column::TakesNew.eq(true)).order_by_asc(teams::Column::Id).one(txn).await?)
}

/// A staff member says they are away (rules pass them over) or back.
pub async fn set_away(txn: &DatabaseTransaction, user: i64, away: bool) -> Result<users::Model> {
    let u = users::Entity::find_by_id(user).one(txn).await?.ok_or(RuntimeError::NotFound("user"))?;
    if u.role < Role::Helper {
        return Err(RuntimeError::Forbidden("only staff say whether they are away".into()));
    }
    let mut am: users::ActiveModel = u.into();
    am.away = Set(away);
    am.updated_at = Set(Utc::now());
    Ok(am.update(txn).await?)
}

fn members_text(t: &Team) -> String {
    t.members.iter().map(|m| m.user.first_name.clone()).collect::<Vec<_>>().join(", ")
}

impl TenantContext {
    /// The desk's teams with their members (staff: the queue filters by them).
    pub async fn teams(&self) -> Result<Vec<Team>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let out = list(&txn).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// The desk's teams alone, by name (one read): what the queue and the
    /// ticket page need to name and filter by a team.
    pub async fn team_rows(&self) -> Result<Vec<teams::Model>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let out = teams::Entity::find().order_by_asc(teams::Column::Name).all(&txn).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub async fn team(&self, id: i64) -> Result<Team> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let out = get(&txn, id).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Creates a team (admins).
    pub async fn create_team(&self, f: TeamFields) -> Result<Team> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let t = create(&txn, f).await?;
        audit::record(&txn, Some(self.user.id), "team.created", None, format!("{} ({}{})", t.name, t.rule, if t.takes_new { ", takes new tickets" } else { "" })).await?;
        let out = get(&txn, t.id).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Changes a team's name, rule or whether it takes new tickets (admins).
    pub async fn update_team(&self, id: i64, f: TeamFields) -> Result<Team> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let before = row(&txn, id).await?;
        let after = update(&txn, id, f).await?;
        let said = |t: &teams::Model| format!("{} ({}{})", t.name, t.rule, if t.takes_new { ", takes new tickets" } else { "" });
        if before != after {
            audit::record(&txn, Some(self.user.id), "team.changed", None, format!("{} → {}", said(&before), said(&after))).await?;
        }
        let out = get(&txn, id).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Deletes a team (admins); its tickets keep their assignees.
    pub async fn delete_team(&self, id: i64) -> Result<()> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let t = get(&txn, id).await?;
        delete(&txn, id).await?;
        audit::record(&txn, Some(self.user.id), "team.deleted", None, format!("{} (members: {})", t.row.name, members_text(&t))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Adds a staff member to a team (admins); the team after.
    pub async fn add_team_member(&self, team: i64, user: i64) -> Result<Team> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let had = get(&txn, team).await?;
        let (t, u) = add_member(&txn, team, user).await?;
        if !had.members.iter().any(|m| m.user.id == user) {
            audit::record(&txn, Some(self.user.id), "team.member_added", None, format!("{}: {}", t.name, u.first_name)).await?;
        }
        let out = get(&txn, team).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Takes someone out of a team (admins); the team after.
    pub async fn remove_team_member(&self, team: i64, user: i64) -> Result<Team> {
        self.require(Role::Admin)?;
        let txn = self.tenant.db.begin().await?;
        let (t, u) = remove_member(&txn, team, user).await?;
        audit::record(&txn, Some(self.user.id), "team.member_removed", None, format!("{}: {}", t.name, u.first_name)).await?;
        let out = get(&txn, team).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// The caller says they are away (teams' rules pass them over) or
    /// available again; themselves after.
    pub async fn set_away(&self, away: bool) -> Result<users::Model> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let before = self.user.away;
        let u = set_away(&txn, self.user.id, away).await?;
        if before != away {
            audit::record(&txn, Some(self.user.id), "person.availability", None, format!("{}: {}", u.first_name, if away { "away" } else { "available" })).await?;
        }
        txn.commit().await?;
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> users::Model {
        let now = Utc::now();
        users::Model {
            id,
            telegram_id: id,
            username: None,
            first_name: format!("u{id}"),
            last_name: None,
            language_code: None,
            role: Role::Helper,
            blocked: false,
            created_at: now,
            updated_at: now,
            bot_blocked_at: None,
            support_pending: None,
            away: false,
            attributes: "{}".into(),
            bot_started_at: None,
        }
    }

    fn ids(v: &[users::Model]) -> Vec<i64> {
        v.iter().map(|u| u.id).collect()
    }

    #[test]
    fn the_turn_starts_after_the_last_pick_and_wraps() {
        let m = || vec![user(3), user(5), user(9)];
        assert_eq!(ids(&in_turn(m(), None)), [3, 5, 9]);
        assert_eq!(ids(&in_turn(m(), Some(3))), [5, 9, 3]);
        assert_eq!(ids(&in_turn(m(), Some(4))), [5, 9, 3], "a last pick who left the team");
        assert_eq!(ids(&in_turn(m(), Some(9))), [3, 5, 9]);
        assert_eq!(ids(&in_turn(m(), Some(10))), [3, 5, 9]);
        assert!(in_turn(Vec::new(), Some(1)).is_empty());
    }

    #[test]
    fn rules_and_names_are_checked() {
        for r in Rule::ALL {
            assert_eq!(Rule::parse(r.as_str()).unwrap(), r);
        }
        assert!(Rule::parse("random").is_err());
        assert_eq!(TeamName::parse("  Billing ").unwrap().as_str(), "Billing");
        for bad in ["", " ", "a\nb", "@billing", &"x".repeat(65)] {
            assert!(TeamName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn away_blocked_and_former_staff_are_passed_over() {
        assert!(available(&user(1)));
        assert!(!available(&users::Model { away: true, ..user(1) }));
        assert!(!available(&users::Model { blocked: true, ..user(1) }));
        assert!(!available(&users::Model { role: Role::User, ..user(1) }));
    }
}
