//! The console's analytics page and its CSV exports. The page reads one
//! window of tickets (see `tikethet_runtime::desk::analytics`); the
//! tickets' export streams page by page (500 tickets a query, each page
//! written out before the next is read), so its memory does not grow with
//! the desk.

use std::collections::HashMap;

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use tikethet_admin_console::{AnalyticsPage, Choice, Kpi, Table};
use tikethet_runtime::desk::stats::Percentiles;
use tikethet_themes::chart::{self, Chart, Kind, Series};

use super::{Staff, base, desk_error, frame, name_of, rendered};
use crate::http::web;

/// `?days=`: the window of the analytics (7, 30 or 90; else 30).
#[derive(Default, serde::Deserialize)]
struct Window {
    days: Option<String>,
}
use crate::AppState;

/// Tickets per query of the export.
const EXPORT_PAGE: u64 = 500;
const WINDOWS: [i64; 3] = [7, 30, 90];

/// Seconds as people read a wait: `45 min`, `3 h 20 min`, `2 d 4 h`.
pub fn duration(secs: f64) -> String {
    let m = (secs / 60.0).round() as i64;
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m % (24 * 60)) / 60),
    }
}

fn times(s: &super::Staff, p: &Percentiles) -> (String, String) {
    match (p.median_seconds, p.p90_seconds) {
        (Some(m), Some(n)) => (duration(m), trv(s, "p90-of-tickets", serde_json::json!({ "time": duration(n), "count": p.count }))),
        _ => ("—".into(), super::tr(s, "no tickets yet")),
    }
}

/// A text with values in the staff member's language.
fn trv(s: &super::Staff, id: &str, values: serde_json::Value) -> String {
    tikethet_admin_console::i18n::trv(s.lang, id, &values)
}

/// A CSV field never read as a formula by a spreadsheet (OWASP's CSV
/// injection advice: a leading `'`); quoting is the `csv` crate's.
pub fn guarded(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}").into() } else { s.into() }
}

/// Rows as CSV (RFC 4180: quoted where needed, CRLF line ends), every
/// field guarded.
pub(super) fn lines<R, F>(rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).flexible(true).from_writer(Vec::new());
    for r in rows {
        w.write_record(r.into_iter().map(|f| guarded(f.as_ref()).into_owned())).expect("writing to memory cannot fail");
    }
    String::from_utf8(w.into_inner().expect("flushing to memory cannot fail")).expect("UTF-8 fields make UTF-8 CSV")
}

fn line(fields: &[String]) -> String {
    lines([fields])
}

/// `GET /t/{slug}/admin/analytics?days=30`
#[handler]
pub async fn page(Path(slug): Path<String>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let days = web::query::<Window>(req).days.and_then(|d| d.parse::<i64>().ok()).filter(|d| WINDOWS.contains(d)).unwrap_or(30);
    let (a, st) = match s.ctx.analytics(days).await {
        Ok(x) => x,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let base = base(req, &slug);
    let labels: Vec<String> = a.days.iter().map(|d| d.get(5..).unwrap_or(d).to_owned()).collect();
    let whole = |v: f64| format!("{}", v.max(0.0).round() as u64);
    let flow = [
        Series { name: super::tr(&s, "created"), color: "#2457c5", values: a.created.iter().map(|x| *x as f64).collect() },
        Series { name: super::tr(&s, "resolved"), color: "#1f8a4c", values: a.resolved.iter().map(|x| *x as f64).collect() },
        Series { name: super::tr(&s, "reopened"), color: "#c53030", values: a.reopened.iter().map(|x| *x as f64).collect() },
    ];
    let backlog = [Series { name: super::tr(&s, "open"), color: "#b7791f", values: a.backlog.iter().map(|x| *x as f64).collect() }];
    let (fr, fr_note) = times(&s, &st.first_response);
    let (rs, rs_note) = times(&s, &st.resolution);
    let in_days = trv(&s, "in-days", serde_json::json!({ "days": days }));
    let mut kpis = vec![
        Kpi { key: "created".into(), label: super::tr(&s, "Created"), value: a.created.iter().sum::<u64>().to_string(), note: in_days.clone() },
        Kpi { key: "resolved".into(), label: super::tr(&s, "Resolved"), value: a.resolved.iter().sum::<u64>().to_string(), note: in_days.clone() },
        Kpi { key: "reopened".into(), label: super::tr(&s, "Reopened"), value: a.reopened.iter().sum::<u64>().to_string(), note: in_days },
        Kpi { key: "backlog".into(), label: super::tr(&s, "Open now"), value: a.backlog.last().copied().unwrap_or(0).to_string(), note: super::tr(&s, "at today's end") },
        Kpi { key: "first-response".into(), label: super::tr(&s, "First answer, median (30 days)"), value: fr, note: fr_note },
        Kpi { key: "resolution".into(), label: super::tr(&s, "Resolution, median (30 days)"), value: rs, note: rs_note },
    ];
    if let (Some(f), Some(r)) = (&st.first_response_business, &st.resolution_business) {
        let ((fv, fnote), (rv, rnote)) = (times(&s, f), times(&s, r));
        kpis.push(Kpi { key: "first-response-business".into(), label: super::tr(&s, "First answer, working time (30 days)"), value: fv, note: fnote });
        kpis.push(Kpi { key: "resolution-business".into(), label: super::tr(&s, "Resolution, working time (30 days)"), value: rv, note: rnote });
    }
    let csat = match (st.csat.rated, st.csat.average) {
        (0, _) | (_, None) => ("—".to_owned(), super::tr(&s, "no ratings yet")),
        (n, Some(avg)) => (format!("{:.0}%", st.csat.satisfied as f64 * 100.0 / n as f64), trv(&s, "csat-note", serde_json::json!({ "count": n, "average": format!("{avg:.1}") }))),
    };
    kpis.push(Kpi { key: "csat".into(), label: super::tr(&s, "CSAT (30 days)"), value: csat.0, note: csat.1 });
    for (key, label, met) in [("sla-first", "First answers on target (30 days)", st.first_response_met), ("sla-resolution", "Resolutions on target (30 days)", st.resolution_met)] {
        if let Some(m) = met {
            kpis.push(Kpi { key: key.into(), label: super::tr(&s, label), value: m.percent().map_or("—".into(), |p| format!("{p:.0}%")), note: trv(&s, "met-missed", serde_json::json!({ "met": m.met, "missed": m.missed })) });
        }
    }
    let tables = tables_of(&s, &a, days, &base).await;
    let v = AnalyticsPage {
        frame: frame(state, req, &slug, &s, None).await,
        windows: WINDOWS.iter().map(|w| Choice { value: w.to_string(), label: super::tr(&s, &format!("{w} days")), count: None, selected: *w == days }).collect(),
        days,
        kpis,
        flow_chart: chart::render(&Chart { id: "flow", title: &super::tr(&s, "Tickets created, resolved and reopened per day"), labels: &labels, series: &flow, kind: Kind::Lines, format: &whole }),
        flow_legend: chart::legend(&flow),
        backlog_chart: chart::render(&Chart { id: "backlog", title: &super::tr(&s, "Open tickets at each day's end"), labels: &labels, series: &backlog, kind: Kind::Lines, format: &whole }),
        tables,
        export: format!("{base}/analytics/tickets.csv"),
    };
    rendered(StatusCode::OK, state.console_pages.analytics(&v))
}

/// The page's tables (each also a CSV download).
async fn tables_of(s: &super::Staff, a: &tikethet_runtime::desk::analytics::Analytics, days: i64, base: &str) -> Vec<Table> {
    let categories: HashMap<i64, String> = s.ctx.categories().await.map(|c| c.into_iter().map(|c| (c.id, c.name)).collect()).unwrap_or_default();
    let agent_ids: Vec<i64> = a.agents.iter().map(|g| g.user_id).collect();
    let people = s.ctx.people_by_ids(&agent_ids).await.unwrap_or_default();
    let dash = |p: &Percentiles, f: fn(&Percentiles) -> Option<f64>| f(p).map_or("—".to_owned(), duration);
    vec![
        Table {
            id: "per-day".into(),
            title: super::tr(s, "Per day"),
            headers: ["Day", "Created", "Resolved", "Reopened", "Open at the end"].map(|h| super::tr(s, h)).to_vec(),
            rows: (0..a.days.len()).rev().map(|i| vec![a.days[i].clone(), a.created[i].to_string(), a.resolved[i].to_string(), a.reopened[i].to_string(), a.backlog[i].to_string()]).collect(),
            csv: Some(format!("{base}/analytics/per-day.csv?days={days}")),
            empty: super::tr(s, "Nothing yet."),
        },
        Table {
            id: "by-priority".into(),
            title: super::tr(s, "By priority"),
            headers: vec![super::tr(s, "Priority"), trv(s, "created-in-days", serde_json::json!({ "days": days })), super::tr(s, "Open now")],
            rows: a.by_priority.iter().map(|(p, c, o)| vec![super::tr(s, p), c.to_string(), o.to_string()]).collect(),
            csv: Some(format!("{base}/analytics/by-priority.csv?days={days}")),
            empty: super::tr(s, "No tickets."),
        },
        Table {
            id: "by-category".into(),
            title: super::tr(s, "By category"),
            headers: vec![super::tr(s, "Category"), trv(s, "created-in-days", serde_json::json!({ "days": days })), super::tr(s, "Open now")],
            rows: a.by_category.iter().map(|(k, c, o)| vec![k.and_then(|k| categories.get(&k).cloned()).unwrap_or_else(|| super::tr(s, "none")), c.to_string(), o.to_string()]).collect(),
            csv: Some(format!("{base}/analytics/by-category.csv?days={days}")),
            empty: super::tr(s, "No tickets."),
        },
        Table {
            id: "per-agent".into(),
            title: super::tr(s, "Per agent"),
            headers: vec![
                super::tr(s, "Agent"),
                super::tr(s, "Open"),
                trv(s, "resolved-in-days", serde_json::json!({ "days": days })),
                super::tr(s, "First answer, median"),
                super::tr(s, "Resolution, median"),
                super::tr(s, "Resolution, p90"),
            ],
            rows: a
                .agents
                .iter()
                .map(|g| {
                    vec![
                        name_of(people.get(&g.user_id)),
                        g.open.to_string(),
                        g.resolved.to_string(),
                        dash(&g.first_response, |p| p.median_seconds),
                        dash(&g.resolution, |p| p.median_seconds),
                        dash(&g.resolution, |p| p.p90_seconds),
                    ]
                })
                .collect(),
            csv: Some(format!("{base}/analytics/per-agent.csv?days={days}")),
            empty: super::tr(s, "No ticket is assigned to anyone."),
        },
    ]
}

pub(super) fn csv_response(name: &str, body: Body) -> Response {
    Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(body)
}

/// `GET /t/{slug}/admin/analytics/{table}.csv?days=30`: one of the page's
/// tables (`per-day`, `by-priority`, `by-category`, `per-agent`) as CSV.
#[handler]
pub async fn table_csv(Path((slug, file)): Path<(String, String)>, req: &Request, s: Staff, Data(state): Data<&AppState>) -> Response {
    let days = web::query::<Window>(req).days.and_then(|d| d.parse::<i64>().ok()).filter(|d| WINDOWS.contains(d)).unwrap_or(30);
    let (a, _) = match s.ctx.analytics(days).await {
        Ok(x) => x,
        Err(e) => return desk_error(state, &slug, &e),
    };
    let id = file.strip_suffix(".csv").unwrap_or_default();
    let tables = tables_of(&s, &a, days, &base(req, &slug)).await;
    let Some(t) = tables.into_iter().find(|t| t.id == id) else {
        return super::error_page(state, &slug, StatusCode::NOT_FOUND, "Not found", "The analytics have no such table.");
    };
    let head = t.headers.iter().map(|h| h.to_lowercase().replace([' ', ','], "_")).collect::<Vec<_>>();
    let out = lines(std::iter::once(&head).chain(&t.rows));
    csv_response(&format!("{slug}-{id}.csv"), Body::from_string(out))
}

/// `GET /t/{slug}/admin/analytics/tickets.csv`: every ticket, streamed.
#[handler]
pub async fn tickets_csv(Path(slug): Path<String>, s: Staff, Data(state): Data<&AppState>) -> Response {
    // Refused before the first byte when the caller may not export.
    if let Err(e) = s.ctx.export_page(0, 0).await {
        return desk_error(state, &slug, &e);
    }
    let header = line(&[
        "id", "created_at", "status", "priority", "category_id", "assignee_id", "customer_id", "title", "first_response_at", "resolved_at", "closed_at", "first_response_minutes", "resolution_minutes", "rating",
    ].map(String::from));
    let ctx = s.ctx;
    let stream = futures::stream::unfold((Some(header), ctx, 0i64, false), |(head, ctx, after, done)| async move {
        if let Some(h) = head {
            return Some((Ok::<String, std::io::Error>(h), (None, ctx, after, done)));
        }
        if done {
            return None;
        }
        match ctx.export_page(after, EXPORT_PAGE).await {
            Ok(rows) if rows.is_empty() => None,
            Ok(rows) => {
                let last = rows.last().map(|r| r.ticket.id).unwrap_or(after);
                let full = rows.len() as u64 == EXPORT_PAGE;
                let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
                let out = lines(rows.iter().map(|r| {
                    let t = &r.ticket;
                    let minutes = |x: Option<chrono::DateTime<chrono::Utc>>| x.map(|x| (x - t.created_at).num_minutes().to_string()).unwrap_or_default();
                    [
                        t.id.to_string(),
                        t.created_at.to_rfc3339(),
                        t.status.to_string(),
                        t.priority.to_string(),
                        t.category_id.map(|c| c.to_string()).unwrap_or_default(),
                        t.assignee_id.map(|c| c.to_string()).unwrap_or_default(),
                        t.customer_id.to_string(),
                        t.title.clone(),
                        at(t.first_response_at),
                        at(t.resolved_at),
                        at(t.closed_at),
                        minutes(t.first_response_at),
                        minutes(t.resolved_at),
                        r.rating.map(|x| x.to_string()).unwrap_or_default(),
                    ]
                }));
                Some((Ok(out), (None, ctx, last, !full)))
            }
            Err(e) => {
                // Headers are sent: the download ends short, and says so.
                tracing::error!(error = %e, "the tickets' export failed part way");
                Some((Err(std::io::Error::other(e.to_string())), (None, ctx, after, true)))
            }
        }
    });
    csv_response(&format!("{slug}-tickets.csv"), Body::from_bytes_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        let one = |f: &str| line(&[f.to_owned()]).trim_end_matches("\r\n").to_owned();
        assert_eq!(one("plain"), "plain");
        assert_eq!(one("a, b"), "\"a, b\"");
        assert_eq!(one("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(one("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(one("-1"), "'-1");
        assert_eq!(one("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(line(&["a".into(), "b\nc".into()]), "a,\"b\nc\"\r\n");
        assert_eq!(lines([["x", "1"], ["y", "+2"]]), "x,1\r\ny,'+2\r\n");
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!((duration(59.0), duration(3600.0 + 20.0 * 60.0), duration(2.0 * 86400.0 + 4.0 * 3600.0)), ("1 min".into(), "1 h 20 min".into(), "2 d 4 h".into()));
    }
}
