//! The wasm-bindgen-test suite shared by tests/node.rs and tests/browser.rs:
//! the exported `StoreCore`, wrapped in the public `ServerCredentialStore`
//! class exactly as the package's entries wrap it (js/store.mjs), driven
//! through JS host objects as users drive it, in each JS engine. `cases`
//! holds the tests, each written once over a [`Backend`]; `suite!`
//! instantiates all of them for one backend.
//!
//! The host objects come from hosts.js (Map-based, or a real IndexedDB
//! database per test), behind one layer that records every call and can fail
//! or hold any single one, so every case asserts the same thing everywhere.
// node.rs never builds the IndexedDB backend; each binary uses part of this.
#![allow(dead_code)]

pub mod cases;

use std::cell::OnceCell;

use js_sys::{Array, Function, Object, Promise, Reflect};
use server_credential_store_wasm::StoreCore;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/tests/suite/hosts.js")]
extern "C" {
    #[wasm_bindgen(js_name = freezeClock)]
    fn freeze_clock(ms: f64);
    #[wasm_bindgen(js_name = advanceClock)]
    pub fn advance_clock(ms: f64);
    #[wasm_bindgen(js_name = restoreClock)]
    fn restore_clock();
    #[wasm_bindgen(js_name = hasIndexedDb)]
    pub fn has_indexed_db() -> bool;
    /// The js/store.mjs module namespace.
    #[wasm_bindgen(js_name = loadStoreMjs, catch)]
    async fn load_store_mjs() -> Result<JsValue, JsValue>;

    pub type Hosts;
    #[wasm_bindgen(js_name = mapHosts)]
    fn map_hosts() -> Hosts;
    #[wasm_bindgen(js_name = indexedDbHosts)]
    async fn indexed_db_hosts() -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn metadata(this: &Hosts) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn vault(this: &Hosts) -> JsValue;
    /// The `nth` next call of `name` rejects with `error` (throws it if `sync`).
    #[wasm_bindgen(method)]
    pub fn fail(this: &Hosts, name: &str, error: &JsValue, nth: u32, sync: bool);
    /// Holds the next call of `name` before it reaches the backend.
    #[wasm_bindgen(method)]
    pub fn hold(this: &Hosts, name: &str) -> Gate;
    #[wasm_bindgen(method, js_name = calls)]
    fn calls_array(this: &Hosts) -> Array;
    /// The arguments of recorded call `i`, as the store passed them.
    #[wasm_bindgen(method, js_name = argsOf)]
    pub fn args_of(this: &Hosts, i: u32) -> Array;
    #[wasm_bindgen(method, js_name = clearCalls)]
    pub fn clear_calls(this: &Hosts);
    #[wasm_bindgen(method, js_name = row)]
    async fn row_js(this: &Hosts, id: &str) -> JsValue;
    #[wasm_bindgen(method, js_name = putRow)]
    async fn put_row_js(this: &Hosts, id: &str, row: &JsValue);
    #[wasm_bindgen(method, js_name = secret)]
    async fn secret_js(this: &Hosts, id: &str) -> JsValue;
    #[wasm_bindgen(method, js_name = putSecret)]
    async fn put_secret_js(this: &Hosts, id: &str, plaintext: &JsValue);
    #[wasm_bindgen(method)]
    fn close(this: &Hosts) -> Promise;

    pub type Gate;
    /// Resolves once the held call has been made.
    #[wasm_bindgen(method, getter)]
    pub fn reached(this: &Gate) -> Promise;
    #[wasm_bindgen(method)]
    pub fn release(this: &Gate);

    /// Own properties in order, `undefined` ones included: `{key:"k",label:undefined}`.
    pub fn show(v: &JsValue) -> String;
    /// A real `Date` at `ms`, for `put`'s `expiresAt` option.
    #[wasm_bindgen(js_name = dateAt)]
    pub fn date_at(ms: f64) -> JsValue;
}

/// Where the hosts keep their data.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// Plain Maps: runs in every engine.
    Map,
    /// A fresh real IndexedDB database per fixture: browsers only.
    IndexedDb,
}

/// 2025-01-01T00:00:00.000Z: the frozen "now" every fixture starts at.
pub const T0: f64 = 1_735_689_600_000.0;

/// `Date#toISOString` of `ms`.
pub fn iso(ms: f64) -> String {
    js_sys::Date::new(&JsValue::from_f64(ms)).to_iso_string().into()
}

/// One test's world: hosts over a fresh backend, the clock frozen at `T0`,
/// and a store for scope u1/p1.
pub struct Fx {
    pub hosts: Hosts,
    pub store: Store,
}

impl Fx {
    pub async fn new(backend: Backend) -> Fx {
        freeze_clock(T0);
        let hosts: Hosts = match backend {
            Backend::Map => map_hosts(),
            Backend::IndexedDb => {
                // Fail loudly, never skip: a browser without IndexedDB is a broken run.
                assert!(has_indexed_db(), "this browser has no indexedDB");
                indexed_db_hosts().await.unchecked_into()
            }
        };
        init_class().await;
        let store = store_over(&hosts, "u1", "p1").expect("valid scope");
        Fx { hosts, store }
    }

    /// Another store over the same hosts, in another scope.
    pub fn store_for(&self, user_id: &str, project_id: &str) -> Store {
        store_over(&self.hosts, user_id, project_id).expect("valid scope")
    }

    /// Host calls so far, as "object.method firstArg".
    pub fn calls(&self) -> Vec<String> {
        self.hosts.calls_array().iter().map(|c| c.as_string().unwrap()).collect()
    }

    /// The metadata row at `id`, read from the backend (not recorded).
    pub async fn row(&self, id: &str) -> JsValue {
        self.hosts.row_js(id).await
    }
    pub async fn put_row(&self, id: &str, row: &JsValue) {
        self.hosts.put_row_js(id, row).await
    }
    pub async fn secret(&self, id: &str) -> JsValue {
        self.hosts.secret_js(id).await
    }
    pub async fn put_secret(&self, id: &str, plaintext: &str) {
        self.hosts.put_secret_js(id, &plaintext.into()).await
    }
}

impl Drop for Fx {
    /// Leaves the real clock to whatever runs next and drops the database;
    /// the next fixture does not depend on either (fresh names, fresh clock).
    fn drop(&mut self) {
        restore_clock();
        let _ = self.hosts.close();
    }
}

thread_local! {
    /// The public `ServerCredentialStore` class over this binary's `StoreCore`.
    static CLASS: OnceCell<Function> = const { OnceCell::new() };
}

/// Builds `CLASS` once: js/store.mjs's `defineServerCredentialStore(StoreCore)`,
/// exactly what the package entries export.
async fn init_class() {
    if CLASS.with(|c| c.get().is_some()) {
        return;
    }
    let module = load_store_mjs().await.unwrap_or_else(|e| panic!("loading js/store.mjs: {}", show(&e)));
    let define: Function = prop(&module, "defineServerCredentialStore").unchecked_into();
    // From Rust, an instance is the way to the exported JS class object.
    let probe = StoreCore::new(obj(&[
        ("vault", Object::new().into()),
        ("metadata", Object::new().into()),
        ("userId", "u".into()),
        ("projectId", "p".into()),
    ]))
    .expect("probe StoreCore");
    let class = define.call1(&JsValue::NULL, &prop(&JsValue::from(probe), "constructor")).unwrap();
    CLASS.with(|c| {
        c.get_or_init(|| class.unchecked_into());
    });
}

/// A `ServerCredentialStore` instance, as users hold it.
pub struct Store(JsValue);

impl Store {
    /// `new ServerCredentialStore(options)`; a synchronous throw is the `Err`.
    pub fn new(options: &JsValue) -> Result<Store, JsValue> {
        let class = CLASS.with(|c| c.get().expect("init_class() runs first").clone());
        Reflect::construct(&class, &Array::of1(options)).map(Store)
    }

    /// `store[method](...args)`: every method returns a promise, never throws.
    pub fn call(&self, method: &str, args: &[JsValue]) -> Promise {
        let f: Function = prop(&self.0, method).unchecked_into();
        let result = f.apply(&self.0, &args.iter().collect::<Array>());
        let result = result.unwrap_or_else(|e| panic!("{method} threw synchronously: {}", show(&e)));
        result.dyn_into().unwrap_or_else(|v| panic!("{method} returned a non-promise: {}", show(&v)))
    }
}

/// `new ServerCredentialStore({ vault, metadata, userId, projectId })`.
pub fn store_over(hosts: &Hosts, user_id: &str, project_id: &str) -> Result<Store, JsValue> {
    Store::new(&obj(&[
        ("vault", hosts.vault()),
        ("metadata", hosts.metadata()),
        ("userId", user_id.into()),
        ("projectId", project_id.into()),
    ]))
}

// ---- the store's methods, awaited -------------------------------------------

pub async fn settle(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

pub async fn get(s: &Store, key: &str) -> Result<JsValue, JsValue> {
    settle(s.call("get", &[key.into()])).await
}
pub async fn has(s: &Store, key: &str) -> Result<JsValue, JsValue> {
    settle(s.call("has", &[key.into()])).await
}
pub async fn put(s: &Store, key: &str, value: &str, options: JsValue) -> Result<JsValue, JsValue> {
    settle(s.call("put", &[key.into(), value.into(), options])).await
}
pub async fn delete(s: &Store, key: &str) -> Result<JsValue, JsValue> {
    settle(s.call("delete", &[key.into()])).await
}
pub async fn keys(s: &Store) -> Result<JsValue, JsValue> {
    settle(s.call("keys", &[])).await
}
pub async fn list(s: &Store) -> Result<JsValue, JsValue> {
    settle(s.call("listMetadata", &[])).await
}
pub async fn delete_all(s: &Store) -> Result<JsValue, JsValue> {
    settle(s.call("deleteAll", &[])).await
}

// ---- JS values --------------------------------------------------------------

/// A plain object with these own properties, in order.
pub fn obj(props: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (name, value) in props {
        Reflect::set(&o, &(*name).into(), value).unwrap();
    }
    o.into()
}

pub fn prop(v: &JsValue, name: &str) -> JsValue {
    Reflect::get(v, &name.into()).unwrap()
}

/// A fresh error object, identifiable by identity only.
pub fn error(label: &str) -> JsValue {
    js_sys::Error::new(label).into()
}

/// Instantiates every case in `cases` as a `#[wasm_bindgen_test]` for one
/// backend; invoke it inside a module named after the backend.
macro_rules! suite {
    ($backend:expr) => {
        $crate::suite::suite!(@cases $backend;
            round_trip,
            value_passes_through_untouched,
            update_keeps_created_at_and_drops_unknown_fields,
            list_metadata_shows_only_committed_live_rows_of_the_scope,
            expiry_follows_the_host_clock,
            scopes_are_isolated,
            invalid_keys_and_scopes_touch_nothing,
            host_failures_rethrow_the_identical_value,
            vault_write_failure_rolls_back_and_rethrows,
            vault_write_and_rollback_failure_leave_a_marker,
            metadata_commit_failure_leaves_a_marker,
            vault_delete_failure_leaves_a_marker_of_the_whole_row,
            delete_all_aggregates_failures_and_goes_on,
            update_in_flight_reads_new_value_with_old_row,
            delete_during_new_put_touches_nothing
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $case() {
                $crate::suite::cases::$case($backend).await
            }
        )*
    };
}
pub(crate) use suite;
