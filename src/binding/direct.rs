//! get, has and delete without futures. They follow the core's steps from
//! the export and from `drive`'s calls back in directly, so the commonest
//! operations pay no boxed future, waker or chain of polls: measured, that
//! machinery was most of what this package added to an operation over the
//! plain-JS store. Every decision is the core's (`Store::address`,
//! `read_state`, `deletes`); this makes the host calls in the core's order
//! and parks the operation in an executor slot meanwhile:
//! - get/has: `metadata.get`, then what `read_state` names (`Store::read`);
//!   the row itself never enters wasm: `drive` hands back its state and
//!   times (glue.js `readRow`), and get's `vault.getSecret` settles the
//!   operation with no slot held;
//! - delete (compatible mode): `metadata.get`, then for a committed row
//!   `metadata.delete` and `vault.deleteSecret` (`Store::delete`,
//!   `commit_delete`).
//!
//! Strict get and delete run as tasks, and so does whatever follows an
//! expired row or a failed vault delete (cleanup, orphan marker). An
//! expired row's cleanup needs the public object and the key, which
//! `drive` holds: the operation asks for them (`CALLER`) only then.

use alloc::boxed::Box;
use alloc::rc::Rc;

use wasm_bindgen::prelude::*;

use super::error::into_js;
use super::host::{self, JsFacade};
use super::task::{self, Outcome, AWAITING, AWAITING_ROW, AWAITING_VOID, CALLER, SETTLES};
use super::JsStore;
use crate::core::{Addressed, DeleteOp, Read, ReadNext, StoreError};

/// What an operation awaits.
#[derive(Clone, Copy)]
enum Awaits {
    /// get/has: `metadata.get` (its row's state and times).
    Row(Read),
    /// get/has of an expired row: the public object and the key.
    Caller(Read),
    /// delete: `metadata.get` (the row), `metadata.delete`, `vault.deleteSecret`.
    DeleteRow,
    RowRemoved,
    BytesRemoved,
}

/// An operation between two crossings: what its next step needs.
pub struct DirectOp {
    store: Rc<JsStore>,
    awaits: Awaits,
    a: Addressed<JsValue>,
    /// delete: the row read, for an orphan marker if the vault fails.
    row: JsValue,
}

/// What an absent credential reads as: get → undefined, has → false.
pub fn absent(read: Read) -> Outcome {
    match read {
        Read::Get => Outcome::Undefined,
        Read::Has => Outcome::Bool(false),
    }
}

/// get/has (for a strict get, use the task path): step 1, then `metadata.get`.
/// Returns `drive`'s code.
pub fn read(store: &Rc<JsStore>, read: Read, key: JsValue) -> u32 {
    match store.address(&key) {
        Ok(Some(a)) => begin(store, Awaits::Row(read), AWAITING_ROW, a),
        Ok(None) => task::finish(None, Ok(absent(read))),
        Err(e) => task::finish(None, Err(into_js(e))),
    }
}

/// delete in the compatible mode: step 1, then `metadata.get`.
pub fn delete(store: &Rc<JsStore>, key: JsValue) -> u32 {
    match store.address(&key) {
        Ok(Some(a)) => begin(store, Awaits::DeleteRow, AWAITING, a),
        Ok(None) => task::finish(None, Ok(Outcome::Bool(false))),
        Err(e) => task::finish(None, Err(into_js(e))),
    }
}

fn begin(store: &Rc<JsStore>, awaits: Awaits, state: u32, a: Addressed<JsValue>) -> u32 {
    match store.kv().start_get(a.id()) {
        Ok(()) => {
            let op = DirectOp { store: store.clone(), awaits, a, row: JsValue::UNDEFINED };
            task::park(None, Box::new(op), state)
        }
        Err(e) => task::finish(None, Err(e)),
    }
}

/// The awaited host call of the operation in slot `i` settled: the next
/// step (a rejection always comes this way; a fulfilment only for delete's
/// row).
pub fn resume(i: u32, mut op: Box<DirectOp>, settled: Result<JsValue, JsValue>) -> u32 {
    let value = match settled {
        Ok(value) => value,
        // The vault failed after the row went: orphan marker and its error.
        Err(e) if matches!(op.awaits, Awaits::BytesRemoved) => return orphaned(i, *op, e),
        // Otherwise a rejection is the operation's, as the same value.
        Err(e) => return task::finish(Some(i), Err(into_js(StoreError::Host(e)))),
    };
    match op.awaits {
        Awaits::DeleteRow => match op.store.deletes(&value) {
            Err(e) => task::finish(Some(i), Err(into_js(e))),
            Ok(false) => task::finish(Some(i), Ok(Outcome::Bool(false))),
            Ok(true) => {
                op.row = value;
                let started = op.store.kv().start_delete(op.a.id());
                next(i, op, Awaits::RowRemoved, started)
            }
        },
        // A fulfilment of the others comes through `step`.
        _ => task::finish(Some(i), Err(into_js(StoreError::Host(value)))),
    }
}

/// The awaited host call of slot `i` fulfilled; `n`, `at` and `now` are
/// what the operation asked `drive` for.
pub fn step(i: u32, op: Box<DirectOp>, n: u32, at: f64, now: f64) -> u32 {
    match op.awaits {
        Awaits::Row(read) => after_row(i, op, read, n, at, now),
        Awaits::RowRemoved => {
            let started = op.store.vault().start_delete_secret(op.a.id());
            match started {
                Err(e) => orphaned(i, *op, e),
                Ok(()) => next(i, op, Awaits::BytesRemoved, Ok(())),
            }
        }
        Awaits::BytesRemoved => task::finish(Some(i), Ok(Outcome::Bool(true))),
        Awaits::DeleteRow | Awaits::Caller(_) => refused(i),
    }
}

/// `drive` handed back something this operation does not wait for: it
/// fails rather than guess.
fn refused(i: u32) -> u32 {
    let message = JsValue::from_str("ServerCredentialStore: no operation to resume in this slot");
    task::finish(Some(i), Err(host::glue::type_error(&message)))
}

/// Parks the operation for the host call `started` (or fails with its error).
fn next(i: u32, mut op: Box<DirectOp>, awaits: Awaits, started: Result<(), JsValue>) -> u32 {
    match started {
        Ok(()) => {
            op.awaits = awaits;
            task::park(Some(i), op, AWAITING_VOID)
        }
        Err(e) => task::finish(Some(i), Err(e)),
    }
}

/// get/has: what the row means (`Store::read_state`), from its state and
/// times as `readRow` (glue.js) read them.
fn after_row(i: u32, mut op: Box<DirectOp>, read: Read, n: u32, at: f64, now: f64) -> u32 {
    let state = host::row_state_of(n).map_err(|e| into_js(StoreError::Host(e)));
    let next = state.and_then(|state| op.store.read_state(read, state, || Ok((at, now))).map_err(into_js));
    match next {
        Err(e) => task::finish(Some(i), Err(e)),
        Ok(ReadNext::Absent) => task::finish(Some(i), Ok(absent(read))),
        Ok(ReadNext::Present) => task::finish(Some(i), Ok(Outcome::Bool(true))),
        Ok(ReadNext::Secret) => {
            let started = op.store.vault().start_get_secret(op.a.id());
            task::release(i);
            match started {
                // Its settlement is get's: nothing is left to do here.
                Ok(()) => task::report(SETTLES, 0),
                Err(e) => task::finish(None, Err(e)),
            }
        }
        Ok(ReadNext::DropExpired) => {
            op.awaits = Awaits::Caller(read);
            task::park(Some(i), op, CALLER)
        }
    }
}

/// get/has of an expired row, with the public object and the key: the
/// cleanup awaits host calls of its own, so it runs as a task.
pub fn caller(i: u32, op: Box<DirectOp>, this: JsValue, key: JsValue) -> u32 {
    let Awaits::Caller(read) = op.awaits else { return refused(i) };
    task::release(i);
    let DirectOp { store, a, .. } = *op;
    task::start(async move {
        store.drop_expired(&key, &a, &JsFacade(this)).await;
        Ok(absent(read))
    })
}

/// delete: `vault.deleteSecret` failed (`Store::commit_delete`): the marker
/// write and the error run as a task.
fn orphaned(i: u32, op: DirectOp, e: JsValue) -> u32 {
    task::release(i);
    let DirectOp { store, a, row, .. } = op;
    task::start(async move { Err(into_js(store.vault_delete_failed(&a, &row, DeleteOp::Delete, e).await)) })
}
