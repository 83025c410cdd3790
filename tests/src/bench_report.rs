//! What the benchmarks share for the README's tables and for the guard in
//! CI.
//!
//! - Each benchmark prints its table as Markdown. With `--write-readme
//!   README.md` it also replaces its block in the README (between
//!   `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`), so the README's
//!   figures are the benchmark's own output, never typed by hand.
//! - With `--readme README.md` it prints, beside each figure, the README's
//!   figure for the same row.
//! - With `--guard` it fails when a figure collapses below a fraction of a
//!   ceiling taken in the same run (PostgreSQL alone, through `pgbench`), so
//!   that a slower machine or a noisy neighbour moves both and does not make
//!   the guard flaky, while a change that makes a request several times
//!   slower does fail it.
//! - With `--runs N` each figure is the median of N runs, with the spread.

use std::path::{Path, PathBuf};

/// Median and spread of one figure over runs.
#[derive(Debug, Clone)]
pub struct Spread {
    pub values: Vec<f64>,
}

impl Spread {
    pub fn new(mut values: Vec<f64>) -> Spread {
        values.sort_by(|a, b| a.total_cmp(b));
        Spread { values }
    }

    pub fn median(&self) -> f64 {
        match self.values.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => self.values[n / 2],
            n => (self.values[n / 2 - 1] + self.values[n / 2]) / 2.0,
        }
    }

    /// `1,234` for one run, `1,234 (1,200–1,260)` for several.
    pub fn cell(&self, decimals: usize) -> String {
        let m = fmt(self.median(), decimals);
        match self.values.len() {
            0 | 1 => m,
            _ => format!("{m} ({}–{})", fmt(self.values[0], decimals), fmt(self.values[self.values.len() - 1], decimals)),
        }
    }
}

/// A number with thousands separators and `decimals` places.
pub fn fmt(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = format!("{v:.decimals$}");
    let (int, frac) = s.split_once('.').map(|(i, f)| (i.to_owned(), format!(".{f}"))).unwrap_or((s.clone(), String::new()));
    let (sign, digits) = int.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", int.as_str()));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}{frac}")
}

/// The leading number of a table cell: `1,234 (1,200–1,260)` is 1234.
pub fn number(cell: &str) -> Option<f64> {
    let lead: String = cell.trim().chars().take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.').filter(|c| *c != ',').collect();
    lead.parse().ok()
}

/// A Markdown table.
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn markdown(&self) -> String {
        let mut s = format!("| {} |\n|{}\n", self.header.join(" | "), "---|".repeat(self.header.len()));
        for r in &self.rows {
            s.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        s
    }
}

fn markers(name: &str) -> (String, String) {
    (format!("<!-- bench:{name} -->"), format!("<!-- /bench:{name} -->"))
}

/// The text between a benchmark's markers in the README.
pub fn block<'a>(readme: &'a str, name: &str) -> Option<&'a str> {
    let (open, close) = markers(name);
    let start = readme.find(&open)? + open.len();
    let end = start + readme[start..].find(&close)?;
    Some(&readme[start..end])
}

/// The README with a benchmark's block replaced by `body`; the markers must
/// be there already (where the block goes is the README's to say).
pub fn replace_block(readme: &str, name: &str, body: &str) -> anyhow::Result<String> {
    let (open, close) = markers(name);
    let start = readme.find(&open).ok_or_else(|| anyhow::anyhow!("the README has no {open} marker"))? + open.len();
    let end = start + readme[start..].find(&close).ok_or_else(|| anyhow::anyhow!("the README has no {close} marker"))?;
    Ok(format!("{}\n{}\n{}", &readme[..start], body.trim_end(), &readme[end..]))
}

/// The figure in column `col` of the block's table row whose first cells
/// are `key`.
pub fn figure(block: &str, key: &[&str], col: usize) -> Option<f64> {
    block.lines().find_map(|line| {
        let cells: Vec<&str> = line.trim().strip_prefix('|')?.strip_suffix('|')?.split('|').map(str::trim).collect();
        (cells.len() > col && cells.iter().zip(key).all(|(c, k)| c == k) && cells.len() >= key.len()).then(|| number(cells[col])).flatten()
    })
}

/// What `--readme`/`--write-readme` name, read once.
pub struct Readme {
    pub path: Option<PathBuf>,
    pub text: String,
}

impl Readme {
    pub fn read(path: Option<&Path>) -> anyhow::Result<Readme> {
        match path {
            None => Ok(Readme { path: None, text: String::new() }),
            Some(p) => Ok(Readme { path: Some(p.to_owned()), text: std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))? }),
        }
    }

    /// The README's figure for a row, as `README 1,234` (or nothing).
    pub fn beside(&self, name: &str, key: &[&str], col: usize) -> String {
        block(&self.text, name).and_then(|b| figure(b, key, col)).map(|v| format!("README {}", fmt(v, 0))).unwrap_or_default()
    }
}

/// Writes a benchmark's block into the README at `path`.
pub fn write_readme(path: &Path, name: &str, body: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    std::fs::write(path, replace_block(&text, name, body)?)?;
    println!("wrote the {name} block of {}", path.display());
    Ok(())
}

/// The commit measured and when, for the README's block.
pub fn provenance() -> String {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    // The README itself is what a run writes: not a change to the code measured.
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no", "--", ".", ":!README.md"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    let build = if cfg!(debug_assertions) { "DEBUG build" } else { "release build" };
    format!("`{commit}`{}, {}, {build}", if dirty { " with uncommitted changes" } else { "" }, chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"))
}

/// Collapse checks against a ceiling of the same run.
#[derive(Default)]
pub struct Guard {
    lines: Vec<String>,
    failures: Vec<String>,
}

impl Guard {
    /// `value` must be at least `fraction` of `ceiling`.
    pub fn floor(&mut self, what: &str, value: f64, ceiling_name: &str, ceiling: f64, fraction: f64) {
        let floor = ceiling * fraction;
        let ok = value.is_finite() && value >= floor;
        let line = format!("{} {what}: {} ≥ {} ({fraction} x {ceiling_name} {})", if ok { "ok  " } else { "FAIL" }, fmt(value, 0), fmt(floor, 0), fmt(ceiling, 0));
        if !ok {
            self.failures.push(line.clone());
        }
        self.lines.push(line);
    }

    /// A count that must be zero.
    pub fn none(&mut self, what: &str, n: u64) {
        let line = format!("{} {what}: {n}", if n == 0 { "ok  " } else { "FAIL" });
        if n != 0 {
            self.failures.push(line.clone());
        }
        self.lines.push(line);
    }

    /// Prints every check; an error naming the failed ones.
    pub fn finish(self, bench: &str) -> anyhow::Result<()> {
        println!();
        println!("guard ({bench}): each figure against a ceiling measured in this run");
        for l in &self.lines {
            println!("  {l}");
        }
        anyhow::ensure!(self.failures.is_empty(), "{bench}: {} figure(s) collapsed:\n  {}", self.failures.len(), self.failures.join("\n  "));
        Ok(())
    }
}

/// Runs a `pgbench` script against the test database and returns its
/// transactions per second and failed transactions.
pub async fn pgbench(script: &str, clients: u32, seconds: u64) -> anyhow::Result<(f64, u64)> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), script)?;
    let mut cmd = std::process::Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), "-f"])
        .arg(file.path())
        .args(["-h", "127.0.0.1", "-U", "postgres", "test"]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .map_err(|e| anyhow::anyhow!("pgbench must be installed (Debian's postgresql-client): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    let line = |key: &str| text.lines().find(|l| l.starts_with(key)).map(str::trim).unwrap_or("").to_owned();
    let tps = line("tps").trim_start_matches("tps = ").split(' ').next().and_then(|t| t.parse().ok()).ok_or_else(|| anyhow::anyhow!("pgbench printed no rate: {text}"))?;
    let failed = line("number of failed transactions").trim_start_matches("number of failed transactions: ").split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    Ok((tps, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_spreads() {
        assert_eq!(fmt(1234567.4, 0), "1,234,567");
        assert_eq!(fmt(999.0, 1), "999.0");
        assert_eq!(number("1,234 (1,200–1,260)"), Some(1234.0));
        assert_eq!(number("–"), None);
        let s = Spread::new(vec![3.0, 1.0, 2.0, 10.0, 4.0]);
        assert_eq!(s.median(), 3.0);
        assert_eq!(s.cell(0), "3 (1–10)");
    }

    #[test]
    fn blocks_are_found_read_and_replaced() {
        let readme = "intro\n<!-- bench:desk -->\nold\n| list | 50 | 1,277 (1,200–1,300) | 1.0 |\n<!-- /bench:desk -->\nafter\n";
        assert_eq!(figure(block(readme, "desk").unwrap(), &["list", "50"], 2), Some(1277.0));
        assert_eq!(figure(block(readme, "desk").unwrap(), &["list", "200"], 2), None);
        let new = replace_block(readme, "desk", "| read | 50 | 4,000 |").unwrap();
        assert_eq!(new, "intro\n<!-- bench:desk -->\n| read | 50 | 4,000 |\n<!-- /bench:desk -->\nafter\n");
        assert!(replace_block(readme, "intake", "x").is_err());
    }

    #[test]
    fn the_guard_fails_below_its_floor_only() {
        let mut g = Guard::default();
        g.floor("list", 600.0, "pgbench", 2000.0, 0.25);
        g.none("errors", 0);
        assert!(g.finish("t").is_ok());
        let mut g = Guard::default();
        g.floor("create", 90.0, "pgbench", 2000.0, 0.05);
        assert!(g.finish("t").unwrap_err().to_string().contains("create"));
    }
}
