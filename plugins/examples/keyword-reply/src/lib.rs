//! Answers messages that contain a keyword, optionally with inline buttons,
//! and answers those buttons. Config:
//! `{"rules": [{"keywords": ["refund", "money back"], "answer": "Refunds take 5 days.",
//!   "buttons": [{"text": "How do I ask?", "data": "refund-how"}]}],
//!  "button_answers": [{"data": "refund-how", "answer": "Reply with your order number."}]}`
//! (`buttons` and `button_answers` may be left out).

use tikethet_plugin_sdk::{Action, ButtonEvent, MessageEvent, Plugin, config, export};

#[derive(serde::Deserialize)]
struct Config {
    rules: Vec<Rule>,
    #[serde(default)]
    button_answers: Vec<ButtonAnswer>,
}

#[derive(serde::Deserialize)]
struct Rule {
    keywords: Vec<String>,
    answer: String,
    #[serde(default)]
    buttons: Vec<ConfiguredButton>,
}

#[derive(serde::Deserialize)]
struct ConfiguredButton {
    text: String,
    data: String,
}

#[derive(serde::Deserialize)]
struct ButtonAnswer {
    data: String,
    answer: String,
}

struct KeywordReply;

impl Plugin for KeywordReply {
    fn on_message(e: MessageEvent) -> Vec<Action> {
        let Ok(cfg) = config::<Config>() else { return vec![] };
        let text = e.text.to_lowercase();
        let hit = cfg.rules.iter().find(|r| r.keywords.iter().any(|k| text.contains(&k.to_lowercase())));
        hit.map(|r| {
            let buttons: Vec<(&str, &str)> = r.buttons.iter().map(|b| (b.text.as_str(), b.data.as_str())).collect();
            vec![Action::reply_with_buttons(&r.answer, &buttons)]
        })
        .unwrap_or_default()
    }

    fn on_button(e: ButtonEvent) -> Vec<Action> {
        let Ok(cfg) = config::<Config>() else { return vec![] };
        cfg.button_answers.iter().find(|a| a.data == e.data).map(|a| vec![Action::reply(&a.answer)]).unwrap_or_default()
    }
}

export!(KeywordReply);
