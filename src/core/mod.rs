//! The protocol, free of wasm-bindgen: see SPEC.md §2–§4.

mod error;
mod host;
mod key;
mod lock;
mod reconcile;
mod row;
mod store;
mod strict;

pub use error::{DeleteOp, HostResult, StoreError};
pub use host::{Clock, Facade, MetadataKv, NoFacade, SecretVault, Values};
pub use key::{is_safe_bytes, is_safe_segment, Scope};
pub use lock::{KeyGuard, KeyLocks};
pub use reconcile::{Orphan, Outcome, DEFAULT_STALE_PENDING_MS};
pub use row::{BaseRow, Carried, Field, Finding, OrphanReason, RowState, INFO};
pub use store::{Addressed, PutNext, Read, ReadNext, Store};
pub use strict::ATTEMPTS;
