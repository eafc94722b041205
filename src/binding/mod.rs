//! The wasm-bindgen edge: implements the core's host traits over the
//! caller's JS objects and turns `StoreError` into JS errors. How host calls
//! are made and awaited lives in `host`, in one place, so it can be made
//! cheaper without touching the protocol.

mod error;
mod host;
mod task;

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::core::{Field, Store};
use error::into_js;
use host::{JsClock, JsKv, JsValues, JsVault};

type JsStore = Store<JsValues, JsKv, JsVault, JsClock>;

/// The protocol engine behind the public `ServerCredentialStore` class
/// (js/ gives that class its exact shape). Each method returns a promise
/// and holds no borrow of `self` while it runs: `free()` or GC of the JS
/// object never invalidates a call in flight.
#[wasm_bindgen]
pub struct StoreCore {
    store: Rc<JsStore>,
}

/// Runs one store operation as a JS promise; errors leave as JS errors.
fn run<T, F>(store: &Rc<JsStore>, op: impl FnOnce(Rc<JsStore>) -> F + 'static) -> Promise
where
    F: std::future::Future<Output = Result<T, crate::core::StoreError<JsValue>>> + 'static,
    T: Into<JsValue>,
{
    let store = store.clone();
    task::spawn(async move { op(store).await.map(Into::into).map_err(into_js) })
}

#[wasm_bindgen]
impl StoreCore {
    /// `options` is the caller's `{ vault, metadata, userId, projectId }`, read once here.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<StoreCore, JsValue> {
        host::init_field_names();
        let read = |f: Field| host::field(&options, f);
        let vault = read(Field::Vault)?;
        let metadata = read(Field::Metadata)?;
        let user_id = read(Field::UserId)?;
        let project_id = read(Field::ProjectId)?;
        let store = Store::new(
            JsValues,
            JsKv::new(metadata),
            JsVault::new(vault),
            JsClock,
            &user_id,
            &project_id,
        )
        .map_err(into_js)?;
        Ok(StoreCore {
            store: Rc::new(store),
        })
    }

    pub fn get(&self, key: JsValue) -> Promise {
        run(&self.store, |s| async move { s.get(&key).await })
    }

    pub fn has(&self, key: JsValue) -> Promise {
        run(&self.store, |s| async move { s.has(&key).await })
    }

    pub fn put(&self, key: JsValue, value: JsValue, options: JsValue) -> Promise {
        run(&self.store, |s| async move {
            s.put(&key, &value, &options)
                .await
                .map(|()| JsValue::UNDEFINED)
        })
    }

    pub fn delete(&self, key: JsValue) -> Promise {
        run(&self.store, |s| async move { s.delete(&key).await })
    }

    pub fn keys(&self) -> Promise {
        run(&self.store, |s| async move { s.keys().await })
    }

    #[wasm_bindgen(js_name = listMetadata)]
    pub fn list_metadata(&self) -> Promise {
        run(&self.store, |s| async move { s.list_metadata().await })
    }

    #[wasm_bindgen(js_name = deleteAll)]
    pub fn delete_all(&self) -> Promise {
        run(&self.store, |s| async move {
            s.delete_all().await.map(|()| JsValue::UNDEFINED)
        })
    }
}
