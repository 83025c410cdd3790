//! Saved views of the queue, shared by the desk's staff: a name and the
//! queue's filters as a query string. Any staff member saves one; its
//! author or an admin deletes it.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait, QueryOrder};

use crate::desk::audit;
use crate::desk::context::TenantContext;
use crate::domain::{Invalid, Role};
use crate::error::{Result, RuntimeError};
use crate::storage::entities::saved_views;

/// Views one desk keeps at most.
pub const MAX_VIEWS: u64 = 100;
/// The filters the queue takes, the only keys a view may hold.
pub const KEYS: [&str; 5] = ["status", "q", "assignee", "tag", "team"];

/// A view to keep: a name and the queue's filters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewFields {
    pub name: String,
    pub query: String,
}

impl ViewFields {
    /// `query` is a query string of the queue's filters (a leading `?`
    /// allowed); other keys and empty values are dropped, so a view never
    /// carries a cursor or a flash.
    pub fn parse(name: &str, query: &str) -> Result<Self, Invalid> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(Invalid::new("name", "must be 1 to 64 characters on one line"));
        }
        if query.len() > 1000 {
            return Err(Invalid::new("query", "must be at most 1,000 characters"));
        }
        let kept: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()).filter(|(k, v)| KEYS.contains(&k.as_ref()) && !v.is_empty()))
            .finish();
        Ok(ViewFields { name: name.to_owned(), query: kept })
    }
}

impl TenantContext {
    /// The desk's saved views by name (staff).
    pub async fn views(&self) -> Result<Vec<saved_views::Model>> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let out = saved_views::Entity::find().order_by_asc(saved_views::Column::Name).all(&txn).await?;
        txn.commit().await?;
        Ok(out)
    }

    /// Saves a view for the whole desk (staff); a name taken is 409.
    pub async fn save_view(&self, f: ViewFields) -> Result<saved_views::Model> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        if saved_views::Entity::find().count(&txn).await? >= MAX_VIEWS {
            return Err(RuntimeError::Conflict(format!("a desk keeps at most {MAX_VIEWS} views; delete one first")));
        }
        let v = saved_views::ActiveModel { name: Set(f.name.clone()), query: Set(f.query), created_by: Set(self.user.id), created_at: Set(Utc::now()), ..Default::default() }
            .insert(&txn)
            .await
            .map_err(|e| if crate::is_unique_violation(&e) { RuntimeError::Conflict(format!("a view named {:?} exists", f.name)) } else { e.into() })?;
        audit::record(&txn, Some(self.user.id), "view.saved", None, format!("{}: ?{}", v.name, v.query)).await?;
        txn.commit().await?;
        Ok(v)
    }

    /// Deletes a view: its author, or an admin.
    pub async fn delete_view(&self, id: i64) -> Result<()> {
        self.require(Role::Helper)?;
        let txn = self.tenant.db.begin().await?;
        let v = saved_views::Entity::find_by_id(id).one(&txn).await?.ok_or(RuntimeError::NotFound("view"))?;
        if v.created_by != self.user.id && self.viewer.role < Role::Admin {
            return Err(RuntimeError::Forbidden("only its author or an admin deletes a view".into()));
        }
        saved_views::Entity::delete_by_id(id).exec(&txn).await?;
        audit::record(&txn, Some(self.user.id), "view.deleted", None, v.name).await?;
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_keeps_only_the_queues_filters() {
        let v = ViewFields::parse(" Mine ", "?status=open&assignee=me&cursor=abc&done=x&tag=&team=3").unwrap();
        assert_eq!(v, ViewFields { name: "Mine".into(), query: "status=open&assignee=me&team=3".into() });
        assert!(ViewFields::parse("", "status=open").is_err());
        assert_eq!(ViewFields::parse("All", "").unwrap().query, "");
    }
}
