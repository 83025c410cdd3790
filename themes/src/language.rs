//! Languages: the bot's texts as Fluent resources with plural rules.
//!
//! Each built-in language has one resource, `locales/{lang}/bot.ftl`, with a
//! message per [`crate::BotText`] (its name is the message id). A desk may
//! speak more: its own texts under any BCP 47 code (see
//! [`crate::BotTexts`]) make a language of its own, and what it leaves out
//! comes from the desk's default language.
//!
//! How a text's context becomes Fluent arguments ([`args_of`]): numbers stay
//! numbers (so `{ $count -> [one] … *[other] … }` picks the plural form the
//! language's rules give), strings stay strings, `null` becomes `none` and
//! booleans `true`/`false` (so a selector can test them), an object's fields
//! are flattened as `parent_field`, and a list is rendered item by item with
//! the message's attribute of the same name (`.tickets = …` for `tickets`),
//! one line each, and passed as one string. Fluent has no loops and no
//! recursion across messages here, so a text's cost is bounded by its source.

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde_json::Value;
use unic_langid::LanguageIdentifier;

/// The languages built in, the first the fallback of last resort.
pub const BUILT_IN: &[&str] = &["en", "ru", "uk", "es"];

/// Each built-in language's own name, for pickers.
pub const NAMES: &[(&str, &str)] = &[("en", "English"), ("ru", "Русский"), ("uk", "Українська"), ("es", "Español")];

const SOURCES: &[(&str, &str)] = &[
    ("en", include_str!("../locales/en/bot.ftl")),
    ("ru", include_str!("../locales/ru/bot.ftl")),
    ("uk", include_str!("../locales/uk/bot.ftl")),
    ("es", include_str!("../locales/es/bot.ftl")),
];

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<(&'static str, Bundle)>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, src)| {
            let res = FluentResource::try_new((*src).to_owned()).unwrap_or_else(|(_, e)| panic!("locales/{lang}/bot.ftl does not parse: {e:?}"));
            let mut b = new_bundle(lang.parse().expect("a valid tag"));
            b.add_resource(res).unwrap_or_else(|e| panic!("locales/{lang}/bot.ftl: {e:?}"));
            (*lang, b)
        })
        .collect()
});

fn new_bundle(lang: LanguageIdentifier) -> Bundle {
    let mut b = FluentBundle::new_concurrent(vec![lang]);
    // Telegram shows plain text: no Unicode isolation marks around values.
    b.set_use_isolating(false);
    b
}

/// A checked BCP 47 tag in its canonical form (`pt-BR`, `es`, `sr-Latn`).
pub fn canonical_tag(tag: &str) -> Result<String, String> {
    let t = tag.trim();
    if t.is_empty() || t.len() > 35 {
        return Err(format!("{tag:?} is not a language tag (BCP 47, such as es or pt-BR)"));
    }
    let id: LanguageIdentifier = t.replace('_', "-").parse().map_err(|_| format!("{tag:?} is not a language tag (BCP 47, such as es or pt-BR)"))?;
    if id.language.is_empty() {
        return Err(format!("{tag:?} names no language"));
    }
    Ok(id.to_string())
}

/// The primary language subtag, lowercased (`pt` of `pt-BR`).
pub fn primary(tag: &str) -> String {
    tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase()
}

/// Picks the language for a customer's `language_code`: a language the desk
/// has texts in (exact tag, then the same primary language), a built-in one
/// of the same primary language, else the desk's default.
pub fn choose<'a>(requested: Option<&str>, own: impl Iterator<Item = &'a str> + Clone, default: &str) -> String {
    requested.and_then(|r| speaks(r, own)).unwrap_or_else(|| default.to_owned())
}

/// The language a desk speaks that is closest to `tag`, if any: its own
/// (exact tag, then the same primary language), then a built-in one.
pub fn speaks<'a>(tag: &str, mut own: impl Iterator<Item = &'a str> + Clone) -> Option<String> {
    let wanted = tag.trim().replace('_', "-");
    if wanted.is_empty() {
        return None;
    }
    if let Some(l) = own.clone().find(|l| l.eq_ignore_ascii_case(&wanted)) {
        return Some(l.to_owned());
    }
    let p = primary(&wanted);
    if let Some(l) = own.find(|l| primary(l) == p) {
        return Some(l.to_owned());
    }
    BUILT_IN.iter().find(|l| **l == p).map(|l| (*l).to_owned())
}

/// Like [`choose`] for an `Accept-Language` header: its first language
/// the desk speaks (in the header's order), else the default.
pub fn choose_from_header<'a>(header: Option<&str>, own: impl Iterator<Item = &'a str> + Clone, default: &str) -> String {
    header
        .into_iter()
        .flat_map(|h| h.split(','))
        .filter_map(|t| t.split(';').next())
        .find_map(|t| speaks(t, own.clone()))
        .unwrap_or_else(|| default.to_owned())
}

/// Whether a built-in resource has this language.
pub fn is_built_in(lang: &str) -> bool {
    BUILT_IN.contains(&lang)
}

/// A text that could not be rendered in Fluent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FluentProblem {
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Render(String),
}

/// Renders a built-in text (`id`) in a built-in language, with the first
/// problem met on the way (an unknown variable shows as `{$name}` in the
/// text). `None` when the language or the message is not there.
pub fn built_in(lang: &str, id: &str, ctx: &Value) -> Option<(String, Option<FluentProblem>)> {
    let (_, bundle) = BUNDLES.iter().find(|(l, _)| *l == lang)?;
    bundle.get_message(id)?;
    Some(render_lenient(bundle, id, ctx))
}

/// The Fluent source of a built-in text (what a desk's own text replaces):
/// the message's lines, without its `id =`.
pub fn built_in_source(lang: &str, id: &str) -> Option<String> {
    let (_, src) = SOURCES.iter().find(|(l, _)| *l == lang)?;
    let mut lines = src.lines();
    let head = format!("{id} =");
    let first = lines.by_ref().find(|l| l.starts_with(&head))?;
    let mut out = first[head.len()..].trim_start().to_owned();
    for l in lines {
        if !(l.starts_with(' ') || l.is_empty()) {
            break;
        }
        out.push('\n');
        out.push_str(l);
    }
    Some(out.trim_end().to_owned())
}

/// Compiles a desk's own text, a Fluent pattern (what follows `id =`;
/// lines after the first are indented for it), in a language.
pub fn compile_own(lang: &str, src: &str) -> Result<OwnText, FluentProblem> {
    let mut ftl = String::from("text =");
    for (i, line) in src.lines().enumerate() {
        if i == 0 {
            ftl.push(' ');
        } else {
            ftl.push_str("\n    ");
        }
        ftl.push_str(line);
    }
    ftl.push('\n');
    let res = FluentResource::try_new(ftl).map_err(|(_, errors)| FluentProblem::Syntax(format!("not a Fluent text: {}", errors.iter().map(|e| format!("{:?}", e.kind)).collect::<Vec<_>>().join("; "))))?;
    let id: LanguageIdentifier = lang.parse().unwrap_or_default();
    let mut bundle = new_bundle(id);
    bundle.add_resource(res).map_err(|e| FluentProblem::Syntax(format!("{e:?}")))?;
    if bundle.get_message("text").and_then(|m| m.value()).is_none() {
        return Err(FluentProblem::Syntax("the text is empty".to_owned()));
    }
    Ok(OwnText(bundle))
}

/// A desk's own text, compiled.
pub struct OwnText(Bundle);

impl OwnText {
    pub fn render(&self, ctx: &Value) -> Result<String, FluentProblem> {
        render(&self.0, "text", ctx)
    }
}

fn render(bundle: &Bundle, id: &str, ctx: &Value) -> Result<String, FluentProblem> {
    match render_lenient(bundle, id, ctx) {
        (_, Some(problem)) => Err(problem),
        (out, None) => Ok(out),
    }
}

fn render_lenient(bundle: &Bundle, id: &str, ctx: &Value) -> (String, Option<FluentProblem>) {
    let Some(msg) = bundle.get_message(id) else { return (String::new(), Some(FluentProblem::Render(format!("no message {id}")))) };
    let Some(pattern) = msg.value() else { return (String::new(), Some(FluentProblem::Render(format!("{id} has no value")))) };
    let mut errors = Vec::new();
    let mut args = FluentArgs::new();
    let empty = serde_json::Map::new();
    let fields = ctx.as_object().unwrap_or(&empty);
    scalars(&mut args, "", fields);
    // Lists, each item with its attribute's pattern and the outer values.
    for (name, v) in fields {
        let Value::Array(items) = v else { continue };
        let Some(attr) = msg.get_attribute(name) else {
            args.set(name.clone(), FluentValue::from(""));
            continue;
        };
        let mut lines = Vec::with_capacity(items.len());
        for item in items {
            let mut item_args = FluentArgs::new();
            scalars(&mut item_args, "", fields);
            match item {
                Value::Object(o) => scalars(&mut item_args, "", o),
                other => item_args.set("item", scalar(other)),
            }
            lines.push(bundle.format_pattern(attr.value(), Some(&item_args), &mut errors).into_owned());
        }
        args.set(name.clone(), FluentValue::from(lines.join("\n")));
    }
    let out = bundle.format_pattern(pattern, Some(&args), &mut errors).into_owned();
    (out, errors.first().map(|e| FluentProblem::Render(describe(e))))
}

fn describe(e: &fluent_bundle::FluentError) -> String {
    use fluent_bundle::resolver::{errors::ReferenceKind, ResolverError};
    match e {
        fluent_bundle::FluentError::ResolverError(ResolverError::Reference(ReferenceKind::Variable { id })) => format!("unknown variable ${id}"),
        fluent_bundle::FluentError::ResolverError(ResolverError::Reference(ReferenceKind::Message { id, .. } | ReferenceKind::Term { id, .. } | ReferenceKind::Function { id })) => {
            format!("unknown reference {id} (a text may use only its own variables)")
        }
        other => other.to_string(),
    }
}

fn scalars(args: &mut FluentArgs<'static>, prefix: &str, fields: &serde_json::Map<String, Value>) {
    for (k, v) in fields {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
        match v {
            Value::Array(_) => {}
            Value::Object(o) => scalars(args, &key, o),
            other => args.set(key, scalar(other)),
        }
    }
}

fn scalar(v: &Value) -> FluentValue<'static> {
    match v {
        Value::Null => FluentValue::from("none"),
        Value::Bool(b) => FluentValue::from(if *b { "true" } else { "false" }),
        Value::Number(n) => n.as_f64().map(FluentValue::from).unwrap_or_else(|| FluentValue::from(n.to_string())),
        Value::String(s) => FluentValue::String(Cow::Owned(s.clone())),
        other => FluentValue::from(other.to_string()),
    }
}

/// A set of Fluent resources, one per language, whose first language is
/// the source: pages ask for a text by its source text (gettext's way,
/// which keeps templates readable: `{{ "Tickets" | t }}`) or, for a text
/// with values, by its id with arguments. A language that lacks a text
/// gives the source language's.
pub struct Catalog {
    bundles: Vec<(&'static str, Bundle)>,
    /// Source text → id.
    ids: std::collections::HashMap<String, String>,
    /// (language index, source text) → the text without values, formatted once.
    plain: std::collections::HashMap<(usize, String), String>,
}

impl Catalog {
    /// Panics on a resource that does not parse: they are compiled in and
    /// tested.
    pub fn new(sources: &[(&'static str, &'static str)]) -> Catalog {
        let bundles: Vec<(&'static str, Bundle)> = sources
            .iter()
            .map(|(lang, src)| {
                let res = FluentResource::try_new((*src).to_owned()).unwrap_or_else(|(_, e)| panic!("{lang}: the resource does not parse: {e:?}"));
                let mut b = new_bundle(lang.parse().expect("a valid tag"));
                b.add_resource(res).unwrap_or_else(|e| panic!("{lang}: {e:?}"));
                (*lang, b)
            })
            .collect();
        let mut ids = std::collections::HashMap::new();
        let mut plain = std::collections::HashMap::new();
        // Messages start a line with their id and ` =`.
        let message_ids = sources[0].1.lines().filter_map(|l| {
            let (id, _) = l.split_once(" =")?;
            (id.starts_with(|c: char| c.is_ascii_alphabetic()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')).then_some(id)
        });
        for id in message_ids {
            let Some(text) = format_in(&bundles[0].1, id, None) else { continue };
            for (i, (_, b)) in bundles.iter().enumerate() {
                if let Some(t) = format_in(b, id, None) {
                    plain.insert((i, text.clone()), t);
                }
            }
            ids.insert(text, id.to_owned());
        }
        Catalog { bundles, ids, plain }
    }

    /// The languages, the source first.
    pub fn languages(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.bundles.iter().map(|(l, _)| *l)
    }

    /// A text without values in `lang`, asked for by its source text; the
    /// source text itself when no resource has it.
    pub fn text<'a>(&'a self, lang: &str, source: &'a str) -> &'a str {
        let i = self.bundles.iter().position(|(l, _)| *l == lang).unwrap_or(0);
        self.plain.get(&(i, source.to_owned())).or_else(|| self.plain.get(&(0, source.to_owned()))).map_or(source, String::as_str)
    }

    /// Whether the source language has this text (to find ones nobody
    /// added).
    pub fn knows(&self, source: &str) -> bool {
        self.ids.contains_key(source)
    }

    /// A text with values, by id, in `lang` (else the source language).
    pub fn format(&self, lang: &str, id: &str, values: &Value) -> Option<String> {
        let own = self.bundles.iter().find(|(l, _)| *l == lang).and_then(|(_, b)| format_in(b, id, Some(values)));
        own.or_else(|| format_in(&self.bundles[0].1, id, Some(values)))
    }

    /// The ids a language lacks, against the source.
    pub fn missing(&self, lang: &str) -> Vec<String> {
        let Some((_, b)) = self.bundles.iter().find(|(l, _)| *l == lang) else { return Vec::new() };
        let mut out: Vec<String> = self.ids.values().filter(|id| !b.has_message(id)).cloned().collect();
        out.sort();
        out
    }
}

fn format_in(bundle: &Bundle, id: &str, values: Option<&Value>) -> Option<String> {
    bundle.get_message(id)?.value()?;
    let (out, problem) = render_lenient(bundle, id, values.unwrap_or(&Value::Null));
    problem.is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_are_checked_and_made_canonical() {
        assert_eq!(canonical_tag("pt_br").unwrap(), "pt-BR");
        assert_eq!(canonical_tag("ES").unwrap(), "es");
        assert!(canonical_tag("not a tag").is_err());
        assert!(canonical_tag("").is_err());
    }

    #[test]
    fn a_customer_gets_the_desks_language_then_a_built_in_one_then_the_default() {
        let own = ["es-MX", "de"];
        assert_eq!(choose(Some("es-mx"), own.iter().copied(), "ru"), "es-MX");
        assert_eq!(choose(Some("es"), own.iter().copied(), "ru"), "es-MX", "the desk's own Spanish before ours");
        assert_eq!(choose(Some("uk"), own.iter().copied(), "ru"), "uk");
        assert_eq!(choose(Some("fr"), own.iter().copied(), "ru"), "ru");
        assert_eq!(choose(None, own.iter().copied(), "de"), "de");
        assert_eq!(choose_from_header(Some("fr-FR,fr;q=0.9,uk;q=0.8,en;q=0.5"), own.iter().copied(), "ru"), "uk");
        assert_eq!(choose_from_header(Some("fr"), own.iter().copied(), "ru"), "ru");
        assert_eq!(choose_from_header(None, own.iter().copied(), "ru"), "ru");
    }

    #[test]
    fn counts_take_the_plural_form_of_their_language() {
        let t = compile_own("ru", "{ $count } { $count ->\n  [one] обращение\n  [few] обращения\n *[many] обращений\n}").unwrap();
        let said: Vec<String> = [1, 2, 5, 21, 22, 11].iter().map(|n| t.render(&json!({ "count": n })).unwrap()).collect();
        assert_eq!(said, ["1 обращение", "2 обращения", "5 обращений", "21 обращение", "22 обращения", "11 обращений"]);
        let t = compile_own("uk", "{ $count ->\n  [one] { $count } звернення\n *[other] { $count } звернень\n}").unwrap();
        assert_eq!(t.render(&json!({ "count": 1 })).unwrap(), "1 звернення");
    }

    #[test]
    fn lists_nulls_and_flags_become_lines_and_selectors() {
        let t = compile_own("en", "Hi { $name }{ $link ->\n    [none] {\"\"}\n   *[other] : { $link }\n}").unwrap();
        assert_eq!(t.render(&json!({ "name": "Ann", "link": null })).unwrap(), "Hi Ann");
        assert_eq!(t.render(&json!({ "name": "Ann", "link": "https://x" })).unwrap(), "Hi Ann: https://x");
        let err = t.render(&json!({ "link": null })).unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");
        assert!(compile_own("en", "{ $unclosed").is_err());
    }
}
