//! Building a plugin crate into a component with the wasm toolchain of
//! `shared/WASM_TOOLCHAIN.md`: Debian's Rust with `-Zbuild-std` for
//! `wasm32-unknown-unknown`, then the core module is encoded as a component
//! (its WIT world travels inside, embedded by wit-bindgen).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

/// Where Debian's toolchain lives; rustup's compiler has no wasm target here.
const CARGO: &str = "/usr/bin/cargo";
const RUSTC: &str = "/usr/bin/rustc";
const INSTALL_HINT: &str = "apt-get install -y --no-install-recommends rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc";

/// Encodes a core wasm module that carries its component-type section into
/// a component.
pub fn encode_component(core: &[u8]) -> anyhow::Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .context("the module has no usable component-type section (was it built with the SDK?)")?
        .validate(true)
        .encode()
        .context("failed to encode the component")
}

/// Builds the plugin crate at `crate_dir` and writes `<out_dir>/<name>.wasm`.
/// `target_dir` keeps the guest's build apart from the host's.
pub fn build_plugin(crate_dir: &Path, target_dir: &Path, out_dir: &Path) -> anyhow::Result<PathBuf> {
    if !Path::new(CARGO).exists() || !Path::new(RUSTC).exists() {
        bail!("the wasm toolchain is missing ({CARGO}, {RUSTC}); install it with: {INSTALL_HINT}");
    }
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("failed to read {}", manifest.display()))?;
    let name = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("name").and_then(|r| r.trim().strip_prefix('=')).map(|v| v.trim().trim_matches('"').to_owned()))
        .with_context(|| format!("{} has no package name", manifest.display()))?;
    let status = Command::new(CARGO)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown", "-Zbuild-std=std,panic_abort", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTC", RUSTC)
        .env("RUSTDOC", "/usr/bin/rustdoc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .with_context(|| format!("failed to run {CARGO}"))?;
    if !status.success() {
        bail!("building {} failed ({status})", crate_dir.display());
    }
    let core_path = target_dir.join("wasm32-unknown-unknown/release").join(format!("{}.wasm", name.replace('-', "_")));
    let core = std::fs::read(&core_path).with_context(|| format!("failed to read {}", core_path.display()))?;
    let component = encode_component(&core)?;
    std::fs::create_dir_all(out_dir)?;
    let out = out_dir.join(format!("{name}.wasm"));
    // Several test processes may build the same plugin at once: each writes
    // its own temporary file and renames it into place.
    let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let tmp = out.with_extension(format!("wasm.{}.{unique}.tmp", std::process::id()));
    std::fs::write(&tmp, component)?;
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

/// Builds one of this repository's plugin crates (`examples/NAME` or
/// `testdata/NAME`) once and returns the component; for tests and
/// benchmarks. Concurrent callers are safe: cargo locks the guest build and
/// the component is renamed into place.
pub fn build_bundled(name: &str) -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = ["examples", "testdata"]
        .iter()
        .map(|d| root.join(d).join(name))
        .find(|p| p.join("Cargo.toml").exists())
        .with_context(|| format!("no bundled plugin named {name}"))?;
    let base = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("../target"));
    // A target directory may be shared by several checkouts of this
    // repository whose plugin sources differ: each checkout builds into its
    // own folder, or one would load another's component.
    let checkout = hex::encode(&Sha256::digest(root.as_os_str().as_encoded_bytes())[..6]);
    let base = base.join("bundled-plugins").join(checkout);
    build_plugin(&dir, &base.join("wasm-guest"), &base.join("plugins"))
}
