//! DNS rebinding: a server whose public URL is on this machine answers only
//! the host names it serves; one behind a public address is left to its
//! proxy.

use tikethet_tests::helpers::{Backend, Options, spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_server_answers_only_its_own_host_names() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.create_tenant("acme", 1).await;
    let token = app.sign_in(&t, t.owner).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    // A page on evil.example whose name now points at 127.0.0.1: its
    // requests carry its own name, and are refused before any route.
    for host in ["evil.example", &format!("evil.example:{port}"), "127.0.0.1.evil.example", "10.0.0.8"] {
        let res = app.http.get(app.url("/t/acme/api/v1/tickets")).bearer_auth(&token).header("host", host).send().await.unwrap();
        assert_eq!(res.status(), 421, "{host}");
        let v: serde_json::Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "host_not_served", "{host}: {v}");
    }
    // Its own names work.
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}"), "app.localhost".to_owned()] {
        let res = app.http.get(app.url("/t/acme/api/v1/tickets")).bearer_auth(&token).header("host", &host).send().await.unwrap();
        assert_eq!(res.status(), 200, "{host}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_behind_a_public_address_leaves_host_names_to_its_proxy() {
    let app = spawn_app_with(Backend::Sqlite, Options { https_public_url: true, ..Options::default() }).await;
    let res = app.http.get(app.url("/healthz")).header("host", "desk-7.example.net").send().await.unwrap();
    assert_eq!(res.status(), 200);
}
