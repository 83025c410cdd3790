//! Bounds on what a template a tenant writes may cost: its output, its time
//! and the memory it takes on the way.
//!
//! One process renders every tenant's bot texts, so a text must not be able
//! to ask it for more than a message's worth of work. minijinja's fuel
//! bounds the steps a template takes but not what each step allocates (a
//! string repeated, or doubled by `~` in a loop or a macro, grows
//! exponentially in a few steps), so a tenant's template is also held to a
//! small language, checked once when it is compiled:
//!
//! - no operator that builds a value larger than its operands (`*`, `**`,
//!   `+`, `~`): what a template prints is then never larger than the values
//!   it was given or the literals it holds;
//! - no construct that captures output into a value (macros, `call`,
//!   `filter` and `set` blocks, recursive loops), since captured output
//!   escapes the bounded writer;
//! - only the filters and functions listed here (the ones that can grow a
//!   value, such as `replace`, `join`, `indent`, `format` or `batch`, are
//!   absent), no templates of other names (`include`, `extends`, `import`).
//!
//! What is left (variables, `if`, `for`, `set`, comparisons, the listed
//! filters) covers what a bot text needs. Output goes through a writer that
//! refuses to grow past [`MAX_TEXT_BYTES`], and the rendered text is then held
//! to [`MAX_TEXT_UTF16`] UTF-16 units, the way Telegram counts.

use std::io;

use minijinja::machinery::{Instruction, Token};
use minijinja::{Environment, Value};

/// Telegram's limit on one message's text, in UTF-16 code units
/// (<https://core.telegram.org/bots/api#sendmessage>: 1-4096 characters).
pub const TELEGRAM_MESSAGE_UTF16: usize = 4096;

/// Messages one bot text may take when split at Telegram's limit.
pub const MAX_MESSAGES_PER_TEXT: usize = 3;

/// Longest rendered bot text, in UTF-16 code units (what Telegram counts).
pub const MAX_TEXT_UTF16: usize = TELEGRAM_MESSAGE_UTF16 * MAX_MESSAGES_PER_TEXT;

/// What the writer lets a render write, in bytes: a UTF-16 unit takes at
/// most 3 bytes of UTF-8 (a 4-byte character is two units), so a text
/// within [`MAX_TEXT_UTF16`] always fits.
pub const MAX_TEXT_BYTES: usize = MAX_TEXT_UTF16 * 3;

/// Filters a tenant's template may use: none of them returns a value larger
/// than its input by more than a constant (`escape` at most sixfold).
const ALLOWED_FILTERS: &[&str] = &[
    "abs", "bool", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "int", "items", "last", "length", "lines", "list",
    "lower", "map", "max", "min", "reject", "reverse", "round", "safe", "select", "sort", "split", "string", "sum", "title", "trim", "unique", "upper",
];

/// Functions a tenant's template may call (`range` makes at most 100,000
/// numbers, lazily).
const ALLOWED_FUNCTIONS: &[&str] = &["range"];

/// Why a tenant's template was refused or could not render within bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextLimit {
    /// The template uses a construct outside the small language above.
    #[error("{0} is not allowed in a bot text")]
    NotAllowed(String),
    /// The rendered text is longer than [`MAX_TEXT_UTF16`] units.
    #[error("renders to more than {MAX_TEXT_UTF16} characters (Telegram's {TELEGRAM_MESSAGE_UTF16} per message, at most {MAX_MESSAGES_PER_TEXT} messages)")]
    TooLong,
    /// The template failed (a syntax error, an unknown variable used wrongly,
    /// or it ran out of fuel).
    #[error("{0}")]
    Failed(String),
}

impl TextLimit {
    /// The error code the API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            TextLimit::NotAllowed(_) => "text_construct_not_allowed",
            TextLimit::TooLong => "text_too_long",
            TextLimit::Failed(_) => "text_invalid",
        }
    }
}

/// The environment tenants' templates run in: deny by default (an empty
/// environment, so a filter a minijinja upgrade adds is not allowed until it
/// is listed here), the built-in one's fuel, the allowed filters, every
/// built-in test (a test answers true or false) and `range`.
pub(crate) fn tenant_environment(fuel: u64) -> Environment<'static> {
    use minijinja::{filters as f, functions, tests as t};
    let mut env = Environment::empty();
    env.set_fuel(Some(fuel));
    // Far below minijinja's default: nothing allowed here recurses, and a
    // deeply nested expression is not a bot text.
    env.set_recursion_limit(50);
    env.add_filter("abs", f::abs);
    env.add_filter("bool", f::bool);
    env.add_filter("capitalize", f::capitalize);
    env.add_filter("count", f::length);
    env.add_filter("d", f::default);
    env.add_filter("default", f::default);
    env.add_filter("dictsort", f::dictsort);
    env.add_filter("e", f::escape);
    env.add_filter("escape", f::escape);
    env.add_filter("first", f::first);
    env.add_filter("float", f::float);
    env.add_filter("int", f::int);
    env.add_filter("items", f::items);
    env.add_filter("last", f::last);
    env.add_filter("length", f::length);
    env.add_filter("lines", f::lines);
    env.add_filter("list", f::list);
    env.add_filter("lower", f::lower);
    env.add_filter("map", f::map);
    env.add_filter("max", f::max);
    env.add_filter("min", f::min);
    env.add_filter("reject", f::reject);
    env.add_filter("reverse", f::reverse);
    env.add_filter("round", f::round);
    env.add_filter("safe", f::safe);
    env.add_filter("select", f::select);
    env.add_filter("sort", f::sort);
    env.add_filter("split", f::split);
    env.add_filter("string", f::string);
    env.add_filter("sum", f::sum);
    env.add_filter("title", f::title);
    env.add_filter("trim", f::trim);
    env.add_filter("unique", f::unique);
    env.add_filter("upper", f::upper);
    env.add_test("undefined", t::is_undefined);
    env.add_test("defined", t::is_defined);
    env.add_test("none", t::is_none);
    env.add_test("odd", t::is_odd);
    env.add_test("even", t::is_even);
    env.add_test("number", t::is_number);
    env.add_test("integer", t::is_integer);
    env.add_test("float", t::is_float);
    env.add_test("string", t::is_string);
    env.add_test("sequence", t::is_sequence);
    env.add_test("mapping", t::is_mapping);
    env.add_test("true", t::is_true);
    env.add_test("false", t::is_false);
    env.add_test("eq", t::is_eq);
    env.add_test("ne", t::is_ne);
    env.add_test("lt", t::is_lt);
    env.add_test("le", t::is_le);
    env.add_test("gt", t::is_gt);
    env.add_test("ge", t::is_ge);
    env.add_test("in", t::is_in);
    env.add_test("startingwith", t::is_startingwith);
    env.add_test("endingwith", t::is_endingwith);
    env.add_function("range", functions::range);
    env
}

/// Compiles a tenant's template once it is known to stay inside the small
/// language; the template it returns is the one to render.
pub(crate) fn compile<'env, 'src>(env: &'env Environment<'env>, source: &'src str) -> Result<minijinja::Template<'env, 'src>, TextLimit> {
    // The operators are refused from the tokens, before the template is
    // compiled: the compiler folds constant expressions, so `'x' * 99999999`
    // would already cost 100 MB to compile.
    for token in minijinja::machinery::tokenize(source, false, Default::default()) {
        let (token, _) = token.map_err(|e| TextLimit::Failed(e.to_string()))?;
        match token {
            Token::Mul => return Err(TextLimit::NotAllowed("the operator *".to_owned())),
            Token::Pow => return Err(TextLimit::NotAllowed("the operator **".to_owned())),
            Token::Plus => return Err(TextLimit::NotAllowed("the operator +".to_owned())),
            Token::Tilde => return Err(TextLimit::NotAllowed("the operator ~".to_owned())),
            _ => {}
        }
    }
    let template = env.template_from_str(source).map_err(|e| TextLimit::Failed(e.to_string()))?;
    let compiled = minijinja::machinery::get_compiled_template(&template);
    if !compiled.blocks.is_empty() {
        return Err(TextLimit::NotAllowed("a block".to_owned()));
    }
    let mut i = 0;
    while let Some(instr) = compiled.instructions.get(i) {
        allowed(instr)?;
        i += 1;
    }
    Ok(template)
}

fn allowed(instr: &Instruction<'_>) -> Result<(), TextLimit> {
    let refuse = |what: &str| Err(TextLimit::NotAllowed(what.to_owned()));
    match instr {
        Instruction::Mul => refuse("the operator *"),
        Instruction::Pow => refuse("the operator **"),
        Instruction::Add => refuse("the operator +"),
        Instruction::StringConcat => refuse("the operator ~"),
        Instruction::BeginCapture(_) | Instruction::EndCapture => refuse("a block that captures output (set, filter, call or macro)"),
        Instruction::PushLoop(flags) if flags & LOOP_FLAG_RECURSIVE != 0 => refuse("a recursive loop"),
        Instruction::FastRecurse | Instruction::CallObject(_) => refuse("calling a value"),
        Instruction::CallMethod(name, _) => Err(TextLimit::NotAllowed(format!("the method {name}()"))),
        Instruction::CallFunction(name, _) if !ALLOWED_FUNCTIONS.contains(name) => Err(TextLimit::NotAllowed(format!("the function {name}()"))),
        Instruction::ApplyFilter(name, _, _) if !ALLOWED_FILTERS.contains(name) => Err(TextLimit::NotAllowed(format!("the filter {name}"))),
        Instruction::SetAttr(_) => refuse("setting an attribute"),
        Instruction::BuildMacro(..) | Instruction::Return | Instruction::Enclose(_) | Instruction::IsUndefined => refuse("a macro"),
        Instruction::CallBlock(_) | Instruction::LoadBlocks | Instruction::FastSuper => refuse("a block"),
        Instruction::Include(_) | Instruction::ExportLocals => refuse("include, import or extends"),
        _ => Ok(()),
    }
}

/// minijinja's flag for `for … recursive` (`LOOP_FLAG_RECURSIVE`, which its
/// machinery does not re-export).
const LOOP_FLAG_RECURSIVE: u8 = 2;

/// Renders a template into at most [`MAX_TEXT_BYTES`], then holds it to
/// [`MAX_TEXT_UTF16`] units. The writer stops the render at the first write
/// past the limit, so a long text costs no more than the limit to find out.
pub(crate) fn render(template: &minijinja::Template<'_, '_>, ctx: Value) -> Result<String, TextLimit> {
    let mut out = LimitedWriter { buf: Vec::new(), limit: MAX_TEXT_BYTES, over: false };
    let result = template.render_captured_to(ctx, &mut out);
    if out.over {
        return Err(TextLimit::TooLong);
    }
    result.map_err(|e| TextLimit::Failed(e.to_string()))?;
    let text = String::from_utf8(out.buf).map_err(|_| TextLimit::Failed("the template wrote invalid UTF-8".to_owned()))?;
    if text.encode_utf16().count() > MAX_TEXT_UTF16 {
        return Err(TextLimit::TooLong);
    }
    Ok(text)
}

/// An `io::Write` that fails, and remembers why, once it would hold more
/// than `limit` bytes.
struct LimitedWriter {
    buf: Vec<u8>,
    limit: usize,
    over: bool,
}

impl io::Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            self.over = true;
            return Err(io::Error::other("the text is longer than its limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str) -> Result<String, TextLimit> {
        let env = tenant_environment(50_000);
        let t = compile(&env, src)?;
        render(&t, minijinja::context! { first_name => "Ann", text => "hello", tickets => vec![1, 2, 3] })
    }

    #[test]
    fn what_a_bot_text_needs_is_allowed() {
        assert_eq!(check("Hi {{ first_name|upper }}{% if first_name != 'Bo' %}!{% endif %}").unwrap(), "Hi ANN!");
        assert_eq!(check("{% for t in tickets %}#{{ t }} {% endfor %}{{ tickets|length }}").unwrap(), "#1 #2 #3 3");
        assert_eq!(check("{% set n = first_name|default('you') %}{{ n|trim|title }}").unwrap(), "Ann");
        assert_eq!(check("{{ text[:2] }} {{ 7 - 2 }} {{ tickets|sum }}").unwrap(), "he 5 6");
    }

    #[test]
    fn operators_that_grow_values_and_captures_are_refused_by_name() {
        for (src, what) in [
            ("{{ 'x' * 20000 }}", "*"),
            ("{{ 2 ** 10 }}", "**"),
            ("{{ first_name ~ first_name }}", "~"),
            ("{{ [1] + [2] }}", "+"),
            ("{% set s %}{{ text }}{% endset %}", "captures"),
            ("{% filter upper %}x{% endfilter %}", "captures"),
            ("{% macro m() %}x{% endmacro %}{{ m() }}", "macro"),
            ("{% for t in tickets recursive %}{{ loop([]) }}{% endfor %}", "recursive"),
            ("{{ text|replace('', 'xxxx') }}", "filter replace"),
            ("{{ tickets|join(text) }}", "filter join"),
            ("{{ namespace() }}", "function namespace"),
            ("{{ text.upper() }}", "method upper"),
        ] {
            let err = check(src).unwrap_err();
            assert!(matches!(err, TextLimit::NotAllowed(_)) && err.to_string().contains(what), "{src}: {err}");
        }
    }

    #[test]
    fn output_past_the_limit_stops_the_render() {
        // Within fuel, far past the limit: the writer stops it.
        let err = check("{% for i in range(20000) %}{{ first_name }} and {{ first_name }} {% endfor %}").unwrap_err();
        assert_eq!(err, TextLimit::TooLong);
        assert_eq!(err.code(), "text_too_long");
        // Exactly at the limit in UTF-16 units, with characters of 3 bytes.
        let env = tenant_environment(1_000_000);
        let t = env.template_from_str("{% for i in range(n) %}€€€€{% endfor %}{{ tail }}").unwrap();
        let n = MAX_TEXT_UTF16 / 4;
        assert_eq!(render(&t, minijinja::context! { n, tail => "" }).unwrap().chars().count(), MAX_TEXT_UTF16);
        assert_eq!(render(&t, minijinja::context! { n, tail => "€" }).unwrap_err(), TextLimit::TooLong);
        // Emoji are two units each: half as many fit.
        let t = env.template_from_str("{% for i in range(n) %}😀😀😀😀{% endfor %}").unwrap();
        assert_eq!(render(&t, minijinja::context! { n => n / 2 }).unwrap().encode_utf16().count(), MAX_TEXT_UTF16);
        assert_eq!(render(&t, minijinja::context! { n => n / 2 + 1 }).unwrap_err(), TextLimit::TooLong);
    }

    #[test]
    fn filters_and_functions_not_listed_are_unknown_at_render_time_too() {
        let env = tenant_environment(1000);
        for src in ["{{ 'a'|replace('a', 'bb') }}", "{{ [1]|join(',') }}", "{{ 'a'|indent(9) }}", "{{ dict() }}"] {
            let err = env.template_from_str(src).unwrap().render(()).unwrap_err();
            assert!(matches!(err.kind(), minijinja::ErrorKind::UnknownFilter | minijinja::ErrorKind::UnknownFunction), "{src}: {err}");
        }
    }
}
