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
    /// Reconciliation options and reports.
    StalePendingMs,
    DryRun,
    Reason,
    Repaired,
    Failed,
    Skipped,
    Error,
    Detail,
}

impl Field {
    /// In discriminant order, so a binding can pass a field as its index.
    pub const ALL: [Field; 25] = [
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
        Field::StalePendingMs,
        Field::DryRun,
        Field::Reason,
        Field::Repaired,
        Field::Failed,
        Field::Skipped,
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
            Field::StalePendingMs => "stalePendingMs",
            Field::DryRun => "dryRun",
            Field::Reason => "reason",
            Field::Repaired => "repaired",
            Field::Failed => "failed",
            Field::Skipped => "skipped",
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
    pub fn parse(s: &str) -> Option<OrphanReason> {
        [OrphanReason::VaultWriteFailed, OrphanReason::MetadataCommitFailed, OrphanReason::VaultDeleteFailed]
            .into_iter()
            .find(|r| r.as_str() == s)
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
}

impl Finding {
    pub const fn as_str(self) -> &'static str {
        match self {
            Finding::Marker(r) => r.as_str(),
            Finding::UnknownMarker => "unknown",
            Finding::StalePending => "stale-pending",
            Finding::RetiredVersions => "retired-versions",
        }
    }
}

/// The fields `put` computes (SPEC §4 put step 3); scope and key come from the store.
/// In strict mode the row also names the versioned vault id of its bytes.
pub struct BaseRow<T> {
    pub label: T,
    pub provider: T,
    pub created_at: T,
    pub updated_at: T,
    pub expires_at: T,
    pub vault_id: Option<T>,
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

/// `!row`: a falsy row is missing.
pub fn is_missing<V: Values>(v: &V, row: &V::Val) -> bool {
    !v.is_truthy(row)
}

/// `row.pending === true`: pending rows (in-flight puts, orphan markers) are invisible.
pub fn is_pending<V: Values>(v: &V, row: &V::Val) -> Result<bool, V::Err> {
    Ok(v.is_true(&v.get(row, Field::Pending)?))
}

/// `row.expiresAt !== undefined && new Date(row.expiresAt) <= new Date()`.
/// An unparseable date is NaN, and NaN <= now is false: never expired.
pub fn is_expired<V: Values, C: Clock<V>>(v: &V, clock: &C, row: &V::Val) -> Result<bool, V::Err> {
    let expires_at = v.get(row, Field::ExpiresAt)?;
    if v.is_undefined(&expires_at) {
        return Ok(false);
    }
    let at = clock.date_ms(&expires_at)?;
    Ok(at <= clock.now_ms()?)
}

/// The orphan-marker properties spread over a row: `pending: true, orphanedAt, orphanReason`.
pub fn marker_props<V: Values>(v: &V, orphaned_at: V::Val, reason: OrphanReason) -> [(Field, V::Val); 3] {
    [
        (Field::Pending, v.boolean(true)),
        (Field::OrphanedAt, orphaned_at),
        (Field::OrphanReason, v.string(reason.as_str())),
    ]
}

/// `{ key, label, provider, createdAt, updatedAt, expiresAt }` of a row: never a value, never other fields.
pub fn info<V: Values>(v: &V, row: &V::Val) -> Result<V::Val, V::Err> {
    const INFO: [Field; 6] =
        [Field::Key, Field::Label, Field::Provider, Field::CreatedAt, Field::UpdatedAt, Field::ExpiresAt];
    let mut props = Vec::with_capacity(INFO.len());
    for f in INFO {
        props.push((f, v.get(row, f)?));
    }
    Ok(v.object(&props))
}
