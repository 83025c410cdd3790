//! Service-level targets: how soon a ticket of each priority gets its first
//! staff answer and its resolution, counted in the desk's business hours
//! (or around the clock). A reminder goes out when three quarters of a
//! target have passed, an escalation when it is missed (see
//! `crate::outbound::notify` and the maintenance pass).
//!
//! Business hours are a time zone (an IANA name, daylight saving
//! included, or a fixed UTC offset), working days, one span a day and the
//! desk's holidays; set as JSON:
//! `{"targets": {"high": {"first_response_minutes": 60, "resolution_minutes": 480}},
//!   "business_hours": {"time_zone": "Europe/Berlin", "days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "18:00",
//!                      "holidays": ["2026-12-25", "2026-12-31"]}}`.
//! Working time is counted on the desk's wall clock: a day from 09:00 to
//! 18:00 is nine hours whatever the offset that day, and a target due at
//! 10:00 on the Monday after the clocks change is due at 10:00 local.

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, NaiveDateTime, TimeZone as _, Timelike as _, Utc};
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

/// Where the desk's clock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Minutes east of UTC, all year.
    Fixed(i32),
    /// An IANA time zone, its daylight saving included.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The desk's wall-clock time at an instant.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Fixed(m) => t.naive_utc() + Duration::minutes(*m as i64),
            Zone::Named(tz) => t.with_timezone(tz).naive_local(),
        }
    }

    /// The instant of a wall-clock time: the earlier of a time the clocks
    /// pass twice, and for one they skip, the same time an hour later.
    pub fn instant(&self, l: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Fixed(m) => (l - Duration::minutes(*m as i64)).and_utc(),
            Zone::Named(tz) => match tz.from_local_datetime(&l).earliest() {
                Some(t) => t.with_timezone(&Utc),
                None => tz.from_local_datetime(&(l + Duration::hours(1))).earliest().map_or_else(|| l.and_utc(), |t| t.with_timezone(&Utc)),
            },
        }
    }

    /// How people read it: `Europe/Berlin`, `UTC+03:00`.
    pub fn label(&self) -> String {
        match self {
            Zone::Fixed(m) => format!("UTC{}", offset_text(*m)),
            Zone::Named(tz) => tz.name().to_owned(),
        }
    }
}

/// `+03:00`, `-05:30`.
pub fn offset_text(minutes: i32) -> String {
    let o = minutes.unsigned_abs();
    format!("{}{:02}:{:02}", if minutes < 0 { "-" } else { "+" }, o / 60, o % 60)
}

/// Holidays a desk may list.
pub const MAX_HOLIDAYS: usize = 200;

/// When the desk works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    pub zone: Zone,
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes after local midnight; `start < end`.
    pub start: u32,
    pub end: u32,
    /// Days off besides the weekly ones, sorted.
    pub holidays: Vec<NaiveDate>,
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

fn zone(h: &serde_json::Map<String, Value>) -> Result<Zone, Invalid> {
    match (h.get("time_zone").filter(|v| !v.is_null()), h.get("utc_offset").filter(|v| !v.is_null())) {
        (Some(_), Some(_)) => Err(Invalid::new("business_hours.time_zone", "give a time_zone or a utc_offset, not both")),
        (Some(z), None) => {
            let name = z.as_str().ok_or_else(|| Invalid::new("business_hours.time_zone", "must be an IANA time zone such as \"Europe/Berlin\""))?;
            name.parse::<chrono_tz::Tz>()
                .map(Zone::Named)
                .map_err(|_| Invalid::new("business_hours.time_zone", format!("{name:?} is not an IANA time zone (such as \"Europe/Berlin\" or \"America/New_York\")")))
        }
        (None, offset_given) => offset(offset_given).map(Zone::Fixed),
    }
}

fn holidays(v: Option<&Value>) -> Result<Vec<NaiveDate>, Invalid> {
    let field = "business_hours.holidays";
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let list = v.as_array().ok_or_else(|| Invalid::new(field, "must list dates as \"YYYY-MM-DD\""))?;
    if list.len() > MAX_HOLIDAYS {
        return Err(Invalid::new(field, format!("at most {MAX_HOLIDAYS} dates")));
    }
    let mut days = list
        .iter()
        .map(|d| d.as_str().and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).ok_or_else(|| Invalid::new(field, format!("{d} is not a date as \"YYYY-MM-DD\""))))
        .collect::<Result<Vec<_>, _>>()?;
    days.sort();
    days.dedup();
    Ok(days)
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
                if let Some(k) = h.keys().find(|k| !["time_zone", "utc_offset", "days", "start", "end", "holidays"].contains(&k.as_str())) {
                    return Err(Invalid::new("business_hours", format!("unknown field {k:?}")));
                }
                Some(BusinessHours { zone: zone(h)?, days, start, end, holidays: holidays(h.get("holidays"))? })
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
        let hours = self.hours.as_ref().map(|h| {
            let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
            let mut v = json!({
                "days": DAYS.iter().zip(h.days).filter(|(_, on)| *on).map(|(d, _)| *d).collect::<Vec<_>>(),
                "start": hm(h.start),
                "end": hm(h.end),
                "holidays": h.holidays.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect::<Vec<_>>(),
            });
            match h.zone {
                Zone::Fixed(m) => v["utc_offset"] = json!(offset_text(m)),
                Zone::Named(tz) => v["time_zone"] = json!(tz.name()),
            }
            v
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
        let Some(h) = &self.hours else { return from + Duration::minutes(minutes as i64) };
        let mut t = h.zone.local(from);
        let mut left = minutes as i64;
        let weekly = h.weekly_minutes();
        // Each turn ends a day or skips whole weeks; holidays only add days,
        // and there are at most a few hundred of them.
        for _ in 0..(16 + 8 * (h.holidays.len() + 1)) {
            if left > weekly {
                // Whole weeks at once (a week holds the same working time,
                // but for the holidays in it, given back), so that the walk
                // is a few days whatever the target.
                let weeks = (left - 1) / weekly;
                let later = t + Duration::days(7 * weeks);
                left -= weeks * weekly - h.holiday_minutes(t, later);
                t = later;
                continue;
            }
            let now = t.hour() * 60 + t.minute();
            let midnight = t.date().and_hms_opt(0, 0, 0).expect("midnight");
            if h.works(t.date()) && now < h.end {
                let begin = now.max(h.start);
                let span = (h.end - begin) as i64;
                if left <= span {
                    return h.zone.instant(midnight + Duration::minutes(begin as i64 + left));
                }
                left -= span;
            }
            t = midnight + Duration::days(1);
        }
        unreachable!("a week holds every target's remainder, and holidays are few")
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
        let Some(h) = &self.hours else { return (to - from).num_minutes() };
        let (mut t, end) = (h.zone.local(from), h.zone.local(to));
        // Whole weeks at once (less their holidays), then the days left.
        let weeks = (end - t).num_days() / 7;
        let later = t + Duration::days(7 * weeks);
        let mut total = weeks * h.weekly_minutes() - h.holiday_minutes(t, later);
        t = later;
        while t < end {
            let midnight = t.date().and_hms_opt(0, 0, 0).expect("midnight");
            if h.works(t.date()) {
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
    /// Working minutes in a week without holidays (never 0: a day at least
    /// is named, and its span is at least a minute).
    pub fn weekly_minutes(&self) -> i64 {
        self.days.iter().filter(|d| **d).count() as i64 * (self.end - self.start) as i64
    }

    /// Whether the desk works on a (local) day: a working weekday that is
    /// not a holiday.
    pub fn works(&self, day: NaiveDate) -> bool {
        self.days[day.weekday().num_days_from_monday() as usize] && self.holidays.binary_search(&day).is_err()
    }

    /// The working time holidays take out of `[from, to)` (local times): the
    /// part of each holiday's working span inside it, for holidays on
    /// working weekdays.
    fn holiday_minutes(&self, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        let first = self.holidays.partition_point(|d| *d < from.date());
        self.holidays[first..]
            .iter()
            .take_while(|d| **d <= to.date())
            .filter(|d| self.days[d.weekday().num_days_from_monday() as usize])
            .map(|d| {
                let midnight = d.and_hms_opt(0, 0, 0).expect("midnight");
                let (open, close) = (midnight + Duration::minutes(self.start as i64), midnight + Duration::minutes(self.end as i64));
                let (a, b) = (from.max(open), to.min(close));
                if b > a { (b - a).num_minutes() } else { 0 }
            })
            .sum()
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
        let h = p.hours.clone().unwrap();
        assert_eq!((h.zone, h.start, h.end, h.days), (Zone::Fixed(180), 540, 1080, [true, true, true, true, true, false, false]));
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
            (json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "time_zone": "Mars/Olympus"}}), "not an IANA time zone"),
            (json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "time_zone": "Europe/Berlin", "utc_offset": "+01:00"}}), "not both"),
            (json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "holidays": ["31.12.2026"]}}), "YYYY-MM-DD"),
            (json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "lunch": "13:00"}}), "unknown field"),
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
        // (A fixed offset has no holidays unless listed, and writes back as an offset.)
        assert_eq!(p.to_json()["business_hours"]["utc_offset"], "+03:00");
        assert_eq!(always.after(at("2026-12-05T23:00:00Z"), 90), at("2026-12-06T00:30:00Z"));
        assert_eq!(always.elapsed(at("2026-12-05T23:00:00Z"), at("2026-12-06T00:30:00Z")), 90);
    }

    fn berlin(holidays: &[&str]) -> SlaPolicy {
        SlaPolicy::from_json(&json!({
            "targets": {"high": {"first_response_minutes": 120}},
            "business_hours": {"time_zone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00", "holidays": holidays}
        }))
        .unwrap()
    }

    #[test]
    fn working_time_follows_the_desks_time_zone_across_a_daylight_saving_change() {
        // Berlin leaves summer time (UTC+2) for winter time (UTC+1) on
        // Sunday 2026-10-25. A ticket on Friday 17:00 local (15:00 UTC)
        // with two working hours: one that day, one on Monday from 09:00
        // local, which is now 08:00 UTC: due 10:00 local, 09:00 UTC.
        let p = berlin(&[]);
        assert_eq!(p.after(at("2026-10-23T15:00:00Z"), 120), at("2026-10-26T09:00:00Z"));
        // A fixed +02:00 would have said 08:00 UTC, an hour early.
        let fixed = SlaPolicy::from_json(&json!({"business_hours": {"utc_offset": "+02:00", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}})).unwrap();
        assert_eq!(fixed.after(at("2026-10-23T15:00:00Z"), 120), at("2026-10-26T08:00:00Z"));
        assert_eq!(p.elapsed(at("2026-10-23T15:00:00Z"), at("2026-10-26T09:00:00Z")), 120);
        // And into summer time (2026-03-29): Friday 17:00 local is 16:00 UTC,
        // Monday 10:00 local is 08:00 UTC.
        assert_eq!(p.after(at("2026-03-27T16:00:00Z"), 120), at("2026-03-30T08:00:00Z"));
        // Reads and writes back by name.
        assert_eq!(p.to_json()["business_hours"]["time_zone"], "Europe/Berlin");
        assert_eq!(SlaPolicy::from_json(&p.to_json()).unwrap(), p);
        assert_eq!(p.hours.as_ref().unwrap().zone.label(), "Europe/Berlin");
    }

    #[test]
    fn holidays_are_not_working_days() {
        // Monday 2026-10-26 is a holiday: the second hour falls on Tuesday.
        let p = berlin(&["2026-10-26"]);
        assert_eq!(p.after(at("2026-10-23T15:00:00Z"), 120), at("2026-10-27T09:00:00Z"));
        assert_eq!(p.elapsed(at("2026-10-23T15:00:00Z"), at("2026-10-27T09:00:00Z")), 120);
        // A holiday on a Saturday changes nothing.
        assert_eq!(berlin(&["2026-10-24"]).after(at("2026-10-23T15:00:00Z"), 120), at("2026-10-26T09:00:00Z"));
        // Holidays inside a long target are given back when weeks are
        // skipped at once: three weeks and a day of work from Monday
        // 2026-12-07 09:00 local end on the fourth Monday's close; with 24
        // and 25 December off (and the 31st, later), two working days later.
        let none = berlin(&[]);
        let xmas = berlin(&["2026-12-24", "2026-12-25", "2026-12-31"]);
        let start = at("2026-12-07T08:00:00Z");
        let minutes = (3 * 5 + 1) * 9 * 60;
        assert_eq!(none.after(start, minutes), at("2026-12-28T17:00:00Z"));
        assert_eq!(xmas.after(start, minutes), at("2026-12-30T17:00:00Z"));
        assert_eq!(xmas.elapsed(start, at("2026-12-30T17:00:00Z")), minutes as i64);
        // Holidays are sorted and deduplicated; a list too long is refused.
        let h = SlaPolicy::from_json(&json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "holidays": ["2026-12-31", "2026-01-01", "2026-12-31"]}})).unwrap();
        assert_eq!(h.to_json()["business_hours"]["holidays"], json!(["2026-01-01", "2026-12-31"]));
        let many: Vec<String> = (0..=MAX_HOLIDAYS).map(|i| (NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() + Duration::days(i as i64)).to_string()).collect();
        assert!(SlaPolicy::from_json(&json!({"business_hours": {"days": ["mon"], "start": "09:00", "end": "18:00", "holidays": many}})).is_err());
    }
}
