//! get and has without futures. They follow the core's read steps
//! (`Store::address`, `metadata.get`, `Store::read_row`, then what it names)
//! from the export and from `resume` directly, so the commonest operations
//! pay no boxed future, waker or chain of polls: measured, that machinery
//! was most of what this package added to a `has` over the plain-JS store.
//! Every decision stays in the core's step functions; this only makes the
//! host calls they name and parks the read in an executor slot meanwhile.
//! Strict get (versioned ids) and an expired row's cleanup run as tasks.

use alloc::boxed::Box;
use alloc::rc::Rc;

use wasm_bindgen::prelude::*;

use super::error::into_js;
use super::host::JsFacade;
use super::task::{self, Outcome};
use super::JsStore;
use crate::core::{Addressed, Read, ReadNext, StoreError};

/// A read between two crossings: what the next step needs.
pub struct ReadOp {
    store: Rc<JsStore>,
    read: Read,
    key: JsValue,
    /// The public object, for `this.delete(key)` on an expired row.
    this: JsValue,
    a: Addressed<JsValue>,
    /// `metadata.get` (false) or `vault.getSecret` (true) is awaited.
    secret: bool,
}

/// What an absent credential reads as: get → undefined, has → false.
fn absent(read: Read) -> Outcome {
    match read {
        Read::Get => Outcome::Undefined,
        Read::Has => Outcome::Bool(false),
    }
}

/// Starts get/has (for a strict get, use the task path): step 1, then
/// `metadata.get`. Returns `drive`'s code.
pub fn start(store: &Rc<JsStore>, read: Read, key: JsValue, this: JsValue) -> u32 {
    let Some(a) = store.address(&key) else { return task::finish(None, Ok(absent(read))) };
    match store.kv().start_get(a.id()) {
        Ok(()) => task::park(None, Box::new(ReadOp { store: store.clone(), read, key, this, a, secret: false })),
        Err(e) => task::finish(None, Err(e)),
    }
}

/// The awaited host call of the read in slot `i` settled: the next step.
pub fn resume(i: u32, mut op: Box<ReadOp>, settled: Result<JsValue, JsValue>) -> u32 {
    // A rejection is the read's, as the same value (`.host()` in the core).
    let value = match settled {
        Ok(value) => value,
        Err(e) => return task::finish(Some(i), Err(into_js(StoreError::Host(e)))),
    };
    if op.secret {
        return task::finish(Some(i), Ok(Outcome::Value(value)));
    }
    match op.store.read_row(op.read, &value) {
        Err(e) => task::finish(Some(i), Err(into_js(e))),
        Ok(ReadNext::Absent) => task::finish(Some(i), Ok(absent(op.read))),
        Ok(ReadNext::Present) => task::finish(Some(i), Ok(Outcome::Bool(true))),
        Ok(ReadNext::Secret) => match op.store.vault().start_get_secret(op.a.id()) {
            Ok(()) => {
                op.secret = true;
                task::park(Some(i), op)
            }
            Err(e) => task::finish(Some(i), Err(e)),
        },
        Ok(ReadNext::DropExpired) => {
            // The cleanup awaits host calls of its own: a task from here on.
            task::release(i);
            let ReadOp { store, read, key, this, a, .. } = *op;
            task::start(async move {
                store.drop_expired(&key, &a, &JsFacade(this)).await;
                Ok(absent(read))
            })
        }
    }
}
