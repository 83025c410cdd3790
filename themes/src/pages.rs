//! What our server-rendered pages share (the operator dashboard's, the
//! staff console's): a minijinja environment of compiled-in templates,
//! autoescaped as HTML, and rendering a view (any `Serialize`) as `v`
//! beside the assets' version.

use minijinja::Environment;
use serde::Serialize;

/// A set of pages, parsed once.
pub struct PageSet {
    env: Environment<'static>,
    asset_version: &'static str,
}

impl PageSet {
    /// `templates`: `(name, source)`; a template that does not parse is a
    /// bug in the build, so it panics at start.
    pub fn new(templates: &[(&'static str, &'static str)], asset_version: &'static str) -> PageSet {
        let mut env = Environment::new();
        for (name, source) in templates {
            env.add_template(name, source).unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        PageSet { env, asset_version }
    }

    /// Lets a page set add its own filters and functions (the console's
    /// translations, say) before it is used.
    pub fn with_env(mut self, f: impl FnOnce(&mut Environment<'static>)) -> PageSet {
        f(&mut self.env);
        self
    }

    pub fn render(&self, name: &str, view: impl Serialize) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(minijinja::context! { v => minijinja::Value::from(minijinja::value::Serde(&view)), asset_version => self.asset_version, css_version => self.asset_version })
    }
}
