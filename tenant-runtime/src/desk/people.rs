//! The desk's people: listing them, granting roles and blocking.
//!
//! PRODUCT.md: "A role may only be granted by someone with a higher role."
//! So a moderator may make helpers, an admin moderators, the owner admins;
//! and only someone above a person's current role may change it or block
//! them. The owner role itself follows the tenant's owner account (the
//! operator's `owner_telegram_id`), never a grant.

use chrono::Utc;
use sea_orm::sea_query::ExprTrait as _;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::domain::{Invalid, Role};
use crate::storage::entities::users;
use crate::error::{Result, RuntimeError};
use crate::desk::context::Viewer;

/// A people list request.
#[derive(Debug, Clone, Default)]
pub struct PeopleQuery {
    pub role: Option<Role>,
    /// Staff only (helpers and up).
    pub staff: bool,
    pub blocked: Option<bool>,
    /// Part of a name or username, case-insensitive.
    pub q: Option<String>,
    /// Users after this id (keyset pages in id order).
    pub after: Option<i64>,
    pub limit: u64,
}

pub async fn list(txn: &DatabaseTransaction, q: &PeopleQuery) -> Result<(Vec<users::Model>, Option<i64>)> {
    let mut c = Condition::all();
    if let Some(r) = q.role {
        c = c.add(users::Column::Role.eq(r.as_str()));
    }
    if q.staff {
        c = c.add(users::Column::Role.ne(Role::User.as_str()));
    }
    if let Some(b) = q.blocked {
        c = c.add(users::Column::Blocked.eq(b));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // LIKE with the pattern characters escaped, lower-cased on both
        // sides (SQLite's LOWER folds ASCII only; names are compared as
        // typed beyond that).
        let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let like = |col: users::Column| {
            sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(sea_orm::sea_query::Expr::col(col))).like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        c = c.add(Condition::any().add(like(users::Column::FirstName)).add(like(users::Column::LastName)).add(like(users::Column::Username)));
    }
    if let Some(a) = q.after {
        c = c.add(users::Column::Id.gt(a));
    }
    let limit = q.limit.clamp(1, 100);
    let mut items = users::Entity::find().filter(c).order_by_asc(users::Column::Id).limit(limit + 1).all(txn).await?;
    let next = if items.len() as u64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| u.id)
    } else {
        None
    };
    Ok((items, next))
}

pub async fn get(txn: &DatabaseTransaction, id: i64) -> Result<users::Model> {
    users::Entity::find_by_id(id).one(txn).await?.ok_or(RuntimeError::NotFound("user"))
}

/// Whether `actor` may set someone's role from `from` to `to`: moderators
/// and up manage roles, strictly below their own.
pub fn may_grant(actor: Role, from: Role, to: Role) -> bool {
    actor >= Role::Moderator && to != Role::Owner && actor > from && actor > to
}

/// Changes a person's role and/or blocks or unblocks them.
pub async fn change(txn: &DatabaseTransaction, viewer: &Viewer, id: i64, role: Option<Role>, blocked: Option<bool>) -> Result<users::Model> {
    if role.is_none() && blocked.is_none() {
        return Err(Invalid::new("body", "names nothing to change").into());
    }
    let target = get(txn, id).await?;
    if target.id == viewer.user_id.get() {
        return Err(RuntimeError::Forbidden("you cannot change your own role or block yourself".into()));
    }
    let current = target.role;
    if viewer.role <= current {
        return Err(RuntimeError::Forbidden(format!("only someone above the {current} role may change this person")));
    }
    let mut am: users::ActiveModel = target.into();
    if let Some(to) = role {
        if !may_grant(viewer.role, current, to) {
            return Err(RuntimeError::Forbidden(if to == Role::Owner {
                "the owner role follows the desk's owner account; the platform operator changes it".into()
            } else {
                format!("a {} may grant roles below their own, not {to}", viewer.role)
            }));
        }
        am.role = Set(to);
    }
    if let Some(b) = blocked {
        am.blocked = Set(b);
    }
    am.updated_at = Set(Utc::now());
    Ok(am.update(txn).await?)
}

/// Puts a person's role back as it was (a change the plan refused).
pub(crate) async fn restore_role(txn: &DatabaseTransaction, id: i64, role: &Role) -> Result<()> {
    users::Entity::update_many().col_expr(users::Column::Role, sea_orm::sea_query::Expr::value(*role)).filter(users::Column::Id.eq(id)).exec(txn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn roles_are_granted_only_from_above() {
        assert!(may_grant(Moderator, User, Helper));
        assert!(!may_grant(Moderator, User, Moderator));
        assert!(!may_grant(Moderator, Helper, Moderator));
        assert!(may_grant(Admin, Helper, Moderator));
        assert!(!may_grant(Admin, Moderator, Admin));
        assert!(may_grant(Owner, Moderator, Admin));
        assert!(may_grant(Owner, Admin, User));
        assert!(!may_grant(Owner, Admin, Owner));
        assert!(!may_grant(Admin, Admin, User));
        assert!(!may_grant(Helper, User, User));
    }
}
