//! The protocol, free of wasm-bindgen: see SPEC.md §2–§4.

mod error;
mod host;
mod key;
mod row;
mod store;

pub use error::{DeleteOp, HostResult, StoreError};
pub use host::{Clock, MetadataKv, SecretVault, Values};
pub use key::{is_safe_segment, Scope};
pub use row::{Field, OrphanReason};
pub use store::Store;
