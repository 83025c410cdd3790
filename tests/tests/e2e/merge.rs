//! Merging two tickets of one customer: the messages move, the tags join,
//! a note on each says so and the merged ticket is closed; tickets of two
//! customers, and a customer's request, are refused. Through the API and
//! the console's form.

use serde_json::{Value, json};
use tikethet_tests::helpers::{Backend, spawn_app};

on_both!(a_customers_two_tickets_merge_into_one_and_other_merges_are_refused,);

fn texts(v: &Value) -> Vec<String> {
    v.as_array().or_else(|| v["items"].as_array()).expect("messages").iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

async fn a_customers_two_tickets_merge_into_one_and_other_merges_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.create_tenant("acme", 1).await;
    let carl = app.sign_in(&t, 801).await;
    let dina = app.sign_in(&t, 802).await;
    let owner = app.sign_in(&t, t.owner).await;
    let mut ids = Vec::new();
    for (who, title) in [(&carl, "Parcel lost"), (&carl, "Still no parcel"), (&dina, "Wrong size")] {
        let (s, body) = app.tenant_post("acme", "/tickets", who, json!({ "title": title, "description": format!("About: {title}") })).await;
        assert_eq!(s, 201, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    let (first, second, other) = (ids[0], ids[1], ids[2]);
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{second}/messages"), &carl, json!({ "text": "It has been two weeks." })).await;
    assert_eq!(s, 201, "{body}");

    // A customer may not merge; nor may two customers' tickets be merged.
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{second}/merge"), &carl, json!({ "into": first })).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = app.tenant_post("acme", &format!("/tickets/{other}/merge"), &owner, json!({ "into": first })).await;
    assert_eq!(s, 409, "{body}");
    assert!(body.to_string().contains("belong to different customers"), "{body}");
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{first}/merge"), &owner, json!({ "into": first })).await;
    assert_eq!(s, 409);

    // The second into the first.
    let (s, merged) = app.tenant_post("acme", &format!("/tickets/{second}/merge"), &owner, json!({ "into": first })).await;
    assert_eq!(s, 200, "{merged}");
    assert_eq!(merged["id"], first);
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{first}/messages"), &owner).await;
    let got = texts(&msgs);
    assert_eq!(&got[..3], ["About: Parcel lost", "About: Still no parcel", "It has been two weeks."], "{got:?}");
    assert!(got[3].starts_with(&format!("Merged #{second} (Still no parcel) into this ticket: 2 message(s) moved here.")), "{got:?}");
    let (_, closed) = app.tenant_get("acme", &format!("/tickets/{second}"), &owner).await;
    assert_eq!(closed["status"], "closed", "{closed}");
    // The desk's counters, kept by the database as tickets change, follow.
    let (_, page) = app.tenant_get("acme", "/tickets", &owner).await;
    assert_eq!(page["counts"], json!({"open": 2, "in_progress": 0, "waiting_response": 0, "resolved": 0, "closed": 1}), "{page}");
    crate::desk::kept_counts_match_a_count(&app, "acme", &owner).await;
    let (_, left) = app.tenant_get("acme", &format!("/tickets/{second}/messages"), &owner).await;
    assert_eq!(texts(&left), [format!("Merged into #{first} (Parcel lost).")]);
    // The customer sees their messages in the one ticket, and not the notes.
    let (_, mine) = app.tenant_get("acme", &format!("/tickets/{first}/messages"), &carl).await;
    assert_eq!(texts(&mine), ["About: Parcel lost", "About: Still no parcel", "It has been two weeks."]);
    // A closed ticket takes no merge.
    let (s, _) = app.tenant_post("acme", &format!("/tickets/{first}/merge"), &owner, json!({ "into": second })).await;
    assert_eq!(s, 409);

    // The console's form: offered the customer's other open tickets only, and it merges.
    let (s, body) = app.tenant_post("acme", "/tickets", &carl, json!({ "title": "Third try", "description": "Hello?" })).await;
    assert_eq!(s, 201, "{body}");
    let third = body["id"].as_i64().unwrap();
    let cookie = app.console_cookie(&t, t.owner).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = http.get(app.url(&format!("/t/acme/admin/tickets/{third}"))).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-testid=\"merge-form\"") && page.contains(&format!("<option value=\"{first}\">#{first} Parcel lost")), "{page}");
    assert!(!page.contains(&format!("<option value=\"{second}\">")) && !page.contains(&format!("<option value=\"{other}\">")), "closed and other customers' tickets are not offered");
    let at = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let csrf = page[at..].split('"').next().unwrap();
    let res = http
        .post(app.url(&format!("/t/acme/admin/tickets/{third}/merge")))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf), ("into", &first.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/t/acme/admin/tickets/{first}?done=merged"));
    let (_, msgs) = app.tenant_get("acme", &format!("/tickets/{first}/messages"), &carl).await;
    assert!(texts(&msgs).contains(&"Hello?".to_owned()));
}
