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

/// The page's words in every built-in language, in Fluent
/// (`locales/{lang}/miniapp.ftl`).
static CATALOG: LazyLock<crate::language::Catalog> = LazyLock::new(|| {
    crate::language::Catalog::new(&[
        ("en", include_str!("../locales/en/miniapp.ftl")),
        ("ru", include_str!("../locales/ru/miniapp.ftl")),
        ("uk", include_str!("../locales/uk/miniapp.ftl")),
        ("es", include_str!("../locales/es/miniapp.ftl")),
    ])
});

/// Each text's id and the values it takes, from the English source.
static IDS: LazyLock<Vec<(&'static str, Vec<&'static str>)>> = LazyLock::new(|| {
    include_str!("../locales/en/miniapp.ftl")
        .lines()
        .filter_map(|l| {
            let (id, value) = l.split_once(" = ")?;
            let vars = value.split("{ $").skip(1).filter_map(|rest| rest.split(' ').next()).collect();
            (!id.starts_with('#')).then_some((id, vars))
        })
        .collect()
});

/// Whether the page has a text of this id (a desk may write its own).
pub fn is_text(id: &str) -> bool {
    IDS.iter().any(|(i, _)| *i == id)
}

/// Each value a text takes, as the script fills it: `{name}`.
fn placeholders(vars: &[&str]) -> serde_json::Value {
    serde_json::Value::Object(vars.iter().map(|v| ((*v).to_owned(), serde_json::Value::String(format!("{{{v}}}")))).collect())
}

/// The page's words in `lang`, with a desk's own texts (`app.{id}`,
/// Fluent) over the built-in language of the same primary tag, or for a
/// language of the desk's own, over its default language (`fallback`);
/// English for what a built-in language lacks. As the script reads them:
/// `{name}` where a value goes.
pub fn strings(lang: &str, own: Option<&std::collections::BTreeMap<String, String>>, fallback: &str) -> serde_json::Map<String, serde_json::Value> {
    let primary = crate::language::primary(lang);
    let built_in = if crate::language::is_built_in(&primary) { primary } else { crate::language::primary(fallback) };
    IDS.iter()
        .map(|(id, vars)| {
            let values = placeholders(vars);
            let mine = own
                .and_then(|o| o.get(&format!("{APP_PREFIX}{id}")))
                .and_then(|src| crate::language::compile_own(lang, src).ok())
                .and_then(|t| t.render(&values).ok());
            let text = mine.or_else(|| CATALOG.format(&built_in, id, &values)).unwrap_or_else(|| (*id).to_owned());
            ((*id).to_owned(), serde_json::Value::String(text))
        })
        .collect()
}

/// A desk's own Mini App text is named `app.{id}` among its texts.
pub const APP_PREFIX: &str = "app.";

/// Checks a desk's own Mini App text: a known id, Fluent, and only the
/// values that text takes.
pub fn check_text(lang: &str, id: &str, src: &str) -> Result<(), String> {
    let Some((_, vars)) = IDS.iter().find(|(i, _)| *i == id) else {
        return Err(format!("unknown Mini App text; known: {}", IDS.iter().map(|(i, _)| format!("{APP_PREFIX}{i}")).collect::<Vec<_>>().join(", ")));
    };
    let text = crate::language::compile_own(lang, src).map_err(|e| e.to_string())?;
    let out = text.render(&placeholders(vars)).map_err(|e| e.to_string())?;
    if out.trim().is_empty() {
        return Err("renders to nothing".to_owned());
    }
    Ok(())
}

/// The page's words as the page embeds them: its language, the languages
/// it can switch to (fetched when Telegram says the user speaks another)
/// with their names, and the texts.
pub fn strings_json(lang: &str, langs: &[String], own: Option<&std::collections::BTreeMap<String, String>>, fallback: &str) -> String {
    let names: serde_json::Map<String, serde_json::Value> = langs
        .iter()
        .map(|l| {
            let name = crate::language::NAMES.iter().find(|(c, _)| c == l).map_or_else(|| l.clone(), |(_, n)| (*n).to_owned());
            (l.clone(), serde_json::Value::String(name))
        })
        .collect();
    let v = serde_json::json!({ "lang": lang, "langs": names, "strings": strings(lang, own, fallback) });
    // `</` could end the <script> that holds the strings.
    serde_json::to_string(&v).expect("JSON serialises").replace("</", "<\\/")
}

/// Languages the page speaks built in; the first is the fallback.
pub const LANGUAGES: &[&str] = crate::language::BUILT_IN;

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
    /// The page's language: a built-in one or one the desk wrote texts in.
    pub lang: &'a str,
    /// Every language the desk speaks (the page may switch to one).
    pub langs: &'a [String],
    /// The desk's own texts in `lang` (its Mini App texts are `app.{id}`).
    pub texts: Option<&'a std::collections::BTreeMap<String, String>>,
    /// What a language of the desk's own falls back to.
    pub default_language: &'a str,
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
            strings_json => strings_json(page.lang, page.langs, page.texts, page.default_language),
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
            .mini_app(&Page { desk, slug: "acme", base: "/t/acme", theme: Theme::parse(theme).unwrap(), branding: &Default::default(), lang: "ru", langs: &[], texts: None, default_language: "en", dev_sign_in: false })
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
            .mini_app(&Page { desk: "Acme", slug: "acme", base: "/t/acme", theme: Theme::parse("sunrise").unwrap(), branding: &branding, lang: "en", langs: &["en".to_owned(), "ru".to_owned()], texts: None, default_language: "en", dev_sign_in: false })
            .unwrap();
        assert!(html.contains("--brand-primary:#123456;--brand-accent:#2b8a3e;--brand-radius:18px;--brand-font:Inter, sans-serif;"), "{html}");
    }

    #[test]
    fn every_language_has_every_text_and_values_become_placeholders() {
        for lang in crate::language::BUILT_IN {
            let missing = CATALOG.missing(lang);
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
        }
        let ru = strings("ru", None, "en");
        assert_eq!(ru["remove"], "Удалить {name}");
        assert_eq!(strings("de", None, "en")["remove"], "Remove {name}", "the default for a language we do not have");
        assert_eq!(strings("de", None, "ru")["remove"], "Удалить {name}");
        let own = [("app.remove".to_owned(), "Entfernen: { $name }".to_owned())].into();
        assert_eq!(strings("de", Some(&own), "ru")["remove"], "Entfernen: {name}");
        assert!(check_text("de", "remove", "Weg mit { $name }").is_ok());
        assert!(check_text("de", "remove", "Weg mit { $nobody }").unwrap_err().contains("$nobody"));
        assert!(check_text("de", "nothing", "x").unwrap_err().contains("unknown Mini App text"));
        let json = strings_json("ru", &["en".to_owned(), "ru".to_owned(), "de".to_owned()], None, "en");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!((v["lang"].as_str(), v["langs"]["de"].as_str(), v["langs"]["ru"].as_str()), (Some("ru"), Some("de"), Some("Русский")));
        assert!(!json.contains("</"));
    }

    #[test]
    fn languages_come_from_the_first_tag_we_speak() {
        assert_eq!(language(None), "en");
        assert_eq!(language(Some("ru")), "ru");
        assert_eq!(language(Some("ru-RU,ru;q=0.9,en;q=0.8")), "ru");
        assert_eq!(language(Some("de-DE, ru;q=0.5")), "ru");
        assert_eq!(language(Some("uk")), "uk");
        assert_eq!(language(Some("fr")), "en");
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
