//! Many tenants on one node: tenant databases opened on demand and closed
//! again (SQLite), pooled connections recycled (PostgreSQL, directly or
//! through PgBouncer), and many tenants provisioned at once.

use std::time::Duration;

use sea_orm::ConnectionTrait as _;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, postgres_url, random_suffix, spawn_app_with, wait_for};
use tikethet_tests::pgbouncer::PgBouncer;

on_both!(a_closed_database_is_reopened_on_the_next_update, fifty_tenants_provisioned_at_once_all_succeed);

/// The PostgreSQL server's processes serving connections named `app`.
async fn backends_of(app: &str) -> Vec<i32> {
    let db = sea_orm::Database::connect(postgres_url()).await.expect("PostgreSQL answers");
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            [app.into()],
        ))
        .await
        .unwrap();
    db.close().await.ok();
    rows.iter().map(|r| r.try_get::<i32>("", "pid").unwrap()).collect()
}

async fn a_closed_database_is_reopened_on_the_next_update(b: Backend) {
    match b {
        Backend::Sqlite => {
            // One tenant database open at a time: every switch of tenant
            // closes one and opens the other.
            let app = spawn_app_with(b, Options { env: &[("TIKETHET_SQLITE_OPEN_MAX", "1")], ..Default::default() }).await;
            let acme = app.create_tenant("acme", 1).await;
            let zeta = app.create_tenant("zeta", 2).await;
            for (i, t) in [&acme, &zeta, &acme, &zeta].into_iter().enumerate() {
                let update = 100 + i as i64;
                assert_eq!(app.deliver(t, &fixtures::message(update, 10, &format!("message {update}"))).await, 200);
                assert_eq!(app.wait_processed(&t.slug, update).await.status, "done");
                let stats = app.state.storage.sqlite_handles().expect("SQLite");
                assert!(stats.open <= 1, "{stats:?}");
            }
            // The first message opened each one's ticket (and was answered);
            // the second went into that ticket.
            assert!(app.wait_sent(&acme, 10, 1).await[0].contains("message 100"));
            assert!(app.wait_sent(&zeta, 10, 1).await[0].contains("message 101"));
            let stats = app.state.storage.sqlite_handles().unwrap();
            assert_eq!(stats.capacity, 1);
            // Each tenant was opened at least twice: it was closed in between.
            assert!(stats.opened_total >= 4 && stats.closed_total >= 3, "{stats:?}");
            let metrics = app.http.get(format!("{}/metrics", app.address)).bearer_auth(tikethet_tests::helpers::OPERATOR_TOKEN).send().await.unwrap().text().await.unwrap();
            assert!(metrics.contains("tikethet_sqlite_open_max 1\n") && metrics.contains("tikethet_sqlite_opened_total "), "{metrics}");
        }
        Backend::Postgres => {
            // Connections live one second; name them to find them. In the
            // pooled pass (`TIKETHET_TEST_THROUGH_PGBOUNCER=1`) the server's
            // connections are to a PgBouncer, as every other scenario's
            // there: they are found among its clients (PgBouncer keeps its
            // own connections to PostgreSQL, which the server does not
            // recycle).
            let name = format!("tt_recycle_{}", random_suffix());
            let bouncer = (std::env::var("TIKETHET_TEST_THROUGH_PGBOUNCER").as_deref() == Ok("1"))
                .then(|| PgBouncer::start(&postgres_url(), &name).unwrap_or_else(|e| panic!("PgBouncer is needed (TIKETHET_TEST_THROUGH_PGBOUNCER=1): {e:#}")));
            let base = bouncer.as_ref().map_or_else(postgres_url, PgBouncer::url);
            let sep = if base.contains('?') { '&' } else { '?' };
            let url: &'static str = Box::leak(format!("{base}{sep}application_name={name}").into_boxed_str());
            let env: &'static [(&'static str, &'static str)] =
                Box::leak(vec![("TIKETHET_DATABASE_URL", url), ("TIKETHET_PG_CONNECTION_LIFETIME_SECS", "1")].into_boxed_slice());
            let app = spawn_app_with(b, Options { env, ..Default::default() }).await;
            let connections = |name: String| {
                let bouncer = bouncer.as_ref();
                async move {
                    match bouncer {
                        Some(b) => b.clients(&name).unwrap_or_else(|e| panic!("{e:#}")),
                        None => backends_of(&name).await.into_iter().map(|p| p.to_string()).collect(),
                    }
                }
            };
            let acme = app.create_tenant("acme", 1).await;
            assert_eq!(app.deliver(&acme, &fixtures::message(1, 10, "first")).await, 200);
            app.wait_sent(&acme, 10, 1).await;
            // Connections living one second may all be closed at the moment
            // of a look (each is closed when it comes back to the pool past
            // its lifetime), so look until some are open.
            let first = wait_for(Duration::from_secs(10), || {
                let c = connections(name.clone());
                async move { Some(c.await).filter(|c| !c.is_empty()) }
            })
            .await;
            let first = first.unwrap_or_else(|| panic!("the server's connections carry the name {name}"));
            // Keep working until every connection seen has been replaced:
            // each update is processed on whatever connections the pool has.
            let mut update = 1;
            let replaced = wait_for(Duration::from_secs(30), || {
                update += 1;
                let (app, acme, first, name, u, connections) = (&app, &acme, &first, &name, update, &connections);
                async move {
                    assert_eq!(app.deliver(acme, &fixtures::message(u, 10, &format!("message {u}"))).await, 200);
                    assert_eq!(app.wait_processed("acme", u).await.status, "done");
                    let now = connections(name.clone()).await;
                    (!now.is_empty() && now.iter().all(|p| !first.contains(p))).then_some(now)
                }
            })
            .await;
            assert!(replaced.is_some(), "connections older than their lifetime were not replaced: {first:?}");
        }
    }
}

async fn fifty_tenants_provisioned_at_once_all_succeed(b: Backend) {
    // On PostgreSQL a few take spare schemas at once, the rest make theirs.
    let app = spawn_app_with(b, Options { env: &[("TIKETHET_PG_SPARE_SCHEMAS", "4")], ..Default::default() }).await;
    if b == Backend::Postgres {
        let ready = wait_for(Duration::from_secs(30), || async { (app.state.storage.spare_schemas_ready() == Some(4)).then_some(()) }).await;
        assert!(ready.is_some(), "the spares were not made");
    }
    let slugs: Vec<String> = (0..50).map(|i| format!("desk-{i:02}")).collect();
    let created = futures::future::join_all(slugs.iter().enumerate().map(|(i, s)| app.create_tenant(s, i as u32 + 1))).await;
    let res = app.operator(reqwest::Method::GET, "/api/platform/v1/tenants", None).await;
    assert_eq!(res.status(), 200);
    let list: serde_json::Value = res.json().await.unwrap();
    let mut listed: Vec<String> = list["items"].as_array().expect("a list").iter().map(|t| t["slug"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    assert_eq!(listed, slugs);
    for t in &created {
        assert!(app.fake.webhook(&t.token).is_some(), "{} has no webhook", t.slug);
    }
    // Each one serves: a customer's message opens a ticket in a few of them.
    for (i, t) in created.iter().enumerate().step_by(10) {
        let update = 1000 + i as i64;
        assert_eq!(app.deliver(t, &fixtures::message(update, 77, "hello")).await, 200);
        assert_eq!(app.wait_processed(&t.slug, update).await.status, "done");
    }
}

/// The schemas in `pg_namespace` whose names start with `prefix`, with their OIDs.
async fn schemas_like(prefix: &str) -> Vec<(String, i64)> {
    let db = sea_orm::Database::connect(postgres_url()).await.expect("PostgreSQL answers");
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT nspname::text AS name, oid::bigint AS oid FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname",
            [pattern.into()],
        ))
        .await
        .unwrap();
    db.close().await.ok();
    rows.iter().map(|r| (r.try_get("", "name").unwrap(), r.try_get("", "oid").unwrap())).collect()
}

/// A serving node keeps spare schemas of the newest version (dropping one
/// an older build left), and provisioning renames one to the tenant's
/// schema instead of creating it: the tenant's schema is the spare itself
/// (same OID), it serves, and the keeper makes a new spare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_on_postgres_takes_a_spare_schema() {
    let app = spawn_app_with(Backend::Postgres, Options { env: &[("TIKETHET_PG_SPARE_SCHEMAS", "2")], ..Default::default() }).await;
    let control = app.pg_schema().unwrap().to_owned();
    let spare_prefix = format!("{control}__spare_");
    let ready = wait_for(Duration::from_secs(30), || async { (app.state.storage.spare_schemas_ready() == Some(2)).then_some(()) }).await;
    assert!(ready.is_some(), "the spares were not made");
    let spares = schemas_like(&spare_prefix).await;
    assert_eq!(spares.len(), 2, "{spares:?}");

    let acme = app.create_tenant("acme", 1).await;
    let tenant_schema = format!("{control}_acme");
    let after = schemas_like(&control).await;
    let acme_oid = after.iter().find(|(n, _)| *n == tenant_schema).map(|(_, o)| *o).expect("the tenant's schema exists");
    assert!(spares.iter().any(|(_, o)| *o == acme_oid), "the tenant's schema {acme_oid} is not one of the spares {spares:?}");
    assert_eq!(app.deliver(&acme, &fixtures::message(1, 10, "on a spare")).await, 200);
    assert_eq!(app.wait_processed("acme", 1).await.status, "done");
    assert!(app.wait_sent(&acme, 10, 1).await[0].contains("on a spare"));

    // The keeper makes another; then a spare of another build is dropped.
    let refilled = wait_for(Duration::from_secs(30), || async {
        let now = schemas_like(&spare_prefix).await;
        (now.len() == 2 && now.iter().all(|(_, o)| *o != acme_oid)).then_some(now)
    })
    .await;
    assert!(refilled.is_some(), "no new spare after one was taken");
    let db = sea_orm::Database::connect(postgres_url()).await.unwrap();
    let stale = format!("{spare_prefix}00000000_deadbeef");
    db.execute_unprepared(&format!("CREATE SCHEMA \"{stale}\"")).await.unwrap();
    db.close().await.ok();
    let zeta = app.create_tenant("zeta", 2).await;
    let cleaned = wait_for(Duration::from_secs(30), || async {
        let now = schemas_like(&spare_prefix).await;
        (now.len() == 2 && now.iter().all(|(n, _)| *n != stale)).then_some(now)
    })
    .await;
    assert!(cleaned.is_some(), "the stale spare was not dropped: {:?}", schemas_like(&spare_prefix).await);
    assert_eq!(app.deliver(&zeta, &fixtures::message(2, 11, "also on a spare")).await, 200);
    assert_eq!(app.wait_processed("zeta", 2).await.status, "done");
}
