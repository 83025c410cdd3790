//! Plugins: the sandboxed WASM extension point of a tenant's desk.
//!
//! Will own the wasmtime host, the versioned WIT contract in `wit/`, the
//! plugin SDK and the example plugins. No other crate names a wasmtime type.
//! Nothing is here yet: the host is built by its own issue, beside the spine.
