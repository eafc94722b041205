//! The protocol of SPEC §4, one function per step. Each host call is awaited
//! before the next. In the compatible mode (the default) no lock is held,
//! so calls interleave at every await exactly as the TypeScript store's do;
//! strict mode (SPEC §6) adds versioned vault ids and per-key write turns.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::OnceCell;

use super::error::{DeleteOp, HostResult, StoreError};
use super::host::{refs, Clock, Facade, MetadataKv, NoFacade, SecretVault, Values};
use super::key::{is_safe_bytes, is_safe_segment, Scope};
use super::lock::KeyLocks;
use super::row::{self, BaseRow, Field, OrphanReason, RowState};

pub(super) type Result<T, V> = core::result::Result<T, StoreError<<V as Values>::Err>>;
pub(super) type HostRes<T, V> = core::result::Result<T, <V as Values>::Err>;

/// A project-scoped credential store over a metadata KV, a vault and a clock.
pub struct Store<V: Values, K, S, C> {
    pub(super) v: V,
    pub(super) kv: K,
    pub(super) vault: S,
    pub(super) clock: C,
    pub(super) scope: Scope,
    /// `userId` / `projectId` as host values, written into every row.
    pub(super) user_id: V::Val,
    pub(super) project_id: V::Val,
    /// `userId/projectId/` as a host value, the start of every id.
    pub(super) prefix: V::Val,
    /// Write turns, shared by the stores over one metadata object.
    pub(super) locks: Rc<KeyLocks>,
    pub(super) strict: bool,
}

/// Which read: get (ends with the vault) or has (ends with the row).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Read {
    Get,
    Has,
}

/// What a read does after `read_row`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadNext {
    /// get: `vault.getSecret(id)`; its value (or rejection) is the result.
    Secret,
    /// has: true.
    Present,
    /// The row expired: `drop_expired`, then absent.
    DropExpired,
    /// No committed row: get → undefined, has → false.
    Absent,
}

/// What `put_next` found: an update's row, or a new key's base row.
pub enum PutNext<T> {
    Update(T),
    New(BaseRow<T>),
}

/// How a read ended (for the async path).
enum ReadEnd<T> {
    Secret(T),
    Present,
    Absent,
}

/// An id (the metadata KV key and plain vault id), as a host value; its
/// text is read from the host only when needed (write turns, vault id
/// checks, messages), so the common paths never copy it into wasm.
pub struct Addressed<T> {
    pub(super) id: T,
    text: OnceCell<String>,
}

impl<T> Addressed<T> {
    /// An id a binding addressed itself (`Store::address`'s key test passed).
    pub fn new(id: T) -> Self {
        Addressed { id, text: OnceCell::new() }
    }

    pub fn id(&self) -> &T {
        &self.id
    }

    /// The id as text ("" if the host value is not a string). Out of line:
    /// it is on no hot path (inlined at its dozen callers: +0.2 KB of wasm).
    #[inline(never)]
    pub(super) fn text<V: Values<Val = T>>(&self, v: &V) -> &str {
        self.text.get_or_init(|| v.as_string(&self.id).unwrap_or_default())
    }
}

impl<V, K, S, C> Store<V, K, S, C>
where
    V: Values,
    K: MetadataKv<V>,
    S: SecretVault<V>,
    C: Clock<V>,
{
    /// SPEC §2: `SAFE_SEGMENT.test(userId) && SAFE_SEGMENT.test(projectId)`
    /// (ToString first; a throwing ToString is the host's error), then the
    /// prefix `` `${userId}/${projectId}/` ``. Rows carry the ids as given.
    pub fn new(v: V, kv: K, vault: S, clock: C, user_id: &V::Val, project_id: &V::Val) -> Result<Self, V> {
        let is_segment = |x: &V::Val| v.to_text(x).map(|t| is_safe_segment(&t)).host();
        if !is_segment(user_id)? || !is_segment(project_id)? {
            return Err(StoreError::InvalidScope);
        }
        let slash = v.string("/");
        let user_part = v.template(user_id, &slash).host()?;
        let project_part = v.template(project_id, &slash).host()?;
        let prefix = v.template(&user_part, &project_part).host()?;
        let scope = Scope::from_prefix(v.as_string(&prefix).unwrap_or_default());
        Ok(Store {
            prefix,
            user_id: user_id.clone(),
            project_id: project_id.clone(),
            v,
            kv,
            vault,
            clock,
            scope,
            locks: KeyLocks::new(),
            strict: false,
        })
    }

    /// Strict mode (opt-in): versioned vault ids, per-key write turns taken
    /// from `locks` (share one per metadata object).
    pub fn strict(mut self, locks: Rc<KeyLocks>) -> Self {
        self.locks = locks;
        self.strict = true;
        self
    }

    /// Shares write turns with other stores without turning strict mode on
    /// (reconcile always takes them).
    pub fn with_locks(mut self, locks: Rc<KeyLocks>) -> Self {
        self.locks = locks;
        self
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// `userId/projectId/` as the host value every id starts with.
    pub fn prefix(&self) -> &V::Val {
        &self.prefix
    }

    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The metadata KV and the vault, for a binding that makes the host
    /// calls of get, has and delete itself (see `read` and `delete`).
    pub fn kv(&self) -> &K {
        &self.kv
    }

    pub fn vault(&self) -> &S {
        &self.vault
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Step 1 of get/has/put/delete: the id of `key`; `None` for a key that
    /// fails the grammar after ToString (no host call follows); the host's
    /// error when ToString throws.
    pub fn address(&self, key: &V::Val) -> Result<Option<Addressed<V::Val>>, V> {
        Ok(self.v.key_id(&self.prefix, key, &is_safe_bytes).host()?.map(Addressed::new))
    }

    // ---- reads ---------------------------------------------------------

    /// get(key) → the secret, or undefined (SPEC §4 get).
    pub async fn get(&self, key: &V::Val) -> Result<V::Val, V> {
        self.get_via(key, &NoFacade).await
    }

    /// get, with `this.delete` going through the caller's public object.
    pub async fn get_via(&self, key: &V::Val, this: &impl Facade<V>) -> Result<V::Val, V> {
        if self.strict {
            return self.get_strict(key, this).await;
        }
        let Some(a) = self.address(key)? else { return Ok(self.v.undefined()) };
        match self.read(Read::Get, key, &a, this).await? {
            ReadEnd::Secret(value) => Ok(value),
            _ => Ok(self.v.undefined()),
        }
    }

    /// get in strict mode (the wasm binding runs the compatible get without
    /// futures, see `read`).
    pub async fn get_strict(&self, key: &V::Val, this: &impl Facade<V>) -> Result<V::Val, V> {
        let Some(a) = self.address(key)? else { return Ok(self.v.undefined()) };
        self.get_versioned(key, &a, this).await
    }

    /// Strict get: the row's own version. If that version vanished, an
    /// update retired it after we read the row: read the new row once more.
    async fn get_versioned(&self, key: &V::Val, a: &Addressed<V::Val>, this: &impl Facade<V>) -> Result<V::Val, V> {
        let mut last_vault_id: Option<String> = None;
        loop {
            let Some(row) = self.live_row(key, a, this).await? else { return Ok(self.v.undefined()) };
            let (vault_id, vault_text) = self.vault_id_of(a, &row).host()?;
            if last_vault_id.as_deref() == Some(vault_text.as_str()) {
                return Ok(self.v.undefined());
            }
            let value = self.vault.get_secret(&vault_id).await.host()?;
            if !self.v.is_undefined(&value) || vault_text == a.text(&self.v) {
                return Ok(value);
            }
            last_vault_id = Some(vault_text);
        }
    }

    /// has(key): get without touching the vault.
    pub async fn has(&self, key: &V::Val) -> Result<bool, V> {
        self.has_via(key, &NoFacade).await
    }

    pub async fn has_via(&self, key: &V::Val, this: &impl Facade<V>) -> Result<bool, V> {
        let Some(a) = self.address(key)? else { return Ok(false) };
        Ok(matches!(self.read(Read::Has, key, &a, this).await?, ReadEnd::Present))
    }

    /// has (both modes) and the compatible get after step 1, as `read_row`
    /// directs. The wasm binding runs the same steps without futures
    /// (src/binding/mod.rs, `readKey` and `readStep`): address,
    /// `metadata.get`, `read_state`, then what it names.
    async fn read(
        &self,
        read: Read,
        key: &V::Val,
        a: &Addressed<V::Val>,
        this: &impl Facade<V>,
    ) -> Result<ReadEnd<V::Val>, V> {
        let row = self.kv.get(&a.id).await.host()?;
        Ok(match self.read_row(read, &row)? {
            ReadNext::Secret => ReadEnd::Secret(self.vault.get_secret(&a.id).await.host()?),
            ReadNext::DropExpired => {
                self.drop_expired(key, a, this).await;
                ReadEnd::Absent
            }
            ReadNext::Present => ReadEnd::Present,
            ReadNext::Absent => ReadEnd::Absent,
        })
    }

    /// get/has steps 2–3: what the row `metadata.get` returned means. Only a
    /// committed row counts; an expired one is to be dropped (`drop_expired`).
    pub fn read_row(&self, read: Read, row: &V::Val) -> Result<ReadNext, V> {
        let state = self.v.row_state(row, true).host()?;
        self.read_state(read, state, || self.clock.expiry_and_now(&self.v, row))
    }

    /// `read_row` from the row's state and, for a row with `expiresAt`,
    /// `times()`: `(+new Date(row.expiresAt), +new Date())`, read right
    /// after the state (a binding may read all of it at once).
    pub fn read_state(
        &self,
        read: Read,
        state: RowState,
        times: impl FnOnce() -> HostRes<(f64, f64), V>,
    ) -> Result<ReadNext, V> {
        let RowState::Committed { expires } = state else { return Ok(ReadNext::Absent) };
        if expires {
            let (at, now) = times().host()?;
            if row::expired(at, now) {
                return Ok(ReadNext::DropExpired);
            }
        }
        Ok(match read {
            Read::Get => ReadNext::Secret,
            Read::Has => ReadNext::Present,
        })
    }

    /// Step 3 for an expired row: delete it on the way, swallowing that
    /// delete's failure. Compatible mode: `this.delete(key)` (the store's own
    /// delete when the public object has none), as the TypeScript store does.
    pub async fn drop_expired(&self, key: &V::Val, a: &Addressed<V::Val>, this: &impl Facade<V>) {
        if self.strict {
            let _ = self.delete_expired(a).await;
        } else if this.delete(key).await.is_none() {
            let _ = self.delete(key).await;
        }
    }

    /// Steps 2–3 for strict get: the committed, unexpired row, or `None`.
    async fn live_row(&self, key: &V::Val, a: &Addressed<V::Val>, this: &impl Facade<V>) -> Result<Option<V::Val>, V> {
        let row = self.kv.get(&a.id).await.host()?;
        match self.read_row(Read::Get, &row)? {
            ReadNext::Secret => Ok(Some(row)),
            ReadNext::DropExpired => {
                self.drop_expired(key, a, this).await;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// Strict mode's expiry cleanup: in the key's turn, re-read the row and
    /// delete it only if it is still expired. (The compatible mode calls
    /// `this.delete(key)`, which would delete a fresh row a put committed
    /// after the read: known race R6.)
    async fn delete_expired(&self, a: &Addressed<V::Val>) -> Result<(), V> {
        let expired = |row: &V::Val| -> Result<bool, V> {
            let RowState::Committed { expires: true } = self.v.row_state(row, true).host()? else { return Ok(false) };
            row::is_expired(&self.v, &self.clock, row).host()
        };
        self.delete_strict(a, expired, DeleteOp::Delete).await.map(|_| ())
    }

    /// The vault id holding a row's bytes: in strict mode the one it names
    /// (`named_vault_id`), else the id itself.
    pub(super) fn vault_id_of(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<(V::Val, String), V> {
        if self.strict {
            return self.named_vault_id(a, row);
        }
        Ok((a.id.clone(), a.text(&self.v).to_owned()))
    }

    /// The vault id a row names for its bytes in any mode: its `vaultId`
    /// when that names a version of this id, else the id itself.
    pub(super) fn named_vault_id(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<(V::Val, String), V> {
        let named = self.v.get(row, Field::VaultId)?;
        if let Some(text) = self.v.as_string(&named).filter(|t| row::is_version_of(a.text(&self.v), t)) {
            return Ok((named, text));
        }
        Ok((a.id.clone(), a.text(&self.v).to_owned()))
    }

    /// Strict rows: old versions whose delete failed (validated like
    /// `vaultId`). The version the row itself names is never among them,
    /// whatever the list says: it holds the live value.
    pub(super) fn retired_ids_of(&self, a: &Addressed<V::Val>, row: &V::Val) -> HostRes<Vec<V::Val>, V> {
        let listed = self.v.get(row, Field::RetiredVaultIds)?;
        let items = self.v.array_items(&listed).unwrap_or_default();
        let (_, live) = self.named_vault_id(a, row)?;
        let id_text = a.text(&self.v);
        Ok(items
            .into_iter()
            .filter(|t| self.v.as_string(t).is_some_and(|t| row::is_version_of(id_text, &t) && t != live))
            .collect())
    }

    // ---- put -----------------------------------------------------------

    /// put(key, value, options?) (SPEC §4 put). `value` goes to the vault untouched.
    pub async fn put(&self, key: &V::Val, value: &V::Val, options: &V::Val) -> Result<(), V> {
        let a = self.address(key)?.ok_or(StoreError::InvalidKey)?;
        if self.strict {
            return self.put_strict(&a, key, value, options).await;
        }
        let now = self.clock.now_iso().host()?;
        let existing = self.kv.get(&a.id).await.host()?;
        let base = self.base_row(key, &existing, options, now).host()?;
        if self.v.is_undefined(&existing) {
            self.put_new(&a, value, &base).await
        } else {
            self.put_update(&a, value, &base).await
        }
    }

    /// put after step 2 in the compatible mode, for a binding that made
    /// the `metadata.get` itself (`now` read before it): an update's row
    /// (the binding then writes the vault and the row, step 5), or a new
    /// key's base row for `put_created`.
    pub fn put_next(
        &self,
        key: &V::Val,
        existing: &V::Val,
        options: &V::Val,
        now: V::Val,
    ) -> HostRes<PutNext<V::Val>, V> {
        let base = self.base_row(key, existing, options, now)?;
        Ok(if self.v.is_undefined(existing) { PutNext::New(base) } else { PutNext::Update(self.row(&base, &[])) })
    }

    /// `put_next`'s new key: step 4.
    pub async fn put_created(&self, a: &Addressed<V::Val>, value: &V::Val, base: &BaseRow<V::Val>) -> Result<(), V> {
        self.put_new(a, value, base).await
    }

    /// Step 3: label/provider from options or carried over, createdAt kept,
    /// expiresAt from `options.expiresAt.toISOString()` or carried over.
    /// No other field of `existing` survives.
    pub(super) fn base_row(
        &self,
        key: &V::Val,
        existing: &V::Val,
        options: &V::Val,
        now: V::Val,
    ) -> HostRes<BaseRow<V::Val>, V> {
        let carried = self.v.carried_fields(options, existing)?;
        Ok(BaseRow {
            key: key.clone(),
            label: carried.label,
            provider: carried.provider,
            created_at: carried.created_at.unwrap_or_else(|| now.clone()),
            updated_at: now,
            expires_at: carried.expires_at,
            vault_id: None,
        })
    }

    /// `{ userId, projectId, key, label, provider, createdAt, updatedAt, expiresAt, [vaultId], ...extra }`
    pub(super) fn row(&self, base: &BaseRow<V::Val>, extra: &[(Field, V::Val)]) -> V::Val {
        let mut props = Vec::with_capacity(9 + extra.len());
        props.extend_from_slice(&[
            (Field::UserId, &self.user_id),
            (Field::ProjectId, &self.project_id),
            (Field::Key, &base.key),
            (Field::Label, &base.label),
            (Field::Provider, &base.provider),
            (Field::CreatedAt, &base.created_at),
            (Field::UpdatedAt, &base.updated_at),
            (Field::ExpiresAt, &base.expires_at),
        ]);
        if let Some(vault_id) = &base.vault_id {
            props.push((Field::VaultId, vault_id));
        }
        props.extend(extra.iter().map(|(f, v)| (*f, v)));
        self.v.object(&props)
    }

    /// Step 4: pending row first, then the vault, then the commit; each
    /// failure rolls back or leaves an orphan marker an operator can find.
    async fn put_new(&self, a: &Addressed<V::Val>, value: &V::Val, base: &BaseRow<V::Val>) -> Result<(), V> {
        let vault_id = &a.id;
        let pending = self.row(base, &[(Field::Pending, self.v.boolean(true))]);
        self.kv.put(&a.id, &pending).await.host()?;

        if let Err(e) = self.vault.set_secret(vault_id, value).await {
            return match self.kv.delete(&a.id).await {
                Ok(()) => Err(StoreError::Host(e)),
                Err(_) => {
                    self.put_base_marker(a, base, OrphanReason::VaultWriteFailed).await;
                    Err(StoreError::VaultWriteOrphaned { id: a.text(&self.v).to_owned(), cause: e })
                }
            };
        }

        let committed = self.row(base, &[(Field::Pending, self.v.boolean(false))]);
        if let Err(c) = self.kv.put(&a.id, &committed).await {
            self.put_base_marker(a, base, OrphanReason::MetadataCommitFailed).await;
            return Err(StoreError::CommitOrphaned { id: a.text(&self.v).to_owned(), cause: c });
        }
        Ok(())
    }

    /// Best effort: `metadata.put(id, { ...base, pending: true, orphanedAt, orphanReason })`.
    async fn put_base_marker(&self, a: &Addressed<V::Val>, base: &BaseRow<V::Val>, reason: OrphanReason) {
        if let Ok(now) = self.clock.now_iso() {
            let marker = self.row(base, &row::marker_props(&self.v, now, reason));
            let _ = self.kv.put(&a.id, &marker).await;
        }
    }

    /// Step 5: vault, then row; failures reject raw and nothing is rolled back.
    async fn put_update(&self, a: &Addressed<V::Val>, value: &V::Val, base: &BaseRow<V::Val>) -> Result<(), V> {
        self.vault.set_secret(&a.id, value).await.host()?;
        self.kv.put(&a.id, &self.row(base, &[])).await.host()
    }

    // ---- delete --------------------------------------------------------

    /// delete(key) → whether a committed row was deleted (SPEC §4 delete).
    /// A pending row is left alone: it protects an in-flight put or an orphan marker.
    pub async fn delete(&self, key: &V::Val) -> Result<bool, V> {
        let Some(a) = self.address(key)? else { return Ok(false) };
        if self.strict {
            return self.delete_strict(&a, |row| self.deletes(row), DeleteOp::Delete).await;
        }
        let row = self.kv.get(&a.id).await.host()?;
        if !self.deletes(&row)? {
            return Ok(false);
        }
        self.commit_delete(&a, &row, DeleteOp::Delete).await?;
        Ok(true)
    }

    /// delete step 2: only a committed row is deleted (a pending row is a
    /// put in flight, or an orphan marker for reconcile). Rows are read as
    /// SPEC §3 says delete reads them (`Values::delete_state`).
    pub fn deletes(&self, row: &V::Val) -> Result<bool, V> {
        Ok(Self::deletes_state(self.v.delete_state(row).host()?))
    }

    /// `deletes` from the row's state as `Values::delete_state` reads it.
    pub fn deletes_state(state: RowState) -> bool {
        matches!(state, RowState::Committed { .. })
    }

    /// Metadata first, then the vault; a vault failure leaves a marker
    /// spreading the whole existing row so the bytes stay discoverable.
    /// (The wasm binding makes the compatible mode's two calls itself, in
    /// this order, then hands a vault failure to `vault_delete_failed`:
    /// src/binding/mod.rs, `deleteStep` and `deleteOrphaned`.)
    async fn commit_delete(&self, a: &Addressed<V::Val>, row: &V::Val, op: DeleteOp) -> Result<(), V> {
        self.kv.delete(&a.id).await.host()?;
        let Err(e) = self.delete_vault_bytes(a, row).await else { return Ok(()) };
        Err(self.vault_delete_failed(a, row, op, e, row).await)
    }

    /// The row is gone (or pending) but bytes remain: best-effort marker, and the error saying so.
    /// The marker spreads `row`, the row the delete read; in strict mode it
    /// is written only over `stored`, the row the delete marked.
    pub async fn vault_delete_failed(
        &self,
        a: &Addressed<V::Val>,
        row: &V::Val,
        op: DeleteOp,
        e: V::Err,
        stored: &V::Val,
    ) -> StoreError<V::Err> {
        let marker_persisted = match self.delete_marker(row) {
            Ok(marker) if self.strict => self.write_if(a, &marker, stored).await.unwrap_or(false),
            Ok(marker) => self.kv.put(&a.id, &marker).await.is_ok(),
            Err(_) => false,
        };
        let key = self.key_text(a);
        let key_text = self.v.thrown(self.v.key_of_id(&a.id, &self.prefix));
        StoreError::VaultDeleteOrphaned { op, key, key_text, marker_persisted, cause: e }
    }

    /// Deletes the bytes a row points at (the compatible mode: the plain id).
    async fn delete_vault_bytes(&self, a: &Addressed<V::Val>, _row: &V::Val) -> HostRes<(), V> {
        self.vault.delete_secret(&a.id).await
    }

    fn delete_marker(&self, row: &V::Val) -> HostRes<V::Val, V> {
        let now = self.clock.now_iso()?;
        self.v.spread(row, &refs(&row::marker_props(&self.v, now, OrphanReason::VaultDeleteFailed)))
    }

    // ---- listing -------------------------------------------------------

    /// keys(): the `key` of each listMetadata entry.
    pub async fn keys(&self) -> Result<V::Val, V> {
        self.keys_via(&NoFacade).await
    }

    /// keys, listing through `this.listMetadata()`.
    pub async fn keys_via(&self, this: &impl Facade<V>) -> Result<V::Val, V> {
        let infos = match this.list_metadata().await {
            Some(listed) => {
                let listed = listed.host()?;
                if !self.v.is_array(&listed) {
                    return Err(StoreError::NotAnArray { what: "this.listMetadata()" });
                }
                listed
            }
            None => self.list_metadata().await?,
        };
        self.v.pluck(&infos, Field::Key).host()
    }

    /// listMetadata(): committed, unexpired rows of this scope, in the KV's
    /// order (SPEC §4's loop, `Values::list_infos`).
    pub async fn list_metadata(&self) -> Result<V::Val, V> {
        let Some(all) = self.listing().await? else { return Ok(self.v.array(Vec::new())) };
        let expired = |row: &V::Val| row::is_expired(&self.v, &self.clock, row);
        self.v.list_infos(&all, self.scope_vals(), &expired).host()
    }

    /// `[prefix, userId, projectId]`, what a listing's scope check compares.
    fn scope_vals(&self) -> [&V::Val; 3] {
        [&self.prefix, &self.user_id, &self.project_id]
    }

    /// deleteAll(): every scoped id, pending, orphaned and expired included;
    /// one id's failure does not stop the rest, and all are reported together.
    pub async fn delete_all(&self) -> Result<(), V> {
        let mut errors = Vec::new();
        for id in self.scoped_ids().await? {
            // Strict mode acts only on ids of this scope's key grammar (a KV
            // entry `prefix + "../x"` is no key of ours); the compatible mode
            // deletes every scoped id, as the TypeScript store does.
            if self.strict && !self.has_valid_key(&self.readdress(&id)) {
                continue;
            }
            if let Err(e) = self.delete_scoped_id(&id).await {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::DeleteAll(errors))
        }
    }

    /// Whether the compatible deleteAll leaves a scoped id's row alone: only
    /// `row === undefined` (`RowState::Missing` as `Values::delete_state`
    /// reads it), as the TypeScript store does. (Strict mode skips any falsy
    /// row: `delete_strict`.)
    pub fn delete_all_skips(&self, row_is_undefined: bool) -> bool {
        row_is_undefined
    }

    /// One scoped id: its row, then commitDelete. The compatible mode skips
    /// only `row === undefined`, as the TypeScript store does; strict mode
    /// skips any falsy row.
    async fn delete_scoped_id(&self, id: &V::Val) -> Result<(), V> {
        let a = self.readdress(id);
        if self.strict {
            let present = |row: &V::Val| Ok(self.v.is_truthy(row));
            return self.delete_strict(&a, present, DeleteOp::DeleteAll).await.map(|_| ());
        }
        let row = self.kv.get(&a.id).await.host()?;
        if self.delete_all_skips(self.v.is_undefined(&row)) {
            return Ok(());
        }
        self.commit_delete(&a, &row, DeleteOp::DeleteAll).await
    }

    /// Whether an id found in the KV is this scope's prefix plus a key of the grammar.
    pub(super) fn has_valid_key(&self, a: &Addressed<V::Val>) -> bool {
        self.scope.key_of(a.text(&self.v)).is_some_and(is_safe_segment)
    }

    /// An id found in the KV, addressed like a key (its text is needed for
    /// turns and messages only).
    pub(super) fn readdress(&self, id: &V::Val) -> Addressed<V::Val> {
        Addressed::new(id.clone())
    }

    /// A listing from `getByPrefix(prefix)` when the KV offers it, else
    /// `getAll()`; `None` for a falsy answer (no rows).
    async fn listing(&self) -> Result<Option<V::Val>, V> {
        let all = match self.kv.get_by_prefix(&self.prefix).await {
            Some(found) => found.host()?,
            None => self.kv.get_all().await.host()?,
        };
        Ok(self.v.is_truthy(&all).then_some(all))
    }

    /// The ids of this scope's entries: the KV key has our prefix and the
    /// row names our userId and projectId (defence in depth).
    pub async fn scoped_ids(&self) -> Result<Vec<V::Val>, V> {
        let Some(all) = self.listing().await? else { return Ok(Vec::new()) };
        Ok(self.v.scan_scope(&all, self.scope_vals(), false).host()?.into_iter().map(|(id, _)| id).collect())
    }

    /// The same entries, as `(id, row)`.
    pub(super) async fn scoped_entries(&self) -> Result<Vec<(V::Val, V::Val)>, V> {
        let Some(all) = self.listing().await? else { return Ok(Vec::new()) };
        self.v.scan_scope(&all, self.scope_vals(), true).host()
    }
}
