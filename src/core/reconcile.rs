//! Reconciliation (SPEC §6): the TypeScript store writes orphan markers "so
//! an operator can reconcile", and nothing read them. `listOrphans` finds
//! them (and pending rows a crashed process left); `reconcile` repairs each
//! in its write turn: vault bytes first, then the row.

use alloc::string::String;
use alloc::vec::Vec;

use super::error::{HostResult, StoreError};
use super::host::{refs, Clock, MetadataKv, SecretVault, Values};
use super::key::is_safe_segment;
use super::row::{Field, Finding, OrphanReason, RowState};
use super::store::{Addressed, HostRes, Result, Store};

/// Pending rows younger than this may be puts in flight (10 minutes).
pub const DEFAULT_STALE_PENDING_MS: f64 = 600_000.0;

/// A row reconciliation would repair.
pub struct Orphan<T> {
    pub id: T,
    pub row: T,
    pub finding: Finding,
}

/// What reconcile did with one orphan.
pub enum Outcome<E> {
    Repaired,
    /// Listed, but no longer the same orphan when its turn came (a write raced it).
    Skipped,
    Failed(E),
}

impl<V, K, S, C> Store<V, K, S, C>
where
    V: Values,
    K: MetadataKv<V>,
    S: SecretVault<V>,
    C: Clock<V>,
{
    /// `options?.stalePendingMs ?? 10 minutes`; anything but a non-negative number is refused.
    fn stale_pending_ms(&self, options: &V::Val) -> Result<f64, V> {
        let given = self.v.get(options, Field::StalePendingMs).host()?;
        if self.v.is_nullish(&given) {
            return Ok(DEFAULT_STALE_PENDING_MS);
        }
        match self.v.as_number(&given) {
            Some(ms) if ms >= 0.0 => Ok(ms),
            _ => Err(StoreError::InvalidOption { name: "stalePendingMs" }),
        }
    }

    /// listOrphans(options?) → `[{ key, reason, orphanedAt, updatedAt }]`: never a value.
    pub async fn list_orphans_report(&self, options: &V::Val) -> Result<V::Val, V> {
        let stale = self.stale_pending_ms(options)?;
        let mut out = Vec::new();
        for orphan in self.list_orphans(stale).await? {
            out.push(self.orphan_info(&orphan, &[]).host()?);
        }
        Ok(self.v.array(out))
    }

    /// `{ key, reason, orphanedAt, updatedAt, ...extra }` of a finding.
    fn orphan_info(&self, orphan: &Orphan<V::Val>, extra: &[(Field, V::Val)]) -> HostRes<V::Val, V> {
        let v = &self.v;
        let a = self.readdress(&orphan.id);
        // A vault id of unnamed bytes is a version of its key's id: `<key>#<token>`.
        let key = self.scope.key_of_version(a.text(&self.v)).unwrap_or_default();
        let mut props = alloc::vec![
            (Field::Key, v.string(key)),
            (Field::Reason, v.string(orphan.finding.as_str())),
            (Field::OrphanedAt, v.get(&orphan.row, Field::OrphanedAt)?),
            (Field::UpdatedAt, v.get(&orphan.row, Field::UpdatedAt)?),
        ];
        props.extend_from_slice(extra);
        Ok(v.object(&refs(&props)))
    }

    /// reconcile(options?) → `{ dryRun, repaired, failed, skipped, invalid }`,
    /// each a list of orphan infos (`failed` ones carry the `error`;
    /// `invalid` lists entries outside the key grammar, never acted on). Only
    /// a failure to list rejects; every per-orphan failure is reported instead.
    pub async fn reconcile(&self, options: &V::Val) -> Result<V::Val, V> {
        let v = &self.v;
        let stale = self.stale_pending_ms(options)?;
        let dry_run = v.is_truthy(&v.get(options, Field::DryRun).host()?);
        let (mut repaired, mut failed, mut skipped, mut invalid) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for orphan in self.list_orphans(stale).await? {
            if orphan.finding == Finding::InvalidKey {
                invalid.push(self.orphan_info(&orphan, &[]).host()?);
                continue;
            }
            if dry_run {
                repaired.push(self.orphan_info(&orphan, &[]).host()?);
                continue;
            }
            match self.repair(&orphan, stale).await {
                Outcome::Repaired => repaired.push(self.orphan_info(&orphan, &[]).host()?),
                Outcome::Skipped => skipped.push(self.orphan_info(&orphan, &[]).host()?),
                Outcome::Failed(e) => {
                    failed.push(self.orphan_info(&orphan, &[(Field::Error, v.error_value(e))]).host()?)
                }
            }
        }
        Ok(v.object(&refs(&[
            (Field::DryRun, v.boolean(dry_run)),
            (Field::Repaired, v.array(repaired)),
            (Field::Failed, v.array(failed)),
            (Field::Skipped, v.array(skipped)),
            (Field::Invalid, v.array(invalid)),
        ])))
    }

    // ---- reconciliation (SPEC §6) --------------------------------------

    /// Every row of this scope that needs repair: orphan markers, pending
    /// rows older than `stale_pending_ms` (a put whose process died), and in
    /// strict mode rows still recording retired versions; and every entry
    /// whose id is not the prefix plus a key of the grammar (`InvalidKey`:
    /// its ids are never handed to the vault).
    ///
    /// Strict mode, when the vault has `listIds(prefix)`: also the bytes no
    /// row names (`UnnamedBytes`: a write whose answer was lost after its
    /// writer gave up, or bytes a process left dying between deleting them
    /// and forgetting them). The vault is listed before the rows are read:
    /// bytes that existed then and that no row named afterwards are named by
    /// nothing for good (a version is named before its bytes are written and
    /// never named again once forgotten).
    pub async fn list_orphans(&self, stale_pending_ms: f64) -> Result<Vec<Orphan<V::Val>>, V> {
        let stored = match self.strict {
            true => self.vault.list_ids(&self.prefix).await.transpose().host()?,
            false => None,
        };
        let mut found = Vec::new();
        let mut named: Vec<String> = Vec::new();
        for (id, row) in self.scoped_entries().await? {
            let a = self.readdress(&id);
            if !self.has_valid_key(&a) {
                found.push(Orphan { id, row, finding: Finding::InvalidKey });
                continue;
            }
            if stored.is_some() && self.v.is_truthy(&row) {
                named.extend(self.named_texts(&a, &row).host()?);
            }
            if let Some(finding) = self.finding(&id, &row, stale_pending_ms).host()? {
                found.push(Orphan { id, row, finding });
            }
        }
        for id in stored.map(|ids| self.v.array_items(&ids).unwrap_or_default()).unwrap_or_default() {
            let Some(text) = self.v.as_string(&id) else { continue };
            let key = self.scope.key_of_version(&text);
            if key.is_some_and(is_safe_segment) && !named.iter().any(|n| *n == text) {
                found.push(Orphan { id, row: self.v.undefined(), finding: Finding::UnnamedBytes });
            }
        }
        Ok(found)
    }

    /// What is wrong with a row, if anything. A pending row younger than the
    /// threshold, or of unknown age, may be a put in flight: never a finding.
    fn finding(&self, id: &V::Val, row: &V::Val, stale_pending_ms: f64) -> HostRes<Option<Finding>, V> {
        let v = &self.v;
        if v.row_state(row, false)? == RowState::Pending {
            if !v.is_undefined(&v.get(row, Field::OrphanedAt)?) {
                let reason = v.as_string(&v.get(row, Field::OrphanReason)?).and_then(|r| OrphanReason::parse(&r));
                return Ok(Some(reason.map_or(Finding::UnknownMarker, Finding::Marker)));
            }
            let updated = self.clock.date_ms(&v.get(row, Field::UpdatedAt)?)?;
            if self.clock.now_ms()? - updated >= stale_pending_ms {
                return Ok(Some(Finding::StalePending));
            }
        }
        // Strict rows, committed or being deleted (a strict delete turns the
        // row pending first): old versions recorded as still in the vault,
        // and versions being written for longer than the threshold (their
        // writer died or gave up).
        if self.strict {
            let a = self.readdress(id);
            if !self.retired_ids_of(&a, row)?.is_empty() {
                return Ok(Some(Finding::RetiredVersions));
            }
            if !self.stale_versions(&a, row, stale_pending_ms)?.is_empty() {
                return Ok(Some(Finding::StaleVersions));
            }
        }
        Ok(None)
    }

    /// Repairs one listed orphan in its write turn, if it is still the same
    /// orphan: vault bytes first, then the row, so a failure leaves the row
    /// in place and the orphan still discoverable. Every marker and stale
    /// pending row belongs to a put or delete that failed (its caller was
    /// told), so repair means finishing the removal.
    pub async fn repair(&self, orphan: &Orphan<V::Val>, stale_pending_ms: f64) -> Outcome<V::Err> {
        if orphan.finding == Finding::UnnamedBytes {
            // Named by nothing for good (see `list_orphans`).
            return match self.vault.delete_secret(&orphan.id).await {
                Ok(()) => Outcome::Repaired,
                Err(e) => Outcome::Failed(e),
            };
        }
        let a = self.readdress(&orphan.id);
        if !self.has_valid_key(&a) {
            return Outcome::Skipped;
        }
        let _turn = self.locks.lock(a.text(&self.v)).await;
        let row = match self.kv.get(&a.id).await {
            Ok(row) => row,
            Err(e) => return Outcome::Failed(e),
        };
        match self.finding(&a.id, &row, stale_pending_ms) {
            Ok(Some(f)) if f == orphan.finding => {}
            Ok(_) => return Outcome::Skipped,
            Err(e) => return Outcome::Failed(e),
        }
        let result = match orphan.finding {
            Finding::RetiredVersions | Finding::StaleVersions => self.retire_stale(&a, row, stale_pending_ms).await,
            _ if self.strict => match self.mark_deleting(&a, &row).await {
                Ok(Some(deleting)) => match self.delete_named_bytes(&a, &deleting).await {
                    Ok(()) => self.remove_if(&a, &deleting).await.map(|_| ()),
                    Err(e) => Err(e),
                },
                Ok(None) => return Outcome::Skipped,
                Err(StoreError::Host(e)) => Err(e),
                Err(_) => return Outcome::Skipped,
            },
            _ => match self.delete_orphan_bytes(&a, &row).await {
                Ok(()) => self.kv.delete(&a.id).await,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => Outcome::Repaired,
            Err(e) => Outcome::Failed(e),
        }
    }

    /// The bytes a marker or pending row may have left: its own vault id
    /// (versioned rows name theirs, in any mode) and retired versions.
    async fn delete_orphan_bytes(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<(), V> {
        let (vault_id, _) = self.named_vault_id(a, row)?;
        self.vault.delete_secret(&vault_id).await?;
        for retired in self.retired_ids_of(a, row)? {
            self.vault.delete_secret(&retired).await?;
        }
        Ok(())
    }
}
