//! The admin console: the web UI that a tenant's staff answer tickets in.
//!
//! Will own the console's pages and assets, served under `/t/{slug}/admin/`.
//! Until its issue lands the console is a placeholder page that points staff
//! to the tenant API; it knows nothing about storage.

/// The page served at `/t/{slug}/admin/` until the console is built.
pub fn placeholder_page(desk_name: &str) -> String {
    let name = desk_name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{name} · admin</title></head>\
         <body><h1>{name}</h1><p>The admin console is not built yet. Staff can use the tenant API \
         described at <a href=\"/api/docs\">/api/docs</a>.</p></body></html>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn desk_name_is_escaped() {
        let page = super::placeholder_page("<script>");
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"));
    }
}
