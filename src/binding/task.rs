//! A minimal executor for store operations, replacing `JsFuture` +
//! `future_to_promise` (≈2.5–3 µs per await: two `Closure`s and a
//! FinalizationRegistry entry each, plus an extra microtask hop).
//!
//! - An operation is polled eagerly, inside the JS call that starts it, up
//!   to its first host call — as a JS `async` function runs.
//! - A host call hands its task's slot index to the glue, which attaches
//!   `.then` to the result and reports back through one persistent
//!   callback, `wake(slot, ok, value)`: the value lands in the slot's inbox
//!   and the task is polled again, right there in the promise reaction.
//! - A task is taken out of its slot while it is polled, so a host method
//!   that synchronously starts another operation (reentrancy) only ever
//!   touches other slots.
//!
//! Each task awaits at most one host call at a time (the protocol awaits
//! sequentially), so one inbox per slot suffices. A task waiting for
//! something else (strict mode's write turn) is woken through its `Waker`,
//! which queues a microtask that polls the slot again.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::host::glue;

type Op = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

#[derive(Default)]
struct Slot {
    /// `None` while the task is being polled, or when the slot is free.
    op: Option<Op>,
    /// The settled result of the host call the task awaits.
    inbox: Option<Result<JsValue, JsValue>>,
    /// A host call is outstanding: only then may `wake` deliver.
    awaiting: bool,
    in_use: bool,
}

const NO_TASK: u32 = u32::MAX;

thread_local! {
    static SLOTS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
    static FREE: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    /// The slot of the task being polled right now.
    static CURRENT: Cell<u32> = const { Cell::new(NO_TASK) };
    static WAKE_SET: Cell<bool> = const { Cell::new(false) };
}

/// How `wake` was called: a host call settled, or a waker asked for a poll.
const FULFILLED: u32 = 0;
const REJECTED: u32 = 1;
const POLL: u32 = 2;

/// A waker naming its slot; waking queues a microtask that polls the slot.
/// The "pointer" is the slot index, never dereferenced.
fn slot_waker(slot: u32) -> Waker {
    fn raw(slot: *const ()) -> RawWaker {
        RawWaker::new(slot, &VTABLE)
    }
    fn wake_slot(slot: *const ()) {
        glue::queue_poll(slot as usize as u32);
    }
    const VTABLE: RawWakerVTable = RawWakerVTable::new(raw, wake_slot, wake_slot, |_| {});
    // SAFETY: no vtable function dereferences the data; it is only an index,
    // and a stale index only causes a harmless extra poll (see `wake`).
    unsafe { Waker::from_raw(raw(slot as usize as *const ())) }
}

/// Hands the glue its one persistent callback, once per module instance.
fn ensure_wake_callback() {
    if WAKE_SET.with(|w| w.replace(true)) {
        return;
    }
    let wake = Closure::<dyn FnMut(u32, u32, JsValue)>::new(wake);
    glue::set_wake(&wake.into_js_value());
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

fn release(i: u32) {
    SLOTS.with(|s| s.borrow_mut()[i as usize] = Slot::default());
    FREE.with(|f| f.borrow_mut().push(i));
}

/// Polls the task of slot `i` once; returns its output when it finished.
fn poll(i: u32, mut op: Op) -> Option<Result<JsValue, JsValue>> {
    let previous = CURRENT.with(|c| c.replace(i));
    let waker = slot_waker(i);
    let result = op.as_mut().poll(&mut Context::from_waker(&waker));
    CURRENT.with(|c| c.set(previous));
    match result {
        Poll::Ready(out) => {
            release(i);
            Some(out)
        }
        Poll::Pending => {
            SLOTS.with(|s| s.borrow_mut()[i as usize].op = Some(op));
            None
        }
    }
}

/// Starts an operation now and returns the promise of its result.
pub fn spawn(op: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    ensure_wake_callback();
    let i = alloc();
    match poll(i, Box::pin(op)) {
        Some(Ok(v)) => Promise::resolve(&v),
        Some(Err(e)) => Promise::reject(&e),
        None => glue::op_promise(i),
    }
}

/// The host call of slot `i` settled (deliver it and continue the task), or
/// its waker fired (poll it, unless it awaits a host call: then that
/// call's settlement will). A stale wake finds the slot free or busy and
/// does nothing, or polls a task that is simply still pending.
fn wake(i: u32, how: u32, value: JsValue) {
    let op = SLOTS.with(|s| {
        let mut slots = s.borrow_mut();
        let slot = slots.get_mut(i as usize).filter(|s| s.in_use)?;
        match how {
            POLL if slot.awaiting => return None,
            POLL => {}
            FULFILLED | REJECTED if slot.awaiting => {
                slot.awaiting = false;
                slot.inbox = Some(if how == FULFILLED { Ok(value) } else { Err(value) });
            }
            _ => return None,
        }
        slot.op.take()
    });
    let Some(op) = op else { return };
    if let Some(out) = poll(i, op) {
        let (ok, v) = match out {
            Ok(v) => (true, v),
            Err(e) => (false, e),
        };
        glue::settle_op(i, ok, &v);
    }
}

/// The slot of the running task, for a host call to report to; `None`
/// outside the executor (a host call there fails instead of hanging).
pub fn current() -> Option<u32> {
    Some(CURRENT.with(Cell::get)).filter(|&i| i != NO_TASK)
}

/// Marks the running task as awaiting the host call it just started.
pub fn begin_await(i: u32) {
    SLOTS.with(|s| s.borrow_mut()[i as usize].awaiting = true);
}

/// Resolves to the settled value of the current task's outstanding host call.
pub struct Inbox(pub u32);

impl Future for Inbox {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        match SLOTS.with(|s| s.borrow_mut().get_mut(self.0 as usize).and_then(|s| s.inbox.take())) {
            Some(out) => Poll::Ready(out),
            None => Poll::Pending,
        }
    }
}
