//! Answers messages that contain a keyword. Config:
//! `{"rules": [{"keywords": ["refund", "money back"], "answer": "Refunds take 5 days."}]}`

use tikethet_plugin_sdk::{Action, MessageEvent, Plugin, config, export};

#[derive(serde::Deserialize)]
struct Config {
    rules: Vec<Rule>,
}

#[derive(serde::Deserialize)]
struct Rule {
    keywords: Vec<String>,
    answer: String,
}

struct KeywordReply;

impl Plugin for KeywordReply {
    fn on_message(e: MessageEvent) -> Vec<Action> {
        let Ok(cfg) = config::<Config>() else { return vec![] };
        let text = e.text.to_lowercase();
        let hit = cfg.rules.iter().find(|r| r.keywords.iter().any(|k| text.contains(&k.to_lowercase())));
        hit.map(|r| vec![Action::reply(&r.answer)]).unwrap_or_default()
    }
}

export!(KeywordReply);
