//! Drop-in `ServerCredentialStore` for `@workglow/storage`, in Rust.
//!
//! [`core`] holds the whole protocol (pending put, rollback, commit-step
//! orphan, metadata-first delete, orphan markers, deleteAll aggregation, key
//! grammar, expiry), generic over small async traits so `cargo test` drives
//! every path natively. `binding` implements those traits over the caller's
//! JS objects and is the only place that knows about wasm-bindgen.

#![cfg_attr(feature = "nostd", no_std)]

extern crate alloc;

pub mod core;
#[doc(hidden)]
pub mod heap;

#[cfg(target_arch = "wasm32")]
mod binding;
#[cfg(target_arch = "wasm32")]
pub use binding::StoreCore;

/// The shipped build has no std (`nostd`, set by scripts/build.sh), so no
/// panic machinery: the store never panics by design (odd input becomes a
/// JS error, see docs/bad-input.md), and a panic would only trap.
#[cfg(all(feature = "nostd", target_arch = "wasm32"))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo) -> ! {
    ::core::arch::wasm32::unreachable()
}
