//! Attachments from both sides: uploads through the API (judged by
//! content, limited by the desk's plan), sent with tickets and messages,
//! delivered to the customer's chat with `sendPhoto`/`sendDocument`; files
//! customers send the bot, kept by `file_id` and served through the API
//! (fetched from Telegram once); who may see which file; unsent and
//! deleted files removed by the retention job.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::fixtures;
use tikethet_tests::helpers::{Backend, Tenant, TestApp, spawn_app, wait_for};

on_both!(
    uploads_are_judged_by_content_and_held_to_the_plans_size,
    files_go_with_tickets_and_messages_and_reach_the_customers_chat,
    files_customers_send_the_bot_are_kept_and_served_once_fetched,
    unsent_uploads_and_files_of_deleted_messages_are_removed,
    a_deleted_tenants_files_leave_the_store_and_no_one_elses_do,
);

const PNG: &[u8] = include_bytes!("../../fixtures/screenshot.png");
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
/// The start of an x86-64 executable (infer reads 53 bytes or more).
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00\x01\x00\x00\x00\x40\x10\x40\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00\x38\x00\x01\x00\x00\x00";

/// `POST /uploads` with one file; the status and the JSON answer.
async fn upload(app: &TestApp, slug: &str, token: &str, name: &str, bytes: &[u8]) -> (u16, Value) {
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()));
    let res = app.http.post(app.url(&format!("/t/{slug}/api/v1/uploads"))).bearer_auth(token).multipart(form).send().await.unwrap();
    let s = res.status().as_u16();
    (s, res.json().await.unwrap_or(Value::Null))
}

/// `GET /attachments/{id}`: status, headers and bytes.
async fn download(app: &TestApp, slug: &str, token: &str, id: i64) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let res = app.http.get(app.url(&format!("/t/{slug}/api/v1/attachments/{id}"))).bearer_auth(token).send().await.unwrap();
    let s = res.status().as_u16();
    let h = res.headers().clone();
    (s, h, res.bytes().await.unwrap().to_vec())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn uploads_are_judged_by_content_and_held_to_the_plans_size(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.create_tenant_on("acme", 1, "free").await;
    let alice = app.sign_in(&t, 801).await;
    let bob = app.sign_in(&t, 802).await;
    let owner = app.sign_in(&t, t.owner).await;

    // The name says .exe; the content is a PNG: it is a photo.
    let (s, a) = upload(&app, "acme", &alice, "../../holiday.exe", PNG).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!((a["name"].as_str(), a["content_type"].as_str(), a["kind"].as_str(), a["size"].as_i64()), (Some("holiday.exe"), Some("image/png"), Some("photo"), Some(PNG.len() as i64)));
    // The name says .png; the content is an executable: refused.
    let (s, e) = upload(&app, "acme", &alice, "cat.png", ELF).await;
    assert_eq!((s, e["error"]["code"].as_str()), (415, Some("unsupported_file_type")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("application/x-executable"), "{e}");
    let (s, e) = upload(&app, "acme", &alice, "page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>").await;
    assert_eq!(s, 415, "{e}");
    // Plain UTF-8 text is a document.
    let (s, txt) = upload(&app, "acme", &alice, "log.txt", "ошибка 42\nretry\n".as_bytes()).await;
    assert_eq!((s, txt["content_type"].as_str(), txt["kind"].as_str()), (201, Some("text/plain; charset=utf-8"), Some("document")), "{txt}");
    // No file field: a clear 400, not a 500.
    let res = app
        .http
        .post(app.url("/t/acme/api/v1/uploads"))
        .bearer_auth(&alice)
        .multipart(reqwest::multipart::Form::new().text("other", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Without a token: 401.
    let res = app.http.post(app.url("/t/acme/api/v1/uploads")).multipart(reqwest::multipart::Form::new().text("file", "x")).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // The free plan takes files up to 5 MiB.
    let mut big = PNG.to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let (s, e) = upload(&app, "acme", &alice, "big.png", &big).await;
    assert_eq!((s, e["error"]["code"].as_str()), (413, Some("file_too_large")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("up to 5.0 MB"), "{e}");
    // On the starter plan the same file is taken (the change reaches the
    // runtime through the control plane's sync).
    let res = app.operator(Method::PATCH, "/api/platform/v1/tenants/acme", Some(json!({ "plan": "starter" }))).await;
    assert_eq!(res.status(), 200);
    let took = wait_for(Duration::from_secs(15), || async {
        let (s, a) = upload(&app, "acme", &alice, "big.png", &big).await;
        (s == 201).then_some(a)
    })
    .await
    .expect("the starter plan takes a 5 MiB file");
    assert_eq!(took["size"].as_i64(), Some(big.len() as i64));

    // A waiting upload is its uploader's alone: not another customer's,
    // not even staff's until it is sent.
    let id = a["id"].as_i64().unwrap();
    let (s, h, bytes) = download(&app, "acme", &alice, id).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, PNG);
    assert_eq!(header(&h, "content-type"), "image/png");
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    assert_eq!(header(&h, "content-disposition"), "inline; filename=\"holiday.exe\"; filename*=UTF-8''holiday.exe");
    let (s, h, _) = download(&app, "acme", &alice, txt["id"].as_i64().unwrap()).await;
    assert_eq!(s, 200);
    assert!(header(&h, "content-disposition").starts_with("attachment;"), "documents download");
    assert_eq!(download(&app, "acme", &bob, id).await.0, 404);
    assert_eq!(download(&app, "acme", &owner, id).await.0, 404);
    assert_eq!(download(&app, "acme", &alice, 999_999).await.0, 404);
}

/// A ticket of `customer` with `files`; returns its id.
async fn ticket_with(app: &TestApp, t: &Tenant, customer: &str, files: &[i64]) -> (u16, Value) {
    app.tenant_post(&t.slug, "/tickets", customer, json!({ "title": "Broken screen", "description": "See the photo.", "attachment_ids": files })).await
}

async fn files_go_with_tickets_and_messages_and_reach_the_customers_chat(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.create_tenant("acme", 2).await;
    let (alice_id, bob_id) = (811, 812);
    // The customers talked to the bot before, so it may write to them.
    app.fake.start_chat(&t.token, alice_id);
    let alice = app.sign_in(&t, alice_id).await;
    let bob = app.sign_in(&t, bob_id).await;
    let owner = app.sign_in(&t, t.owner).await;

    let (_, photo) = upload(&app, "acme", &alice, "screen.png", PNG).await;
    let photo_id = photo["id"].as_i64().unwrap();
    // Someone else's upload cannot be sent.
    let (s, e) = ticket_with(&app, &t, &bob, &[photo_id]).await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains(&format!("file {photo_id}")), "{e}");
    let (s, ticket) = ticket_with(&app, &t, &alice, &[photo_id]).await;
    assert_eq!(s, 201, "{ticket}");
    let tid = ticket["id"].as_i64().unwrap();
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{tid}/messages"), &alice).await;
    let files = &msgs["items"][0]["attachments"];
    assert_eq!(files, &json!([{ "id": photo_id, "name": "screen.png", "content_type": "image/png", "size": PNG.len(), "kind": "photo" }]), "{msgs}");
    // Sent once: it cannot go with a second message.
    let (s, e) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &alice, json!({ "text": "again", "attachment_ids": [photo_id] })).await;
    assert_eq!(s, 400, "{e}");
    // Now staff see it; another customer still does not.
    assert_eq!(download(&app, "acme", &owner, photo_id).await.2, PNG);
    assert_eq!(download(&app, "acme", &bob, photo_id).await.0, 404);

    // A staff answer with a document and no text: the customer's chat gets
    // a line naming it, then the document itself, byte for byte.
    let (_, doc) = upload(&app, "acme", &owner, "счёт.pdf", PDF).await;
    assert_eq!(doc["content_type"], "application/pdf", "{doc}");
    let doc_id = doc["id"].as_i64().unwrap();
    let (s, m) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &owner, json!({ "text": "", "attachment_ids": [doc_id] })).await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["attachments"][0]["id"].as_i64(), Some(doc_id));
    let sent = app.wait_sent(&t, alice_id, 1).await;
    assert!(sent[0].contains("📎 счёт.pdf"), "{sent:?}");
    let docs = wait_for(Duration::from_secs(20), || async {
        let calls: Vec<_> = app.fake.calls(Some("sendDocument")).into_iter().filter(|c| c.ok && c.chat_id() == Some(alice_id)).collect();
        (!calls.is_empty()).then_some(calls)
    })
    .await
    .expect("the document was sent");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].params["document"]["file_name"], "счёт.pdf");
    // Telegram's copy is the file; the desk keeps its file_id for next time.
    let outbox = app.wait_outbox_settled("acme").await;
    let row = outbox.iter().find(|o| o.attachment_id == Some(doc_id)).expect("an outbox row for the file");
    assert_eq!(row.status, "sent", "{row:?}");
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    use sea_orm::EntityTrait as _;
    let stored = tikethet_runtime::storage::entities::attachments::Entity::find_by_id(doc_id).one(&txn).await.unwrap().unwrap();
    txn.commit().await.unwrap();
    let file_id = stored.telegram_file_id.expect("Telegram's file_id kept");
    assert_eq!(app.fake.file(&file_id).unwrap(), PDF, "Telegram holds the very bytes");

    // A photo with a caption goes as a photo.
    let (_, pic) = upload(&app, "acme", &owner, "fixed.png", PNG).await;
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &owner, json!({ "text": "Fixed, see", "attachment_ids": [pic["id"]] })).await;
    assert_eq!(s, 201);
    let photos = wait_for(Duration::from_secs(20), || async {
        let calls: Vec<_> = app.fake.calls(Some("sendPhoto")).into_iter().filter(|c| c.ok && c.chat_id() == Some(alice_id)).collect();
        (!calls.is_empty()).then_some(calls)
    })
    .await
    .expect("the photo was sent");
    assert_eq!(photos[0].params["photo"]["file_bytes"].as_u64(), Some(PNG.len() as u64));
    let sent = app.wait_sent(&t, alice_id, 2).await;
    assert!(sent[1].contains("Fixed, see"), "{sent:?}");

    // An internal note's file is staff's: never sent, never shown to the customer.
    let (_, secret) = upload(&app, "acme", &owner, "notes.txt", b"customer is on the old firmware").await;
    let secret_id = secret["id"].as_i64().unwrap();
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &owner, json!({ "text": "internal", "internal": true, "attachment_ids": [secret_id] })).await;
    assert_eq!(s, 201);
    assert_eq!(download(&app, "acme", &owner, secret_id).await.0, 200);
    assert_eq!(download(&app, "acme", &alice, secret_id).await.0, 404);
    let settled = app.wait_outbox_settled("acme").await;
    assert!(settled.iter().all(|o| o.attachment_id != Some(secret_id)), "a note's file was queued for the customer");
    // Files alone need no text; no text and no files is refused.
    let (s, e) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &alice, json!({ "text": "  " })).await;
    assert_eq!(s, 400, "{e}");
    let (s, e) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &alice, json!({ "text": "x", "attachment_ids": [1, 1] })).await;
    assert_eq!(s, 400, "{e}");
}

async fn files_customers_send_the_bot_are_kept_and_served_once_fetched(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.create_tenant("acme", 3).await;
    let customer = 821;
    let (file_id, unique) = app.fake.add_file(&t.token, "photo.jpg", PNG, true);
    app.deliver(&t, &fixtures::photo(7001, customer, &file_id, &unique, PNG.len(), Some("The screen flickers"))).await;
    app.wait_processed("acme", 7001).await;
    let token = app.sign_in(&t, customer).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &token).await;
    assert_eq!(page["items"][0]["title"], "The screen flickers", "{page}");
    let tid = page["items"][0]["id"].as_i64().unwrap();
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{tid}/messages"), &token).await;
    let a = &msgs["items"][0]["attachments"][0];
    assert_eq!((a["kind"].as_str(), a["content_type"].as_str()), (Some("photo"), Some("image/jpeg")), "{msgs}");
    assert_eq!(msgs["items"][0]["text"], "The screen flickers");
    // Opened through the API: fetched from Telegram (getFile, then the
    // file URL), served with its real type, kept for next time.
    let id = a["id"].as_i64().unwrap();
    assert_eq!(app.fake.calls(Some("getFile")).len(), 0, "nothing is fetched before someone opens it");
    let (s, h, bytes) = download(&app, "acme", &token, id).await;
    assert_eq!((s, bytes.as_slice()), (200, PNG));
    assert_eq!(header(&h, "content-type"), "image/png", "the type of the bytes, not the declared one");
    let (s, _, again) = download(&app, "acme", &token, id).await;
    assert_eq!((s, again.as_slice()), (200, PNG));
    let fetched = app.fake.calls(Some("getFile"));
    assert_eq!(fetched.len(), 1, "fetched once");
    assert_eq!(fetched[0].params["file_id"], json!(file_id), "the largest size");
    // A document without a caption continues the same ticket.
    let (doc_id, doc_unique) = app.fake.add_file(&t.token, "invoice.pdf", PDF, false);
    app.deliver(&t, &fixtures::document(7002, customer, &doc_id, &doc_unique, "invoice.pdf", "application/pdf", PDF.len())).await;
    app.wait_processed("acme", 7002).await;
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{tid}/messages"), &token).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 2, "{msgs}");
    assert_eq!((msgs["items"][1]["text"].as_str(), msgs["items"][1]["attachments"][0]["name"].as_str()), (Some(""), Some("invoice.pdf")));
    // A file alone from a new customer opens a ticket named after it.
    let (doc2, doc2u) = app.fake.add_file(&t.token, "contract.pdf", PDF, false);
    app.deliver(&t, &fixtures::document(7003, 822, &doc2, &doc2u, "contract.pdf", "application/pdf", PDF.len())).await;
    app.wait_processed("acme", 7003).await;
    let other = app.sign_in(&t, 822).await;
    let (_, page) = app.tenant_get("acme", "/tickets", &other).await;
    assert_eq!(page["items"][0]["title"], "📎 contract.pdf", "{page}");
    // Another customer cannot open the first customer's photo.
    assert_eq!(download(&app, "acme", &other, id).await.0, 404);
    // Telegram unreachable for a file never opened: 502, said plainly.
    let other_doc = page["items"][0]["id"].as_i64().unwrap();
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{other_doc}/messages"), &other).await;
    let unopened = msgs["items"][0]["attachments"][0]["id"].as_i64().unwrap();
    app.fake.fail(tikethet_tests::fake_telegram::Failure::status("getFile", 500, 1));
    let res = app.http.get(app.url(&format!("/t/acme/api/v1/attachments/{unopened}"))).bearer_auth(&other).send().await.unwrap();
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "telegram_unavailable", "{body}");
    // And once Telegram answers again, it is served.
    assert_eq!(download(&app, "acme", &other, unopened).await.2, PDF);
}

async fn unsent_uploads_and_files_of_deleted_messages_are_removed(backend: Backend) {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
    use tikethet_runtime::storage::entities::attachments;
    let app = spawn_app(backend).await;
    let t = app.create_tenant("acme", 4).await;
    let alice = app.sign_in(&t, 831).await;
    let (_, unsent) = upload(&app, "acme", &alice, "draft.png", PNG).await;
    let (_, kept) = upload(&app, "acme", &alice, "fresh.png", PNG).await;
    let (_, sent) = upload(&app, "acme", &alice, "sent.png", PNG).await;
    let (_, gone) = upload(&app, "acme", &alice, "regret.png", PNG).await;
    let (s, ticket) = ticket_with(&app, &t, &alice, &[sent["id"].as_i64().unwrap()]).await;
    assert_eq!(s, 201);
    let tid = ticket["id"].as_i64().unwrap();
    let (s, m) = app.tenant_post("acme", &format!("/tickets/{tid}/messages"), &alice, json!({ "text": "oops", "attachment_ids": [gone["id"]] })).await;
    assert_eq!(s, 201);
    let (s, deleted) = app.tenant_call(Method::DELETE, "acme", &format!("/tickets/{tid}/messages/{}", m["id"]), &alice, None).await;
    assert_eq!(s, 200, "{deleted}");
    assert_eq!(deleted["attachments"], json!([]), "a deleted message shows no files");
    assert_eq!(download(&app, "acme", &alice, gone["id"].as_i64().unwrap()).await.0, 404);

    // The draft upload is two days old.
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap();
    let txn = tenant.db.begin().await.unwrap();
    attachments::Entity::update_many()
        .col_expr(attachments::Column::CreatedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::days(2)))
        .filter(attachments::Column::Id.eq(unsent["id"].as_i64().unwrap()))
        .exec(&txn)
        .await
        .unwrap();
    let keys: std::collections::HashMap<i64, String> =
        attachments::Entity::find().all(&txn).await.unwrap().into_iter().map(|a| (a.id, a.object_key.unwrap())).collect();
    txn.commit().await.unwrap();
    app.state.runtime.prune(&tenant).await.unwrap();

    let txn = tenant.db.begin().await.unwrap();
    let mut left: Vec<i64> = attachments::Entity::find().all(&txn).await.unwrap().into_iter().map(|a| a.id).collect();
    txn.commit().await.unwrap();
    left.sort();
    let mut expected = vec![kept["id"].as_i64().unwrap(), sent["id"].as_i64().unwrap()];
    expected.sort();
    assert_eq!(left, expected, "the old unsent upload and the deleted message's file are gone");
    let files = &app.state.runtime.files();
    assert!(files.get(&keys[&unsent["id"].as_i64().unwrap()]).await.is_err(), "its bytes too");
    assert!(files.get(&keys[&gone["id"].as_i64().unwrap()]).await.is_err());
    assert_eq!(files.get(&keys[&sent["id"].as_i64().unwrap()]).await.unwrap(), PNG);
    assert_eq!(files.get(&keys[&kept["id"].as_i64().unwrap()]).await.unwrap(), PNG, "a fresh upload waits");
}

/// Files under a folder, counted (the local store keeps one file per
/// attachment, in a folder per tenant).
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
}

async fn a_deleted_tenants_files_leave_the_store_and_no_one_elses_do(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.create_tenant("acme", 6).await;
    let beta = app.create_tenant("beta", 7).await;
    let a = app.sign_in(&acme, 851).await;
    let b = app.sign_in(&beta, 852).await;
    for name in ["one.png", "two.pdf"] {
        assert_eq!(upload(&app, "acme", &a, name, if name.ends_with("png") { PNG } else { PDF }).await.0, 201);
    }
    let (s, kept) = upload(&app, "beta", &b, "beta.png", PNG).await;
    assert_eq!(s, 201);
    let root = app.state.settings.data_dir.join("files");
    let acme_id = app.state.runtime.tenant_by_slug("acme").unwrap().info.id.as_str().to_owned();
    let beta_id = app.state.runtime.tenant_by_slug("beta").unwrap().info.id.as_str().to_owned();
    assert_eq!((files_under(&root.join(&acme_id)), files_under(&root.join(&beta_id))), (2, 1), "before the delete");
    let res = app.operator(Method::DELETE, "/api/platform/v1/tenants/acme?confirm=acme", None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(files_under(&root.join(&acme_id)), 0, "the deleted tenant's files are gone");
    assert_eq!(files_under(&root.join(&beta_id)), 1, "another tenant's stay");
    let (s, _, bytes) = download(&app, "beta", &b, kept["id"].as_i64().unwrap()).await;
    assert_eq!((s, bytes.as_slice()), (200, PNG));
}

/// An S3-compatible store: moto's S3 server (a real HTTP server speaking the
/// S3 protocol; `.ci/run` installs it and names it in
/// `TIKETHET_TEST_MOTO_SERVER`), configured the way a deployment is:
/// `TIKETHET_FILES_URL=s3://bucket/prefix` and the standard `AWS_*`
/// variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_live_in_an_s3_compatible_store_when_configured() {
    let server = std::env::var("TIKETHET_TEST_MOTO_SERVER").unwrap_or_else(|_| {
        panic!("TIKETHET_TEST_MOTO_SERVER must name moto's S3 server (python3 -m venv v && v/bin/pip install 'moto[server]'; .ci/run does this)")
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
    let _moto = Kill(
        std::process::Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{server} did not start: {e}")),
    );
    let s3 = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let up = wait_for(Duration::from_secs(30), || async { http.put(format!("{s3}/desk-files")).send().await.ok().filter(|r| r.status().is_success()) }).await;
    assert!(up.is_some(), "moto's S3 server did not come up on {port}, or refused the bucket");
    // Each test runs in its own process (nextest), so the environment is this test's.
    // SAFETY: set before the server (and any thread reading it) starts.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ENDPOINT", &s3);
        std::env::set_var("AWS_ALLOW_HTTP", "true");
    }
    let app = tikethet_tests::helpers::spawn_app_with(
        Backend::Sqlite,
        tikethet_tests::helpers::Options { files_url: Some("s3://desk-files/tikethet"), ..Default::default() },
    )
    .await;
    let t = app.create_tenant("acme", 5).await;
    let alice = app.sign_in(&t, 841).await;
    let (s, a) = upload(&app, "acme", &alice, "s3.png", PNG).await;
    assert_eq!(s, 201, "{a}");
    // The object is in the bucket, under the prefix and the tenant.
    let listing = http.get(format!("{s3}/desk-files?list-type=2&prefix=tikethet/")).send().await.unwrap().text().await.unwrap();
    let tenant = app.state.runtime.tenant_by_slug("acme").unwrap().info.id.as_str().to_owned();
    let key = listing.split("<Key>").nth(1).and_then(|k| k.split("</Key>").next()).unwrap_or_else(|| panic!("no object in the bucket: {listing}"));
    assert!(key.starts_with(&format!("tikethet/{tenant}/")), "{key}");
    assert!(listing.contains(&format!("<Size>{}</Size>", PNG.len())), "{listing}");
    // Served back through the API from the store.
    let (s, h, bytes) = download(&app, "acme", &alice, a["id"].as_i64().unwrap()).await;
    assert_eq!((s, header(&h, "content-type"), bytes.len()), (200, "image/png", PNG.len()));
    assert_eq!(bytes.as_slice(), PNG);
    // Nothing went to the local folder instead.
    let local = app.state.settings.data_dir.join("files").join(&tenant);
    assert!(!local.exists(), "{} was written", local.display());

    // Deleting the tenant empties its part of the bucket, and only its part.
    let beta = app.create_tenant("beta", 6).await;
    let bob = app.sign_in(&beta, 842).await;
    assert_eq!(upload(&app, "beta", &bob, "beta.png", PNG).await.0, 201);
    let beta_id = app.state.runtime.tenant_by_slug("beta").unwrap().info.id.as_str().to_owned();
    let keys = |prefix: String| {
        let http = http.clone();
        let s3 = s3.clone();
        async move {
            let listing = http.get(format!("{s3}/desk-files?list-type=2&prefix={prefix}")).send().await.unwrap().text().await.unwrap();
            listing.matches("<Key>").count()
        }
    };
    assert_eq!((keys(format!("tikethet/{tenant}/")).await, keys(format!("tikethet/{beta_id}/")).await), (1, 1), "before the delete");
    let res = app.operator(Method::DELETE, "/api/platform/v1/tenants/acme?confirm=acme", None).await;
    assert_eq!(res.status(), 204);
    assert_eq!(keys(format!("tikethet/{tenant}/")).await, 0, "the deleted tenant's objects are gone from S3");
    assert_eq!(keys(format!("tikethet/{beta_id}/")).await, 1, "another tenant's stay");
}
