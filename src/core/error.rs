//! The one error enum of the store. Messages are SPEC §4's, to the letter;
//! the binding turns each variant into the JS error class SPEC names.
//! No variant carries a secret: ids and keys are grammar-checked, and host
//! errors are carried opaque, never formatted.

use std::fmt;

/// Which public method ran commitDelete (it names itself in the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOp {
    Delete,
    DeleteAll,
}

impl fmt::Display for DeleteOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeleteOp::Delete => "delete",
            DeleteOp::DeleteAll => "deleteAll",
        })
    }
}

#[derive(thiserror::Error)]
pub enum StoreError<E> {
    /// → `TypeError`, thrown synchronously by the constructor. Never echoes the value.
    #[error("ServerCredentialStore: invalid userId/projectId")]
    InvalidScope,
    /// → `TypeError` from put. Never echoes the key.
    #[error("ServerCredentialStore: invalid key")]
    InvalidKey,
    /// → `TypeError`: a host object lacks a method the protocol must call.
    #[error("ServerCredentialStore: {object}.{method} is not a function")]
    MissingMethod { object: &'static str, method: &'static str },
    /// → `TypeError`: a listing (`metadata.getAll()`, `metadata.getByPrefix()`,
    /// `this.listMetadata()`) resolved to something that is not an array
    /// (undefined/null from the KV mean "no rows").
    #[error("ServerCredentialStore: {what} did not resolve to an array")]
    NotAnArray { what: &'static str },
    /// → `TypeError`: an option of listOrphans/reconcile has the wrong type.
    #[error("ServerCredentialStore: {name} must be a non-negative number")]
    InvalidOption { name: &'static str },
    /// → the very value the host threw or rejected with (a raw rethrow).
    #[error("host error")]
    Host(E),
    /// → `Error` with `cause`: the vault write failed and so did the rollback's metadata delete.
    #[error("ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id {id}")]
    VaultWriteOrphaned { id: String, cause: E },
    /// → `Error` with `cause`: the vault holds the bytes but the commit write failed.
    #[error(
        "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id {id}; row left as orphan marker"
    )]
    CommitOrphaned { id: String, cause: E },
    /// → `Error` with `cause`: the row is gone but the vault still holds the bytes.
    #[error(
        "ServerCredentialStore.{op}: metadata removed but vault delete failed for key {key}{}",
        if *marker_persisted { "; orphan marker persisted" } else { "; orphan marker also failed to persist" }
    )]
    VaultDeleteOrphaned { op: DeleteOp, key: String, marker_persisted: bool, cause: E },
    /// → `Error` with `cause` (strict update): the new version's row flip
    /// failed and so did deleting the new version's bytes.
    #[error("ServerCredentialStore.put: metadata update failed and rollback may have orphaned vault id {vault_id}")]
    UpdateOrphaned { vault_id: String, cause: E },
    /// → `Error` with `cause` (strict update): the new value is stored, but
    /// the old version's bytes could be neither deleted nor recorded.
    #[error(
        "ServerCredentialStore.put: value stored, but the previous version at vault id {vault_id} could not be deleted nor recorded for reconciliation"
    )]
    RetiredOrphaned { vault_id: String, cause: E },
    /// → `AggregateError` of each failed id's error, in order.
    #[error("ServerCredentialStore.deleteAll: one or more entries failed")]
    DeleteAll(Vec<StoreError<E>>),
}

/// Debug prints the message only: a host error may hold anything, a secret included.
impl<E> fmt::Debug for StoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreError({self})")
    }
}

/// `.host()?` passes a host failure on as the same value.
pub trait HostResult<T, E> {
    fn host(self) -> Result<T, StoreError<E>>;
}

impl<T, E> HostResult<T, E> for Result<T, E> {
    fn host(self) -> Result<T, StoreError<E>> {
        self.map_err(StoreError::Host)
    }
}
