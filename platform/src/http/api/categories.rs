//! The desk's ticket categories (admins manage them).

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tikethet_runtime::desk::categories::{CategoryFields, CategoryIcon, CategoryName, Color};
use tikethet_runtime::domain::{Invalid, Role};
use tikethet_runtime::storage::entities::categories;

use super::{NoContent, Tag, TenantAuth};
use crate::AppState;
use crate::http::error::ApiError;

#[derive(Debug, Object)]
pub struct CategoryView {
    pub id: i64,
    pub name: String,
    /// An emoji (or a few characters).
    #[oai(nullable)]
    pub icon: Option<String>,
    /// `#rrggbb`.
    #[oai(nullable)]
    pub color: Option<String>,
    /// Categories are shown in ascending position.
    pub position: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<categories::Model> for CategoryView {
    fn from(c: categories::Model) -> Self {
        CategoryView { id: c.id, name: c.name, icon: c.icon, color: c.color, position: c.sort_order, active: c.active, created_at: c.created_at }
    }
}

#[derive(Debug, Object)]
pub struct CategoryList {
    pub items: Vec<CategoryView>,
}

#[derive(Debug, Object)]
pub struct CategoryInput {
    /// 1 to 64 characters on one line; unique in the desk.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// An emoji or up to 8 characters; `null` removes it.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub icon: MaybeUndefined<String>,
    /// `#rrggbb`; `null` removes it.
    #[oai(validator(pattern = "^#[0-9a-fA-F]{6}$"))]
    pub color: MaybeUndefined<String>,
    /// -10,000 to 10,000.
    #[oai(validator(minimum(value = "-10000"), maximum(value = "10000")))]
    pub position: Option<i32>,
    pub active: Option<bool>,
}

impl CategoryInput {
    fn fields(self) -> Result<CategoryFields, Invalid> {
        Ok(CategoryFields {
            name: self.name.as_deref().map(CategoryName::parse).transpose()?,
            icon: match self.icon {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(CategoryIcon::parse(&v)?)),
            },
            color: match self.color {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(Color::parse(&v)?)),
            },
            position: self.position,
            active: self.active,
        })
    }
}

#[derive(ApiResponse)]
pub enum CategoryCreated {
    #[oai(status = 201)]
    Created(Json<CategoryView>),
}

pub struct CategoriesApi {
    pub state: AppState,
}

#[OpenApi]
impl CategoriesApi {
    /// List categories
    ///
    /// Customers see active ones; staff see all.
    #[oai(path = "/t/:slug/api/v1/categories", method = "get", tag = "Tag::Categories")]
    async fn categories(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth) -> Result<Json<CategoryList>, ApiError> {
        let ctx = auth.0;
        Ok(Json(CategoryList { items: ctx.categories().await?.into_iter().map(Into::into).collect() }))
    }

    /// Create a category (admins)
    #[oai(path = "/t/:slug/api/v1/categories", method = "post", tag = "Tag::Categories")]
    async fn create_category(&self, #[oai(name = "slug")] _slug: Path<String>, auth: TenantAuth, body: Json<CategoryInput>) -> Result<CategoryCreated, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        let c = ctx.create_category(body.0.fields()?).await?;
        Ok(CategoryCreated::Created(Json(c.into())))
    }

    /// Change a category (admins)
    #[oai(path = "/t/:slug/api/v1/categories/:id", method = "patch", tag = "Tag::Categories")]
    async fn update_category(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth, body: Json<CategoryInput>) -> Result<Json<CategoryView>, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        Ok(Json(ctx.update_category(id.0, body.0.fields()?).await?.into()))
    }

    /// Delete a category (admins)
    ///
    /// Its tickets keep going without a category.
    #[oai(path = "/t/:slug/api/v1/categories/:id", method = "delete", tag = "Tag::Categories")]
    async fn delete_category(&self, #[oai(name = "slug")] _slug: Path<String>, id: Path<i64>, auth: TenantAuth) -> Result<NoContent, ApiError> {
        let ctx = auth.0.at_least(Role::Admin)?;
        ctx.delete_category(id.0).await?;
        Ok(NoContent::NoContent)
    }
}
