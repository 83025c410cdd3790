//! The Mini App a tenant's customers open inside Telegram: its page,
//! rendered per tenant in the tenant's brand and the customer's language,
//! and its assets (CSS, the app's script and the vendored Telegram bridge,
//! `vendor/dist/`), compiled into the binary so that serving it needs no
//! Node step and nothing from outside our server. See `miniapp/README.md`.

use std::sync::LazyLock;

use serde::Serialize;

use minijinja::Value;

use crate::{Renderer, Theme, ThemeError};

pub(crate) const TEMPLATE: &str = "miniapp/app.html";

/// One asset of the page.
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The assets as served: the app's script without its whole-line comments
/// (they say why, for whoever reads the source; no browser needs them, and
/// every first load would carry them).
static ASSETS: LazyLock<[(&str, Asset); 3]> = LazyLock::new(|| {
    let script: &'static str = Box::leak(without_comment_lines(include_str!("../miniapp/app.js")).into_boxed_str());
    [
        ("app.css", Asset { content_type: "text/css; charset=utf-8", body: include_str!("../miniapp/app.css") }),
        ("app.js", Asset { content_type: "text/javascript; charset=utf-8", body: script }),
        ("telegram-bridge.js", Asset { content_type: "text/javascript; charset=utf-8", body: include_str!("../vendor/dist/telegram-bridge.js") }),
    ]
});

/// A script's lines that are comments only, left out. (No line of the
/// app's script that starts with `//` is inside a string or template.)
fn without_comment_lines(js: &str) -> String {
    js.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// An asset by file name.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|(n, _)| *n == name).map(|(_, a)| a)
}

/// Changes whenever an asset does: the page asks for `?v=<this>`, so the
/// assets can be cached for a long time.
pub fn asset_version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        // FNV-1a over every asset: stable across builds of the same files.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (_, a) in ASSETS.iter() {
            for b in a.body.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    });
    &VERSION
}

/// The UI strings of every language, as compact JSON (the page picks one).
fn strings_json() -> &'static str {
    static STRINGS: LazyLock<String> = LazyLock::new(|| {
        let v: serde_json::Value = serde_json::from_str(include_str!("../miniapp/strings.json")).expect("strings.json is valid JSON");
        // `</` could end the <script> that holds the strings.
        serde_json::to_string(&v).expect("JSON serialises").replace("</", "<\\/")
    });
    &STRINGS
}

/// Languages the page speaks; the first is the fallback.
pub const LANGUAGES: &[&str] = &["en", "ru"];

/// The language for a Telegram `language_code` or an `Accept-Language`
/// header: the first tag we speak, else English.
pub fn language(requested: Option<&str>) -> &'static str {
    let Some(r) = requested else { return LANGUAGES[0] };
    for tag in r.split(',') {
        let primary = tag.split(';').next().unwrap_or("").trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        if let Some(l) = LANGUAGES.iter().find(|l| **l == primary) {
            return l;
        }
    }
    LANGUAGES[0]
}

/// The tenant's brand on top of Telegram's colours.
#[derive(Debug, Clone, Serialize)]
struct Brand {
    primary: String,
    accent: String,
    radius: u8,
    font: String,
    logo: Option<String>,
}

/// What the page needs to know about the desk it is served for.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub desk: &'a str,
    pub slug: &'a str,
    /// `/t/{slug}`, or empty on the tenant's own domain.
    pub base: &'a str,
    pub theme: Theme,
    /// The tenant's overrides of the theme's tokens (checked when set).
    pub branding: &'a crate::branding::Branding,
    pub lang: &'static str,
    /// Offer the development sign-in when the page is opened outside Telegram.
    pub dev_sign_in: bool,
}

impl Renderer {
    /// The Mini App's page for one desk.
    pub fn mini_app(&self, page: &Page<'_>) -> Result<String, ThemeError> {
        let tmpl = self.env.get_template(TEMPLATE).map_err(|source| ThemeError::Render { name: TEMPLATE, source })?;
        let t = page.theme.tokens(page.branding);
        // The logo is its own request, cached by version: inlined it would
        // weigh on every first load.
        let logo = page.branding.logo_version().map(|v| format!("{}/app/logo?v={v}", page.base));
        let brand = Brand { primary: t.primary_color, accent: t.accent_color, radius: t.radius, font: t.font, logo };
        let ctx = minijinja::context! {
            desk => page.desk,
            slug => page.slug,
            base => page.base,
            lang => page.lang,
            brand => Value::from(minijinja::value::Serde(&brand)),
            strings_json => strings_json(),
            dev_sign_in => page.dev_sign_in,
            asset_version => asset_version(),
        };
        tmpl.render(ctx).map_err(|source| ThemeError::Render { name: TEMPLATE, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(desk: &str, theme: &str) -> String {
        Renderer::new()
            .mini_app(&Page { desk, slug: "acme", base: "/t/acme", theme: Theme::parse(theme).unwrap(), branding: &Default::default(), lang: "ru", dev_sign_in: false })
            .unwrap()
    }

    #[test]
    fn the_page_carries_the_brand_the_language_and_versioned_assets() {
        let html = page("Acme <Support>", "sunrise");
        assert!(html.contains("--brand-primary:#e8590c"), "{html}");
        assert!(html.contains("--brand-radius:18px"));
        assert!(html.contains("<html lang=\"ru\""));
        assert!(html.contains(&format!("/t/acme/app/assets/app.js?v={}", asset_version())));
        assert!(html.contains("Acme &lt;Support&gt;") && !html.contains("<Support>"), "the desk name is escaped");
        assert!(!html.contains("data-dev-sign-in"));
        assert_ne!(page("Acme", "default"), page("Acme", "midnight"));
    }

    #[test]
    fn a_brand_overrides_the_theme_in_the_page() {
        let branding = crate::branding::Branding { primary_color: Some("#123456".into()), font: Some("Inter, sans-serif".into()), ..Default::default() };
        let html = Renderer::new()
            .mini_app(&Page { desk: "Acme", slug: "acme", base: "/t/acme", theme: Theme::parse("sunrise").unwrap(), branding: &branding, lang: "en", dev_sign_in: false })
            .unwrap();
        assert!(html.contains("--brand-primary:#123456;--brand-accent:#2b8a3e;--brand-radius:18px;--brand-font:Inter, sans-serif;"), "{html}");
    }

    #[test]
    fn the_strings_hold_both_languages_with_the_same_keys() {
        let v: serde_json::Value = serde_json::from_str(strings_json()).unwrap();
        let keys = |l: &str| {
            let mut k: Vec<String> = v[l].as_object().unwrap_or_else(|| panic!("no {l}")).keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys("en"), keys("ru"));
        assert!(!strings_json().contains("</"));
    }

    #[test]
    fn languages_come_from_the_first_tag_we_speak() {
        assert_eq!(language(None), "en");
        assert_eq!(language(Some("ru")), "ru");
        assert_eq!(language(Some("ru-RU,ru;q=0.9,en;q=0.8")), "ru");
        assert_eq!(language(Some("de-DE, ru;q=0.5")), "ru");
        assert_eq!(language(Some("uk")), "en");
        assert_eq!(language(Some("")), "en");
    }

    #[test]
    fn assets_have_their_types_and_the_first_load_stays_under_100_kb() {
        assert_eq!(asset("app.css").unwrap().content_type, "text/css; charset=utf-8");
        assert!(asset("app.js").unwrap().content_type.starts_with("text/javascript"));
        assert!(asset("../Cargo.toml").is_none() && asset("").is_none());
        let html = page("Acme Support", "default");
        let total = html.len() + ASSETS.iter().map(|(_, a)| a.body.len()).sum::<usize>();
        assert!(total < 100_000, "first load is {total} bytes");
    }

    #[test]
    fn the_script_is_served_without_its_comment_lines_and_still_whole() {
        let served = asset("app.js").unwrap().body;
        assert!(!served.lines().any(|l| l.trim_start().starts_with("//")));
        assert_eq!(without_comment_lines("a();\n  // why\nb(); // kept\nc();"), "a();\nb(); // kept\nc();");
        // Every line that is code is still there, in order.
        let code: Vec<&str> = include_str!("../miniapp/app.js").lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        assert_eq!(served.lines().collect::<Vec<_>>(), code);
    }
}
