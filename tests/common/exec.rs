//! A tiny deterministic executor. Tasks are polled round-robin; a fake host
//! call may yield once (like a JS microtask hop) or wait on a gate the test
//! opens, so tests choose exactly where operations interleave.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn noop_waker() -> Waker {
    Waker::from(Arc::new(Noop))
}

type Task = Pin<Box<dyn Future<Output = ()>>>;

/// Runs spawned tasks until each is done or blocked on a closed gate.
#[derive(Default)]
pub struct Pool {
    tasks: RefCell<Vec<Option<Task>>>,
}

/// The eventual output of a spawned task.
pub struct Handle<T>(Rc<RefCell<Option<T>>>);

impl<T> Handle<T> {
    pub fn is_done(&self) -> bool {
        self.0.borrow().is_some()
    }
    pub fn take(&self) -> T {
        self.0.borrow_mut().take().expect("task has not finished")
    }
}

impl Pool {
    pub fn spawn<T: 'static>(&self, fut: impl Future<Output = T> + 'static) -> Handle<T> {
        let slot = Rc::new(RefCell::new(None));
        let out = slot.clone();
        self.tasks.borrow_mut().push(Some(Box::pin(async move {
            *out.borrow_mut() = Some(fut.await);
        })));
        Handle(slot)
    }

    /// Indices of the tasks that have not finished, in spawn order.
    pub fn live_tasks(&self) -> Vec<usize> {
        self.tasks.borrow().iter().enumerate().filter(|(_, t)| t.is_some()).map(|(i, _)| i).collect()
    }

    /// Polls task `i` once (a scheduler picks which task moves next).
    /// Returns whether it made progress: finished, or passed a yield point.
    pub fn poll_task(&self, i: usize) -> bool {
        let Some(mut task) = self.tasks.borrow_mut()[i].take() else { return false };
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let before = PROGRESS.with(|p| p.get());
        let outer = CURRENT_TASK.with(|c| c.replace(Some(i)));
        let polled = task.as_mut().poll(&mut cx);
        CURRENT_TASK.with(|c| c.set(outer));
        match polled {
            Poll::Ready(()) => true,
            Poll::Pending => {
                self.tasks.borrow_mut()[i] = Some(task);
                PROGRESS.with(|p| p.get()) != before
            }
        }
    }

    /// Polls every live task round-robin until a whole round makes no progress.
    pub fn run_until_stalled(&self) {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            let mut progressed = false;
            let n = self.tasks.borrow().len();
            for i in 0..n {
                let Some(mut task) = self.tasks.borrow_mut()[i].take() else {
                    continue;
                };
                let before = PROGRESS.with(|p| p.get());
                let outer = CURRENT_TASK.with(|c| c.replace(Some(i)));
                let polled = task.as_mut().poll(&mut cx);
                CURRENT_TASK.with(|c| c.set(outer));
                match polled {
                    Poll::Ready(()) => progressed = true,
                    Poll::Pending => {
                        progressed |= PROGRESS.with(|p| p.get()) != before;
                        self.tasks.borrow_mut()[i] = Some(task);
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }
}

thread_local! {
    /// Bumped whenever a yield point is passed, so the pool can tell a
    /// task that moved from one that is stuck on a gate.
    static PROGRESS: Cell<u64> = const { Cell::new(0) };
    /// The index (in its pool) of the task being polled, if any.
    static CURRENT_TASK: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The pool index of the task being polled right now (`None` outside a pool):
/// the fake host records it with each call, so a test knows who made it.
pub fn current_task() -> Option<usize> {
    CURRENT_TASK.with(|c| c.get())
}

/// Completes after being polled once more: one interleaving point.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|_| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            PROGRESS.with(|p| p.set(p.get() + 1));
            Poll::Pending
        }
    })
    .await
}

/// A door a host call waits at until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Rc<Cell<bool>>);

impl Gate {
    pub fn open(&self) {
        self.0.set(true)
    }
    pub async fn pass(&self) {
        let g = self.0.clone();
        std::future::poll_fn(move |_| if g.get() { Poll::Ready(()) } else { Poll::Pending }).await;
        PROGRESS.with(|p| p.set(p.get() + 1));
    }
}

/// Runs one future to completion (its host calls may yield but not block).
pub fn block_on<T: 'static>(fut: impl Future<Output = T> + 'static) -> T {
    let pool = Pool::default();
    let h = pool.spawn(fut);
    pool.run_until_stalled();
    assert!(h.is_done(), "operation blocked on a gate nobody opens");
    h.take()
}
