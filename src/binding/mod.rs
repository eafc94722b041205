//! The wasm-bindgen edge: implements the core's host traits over the
//! caller's JS objects and turns `StoreError` into JS errors. How host calls
//! are made and awaited lives in `host`, in one place, so it can be made
//! cheaper without touching the protocol.

mod error;
mod host;
mod task;

use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::core::{is_safe_bytes, Addressed, Clock, Field, KeyLocks, NoFacade, PutNext, Read, ReadNext, Store, Values};
use error::into_js;
use host::{JsClock, JsFacade, JsKv, JsValues, JsVault};

type JsStore = Store<JsValues, JsKv, JsVault, JsClock>;

/// The protocol engine behind the public `ServerCredentialStore` class
/// (js/ gives that class its exact shape). Each method starts an
/// operation and returns the code the glue's `drive` turns into the
/// method's promise (see task.rs); it holds no borrow of `self` while it
/// runs: `free()` or GC of the JS object never invalidates a call in flight.
#[wasm_bindgen]
pub struct StoreCore {
    store: Rc<JsStore>,
}

/// Write turns per metadata object (by the glue's slot number), held weakly.
static LOCKS: Local<RefCell<Vec<(u32, Weak<KeyLocks>)>>> = Local::new(RefCell::new(Vec::new()));

/// A `static` of the module's one thread: what `thread_local!` is with std,
/// which the shipped build does without.
pub struct Local<T>(T);

#[cfg(target_feature = "atomics")]
compile_error!("the binding keeps per-instance state in statics: single-threaded wasm only");

// SAFETY: single-threaded wasm only (see the compile_error above).
unsafe impl<T> Sync for Local<T> {}

impl<T> Local<T> {
    pub const fn new(value: T) -> Self {
        Local(value)
    }

    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0)
    }
}

/// The write turns every store over this metadata object shares.
fn shared_locks(metadata: &JsValue) -> Rc<KeyLocks> {
    let slot = host::glue::metadata_slot(metadata);
    if slot == 0 {
        return KeyLocks::new();
    }
    LOCKS.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(live) = m.iter().find(|(s, _)| *s == slot).and_then(|(_, w)| w.upgrade()) {
            return live;
        }
        // Forget the turns of metadata objects no store uses any more.
        m.retain(|(_, w)| w.strong_count() > 0);
        let locks = KeyLocks::new();
        m.push((slot, Rc::downgrade(&locks)));
        locks
    })
}

/// What an absent credential reads as: get → undefined, has → false.
fn absent(read: Read) -> task::Outcome {
    match read {
        Read::Get => task::Outcome::Undefined,
        Read::Has => task::Outcome::Bool(false),
    }
}

/// The glue's read kinds: 0 get, 1 has.
fn read_of(read: u32) -> Read {
    if read == 0 {
        Read::Get
    } else {
        Read::Has
    }
}

/// Starts one store operation; the glue's `drive` turns it into the
/// method's promise. Errors leave as JS errors.
fn run<T, F>(store: &Rc<JsStore>, op: impl FnOnce(Rc<JsStore>) -> F + 'static) -> u32
where
    F: core::future::Future<Output = Result<T, crate::core::StoreError<JsValue>>> + 'static,
    T: Into<task::Outcome>,
{
    let store = store.clone();
    task::start(async move { op(store).await.map(Into::into).map_err(into_js) })
}

#[wasm_bindgen]
impl StoreCore {
    /// `options` is the caller's `{ vault, metadata, userId, projectId }`, read once here.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<StoreCore, JsValue> {
        host::init_glue();
        let read = |f: Field| host::field(&options, f);
        let vault = read(Field::Vault)?;
        let metadata = read(Field::Metadata)?;
        let user_id = read(Field::UserId)?;
        let project_id = read(Field::ProjectId)?;
        let strict = read(Field::Strict)?;
        let locks = shared_locks(&metadata);
        let store = Store::new(JsValues, JsKv::new(metadata), JsVault::new(vault), JsClock, &user_id, &project_id)
            .map_err(into_js)?;
        let store = if JsValues.is_truthy(&strict) { store.strict(locks) } else { store.with_locks(locks) };
        Ok(StoreCore { store: Rc::new(store) })
    }

    /// The `drive` function of this module instance (glue.js): each public
    /// method is `drive(core.method(...))`. `core` is this class (the
    /// driver calls back in through its `resume` and `step`, and the fast
    /// path's `readStep`, `deleteStep` and the methods named there).
    pub fn driver(core: JsValue) -> JsValue {
        host::init_glue();
        host::glue::make_driver(&core)
    }

    /// `drive`'s way back into an operation (see task.rs).
    pub fn resume(slot: u32, how: u32, value: JsValue) -> u32 {
        task::resume(slot, how, value)
    }

    /// `drive`'s way back into a task whose host call fulfilled with a
    /// value it ignores (task.rs `AWAITING_VOID`).
    pub fn step(slot: u32) -> u32 {
        task::step(slot)
    }

    /// `userId/projectId/`, and the metadata and vault objects as the store
    /// read them from the options (for the glue's fast reads).
    pub fn prefix(&self) -> JsValue {
        self.store.prefix().clone()
    }

    pub fn hosts(&self) -> js_sys::Array {
        js_sys::Array::of2(self.store.kv().object(), self.store.vault().object())
    }

    /// The fast get (`read` 0) or has (`read` 1) of a string key whose text
    /// the glue's `keyAndId` has just written: SPEC §2's test, then what
    /// `drive` does next (task.rs `CALL_ROW`), or the slower path for a
    /// strict get (`FALLBACK`). No state stays in wasm: `drive` holds the id.
    #[wasm_bindgen(js_name = readKey)]
    pub fn read_key(&self, read: u32) -> u32 {
        let read = read_of(read);
        if read == Read::Get && self.store.is_strict() {
            return task::report(task::FALLBACK, 0);
        }
        if !host::written_text_is_key(is_safe_bytes) {
            return task::finish(None, Ok(absent(read)));
        }
        task::report(task::CALL_ROW, 0)
    }

    /// The fast read's row, as the glue's `readRow` read it (`state`,
    /// times): what `Store::read_state` makes of it.
    #[wasm_bindgen(js_name = readStep)]
    pub fn read_step(&self, read: u32, state: u32, at: f64, now: f64) -> u32 {
        let read = read_of(read);
        let next = host::row_state_of(state)
            .map_err(|e| error::into_js(crate::core::StoreError::Host(e)))
            .and_then(|state| self.store.read_state(read, state, || Ok((at, now))).map_err(error::into_js));
        match next {
            Err(e) => task::finish(None, Err(e)),
            Ok(ReadNext::Absent) => task::finish(None, Ok(absent(read))),
            Ok(ReadNext::Present) => task::finish(None, Ok(task::Outcome::Bool(true))),
            Ok(ReadNext::Secret) => task::report(task::CALL_SECRET, 0),
            Ok(ReadNext::DropExpired) => task::report(task::EXPIRED, 0),
        }
    }

    /// The fast read found the row expired: `this.delete(key)` (strict
    /// mode: its own re-check in the key's turn), then absent.
    #[wasm_bindgen(js_name = readExpired)]
    pub fn read_expired(&self, read: u32, this: JsValue, key: JsValue, id: JsValue) -> u32 {
        let read = read_of(read);
        let store = self.store.clone();
        task::start(async move {
            store.drop_expired(&key, &Addressed::new(id), &JsFacade(this)).await;
            Ok(absent(read))
        })
    }

    /// The fast path's slower case (`kind`: 0 get, 1 has, 2 delete): `id`
    /// is what the glue's `keyAndId` returned for `key` (undefined unless a
    /// string), its text and status already written. A strict get or
    /// delete runs as a task; otherwise the id is built here (a key that is
    /// no string: `${prefix}${key}`, as the TS store builds it) and handed
    /// back in the glue's `result` for the fast path to go on with.
    #[wasm_bindgen(js_name = readOther)]
    pub fn read_other(&self, kind: u32, key: JsValue, id: JsValue) -> u32 {
        host::written_key(id);
        if self.store.is_strict() && kind != 1 {
            if kind == 0 {
                // Strict mode's expiry cleanup is its own (no `this.delete`).
                return run(&self.store, |s| async move { s.get_strict(&key, &NoFacade).await });
            }
            return run(&self.store, |s| async move { s.delete(&key).await });
        }
        let absent = if kind == 2 { task::Outcome::Bool(false) } else { absent(read_of(kind)) };
        match self.store.address(&key) {
            Err(e) => task::finish(None, Err(into_js(e))),
            Ok(None) => task::finish(None, Ok(absent)),
            Ok(Some(a)) => {
                host::glue::set_result(a.id());
                if kind == 2 {
                    task::report(task::FAST, task::DEL_GET)
                } else {
                    task::report(task::CALL_ROW, 0)
                }
            }
        }
    }

    /// The fast delete of a string key whose text the glue's `keyAndId`
    /// has just written (compatible mode; strict mode takes the slower
    /// path, `FALLBACK`): SPEC §2's test, then `metadata.get(id)` (task.rs
    /// `FAST | DEL_GET`).
    #[wasm_bindgen(js_name = deleteKey)]
    pub fn delete_key(&self) -> u32 {
        if self.store.is_strict() {
            return task::report(task::FALLBACK, 0);
        }
        if !host::written_text_is_key(is_safe_bytes) {
            return task::finish(None, Ok(task::Outcome::Bool(false)));
        }
        task::report(task::FAST, task::DEL_GET)
    }

    /// The fast delete's row, as the glue's `deleteState` read it: only a
    /// committed row is deleted (`Store::deletes_state`), metadata first,
    /// then the vault (`FAST | DEL_CALLS`).
    #[wasm_bindgen(js_name = deleteStep)]
    pub fn delete_step(state: u32) -> u32 {
        match host::row_state_of(state) {
            Err(e) => task::finish(None, Err(error::into_js(crate::core::StoreError::Host(e)))),
            Ok(state) if JsStore::deletes_state(state) => task::report(task::FAST, task::DEL_CALLS),
            Ok(_) => task::finish(None, Ok(task::Outcome::Bool(false))),
        }
    }

    /// The fast delete's `vault.deleteSecret(id)` failed with `e` after the
    /// row went: the orphan marker (spreading `row`) and delete's error.
    #[wasm_bindgen(js_name = deleteOrphaned)]
    pub fn delete_orphaned(&self, id: JsValue, row: JsValue, e: JsValue) -> u32 {
        let store = self.store.clone();
        task::start(async move {
            let a = Addressed::new(id);
            Err(error::into_js(store.vault_delete_failed(&a, &row, crate::core::DeleteOp::Delete, e, &row).await))
        })
    }

    pub fn put(&self, key: JsValue, value: JsValue, options: JsValue) -> u32 {
        run(&self.store, |s| async move { s.put(&key, &value, &options).await })
    }

    /// The fast put of a string key whose text the glue's `keyAndId` has
    /// just written (compatible mode; strict mode takes `put`): SPEC §2's
    /// test (an invalid key rejects), then `now` (left in the glue's
    /// `result`) and `metadata.get(id)` (task.rs `FAST | PUT_GET`).
    #[wasm_bindgen(js_name = putKey)]
    pub fn put_key(&self) -> u32 {
        if self.store.is_strict() {
            return task::report(task::FALLBACK, 0);
        }
        if !host::written_text_is_key(is_safe_bytes) {
            return task::finish(None, Err(into_js(crate::core::StoreError::InvalidKey)));
        }
        match self.store.clock().now_iso() {
            Ok(now) => {
                host::glue::set_result(&now);
                task::report(task::FAST, task::PUT_GET)
            }
            Err(e) => task::finish(None, Err(into_js(crate::core::StoreError::Host(e)))),
        }
    }

    /// The fast put's existing row: an update's row goes back in the glue's
    /// `result` for `drive` to write after the value (`FAST | PUT_CALLS`);
    /// a new key continues as a task (pending row, vault, commit).
    #[wasm_bindgen(js_name = putStep)]
    pub fn put_step(
        &self,
        key: JsValue,
        value: JsValue,
        options: JsValue,
        now: JsValue,
        existing: JsValue,
        id: JsValue,
    ) -> u32 {
        match self.store.put_next(&key, &existing, &options, now) {
            Err(e) => task::finish(None, Err(into_js(crate::core::StoreError::Host(e)))),
            Ok(PutNext::Update(row)) => {
                host::glue::set_result(&row);
                task::report(task::FAST, task::PUT_CALLS)
            }
            Ok(PutNext::New(base)) => {
                run(&self.store, move |s| async move { s.put_created(&Addressed::new(id), &value, &base).await })
            }
        }
    }

    /// A put that is not the fast one (a key that is no string, strict
    /// mode): `id` is what the glue's `keyAndId` returned for `key`, its
    /// text and status already written.
    #[wasm_bindgen(js_name = putOther)]
    pub fn put_other(&self, key: JsValue, value: JsValue, options: JsValue, id: JsValue) -> u32 {
        host::written_key(id);
        self.put(key, value, options)
    }

    #[wasm_bindgen(js_name = listMetadata)]
    pub fn list_metadata(&self) -> u32 {
        run(&self.store, |s| async move { s.list_metadata().await })
    }

    /// listOrphans(options?): rows an operator must reconcile (never a value).
    #[wasm_bindgen(js_name = listOrphans)]
    pub fn list_orphans(&self, options: JsValue) -> u32 {
        run(&self.store, |s| async move { s.list_orphans_report(&options).await })
    }

    /// reconcile(options?): repairs each orphan; a report, not a rejection, per failure.
    pub fn reconcile(&self, options: JsValue) -> u32 {
        run(&self.store, |s| async move { s.reconcile(&options).await })
    }

    /// Strict mode: a task. The compatible mode: the scan as a task, then
    /// `drive` goes through the ids (task.rs `ALL_EACH`).
    #[wasm_bindgen(js_name = deleteAll)]
    pub fn delete_all(&self) -> u32 {
        if self.store.is_strict() {
            return run(&self.store, |s| async move { s.delete_all().await });
        }
        let store = self.store.clone();
        task::start(async move {
            let ids = store.scoped_ids().await.map_err(into_js)?;
            Ok(task::Outcome::Each(ids.into_iter().collect::<js_sys::Array>().into()))
        })
    }

    /// deleteAll's decision for one scoped id's row (`row === undefined`
    /// as the glue read it): 0 leave it, 1 delete it.
    #[wasm_bindgen(js_name = allStep)]
    pub fn all_step(&self, row_is_undefined: bool) -> u32 {
        u32::from(!self.store.delete_all_skips(row_is_undefined))
    }

    /// deleteAll: `vault.deleteSecret(id)` failed with `e` after the row
    /// went: the orphan marker (spreading `row`) and that id's error.
    #[wasm_bindgen(js_name = deleteAllOrphaned)]
    pub fn delete_all_orphaned(&self, id: JsValue, row: JsValue, e: JsValue) -> u32 {
        let store = self.store.clone();
        task::start(async move {
            let a = Addressed::new(id);
            Err(error::into_js(store.vault_delete_failed(&a, &row, crate::core::DeleteOp::DeleteAll, e, &row).await))
        })
    }

    /// deleteAll's errors, one per failed id, in order: its AggregateError.
    #[wasm_bindgen(js_name = deleteAllFailed)]
    pub fn delete_all_failed(errors: js_sys::Array) -> u32 {
        let message = crate::core::StoreError::<JsValue>::DeleteAll(Vec::new()).message();
        task::finish(None, Err(host::glue::aggregate_error(&errors, &JsValue::from_str(&message))))
    }
}
