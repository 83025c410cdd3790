//! The admin console: the web UI that a tenant's staff answer tickets in.
//!
//! Will own the console's pages and assets, served under `/t/{slug}/admin/`.
//! Until its issue lands the console is a placeholder page that points staff
//! to the tenant API; it knows nothing about storage.

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The page served at `/t/{slug}/admin/` until the console is built, with
/// the billing banner (an overdue payment, say) when there is one.
pub fn placeholder_page(desk_name: &str, banner: Option<&str>) -> String {
    let name = escape(desk_name);
    let banner = banner.map(|b| format!("<p role=\"alert\" data-testid=\"billing-banner\">{}</p>", escape(b))).unwrap_or_default();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name} · admin</title></head>\
         <body>{banner}<h1>{name}</h1><p>The admin console is not built yet. Staff can use the tenant API \
         described at <a href=\"/api/docs\">/api/docs</a>.</p></body></html>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn desk_name_is_escaped() {
        let page = super::placeholder_page("<script>", Some("<b>overdue</b>"));
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
        assert!(page.contains("data-testid=\"billing-banner\">&lt;b&gt;overdue"));
        assert!(!super::placeholder_page("Acme", None).contains("billing-banner"));
    }
}
