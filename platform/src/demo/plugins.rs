//! The example plugins on the demo desks: built from `plugins/examples`
//! (once; the build is cached) and installed through each desk's API by its
//! owner, with a configuration in the desk's language. Done after the demo
//! is up, so that a first run's plugin build does not hold the start.

use std::time::Instant;

use serde_json::{Value, json};

use super::{DESKS, Desk, sign_in};

/// The examples installed, in order.
pub const EXAMPLES: [&str; 3] = ["keyword-reply", "out-of-hours", "router"];

fn config(name: &str, d: &Desk) -> Value {
    let ru = d.language == "ru";
    match (name, ru) {
        ("keyword-reply", false) => json!({
            "rules": [
                { "keywords": ["refund", "money back"], "answer": "Refunds reach your card within 5 business days of our confirmation.",
                  "buttons": [{ "text": "How do I ask for one?", "data": "refund-how" }] },
                { "keywords": ["hours", "open"], "answer": "We answer Monday to Friday, 9:00 to 18:00 UTC." }
            ],
            "button_answers": [{ "data": "refund-how", "answer": "Reply here with your order number and we will start it." }]
        }),
        ("keyword-reply", true) => json!({
            "rules": [
                { "keywords": ["возврат", "вернуть деньги"], "answer": "Деньги поступят на карту в течение 5 рабочих дней после подтверждения.",
                  "buttons": [{ "text": "Как оформить?", "data": "refund-how" }] },
                { "keywords": ["часы работы", "график"], "answer": "Мы отвечаем с понедельника по пятницу, с 9:00 до 18:00 (UTC)." }
            ],
            "button_answers": [{ "data": "refund-how", "answer": "Пришлите сюда номер заказа — и мы начнём." }]
        }),
        ("out-of-hours", false) => json!({
            "utc_offset_minutes": 0, "open": "09:00", "close": "18:00", "weekdays": [1, 2, 3, 4, 5],
            "message": "Thanks for writing! The team is away now and back at 9:00 UTC on the next working day."
        }),
        ("out-of-hours", true) => json!({
            "utc_offset_minutes": 0, "open": "09:00", "close": "18:00", "weekdays": [1, 2, 3, 4, 5],
            "message": "Спасибо за сообщение! Сейчас мы не на связи и ответим в 9:00 (UTC) в ближайший рабочий день."
        }),
        ("router", false) => json!({
            "routes": [
                { "keywords": ["refund", "charged", "payment", "card"], "category": "Payments", "priority": "high" },
                { "keywords": ["order", "delivery", "parcel"], "category": "Orders" }
            ],
            "agents": ["marcus_helps", "dana_desk"]
        }),
        ("router", true) => json!({
            "routes": [
                { "keywords": ["возврат", "списали", "оплата", "карта"], "category": "Оплата", "priority": "high" },
                { "keywords": ["заказ", "доставка", "посылка"], "category": "Заказы" }
            ],
            "agents": ["dmitry_help", "sveta_desk"]
        }),
        _ => json!({}),
    }
}

/// Builds the examples and installs them on every demo desk; says how it
/// went on standard output.
pub async fn install_all(base: String) {
    let started = Instant::now();
    let mut built = Vec::new();
    for name in EXAMPLES {
        match tokio::task::spawn_blocking(move || tikethet_plugins::build::build_bundled(name)).await {
            Ok(Ok(path)) => match std::fs::read(&path) {
                Ok(bytes) => built.push((name, bytes)),
                Err(e) => return println!("Plugins not installed: {} could not be read: {e}", path.display()),
            },
            Ok(Err(e)) => return println!("Plugins not installed: {e:#}"),
            Err(e) => return println!("Plugins not installed: the build panicked: {e}"),
        }
    }
    for d in &DESKS {
        if let Err(e) = install(&base, d, &built).await {
            return println!("Plugins not installed on {}: {e:#}", d.slug);
        }
    }
    println!("Plugins ready in {:.1} s: {} on both desks.", started.elapsed().as_secs_f64(), EXAMPLES.join(", "));
}

async fn install(base: &str, d: &Desk, built: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let token = sign_in(&http, base, d, d.owner).await?;
    for (name, bytes) in built {
        let url = format!("{base}/t/{}/api/v1/plugins/{name}", d.slug);
        let res = http.put(&url).bearer_auth(&token).header("content-type", "application/octet-stream").body(bytes.clone()).send().await?;
        let status = res.status();
        anyhow::ensure!(status.is_success(), "uploading {name} answered {status}: {}", res.text().await.unwrap_or_default());
        let res = http.patch(&url).bearer_auth(&token).json(&json!({ "config": config(name, d) })).send().await?;
        let status = res.status();
        anyhow::ensure!(status.is_success(), "configuring {name} answered {status}: {}", res.text().await.unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_has_a_configuration_in_each_language() {
        for d in &DESKS {
            for name in EXAMPLES {
                assert_ne!(config(name, d), json!({}), "{name} on {}", d.slug);
            }
        }
    }
}
