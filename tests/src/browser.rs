//! Headless Chromium for the browser tests and the desk benchmark: Debian's
//! `chromium` driven through `chromedriver` over WebDriver, and the Mini
//! App's address with Telegram's launch parameters (real initData signed
//! with the tenant's bot token, in the URL hash, as Telegram opens it).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use crate::helpers::wait_for;

/// Telegram's light and dark `themeParams`, as its clients send them.
pub fn theme(dark: bool) -> Value {
    if dark {
        json!({"bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499", "link_color": "#6ab3f3", "button_color": "#5288c1", "button_text_color": "#ffffff", "secondary_bg_color": "#232e3c"})
    } else {
        json!({"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#999999", "link_color": "#2481cc", "button_color": "#2481cc", "button_text_color": "#ffffff", "secondary_bg_color": "#efeff3"})
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The page's address with Telegram's launch parameters.
pub fn launch_url(base: &str, slug: &str, bot_token: &str, user: i64, dark: bool) -> String {
    launch_url_in(base, slug, bot_token, user, dark, None)
}

/// Like [`launch_url`], for a user whose Telegram speaks `language_code`.
pub fn launch_url_in(base: &str, slug: &str, bot_token: &str, user: i64, dark: bool, language_code: Option<&str>) -> String {
    let data = crate::helpers::init_data_in(bot_token, user, chrono::Utc::now().timestamp(), language_code);
    format!(
        "{base}/t/{slug}/app/#tgWebAppData={}&tgWebAppVersion=8.0&tgWebAppPlatform=tdesktop&tgWebAppThemeParams={}",
        enc(&data),
        enc(&theme(dark).to_string())
    )
}

/// chromedriver on a free port, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    /// Kills chromedriver's whole process group, the browser it started
    /// included, so that a failed test leaves no Chromium behind.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser the size of a phone (the Mini App's).
pub async fn browser() -> (Driver, Client) {
    browser_sized(390, 844).await
}

/// Where screenshots go: `$CARGO_TARGET_DIR/screenshots` (or `target/screenshots`).
pub fn screenshots() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the page as `<name>.png` among the screenshots.
pub async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// A browser with a window of `width` × `height` CSS pixels.
pub async fn browser_sized(width: u32, height: u32) -> (Driver, Client) {
    browser_with(width, height, false).await
}

/// A browser whose pages see `prefers-color-scheme: dark` when `dark`.
pub async fn browser_with(width: u32, height: u32, dark: bool) -> (Driver, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    use std::os::unix::process::CommandExt as _;
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("chromedriver must be installed (apt-get install chromium chromium-driver): {e}"));
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let ready = wait_for(Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())
    })
    .await;
    assert!(ready.is_some(), "chromedriver did not listen on {port}");
    let mut args = vec!["--headless=new".to_owned(), "--no-sandbox".into(), "--disable-gpu".into(), "--disable-dev-shm-usage".into(), format!("--window-size={width},{height}")];
    if dark {
        // Blink's preferred scheme: 0 is dark.
        args.extend(["--force-dark-mode".to_owned(), "--blink-settings=preferredColorScheme=0".to_owned()]);
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.expect("a Chromium session");
    (driver, client)
}

