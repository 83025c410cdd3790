//! Many tenants on one node: tenant databases opened on demand and closed
//! again (SQLite), pooled connections recycled (PostgreSQL), and many
//! tenants provisioned at once.

use std::time::Duration;

use sea_orm::ConnectionTrait as _;
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Options, postgres_url, random_suffix, spawn_app, spawn_app_with, wait_for};

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
            let metrics = app.http.get(format!("{}/metrics", app.address)).send().await.unwrap().text().await.unwrap();
            assert!(metrics.contains("tikethet_sqlite_open_max 1\n") && metrics.contains("tikethet_sqlite_opened_total "), "{metrics}");
        }
        Backend::Postgres => {
            // Connections live one second; name them to find them.
            let name = format!("tt_recycle_{}", random_suffix());
            let sep = if postgres_url().contains('?') { '&' } else { '?' };
            let url: &'static str = Box::leak(format!("{}{sep}application_name={name}", postgres_url()).into_boxed_str());
            let env: &'static [(&'static str, &'static str)] =
                Box::leak(vec![("TIKETHET_DATABASE_URL", url), ("TIKETHET_PG_CONNECTION_LIFETIME_SECS", "1")].into_boxed_slice());
            let app = spawn_app_with(b, Options { env, ..Default::default() }).await;
            let acme = app.create_tenant("acme", 1).await;
            assert_eq!(app.deliver(&acme, &fixtures::message(1, 10, "first")).await, 200);
            app.wait_sent(&acme, 10, 1).await;
            let first = backends_of(&name).await;
            assert!(!first.is_empty(), "the server's connections carry the name {name}");
            // Keep working until every connection seen has been replaced:
            // each update is processed on whatever connections the pool has.
            let mut update = 1;
            let replaced = wait_for(Duration::from_secs(30), || {
                update += 1;
                let (app, acme, first, name, u) = (&app, &acme, &first, &name, update);
                async move {
                    assert_eq!(app.deliver(acme, &fixtures::message(u, 10, &format!("message {u}"))).await, 200);
                    assert_eq!(app.wait_processed("acme", u).await.status, "done");
                    let now = backends_of(name).await;
                    (!now.is_empty() && now.iter().all(|p| !first.contains(p))).then_some(now)
                }
            })
            .await;
            assert!(replaced.is_some(), "connections older than their lifetime were not replaced: {first:?}");
        }
    }
}

async fn fifty_tenants_provisioned_at_once_all_succeed(b: Backend) {
    let app = spawn_app(b).await;
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
