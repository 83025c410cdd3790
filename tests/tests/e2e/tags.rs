//! Tags by staff: added and removed on a ticket (API and console), the list
//! and the queue filtered by one, the desk's tags counted, renamed and
//! merged by admins, each change in the audit log; customers neither tag
//! nor filter by tag.

use reqwest::Method;
use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, TestApp, csrf_in, no_redirects, spawn_app};

on_both!(staff_tag_tickets_filter_by_tag_and_admins_rename_and_merge_tags);

async fn open(app: &TestApp, token: &str, title: &str) -> i64 {
    let (s, body) = app.tenant_post("acme", "/tickets", token, json!({ "title": title, "description": format!("About {title}") })).await;
    assert_eq!(s, 201, "{body}");
    body["id"].as_i64().unwrap()
}

async fn tag(app: &TestApp, token: &str, ticket: i64, tag: &str) -> (u16, Value) {
    app.tenant_post("acme", &format!("/tickets/{ticket}/tags"), token, json!({ "tag": tag })).await
}

/// The ids of a list page, sorted.
fn ids(page: &Value) -> Vec<i64> {
    let mut v: Vec<i64> = page["items"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect();
    v.sort();
    v
}

async fn staff_tag_tickets_filter_by_tag_and_admins_rename_and_merge_tags(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let owner = app.sign_in(&t, t.owner).await;
    let customer = app.sign_in(&t, 7_100).await;
    let (one, two, three) = (open(&app, &customer, "Order late").await, open(&app, &customer, "Refund please").await, open(&app, &customer, "Hello").await);

    // Staff tag: one spelling per tag, tagging twice changes nothing.
    let (s, body) = tag(&app, &owner, one, "  VIP  Customer ").await;
    assert_eq!((s, &body["items"]), (200, &json!(["vip-customer"])), "{body}");
    assert_eq!(tag(&app, &owner, one, "vip-customer").await.1["items"], json!(["vip-customer"]));
    assert_eq!(tag(&app, &owner, two, "refund").await.1["items"], json!(["refund"]));
    assert_eq!(tag(&app, &owner, two, "vip-customer").await.1["items"], json!(["refund", "vip-customer"]));
    let (s, body) = tag(&app, &owner, three, "<b>").await;
    assert_eq!(s, 400, "{body}");
    // Customers neither tag nor filter by tag.
    assert_eq!(tag(&app, &customer, one, "mine").await.0, 403);
    assert_eq!(app.tenant_get("acme", "/tickets?tag=vip-customer", &customer).await.0, 403);

    // The list by tag: the tagged tickets, counted under the filter.
    let (s, page) = app.tenant_get("acme", "/tickets?tag=vip-customer", &owner).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!((ids(&page), page["total"].as_u64()), (vec![one, two], Some(2)), "{page}");
    assert_eq!(page["counts"]["open"], 2, "{page}");
    let (_, page) = app.tenant_get("acme", "/tickets?tag=nobody-has-it", &owner).await;
    assert_eq!((page["total"].as_u64(), page["items"].as_array().map(Vec::len)), (Some(0), Some(0)), "{page}");

    // At most 20 tags on a ticket.
    for i in 0..20 {
        assert_eq!(tag(&app, &owner, three, &format!("t{i:02}")).await.0, 200);
    }
    let (s, body) = tag(&app, &owner, three, "one-too-many").await;
    assert_eq!(s, 409, "{body}");

    // The desk's tags with their counts.
    let (s, tags) = app.tenant_get("acme", "/tags", &owner).await;
    assert_eq!(s, 200);
    let listed: Vec<(String, u64)> = tags["items"].as_array().unwrap().iter().map(|t| (t["tag"].as_str().unwrap().to_owned(), t["tickets"].as_u64().unwrap())).collect();
    assert_eq!(listed.len(), 22, "{tags}");
    assert!(listed.contains(&("refund".into(), 1)) && listed.contains(&("vip-customer".into(), 2)), "{tags}");

    // Admins rename; onto an existing tag the two merge (ticket two had both).
    let (s, merged) = app.tenant_call(Method::PATCH, "acme", "/tags/refund", &owner, Some(json!({ "name": "VIP-Customer" }))).await;
    assert_eq!((s, merged), (200, json!({ "tag": "vip-customer", "tickets": 2 })));
    assert_eq!(app.tenant_get("acme", &format!("/tickets/{two}/tags"), &owner).await.1["items"], json!(["vip-customer"]));
    let (s, renamed) = app.tenant_call(Method::PATCH, "acme", "/tags/vip-customer", &owner, Some(json!({ "name": "vip" }))).await;
    assert_eq!((s, renamed), (200, json!({ "tag": "vip", "tickets": 2 })));
    assert_eq!(app.tenant_call(Method::PATCH, "acme", "/tags/refund", &owner, Some(json!({ "name": "x" }))).await.0, 404, "gone with the merge");
    let (_, page) = app.tenant_get("acme", "/tickets?tag=vip", &owner).await;
    assert_eq!(ids(&page), vec![one, two]);

    // Removed; a tag the ticket does not carry is 404.
    let (s, body) = app.tenant_call(Method::DELETE, "acme", &format!("/tickets/{one}/tags/vip"), &owner, None).await;
    assert_eq!((s, &body["items"]), (200, &json!([])), "{body}");
    assert_eq!(app.tenant_call(Method::DELETE, "acme", &format!("/tickets/{one}/tags/vip"), &owner, None).await.0, 404);

    // The console: the ticket page tags and untags, the queue filters by tag.
    let http = no_redirects();
    let cookie = app.console_cookie(&t, t.owner).await;
    let get = async |path: &str| http.get(app.url(&format!("/t/acme/admin{path}"))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let page = get(&format!("/tickets/{one}")).await;
    assert!(page.contains(r#"data-testid="tag-form""#) && page.contains("No tags."), "{page}");
    let post = async |path: &str, form: &[(&str, &str)], page: &str| {
        let csrf = csrf_in(page);
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend_from_slice(form);
        let res = http.post(app.url(&format!("/t/acme/admin{path}"))).header("cookie", &cookie).form(&f).send().await.unwrap();
        (res.status().as_u16(), res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()))
    };
    let (s, to) = post(&format!("/tickets/{one}/tags"), &[("tag", "Late Delivery")], &page).await;
    assert_eq!((s, to), (303, Some(format!("/t/acme/admin/tickets/{one}?done=tagged"))));
    let page = get(&format!("/tickets/{one}?done=tagged")).await;
    assert!(page.contains(r#"data-testid="untag-late-delivery""#) && page.contains("Tag added."), "{page}");
    let (s, _) = post(&format!("/tickets/{one}/tags"), &[("tag", "a,b")], &page).await;
    assert_eq!(s, 400, "a refused tag comes back on the page");
    let queue = get("/?status=all&tag=late-delivery").await;
    assert!(queue.contains("Order late") && !queue.contains("Refund please") && !queue.contains("Hello"), "the queue narrowed to the tag: {queue}");
    assert!(queue.contains(r#"data-testid="tag-filter""#), "{queue}");
    let all = get("/?status=all").await;
    assert!(all.contains("Order late") && all.contains("Refund please") && all.contains("Hello"), "{all}");
    let (s, to) = post(&format!("/tickets/{one}/untag"), &[("tag", "late-delivery")], &page).await;
    assert_eq!((s, to), (303, Some(format!("/t/acme/admin/tickets/{one}?done=untagged"))));
    // Admins rename on the categories page.
    let cats = get("/categories").await;
    assert!(cats.contains(r#"data-testid="desk-tags""#) && cats.contains(r#"data-testid="rename-vip""#), "{cats}");
    let (s, to) = post("/tags", &[("from", "vip"), ("to", "priority-customer")], &cats).await;
    assert_eq!((s, to.as_deref()), (303, Some("/t/acme/admin/categories?done=tag")));
    let (_, page) = app.tenant_get("acme", "/tickets?tag=priority-customer", &owner).await;
    assert_eq!(ids(&page), vec![two]);

    // Each change is in the audit log.
    let audit = get("/audit?action=tag.").await;
    assert!(audit.contains("refund → vip-customer, 1 ticket<") && audit.contains("vip → priority-customer, 1 ticket<"), "{audit}");
    let audit = get("/audit?action=ticket.tagged").await;
    assert!(audit.contains("late-delivery") && audit.contains("vip-customer"), "{audit}");
    let audit = get("/audit?action=ticket.untagged").await;
    assert!(audit.contains("late-delivery") && audit.contains("vip"), "{audit}");
}
