//! Pages we serve to browsers: the Mini App (rendered per tenant by
//! `tikethet_themes::miniapp`) and its assets. Plain poem handlers, not
//! OpenAPI operations: they answer HTML, CSS and JavaScript.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use tikethet_themes::miniapp;

use super::error;
use tikethet_runtime::RuntimeError;

use crate::AppState;

/// The page may load only from us (and blob: images, sound and video of
/// attachments it fetched itself); Telegram embeds it in its own frames,
/// so no frame-ancestors limit.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'";

/// `GET /t/{slug}/app/`: the tenant's Mini App.
#[handler]
pub async fn mini_app(Path(slug): Path<String>, req: &Request, Data(state): Data<&AppState>) -> Response {
    let tenant = match state.runtime.tenant_by_slug(&slug) {
        Ok(t) => t,
        Err(RuntimeError::Upgrading) => {
            let mut r = error::json_error(StatusCode::SERVICE_UNAVAILABLE, "upgrading", "this desk is being upgraded; try again in a few seconds");
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            return r;
        }
        Err(_) => return error::json_error(StatusCode::NOT_FOUND, "not_found", "tenant not found"),
    };
    // The browser's first language the desk speaks, else its default; the
    // script switches to the Telegram user's own once it knows it.
    let accepted = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let lang = tikethet_themes::language::choose_from_header(accepted, tenant.info.bot_texts.0.keys().map(String::as_str), &tenant.info.default_language);
    let langs = desk_languages(&tenant.info);
    // On the tenant's own domain its paths have no prefix.
    let base = if req.extensions().get::<super::domains::OwnDomain>().is_some() { String::new() } else { format!("/t/{}", tenant.info.slug) };
    let page = miniapp::Page {
        desk: &tenant.info.name,
        slug: tenant.info.slug.as_str(),
        base: &base,
        theme: tenant.info.theme,
        branding: &tenant.info.branding,
        lang: &lang,
        langs: &langs,
        texts: tenant.info.bot_texts.0.get(&lang),
        default_language: &tenant.info.default_language,
        dev_sign_in: state.settings.dev_sign_in,
    };
    match state.runtime.renderer().mini_app(&page) {
        Ok(html) => Response::builder()
            .content_type("text/html; charset=utf-8")
            .header(header::CONTENT_SECURITY_POLICY, CSP)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::REFERRER_POLICY, "no-referrer")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "failed to render the Mini App");
            error::json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the page could not be rendered")
        }
    }
}

/// `GET /t/{slug}/app/logo`: the desk's logo (versioned by `?v=` in the
/// page, so cached long); 404 when it has none.
#[handler]
pub async fn logo(Path(slug): Path<String>, Data(state): Data<&AppState>) -> Response {
    let image = state.runtime.tenant_by_slug(&slug).ok().and_then(|t| t.info.branding.logo_image());
    match image {
        Some((content_type, bytes)) => Response::builder()
            .content_type(content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(bytes),
        None => error::json_error(StatusCode::NOT_FOUND, "not_found", "this desk has no logo"),
    }
}

/// Every language a desk speaks: the built-in ones and its own.
fn desk_languages(info: &tikethet_runtime::storage::tenant::TenantInfo) -> Vec<String> {
    let mut langs: Vec<String> = tikethet_themes::language::BUILT_IN.iter().map(|l| (*l).to_owned()).collect();
    langs.extend(info.bot_texts.0.keys().filter(|l| !tikethet_themes::language::is_built_in(l)).cloned());
    langs
}

/// `GET /t/{slug}/app/strings/{lang}.json`: the page's words in another of
/// the desk's languages (the script asks when Telegram says the user
/// speaks it). Short-lived in caches: a desk may change its texts.
#[handler]
pub async fn mini_app_strings(Path((slug, file)): Path<(String, String)>, Data(state): Data<&AppState>) -> Response {
    let Ok(tenant) = state.runtime.tenant_by_slug(&slug) else { return error::json_error(StatusCode::NOT_FOUND, "not_found", "tenant not found") };
    let langs = desk_languages(&tenant.info);
    let Some(lang) = file.strip_suffix(".json").and_then(|l| langs.iter().find(|x| x.eq_ignore_ascii_case(l))) else {
        return error::json_error(StatusCode::NOT_FOUND, "not_found", &format!("this desk does not speak that language; it speaks {}", langs.join(", ")));
    };
    let strings = miniapp::strings(lang, tenant.info.bot_texts.0.get(lang), &tenant.info.default_language);
    Response::builder()
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(serde_json::to_string(&strings).unwrap_or_default())
}

/// `GET /t/{slug}/app`: to the page with its trailing slash, so that its
/// relative links resolve.
#[handler]
pub async fn mini_app_redirect(Path(slug): Path<String>) -> Response {
    Response::builder().status(StatusCode::PERMANENT_REDIRECT).header(header::LOCATION, format!("/t/{slug}/app/")).finish()
}

/// `GET /t/{slug}/app/assets/{file}`: versioned by `?v=`, so cached long.
#[handler]
pub async fn asset(Path((_slug, file)): Path<(String, String)>) -> Response {
    match miniapp::asset(&file) {
        Some(a) => Response::builder()
            .content_type(a.content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(a.body),
        None => error::json_error(StatusCode::NOT_FOUND, "not_found", "no such asset"),
    }
    .into_response()
}

/// `GET /t/{slug}/admin`: to the console with its trailing slash.
#[handler]
pub async fn admin_redirect(Path(slug): Path<String>) -> Response {
    Response::builder().status(StatusCode::PERMANENT_REDIRECT).header(header::LOCATION, format!("/t/{slug}/admin/")).finish()
}
