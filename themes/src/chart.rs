//! Charts drawn on the server as SVG (the operator dashboard's and the
//! staff console's): no chart library to ship, nothing to
//! run in the browser, and a page that prints and reads without scripts.
//! Each point carries a `<title>` (the browser's tooltip) and each series
//! its name and total as data attributes, which the tests read.

use std::fmt::Write as _;

/// One line (or one layer of stacked bars).
#[derive(Debug, Clone)]
pub struct Series {
    /// Shown in the legend and in tooltips.
    pub name: String,
    /// A CSS colour.
    pub color: &'static str,
    /// One value per label; bars may be negative (drawn below zero).
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lines,
    /// Positive values stack up from zero, negative ones down.
    StackedBars,
}

/// A chart: its accessible title, the x labels and the series.
pub struct Chart<'a> {
    /// Names the chart for tests (`data-chart`) and for screen readers.
    pub id: &'a str,
    pub title: &'a str,
    pub labels: &'a [String],
    pub series: &'a [Series],
    pub kind: Kind,
    /// How a value reads on the axis and in tooltips.
    pub format: &'a dyn Fn(f64) -> String,
}

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// XML text and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A step of 1, 2 or 5 times a power of ten that splits `span` into at
/// most `ticks` parts.
fn nice_step(span: f64, ticks: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / ticks;
    let pow = 10f64.powf(raw.log10().floor());
    let m = raw / pow;
    let nice = if m <= 1.0 { 1.0 } else if m <= 2.0 { 2.0 } else if m <= 5.0 { 5.0 } else { 10.0 };
    (nice * pow).max(1e-9)
}

/// The value range drawn: from the lowest stack (or 0) to the highest,
/// rounded out to whole steps.
fn range(c: &Chart<'_>) -> (f64, f64, f64) {
    let n = c.labels.len();
    let (mut lo, mut hi) = (0f64, 0f64);
    for i in 0..n {
        match c.kind {
            Kind::Lines => {
                for s in c.series {
                    let v = s.values.get(i).copied().unwrap_or(0.0);
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            Kind::StackedBars => {
                let up: f64 = c.series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0).max(0.0)).sum();
                let down: f64 = c.series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0).min(0.0)).sum();
                lo = lo.min(down);
                hi = hi.max(up);
            }
        }
    }
    if hi == lo {
        hi = lo + 1.0;
    }
    let mut step = nice_step(hi - lo, 4.0);
    // Counts step by whole numbers (an axis of 0, 0.5, 1 reads as 0, 1, 1).
    if c.series.iter().all(|s| s.values.iter().all(|v| v.fract() == 0.0)) {
        step = step.max(1.0);
    }
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

/// The chart as an SVG element (scaling to its container's width).
pub fn render(c: &Chart<'_>) -> String {
    let n = c.labels.len().max(1);
    let (lo, hi, step) = range(c);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h * (1.0 - (v - lo) / (hi - lo));
    let slot = plot_w / n as f64;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" data-chart="{id}" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-title" preserveAspectRatio="xMidYMid meet"><title id="{id}-title">{title}</title>"#,
        id = escape(c.id),
        title = escape(c.title)
    );
    // Grid and y axis.
    let mut v = lo;
    while v <= hi + step / 2.0 {
        let yy = y(v);
        let _ = write!(
            out,
            r#"<line class="grid{zero}" x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}"/><text class="axis" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
            zero = if v == 0.0 { " zero" } else { "" },
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = yy + 4.0,
            label = escape(&(c.format)(v))
        );
        v += step;
    }
    // X labels: about eight, evenly spaced, the last one always.
    let every = n.div_ceil(8).max(1);
    for (i, l) in c.labels.iter().enumerate() {
        // The last label always; another only where it cannot touch it.
        if (i % every == 0 && n - 1 - i >= every) || i + 1 == n {
            let _ = write!(out, r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, x(i), H - 8.0, escape(l));
        }
    }
    match c.kind {
        Kind::Lines => {
            for s in c.series {
                let total: f64 = s.values.iter().sum();
                let _ = write!(out, r#"<g class="series" data-series="{}" data-total="{}">"#, escape(&s.name), total);
                let points: Vec<String> = s.values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
                let _ = write!(out, r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#, s.color, points.join(" "));
                for (i, v) in s.values.iter().enumerate() {
                    let label = c.labels.get(i).map(String::as_str).unwrap_or_default();
                    let _ = write!(
                        out,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{}: {} {}</title></circle>"#,
                        x(i),
                        y(*v),
                        s.color,
                        escape(label),
                        escape(&(c.format)(*v)),
                        escape(&s.name)
                    );
                }
                out.push_str("</g>");
            }
        }
        Kind::StackedBars => {
            let bar = (slot * 0.6).max(1.0);
            let mut up = vec![0f64; n];
            let mut down = vec![0f64; n];
            for s in c.series {
                let total: f64 = s.values.iter().sum();
                let _ = write!(out, r#"<g class="series" data-series="{}" data-total="{}">"#, escape(&s.name), total);
                for (i, v) in s.values.iter().enumerate().take(n) {
                    if *v == 0.0 {
                        continue;
                    }
                    let (from, to) = if *v > 0.0 {
                        let f = up[i];
                        up[i] += v;
                        (f, up[i])
                    } else {
                        let f = down[i];
                        down[i] += v;
                        (f, down[i])
                    };
                    let (top, bottom) = (y(from.max(to)), y(from.min(to)));
                    let label = c.labels.get(i).map(String::as_str).unwrap_or_default();
                    let _ = write!(
                        out,
                        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                        x(i) - bar / 2.0,
                        top,
                        bar,
                        (bottom - top).max(0.5),
                        s.color,
                        escape(label),
                        escape(&(c.format)(*v)),
                        escape(&s.name)
                    );
                }
                out.push_str("</g>");
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// The chart's legend as HTML.
pub fn legend(series: &[Series]) -> String {
    let mut out = String::from(r#"<ul class="legend">"#);
    for s in series {
        let _ = write!(out, r#"<li><span class="swatch" style="background:{}"></span>{}</li>"#, s.color, escape(&s.name));
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(v: f64) -> String {
        format!("{v:.0}")
    }

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(100.0, 4.0), 50.0);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(nice_step(12_000.0, 4.0), 5000.0);
    }

    #[test]
    fn a_line_chart_draws_each_point_with_its_tooltip_and_totals() {
        let labels: Vec<String> = ["12-01", "12-02", "12-03"].map(String::from).to_vec();
        let series = [Series { name: "messages".into(), color: "#2481cc", values: vec![1.0, 5.0, 3.0] }];
        let svg = render(&Chart { id: "usage", title: "Usage <daily>", labels: &labels, series: &series, kind: Kind::Lines, format: &whole });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"data-chart="usage""#) && svg.contains("Usage &lt;daily&gt;"), "escaped title");
        assert!(svg.contains(r#"data-series="messages" data-total="9""#));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("<title>12-02: 5 messages</title>"));
        // The axis reaches the highest value: 0..6 in steps of 2.
        assert!(svg.contains(">6</text>") && !svg.contains(">8</text>"), "{svg}");
    }

    #[test]
    fn counts_step_by_whole_numbers_and_labels_never_crowd_the_last() {
        let labels: Vec<String> = (1..=30).map(|d| format!("11-{d:02}")).collect();
        let mut values = vec![0.0; 30];
        values[29] = 1.0;
        let series = [Series { name: "active".into(), color: "blue", values }];
        let svg = render(&Chart { id: "a", title: "A", labels: &labels, series: &series, kind: Kind::StackedBars, format: &whole });
        assert_eq!(svg.matches(">1</text>").count(), 1, "one step of 1, not two of 0.5: {svg}");
        assert!(svg.contains(">11-30</text>") && !svg.contains(">11-29</text>") && !svg.contains(">11-28</text>") && svg.contains(">11-25</text>"), "{svg}");
    }

    #[test]
    fn stacked_bars_go_below_zero_for_losses() {
        let labels: Vec<String> = ["2026-11", "2026-12"].map(String::from).to_vec();
        let series = [
            Series { name: "new".into(), color: "green", values: vec![40.0, 0.0] },
            Series { name: "churn".into(), color: "red", values: vec![0.0, -20.0] },
        ];
        let svg = render(&Chart { id: "mrr", title: "MRR", labels: &labels, series: &series, kind: Kind::StackedBars, format: &whole });
        assert_eq!(svg.matches("<rect").count(), 2, "zero values draw nothing");
        assert!(svg.contains(">-20</text>") && svg.contains(r#"class="grid zero""#), "{svg}");
        assert!(svg.contains("<title>2026-12: -20 churn</title>"));
    }
}
