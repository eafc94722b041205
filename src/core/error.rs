//! The one error enum of the store. Messages are SPEC §4's, to the letter;
//! the binding turns each variant into the JS error class SPEC names.
//! No variant carries a secret: ids and keys are grammar-checked, and host
//! errors are carried opaque, never formatted.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Which public method ran commitDelete (it names itself in the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOp {
    Delete,
    DeleteAll,
}

impl DeleteOp {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeleteOp::Delete => "delete",
            DeleteOp::DeleteAll => "deleteAll",
        }
    }
}

pub enum StoreError<E> {
    /// → `TypeError`, thrown synchronously by the constructor. Never echoes the value.
    InvalidScope,
    /// → `TypeError` from put. Never echoes the key.
    InvalidKey,
    /// → `TypeError`: a host object lacks a method the protocol must call.
    MissingMethod { object: &'static str, method: &'static str },
    /// → `TypeError`: a listing (`metadata.getAll()`, `metadata.getByPrefix()`,
    /// `this.listMetadata()`) resolved to something that is not an array
    /// (undefined/null from the KV mean "no rows").
    NotAnArray { what: &'static str },
    /// → `TypeError`: an option of listOrphans/reconcile has the wrong type.
    InvalidOption { name: &'static str },
    /// → the very value the host threw or rejected with (a raw rethrow).
    Host(E),
    /// → `Error` with `cause`: the vault write failed and so did the rollback's metadata delete.
    VaultWriteOrphaned { id: String, cause: E },
    /// → `Error` with `cause`: the vault holds the bytes but the commit write failed.
    CommitOrphaned { id: String, cause: E },
    /// → `Error` with `cause`: the row is gone but the vault still holds the
    /// bytes. `key` is the key's text for Rust (lone surrogates replaced);
    /// `key_text` the host's own string, which a binding puts in the message.
    VaultDeleteOrphaned { op: DeleteOp, key: String, key_text: E, marker_persisted: bool, cause: E },
    /// → `Error` with `code` `"CREDENTIAL_CONFLICT"` (strict mode): the
    /// operation lost the race for the key's row to concurrent writers
    /// `ATTEMPTS` times in a row; none of its versions stays live.
    Conflict { op: &'static str, key: String },
    /// → `AggregateError` of each failed id's error, in order.
    DeleteAll(Vec<StoreError<E>>),
}

impl<E> StoreError<E> {
    /// The message SPEC §4 gives this error, to the letter. Built from
    /// pieces rather than with `format!`: core::fmt's engine would add
    /// ~6 KB to the wasm. Never includes a host error (it may hold a secret).
    pub fn message(&self) -> String {
        use StoreError::*;
        let pieces: &[&str] = match self {
            InvalidScope => &["ServerCredentialStore: invalid userId/projectId"],
            InvalidKey => &["ServerCredentialStore: invalid key"],
            MissingMethod { object, method } => &["ServerCredentialStore: ", object, ".", method, " is not a function"],
            NotAnArray { what } => &["ServerCredentialStore: ", what, " did not resolve to an array"],
            InvalidOption { name } => &["ServerCredentialStore: ", name, " must be a non-negative number"],
            Host(_) => &["host error"],
            VaultWriteOrphaned { id, .. } => {
                &["ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id ", id]
            }
            CommitOrphaned { id, .. } => &[
                "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id ",
                id,
                "; row left as orphan marker",
            ],
            VaultDeleteOrphaned { op, key, marker_persisted, .. } => &[
                "ServerCredentialStore.",
                op.as_str(),
                ": metadata removed but vault delete failed for key ",
                key,
                if *marker_persisted { "; orphan marker persisted" } else { "; orphan marker also failed to persist" },
            ],
            Conflict { op, key } => &[
                "ServerCredentialStore.",
                op,
                ": concurrent writers kept changing the row of key ",
                key,
                "; gave up after repeated attempts",
            ],
            DeleteAll(_) => &["ServerCredentialStore.deleteAll: one or more entries failed"],
        };
        pieces.iter().fold(String::new(), |mut m, p| {
            m.push_str(p);
            m
        })
    }

    /// For a message that names a key the host gave (`VaultDeleteOrphaned`):
    /// the text before the key, the key as the host's own string, and the
    /// text after it. A binding joins them host-side, so the key's text is
    /// kept exactly (SPEC §4 "Host objects").
    pub fn around_key(&self) -> Option<(String, &E, &'static str)> {
        let StoreError::VaultDeleteOrphaned { op, key_text, marker_persisted, .. } = self else { return None };
        let mut before = String::from("ServerCredentialStore.");
        before.push_str(op.as_str());
        before.push_str(": metadata removed but vault delete failed for key ");
        let after =
            if *marker_persisted { "; orphan marker persisted" } else { "; orphan marker also failed to persist" };
        Some((before, key_text, after))
    }
}

impl<E> fmt::Display for StoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Debug prints the message only: a host error may hold anything, a secret included.
impl<E> fmt::Debug for StoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreError(")?;
        f.write_str(&self.message())?;
        f.write_str(")")
    }
}

impl<E> core::error::Error for StoreError<E> {}

/// `.host()?` passes a host failure on as the same value.
pub trait HostResult<T, E> {
    fn host(self) -> Result<T, StoreError<E>>;
}

impl<T, E> HostResult<T, E> for Result<T, E> {
    fn host(self) -> Result<T, StoreError<E>> {
        self.map_err(StoreError::Host)
    }
}
