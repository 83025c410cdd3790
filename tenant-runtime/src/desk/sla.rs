//! Service-level targets: how soon a ticket of each priority gets its first
//! staff answer and its resolution, counted in the desk's business hours
//! (or around the clock). A reminder goes out when three quarters of a
//! target have passed, an escalation when it is missed (see
//! `crate::outbound::notify` and the maintenance pass).
//!
//! Business hours are a UTC offset (no daylight-saving rules), working
//! days and one span a day; set as JSON:
//! `{"targets": {"high": {"first_response_minutes": 60, "resolution_minutes": 480}},
//!   "business_hours": {"utc_offset": "+03:00", "days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "18:00"}}`.

use chrono::{DateTime, Datelike as _, Duration, Timelike as _, Utc};
use serde_json::{Value, json};

use crate::domain::{Invalid, Priority};

/// The longest target: 90 days.
pub const MAX_TARGET_MINUTES: u32 = 90 * 24 * 60;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One priority's targets, in (business) minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Option<u32>,
    pub resolution: Option<u32>,
}

/// When the desk works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessHours {
    /// Minutes east of UTC.
    pub utc_offset: i32,
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes after local midnight; `start < end`.
    pub start: u32,
    pub end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// By priority, in `Priority::ALL` order.
    pub targets: [Targets; 4],
    /// `None`: around the clock.
    pub hours: Option<BusinessHours>,
}

fn priority_index(p: Priority) -> usize {
    Priority::ALL.iter().position(|x| *x == p).expect("every priority is listed")
}

fn hhmm(field: &'static str, v: Option<&Value>) -> Result<u32, Invalid> {
    let s = v.and_then(Value::as_str).ok_or_else(|| Invalid::new(field, "must be a time as \"HH:MM\""))?;
    let (h, m) = s.split_once(':').ok_or_else(|| Invalid::new(field, "must be a time as \"HH:MM\""))?;
    match (h.parse::<u32>(), m.parse::<u32>()) {
        (Ok(h), Ok(m)) if m < 60 && h * 60 + m <= 24 * 60 => Ok(h * 60 + m),
        _ => Err(Invalid::new(field, format!("{s:?} is not a time of day as \"HH:MM\""))),
    }
}

fn offset(v: Option<&Value>) -> Result<i32, Invalid> {
    let field = "business_hours.utc_offset";
    let s = v.and_then(Value::as_str).unwrap_or("+00:00");
    let (sign, rest) = match s.split_at_checked(1) {
        Some(("+", r)) => (1, r),
        Some(("-", r)) => (-1, r),
        _ => return Err(Invalid::new(field, "must be like \"+03:00\" or \"-05:30\"")),
    };
    let minutes = hhmm(field, Some(&Value::from(rest)))? as i32;
    if minutes > 14 * 60 {
        return Err(Invalid::new(field, "must be between -14:00 and +14:00"));
    }
    Ok(sign * minutes)
}

fn minutes(field: &'static str, v: Option<&Value>) -> Result<Option<u32>, Invalid> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_TARGET_MINUTES as u64).contains(&n) => Ok(Some(n as u32)),
            _ => Err(Invalid::new(field, format!("must be a whole number of minutes from 1 to {MAX_TARGET_MINUTES}, or null"))),
        },
    }
}

impl SlaPolicy {
    /// Reads the policy an admin sends (see the module's documentation).
    pub fn from_json(v: &Value) -> Result<SlaPolicy, Invalid> {
        let obj = v.as_object().ok_or_else(|| Invalid::new("sla", "must be an object with \"targets\" and \"business_hours\""))?;
        if let Some(k) = obj.keys().find(|k| !["targets", "business_hours"].contains(&k.as_str())) {
            return Err(Invalid::new("sla", format!("unknown field {k:?}")));
        }
        let mut targets = [Targets::default(); 4];
        if let Some(t) = obj.get("targets").filter(|t| !t.is_null()) {
            let t = t.as_object().ok_or_else(|| Invalid::new("targets", "must be an object of priorities"))?;
            for (p, spec) in t {
                let p = Priority::parse(p).map_err(|_| Invalid::new("targets", format!("{p:?} is not a priority (low, normal, high, critical)")))?;
                let spec = spec.as_object().ok_or_else(|| Invalid::new("targets", "each priority's targets are an object"))?;
                if let Some(k) = spec.keys().find(|k| !["first_response_minutes", "resolution_minutes"].contains(&k.as_str())) {
                    return Err(Invalid::new("targets", format!("unknown field {k:?}")));
                }
                targets[priority_index(p)] = Targets {
                    first_response: minutes("first_response_minutes", spec.get("first_response_minutes"))?,
                    resolution: minutes("resolution_minutes", spec.get("resolution_minutes"))?,
                };
            }
        }
        let hours = match obj.get("business_hours") {
            None | Some(Value::Null) => None,
            Some(h) => {
                let h = h.as_object().ok_or_else(|| Invalid::new("business_hours", "must be an object, or null for around the clock"))?;
                let mut days = [false; 7];
                let listed = h.get("days").and_then(Value::as_array).ok_or_else(|| Invalid::new("business_hours.days", "must list days: \"mon\" … \"sun\""))?;
                for d in listed {
                    let i = d.as_str().and_then(|d| DAYS.iter().position(|x| *x == d)).ok_or_else(|| Invalid::new("business_hours.days", format!("{d} is not one of mon, tue, wed, thu, fri, sat, sun")))?;
                    days[i] = true;
                }
                if !days.iter().any(|d| *d) {
                    return Err(Invalid::new("business_hours.days", "must name at least one day"));
                }
                let start = hhmm("business_hours.start", h.get("start"))?;
                let end = hhmm("business_hours.end", h.get("end"))?;
                if start >= end {
                    return Err(Invalid::new("business_hours.end", "must be after the start"));
                }
                Some(BusinessHours { utc_offset: offset(h.get("utc_offset"))?, days, start, end })
            }
        };
        Ok(SlaPolicy { targets, hours })
    }

    pub fn to_json(&self) -> Value {
        let mut targets = serde_json::Map::new();
        for (p, t) in Priority::ALL.iter().zip(self.targets.iter()) {
            if t.first_response.is_some() || t.resolution.is_some() {
                targets.insert(p.as_str().into(), json!({ "first_response_minutes": t.first_response, "resolution_minutes": t.resolution }));
            }
        }
        let hours = self.hours.map(|h| {
            let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
            let o = h.utc_offset.unsigned_abs();
            json!({
                "utc_offset": format!("{}{:02}:{:02}", if h.utc_offset < 0 { "-" } else { "+" }, o / 60, o % 60),
                "days": DAYS.iter().zip(h.days).filter(|(_, on)| *on).map(|(d, _)| *d).collect::<Vec<_>>(),
                "start": hm(h.start),
                "end": hm(h.end),
            })
        });
        json!({ "targets": targets, "business_hours": hours })
    }

    /// Whether any target is set.
    pub fn is_empty(&self) -> bool {
        self.targets.iter().all(|t| t.first_response.is_none() && t.resolution.is_none())
    }

    pub fn targets(&self, p: Priority) -> Targets {
        self.targets[priority_index(p)]
    }

    /// The moment `minutes` of working time after `from`.
    pub fn after(&self, from: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        let Some(h) = self.hours else { return from + Duration::minutes(minutes as i64) };
        let off = Duration::minutes(h.utc_offset as i64);
        let mut t = from + off;
        let mut left = minutes as i64;
        // Whole weeks at once (a week always holds the same working time),
        // so that the walk below is a few days whatever the target.
        let weekly = h.weekly_minutes();
        if left > weekly {
            let weeks = (left - 1) / weekly;
            t += Duration::days(7 * weeks);
            left -= weeks * weekly;
        }
        for _ in 0..16 {
            let day = t.weekday().num_days_from_monday() as usize;
            let now = t.hour() * 60 + t.minute();
            if h.days[day] && now < h.end {
                let midnight = t.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
                let begin = if now >= h.start { t } else { midnight + Duration::minutes(h.start as i64) };
                let span = (midnight + Duration::minutes(h.end as i64) - begin).num_minutes();
                if left <= span {
                    return begin + Duration::minutes(left) - off;
                }
                left -= span;
            }
            t = (t.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        }
        unreachable!("a week holds every target's remainder")
    }

    /// The ticket's next target not yet met, and when it falls due:
    /// `first_response` until staff answer, then `resolution` until the
    /// ticket is finished; `None` when neither has a target (or both are met).
    pub fn next_due(&self, t: &crate::storage::entities::tickets::Model) -> Option<(&'static str, DateTime<Utc>)> {
        self.next_due_of(t.status, t.priority, t.created_at, t.first_response_at.is_some())
    }

    /// [`next_due`](Self::next_due) from the few columns it reads.
    pub fn next_due_of(&self, status: crate::domain::TicketStatus, priority: Priority, created_at: DateTime<Utc>, answered: bool) -> Option<(&'static str, DateTime<Utc>)> {
        let targets = self.targets(priority);
        if !status.is_active() {
            return None;
        }
        [("first_response", targets.first_response, answered), ("resolution", targets.resolution, false)]
            .into_iter()
            .find_map(|(kind, target, done)| target.filter(|_| !done).map(|m| (kind, self.after(created_at, m))))
    }

    /// Working minutes from `from` to `to` (0 when `to` is earlier).
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let Some(h) = self.hours else { return (to - from).num_minutes() };
        let off = Duration::minutes(h.utc_offset as i64);
        let (mut t, end) = (from + off, to + off);
        // Whole weeks at once, then the days left.
        let weeks = (end - t).num_days() / 7;
        let mut total = weeks * h.weekly_minutes();
        t += Duration::days(7 * weeks);
        while t < end {
            let day = t.weekday().num_days_from_monday() as usize;
            let midnight = t.date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
            if h.days[day] {
                let open = midnight + Duration::minutes(h.start as i64);
                let close = midnight + Duration::minutes(h.end as i64);
                let (a, b) = (t.max(open), end.min(close));
                if b > a {
                    total += (b - a).num_minutes();
                }
            }
            t = midnight + Duration::days(1);
        }
        total
    }
}

impl BusinessHours {
    /// Working minutes in a week (never 0: a day at least is named, and
    /// its span is at least a minute).
    pub fn weekly_minutes(&self) -> i64 {
        self.days.iter().filter(|d| **d).count() as i64 * (self.end - self.start) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn office() -> SlaPolicy {
        SlaPolicy::from_json(&json!({
            "targets": {"high": {"first_response_minutes": 60, "resolution_minutes": 480}},
            "business_hours": {"utc_offset": "+03:00", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
        }))
        .unwrap()
    }

    #[test]
    fn a_policy_reads_and_writes_back_what_an_admin_sets() {
        let p = office();
        assert_eq!(p.targets(Priority::High), Targets { first_response: Some(60), resolution: Some(480) });
        assert_eq!(p.targets(Priority::Low), Targets::default());
        assert_eq!(SlaPolicy::from_json(&p.to_json()).unwrap(), p);
        let h = p.hours.unwrap();
        assert_eq!((h.utc_offset, h.start, h.end, h.days), (180, 540, 1080, [true, true, true, true, true, false, false]));
        for (bad, says) in [
            (json!({"targets": {"urgent": {}}}), "not a priority"),
            (json!({"targets": {"high": {"first_response_minutes": 0}}}), "from 1"),
            (json!({"targets": {"high": {"first_response_minutes": 1.5}}}), "whole number"),
            (json!({"business_hours": {"days": ["mon"], "start": "18:00", "end": "09:00"}}), "after the start"),
            (json!({"business_hours": {"days": ["someday"], "start": "09:00", "end": "18:00"}}), "not one of"),
            (json!({"business_hours": {"days": [], "start": "09:00", "end": "18:00"}}), "at least one"),
            (json!({"business_hours": {"days": ["mon"], "start": "9am", "end": "18:00"}}), "HH:MM"),
            (json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "utc_offset": "+15:00"}}), "-14:00"),
            (json!({"extra": 1}), "unknown field"),
        ] {
            let e = SlaPolicy::from_json(&bad).unwrap_err();
            assert!(e.reason.contains(says), "{bad}: {}", e.reason);
        }
        assert!(SlaPolicy::from_json(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn working_time_skips_nights_and_weekends_in_the_desks_offset() {
        let p = office();
        // Friday 17:30 local (14:30 UTC): 30 minutes left that day, the
        // other 30 on Monday from 09:00 local (06:00 UTC).
        assert_eq!(p.after(at("2026-12-04T14:30:00Z"), 60), at("2026-12-07T06:30:00Z"));
        // Before opening: counted from 09:00.
        assert_eq!(p.after(at("2026-12-01T03:00:00Z"), 60), at("2026-12-01T07:00:00Z"));
        // Exactly the day's remainder ends at closing.
        assert_eq!(p.after(at("2026-12-01T14:00:00Z"), 60), at("2026-12-01T15:00:00Z"));
        assert_eq!(p.elapsed(at("2026-12-04T14:30:00Z"), at("2026-12-07T06:30:00Z")), 60);
        assert_eq!(p.elapsed(at("2026-12-05T10:00:00Z"), at("2026-12-06T10:00:00Z")), 0, "a weekend");
        assert_eq!(p.elapsed(at("2026-12-01T06:00:00Z"), at("2026-12-02T06:00:00Z")), 9 * 60, "a working day");
        // Weeks are counted at once: a long target lands where a day-by-day
        // walk would put it (one working minute a week, on Sundays).
        let sparse = SlaPolicy::from_json(&json!({"business_hours": {"days": ["sun"], "start": "00:00", "end": "00:01"}})).unwrap();
        assert_eq!(sparse.after(at("2026-12-01T00:00:00Z"), 3), at("2026-12-20T00:01:00Z"));
        assert_eq!(sparse.elapsed(at("2026-12-01T00:00:00Z"), at("2026-12-20T00:01:00Z")), 3);
        assert_eq!(p.elapsed(at("2026-12-01T06:00:00Z"), at("2026-12-29T06:00:00Z")), 20 * 9 * 60, "four weeks");
        assert_eq!(p.after(at("2026-12-01T06:00:00Z"), 20 * 9 * 60), at("2026-12-28T15:00:00Z"), "four weeks of work end on the fourth Monday's close");
        let always = SlaPolicy::from_json(&json!({"targets": {"low": {"resolution_minutes": 90}}})).unwrap();
        assert_eq!(always.after(at("2026-12-05T23:00:00Z"), 90), at("2026-12-06T00:30:00Z"));
        assert_eq!(always.elapsed(at("2026-12-05T23:00:00Z"), at("2026-12-06T00:30:00Z")), 90);
    }
}
