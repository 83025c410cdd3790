//! Tells customers who write outside business hours when the team is back,
//! once per customer per day. Config:
//! `{"utc_offset_minutes": 60, "open": "09:00", "close": "18:00",
//!   "weekdays": [1, 2, 3, 4, 5], "message": "We are closed; back at 9:00."}`
//! (weekdays: 1 = Monday … 7 = Sunday).

use tikethet_plugin_sdk::{Action, LogLevel, MessageEvent, Plugin, config, export, kv, log, now_ms};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    utc_offset_minutes: i64,
    open: String,
    close: String,
    #[serde(default = "workdays")]
    weekdays: Vec<u8>,
    message: String,
}

fn workdays() -> Vec<u8> {
    vec![1, 2, 3, 4, 5]
}

fn minutes(hhmm: &str) -> Option<i64> {
    let (h, m) = hhmm.split_once(':')?;
    Some(h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
}

struct OutOfHours;

impl Plugin for OutOfHours {
    fn on_message(e: MessageEvent) -> Vec<Action> {
        let cfg = match config::<Config>() {
            Ok(c) => c,
            Err(err) => {
                log(LogLevel::Error, &err);
                return vec![];
            }
        };
        let (Some(open), Some(close)) = (minutes(&cfg.open), minutes(&cfg.close)) else {
            log(LogLevel::Error, "open and close must be HH:MM");
            return vec![];
        };
        let local_min = (now_ms() as i64) / 60_000 + cfg.utc_offset_minutes;
        let day = local_min.div_euclid(24 * 60);
        let minute = local_min.rem_euclid(24 * 60);
        // 1970-01-01 was a Thursday (weekday 4).
        let weekday = ((day + 3).rem_euclid(7) + 1) as u8;
        if cfg.weekdays.contains(&weekday) && minute >= open && minute < close {
            return vec![];
        }
        let key = format!("told:{}", e.customer_telegram_id);
        if kv::get(&key).as_deref() == Some(day.to_string().as_str()) {
            return vec![];
        }
        let _ = kv::set(&key, &day.to_string());
        vec![Action::reply(cfg.message)]
    }
}

export!(OutOfHours);
