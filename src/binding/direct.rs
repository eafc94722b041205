//! get, has and delete without futures. They follow the core's steps from
//! the export and from `resume` directly, so the commonest operations pay no
//! boxed future, waker or chain of polls: measured, that machinery was most
//! of what this package added to an operation over the plain-JS store.
//! Every decision is the core's (`Store::address`, `read_row`, `deletes`);
//! this makes the host calls in the core's order and parks the operation in
//! an executor slot meanwhile:
//! - get/has: `metadata.get`, then what `read_row` names (`Store::read`);
//! - delete (compatible mode): `metadata.get`, then for a committed row
//!   `metadata.delete` and `vault.deleteSecret` (`Store::delete`,
//!   `commit_delete`).
//!
//! Strict get and delete run as tasks, and so does whatever follows an
//! expired row or a failed vault delete (cleanup, orphan marker).

use alloc::boxed::Box;
use alloc::rc::Rc;

use wasm_bindgen::prelude::*;

use super::error::into_js;
use super::host::JsFacade;
use super::task::{self, Outcome};
use super::JsStore;
use crate::core::{Addressed, DeleteOp, Read, ReadNext, StoreError};

/// The host call an operation awaits.
#[derive(Clone, Copy)]
enum Awaits {
    /// get/has: `metadata.get`.
    Row(Read),
    /// get: `vault.getSecret`.
    Secret,
    /// delete: `metadata.get`, `metadata.delete`, `vault.deleteSecret`.
    DeleteRow,
    RowRemoved,
    BytesRemoved,
}

/// An operation between two crossings: what its next step needs.
pub struct DirectOp {
    store: Rc<JsStore>,
    awaits: Awaits,
    key: JsValue,
    /// The public object, for `this.delete(key)` on an expired row (reads).
    this: JsValue,
    a: Addressed<JsValue>,
    /// delete: the row read, for an orphan marker if the vault fails.
    row: JsValue,
}

/// What an absent credential reads as: get → undefined, has → false.
fn absent(read: Read) -> Outcome {
    match read {
        Read::Get => Outcome::Undefined,
        Read::Has => Outcome::Bool(false),
    }
}

/// get/has (for a strict get, use the task path): step 1, then `metadata.get`.
/// Returns `drive`'s code.
pub fn read(store: &Rc<JsStore>, read: Read, key: JsValue, this: JsValue) -> u32 {
    match store.address(&key) {
        Ok(Some(a)) => begin(store, Awaits::Row(read), key, this, a),
        Ok(None) => task::finish(None, Ok(absent(read))),
        Err(e) => task::finish(None, Err(into_js(e))),
    }
}

/// delete in the compatible mode: step 1, then `metadata.get`.
pub fn delete(store: &Rc<JsStore>, key: JsValue) -> u32 {
    match store.address(&key) {
        Ok(Some(a)) => begin(store, Awaits::DeleteRow, key, JsValue::UNDEFINED, a),
        Ok(None) => task::finish(None, Ok(Outcome::Bool(false))),
        Err(e) => task::finish(None, Err(into_js(e))),
    }
}

fn begin(store: &Rc<JsStore>, awaits: Awaits, key: JsValue, this: JsValue, a: Addressed<JsValue>) -> u32 {
    match store.kv().start_get(a.id()) {
        Ok(()) => {
            let op = DirectOp { store: store.clone(), awaits, key, this, a, row: JsValue::UNDEFINED };
            task::park(None, Box::new(op))
        }
        Err(e) => task::finish(None, Err(e)),
    }
}

/// The awaited host call of the operation in slot `i` settled: the next step.
pub fn resume(i: u32, mut op: Box<DirectOp>, settled: Result<JsValue, JsValue>) -> u32 {
    let value = match settled {
        Ok(value) => value,
        // The vault failed after the row went: orphan marker and its error.
        Err(e) if matches!(op.awaits, Awaits::BytesRemoved) => return orphaned(i, *op, e),
        // Otherwise a rejection is the operation's, as the same value.
        Err(e) => return task::finish(Some(i), Err(into_js(StoreError::Host(e)))),
    };
    let next = match op.awaits {
        Awaits::Row(read) => return after_row(i, op, read, value),
        Awaits::Secret => return task::finish(Some(i), Ok(Outcome::Value(value))),
        Awaits::DeleteRow => match op.store.deletes(&value) {
            Err(e) => return task::finish(Some(i), Err(into_js(e))),
            Ok(false) => return task::finish(Some(i), Ok(Outcome::Bool(false))),
            Ok(true) => {
                op.row = value;
                (Awaits::RowRemoved, op.store.kv().start_delete(op.a.id()))
            }
        },
        Awaits::RowRemoved => match op.store.vault().start_delete_secret(op.a.id()) {
            Err(e) => return orphaned(i, *op, e),
            started => (Awaits::BytesRemoved, started),
        },
        Awaits::BytesRemoved => return task::finish(Some(i), Ok(Outcome::Bool(true))),
    };
    match next {
        (awaits, Ok(())) => {
            op.awaits = awaits;
            task::park(Some(i), op)
        }
        (_, Err(e)) => task::finish(Some(i), Err(e)),
    }
}

/// get/has: what the row means (`Store::read_row`).
fn after_row(i: u32, mut op: Box<DirectOp>, read: Read, row: JsValue) -> u32 {
    match op.store.read_row(read, &row) {
        Err(e) => task::finish(Some(i), Err(into_js(e))),
        Ok(ReadNext::Absent) => task::finish(Some(i), Ok(absent(read))),
        Ok(ReadNext::Present) => task::finish(Some(i), Ok(Outcome::Bool(true))),
        Ok(ReadNext::Secret) => match op.store.vault().start_get_secret(op.a.id()) {
            Ok(()) => {
                op.awaits = Awaits::Secret;
                task::park(Some(i), op)
            }
            Err(e) => task::finish(Some(i), Err(e)),
        },
        Ok(ReadNext::DropExpired) => {
            // The cleanup awaits host calls of its own: a task from here on.
            task::release(i);
            let DirectOp { store, key, this, a, .. } = *op;
            task::start(async move {
                store.drop_expired(&key, &a, &JsFacade(this)).await;
                Ok(absent(read))
            })
        }
    }
}

/// delete: `vault.deleteSecret` failed (`Store::commit_delete`): the marker
/// write and the error run as a task.
fn orphaned(i: u32, op: DirectOp, e: JsValue) -> u32 {
    task::release(i);
    let DirectOp { store, a, row, .. } = op;
    task::start(async move { Err(into_js(store.vault_delete_failed(&a, &row, DeleteOp::Delete, e, &row).await)) })
}
