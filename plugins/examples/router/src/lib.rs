//! Routes new tickets: category and priority from keywords, assignee
//! round-robin over the agents (the turn is kept in the key-value store).
//! Config: `{"routes": [{"keywords": ["invoice", "refund"], "category": "billing",
//!   "priority": "high"}], "agents": ["alice", "bob"]}`

use tikethet_plugin_sdk::{Plugin, Priority, Routing, TicketEvent, config, export, kv};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    agents: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Route {
    keywords: Vec<String>,
    category: Option<String>,
    priority: Option<String>,
}

fn priority(s: &str) -> Option<Priority> {
    Some(match s {
        "low" => Priority::Low,
        "normal" => Priority::Normal,
        "high" => Priority::High,
        "critical" => Priority::Critical,
        _ => return None,
    })
}

struct Router;

impl Plugin for Router {
    fn on_ticket_created(t: TicketEvent) -> Routing {
        let Ok(cfg) = config::<Config>() else { return Routing::none() };
        let text = format!("{} {}", t.title, t.description).to_lowercase();
        let mut routing = Routing::none();
        if let Some(r) = cfg.routes.iter().find(|r| r.keywords.iter().any(|k| text.contains(&k.to_lowercase()))) {
            routing.category = r.category.clone();
            routing.priority = r.priority.as_deref().and_then(priority);
            if let Some(c) = &r.category {
                routing.tags.push(c.clone());
            }
        }
        if !cfg.agents.is_empty() {
            let turn: usize = kv::get("turn").and_then(|v| v.parse().ok()).unwrap_or(0);
            routing.assignee = Some(cfg.agents[turn % cfg.agents.len()].clone());
            let _ = kv::set("turn", &((turn + 1) % cfg.agents.len()).to_string());
        }
        routing
    }
}

export!(Router);
