//! Plugins: the sandboxed WASM extension point of a tenant's desk.
//!
//! Owns the wasmtime host, the versioned WIT contract in `wit/` (one folder
//! per released version: `tikethet:plugin@1.0.0`, `@1.1.0`, `@1.2.0` and
//! `@1.3.0`, all run side by side), the limits every call runs under, and
//! the build of plugin crates into components. It wraps wasmtime: no other crate names a
//! wasmtime type. It knows nothing of tenants' storage; callers hand it a
//! plugin's bytes, configuration and key-value state, and get back actions,
//! the new state and what the call used, or a classified failure.

pub mod build;
mod host;
pub mod limits;
pub mod model;

pub use host::{HostOptions, Loaded, PluginHost};
pub use model::*;

/// A `keyword-reply` component built against contract 1.0.0 and never
/// rebuilt (see `testdata/README.md`): proof for tests that components of
/// the older contract keep working.
pub fn frozen_keyword_reply_1_0_0() -> &'static [u8] {
    include_bytes!("../testdata/keyword-reply-1.0.0.wasm")
}

/// The same `keyword-reply` built against contract 1.1.0 (with its inline
/// buttons) and never rebuilt: proof that 1.1.0 components keep working
/// beside 1.2.0 ones.
pub fn frozen_keyword_reply_1_1_0() -> &'static [u8] {
    include_bytes!("../testdata/keyword-reply-1.1.0.wasm")
}

/// The `nudge` example built against contract 1.2.0 and never rebuilt:
/// proof that 1.2.0 components, `on-schedule` included, keep working
/// beside 1.3.0 ones.
pub fn frozen_nudge_1_2_0() -> &'static [u8] {
    include_bytes!("../testdata/nudge-1.2.0.wasm")
}
