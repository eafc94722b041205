//! The metadata row (SPEC §3): the field names the protocol reads and
//! writes, the orphan reasons, and how rows are judged and built.

use super::host::{Clock, Values};

/// Every property name the store reads or writes, on rows, options and KV entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    UserId,
    ProjectId,
    Key,
    Label,
    Provider,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
    Pending,
    OrphanedAt,
    OrphanReason,
    /// `{ key, value }` of a `getAll()` entry (`key` is [`Field::Key`]).
    Value,
    /// Constructor options.
    Vault,
    Metadata,
    Strict,
    /// Strict mode: the versioned vault id holding a row's bytes, and the
    /// old versions whose delete failed (reconciliation finishes them).
    VaultId,
    RetiredVaultIds,
    /// Strict mode: versions being written (named before their bytes), and
    /// the mark of a delete in progress (no version is committed over it).
    PendingVaultIds,
    DeletingAt,
    /// Reconciliation options and reports.
    StalePendingMs,
    DryRun,
    Reason,
    Repaired,
    Failed,
    Skipped,
    Invalid,
    Error,
    Detail,
}

impl Field {
    /// In discriminant order, so a binding can pass a field as its index.
    pub const ALL: [Field; 28] = [
        Field::UserId,
        Field::ProjectId,
        Field::Key,
        Field::Label,
        Field::Provider,
        Field::CreatedAt,
        Field::UpdatedAt,
        Field::ExpiresAt,
        Field::Pending,
        Field::OrphanedAt,
        Field::OrphanReason,
        Field::Value,
        Field::Vault,
        Field::Metadata,
        Field::Strict,
        Field::VaultId,
        Field::RetiredVaultIds,
        Field::PendingVaultIds,
        Field::DeletingAt,
        Field::StalePendingMs,
        Field::DryRun,
        Field::Reason,
        Field::Repaired,
        Field::Failed,
        Field::Skipped,
        Field::Invalid,
        Field::Error,
        Field::Detail,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Field::UserId => "userId",
            Field::ProjectId => "projectId",
            Field::Key => "key",
            Field::Label => "label",
            Field::Provider => "provider",
            Field::CreatedAt => "createdAt",
            Field::UpdatedAt => "updatedAt",
            Field::ExpiresAt => "expiresAt",
            Field::Pending => "pending",
            Field::OrphanedAt => "orphanedAt",
            Field::OrphanReason => "orphanReason",
            Field::Value => "value",
            Field::Vault => "vault",
            Field::Metadata => "metadata",
            Field::Strict => "strict",
            Field::VaultId => "vaultId",
            Field::RetiredVaultIds => "retiredVaultIds",
            Field::PendingVaultIds => "pendingVaultIds",
            Field::DeletingAt => "deletingAt",
            Field::StalePendingMs => "stalePendingMs",
            Field::DryRun => "dryRun",
            Field::Reason => "reason",
            Field::Repaired => "repaired",
            Field::Failed => "failed",
            Field::Skipped => "skipped",
            Field::Invalid => "invalid",
            Field::Error => "error",
            Field::Detail => "detail",
        }
    }
}

/// Why an orphan marker was written (the row's `orphanReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanReason {
    VaultWriteFailed,
    MetadataCommitFailed,
    VaultDeleteFailed,
}

impl OrphanReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            OrphanReason::VaultWriteFailed => "vault-write-failed",
            OrphanReason::MetadataCommitFailed => "metadata-commit-failed",
            OrphanReason::VaultDeleteFailed => "vault-delete-failed",
        }
    }
}

impl OrphanReason {
    /// The inverse of `as_str` (a match: the obvious `find` over all three
    /// is unrolled into a kilobyte of wasm).
    pub fn parse(s: &str) -> Option<OrphanReason> {
        match s {
            "vault-write-failed" => Some(OrphanReason::VaultWriteFailed),
            "metadata-commit-failed" => Some(OrphanReason::MetadataCommitFailed),
            "vault-delete-failed" => Some(OrphanReason::VaultDeleteFailed),
            _ => None,
        }
    }
}

/// What reconciliation finds wrong with a row (the `reason` it reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// An orphan marker, by its `orphanReason`.
    Marker(OrphanReason),
    /// A marker older than `orphanReason` (the seed's first markers).
    UnknownMarker,
    /// A pending row without a marker, older than the threshold: a put whose process died.
    StalePending,
    /// Strict mode: a committed row recording old versions still in the vault.
    RetiredVersions,
    /// Strict mode: a row naming versions being written for longer than
    /// the threshold (their writer died or gave up).
    StaleVersions,
    /// Strict mode, with the vault's `listIds`: bytes no row names.
    UnnamedBytes,
    /// A KV entry of this scope whose id is not the prefix plus a key of the
    /// grammar (`u/p/../../u2/p2/x`): reported, never acted on.
    InvalidKey,
}

impl Finding {
    pub const fn as_str(self) -> &'static str {
        match self {
            Finding::Marker(r) => r.as_str(),
            Finding::UnknownMarker => "unknown",
            Finding::StalePending => "stale-pending",
            Finding::RetiredVersions => "retired-versions",
            Finding::InvalidKey => "invalid-key",
            Finding::StaleVersions => "stale-versions",
            Finding::UnnamedBytes => "unnamed-bytes",
        }
    }
}

/// The fields `put` computes (SPEC §4 put step 3); scope and key come from the store.
/// In strict mode the row also names the versioned vault id of its bytes.
pub struct BaseRow<T> {
    pub key: T,
    pub label: T,
    pub provider: T,
    pub created_at: T,
    pub updated_at: T,
    pub expires_at: T,
    pub vault_id: Option<T>,
}

/// What `put` carries into the new row from `options` and the existing row
/// (SPEC §4 put step 3): `Values::carried_fields`.
pub struct Carried<T> {
    pub label: T,
    pub provider: T,
    /// `None` when the existing row has none (the row is then created now).
    pub created_at: Option<T>,
    pub expires_at: T,
}

/// Whether `candidate` is `id` itself or a version of it (`id#token`).
/// Guards every vault id read from a row: a row can never point the store
/// at another key's, or another scope's, bytes.
pub fn is_version_of(id: &str, candidate: &str) -> bool {
    match candidate.strip_prefix(id) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('#').is_some_and(|t| {
            !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }),
        None => false,
    }
}

/// How a reader sees a row (SPEC §3): a falsy row is missing; only
/// `pending === true` is pending; `expiresAt` counts when `!== undefined`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowState {
    Missing,
    Pending,
    /// `expires`: `expiresAt !== undefined` (only read when asked for).
    Committed {
        expires: bool,
    },
}

/// `new Date(row.expiresAt) <= new Date()` for a row whose `expiresAt` is
/// not undefined. An unparseable date is NaN, and NaN <= now is false.
pub fn is_expired<V: Values, C: Clock<V>>(v: &V, clock: &C, row: &V::Val) -> Result<bool, V::Err> {
    let (at, now) = clock.expiry_and_now(v, row)?;
    Ok(expired(at, now))
}

/// `new Date(row.expiresAt) <= new Date()` from the two times (NaN: not expired).
pub fn expired(at: f64, now: f64) -> bool {
    at <= now
}

/// The orphan-marker properties spread over a row: `pending: true, orphanedAt, orphanReason`.
pub fn marker_props<V: Values>(v: &V, orphaned_at: V::Val, reason: OrphanReason) -> [(Field, V::Val); 3] {
    [
        (Field::Pending, v.boolean(true)),
        (Field::OrphanedAt, orphaned_at),
        (Field::OrphanReason, v.string(reason.as_str())),
    ]
}

/// The fields of a listMetadata entry, in order: never a value, never other fields.
pub const INFO: [Field; 6] =
    [Field::Key, Field::Label, Field::Provider, Field::CreatedAt, Field::UpdatedAt, Field::ExpiresAt];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_orphan_reason_parses_back_from_its_text_and_nothing_else_does() {
        for r in [OrphanReason::VaultWriteFailed, OrphanReason::MetadataCommitFailed, OrphanReason::VaultDeleteFailed] {
            assert_eq!(OrphanReason::parse(r.as_str()), Some(r));
        }
        for other in ["", "unknown", "vault-write-failed ", "Vault-Write-Failed", "stale-pending"] {
            assert_eq!(OrphanReason::parse(other), None, "{other:?}");
        }
    }
}
