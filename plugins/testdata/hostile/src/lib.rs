//! A plugin that misbehaves on purpose, for the host's tests. Its config
//! `{"mode": "..."}` picks how: `loop`, `memory`, `trap`, `flood` (too many
//! actions), `huge-reply`, `kv-flood`, `huge-log` (hands the host 2 MiB in
//! one call), `spin` (calls the host in a loop, which costs little fuel, so it
//! runs until the CPU-time deadline: the fairness benchmark's heavy tenant),
//! `work` (calls the host as many times as the message's text says, then
//! answers: a bounded amount of CPU), or `ok` (behaves).
//!
//! Built against contract 1.2.0: `on-schedule` misbehaves the same ways
//! (`loop`, `memory`, `trap`, `flood`, `huge-reply`, `kv-flood`), and
//! otherwise answers each waiting ticket with `scheduled: TITLE`.

use tikethet_plugin_sdk::{
    Action, LogLevel, MessageEvent, Plugin, Routing, ScheduleEvent, TicketAction, TicketEvent, config, export, kv, log, now_ms,
};

#[derive(serde::Deserialize)]
struct Config {
    mode: String,
}

fn mode() -> String {
    config::<Config>().map(|c| c.mode).unwrap_or_default()
}

struct Hostile;

impl Plugin for Hostile {
    fn on_message(e: MessageEvent) -> Vec<Action> {
        match mode().as_str() {
            "loop" => {
                let mut x = e.sent_at;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "spin" => loop {
                std::hint::black_box(now_ms());
            },
            "work" => {
                let n: u64 = e.text.trim().parse().unwrap_or(0);
                let mut x = 0;
                for _ in 0..n {
                    x ^= std::hint::black_box(now_ms());
                }
                std::hint::black_box(x);
                vec![Action::reply("worked")]
            }
            "trap" => panic!("boom"),
            "flood" => (0..1000).map(|i| Action::Tag(format!("t{i}"))).collect(),
            "huge-reply" => vec![Action::reply("x".repeat(100_000))],
            "kv-flood" => {
                let mut refused = 0;
                for i in 0..1000 {
                    if kv::set(&format!("k{i}"), "v").is_err() {
                        refused += 1;
                    }
                }
                vec![Action::reply(format!("refused {refused}"))]
            }
            "huge-log" => {
                log(LogLevel::Info, &"x".repeat(2 << 20));
                vec![Action::reply("the host took it all")]
            }
            _ => vec![Action::reply(format!("echo: {}", e.text))],
        }
    }

    fn on_ticket_created(_t: TicketEvent) -> Routing {
        if mode() == "trap" {
            panic!("boom");
        }
        Routing::none()
    }

    fn on_schedule(e: ScheduleEvent) -> Vec<TicketAction> {
        match mode().as_str() {
            "loop" => {
                let mut x = e.now;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("boom"),
            "flood" => (0..1000).map(|i| TicketAction::on(1, Action::Tag(format!("t{i}")))).collect(),
            "huge-reply" => vec![TicketAction::reply(1, "x".repeat(100_000))],
            "kv-flood" => {
                let refused = (0..1000).filter(|i| kv::set(&format!("k{i}"), "v").is_err()).count();
                vec![TicketAction::reply(1, format!("refused {refused}"))]
            }
            _ => e.waiting.iter().map(|t| TicketAction::reply(t.ticket_id, format!("scheduled: {}", t.title))).collect(),
        }
    }
}

export!(Hostile);
