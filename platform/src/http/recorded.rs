//! The desk's audit log for what the control plane keeps (theme and brand,
//! bot texts, the bot's token, service levels, the domain, the plan): the
//! console and the API change those through the control plane, then record
//! here who changed what, before and after. A record that cannot be written
//! is logged; the change stands (it is kept already). Changes from outside
//! the desk (the operator, the daily domain check) are recorded by the
//! control plane itself (`Runtime::record_for_desk`).

use tikethet_runtime::desk::context::TenantContext;
use tikethet_runtime::TenantInfo;

/// Records a staff member's change.
pub async fn by_staff(ctx: &TenantContext, action: &str, detail: String) {
    if detail.is_empty() {
        return;
    }
    if let Err(e) = ctx.record_change(action, detail).await {
        tracing::error!(action, error = %e, "a change was kept but could not be written to the desk's audit log");
    }
}

/// `a → b` for each JSON field that differs (a logo only as "changed":
/// it is a picture's bytes).
fn fields(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (b, a) = (before.as_object().unwrap_or(&empty), after.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| match k.as_str() {
            "logo" => "logo changed".to_owned(),
            _ => format!("{k} {} → {}", b.get(k).map_or("none".into(), |v| v.to_string()), a.get(k).map_or("none".into(), |v| v.to_string())),
        })
        .collect()
}

/// What a theme change changed; empty when nothing did.
pub fn theme(before: &TenantInfo, after: &TenantInfo) -> String {
    let mut said = Vec::new();
    if before.theme.name != after.theme.name {
        said.push(format!("theme {} → {}", before.theme.name, after.theme.name));
    }
    let json = |b: &tikethet_themes::branding::Branding| serde_json::to_value(b).unwrap_or_default();
    said.extend(fields(&json(&before.branding), &json(&after.branding)));
    said.join("; ")
}

/// Which bot texts were added, changed or removed, by language.
pub fn bot_texts(before: &tikethet_themes::BotTexts, after: &tikethet_themes::BotTexts) -> String {
    let mut said = Vec::new();
    let langs: std::collections::BTreeSet<&String> = before.0.keys().chain(after.0.keys()).collect();
    for lang in langs {
        let (b, a) = (before.0.get(lang), after.0.get(lang));
        let names: std::collections::BTreeSet<&String> = b.into_iter().flat_map(|m| m.keys()).chain(a.into_iter().flat_map(|m| m.keys())).collect();
        for name in names {
            let (was, is) = (b.and_then(|m| m.get(name)), a.and_then(|m| m.get(name)));
            match (was, is) {
                (None, Some(t)) => said.push(format!("{lang}/{name} set to {}", tikethet_runtime::desk::audit::quoted(t))),
                (Some(_), None) => said.push(format!("{lang}/{name} back to the built-in text")),
                (Some(w), Some(t)) if w != t => said.push(format!("{lang}/{name} {} → {}", tikethet_runtime::desk::audit::quoted(w), tikethet_runtime::desk::audit::quoted(t))),
                _ => {}
            }
        }
    }
    said.join("; ")
}

/// Service levels before and after.
pub fn sla(before: Option<&tikethet_runtime::desk::sla::SlaPolicy>, after: Option<&tikethet_runtime::desk::sla::SlaPolicy>) -> String {
    let json = |p: Option<&tikethet_runtime::desk::sla::SlaPolicy>| p.map_or("none".to_owned(), |p| p.to_json().to_string());
    let (b, a) = (json(before), json(after));
    if b == a { String::new() } else { format!("{b} → {a}") }
}
