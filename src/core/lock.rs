//! Per-key write serialization for strict mode: puts, deletes and repairs
//! of one id queue in arrival order; reads never wait. One `KeyLocks` is
//! shared by every store over the same metadata object in a process.
//!
//! Tickets make the queue fair and make waiting robust under any executor:
//! a waiter is admitted when its ticket is being served, whether it was
//! woken or merely polled again; a waiter dropped before admission gives
//! its turn away so the queue never stalls.

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

// Plain vectors, not maps: only ids with a writer right now have a queue,
// and a queue holds its waiters; both stay tiny, and maps would cost the
// module kilobytes of hashing code.
#[derive(Default)]
struct Queue {
    next_ticket: u64,
    serving: u64,
    waiting: Vec<(u64, Waker)>,
    abandoned: Vec<u64>,
}

fn take<T>(list: &mut Vec<(u64, T)>, ticket: u64) -> Option<T> {
    let at = list.iter().position(|(t, _)| *t == ticket)?;
    Some(list.swap_remove(at).1)
}

impl Queue {
    /// Moves past abandoned tickets; returns the waker of whoever is served next.
    fn advance(&mut self) -> Option<Waker> {
        self.serving += 1;
        while let Some(at) = self.abandoned.iter().position(|&t| t == self.serving) {
            self.abandoned.swap_remove(at);
            self.serving += 1;
        }
        take(&mut self.waiting, self.serving)
    }

    fn idle(&self) -> bool {
        self.serving == self.next_ticket
    }
}

#[derive(Default)]
pub struct KeyLocks {
    queues: RefCell<Vec<(String, Queue)>>,
}

impl KeyLocks {
    pub fn new() -> Rc<KeyLocks> {
        Rc::new(KeyLocks::default())
    }

    /// Waits for the turn of `id`; the turn lasts as long as the guard.
    pub fn lock(self: &Rc<Self>, id: &str) -> Acquire {
        let mut queues = self.queues.borrow_mut();
        let at = match queues.iter().position(|(k, _)| k == id) {
            Some(at) => at,
            None => {
                queues.push((id.to_owned(), Queue::default()));
                queues.len() - 1
            }
        };
        let q = &mut queues[at].1;
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        Acquire { locks: self.clone(), id: id.to_owned(), ticket, admitted: false }
    }

    /// Number of ids with a holder or waiters (for tests: no leak of queues).
    pub fn busy_ids(&self) -> usize {
        self.queues.borrow().len()
    }

    fn finish(&self, id: &str, ticket: u64, admitted: bool) {
        let next = {
            let mut queues = self.queues.borrow_mut();
            let Some(at) = queues.iter().position(|(k, _)| k == id) else { return };
            let q = &mut queues[at].1;
            let next = if admitted || q.serving == ticket {
                q.advance()
            } else {
                take(&mut q.waiting, ticket);
                q.abandoned.push(ticket);
                None
            };
            if q.idle() {
                queues.swap_remove(at);
            }
            next
        };
        // Woken after the borrow ends: a waker may poll its task right away.
        if let Some(w) = next {
            w.wake();
        }
    }
}

/// The future of a turn; resolves to the guard that holds it.
pub struct Acquire {
    locks: Rc<KeyLocks>,
    id: String,
    ticket: u64,
    admitted: bool,
}

impl Future for Acquire {
    type Output = KeyGuard;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<KeyGuard> {
        let served = {
            let mut queues = self.locks.queues.borrow_mut();
            match queues.iter_mut().find(|(k, _)| *k == self.id) {
                Some((_, q)) if q.serving != self.ticket => {
                    take(&mut q.waiting, self.ticket);
                    q.waiting.push((self.ticket, cx.waker().clone()));
                    false
                }
                _ => true,
            }
        };
        if !served {
            return Poll::Pending;
        }
        self.admitted = true;
        let guard = KeyGuard { locks: self.locks.clone(), id: core::mem::take(&mut self.id), ticket: self.ticket };
        Poll::Ready(guard)
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if !self.admitted {
            self.locks.finish(&self.id, self.ticket, false);
        }
    }
}

/// Holds the turn of one id; dropping it admits the next waiter.
pub struct KeyGuard {
    locks: Rc<KeyLocks>,
    id: String,
    ticket: u64,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        self.locks.finish(&self.id, self.ticket, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        let w = Waker::from(Arc::new(Noop));
        Pin::new(f).poll(&mut Context::from_waker(&w))
    }

    #[test]
    fn turns_are_served_in_arrival_order_per_id() {
        let locks = KeyLocks::new();
        let mut a = locks.lock("k");
        let mut b = locks.lock("k");
        let mut other = locks.lock("j");
        assert!(poll(&mut other).is_ready(), "other ids never wait");
        assert!(poll(&mut b).is_pending(), "b queues behind a");
        let ga = match poll(&mut a) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("a is first"),
        };
        assert!(poll(&mut b).is_pending());
        drop(ga);
        assert!(poll(&mut b).is_ready());
    }

    #[test]
    fn an_abandoned_waiter_gives_its_turn_away_and_queues_are_freed() {
        let locks = KeyLocks::new();
        let mut a = locks.lock("k");
        let ga = match poll(&mut a) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!(),
        };
        let mut b = locks.lock("k");
        assert!(poll(&mut b).is_pending());
        let mut c = locks.lock("k");
        drop(b);
        drop(ga);
        let gc = match poll(&mut c) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("c must be served after b gave up"),
        };
        drop(gc);
        drop(a);
        drop(c);
        assert_eq!(locks.busy_ids(), 0);
    }
}
