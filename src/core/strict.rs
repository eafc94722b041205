//! Strict mode's writes (SPEC §6), correct across processes when the KV has
//! conditional writes.
//!
//! - **Intent first.** A version's vault id is named by the row before its
//!   bytes are written: as the `vaultId` of a new key's pending row, or in
//!   the row's `pendingVaultIds` (a version being written). A version leaves
//!   the row only after its bytes are gone (`retiredVaultIds` names the ones
//!   to delete), so no bytes are ever named by nothing, whichever host call
//!   fails, before or after taking effect, and wherever a process dies.
//! - **Every row write is conditional** on the row it was built from
//!   (`MetadataKv::put_if` / `delete_if`). A writer commits its version only
//!   from a row that still names it as pending; anyone may move a pending
//!   version to `retiredVaultIds` (reconcile does, once it is stale), after
//!   which its writer's commit cannot land. A lost race re-reads and tries
//!   again, at most [`ATTEMPTS`] times, then rejects with a conflict. No
//!   clock and no live process is needed for any of it: a paused writer's
//!   late commit fails, and its bytes stay named until someone deletes them.
//! - Without conditional writes the key's in-process write turn stands in
//!   for the condition: correct within one process, as before.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use super::error::{DeleteOp, HostResult, StoreError};
use super::host::{Clock, MetadataKv, SecretVault, Values};
use super::row::{self, BaseRow, Field, OrphanReason, RowState};
use super::store::{Addressed, HostRes, Result, Store};

/// The future of a step awaited from several places: boxed, so its code is
/// made once rather than inlined into each caller's state machine.
type Step<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// How many times a strict write re-reads and tries again after losing a race.
pub const ATTEMPTS: usize = 8;

/// What a row names, as vault ids of one key.
struct Named<T> {
    /// The version holding the row's value (`vaultId`, or the plain id).
    live: (T, String),
    /// Versions being written (`pendingVaultIds`).
    pending: Vec<T>,
    /// Versions to delete (`retiredVaultIds`, never the live one).
    retired: Vec<T>,
}

impl<V, K, S, C> Store<V, K, S, C>
where
    V: Values,
    K: MetadataKv<V>,
    S: SecretVault<V>,
    C: Clock<V>,
{
    /// A row write conditional on `expected`, the row as read (undefined:
    /// absent). `Ok(false)`: the row changed since.
    pub(super) fn write_if<'a>(
        &'a self,
        a: &'a Addressed<V::Val>,
        row: &'a V::Val,
        expected: &'a V::Val,
    ) -> Step<'a, HostRes<bool, V>> {
        Box::pin(async move {
            match self.kv.put_if(&a.id, row, expected).await {
                Some(written) => written,
                None => self.kv.put(&a.id, row).await.map(|()| true),
            }
        })
    }

    /// A row delete conditional on `expected`, the row as read.
    pub(super) fn remove_if<'a>(
        &'a self,
        a: &'a Addressed<V::Val>,
        expected: &'a V::Val,
    ) -> Step<'a, HostRes<bool, V>> {
        Box::pin(async move {
            match self.kv.delete_if(&a.id, expected).await {
                Some(removed) => removed,
                None => self.kv.delete(&a.id).await.map(|()| true),
            }
        })
    }

    /// Every vault id a row names (validated like `vaultId`).
    fn named(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<Named<V::Val>, V> {
        let live = self.named_vault_id(a, row)?;
        let pending = self.version_list(a, row, Field::PendingVaultIds, &live.1)?;
        let retired = self.retired_ids_of(a, row)?;
        Ok(Named { live, pending, retired })
    }

    /// The versions of this id a row lists under `field`, but `live`.
    pub(super) fn version_list(
        &self,
        a: &Addressed<V::Val>,
        row: &V::Val,
        field: Field,
        live: &str,
    ) -> HostRes<Vec<V::Val>, V> {
        let listed = self.v.get(row, field)?;
        let items = self.v.array_items(&listed).unwrap_or_default();
        let id_text = a.text(&self.v);
        Ok(items
            .into_iter()
            .filter(|t| self.v.as_string(t).is_some_and(|t| row::is_version_of(id_text, &t) && t != live))
            .collect())
    }

    /// `list` without `id`.
    fn without(&self, list: &[V::Val], id: &str) -> Vec<V::Val> {
        list.iter().filter(|t| self.v.as_string(t).as_deref() != Some(id)).cloned().collect()
    }

    fn contains(&self, list: &[V::Val], id: &str) -> bool {
        list.iter().any(|t| self.v.as_string(t).as_deref() == Some(id))
    }

    /// `{ ...row, pendingVaultIds, retiredVaultIds }` (an empty list is undefined).
    fn with_lists(&self, row: &V::Val, pending: &[V::Val], retired: &[V::Val]) -> HostRes<V::Val, V> {
        let list = |ids: &[V::Val]| if ids.is_empty() { self.v.undefined() } else { self.v.array(ids.to_vec()) };
        self.v.spread(row, &[(Field::PendingVaultIds, &list(pending)), (Field::RetiredVaultIds, &list(retired))])
    }

    /// A fresh version of `a`'s id: `<id>#<token>`.
    fn fresh_version(&self, a: &Addressed<V::Val>) -> (V::Val, String) {
        let mut version = a.text(&self.v).to_owned();
        version.push('#');
        version.push_str(&self.clock.version_token());
        (self.v.string(&version), version)
    }

    // ---- put -----------------------------------------------------------

    /// Strict put: a fresh version named by the row first, then its bytes,
    /// then the row's flip to it, then the old version's bytes go. Retried
    /// from the top, with a new version, when a concurrent write won.
    pub(super) async fn put_strict(
        &self,
        a: &Addressed<V::Val>,
        key: &V::Val,
        value: &V::Val,
        options: &V::Val,
    ) -> Result<(), V> {
        let _turn = self.locks.lock(a.text(&self.v)).await;
        for _ in 0..ATTEMPTS {
            let now = self.clock.now_iso().host()?;
            let existing = self.kv.get(&a.id).await.host()?;
            let mut base = self.base_row(key, &existing, options, now).host()?;
            let (version, text) = self.fresh_version(a);
            base.vault_id = Some(version.clone());
            let done = if self.v.is_undefined(&existing) {
                self.put_new_strict(a, value, &base, &version, &text).await?
            } else {
                self.put_update_strict(a, value, &base, &existing, &version, &text).await?
            };
            if done {
                return Ok(());
            }
        }
        Err(StoreError::Conflict { op: "put", key: self.key_text(a) })
    }

    /// A new key: the pending row names the version, the bytes, the commit.
    /// `Ok(false)`: a concurrent write won; nothing of ours is left named.
    async fn put_new_strict(
        &self,
        a: &Addressed<V::Val>,
        value: &V::Val,
        base: &BaseRow<V::Val>,
        version: &V::Val,
        text: &str,
    ) -> Result<bool, V> {
        let pending = self.row(base, &[(Field::Pending, self.v.boolean(true))]);
        if !self.write_if(a, &pending, &self.v.undefined()).await.host()? {
            return Ok(false);
        }
        if let Err(e) = self.vault.set_secret(version, value).await {
            // The write may have landed anyway (a lost answer): its bytes go
            // before the row that names them. If either fails, an orphan
            // marker over our pending row keeps naming them.
            if self.vault.delete_secret(version).await.is_ok() && self.remove_if(a, &pending).await.is_ok() {
                return Err(StoreError::Host(e));
            }
            self.mark_orphan(a, &pending, OrphanReason::VaultWriteFailed).await;
            return Err(StoreError::VaultWriteOrphaned { id: a.text(&self.v).to_owned(), cause: e });
        }
        let mut current = pending;
        for _ in 0..ATTEMPTS {
            // Another writer may have added its pending version meanwhile: kept.
            let committed = self.v.spread(&current, &[(Field::Pending, &self.v.boolean(false))]).host()?;
            match self.write_if(a, &committed, &current).await {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(c) => return self.commit_failed(a, &current, text, c).await,
            }
            current = match self.kv.get(&a.id).await {
                Ok(row) => row,
                Err(e) => {
                    // Not committed, and we cannot tell what the row names now.
                    let _ = self.vault.delete_secret(version).await;
                    return Err(StoreError::Host(e));
                }
            };
            // Still our pending row (not marked for deletion): commit from
            // it; else ours is retired.
            if !self.is_own_pending(a, &current, text).host()? {
                self.give_up(a, &current, version, text).await;
                return Ok(false);
            }
        }
        Err(StoreError::Conflict { op: "put", key: self.key_text(a) })
    }

    /// Whether `row` is a new key's pending row naming `text` that no
    /// deleter has marked (`deletingAt`): a row its writer may still commit.
    fn is_own_pending(&self, a: &Addressed<V::Val>, row: &V::Val, text: &str) -> HostRes<bool, V> {
        Ok(self.v.row_state(row, false)? == RowState::Pending
            && self.v.is_undefined(&self.v.get(row, Field::DeletingAt)?)
            && self.named(a, row)?.live.1 == text)
    }

    /// The commit of a new key failed: an orphan marker over our pending
    /// row; if that row had changed, the commit may have landed anyway (a
    /// lost answer): then the put succeeded.
    async fn commit_failed(&self, a: &Addressed<V::Val>, pending: &V::Val, text: &str, c: V::Err) -> Result<bool, V> {
        if !self.mark_orphan(a, pending, OrphanReason::MetadataCommitFailed).await {
            if let Ok(row) = self.kv.get(&a.id).await {
                let landed = self.v.row_state(&row, false).ok() == Some(RowState::Committed { expires: false })
                    && self.named(a, &row).ok().is_some_and(|n| n.live.1 == text);
                if landed {
                    return Ok(true);
                }
            }
        }
        Err(StoreError::CommitOrphaned { id: a.text(&self.v).to_owned(), cause: c })
    }

    /// `{ ...row, pending: true, orphanedAt, orphanReason }` over `row`, if
    /// it is still the row stored; whether it was written.
    async fn mark_orphan(&self, a: &Addressed<V::Val>, row: &V::Val, reason: OrphanReason) -> bool {
        let Ok(now) = self.clock.now_iso() else { return false };
        let Ok(marker) = self.v.spread(row, &refs3(&row::marker_props(&self.v, now, reason))) else { return false };
        self.write_if(a, &marker, row).await.unwrap_or(false)
    }

    /// An update: the row names the version as pending, the bytes, the flip
    /// (the old version moves to `retiredVaultIds`), then the retired
    /// versions' bytes go and the row forgets them. `Ok(false)`: ours was
    /// retired by someone else before its flip; nothing of ours is left named.
    async fn put_update_strict(
        &self,
        a: &Addressed<V::Val>,
        value: &V::Val,
        base: &BaseRow<V::Val>,
        existing: &V::Val,
        version: &V::Val,
        text: &str,
    ) -> Result<bool, V> {
        let named = self.named(a, existing).host()?;
        let mut pending = named.pending.clone();
        pending.push(version.clone());
        let intent = self.with_lists(existing, &pending, &named.retired).host()?;
        if !self.write_if(a, &intent, existing).await.host()? {
            return Ok(false);
        }
        if let Err(e) = self.vault.set_secret(version, value).await {
            self.abandon(a, intent, text).await;
            return Err(StoreError::Host(e));
        }
        // A delete that marks the row after our naming write has ended our
        // version (its bytes may be gone): we do not commit over its mark.
        let mark = self.v.get(existing, Field::DeletingAt).host()?;
        let mut current = intent;
        for _ in 0..ATTEMPTS {
            let now = self.named(a, &current).host()?;
            let mut retired = now.retired.clone();
            // The version the row held goes, unless it is ours (a lost answer).
            if now.live.1 != text && !self.contains(&retired, &now.live.1) {
                retired.push(now.live.0.clone());
            }
            let mut flipped = self.without(&now.pending, text);
            // A row a delete marked ended every version it named as pending
            // (their bytes may be gone): they are retired, never committed.
            if !self.v.is_undefined(&self.v.get(&current, Field::DeletingAt).host()?) {
                retired.extend(
                    flipped.drain(..).filter(|t| self.v.as_string(t).is_some_and(|t| !self.contains(&now.retired, &t))),
                );
            }
            let lists = |ids: &[V::Val]| if ids.is_empty() { self.v.undefined() } else { self.v.array(ids.to_vec()) };
            let committed =
                self.row(base, &[(Field::PendingVaultIds, lists(&flipped)), (Field::RetiredVaultIds, lists(&retired))]);
            match self.write_if(a, &committed, &current).await {
                Ok(true) => {
                    let _ = self.clear_retired(a, committed).await;
                    return Ok(true);
                }
                Ok(false) => {}
                Err(c) => {
                    // Landed anyway? Then done; else ours is abandoned.
                    if let Ok(row) = self.kv.get(&a.id).await {
                        if self.named(a, &row).ok().is_some_and(|n| n.live.1 == text) {
                            return Ok(true);
                        }
                        self.abandon(a, row, text).await;
                    }
                    return Err(StoreError::Host(c));
                }
            }
            current = match self.kv.get(&a.id).await {
                Ok(row) => row,
                Err(e) => {
                    // Not committed; the row may still name it as pending
                    // (bytes gone then: reconcile retires it once stale).
                    let _ = self.vault.delete_secret(version).await;
                    return Err(StoreError::Host(e));
                }
            };
            let marked = !self.v.strict_eq(&self.v.get(&current, Field::DeletingAt).host()?, &mark);
            if marked || !self.contains(&self.named(a, &current).host()?.pending, text) {
                self.give_up(a, &current, version, text).await;
                return Ok(false);
            }
        }
        self.abandon(a, current, text).await;
        Err(StoreError::Conflict { op: "put", key: self.key_text(a) })
    }

    /// Another writer retired our version before our commit (or the row is
    /// gone): unless it is live after all, its bytes go now. Whoever retired
    /// it may have deleted and forgotten it before our write landed; no one
    /// else can name it again, so deleting it is always safe. (A process
    /// that dies here leaves bytes no row names: reconcile finds them with
    /// the vault's `listIds`.)
    fn give_up<'a>(
        &'a self,
        a: &'a Addressed<V::Val>,
        current: &'a V::Val,
        version: &'a V::Val,
        text: &'a str,
    ) -> Step<'a, ()> {
        Box::pin(async move {
            let live = self.v.is_truthy(current) && self.named(a, current).is_ok_and(|n| n.live.1 == text);
            if !live {
                let _ = self.vault.delete_secret(version).await;
            }
        })
    }

    /// Our pending version will not be committed: move it to the retired
    /// list, delete its bytes, then forget it. Best effort: whatever fails
    /// leaves it named (pending or retired) for reconcile.
    fn abandon<'a>(&'a self, a: &'a Addressed<V::Val>, mut row: V::Val, text: &'a str) -> Step<'a, ()> {
        Box::pin(async move {
            for _ in 0..ATTEMPTS {
                let Ok(named) = self.named(a, &row) else { return };
                if !self.contains(&named.pending, text) {
                    return;
                }
                let mut retired = named.retired.clone();
                retired.push(self.v.string(text));
                let Ok(doomed) = self.with_lists(&row, &self.without(&named.pending, text), &retired) else { return };
                match self.write_if(a, &doomed, &row).await {
                    Ok(true) => {
                        let _ = self.clear_retired(a, doomed).await;
                        return;
                    }
                    Ok(false) => match self.kv.get(&a.id).await {
                        Ok(r) => row = r,
                        Err(_) => return,
                    },
                    Err(_) => return,
                }
            }
        })
    }

    /// Deletes the bytes of a row's retired versions, then writes the row
    /// without them, if it has not changed (`Ok(false)` if it has: the next
    /// writer carries the list on). A failure leaves them named, for reconcile.
    pub(super) fn clear_retired<'a>(&'a self, a: &'a Addressed<V::Val>, row: V::Val) -> Step<'a, HostRes<bool, V>> {
        Box::pin(async move {
            let named = self.named(a, &row)?;
            if named.retired.is_empty() {
                return Ok(true);
            }
            for id in &named.retired {
                self.vault.delete_secret(id).await?;
            }
            let cleared = self.with_lists(&row, &named.pending, &[])?;
            self.write_if(a, &cleared, &row).await
        })
    }

    /// The text of every vault id a row names, its plain id included when
    /// it names no version (a row of the compatible mode).
    pub(super) fn named_texts(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<Vec<String>, V> {
        let named = self.named(a, row)?;
        let mut out = alloc::vec![named.live.1];
        out.extend(named.pending.iter().chain(&named.retired).filter_map(|t| self.v.as_string(t)));
        Ok(out)
    }

    /// A row's pending versions written for `stale_ms` or longer, by the time
    /// in their token (`<base36 ms>-…`); a token without one is never stale.
    pub(super) fn stale_versions(&self, a: &Addressed<V::Val>, row: &V::Val, stale_ms: f64) -> HostRes<Vec<V::Val>, V> {
        let named = self.named(a, row)?;
        let now = self.clock.now_ms()?;
        Ok(named
            .pending
            .into_iter()
            .filter(|t| self.v.as_string(t).and_then(|t| token_ms(&t)).is_some_and(|at| now - at >= stale_ms))
            .collect())
    }

    /// Retires a row's stale pending versions (their writers can no longer
    /// commit them), then deletes the bytes of every retired version and
    /// forgets them.
    pub(super) async fn retire_stale(&self, a: &Addressed<V::Val>, row: V::Val, stale_ms: f64) -> HostRes<(), V> {
        let stale = self.stale_versions(a, &row, stale_ms)?;
        if stale.is_empty() {
            return self.clear_retired(a, row).await.map(|_| ());
        }
        let named = self.named(a, &row)?;
        let mut pending = named.pending;
        let mut retired = named.retired;
        for t in stale.iter().filter_map(|t| self.v.as_string(t)) {
            pending = self.without(&pending, &t);
            retired.push(self.v.string(&t));
        }
        let doomed = self.with_lists(&row, &pending, &retired)?;
        if self.write_if(a, &doomed, &row).await? {
            self.clear_retired(a, doomed).await?;
        }
        Ok(())
    }

    // ---- delete --------------------------------------------------------

    /// Strict delete of the row `deletes` accepts. First the row is marked:
    /// pending, `deletingAt` now (and, for a committed row, `updatedAt` now),
    /// so no writer whose version the row names can commit it any more; then every version it names goes; then the row, if it is still
    /// the one we wrote (else a later write won, and is the key's state).
    /// A row already pending keeps its `updatedAt`, so a stale one stays
    /// stale for reconcile. `Ok(false)` when there is no such row.
    pub(super) async fn delete_strict(
        &self,
        a: &Addressed<V::Val>,
        deletes: impl Fn(&V::Val) -> Result<bool, V>,
        op: DeleteOp,
    ) -> Result<bool, V> {
        let _turn = self.locks.lock(a.text(&self.v)).await;
        for _ in 0..ATTEMPTS {
            let row = self.kv.get(&a.id).await.host()?;
            if !deletes(&row)? {
                return Ok(false);
            }
            let Some(deleting) = self.mark_deleting(a, &row).await? else { continue };
            if let Err(e) = self.delete_named_bytes(a, &deleting).await {
                // The marker spreads the marked row: it keeps the mark, so
                // no version it names commits over it.
                return Err(self.vault_delete_failed(a, &deleting, op, e, &deleting).await);
            }
            self.remove_if(a, &deleting).await.host()?;
            return Ok(true);
        }
        Err(StoreError::Conflict { op: op.as_str(), key: self.key_text(a) })
    }

    /// Writes the deletion mark over `row` (see `delete_strict`); `None`
    /// when the row changed since it was read.
    pub(super) async fn mark_deleting(&self, a: &Addressed<V::Val>, row: &V::Val) -> Result<Option<V::Val>, V> {
        let now = self.clock.now_iso().host()?;
        let committed = self.v.row_state(row, false).host()? != RowState::Pending;
        let t = self.v.boolean(true);
        let mut props = alloc::vec![(Field::Pending, &t), (Field::DeletingAt, &now)];
        if committed {
            props.push((Field::UpdatedAt, &now));
        }
        let deleting = self.v.spread(row, &props).host()?;
        Ok(self.write_if(a, &deleting, row).await.host()?.then_some(deleting))
    }

    /// Deletes every version a row names: live, pending and retired. The
    /// first failure is returned (the rest are still tried).
    pub(super) async fn delete_named_bytes(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<(), V> {
        let named = self.named(a, row)?;
        let mut first_error = self.vault.delete_secret(&named.live.0).await.err();
        for id in named.pending.iter().chain(&named.retired) {
            if let Err(e) = self.vault.delete_secret(id).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The key of `a`'s id, as text (for messages).
    pub(super) fn key_text(&self, a: &Addressed<V::Val>) -> String {
        self.scope.key_of(a.text(&self.v)).unwrap_or(a.text(&self.v)).to_owned()
    }
}

/// The time (ms since the epoch) a version token starts with: `<base36>-…`.
fn token_ms(version: &str) -> Option<f64> {
    let token = &version.as_bytes()[version.bytes().rposition(|b| b == b'#')? + 1..];
    let time = &token[..token.iter().position(|&b| b == b'-')?];
    let mut ms = 0f64;
    for &b in time {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'z' => b - b'a' + 10,
            _ => return None,
        };
        ms = ms * 36.0 + f64::from(digit);
    }
    (!time.is_empty()).then_some(ms)
}

/// `(field, &value)` pairs of a fixed array of owned ones.
fn refs3<T>(props: &[(Field, T); 3]) -> [(Field, &T); 3] {
    [(props[0].0, &props[0].1), (props[1].0, &props[1].1), (props[2].0, &props[2].1)]
}
