//! The console's words, in Fluent: `locales/{lang}/console.ftl`, English
//! the source. Templates translate with the `t` filter, in the page's
//! language (`v.frame.lang`): by the English text (`{{ "Tickets" | t }}`),
//! or by id with values, plurals included
//! (`{{ "tickets-count" | t(count=v.total) }}`); the platform translates
//! the labels it builds with [`tr`] and [`trv`]. A text a language lacks is
//! shown in English (and a test fails on it for every built-in language).

use std::sync::LazyLock;

use tikethet_themes::language::Catalog;

/// The languages the console speaks.
pub const LANGUAGES: [(&str, &str); 4] = [("en", "English"), ("ru", "Русский"), ("uk", "Українська"), ("es", "Español")];

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::new(&[
        ("en", include_str!("../locales/en/console.ftl")),
        ("ru", include_str!("../locales/ru/console.ftl")),
        ("uk", include_str!("../locales/uk/console.ftl")),
        ("es", include_str!("../locales/es/console.ftl")),
    ])
});

/// The console's texts.
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

/// The console's language for a Telegram `language_code` (or a choice):
/// the first of ours with its primary tag, else English.
pub fn lang_of(code: Option<&str>) -> &'static str {
    let primary = code.map(tikethet_themes::language::primary).unwrap_or_default();
    LANGUAGES.iter().map(|(l, _)| *l).find(|l| *l == primary).unwrap_or("en")
}

/// `text` (English) in `lang`.
pub fn tr<'a>(lang: &str, text: &'a str) -> &'a str {
    CATALOG.text(lang, text)
}

/// The text `id` with values (counts take the language's plural forms).
pub fn trv(lang: &str, id: &str, values: &serde_json::Value) -> String {
    CATALOG.format(lang, id, values).unwrap_or_else(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_for_its_speakers_and_english_otherwise() {
        assert_eq!((lang_of(Some("ru")), lang_of(Some("ru-RU")), lang_of(Some("uk")), lang_of(Some("es-AR")), lang_of(Some("de")), lang_of(None)), ("ru", "ru", "uk", "es", "en", "en"));
        assert_eq!(tr("ru", "Tickets"), "Обращения");
        assert_eq!(tr("en", "Tickets"), "Tickets");
        assert_eq!(tr("ru", "a text nobody translated"), "a text nobody translated");
    }

    #[test]
    fn every_language_has_every_text() {
        for (lang, _) in LANGUAGES {
            let missing = CATALOG.missing(lang);
            assert!(missing.is_empty(), "{lang} lacks {} texts: {missing:?}", missing.len());
        }
    }

    #[test]
    fn counts_take_their_plural_forms() {
        let n = |lang: &str, count: u64| trv(lang, "tickets-count", &serde_json::json!({ "count": count }));
        assert_eq!([n("ru", 1), n("ru", 2), n("ru", 5)], ["1 обращение", "2 обращения", "5 обращений"]);
        assert_eq!([n("en", 1), n("en", 5)], ["1 ticket", "5 tickets"]);
        assert_eq!([n("uk", 1), n("uk", 3), n("uk", 5)], ["1 звернення", "3 звернення", "5 звернень"]);
        assert_eq!([n("es", 1), n("es", 5)], ["1 ticket", "5 tickets"]);
    }
}
