//! A desk's proven domain over https through the deployment's proxy, as
//! `deploy/caddy/Caddyfile` runs it: Debian's Caddy with on-demand TLS,
//! asking our `GET /tls/ask` before it obtains a certificate from an ACME
//! server (Debian's `pebble`, Let's Encrypt's test server). The proven
//! domain gets a certificate and serves the desk's Mini App; an unproven
//! name gets no certificate, so its TLS handshake fails.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tikethet_tests::dns::TestDns;
use tikethet_tests::helpers::{Backend, Options, spawn_app_with, wait_for};

const DOMAIN: &str = "support.acme.test";
const UNPROVEN: &str = "other.acme.test";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn need(program: &str) {
    let found = std::process::Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().is_ok_and(|o| o.status.success());
    assert!(found, "{program} is needed for this test: install Debian's `caddy` and `pebble` packages (.ci/run does)");
}

/// A program the test started, stopped when the test ends (or fails).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(cmd: &mut Command, log: &Path) -> Running {
    let out = std::fs::File::create(log).unwrap();
    Running(cmd.stdin(Stdio::null()).stdout(Stdio::from(out.try_clone().unwrap())).stderr(Stdio::from(out)).spawn().unwrap_or_else(|e| panic!("could not start {cmd:?}: {e}")))
}

async fn listening(port: u16) -> bool {
    wait_for(Duration::from_secs(20), async || tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(|_| ())).await.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_obtains_a_certificate_from_pebble_only_for_a_proven_domain_and_serves_its_mini_app() {
    need("caddy");
    need("pebble");
    need("openssl");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The desk, its domain proven through a TXT record.
    let dns = TestDns::start().await;
    let env: &'static [(&'static str, &'static str)] = Box::leak(vec![("TIKETHET_DNS_SERVERS", &*Box::leak(dns.setting().into_boxed_str()))].into_boxed_slice());
    let app = spawn_app_with(Backend::Sqlite, Options { env, ..Options::default() }).await;
    app.create_tenant("acme", 1).await;
    let control = &app.state.control;
    let asked = control.request_domain("acme", &tikethet_runtime::domain::CustomDomain::parse(DOMAIN).unwrap()).await.unwrap();
    dns.add_txt(&asked.record_name(), &asked.record_value());
    assert_eq!(control.check_domain("acme").await.unwrap().status, "verified");
    let app_port = app.address.rsplit(':').next().unwrap().to_owned();

    // Pebble, on a certificate of its own for its ACME listener.
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(d.join("pebble-key.pem"))
        .arg("-out")
        .arg(d.join("pebble-cert.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    let (acme, management, http01, tlsalpn) = (free_port(), free_port(), free_port(), free_port());
    let pebble_config = serde_json::json!({ "pebble": {
        "listenAddress": format!("127.0.0.1:{acme}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": d.join("pebble-cert.pem"),
        "privateKey": d.join("pebble-key.pem"),
        "httpPort": http01,
        "tlsPort": tlsalpn,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(d.join("pebble.json"), pebble_config.to_string()).unwrap();
    // The challenges are taken as met (this machine cannot be reached as
    // the domain), without the random waits, and every nonce is good.
    let _pebble = start(
        Command::new("pebble").arg("-config").arg(d.join("pebble.json")).env("PEBBLE_VA_ALWAYS_VALID", "1").env("PEBBLE_VA_NOSLEEP", "1").env("PEBBLE_WFE_NONCEREJECT", "0"),
        &d.join("pebble.log"),
    );
    assert!(listening(acme).await, "pebble did not start: {}", std::fs::read_to_string(d.join("pebble.log")).unwrap_or_default());

    // Caddy as deploy/caddy/Caddyfile has it, pointed at pebble and this server.
    let (http_port, https_port) = (free_port(), free_port());
    let caddyfile = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/caddy/Caddyfile")).expect("deploy/caddy/Caddyfile");
    let caddyfile = caddyfile.replace("127.0.0.1:8080", &format!("127.0.0.1:{app_port}"));
    let global = format!(
        "{{\n\tadmin off\n\thttp_port {http_port}\n\thttps_port {https_port}\n\tstorage file_system {}\n\tacme_ca https://127.0.0.1:{acme}/dir\n\tacme_ca_root {}\n\tskip_install_trust\n",
        d.join("caddy-data").display(),
        d.join("pebble-cert.pem").display()
    );
    // The example's global block, with the test's ports and CA in front.
    let caddyfile = caddyfile.replacen("{\n", &global, 1);
    std::fs::write(d.join("Caddyfile"), &caddyfile).unwrap();
    let _caddy = start(
        Command::new("caddy").args(["run", "--adapter", "caddyfile", "--config"]).arg(d.join("Caddyfile")).env("XDG_DATA_HOME", d.join("xdg-data")).env("XDG_CONFIG_HOME", d.join("xdg-config")).env("HOME", d),
        &d.join("caddy.log"),
    );
    assert!(listening(https_port).await, "caddy did not start:\n{caddyfile}\n{}", std::fs::read_to_string(d.join("caddy.log")).unwrap_or_default());

    // A client that trusts only pebble's root, reaching the names at Caddy.
    let root = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(d.join("pebble-cert.pem")).unwrap()).unwrap())
        .build()
        .unwrap()
        .get(format!("https://127.0.0.1:{management}/roots/0"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let at: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&root).expect("pebble's root"))
        .resolve(DOMAIN, at)
        .resolve(UNPROVEN, at)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // The first handshake waits for the certificate.
    let logs = || format!("caddy:\n{}\npebble:\n{}", std::fs::read_to_string(d.join("caddy.log")).unwrap_or_default(), std::fs::read_to_string(d.join("pebble.log")).unwrap_or_default());
    let page = wait_for(Duration::from_secs(60), async || {
        let res = client.get(format!("https://{DOMAIN}:{https_port}/")).send().await.ok()?;
        Some((res.status().as_u16(), res.text().await.ok()?))
    })
    .await
    .unwrap_or_else(|| panic!("no https answer on {DOMAIN}\n{}", logs()));
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(page.1.contains("data-base=\"\"") && page.1.contains("/app/assets/app.js"), "the desk's Mini App over https on its own name: {}", page.1);

    // A name nobody proved: Caddy asks, is refused, and has no certificate
    // to offer, so the handshake fails (the connection itself is taken).
    let refused = client.get(format!("https://{UNPROVEN}:{https_port}/")).send().await.expect_err("no certificate for an unproven name");
    let why = format!("{:?}", std::error::Error::source(&refused));
    assert!(why.contains("alert") || why.contains("InternalError") || why.contains("tls"), "a TLS refusal, not a dead proxy: {why}\n{}", logs());
    // The proven name still works (the refusal was about the name alone).
    assert_eq!(client.get(format!("https://{DOMAIN}:{https_port}/app/")).send().await.unwrap().status(), 200);
}
