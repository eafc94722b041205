//! A minimal executor for store operations, replacing `JsFuture` +
//! `future_to_promise` (≈2.5–3 µs per await: two `Closure`s and a
//! FinalizationRegistry entry each, plus an extra microtask hop).
//!
//! The awaiting is done by JavaScript itself: each public method is one
//! `async` function, `drive` in glue.js, that awaits what Rust asks it to.
//!
//! - An operation is polled eagerly, inside the JS call that starts it, up
//!   to its first host call — as a JS `async` function runs.
//! - A host call leaves the host's result with the glue and the task
//!   returns `Pending`; the export then returns a code (below) telling
//!   `drive` to `await` that result, and `drive` hands the
//!   settlement back through `resume(slot, how, value)`, which polls again.
//!   So a host call costs one native `await` and two crossings, with no
//!   promise, closure or callback made by the binding.
//! - A task is taken out of its slot while it is polled, so a host method
//!   that synchronously starts another operation (reentrancy) only ever
//!   touches other slots.
//!
//! Each task awaits at most one host call at a time (the protocol awaits
//! sequentially), so one inbox per slot suffices. A task waiting for
//! something else (strict mode's write turn) is `WAITING`: `drive` waits
//! until the task's `Waker` calls the glue's `wakeSlot`, then polls it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use wasm_bindgen::prelude::*;

use super::host::glue;
use super::Local;

type Op = Pin<Box<dyn Future<Output = Result<Outcome, JsValue>>>>;

/// What an operation resolves to. `undefined`, `true` and `false` travel in
/// the code `drive` gets (no crossing to hand over a value).
pub enum Outcome {
    Value(JsValue),
    Undefined,
    Bool(bool),
    /// deleteAll's scoped ids, for `drive` to go through (`ALL_EACH`).
    Each(JsValue),
}

impl From<JsValue> for Outcome {
    fn from(v: JsValue) -> Self {
        Outcome::Value(v)
    }
}

impl From<bool> for Outcome {
    fn from(b: bool) -> Self {
        Outcome::Bool(b)
    }
}

impl From<()> for Outcome {
    fn from((): ()) -> Self {
        Outcome::Undefined
    }
}

#[derive(Default)]
struct Slot {
    /// `None` while its task is polled, or when the slot is free.
    work: Option<Op>,
    /// The settled result of the host call the task awaits.
    inbox: Option<Result<JsValue, JsValue>>,
    /// A host call is outstanding: only then may a settlement be delivered.
    awaiting: bool,
    /// The task ignores the outstanding call's value (`AWAITING_VOID`).
    void: bool,
    in_use: bool,
}

const NO_TASK: u32 = u32::MAX;

static SLOTS: Local<RefCell<Vec<Slot>>> = Local::new(RefCell::new(Vec::new()));
static FREE: Local<RefCell<Vec<u32>>> = Local::new(RefCell::new(Vec::new()));
/// The slot of the task being polled right now.
static CURRENT: Local<Cell<u32>> = Local::new(Cell::new(NO_TASK));

/// What an export tells `drive` (glue.js): `slot << 4 | state`, a plain
/// number. `DONE`/`FAILED`: the result or error waits in the glue
/// (`setResult`); `AWAITING`: the host's result waits there, to be handed
/// back with `resume`; `WAITING`: for the slot's waker;
/// `DONE_UNDEFINED`/`DONE_FALSE`/`DONE_TRUE`: the result is that value;
/// `AWAITING_VOID`: the task ignores the value of the call it awaits, so
/// `drive` hands back only that it fulfilled, with `step` (a rejection
/// still comes with `resume`).
const DONE: u32 = 0;
const FAILED: u32 = 1;
const AWAITING: u32 = 2;
const WAITING: u32 = 3;
const DONE_UNDEFINED: u32 = 4;
const DONE_FALSE: u32 = 5;
const DONE_TRUE: u32 = 6;
const AWAITING_VOID: u32 = 10;
/// The fast get, has and delete (glue.js `read` and `remove`; no slot,
/// `drive` holds the id and makes the host calls Rust names): `CALL_ROW`:
/// `metadata.get(id)`, the row's state and times handed back with
/// `readStep`; `CALL_SECRET`: `vault.getSecret(id)`, whose settlement is
/// get's; `EXPIRED`: the public object, the key and the id handed to an
/// expired row's cleanup (`readExpired`); `FALLBACK`: the slower path
/// (`readOther`: a key that is no string, a strict get or delete);
/// `FAST | DEL_GET << 4`: `metadata.get(id)`, its state handed back with
/// `deleteStep`; `FAST | DEL_CALLS << 4`: `metadata.delete(id)` then
/// `vault.deleteSecret(id)` (a rejection of the first is delete's, of the
/// second goes to `deleteOrphaned` with the row).
pub const CALL_ROW: u32 = 11;
pub const CALL_SECRET: u32 = 12;
pub const EXPIRED: u32 = 13;
pub const FALLBACK: u32 = 14;
pub const FAST: u32 = 15;
pub const DEL_GET: u32 = 1;
pub const DEL_CALLS: u32 = 2;
/// The fast put (compatible mode, no slot): `FAST | PUT_GET << 4`:
/// `metadata.get(id)` (`now`, read before it, waits in the glue's
/// `result`), then `putStep`; `FAST | PUT_CALLS << 4`: an update:
/// `vault.setSecret(id, value)` then `metadata.put(id, row)` (the row
/// waits in `result`), each rejection put's.
pub const PUT_GET: u32 = 3;
pub const PUT_CALLS: u32 = 4;
/// The compatible deleteAll after its scan: `FAST | ALL_EACH << 4`, the
/// scoped ids in the glue's `result`; `drive` goes through them as the TS
/// store does (each row, `allStep`, then the row and the bytes; a vault
/// failure's marker and error from `deleteAllOrphaned`; every error kept
/// for `deleteAllFailed`).
pub const ALL_EACH: u32 = 5;

/// How `resume` is called: a host call settled, or the task's waker fired.
const FULFILLED: u32 = 0;
const REJECTED: u32 = 1;
const POLL: u32 = 2;

pub fn report(state: u32, slot: u32) -> u32 {
    slot << 4 | state
}

/// A waker naming its slot; waking lets the slot's `drive` poll again.
/// The "pointer" is the slot index, never dereferenced.
fn slot_waker(slot: u32) -> Waker {
    fn raw(slot: *const ()) -> RawWaker {
        RawWaker::new(slot, &VTABLE)
    }
    fn wake_slot(slot: *const ()) {
        glue::wake_slot(slot as usize as i32);
    }
    const VTABLE: RawWakerVTable = RawWakerVTable::new(raw, wake_slot, wake_slot, |_| {});
    // SAFETY: no vtable function dereferences the data; it is only an index,
    // and a stale index only causes a harmless extra poll (see `resume`).
    unsafe { Waker::from_raw(raw(slot as usize as *const ())) }
}

fn alloc() -> u32 {
    if let Some(i) = FREE.with(|f| f.borrow_mut().pop()) {
        SLOTS.with(|s| s.borrow_mut()[i as usize].in_use = true);
        return i;
    }
    SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        slots.push(Slot { in_use: true, ..Slot::default() });
        (slots.len() - 1) as u32
    })
}

pub fn release(i: u32) {
    SLOTS.with(|s| s.borrow_mut()[i as usize] = Slot::default());
    FREE.with(|f| f.borrow_mut().push(i));
}

/// Polls the task of slot `i` once and reports what `drive` must do next.
fn poll(i: u32, mut op: Op) -> u32 {
    let previous = CURRENT.with(|c| c.replace(i));
    let waker = slot_waker(i);
    let result = op.as_mut().poll(&mut Context::from_waker(&waker));
    CURRENT.with(|c| c.set(previous));
    match result {
        Poll::Ready(out) => finish(Some(i), out),
        Poll::Pending => {
            let state = SLOTS.with(|s| {
                let mut slots = s.borrow_mut();
                let slot = &mut slots[i as usize];
                slot.work = Some(op);
                match (slot.awaiting, slot.void) {
                    (true, true) => AWAITING_VOID,
                    (true, false) => AWAITING,
                    _ => WAITING,
                }
            });
            report(state, i)
        }
    }
}

/// An operation ended with `out`: frees its slot (if it has one) and tells
/// `drive` the result.
pub fn finish(i: Option<u32>, out: Result<Outcome, JsValue>) -> u32 {
    if let Some(i) = i {
        release(i);
    }
    let state = match out {
        Ok(Outcome::Undefined) => DONE_UNDEFINED,
        Ok(Outcome::Bool(false)) => DONE_FALSE,
        Ok(Outcome::Bool(true)) => DONE_TRUE,
        Ok(Outcome::Value(v)) => {
            glue::set_result(&v);
            DONE
        }
        Ok(Outcome::Each(ids)) => {
            glue::set_result(&ids);
            return report(FAST, ALL_EACH);
        }
        Err(e) => {
            glue::set_result(&e);
            FAILED
        }
    };
    report(state, i.unwrap_or(0))
}

fn no_operation() -> u32 {
    finish(
        None,
        Err(glue::type_error(&JsValue::from_str("ServerCredentialStore: no operation to resume in this slot"))),
    )
}

/// `drive`'s way back into a task whose host call fulfilled with a value
/// it ignores (`AWAITING_VOID`): its inbox gets `undefined`.
pub fn step(i: u32) -> u32 {
    let op = SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.get_mut(i as usize).filter(|s| s.in_use && s.awaiting && s.void)?;
        let op = slot.work.take()?;
        slot.awaiting = false;
        slot.void = false;
        slot.inbox = Some(Ok(JsValue::UNDEFINED));
        Some(op)
    });
    match op {
        Some(op) => poll(i, op),
        None => no_operation(),
    }
}

/// Starts an operation now; `drive` takes it from there.
pub fn start(op: impl Future<Output = Result<Outcome, JsValue>> + 'static) -> u32 {
    poll(alloc(), Box::pin(op))
}

/// `drive`'s way back in: the host call of slot `i` settled (deliver it and
/// continue the task), or its waker fired (poll it). Only the `drive` of
/// the slot's own operation calls this; anything else is refused as an
/// error rather than trusted.
pub fn resume(i: u32, how: u32, value: JsValue) -> u32 {
    let mut settled = match how {
        FULFILLED => Some(Ok(value)),
        REJECTED => Some(Err(value)),
        _ => None,
    };
    let work = SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.get_mut(i as usize).filter(|s| s.in_use)?;
        match (how, slot.awaiting) {
            (FULFILLED | REJECTED, true) => {
                slot.awaiting = false;
                slot.void = false;
            }
            (POLL, false) => {}
            _ => return None,
        }
        let work = slot.work.take();
        if work.is_some() {
            slot.inbox = settled.take();
        }
        work
    });
    match work {
        Some(op) => poll(i, op),
        None => no_operation(),
    }
}

/// The slot of the running task, for a host call to report to; `None`
/// outside the executor (a host call there fails instead of hanging).
pub fn current() -> Option<u32> {
    Some(CURRENT.with(Cell::get)).filter(|&i| i != NO_TASK)
}

/// Marks the running task as awaiting the host call it just started
/// (`void`: whose value it ignores).
pub fn begin_await(i: u32, void: bool) {
    SLOTS.with(|s| {
        let slot = &mut s.borrow_mut()[i as usize];
        slot.awaiting = true;
        slot.void = void;
    });
}

/// The settled value of slot `i`'s host call, once `resume` delivered it.
pub fn take_inbox(i: u32) -> Option<Result<JsValue, JsValue>> {
    SLOTS.with(|s| s.borrow_mut().get_mut(i as usize).and_then(|s| s.inbox.take()))
}
