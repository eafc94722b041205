//! Strict mode across processes: several stores over one metadata KV and
//! one vault, each with write turns of its own (separate processes share no
//! memory), the KV offering conditional writes (`putIf`/`deleteIf`) and the
//! vault `listIds`. Seeded runs interleave put/get/has/delete of two keys at
//! every await, and fail host calls at random in all three ways a network
//! can: before taking effect (a rejection or a synchronous throw), and after
//! (the call acts, its answer is lost); in some runs a process is killed at a
//! random point (its operations are never resumed). After each run:
//!
//! - no committed row lacks its bytes; bytes named by no row are counted
//!   (a write landing after its writer gave up on it): reconcile must find
//!   them through `listIds`;
//! - per key, the history is linearizable as a register: every result is
//!   what some order consistent with real time gives, where a call that
//!   failed may or may not have taken effect;
//! - `reconcile()` (stale threshold 0, no writer active) leaves exactly the
//!   live bytes of the committed rows, and rows naming nothing else.
//!
//!   SEQUENCES=20000 cargo test --release --test processes -- --nocapture
//!   ONE=<seed> cargo test --test processes replay_one -- --ignored --nocapture
//!     (one sequence again, printing its host calls and history)
mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::exec::Pool;
use common::fake::{FakeStore, FaultMode, Js, World};
use common::model::{base_of, is_committed, pending_of, retired_of, vault_of};
use common::rng::Rng;
use server_credential_store_wasm::core::{KeyLocks, StoreError};

const PROCESSES: usize = 3;
const KEYS: [&str; 2] = ["a", "b"];

#[derive(Clone, Debug)]
enum Act {
    Put(String),
    Get,
    Has,
    Delete,
}

#[derive(Clone, Debug)]
enum Out {
    Value(Option<String>),
    Bool(bool),
    Done,
    Failed(String),
}

#[derive(Clone, Debug)]
struct Done {
    key: &'static str,
    act: Act,
    out: Out,
    first: usize,
    last: usize,
}

fn text(v: &Js) -> Option<String> {
    v.str().map(str::to_owned)
}

fn store(w: &Rc<World>) -> Rc<FakeStore> {
    Rc::new(w.store("u1", "p1").strict(KeyLocks::new()))
}

/// One seeded run: returns the history, or a violation.
fn run(seed: u64, stats: &mut Stats) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let w = World::new();
    w.yielding.set(true);
    w.conditional.set(true);
    w.timed_tokens.set(true);
    let procs: Vec<Rc<FakeStore>> = (0..PROCESSES).map(|_| store(&w)).collect();
    let p_fault = [0.0, 0.05, 0.15][rng.below(3)];
    let fault_rng = Rc::new(RefCell::new(Rng::new(seed ^ 0x5eed)));
    let faults = Rc::new(RefCell::new(0usize));
    {
        let (fault_rng, faults) = (fault_rng.clone(), faults.clone());
        w.set_fault_hook(move |call| {
            let mut r = fault_rng.borrow_mut();
            if !r.chance(p_fault) {
                return None;
            }
            *faults.borrow_mut() += 1;
            let mode = [FaultMode::Reject, FaultMode::Throw, FaultMode::LostAnswer][r.below(3)];
            Some((mode, Js::error("Error", &format!("injected {mode:?} of {}.{}", call.target, call.method))))
        });
    }
    let n_ops = 4 + rng.below(7);
    let pool = Pool::default();
    // Which process each operation runs in, and when it was first polled.
    let mut owners = Vec::new();
    let started = Rc::new(RefCell::new(vec![None; 16]));
    // Some runs kill a process at a random step: its operations are never
    // polled again (no effect of theirs lands after that), as a SIGKILL.
    let kill_at = rng.chance(0.3).then(|| rng.below(60));
    let mut dead: Option<usize> = None;
    let clock = Rc::new(RefCell::new(0usize));
    let mut handles = Vec::new();
    let mut values = 0;
    let mut keys_of = Vec::new();
    let mut acts = Vec::new();
    for _ in 0..n_ops {
        let key = KEYS[rng.below(KEYS.len())];
        let act = match rng.below(10) {
            0..=3 => {
                values += 1;
                Act::Put(format!("s3cret-{seed}-{values}"))
            }
            4..=5 => Act::Get,
            6 => Act::Has,
            _ => Act::Delete,
        };
        keys_of.push(key);
        acts.push(act.clone());
        let process = rng.below(PROCESSES);
        let s = procs[process].clone();
        owners.push(process);
        let (clock, act2, started) = (clock.clone(), act.clone(), started.clone());
        let index = handles.len();
        handles.push(pool.spawn(async move {
            let first = *clock.borrow();
            started.borrow_mut()[index] = Some(first);
            let k = Js::s(key);
            let out = match &act2 {
                Act::Put(v) => s.put(&k, &Js::s(v), &Js::Undefined).await.map(|()| Out::Done),
                Act::Get => s.get(&k).await.map(|v| Out::Value(text(&v))),
                Act::Has => s.has(&k).await.map(Out::Bool),
                Act::Delete => s.delete(&k).await.map(Out::Bool),
            };
            let out = out.unwrap_or_else(|e: StoreError<Js>| Out::Failed(e.to_string()));
            let last = *clock.borrow();
            Done { key, act: act2, out, first, last }
        }));
    }
    // A random scheduler: one poll of a random live task per step.
    let mut steps = 0;
    loop {
        if kill_at == Some(steps) {
            dead = Some(owners[rng.below(owners.len())]);
        }
        let live: Vec<usize> = pool.live_tasks().into_iter().filter(|&t| Some(owners[t]) != dead).collect();
        if live.is_empty() {
            break;
        }
        pool.poll_task(live[rng.below(live.len())]);
        *clock.borrow_mut() += 1;
        steps += 1;
        if steps > 200_000 {
            return Err(format!("seed {seed}: operations did not finish (a key is blocked)"));
        }
    }
    // A killed process's operations may or may not have taken effect, up to the kill.
    let killed_at = *clock.borrow();
    let history: Vec<Done> = handles
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.is_done() {
                return h.take();
            }
            stats.killed += 1;
            let first = started.borrow()[i].unwrap_or(killed_at);
            Done { key: keys_of[i], act: acts[i].clone(), out: Out::Failed("killed".into()), first, last: killed_at }
        })
        .collect();
    w.set_fault_hook(|_| None);
    stats.ops += history.len();
    stats.faults += *faults.borrow();
    stats.failed += history.iter().filter(|d| matches!(d.out, Out::Failed(_))).count();
    stats.conflicts +=
        history.iter().filter(|d| matches!(&d.out, Out::Failed(m) if m.contains("concurrent writers"))).count();

    if std::env::var("ONE").is_ok() {
        for c in w.completions.borrow().iter() {
            println!(
                "  t{:?} {} {:?} {}",
                c.call.task,
                c.call.short(),
                c.fault,
                c.call.arg.as_ref().map(|a| format!("{a:?}")).unwrap_or_default()
            );
        }
        println!("{history:#?}");
    }
    stats.unnamed += check_bytes(&w, seed, false)?;
    let reader = store(&w);
    for key in KEYS {
        let k = Js::s(key);
        let r = reader.clone();
        let end = common::exec::block_on(async move { r.get(&k).await }).map_err(|e| format!("seed {seed}: {e}"))?;
        let ops: Vec<&Done> = history.iter().filter(|d| d.key == key).collect();
        if !linearizable(&ops, text(&end)) {
            return Err(format!("seed {seed}: key {key} not linearizable; final {:?}\n{ops:#?}", text(&end)));
        }
    }
    // Reconcile with no writer active: only live bytes remain, rows name nothing else.
    w.now_ms.set(w.now_ms.get() + 1.0);
    let r = reader.clone();
    let report =
        common::exec::block_on(async move { r.reconcile(&Js::obj(&[("stalePendingMs", Js::Num(0.0))])).await })
            .map_err(|e| format!("seed {seed}: reconcile: {e}"))?;
    if !report.prop("failed").items().is_empty() {
        return Err(format!("seed {seed}: reconcile failed on {:?}", report.prop("failed")));
    }
    stats.repaired += report.prop("repaired").items().len();
    if std::env::var("ONE").is_ok() {
        println!("report {report:?}");
    }
    check_bytes(&w, seed, true).map(|_| ())
}

/// No committed row without its bytes; returns how many vault entries no
/// row names. `clean` (after reconcile): none of those, no pending row, no
/// retired or pending version, no bytes but live ones.
fn check_bytes(w: &Rc<World>, seed: u64, clean: bool) -> Result<usize, String> {
    let rows = w.rows.borrow().clone();
    let secrets = w.secrets.borrow().clone();
    let mut unnamed = 0;
    for (id, row) in &rows {
        if is_committed(row) && !secrets.contains_key(&vault_of(true, id, row)) {
            return Err(format!("seed {seed}: committed row {id} {row:?} has no bytes"));
        }
        if clean && (!is_committed(row) || !retired_of(id, row).is_empty() || !pending_of(id, row).is_empty()) {
            return Err(format!("seed {seed}: after reconcile, row {id} {row:?} still needs repair"));
        }
    }
    for vid in secrets.keys() {
        let base = base_of(vid);
        let row = rows.iter().find(|(k, _)| k == base).map(|(_, r)| r.clone()).unwrap_or(Js::Undefined);
        let live = row.truthy() && vault_of(true, base, &row) == *vid;
        let named = live || retired_of(base, &row).contains(vid) || pending_of(base, &row).contains(vid);
        if clean && !(live && is_committed(&row)) {
            return Err(format!(
                "seed {seed}: after reconcile, vault id {vid} is not a committed row's live bytes (row {row:?})"
            ));
        }
        unnamed += usize::from(!named);
    }
    Ok(unnamed)
}

/// Whether some order of `ops` consistent with real time explains every
/// result and ends with `end`, for a register (a value or none) starting
/// empty. A failed call may or may not have taken effect.
fn linearizable(ops: &[&Done], end: Option<String>) -> bool {
    fn go(ops: &[&Done], placed: &mut Vec<bool>, state: Option<String>, end: &Option<String>) -> bool {
        if placed.iter().all(|&p| p) {
            return state == *end;
        }
        for i in 0..ops.len() {
            if placed[i] {
                continue;
            }
            // Real time: an unplaced op that finished before this one started goes first.
            if (0..ops.len()).any(|j| !placed[j] && j != i && ops[j].last < ops[i].first) {
                continue;
            }
            let mut next: Vec<Option<String>> = Vec::new();
            match (&ops[i].act, &ops[i].out) {
                (Act::Put(v), Out::Done) => next.push(Some(v.clone())),
                (Act::Put(v), Out::Failed(_)) => next.extend([state.clone(), Some(v.clone())]),
                (Act::Get, Out::Value(v)) if *v == state => next.push(state.clone()),
                (Act::Has, Out::Bool(b)) if *b == state.is_some() => next.push(state.clone()),
                (Act::Delete, Out::Bool(true)) if state.is_some() => next.push(None),
                (Act::Delete, Out::Bool(false)) if state.is_none() => next.push(None),
                (Act::Delete, Out::Failed(_)) => next.extend([state.clone(), None]),
                (Act::Get | Act::Has, Out::Failed(_)) => next.push(state.clone()),
                _ => {}
            }
            for s in next {
                placed[i] = true;
                if go(ops, placed, s, end) {
                    return true;
                }
                placed[i] = false;
            }
        }
        false
    }
    go(ops, &mut vec![false; ops.len()], None, &end)
}

#[derive(Default, Debug)]
struct Stats {
    ops: usize,
    faults: usize,
    failed: usize,
    conflicts: usize,
    repaired: usize,
    unnamed: usize,
    killed: usize,
}

#[test]
fn strict_mode_across_processes_is_linearizable_and_names_every_byte() {
    let sequences: u64 = std::env::var("SEQUENCES").ok().and_then(|s| s.parse().ok()).unwrap_or(3000);
    let seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(17);
    let mut stats = Stats::default();
    for i in 0..sequences {
        if let Err(e) = run(seed.wrapping_mul(1_000_003).wrapping_add(i), &mut stats) {
            panic!("{e}\n(after {i} clean sequences; {stats:?})");
        }
    }
    println!("processes: {sequences} sequences, {stats:?}");
    assert!(stats.faults > sequences as usize / 2, "faults were injected");
    assert!(stats.failed > 0 && stats.repaired > 0, "failures happened and reconcile had work");
    assert!(stats.killed > 0, "processes were killed mid-operation");
}

#[test]
#[ignore = "a replay tool: ONE=<seed>"]
fn replay_one() {
    let seed: u64 = std::env::var("ONE").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut stats = Stats::default();
    let r = run(seed, &mut stats);
    println!("{r:?}");
}
