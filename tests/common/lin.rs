//! Linearizability per key, for strict mode.
//!
//! After a concurrent batch, each id is checked on its own: the batch's
//! operations that concern it (put/get/has/delete of it; keys, listMetadata,
//! listOrphans, deleteAll and reconcile of its scope; clock advances) must
//! be explained by some sequential order of those operations, consistent
//! with real time (an operation that finished before another was first
//! polled comes first), run from the id's state before the batch on a model
//! of the protocol: every result must be what the model answers at that
//! point, and the model must end in the id's actual final state (the row,
//! compared field by field, and every vault entry of the id or its versions).
//!
//! The model is strict mode as documented, not the code: one atomic step per
//! operation, except where the documentation names two instants:
//! - get/has that meet an expired row answer at their read, and their
//!   cleanup re-judges the row later, in its turn (a second event of the
//!   same operation);
//! - deleteAll and reconcile list the scope at one instant and then act on
//!   each listed id in its turn; per id that is one atomic step (an id that
//!   was not listed had no row, or no finding, at the listing instant);
//! - a strict update over a marker or pending row flips the row to its new
//!   version with the old one named in `retiredVaultIds` (a finding a
//!   listing may see), and later, in the same turn, retires it: the old
//!   bytes go and the row is rewritten without the record (a second event).
//!
//! Failures are not excused: each failed operation must have the effect the
//! protocol documents for its error, and the host calls that failed (facts
//! of the run, as injected) decide which bytes stay and whether a marker was
//! written, exactly as they did in the run:
//! - a raw host error (`Host`) has no effect (strict puts roll back);
//! - `VaultWriteOrphaned`: no row before; a marker (or the pending row, if
//!   the marker write failed too) and no bytes;
//! - `CommitOrphaned`: no row before; the bytes under the put's version and
//!   a marker (or the pending row);
//! - `UpdateOrphaned`: a row before, unchanged; the new version's bytes stay;
//! - `RetiredOrphaned`: the update took effect, the old version's bytes
//!   stay unrecorded;
//! - strict deletes (delete, deleteAll per id, an expired read's cleanup)
//!   go pending-first: a failed pending write changes nothing (raw error);
//!   then the bytes the row names go (those whose delete failed stay), then
//!   the row; after a vault failure the row is a `vault-delete-failed`
//!   marker of the original row (`VaultDeleteOrphaned`, `marker_persisted`)
//!   or, if that write failed too, stays pending; if the final row delete
//!   failed (raw error) the row stays pending, its bytes gone;
//! - a successful update over a committed row whose old-version delete
//!   failed records it in `retiredVaultIds`; over a marker or pending row
//!   the flip records it and the retire (above) clears it, or leaves the
//!   record if the delete or the rewrite failed; an expired read's cleanup
//!   swallows its failures with the same effects as a delete's; reconcile's
//!   failed repairs stop at the failed call (bytes first, then the row).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use server_credential_store_wasm::core::StoreError;

use super::fake::{iso, Js, T0};
use super::model::*;

/// One id's share of the host: its row and the vault entries of the id and its versions.
#[derive(Clone)]
struct KeyState {
    row: Js,
    vault: BTreeMap<String, Js>,
}

/// What is compared of a row: how a reader sees it and every field the
/// protocol writes, except the clock readings `updatedAt` and `orphanedAt`.
fn row_sig(row: &Js) -> String {
    if !row.truthy() {
        return "none".into();
    }
    let status = if !matches!(row.prop("pending"), Js::Bool(true)) {
        "committed".to_string()
    } else if matches!(row.prop("orphanedAt"), Js::Undefined) {
        "pending".to_string()
    } else {
        format!("marker {:?}", row.prop("orphanReason"))
    };
    let list = |name: &str| match row.prop(name) {
        Js::Undefined => Js::Arr(Default::default()),
        r => r,
    };
    let (retired, pending) = (list("retiredVaultIds"), list("pendingVaultIds"));
    format!(
        "{status} vaultId={:?} retired={retired:?} pending={pending:?} label={:?} provider={:?} expiresAt={:?} createdAt={:?}",
        row.prop("vaultId"),
        row.prop("label"),
        row.prop("provider"),
        row.prop("expiresAt"),
        row.prop("createdAt"),
    )
}

fn state_sig(st: &KeyState) -> String {
    let vault: Vec<String> = st.vault.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("row: {}; vault: [{}]", row_sig(&st.row), vault.join(", "))
}

fn same_state(a: &KeyState, b: &KeyState) -> bool {
    state_sig(a) == state_sig(b)
}

fn state_of(rows: &[(String, Js)], secrets: &BTreeMap<String, Js>, id: &str) -> KeyState {
    KeyState {
        row: rows.iter().find(|(k, _)| k == id).map(|(_, r)| r.clone()).unwrap_or(Js::Undefined),
        vault: secrets.iter().filter(|(k, _)| base_of(k) == id).map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}

/// A version list as a row holds it: undefined when empty.
fn list_js(ids: &[String]) -> Js {
    if ids.is_empty() {
        Js::Undefined
    } else {
        Js::Arr(std::rc::Rc::new(ids.iter().map(|i| Js::s(i)).collect()))
    }
}

/// Strict mode's deletion mark over `row`, the clock readings taken from
/// the write `mark` the run made.
fn deleting_mark(row: &Js, mark: &Effect) -> Js {
    let arg = |name: &str| mark.c.call.arg.as_ref().map_or(Js::Undefined, |r| r.prop(name));
    let mut props = vec![("pending", Js::Bool(true)), ("deletingAt", arg("deletingAt"))];
    if is_committed(row) {
        props.push(("updatedAt", arg("updatedAt")));
    }
    spread(row, &props)
}

fn spread(row: &Js, extra: &[(&str, Js)]) -> Js {
    let o = Js::obj(&[]);
    for k in row.keys() {
        super::fake::set(&o, &k, row.prop(&k));
    }
    for (k, v) in extra {
        super::fake::set(&o, k, v.clone());
    }
    o
}

fn marker_props(now: f64, reason: &str) -> Vec<(&'static str, Js)> {
    vec![("pending", Js::Bool(true)), ("orphanedAt", Js::s(&iso(now))), ("orphanReason", Js::s(reason))]
}

/// An operation of the batch, projected on one id.
struct Event {
    g: usize,
    first: u64,
    done: u64,
}

/// How a strict pending-first delete of one id went.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deleted {
    /// The pending write failed: nothing changed.
    Unchanged,
    /// Row and bytes gone.
    Removed,
    /// A vault delete failed: a marker of the row (or the pending row) stays.
    VaultFailed { marker: bool },
    /// The bytes went, the row delete failed: the row stays pending.
    RowDeleteFailed,
}

/// One explained step: the state after it, the clock, and whether the
/// operation left a second event (an expired read's cleanup) to place.
type Step = (KeyState, f64, bool);

struct Model<'a> {
    run: &'a Run,
    strict: bool,
    scope: usize,
    key: &'static str,
    id: String,
    /// Accept a scope listing that missed this id because it ran inside a
    /// two-write transition (see [`Model::saw_a_transition`]): used only to
    /// classify a failure, never to pass one.
    relaxed: bool,
}

impl Model<'_> {
    // ---- facts of the run: the calls an operation made and which failed ----

    fn calls(&self, g: usize) -> impl Iterator<Item = &Effect> {
        self.run.effects.iter().filter(move |e| e.op == g)
    }
    fn failed(&self, g: usize, target: &str, method: &str, id: &str) -> bool {
        self.calls(g).any(|e| e.is(target, method, id) && !e.ok())
    }
    fn succeeded(&self, g: usize, target: &str, method: &str, id: &str) -> bool {
        self.calls(g).any(|e| e.is(target, method, id) && e.ok())
    }
    fn called(&self, g: usize, target: &str, method: &str, id: &str) -> bool {
        self.calls(g).any(|e| e.is(target, method, id))
    }
    /// Vault ids whose `deleteSecret` by op `g` failed.
    fn failed_vault_deletes(&self, g: usize) -> Vec<String> {
        self.calls(g)
            .filter(|e| e.c.call.target == "vault" && e.c.call.method == "deleteSecret" && !e.ok())
            .filter_map(|e| e.c.call.id.clone())
            .collect()
    }
    /// Whether op `g` tried to write a marker on this id and failed.
    fn marker_write_failed(&self, g: usize) -> bool {
        self.calls(g).any(|e| {
            e.is("metadata", "put", &self.id)
                && !e.ok()
                && e.c.call.arg.as_ref().is_some_and(|r| !matches!(r.prop("orphanedAt"), Js::Undefined))
        })
    }
    /// The vault id put `g` wrote (or tried to): its version, or in the
    /// compatible mode the plain id.
    fn vault_id_of_put(&self, g: usize) -> Option<String> {
        self.calls(g)
            .find(|e| e.c.call.target == "vault" && e.c.call.method == "setSecret")
            .and_then(|e| e.c.call.id.clone())
            .or_else(|| {
                self.calls(g)
                    .find(|e| e.c.call.target == "metadata" && e.c.call.method == "put")
                    .and_then(|e| e.c.call.arg.as_ref().and_then(|r| r.prop("vaultId").str().map(str::to_owned)))
            })
    }
    /// Whether op `g`'s scope listing (`getAll`/`getByPrefix`) took effect
    /// inside another op's two-write transition of this id, and which:
    /// - [`LISTING_SAW_A_FAILING_DELETE`]: commitDelete had deleted the row
    ///   and not yet written the `vault-delete-failed` marker that replaced
    ///   it (S1: strict mode before its delete turned pending-first; the
    ///   compatible mode's commitDelete still does this);
    /// - [`LISTING_SAW_AN_UNRECORDED_RETIRE`]: a strict update had flipped
    ///   the row and not yet rewritten it to record the old version whose
    ///   delete failed (S2: closed, an update over an orphan names it in
    ///   the flip);
    /// - [`LISTING_SAW_A_PENDING_DELETE`]: a strict delete had turned the
    ///   row pending and not yet written the `vault-delete-failed` marker
    ///   (S3, still open).
    ///
    /// The listing saw a state that no sequential order contains.
    fn saw_a_transition(&self, g: usize) -> Option<&'static str> {
        let effects = &self.run.effects;
        let at = effects.iter().position(|e| {
            e.op == g && e.c.call.target == "metadata" && matches!(e.c.call.method, "getAll" | "getByPrefix") && e.ok()
        })?;
        let writes = |e: &&Effect| {
            e.c.call.target == "metadata"
                && e.c.call.id.as_deref() == Some(self.id.as_str())
                && matches!(e.c.call.method, "put" | "delete")
                && e.ok()
        };
        let first = effects[..at].iter().rev().find(writes)?;
        let second = effects[at + 1..].iter().find(writes)?;
        if first.op != second.op || first.op == g || second.c.call.method != "put" {
            return None;
        }
        let row = second.c.call.arg.clone().unwrap_or(Js::Undefined);
        let recorded = |r: &Js| retired_of(&self.id, r).len();
        let deleting =
            matches!(self.run.ops[first.op].op.action, Action::Delete | Action::DeleteAll | Action::Get | Action::Has);
        let first_row = first.c.call.arg.clone().unwrap_or(Js::Undefined);
        if self.strict
            && deleting
            && first.c.call.method == "put"
            && matches!(first_row.prop("pending"), Js::Bool(true))
            && matches!(first_row.prop("orphanedAt"), Js::Undefined)
            && row.prop("orphanReason").str() == Some("vault-delete-failed")
        {
            return Some(LISTING_SAW_A_PENDING_DELETE);
        }
        if first.c.call.method == "delete" && row.prop("orphanReason").str() == Some("vault-delete-failed") {
            return Some(LISTING_SAW_A_FAILING_DELETE);
        }
        let flip = first.c.call.arg.clone().unwrap_or(Js::Undefined);
        let is_put = matches!(self.run.ops[first.op].op.action, Action::Put(_));
        if first.c.call.method == "put" && is_put && is_committed(&flip) && recorded(&row) > recorded(&flip) {
            return Some(LISTING_SAW_AN_UNRECORDED_RETIRE);
        }
        None
    }

    /// In the relaxed model only: op `g`'s listing missed this id inside a
    /// two-write transition ([`Model::saw_a_transition`]).
    fn missed(&self, g: usize) -> bool {
        self.relaxed && self.saw_a_transition(g).is_some()
    }

    /// The fault whose injected value is `err`.
    fn fault_of(&self, err: &Js) -> Option<&Fired> {
        self.run.fired.iter().find(|f| f.error.same(err))
    }

    // ---- the protocol, one operation at a time ----

    /// The clock reading put `g` made at its start (the `updatedAt` of the
    /// rows it wrote): it reads the clock once, in its turn but before it
    /// takes effect, so a clock advance may fall in between.
    fn clock_of_put(&self, g: usize) -> Option<Js> {
        self.calls(g)
            .find(|e| e.c.call.target == "metadata" && e.c.call.method == "put")
            .and_then(|e| e.c.call.arg.as_ref().map(|r| r.prop("updatedAt")))
    }

    /// The row put `g` writes (SPEC §4 put step 3, plus strict mode's `vaultId`).
    fn put_row(&self, g: usize, p: &PutArgs, existing: &Js, now: f64, vault_id: &str, extra: &[(&str, Js)]) -> Js {
        let now_iso = self.clock_of_put(g).unwrap_or_else(|| Js::s(&iso(now)));
        let or_existing = |given: &Option<String>, name: &str| match given {
            Some(v) => Js::s(v),
            None => existing.prop(name),
        };
        let created = match existing.prop("createdAt") {
            Js::Undefined | Js::Null => now_iso.clone(),
            c => c,
        };
        let expires = match p.expires_at {
            Some(ms) => Js::s(&iso(T0 + ms as f64)),
            None => existing.prop("expiresAt"),
        };
        let (user, project) = SCOPES[self.scope];
        let mut props = vec![
            ("userId", Js::s(user)),
            ("projectId", Js::s(project)),
            ("key", Js::s(self.key)),
            ("label", or_existing(&p.label, "label")),
            ("provider", or_existing(&p.provider, "provider")),
            ("createdAt", created),
            ("updatedAt", now_iso),
            ("expiresAt", expires),
        ];
        if self.strict {
            props.push(("vaultId", Js::s(vault_id)));
        }
        props.extend(extra.iter().cloned());
        Js::obj(&props)
    }

    /// commitDelete of `row` by op `g`: the row goes, then the bytes it
    /// names; those whose delete failed stay, and the row becomes a marker
    /// if one was written (`marker`). `None` if a delete failed but the
    /// caller says none did (`must_succeed`), or none failed but one must have.
    fn commit_delete(
        &self,
        g: usize,
        st: &KeyState,
        now: f64,
        marker: bool,
        failure: Option<bool>,
    ) -> Option<KeyState> {
        let failed = self.failed_vault_deletes(g);
        let mut vault = st.vault.clone();
        let mut kept = false;
        for n in named_bytes(self.strict, &self.id, &st.row) {
            if failed.contains(&n) {
                kept = true;
            } else {
                vault.remove(&n);
            }
        }
        if failure.is_some_and(|f| f != kept) {
            return None;
        }
        let row =
            if kept && marker { spread(&st.row, &marker_props(now, "vault-delete-failed")) } else { Js::Undefined };
        Some(KeyState { row, vault })
    }

    /// Strict mode's pending-first commitDelete of `st.row` by op `g`, as
    /// the op's calls on this id went: the row turns pending (`updatedAt`
    /// the op's clock reading; if that write failed nothing changed), then
    /// the bytes the row names go (those whose delete failed stay), then
    /// the row goes; after a vault failure the row becomes a
    /// `vault-delete-failed` marker of the original row if that write
    /// succeeded, else stays pending; if the final row delete failed the
    /// row stays pending, its bytes gone. `None` if the op's calls do not
    /// fit `st` (it deleted bytes the row does not name, or wrote nothing).
    fn strict_delete(&self, g: usize, st: &KeyState, now: f64) -> Option<(KeyState, Deleted)> {
        let writes: Vec<&Effect> = self.calls(g).filter(|e| e.is("metadata", "put", &self.id)).collect();
        if !st.row.truthy() {
            return None;
        }
        // The row is marked first (a failed write changes nothing): pending,
        // its pending versions retired, `updatedAt` now for a committed row
        // (a row already pending keeps it, so a stale one stays stale).
        let first = writes.first()?;
        if !first.ok() {
            return Some((st.clone(), Deleted::Unchanged));
        }
        let (pending, marker_write) = (deleting_mark(&st.row, first), writes.get(1));
        let named = named_bytes(true, &self.id, &st.row);
        let deleted: Vec<&Effect> = self
            .calls(g)
            .filter(|e| e.c.call.target == "vault" && e.c.call.method == "deleteSecret")
            .filter(|e| e.c.call.id.as_deref().is_some_and(|v| base_of(v) == self.id))
            .collect();
        if deleted.iter().any(|e| !named.iter().any(|n| e.c.call.id.as_deref() == Some(n.as_str()))) {
            return None;
        }
        let mut vault = st.vault.clone();
        let mut kept = false;
        for n in &named {
            if deleted.iter().any(|e| e.c.call.id.as_deref() == Some(n.as_str()) && !e.ok()) {
                kept = true;
            } else {
                vault.remove(n);
            }
        }
        if kept {
            let marker = marker_write.is_some_and(|e| e.ok());
            let row = if marker { spread(&pending, &marker_props(now, "vault-delete-failed")) } else { pending };
            return Some((KeyState { row, vault }, Deleted::VaultFailed { marker }));
        }
        if self.succeeded(g, "metadata", "delete", &self.id) {
            Some((KeyState { row: Js::Undefined, vault }, Deleted::Removed))
        } else {
            Some((KeyState { row: pending, vault }, Deleted::RowDeleteFailed))
        }
    }

    /// The second instant of a strict update: its flip named the old
    /// version in `retiredVaultIds`; then the bytes of every retired version
    /// go, in order, stopping at the first failure (the record stays), and
    /// once all are gone the row is rewritten without the record (if that
    /// write failed the record stays, for reconcile).
    fn finish_retire(&self, g: usize, st: &KeyState) -> Vec<KeyState> {
        let Some(vid) = self.vault_id_of_put(g) else { return vec![] };
        if st.row.prop("vaultId").str() != Some(vid.as_str()) || !is_committed(&st.row) {
            return vec![];
        }
        self.clear_retired(g, st, None).into_iter().collect()
    }

    /// `clear_retired` of the store over `st.row` by op `g`, as its calls
    /// went (the deletes of the retired versions after the write `after`,
    /// then the rewrite). `None` if the calls do not fit.
    fn clear_retired(&self, g: usize, st: &KeyState, after: Option<usize>) -> Option<KeyState> {
        let retired = retired_of(&self.id, &st.row);
        let calls: Vec<&Effect> = self.calls(g).filter(|e| after.is_none_or(|i| e.c.call.index > i)).collect();
        let mut vault = st.vault.clone();
        for r in &retired {
            let del = calls.iter().find(|e| e.is("vault", "deleteSecret", r))?;
            if !del.ok() {
                return Some(KeyState { row: st.row.clone(), vault });
            }
            vault.remove(r);
        }
        let rewrite = calls.iter().rev().find(|e| {
            e.is("metadata", "put", &self.id)
                && e.c.call.arg.as_ref().is_some_and(|r| matches!(r.prop("retiredVaultIds"), Js::Undefined))
        });
        let row = if retired.is_empty() || !rewrite.is_some_and(|e| e.ok()) {
            st.row.clone()
        } else {
            spread(&st.row, &[("retiredVaultIds", Js::Undefined)])
        };
        Some(KeyState { row, vault })
    }

    /// A strict update that failed (a raw error): what its calls left. The
    /// row names the new version (`pendingVaultIds`) once that write
    /// succeeded; after the failure the version is abandoned: moved to
    /// `retiredVaultIds` (if that write failed, it stays pending), its bytes
    /// deleted, the record cleared, each as far as its calls went.
    fn abandoned_update(&self, g: usize, st: &KeyState, vid: &str) -> Vec<Step> {
        let existing = &st.row;
        let puts: Vec<&Effect> = self.calls(g).filter(|e| e.is("metadata", "put", &self.id)).collect();
        let Some(intent) = puts.first() else { return vec![(st.clone(), 0.0, false)] };
        if !intent.ok() {
            return vec![(st.clone(), 0.0, false)];
        }
        let mut pending = pending_of(&self.id, existing);
        pending.push(vid.to_owned());
        let retired = retired_of(&self.id, existing);
        let named = spread(existing, &[("pendingVaultIds", list_js(&pending)), ("retiredVaultIds", list_js(&retired))]);
        let mut vault = st.vault.clone();
        if self.succeeded(g, "vault", "setSecret", vid) {
            vault.insert(vid.to_owned(), Js::s(&self.secret_of(g)));
        }
        if !self.doom_of(g, vid).is_some_and(|e| e.ok()) {
            return vec![(KeyState { row: named, vault }, 0.0, false)];
        }
        // The abandoned version retired: a finding a listing may see until
        // the second instant clears it (`finish_put`).
        pending.pop();
        let mut doomed_retired = retired;
        doomed_retired.push(vid.to_owned());
        let doomed =
            spread(existing, &[("pendingVaultIds", list_js(&pending)), ("retiredVaultIds", list_js(&doomed_retired))]);
        vec![(KeyState { row: doomed, vault }, 0.0, true)]
    }

    /// The write of op `g` that moved its version `vid` to `retiredVaultIds`.
    fn doom_of(&self, g: usize, vid: &str) -> Option<&Effect> {
        self.calls(g).find(|e| {
            e.is("metadata", "put", &self.id)
                && e.c.call.arg.as_ref().is_some_and(|r| {
                    retired_of(&self.id, r).iter().any(|x| x == vid) && r.prop("vaultId").str() != Some(vid)
                })
        })
    }

    /// The second instant of a strict put: after a flip, the retired
    /// versions go (`finish_retire`); after an abandon, its version and the
    /// other retired ones go, then the record (`clear_retired`).
    fn finish_put(&self, g: usize, st: &KeyState) -> Vec<KeyState> {
        let Some(vid) = self.vault_id_of_put(g) else { return vec![] };
        if st.row.prop("vaultId").str() == Some(vid.as_str()) {
            return self.finish_retire(g, st);
        }
        let Some(doom) = self.doom_of(g, &vid) else { return vec![] };
        self.clear_retired(g, st, Some(doom.c.call.index)).into_iter().collect()
    }

    fn secret_of(&self, g: usize) -> String {
        match &self.run.ops[g].op.action {
            Action::Put(p) => p.secret.clone(),
            _ => String::new(),
        }
    }

    fn put(&self, g: usize, p: &PutArgs, st: &KeyState, now: f64) -> Vec<Step> {
        let existing = &st.row;
        let Res::Put(res) = &self.run.ops[g].res else { return vec![] };
        let unchanged = vec![(st.clone(), now, false)];
        let Some(vid) = self.vault_id_of_put(g) else {
            // No vault id: it failed before writing anything.
            return if matches!(res, Err(StoreError::Host(_))) { unchanged } else { vec![] };
        };
        let secret = Js::s(&p.secret);
        let mut vault = st.vault.clone();
        let new_entry = |reason: &str, vault: BTreeMap<String, Js>| -> Vec<Step> {
            if existing.truthy() {
                return vec![];
            }
            let row = if self.marker_write_failed(g) {
                self.put_row(g, p, &Js::Undefined, now, &vid, &[("pending", Js::Bool(true))])
            } else {
                self.put_row(g, p, &Js::Undefined, now, &vid, &marker_props(now, reason))
            };
            vec![(KeyState { row, vault }, now, false)]
        };
        match res {
            Ok(()) if !existing.truthy() => {
                vault.insert(vid.clone(), secret);
                let row = self.put_row(g, p, existing, now, &vid, &[("pending", Js::Bool(false))]);
                vec![(KeyState { row, vault }, now, false)]
            }
            Ok(()) if self.strict => {
                // The flip: the new version live, the old one retired; the
                // second instant deletes the retired bytes (finish_retire).
                let mut retired = retired_of(&self.id, existing);
                let old = vault_of(true, &self.id, existing);
                if !retired.contains(&old) {
                    retired.push(old);
                }
                let mut pending = pending_of(&self.id, existing);
                // Over a row a delete marked, its pending versions are retired.
                if !matches!(existing.prop("deletingAt"), Js::Undefined) {
                    retired.extend(pending.drain(..).filter(|p| !retired_of(&self.id, existing).contains(p)));
                }
                vault.insert(vid.clone(), secret);
                let row = self.put_row(
                    g,
                    p,
                    existing,
                    now,
                    &vid,
                    &[("pendingVaultIds", list_js(&pending)), ("retiredVaultIds", list_js(&retired))],
                );
                vec![(KeyState { row, vault }, now, true)]
            }
            Err(StoreError::Host(_)) if self.strict && existing.truthy() => {
                self.abandoned_update(g, st, &vid).into_iter().map(|(s, _, more)| (s, now, more)).collect()
            }
            Ok(()) => {
                vault.insert(self.id.clone(), secret);
                let row = self.put_row(g, p, existing, now, &vid, &[]);
                vec![(KeyState { row, vault }, now, false)]
            }
            Err(StoreError::Host(_)) => unchanged,
            Err(StoreError::VaultWriteOrphaned { .. }) => new_entry("vault-write-failed", vault),
            Err(StoreError::CommitOrphaned { .. }) => {
                vault.insert(vid.clone(), secret);
                new_entry("metadata-commit-failed", vault)
            }
            _ => vec![],
        }
    }

    /// get/has at their read: the answer, and a cleanup to place later if
    /// the row was committed and expired.
    fn read(&self, g: usize, st: &KeyState, now: f64) -> Vec<Step> {
        let row = &st.row;
        let live = is_committed(row) && !is_expired(row, now);
        let expired = is_committed(row) && is_expired(row, now);
        let ok = match &self.run.ops[g].res {
            Res::Get(Err(_)) | Res::Has(Err(_)) => return vec![(st.clone(), now, false)],
            Res::Get(Ok(v)) => {
                let want = if live {
                    st.vault.get(&vault_of(self.strict, &self.id, row)).cloned().unwrap_or(Js::Undefined)
                } else {
                    Js::Undefined
                };
                v.same(&want)
            }
            Res::Has(Ok(h)) => *h == live,
            _ => false,
        };
        if ok {
            vec![(st.clone(), now, expired)]
        } else {
            vec![]
        }
    }

    /// The expiry cleanup of a get/has: in its turn, re-judge the row and
    /// delete it only if it is still committed and expired; failures are
    /// swallowed (a failed re-read or row delete changes nothing).
    fn cleanup(&self, g: usize, st: &KeyState, now: f64) -> Vec<KeyState> {
        if self.strict {
            let expired = is_committed(&st.row) && is_expired(&st.row, now);
            let wrote = self.called(g, "metadata", "put", &self.id);
            return match (expired, wrote) {
                (false, false) => vec![st.clone()],
                (true, true) => self.strict_delete(g, st, now).map(|(s, _)| s).into_iter().collect(),
                // The re-read failed (nothing done), or it did not see
                // what the model has here.
                (true, false) if self.failed(g, "metadata", "get", &self.id) => vec![st.clone()],
                _ => vec![],
            };
        }
        if !(is_committed(&st.row) && is_expired(&st.row, now))
            || self.failed(g, "metadata", "get", &self.id)
            || self.failed(g, "metadata", "delete", &self.id)
        {
            return vec![st.clone()];
        }
        self.commit_delete(g, st, now, !self.marker_write_failed(g), None).into_iter().collect()
    }

    fn delete(&self, g: usize, st: &KeyState, now: f64) -> Vec<Step> {
        let committed = is_committed(&st.row);
        if self.strict {
            let wrote = self.called(g, "metadata", "put", &self.id);
            let done = if wrote && committed { self.strict_delete(g, st, now) } else { None };
            let after = match (&self.run.ops[g].res, done) {
                (Res::Delete(Ok(false)), _) if !committed && !wrote => Some(st.clone()),
                (Res::Delete(Ok(true)), Some((s, Deleted::Removed))) => Some(s),
                // The read failed: nothing done.
                (Res::Delete(Err(StoreError::Host(_))), None) if !wrote => Some(st.clone()),
                (Res::Delete(Err(StoreError::Host(_))), Some((s, Deleted::Unchanged | Deleted::RowDeleteFailed))) => {
                    Some(s)
                }
                (
                    Res::Delete(Err(StoreError::VaultDeleteOrphaned { marker_persisted, .. })),
                    Some((s, Deleted::VaultFailed { marker })),
                ) if *marker_persisted == marker => Some(s),
                _ => None,
            };
            return after.map(|s| (s, now, false)).into_iter().collect();
        }
        let after = match &self.run.ops[g].res {
            Res::Delete(Ok(false)) if !committed => Some(st.clone()),
            Res::Delete(Ok(true)) if committed => self.commit_delete(g, st, now, false, Some(false)),
            Res::Delete(Err(StoreError::Host(_))) => Some(st.clone()),
            Res::Delete(Err(StoreError::VaultDeleteOrphaned { marker_persisted, .. })) if committed => {
                self.commit_delete(g, st, now, *marker_persisted, Some(true))
            }
            _ => None,
        };
        after.map(|s| (s, now, false)).into_iter().collect()
    }

    /// deleteAll, on this id: untouched if it was not listed (no row at the
    /// listing); else, in its turn, the row (any row) and its bytes go.
    fn delete_all(&self, g: usize, st: &KeyState, now: f64) -> Vec<Step> {
        let unchanged = vec![(st.clone(), now, false)];
        let errors: Vec<&Error> = match &self.run.ops[g].res {
            Res::DeleteAll(Ok(())) => vec![],
            Res::DeleteAll(Err(StoreError::DeleteAll(inner))) => inner.iter().collect(),
            // The listing failed: nothing was deleted.
            Res::DeleteAll(Err(StoreError::Host(_))) => return unchanged,
            _ => return vec![],
        };
        if !self.called(g, "metadata", "get", &self.id) {
            let missed = self.missed(g);
            return if st.row.truthy() && !missed { vec![] } else { unchanged };
        }
        if self.strict {
            return self.strict_delete_all(g, &errors, st, now);
        }
        let (host_error, orphaned) = self.delete_all_errors_for_id(&errors);
        let after = if host_error {
            Some(st.clone())
        } else if let Some(marker) = orphaned {
            if st.row.truthy() {
                self.commit_delete(g, st, now, marker, Some(true))
            } else {
                None
            }
        } else if self.succeeded(g, "metadata", "delete", &self.id) {
            if st.row.truthy() {
                self.commit_delete(g, st, now, false, Some(false))
            } else {
                None
            }
        } else if st.row.truthy() {
            None
        } else {
            Some(st.clone())
        };
        after.map(|s| (s, now, false)).into_iter().collect()
    }

    /// What a deleteAll's aggregate error says of this id: a raw host error
    /// injected on it, and whether a `VaultDeleteOrphaned` names it (with
    /// whether its marker persisted).
    fn delete_all_errors_for_id(&self, errors: &[&Error]) -> (bool, Option<bool>) {
        let mut host_error = false;
        let mut orphaned = None;
        for e in errors {
            match e {
                StoreError::Host(v) => {
                    host_error |= self.fault_of(v).is_some_and(|f| f.id.as_deref() == Some(self.id.as_str()));
                }
                StoreError::VaultDeleteOrphaned { key, marker_persisted, .. }
                    if format!("{}{key}", prefix(self.scope)) == self.id =>
                {
                    orphaned = Some(*marker_persisted);
                }
                _ => {}
            }
        }
        (host_error, orphaned)
    }

    /// Strict deleteAll on a listed id, in its turn: the re-read failed
    /// (nothing done), or found no row (nothing to do), or the row (any
    /// row) is deleted pending-first; the aggregate error names this id
    /// exactly as that went (a raw error for a failed re-read, pending
    /// write or row delete; `VaultDeleteOrphaned` for a vault failure).
    fn strict_delete_all(&self, g: usize, errors: &[&Error], st: &KeyState, now: f64) -> Vec<Step> {
        let (host_error, orphaned) = self.delete_all_errors_for_id(errors);
        let after = if self.failed(g, "metadata", "get", &self.id) {
            host_error.then(|| st.clone())
        } else if !self.called(g, "metadata", "put", &self.id) && !self.called(g, "metadata", "delete", &self.id) {
            (!st.row.truthy() && !host_error && orphaned.is_none()).then(|| st.clone())
        } else {
            match self.strict_delete(g, st, now) {
                Some((s, Deleted::Removed)) if !host_error && orphaned.is_none() => Some(s),
                Some((s, Deleted::Unchanged | Deleted::RowDeleteFailed)) if host_error && orphaned.is_none() => Some(s),
                Some((s, Deleted::VaultFailed { marker })) if !host_error && orphaned == Some(marker) => Some(s),
                _ => None,
            }
        };
        after.map(|s| (s, now, false)).into_iter().collect()
    }

    /// keys/listMetadata at their listing: the key is listed iff its row is
    /// committed and not expired.
    fn listing(&self, g: usize, st: &KeyState, now: f64) -> Vec<Step> {
        let listed = match &self.run.ops[g].res {
            Res::Keys(Ok(v)) => v.items().iter().any(|k| k.str() == Some(self.key)),
            Res::List(Ok(v)) => v.items().iter().any(|i| i.prop("key").str() == Some(self.key)),
            Res::Keys(Err(_)) | Res::List(Err(_)) => return vec![(st.clone(), now, false)],
            _ => return vec![],
        };
        let live = is_committed(&st.row) && !is_expired(&st.row, now);
        if listed == live {
            vec![(st.clone(), now, false)]
        } else {
            vec![]
        }
    }

    fn list_orphans(&self, g: usize, st: &KeyState, now: f64) -> Vec<Step> {
        let reported = match &self.run.ops[g].res {
            Res::ListOrphans(Ok(v)) => report_entries(v).into_iter().find(|(k, _)| k == self.key).map(|(_, r)| r),
            Res::ListOrphans(Err(_)) => return vec![(st.clone(), now, false)],
            _ => return vec![],
        };
        let missed = reported.is_none() && self.missed(g);
        if missed || reported == finding_of(self.strict, &self.id, &st.row, now, STALE_PENDING_MS) {
            vec![(st.clone(), now, false)]
        } else {
            vec![]
        }
    }

    /// reconcile, on this id: not listed (no finding at the listing), or in
    /// its turn skipped (the finding changed), repaired (the bytes the row
    /// names, then the row; or for retired versions those bytes, then the
    /// row without the record), or failed (stopped at the failed call).
    fn reconcile(&self, g: usize, stale: Option<u32>, st: &KeyState, now: f64) -> Vec<Step> {
        let unchanged = vec![(st.clone(), now, false)];
        let report = match &self.run.ops[g].res {
            Res::Reconcile(Ok(r)) => r,
            Res::Reconcile(Err(_)) => return unchanged,
            _ => return vec![],
        };
        let stale = stale.map_or(STALE_PENDING_MS, f64::from);
        let finding = finding_of(self.strict, &self.id, &st.row, now, stale);
        let entry = |part: &str| -> Option<Js> {
            report.prop(part).items().into_iter().find(|i| i.prop("key").str() == Some(self.key))
        };
        let reason_of = |e: &Js| e.prop("reason").str().map(str::to_owned);
        if let Some(e) = entry("skipped") {
            return if finding != reason_of(&e) { unchanged } else { vec![] };
        }
        let (entry, failed_call) = match (entry("repaired"), entry("failed")) {
            (Some(e), None) => (e, None),
            (None, Some(e)) => {
                let Some(f) = self.fault_of(&e.prop("error")) else { return vec![] };
                if f.method == "get" {
                    return unchanged; // the re-read failed: nothing done
                }
                let call = (f.target, f.method, f.id.clone().unwrap_or_default());
                (e, Some(call))
            }
            (None, None) => {
                let missed = self.missed(g);
                return if finding.is_none() || missed { unchanged } else { vec![] };
            }
            _ => return vec![],
        };
        let reason = reason_of(&entry);
        if finding != reason {
            return vec![];
        }
        let retired_only = reason.as_deref() == Some("retired-versions");
        // Strict mode marks a row it removes first (a failed mark changes
        // nothing); the versions it names then go, then the marked row.
        let mut row_after_failure = st.row.clone();
        if self.strict && !retired_only {
            let Some(mark) = self.calls(g).find(|e| e.is("metadata", "put", &self.id)) else { return vec![] };
            if !mark.ok() {
                return unchanged;
            }
            row_after_failure = deleting_mark(&st.row, mark);
        }
        let mut named = if retired_only { vec![] } else { vec![vault_of(true, &self.id, &st.row)] };
        named.extend(retired_of(&self.id, &st.row));
        if self.strict && !retired_only {
            named.extend(pending_of(&self.id, &st.row));
        }
        let mut vault = st.vault.clone();
        if self.strict && !retired_only {
            // Every version the row names is tried; those whose delete failed stay.
            let failed = self.failed_vault_deletes(g);
            let mut kept = false;
            for n in &named {
                if failed.contains(n) {
                    kept = true;
                } else {
                    vault.remove(n);
                }
            }
            if kept {
                return vec![(KeyState { row: row_after_failure, vault }, now, false)];
            }
        }
        for n in &named {
            if failed_call.as_ref().is_some_and(|(t, m, i)| *t == "vault" && *m == "deleteSecret" && i == n) {
                return vec![(KeyState { row: row_after_failure, vault }, now, false)];
            }
            vault.remove(n);
        }
        let row = match (&failed_call, retired_only) {
            (Some(_), _) => row_after_failure,
            (None, true) => spread(&st.row, &[("retiredVaultIds", Js::Undefined)]),
            (None, false) => Js::Undefined,
        };
        vec![(KeyState { row, vault }, now, false)]
    }

    /// The main event of op `g` from state `st` at clock `now`: every way
    /// the protocol could have produced the op's observed result there.
    fn step(&self, g: usize, st: &KeyState, now: f64) -> Vec<Step> {
        let op = &self.run.ops[g].op;
        match &op.action {
            Action::Put(p) => self.put(g, p, st, now),
            Action::Get | Action::Has => self.read(g, st, now),
            Action::Delete => self.delete(g, st, now),
            Action::DeleteAll => self.delete_all(g, st, now),
            Action::Keys | Action::List => self.listing(g, st, now),
            Action::ListOrphans => self.list_orphans(g, st, now),
            Action::Reconcile(stale) => self.reconcile(g, *stale, st, now),
            Action::Advance(ms) => vec![(st.clone(), now + *ms as f64, false)],
            Action::Tamper(_) => vec![],
        }
    }

    /// The second event of op `g`: an expired read's cleanup, or the
    /// retire that ends a strict update over a marker or pending row.
    fn second(&self, g: usize, st: &KeyState, now: f64) -> Vec<KeyState> {
        match self.run.ops[g].op.action {
            Action::Put(_) => self.finish_put(g, st),
            _ => self.cleanup(g, st, now),
        }
    }

    /// Depth-first over the orders real time allows. `started`: ops whose
    /// main event is placed; `cleanup`: ops with a cleanup still to place.
    fn explain(&self, evs: &[Event], st: KeyState, now: f64, started: u32, cleanup: u32, end: &KeyState) -> bool {
        let complete = |i: usize| started & (1 << i) != 0 && cleanup & (1 << i) == 0;
        if (0..evs.len()).all(complete) {
            return same_state(&st, end);
        }
        for i in 0..evs.len() {
            if cleanup & (1 << i) != 0 {
                for next in self.second(evs[i].g, &st, now) {
                    if self.explain(evs, next, now, started, cleanup & !(1 << i), end) {
                        return true;
                    }
                }
            }
            let ready = (0..evs.len()).all(|j| evs[j].done >= evs[i].first || complete(j));
            if started & (1 << i) == 0 && ready {
                for (next, later, more) in self.step(evs[i].g, &st, now) {
                    let c = if more { cleanup | (1 << i) } else { cleanup };
                    if self.explain(evs, next, later, started | (1 << i), c, end) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Whether op `op` concerns id `scope`/`key`.
fn concerns(op: &Op, scope: usize, key: &str) -> bool {
    match op.action {
        Action::Advance(_) => true,
        Action::Put(_) | Action::Get | Action::Has | Action::Delete | Action::Tamper(_) => {
            op.scope == scope && op.key == key
        }
        Action::Keys | Action::List | Action::DeleteAll | Action::Reconcile(_) | Action::ListOrphans => {
            op.scope == scope
        }
    }
}

/// How a history that is not linearizable fails: `""`, or the cause when
/// accepting exactly that observation explains it (a scope listing that
/// missed the id inside another op's two-write transition; see
/// docs/known-races.md, S1 and S2).
pub const LISTING_SAW_A_FAILING_DELETE: &str = "listing-saw-a-failing-delete";
pub const LISTING_SAW_AN_UNRECORDED_RETIRE: &str = "listing-saw-an-unrecorded-retire";
/// S3 (strict mode's pending-first delete): a listing ran after a delete
/// turned the row pending (a fresh pending row: no finding) and before its
/// vault-delete-failed marker replaced it, so it missed the finding the row
/// had before (`retired-versions`, or `stale-pending`).
pub const LISTING_SAW_A_PENDING_DELETE: &str = "listing-saw-a-pending-delete";

/// Checks batch `b` (ops `globals`, state `pre` before it) id by id;
/// returns `(id, sub, why)` for each id no sequential order explains, and
/// how many ids were explained with 2, 3 and 4 operations (advances aside).
pub fn check(
    run: &Run,
    b: usize,
    globals: &[usize],
    pre: &Snapshot,
) -> (Vec<(String, &'static str, String)>, [u64; 3]) {
    let rows_after = run.world.rows.borrow().clone();
    let secrets_after = run.world.secrets.borrow().clone();
    let mut out = vec![];
    let mut sizes = [0; 3];
    for scope in 0..SCOPES.len() {
        for key in KEYS {
            let evs: Vec<Event> = globals
                .iter()
                .filter(|&&g| concerns(&run.ops[g].op, scope, key))
                .map(|&g| Event { g, first: run.ops[g].first, done: run.ops[g].done })
                .collect();
            let id = format!("{}{key}", prefix(scope));
            let model = Model { run, strict: run.opts.strict, scope, key, id: id.clone(), relaxed: false };
            let start = state_of(&pre.rows, &pre.secrets, &id);
            let end = state_of(&rows_after, &secrets_after, &id);
            if model.explain(&evs, start.clone(), pre.now, 0, 0, &end) {
                let n = evs.iter().filter(|e| !matches!(run.ops[e.g].op.action, Action::Advance(_))).count();
                if (2..=4).contains(&n) {
                    sizes[n - 2] += 1;
                }
                continue;
            }
            let relaxed = Model { relaxed: true, ..model };
            let sub = if relaxed.explain(&evs, start.clone(), pre.now, 0, 0, &end) {
                evs.iter().find_map(|e| relaxed.saw_a_transition(e.g)).unwrap_or("")
            } else {
                ""
            };
            let cause = match sub {
                LISTING_SAW_A_FAILING_DELETE => {
                    " (a scope listing ran after a delete removed the row and before its vault-delete-failed marker replaced it)"
                }
                LISTING_SAW_AN_UNRECORDED_RETIRE => {
                    " (a scope listing ran after an update flipped the row and before it recorded the old version it failed to delete)"
                }
                LISTING_SAW_A_PENDING_DELETE => {
                    " (a scope listing ran after a delete turned the row pending and before its vault-delete-failed marker replaced it)"
                }
                _ => "",
            };
            let mut why = format!(
                "no order of batch {b}'s operations on {id} consistent with real time explains their results and final state{cause}\n"
            );
            for e in &evs {
                let o = &run.ops[e.g];
                let _ = writeln!(
                    why,
                    "      #{} {} → {}  (polled first at step {}, done at {})",
                    e.g,
                    o.op,
                    o.res.show(),
                    e.first,
                    e.done
                );
            }
            let _ = writeln!(why, "      before: {}", state_sig(&start));
            let _ = write!(why, "      after:  {}", state_sig(&end));
            out.push((id, sub, why));
        }
    }
    (out, sizes)
}
