//! What Citus's schema-based sharding needs of us, proven on the wire: a
//! tenant's transactions touch only that tenant's schema. Every statement
//! the server sends PostgreSQL is recorded by a proxy (`pg_recorder`)
//! while two desks are used the ways customers and staff use them; each
//! transaction that sets `search_path` to a tenant's schema (with any of its
//! statements, not only the first) must point it at nothing else, run
//! nothing before it, and name no other schema of the deployment (the
//! control plane's, another tenant's, a spare) in any statement; and no
//! single statement anywhere may name two tenants' schemas.
//! See `docs/citus.md`.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::json;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, postgres_url, spawn_app_with};
use tikethet_tests::pg_recorder::{Recorder, Run};

/// The deployment's schemas a statement names (`"schema".` or `schema.`).
fn schemas_named(sql: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in known {
        let quoted = format!("\"{s}\".");
        let bare = format!("{s}.");
        let bare_hit = sql.match_indices(&bare).any(|(i, _)| i == 0 || !sql.as_bytes()[i - 1].is_ascii_alphanumeric() && sql.as_bytes()[i - 1] != b'_');
        if sql.contains(&quoted) || bare_hit {
            out.insert(s.clone());
        }
    }
    out
}

fn is(sql: &str, word: &str) -> bool {
    sql.trim().trim_end_matches(';').eq_ignore_ascii_case(word)
}

/// The `search_path` a statement sets, if it sets one: `set_config`'s
/// parameter (how the server does it), or a `SET [LOCAL] search_path`.
fn search_path_set(run: &Run) -> Option<String> {
    if run.sql.contains("set_config('search_path'") {
        return Some(run.text(0).expect("the search_path parameter"));
    }
    let sql = run.sql.trim().trim_end_matches(';');
    let lower = sql.to_ascii_lowercase();
    let rest = lower.strip_prefix("set local ").or_else(|| lower.strip_prefix("set session ")).or_else(|| lower.strip_prefix("set "))?;
    let value = rest.strip_prefix("search_path")?.trim_start();
    let value = value.strip_prefix("to").or_else(|| value.strip_prefix('='))?;
    Some(value.trim().to_owned())
}

/// One transaction, judged by every statement in it. A transaction that
/// points `search_path` at a tenant's schema anywhere is that tenant's: every
/// `search_path` it sets must be that schema alone (a later one, or a list,
/// would let its unqualified statements reach another schema), nothing
/// before the first may run on the connection's default path (only the
/// `CREATE SCHEMA` of that very schema, when a new desk's schema is made),
/// and no statement may name another schema. Returns the tenant's schema;
/// `None` for the control plane's, a spare's being readied, or intake's
/// group commits (which set no `search_path` and qualify every table).
fn judge(t: &[Run], known: &BTreeSet<String>, tenant_schemas: &BTreeSet<String>) -> Option<String> {
    let paths: Vec<(usize, String)> = t.iter().enumerate().filter_map(|(i, r)| search_path_set(r).map(|p| (i, p))).collect();
    let components = |p: &str| p.split(',').map(|c| c.trim().trim_matches('"').to_owned()).collect::<Vec<_>>();
    let tenant = paths.iter().flat_map(|(_, p)| components(p)).find(|c| tenant_schemas.contains(c));
    let Some(schema) = tenant else {
        // Not a tenant's: what it points at is still the deployment's (or a
        // spare this very transaction creates).
        for (_, p) in &paths {
            for c in components(p) {
                let created_here = t.iter().any(|r| r.sql.contains(&format!("CREATE SCHEMA \"{c}\"")));
                assert!(known.contains(&c) || created_here, "search_path {p:?} is not a schema of this deployment: {t:#?}");
            }
        }
        return None;
    };
    for (_, p) in &paths {
        assert_eq!(components(p), [schema.clone()], "a transaction of {schema} sets search_path to {p:?}: {t:#?}");
    }
    let first = paths[0].0;
    for r in &t[..first] {
        assert!(r.sql.trim() == format!("CREATE SCHEMA \"{schema}\""), "a transaction of {schema} runs a statement before it sets search_path: {}", r.sql);
    }
    for r in t {
        let named = schemas_named(&r.sql, known);
        assert!(named.iter().all(|s| *s == schema), "a transaction of {schema} names {named:?}: {}", r.sql);
    }
    Some(schema)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_transactions_touch_only_that_tenants_schema() {
    let upstream = url::Url::parse(&postgres_url()).unwrap();
    let recorder = Recorder::start(format!("{}:{}", upstream.host_str().unwrap(), upstream.port().unwrap_or(5432))).await.unwrap();
    let mut through = upstream.clone();
    through.set_port(Some(recorder.port)).unwrap();
    through.set_query(Some("sslmode=disable"));
    let env: &'static [(&'static str, &'static str)] =
        Box::leak(vec![("TIKETHET_DATABASE_URL", &*Box::leak(through.to_string().into_boxed_str())), ("TIKETHET_PG_SPARE_SCHEMAS", "2")].into_boxed_slice());
    let app = spawn_app_with(Backend::Postgres, Options { env, ..Default::default() }).await;

    // Two desks, used as customers and staff use them.
    let acme = app.create_tenant("acme", 1).await;
    let beta = app.create_tenant("beta", 2).await;
    for (t, slug, base) in [(&acme, "acme", 10), (&beta, "beta", 20)] {
        for (i, chat) in [(1, 801), (2, 802), (3, 801)] {
            app.deliver(t, &fixtures::message(base + i, chat, &format!("question {i}"))).await;
        }
        for i in 1..=3 {
            app.wait_processed(slug, base + i).await;
        }
        let owner = app.sign_in(t, t.owner).await;
        let (_, list) = app.tenant_get(slug, "/tickets", &owner).await;
        let id = list["items"][0]["id"].as_i64().expect("a ticket");
        let (s, b) = app.tenant_call(Method::POST, slug, &format!("/tickets/{id}/messages"), &owner, Some(json!({"text": "We are on it"}))).await;
        assert_eq!(s, 201, "{b}");
        let (s, b) = app.tenant_call(Method::POST, slug, &format!("/tickets/{id}/messages"), &owner, Some(json!({"text": "check the depot", "internal": true}))).await;
        assert_eq!(s, 201, "{b}");
        let (s, b) = app.tenant_call(Method::PATCH, slug, &format!("/tickets/{id}"), &owner, Some(json!({"status": "resolved"}))).await;
        assert_eq!(s, 200, "{b}");
        let customer = app.sign_in(t, 802).await;
        let (s, b) = app.tenant_call(Method::POST, slug, "/tickets", &customer, Some(json!({"title": "Refund", "description": "Please"}))).await;
        assert_eq!(s, 201, "{b}");
        app.tenant_get(slug, "/stats", &owner).await;
        app.wait_outbox_settled(slug).await;
    }
    // The deployment's schemas, as PostgreSQL has them now.
    let control = app.schema().expect("a PostgreSQL test").to_owned();
    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    use sea_orm::ConnectionTrait as _;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2",
            [control.clone().into(), format!("{}\\_%", control).into()],
        ))
        .await
        .unwrap();
    let known: BTreeSet<String> = rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect();
    let tenant_schemas: BTreeSet<String> = [format!("{control}_acme"), format!("{control}_beta")].into();
    assert!(tenant_schemas.is_subset(&known), "{known:?}");

    // The check sees what it must refuse.
    let crossing = format!("SELECT 1 FROM \"{control}_beta\".\"tickets\" t JOIN {control}_acme.users u ON true");
    assert_eq!(schemas_named(&crossing, &known), tenant_schemas, "the detector finds both schemas");
    // So does the judge of a transaction: one that starts right and points
    // `search_path` elsewhere later.
    let point = |schema: String| Run { sql: "SELECT set_config('search_path', $1, true)".to_owned(), params: vec![Some(schema.into_bytes())] };
    let repointed = [point(format!("{control}_acme")), point(format!("{control}_beta"))];
    assert_eq!(judge(&repointed[..1], &known, &tenant_schemas), Some(format!("{control}_acme")));
    assert!(std::panic::catch_unwind(|| judge(&repointed, &known, &tenant_schemas)).is_err(), "a transaction pointed at two tenants passed");

    // Split each connection's statements into transactions and judge each
    // one by every statement in it, not by how it starts.
    let mut tenant_txns: BTreeMap<String, usize> = BTreeMap::new();
    let mut statements = 0;
    let mut spanning_batches = 0;
    for conn in recorder.connections() {
        let mut txn: Option<Vec<Run>> = None;
        for run in conn {
            statements += 1;
            // No statement anywhere names two tenants' schemas.
            let named = schemas_named(&run.sql, &known);
            assert!(named.iter().filter(|s| **s != control).count() <= 1 && !(named.contains(&control) && named.len() > 1), "a statement names several schemas {named:?}: {}", run.sql);
            if is(&run.sql, "BEGIN") || run.sql.trim().to_ascii_uppercase().starts_with("BEGIN ") || run.sql.trim().to_ascii_uppercase().starts_with("START TRANSACTION") {
                txn = Some(Vec::new());
                continue;
            }
            if is(&run.sql, "COMMIT") || is(&run.sql, "ROLLBACK") {
                let Some(t) = txn.take() else { continue };
                match judge(&t, &known, &tenant_schemas) {
                    Some(schema) => *tenant_txns.entry(schema).or_default() += 1,
                    // Intake's group commit: several tenants' updates in one
                    // transaction, each statement on one schema (counted,
                    // and explained in docs/citus.md).
                    None if t.iter().flat_map(|r| schemas_named(&r.sql, &known)).filter(|s| tenant_schemas.contains(s)).collect::<BTreeSet<_>>().len() > 1 => spanning_batches += 1,
                    None => {}
                }
                continue;
            }
            if let Some(t) = txn.as_mut() {
                t.push(run);
            }
        }
    }
    eprintln!("{statements} statements recorded; tenant transactions {tenant_txns:?}; intake batches spanning tenants: {spanning_batches}");
    // Not vacuous: both desks' work went through recorded transactions.
    for s in &tenant_schemas {
        assert!(tenant_txns.get(s).copied().unwrap_or(0) >= 20, "too few transactions of {s} were seen: {tenant_txns:?}");
    }
}
