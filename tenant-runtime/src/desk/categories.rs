//! Categories: tenant-defined, with an icon, a colour, an order and an
//! active flag. Admins manage them; customers see only active ones (the Mini
//! App's picker), staff all of them.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::Invalid;
use crate::storage::entities::{categories, tickets};
use crate::error::{Result, RuntimeError};
use crate::desk::context::Viewer;

/// Most categories one desk may have.
pub const MAX_CATEGORIES: u64 = 200;

/// A category's name: 1 to 64 characters on one line, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryName(String);

impl CategoryName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
            return Err(Invalid::new("name", "must be 1 to 64 characters on one line"));
        }
        Ok(CategoryName(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An icon: an emoji or a few characters, at most 8, no spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryIcon(String);

impl CategoryIcon {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.is_empty() || s.chars().count() > 8 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Invalid::new("icon", "must be an emoji or up to 8 characters without spaces"));
        }
        Ok(CategoryIcon(s.to_owned()))
    }
}

/// A colour as `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok = s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !ok {
            return Err(Invalid::new("color", "must be #rrggbb"));
        }
        Ok(Color(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category to create, or the changes to one (`None` keeps a field).
#[derive(Debug, Clone, Default)]
pub struct CategoryFields {
    pub name: Option<CategoryName>,
    /// `Some(None)` removes the icon.
    pub icon: Option<Option<CategoryIcon>>,
    pub color: Option<Option<Color>>,
    pub position: Option<i32>,
    pub active: Option<bool>,
}

pub async fn list(txn: &DatabaseTransaction, viewer: &Viewer) -> Result<Vec<categories::Model>> {
    let mut q = categories::Entity::find();
    if !viewer.role.is_staff() {
        q = q.filter(categories::Column::Active.eq(true));
    }
    Ok(q.order_by_asc(categories::Column::SortOrder).order_by_asc(categories::Column::Id).all(txn).await?)
}

pub async fn create(txn: &DatabaseTransaction, f: CategoryFields) -> Result<categories::Model> {
    use sea_orm::PaginatorTrait as _;
    let name = f.name.ok_or_else(|| Invalid::new("name", "is required"))?;
    if categories::Entity::find().count(txn).await? >= MAX_CATEGORIES {
        return Err(RuntimeError::Conflict(format!("a desk has at most {MAX_CATEGORIES} categories")));
    }
    let am = categories::ActiveModel {
        name: Set(name.0),
        icon: Set(f.icon.flatten().map(|i| i.0)),
        color: Set(f.color.flatten().map(|c| c.0)),
        sort_order: Set(f.position.unwrap_or(0)),
        active: Set(f.active.unwrap_or(true)),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    // A taken name is a unique violation: 409 through the one classifier.
    Ok(am.insert(txn).await?)
}

pub async fn update(txn: &DatabaseTransaction, id: i64, f: CategoryFields) -> Result<categories::Model> {
    let c = categories::Entity::find_by_id(id).one(txn).await?.ok_or(RuntimeError::NotFound("category"))?;
    let mut am: categories::ActiveModel = c.into();
    if let Some(n) = f.name {
        am.name = Set(n.0);
    }
    if let Some(i) = f.icon {
        am.icon = Set(i.map(|i| i.0));
    }
    if let Some(c) = f.color {
        am.color = Set(c.map(|c| c.0));
    }
    if let Some(p) = f.position {
        am.sort_order = Set(p);
    }
    if let Some(a) = f.active {
        am.active = Set(a);
    }
    Ok(am.update(txn).await?)
}

/// Deletes a category; its tickets keep going without one.
pub async fn delete(txn: &DatabaseTransaction, id: i64) -> Result<()> {
    let c = categories::Entity::find_by_id(id).one(txn).await?.ok_or(RuntimeError::NotFound("category"))?;
    tickets::Entity::update_many()
        .col_expr(tickets::Column::CategoryId, Expr::value(Option::<i64>::None))
        .filter(tickets::Column::CategoryId.eq(c.id))
        .exec(txn)
        .await?;
    categories::Entity::delete_by_id(c.id).exec(txn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_checked() {
        assert_eq!(CategoryName::parse("  Billing ").unwrap().as_str(), "Billing");
        for bad in ["", "   ", "a\nb", &"x".repeat(65)] {
            assert!(CategoryName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(CategoryIcon::parse("💳").is_ok());
        assert!(CategoryIcon::parse("👨‍👩‍👧").is_ok());
        for bad in ["", "a b", "123456789"] {
            assert!(CategoryIcon::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Color::parse("#AABBCC").unwrap().as_str(), "#aabbcc");
        for bad in ["", "#abc", "aabbcc", "#gghhii", "#aabbccd", "#ааббв"] {
            assert!(Color::parse(bad).is_err(), "{bad:?}");
        }
    }
}
