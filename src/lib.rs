//! Drop-in `ServerCredentialStore` for `@workglow/storage`, in Rust.
//!
//! [`core`] holds the whole protocol (pending put, rollback, commit-step
//! orphan, metadata-first delete, orphan markers, deleteAll aggregation, key
//! grammar, expiry), generic over small async traits so `cargo test` drives
//! every path natively. `binding` implements those traits over the caller's
//! JS objects and is the only place that knows about wasm-bindgen.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod binding;
#[cfg(target_arch = "wasm32")]
pub use binding::StoreCore;
