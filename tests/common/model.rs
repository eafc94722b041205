//! Model-based fault injection for the compatible protocol.
//!
//! A [`Scenario`] is a list of batches of operations on stores of three
//! scopes sharing one KV and one vault. A batch of one operation is a
//! sequential step; a bigger batch runs its operations concurrently, the
//! scheduler choosing at every await which task moves next. Any host call
//! can fail (a rejection, or a synchronous throw that fails without
//! yielding). A run either explores (faults and schedule drawn from a seeded
//! RNG, then recorded) or replays a recorded scenario exactly, so every
//! finding comes with a reproduction that [`shrink`] then minimises.
//!
//! After every batch the checker compares the host state and each result
//! with what the protocol promises:
//! - always (violations): no error shows a secret; every error carries the
//!   injected value it should; a get returns only what a put of that very id
//!   wrote; no call leaves the op's scope; every orphan marker's reason
//!   matches the failures of the op that wrote it; sequential reads,
//!   listings and deletes agree with the state before them;
//! - state (violations after a sequential step, anomalies after a
//!   concurrent batch): no committed row without vault bytes; no vault bytes
//!   without any row unless the op that left them reported them; an
//!   acknowledged put stays readable until something deletes or expires it;
//!   the committed row and the value come from the same acknowledged put.
//!
//! The one silent orphan of the sequential protocol (an expired get/has
//! whose swallowed delete fails twice) is its own kind: a known gap.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::rc::Rc;

use server_credential_store_wasm::core::{DeleteOp, KeyLocks, StoreError};

use super::exec::Pool;
use super::fake::{parse_iso, Call, Completion, FakeStore, FaultMode, Js, World, T0};
use super::rng::{mix, Rng};

pub type Error = StoreError<Js>;

pub const SCOPES: [(&str, &str); 3] = [("u1", "p1"), ("u1", "p2"), ("u2", "p1")];
pub const KEYS: [&str; 3] = ["a", "b", "c"];

pub fn prefix(scope: usize) -> String {
    format!("{}/{}/", SCOPES[scope].0, SCOPES[scope].1)
}

// ---- operations ------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
pub struct PutArgs {
    pub secret: String,
    /// Pass an options object at all (`false`: `put(key, value)`).
    pub options: bool,
    pub label: Option<String>,
    pub provider: Option<String>,
    /// `options.expiresAt = new Date(T0 + ms)`.
    pub expires_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Put(PutArgs),
    Get,
    Has,
    Delete,
    Keys,
    List,
    DeleteAll,
    /// `reconcile()` of the scope (`stalePendingMs` when given).
    Reconcile(Option<u32>),
    /// `listOrphans()` of the scope.
    ListOrphans,
    /// The clock moves forward (fake timers); no host call.
    Advance(i64),
    /// Test-only: the host state changes behind the store's back (to show
    /// that the checker catches a broken state). Never generated.
    Tamper(Tamper),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tamper {
    /// The vault loses the id's bytes.
    DropSecret,
    /// The KV loses the id's row.
    DropRow,
    /// The vault's bytes for the id become this string.
    SetSecret(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub scope: usize,
    pub key: &'static str,
    pub action: Action,
}

pub fn put(scope: usize, key: &'static str, secret: &str) -> Op {
    put_with(scope, key, secret, None, None, None)
}

/// A put with an options object; `expires_at` is ms after T0 (the start time).
pub fn put_with(
    scope: usize,
    key: &'static str,
    secret: &str,
    label: Option<&str>,
    provider: Option<&str>,
    expires_at: Option<i64>,
) -> Op {
    let options = label.is_some() || provider.is_some() || expires_at.is_some();
    Op {
        scope,
        key,
        action: Action::Put(PutArgs {
            secret: secret.into(),
            options,
            label: label.map(Into::into),
            provider: provider.map(Into::into),
            expires_at,
        }),
    }
}

pub fn get(scope: usize, key: &'static str) -> Op {
    Op { scope, key, action: Action::Get }
}
pub fn has(scope: usize, key: &'static str) -> Op {
    Op { scope, key, action: Action::Has }
}
pub fn delete(scope: usize, key: &'static str) -> Op {
    Op { scope, key, action: Action::Delete }
}
pub fn keys(scope: usize) -> Op {
    Op { scope, key: "", action: Action::Keys }
}
pub fn list(scope: usize) -> Op {
    Op { scope, key: "", action: Action::List }
}
pub fn delete_all(scope: usize) -> Op {
    Op { scope, key: "", action: Action::DeleteAll }
}
pub fn reconcile(scope: usize) -> Op {
    Op { scope, key: "", action: Action::Reconcile(None) }
}
pub fn reconcile_with(scope: usize, stale_pending_ms: u32) -> Op {
    Op { scope, key: "", action: Action::Reconcile(Some(stale_pending_ms)) }
}
pub fn list_orphans(scope: usize) -> Op {
    Op { scope, key: "", action: Action::ListOrphans }
}
pub fn advance(ms: i64) -> Op {
    Op { scope: 0, key: "", action: Action::Advance(ms) }
}
pub fn tamper(scope: usize, key: &'static str, t: Tamper) -> Op {
    Op { scope, key, action: Action::Tamper(t) }
}

impl Op {
    pub fn id(&self) -> String {
        format!("{}{}", prefix(self.scope), self.key)
    }
    pub fn keyed(&self) -> bool {
        matches!(self.action, Action::Put(_) | Action::Get | Action::Has | Action::Delete)
    }
    pub fn name(&self) -> &'static str {
        match self.action {
            Action::Put(_) => "put",
            Action::Get => "get",
            Action::Has => "has",
            Action::Delete => "delete",
            Action::Keys => "keys",
            Action::List => "listMetadata",
            Action::DeleteAll => "deleteAll",
            Action::Reconcile(_) => "reconcile",
            Action::ListOrphans => "listOrphans",
            Action::Advance(_) => "advance",
            Action::Tamper(_) => "tamper",
        }
    }
    pub fn secret(&self) -> Option<&str> {
        match &self.action {
            Action::Put(p) => Some(&p.secret),
            _ => None,
        }
    }
    /// Whether this op may read or write `id`.
    pub fn touches(&self, id: &str) -> bool {
        match self.action {
            Action::Advance(_) | Action::Tamper(_) => false,
            Action::Keys | Action::List | Action::DeleteAll | Action::Reconcile(_) | Action::ListOrphans => {
                id.starts_with(&prefix(self.scope))
            }
            _ => self.id() == id,
        }
    }
    /// The options object handed to put.
    fn options_js(p: &PutArgs) -> Js {
        if !p.options {
            return Js::Undefined;
        }
        let mut props = vec![];
        if let Some(l) = &p.label {
            props.push(("label", Js::s(l)));
        }
        if let Some(v) = &p.provider {
            props.push(("provider", Js::s(v)));
        }
        if let Some(ms) = p.expires_at {
            props.push(("expiresAt", Js::Date(T0 + ms as f64)));
        }
        Js::obj(&props)
    }
    /// The options object handed to reconcile.
    fn reconcile_options(stale: Option<u32>) -> Js {
        match stale {
            Some(ms) => Js::obj(&[("stalePendingMs", Js::Num(f64::from(ms)))]),
            None => Js::Undefined,
        }
    }
    /// As Rust, with the builders above.
    pub fn rust(&self) -> String {
        let (s, k) = (self.scope, self.key);
        match &self.action {
            Action::Put(p) if !p.options => format!("put({s}, {k:?}, {:?})", p.secret),
            Action::Put(p) => format!(
                "put_with({s}, {k:?}, {:?}, {:?}, {:?}, {:?})",
                p.secret,
                p.label.as_deref(),
                p.provider.as_deref(),
                p.expires_at
            ),
            Action::Get => format!("get({s}, {k:?})"),
            Action::Has => format!("has({s}, {k:?})"),
            Action::Delete => format!("delete({s}, {k:?})"),
            Action::Keys => format!("keys({s})"),
            Action::List => format!("list({s})"),
            Action::DeleteAll => format!("delete_all({s})"),
            Action::Reconcile(None) => format!("reconcile({s})"),
            Action::Reconcile(Some(ms)) => format!("reconcile_with({s}, {ms})"),
            Action::ListOrphans => format!("list_orphans({s})"),
            Action::Advance(ms) => format!("advance({ms})"),
            Action::Tamper(t) => format!("tamper({s}, {k:?}, Tamper::{t:?})"),
        }
    }
}

fn offset(ms: i64) -> String {
    match ms {
        0 => "T0".into(),
        ms if ms % 1000 == 0 => format!("T0{:+}s", ms / 1000),
        ms => format!("T0{ms:+}ms"),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = format!("store({},{})", SCOPES[self.scope].0, SCOPES[self.scope].1);
        match &self.action {
            Action::Put(p) => {
                write!(f, "{store}.put({:?}, {:?}", self.key, p.secret)?;
                if p.options {
                    let mut parts = vec![];
                    if let Some(l) = &p.label {
                        parts.push(format!("label: {l:?}"));
                    }
                    if let Some(v) = &p.provider {
                        parts.push(format!("provider: {v:?}"));
                    }
                    if let Some(ms) = p.expires_at {
                        parts.push(format!("expiresAt: {}", offset(ms)));
                    }
                    write!(f, ", {{ {} }}", parts.join(", "))?;
                }
                write!(f, ")")
            }
            Action::Advance(ms) => write!(f, "clock += {}s", ms / 1000),
            Action::Tamper(t) => write!(f, "(tamper {} {t:?})", self.id()),
            Action::Keys | Action::List | Action::DeleteAll | Action::ListOrphans | Action::Reconcile(None) => {
                write!(f, "{store}.{}()", self.name())
            }
            Action::Reconcile(Some(ms)) => write!(f, "{store}.reconcile({{ stalePendingMs: {ms} }})"),
            _ => write!(f, "{store}.{}({:?})", self.name(), self.key),
        }
    }
}

// ---- scenarios -------------------------------------------------------------

/// The `nth` (0-based) host call made by operation `op` (global index) fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    pub op: usize,
    pub nth: usize,
    pub mode: FaultMode,
}

impl Fault {
    pub fn reject(op: usize, nth: usize) -> Fault {
        Fault { op, nth, mode: FaultMode::Reject }
    }
    pub fn throw(op: usize, nth: usize) -> Fault {
        Fault { op, nth, mode: FaultMode::Throw }
    }
}

/// Batches run one after the other; the operations of one batch run
/// concurrently. Operations are numbered globally in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    pub batches: Vec<Vec<Op>>,
    pub faults: Vec<Fault>,
    /// Per batch: which task (index in the batch) to poll at each step.
    /// Entries naming a finished task are skipped; once the list is used
    /// up, the lowest-numbered live task runs (so a short list suffices).
    pub schedules: Vec<Vec<usize>>,
}

impl Scenario {
    /// Each op its own sequential step.
    pub fn sequential(ops: Vec<Op>) -> Scenario {
        let n = ops.len();
        Scenario { batches: ops.into_iter().map(|o| vec![o]).collect(), faults: vec![], schedules: vec![vec![]; n] }
    }

    pub fn ops(&self) -> Vec<&Op> {
        self.batches.iter().flatten().collect()
    }

    pub fn op_count(&self) -> usize {
        self.batches.iter().map(Vec::len).sum()
    }

    fn batch_start(&self, b: usize) -> usize {
        self.batches[..b].iter().map(Vec::len).sum()
    }

    /// (batch, index in batch) of a global op index.
    fn locate(&self, g: usize) -> (usize, usize) {
        let mut start = 0;
        for (b, batch) in self.batches.iter().enumerate() {
            if g < start + batch.len() {
                return (b, g - start);
            }
            start += batch.len();
        }
        panic!("op {g} out of range")
    }

    /// Size, for shrinking: fewest ops, then fewest faults, then shortest schedule.
    pub fn cost(&self) -> (usize, usize, usize, usize) {
        let concurrent = self.batches.iter().filter(|b| b.len() > 1).map(Vec::len).sum();
        (self.op_count(), self.faults.len(), concurrent, self.schedules.iter().map(Vec::len).sum())
    }

    fn normalized(mut self) -> Scenario {
        self.schedules.resize(self.batches.len(), vec![]);
        for (b, batch) in self.batches.iter().enumerate() {
            if batch.len() < 2 {
                self.schedules[b].clear();
            }
        }
        self.faults.sort_by_key(|f| (f.op, f.nth));
        self
    }

    fn without_op(&self, g: usize) -> Scenario {
        let (b, i) = self.locate(g);
        let mut s = self.clone();
        s.batches[b].remove(i);
        s.faults.retain(|f| f.op != g);
        for f in &mut s.faults {
            if f.op > g {
                f.op -= 1;
            }
        }
        s.schedules[b].retain(|&t| t != i);
        for t in &mut s.schedules[b] {
            if *t > i {
                *t -= 1;
            }
        }
        if s.batches[b].is_empty() {
            s.batches.remove(b);
            s.schedules.remove(b);
        }
        s.normalized()
    }

    /// Takes op `g` out of its concurrent batch into a step of its own,
    /// just before (`after == false`) or just after the batch.
    fn hoisted(&self, g: usize, after: bool) -> Scenario {
        let (b, i) = self.locate(g);
        if self.batches[b].len() < 2 {
            return self.clone();
        }
        let start = self.batch_start(b);
        let len = self.batches[b].len();
        let new_pos = if after { start + len - 1 } else { start };
        let remap = |o: usize| -> usize {
            if o == g {
                new_pos
            } else if o < start || o >= start + len {
                o
            } else if after {
                if o > g {
                    o - 1
                } else {
                    o
                }
            } else if o < g {
                o + 1
            } else {
                o
            }
        };
        let mut s = self.clone();
        let op = s.batches[b].remove(i);
        s.schedules[b].retain(|&t| t != i);
        for t in &mut s.schedules[b] {
            if *t > i {
                *t -= 1;
            }
        }
        for f in &mut s.faults {
            f.op = remap(f.op);
        }
        let at = if after { b + 1 } else { b };
        s.batches.insert(at, vec![op]);
        s.schedules.insert(at, vec![]);
        s.normalized()
    }

    /// Tasks `i` and `j` of batch `b` trade places (ops, faults, schedule).
    fn swapped(&self, b: usize, i: usize, j: usize) -> Scenario {
        let start = self.batch_start(b);
        let (gi, gj) = (start + i, start + j);
        let mut s = self.clone();
        s.batches[b].swap(i, j);
        for f in &mut s.faults {
            if f.op == gi {
                f.op = gj;
            } else if f.op == gj {
                f.op = gi;
            }
        }
        for t in &mut s.schedules[b] {
            if *t == i {
                *t = j;
            } else if *t == j {
                *t = i;
            }
        }
        s.normalized()
    }

    /// As Rust, with the builders of this module.
    pub fn rust(&self) -> String {
        let mut out = String::from("Scenario {\n    batches: vec![\n");
        for batch in &self.batches {
            let ops: Vec<String> = batch.iter().map(Op::rust).collect();
            let _ = writeln!(out, "        vec![{}],", ops.join(", "));
        }
        out.push_str("    ],\n    faults: vec![");
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|f| match f.mode {
                FaultMode::Reject => format!("Fault::reject({}, {})", f.op, f.nth),
                FaultMode::Throw => format!("Fault::throw({}, {})", f.op, f.nth),
                FaultMode::LostAnswer => {
                    format!("Fault {{ op: {}, nth: {}, mode: FaultMode::LostAnswer }}", f.op, f.nth)
                }
            })
            .collect();
        out.push_str(&faults.join(", "));
        out.push_str("],\n    schedules: vec![");
        let scheds: Vec<String> = self.schedules.iter().map(|s| format!("vec!{s:?}")).collect();
        out.push_str(&scheds.join(", "));
        out.push_str("],\n}");
        out
    }
}

// ---- running ---------------------------------------------------------------

/// The result of one operation.
pub enum Res {
    Put(Result<(), Error>),
    Get(Result<Js, Error>),
    Has(Result<bool, Error>),
    Delete(Result<bool, Error>),
    Keys(Result<Js, Error>),
    List(Result<Js, Error>),
    DeleteAll(Result<(), Error>),
    Reconcile(Result<Js, Error>),
    ListOrphans(Result<Js, Error>),
    Advance,
    Tamper,
    /// The batch deadlocked before this operation finished (strict mode's turns).
    Unfinished,
}

impl Res {
    pub fn error(&self) -> Option<&Error> {
        match self {
            Res::Put(Err(e))
            | Res::Get(Err(e))
            | Res::Has(Err(e))
            | Res::Delete(Err(e))
            | Res::Keys(Err(e))
            | Res::List(Err(e))
            | Res::DeleteAll(Err(e))
            | Res::Reconcile(Err(e))
            | Res::ListOrphans(Err(e)) => Some(e),
            _ => None,
        }
    }
    pub fn is_ok(&self) -> bool {
        self.error().is_none()
    }
    pub fn show(&self) -> String {
        if let Some(e) = self.error() {
            return format!("rejects: {}", show_error(e));
        }
        match self {
            Res::Put(_) | Res::DeleteAll(_) => "ok".into(),
            Res::Get(Ok(v)) => format!("{v:?}"),
            Res::Has(Ok(b)) | Res::Delete(Ok(b)) => format!("{b}"),
            Res::Keys(Ok(v)) => format!("{v:?}"),
            Res::List(Ok(v)) => {
                let keys: Vec<Js> = v.items().iter().map(|i| i.prop("key")).collect();
                format!("{} entries {keys:?}", keys.len())
            }
            Res::Reconcile(Ok(v)) => {
                let part = |name: &str| -> String {
                    let keys: Vec<String> = v
                        .prop(name)
                        .items()
                        .iter()
                        .map(|i| {
                            format!("{}:{}", i.prop("key").str().unwrap_or("?"), i.prop("reason").str().unwrap_or("?"))
                        })
                        .collect();
                    format!("{name} [{}]", keys.join(", "))
                };
                format!("{}, {}, {}", part("repaired"), part("failed"), part("skipped"))
            }
            Res::ListOrphans(Ok(v)) => {
                let keys: Vec<String> = v
                    .items()
                    .iter()
                    .map(|i| {
                        format!("{}:{}", i.prop("key").str().unwrap_or("?"), i.prop("reason").str().unwrap_or("?"))
                    })
                    .collect();
                format!("[{}]", keys.join(", "))
            }
            Res::Advance | Res::Tamper => "".into(),
            Res::Unfinished => "never finished (deadlock)".into(),
            _ => unreachable!(),
        }
    }
}

fn show_error(e: &Error) -> String {
    match e {
        StoreError::Host(v) => format!("raw {}", v.prop("message").str().unwrap_or("?")),
        StoreError::DeleteAll(inner) => {
            let parts: Vec<String> = inner.iter().map(show_error).collect();
            format!("AggregateError [{}]", parts.join("; "))
        }
        other => format!("{other}"),
    }
}

async fn perform(store: Rc<FakeStore>, world: Rc<World>, op: Op) -> Res {
    let key = Js::s(op.key);
    match &op.action {
        Action::Put(p) => Res::Put(store.put(&key, &Js::s(&p.secret), &Op::options_js(p)).await),
        Action::Get => Res::Get(store.get(&key).await),
        Action::Has => Res::Has(store.has(&key).await),
        Action::Delete => Res::Delete(store.delete(&key).await),
        Action::Keys => Res::Keys(store.keys().await),
        Action::List => Res::List(store.list_metadata().await),
        Action::DeleteAll => Res::DeleteAll(store.delete_all().await),
        Action::Reconcile(stale) => Res::Reconcile(store.reconcile(&Op::reconcile_options(*stale)).await),
        Action::ListOrphans => Res::ListOrphans(store.list_orphans_report(&Js::Undefined).await),
        Action::Advance(ms) => {
            world.now_ms.set(world.now_ms.get() + *ms as f64);
            Res::Advance
        }
        Action::Tamper(t) => {
            let id = op.id();
            match t {
                // Every version of the id (in the compatible mode: the id itself).
                Tamper::DropSecret => world.secrets.borrow_mut().retain(|k, _| base_of(k) != id),
                Tamper::DropRow => world.rows.borrow_mut().retain(|(k, _)| *k != id),
                // The bytes the row points at (in the compatible mode: the id itself).
                Tamper::SetSecret(v) => {
                    let at = vault_of(true, &id, &world.row(&id));
                    world.secrets.borrow_mut().insert(at, Js::s(v));
                }
            }
            Res::Tamper
        }
    }
}

/// Exploration: faults and schedule drawn from `seed`.
#[derive(Clone, Copy, Debug)]
pub struct Explore {
    pub seed: u64,
    /// Draw faults (else replay the scenario's faults and draw only the schedule).
    pub draw_faults: bool,
    /// Probability that a host call fails.
    pub p_fault: f64,
    /// Probability that a failure is a synchronous throw (else a rejection).
    pub p_throw: f64,
}

/// A fault as it fired.
#[derive(Clone, Debug)]
pub struct Fired {
    pub fault: Fault,
    /// The global call index.
    pub index: usize,
    pub target: &'static str,
    pub method: &'static str,
    pub id: Option<String>,
    /// The injected error object (identity is checked).
    pub error: Js,
}

struct Ctl {
    batch_ops: Vec<usize>,
    calls_per_op: Vec<usize>,
    plan: HashMap<(usize, usize), FaultMode>,
    explore: Option<(Rng, f64, f64)>,
    fired: Vec<Fired>,
}

impl Ctl {
    fn decide(&mut self, call: &Call) -> Option<(FaultMode, Js)> {
        let op = *self.batch_ops.get(call.task?)?;
        let nth = self.calls_per_op[op];
        self.calls_per_op[op] += 1;
        let mode = match &mut self.explore {
            Some((rng, p, p_throw)) => {
                if !rng.chance(*p) {
                    return None;
                }
                if rng.chance(*p_throw) {
                    FaultMode::Throw
                } else {
                    FaultMode::Reject
                }
            }
            None => *self.plan.get(&(op, nth))?,
        };
        let how = match mode {
            FaultMode::Reject => "rejection",
            FaultMode::Throw => "throw",
            FaultMode::LostAnswer => "lost answer",
        };
        let error =
            Js::error("Error", &format!("injected {how} of {}.{} (op #{op}, call {nth})", call.target, call.method));
        self.fired.push(Fired {
            fault: Fault { op, nth, mode },
            index: call.index,
            target: call.target,
            method: call.method,
            id: call.id.clone(),
            error: error.clone(),
        });
        Some((mode, error))
    }
}

/// One operation as it ran.
pub struct OpRun {
    pub op: Op,
    pub batch: usize,
    /// Global scheduler steps of its first poll and of its completion.
    pub first: u64,
    pub done: u64,
    pub res: Res,
}

/// A completed host call and the op that made it.
pub struct Effect {
    pub op: usize,
    pub c: Completion,
}

impl Effect {
    pub fn is(&self, target: &str, method: &str, id: &str) -> bool {
        self.c.call.target == target && self.c.call.method == method && self.c.call.id.as_deref() == Some(id)
    }
    /// A call of `target.method` on `id` or on a version of it.
    pub fn is_for(&self, target: &str, method: &str, id: &str) -> bool {
        self.c.call.target == target
            && self.c.call.method == method
            && self.c.call.id.as_deref().map(base_of) == Some(id)
    }
    pub fn ok(&self) -> bool {
        self.c.fault.is_none()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    // Always violations.
    SecretInError,
    WrongErrorValue,
    UnexpectedError,
    ForeignValue,
    ScopeEscape,
    UnjustifiedMarker,
    ReadMismatch,
    // State invariants: violations after a sequential step, anomalies after a concurrent batch.
    CommittedRowWithoutSecret,
    SilentOrphan,
    LostPut,
    TornRow,
    // The known gap of the compatible protocol.
    ExpiredReadSilentOrphan,
    /// Strict mode: a read waited for a turn, with no expired row to clean up.
    ReadWaited,
    // Reconciliation's promises (violations in every mode).
    /// reconcile deleted vault bytes a committed row pointed at.
    ReconcileDeletedLiveBytes,
    /// reconcile reported a repair it did not finish (row left, or row
    /// removed while bytes it named stayed).
    ReconcileRepairIncomplete,
    /// Every live task of a batch waits for a turn (strict mode).
    Stuck,
    /// Strict mode: no sequential order of a concurrent batch's operations,
    /// consistent with real time, explains the results and the final state
    /// of some id.
    NotLinearizable,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::SecretInError => "secret-in-error",
            Kind::WrongErrorValue => "wrong-error-value",
            Kind::UnexpectedError => "unexpected-error",
            Kind::ForeignValue => "foreign-value",
            Kind::ScopeEscape => "scope-escape",
            Kind::UnjustifiedMarker => "unjustified-marker",
            Kind::ReadMismatch => "read-mismatch",
            Kind::CommittedRowWithoutSecret => "committed-row-without-secret",
            Kind::SilentOrphan => "silent-orphan",
            Kind::LostPut => "lost-put",
            Kind::TornRow => "torn-row",
            Kind::ExpiredReadSilentOrphan => "expired-read-silent-orphan",
            Kind::ReconcileDeletedLiveBytes => "reconcile-deleted-live-bytes",
            Kind::ReconcileRepairIncomplete => "reconcile-repair-incomplete",
            Kind::Stuck => "stuck",
            Kind::ReadWaited => "read-waited",
            Kind::NotLinearizable => "not-linearizable",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Violation,
    Anomaly,
    KnownGap,
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: Kind,
    /// What exactly broke, where a kind has several shapes (lost-put: "no-row", …).
    pub sub: &'static str,
    pub class: Class,
    pub batch: usize,
    pub id: Option<String>,
    pub detail: String,
}

/// Everything one run did and found.
pub struct Run {
    /// The scenario as it ran: faults that fired, schedules as taken.
    pub scenario: Scenario,
    pub opts: RunOpts,
    pub world: Rc<World>,
    pub ops: Vec<OpRun>,
    pub effects: Vec<Effect>,
    pub fired: Vec<Fired>,
    pub findings: Vec<Finding>,
    /// Polls that found a task waiting for a turn.
    pub stalls: u64,
    /// Ops that waited for a turn at least once.
    pub waited: HashSet<usize>,
    /// Per-id histories the linearizability check explained, with 2, 3
    /// and 4 operations (clock advances not counted).
    pub lin_checked: [u64; 3],
}

impl Run {
    pub fn has(&self, kind: Kind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }
    pub fn has_class(&self, kind: Kind, class: Class) -> bool {
        self.findings.iter().any(|f| f.kind == kind && f.class == class)
    }
    pub fn has_exactly(&self, kind: Kind, sub: &str, class: Class) -> bool {
        self.findings.iter().any(|f| f.kind == kind && f.sub == sub && f.class == class)
    }
    pub fn violations(&self) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.class == Class::Violation).collect()
    }
}

const STEP_LIMIT: u64 = 100_000;

/// Which protocol the stores run, and which checks apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOpts {
    /// Strict mode: the three stores share one `KeyLocks` (one metadata object).
    pub strict: bool,
    /// Check every concurrent batch for linearizability per key (on by
    /// default in strict mode; a test turns it on for the compatible mode to
    /// show that it flags the known races).
    pub lin: bool,
}

impl RunOpts {
    pub const COMPATIBLE: RunOpts = RunOpts { strict: false, lin: false };
    pub const STRICT: RunOpts = RunOpts { strict: true, lin: true };
    pub fn of(strict: bool) -> RunOpts {
        if strict {
            RunOpts::STRICT
        } else {
            RunOpts::COMPATIBLE
        }
    }
}

/// Runs a scenario on compatible-mode stores (see [`run_with`]).
pub fn run(sc: &Scenario, explore: Option<Explore>) -> Run {
    run_with(sc, explore, RunOpts::COMPATIBLE)
}

/// Runs a scenario on strict-mode stores (see [`run_with`]).
pub fn run_strict(sc: &Scenario, explore: Option<Explore>) -> Run {
    run_with(sc, explore, RunOpts::STRICT)
}

/// Runs a scenario: replays its faults and schedules, or (with `explore`)
/// draws them and records what it drew in `Run::scenario`.
///
/// Strict mode's tasks may wait for a key's turn: a poll that neither
/// completes a host call, nor makes one, nor finishes the task (nor is the
/// task's first, which queues it) leaves the task *stalled*, and the
/// scheduler picks among the others until something moves. If every live
/// task is stalled the batch deadlocked: a `stuck` violation ends the run.
pub fn run_with(sc: &Scenario, explore: Option<Explore>, opts: RunOpts) -> Run {
    let sc = sc.clone().normalized();
    let n = sc.op_count();
    let world = World::new();
    world.yielding.set(true);
    let locks = KeyLocks::new();
    let stores: Vec<Rc<FakeStore>> = SCOPES
        .iter()
        .map(|(u, p)| Rc::new(if opts.strict { world.store(u, p).strict(locks.clone()) } else { world.store(u, p) }))
        .collect();
    let ctl = Rc::new(RefCell::new(Ctl {
        batch_ops: vec![],
        calls_per_op: vec![0; n],
        plan: sc.faults.iter().map(|f| ((f.op, f.nth), f.mode)).collect(),
        explore: explore.filter(|e| e.draw_faults).map(|e| (Rng::new(mix(e.seed, 1)), e.p_fault, e.p_throw)),
        fired: vec![],
    }));
    {
        let ctl = ctl.clone();
        world.set_fault_hook(move |call| ctl.borrow_mut().decide(call));
    }
    let mut sched_rng = explore.map(|e| Rng::new(mix(e.seed, 2)));
    let mut checker = Checker::new(&sc, opts);
    let mut run = Run {
        scenario: Scenario { batches: sc.batches.clone(), faults: vec![], schedules: vec![] },
        opts,
        world: world.clone(),
        ops: vec![],
        effects: vec![],
        fired: vec![],
        findings: vec![],
        stalls: 0,
        waited: HashSet::new(),
        lin_checked: [0; 3],
    };
    let mut step: u64 = 0;
    let mut start = 0;
    for (b, batch) in sc.batches.iter().enumerate() {
        let globals: Vec<usize> = (start..start + batch.len()).collect();
        start += batch.len();
        ctl.borrow_mut().batch_ops = globals.clone();
        let pre = Snapshot::of(&world);
        let pool = Pool::default();
        let handles: Vec<_> =
            batch.iter().map(|op| pool.spawn(perform(stores[op.scope].clone(), world.clone(), op.clone()))).collect();
        let mut plan = sc.schedules[b].iter().copied();
        let mut taken = vec![];
        let mut first = vec![u64::MAX; batch.len()];
        let mut done = vec![0; batch.len()];
        // Tasks polled since anything last moved, that did not move.
        let mut stalled: Vec<usize> = vec![];
        let mut stuck = false;
        loop {
            let live = pool.live_tasks();
            if live.is_empty() {
                break;
            }
            let movable: Vec<usize> = live.iter().copied().filter(|t| !stalled.contains(t)).collect();
            if movable.is_empty() {
                stuck = true;
                break;
            }
            // Explored picks are all recorded; replayed ones only as far
            // as the plan chose them (the default needs no entry). In the
            // compatible mode nothing stalls, so `movable` is `live`.
            let pick = if batch.len() == 1 {
                movable[0]
            } else if let Some(rng) = sched_rng.as_mut() {
                let t = movable[rng.below(movable.len())];
                taken.push(t);
                t
            } else {
                loop {
                    match plan.next() {
                        Some(t) if live.contains(&t) => {
                            taken.push(t);
                            break t;
                        }
                        Some(_) => continue,
                        None => break movable[0],
                    }
                }
            };
            let fresh = first[pick] == u64::MAX;
            first[pick] = first[pick].min(step);
            let completed_before = world.completions.borrow().len();
            let progressed = pool.poll_task(pick) || world.completions.borrow().len() != completed_before;
            if !opts.strict {
                assert!(progressed, "a compatible-mode task blocked without a gate");
            }
            if progressed || fresh {
                stalled.clear();
            } else {
                stalled.push(pick);
                run.stalls += 1;
                run.waited.insert(globals[pick]);
            }
            if handles[pick].is_done() {
                done[pick] = step;
            }
            step += 1;
            assert!(step < STEP_LIMIT, "runaway scenario");
        }
        run.scenario.schedules.push(taken);
        for c in world.completions.borrow_mut().drain(..) {
            let op = globals[c.call.task.expect("calls come from tasks")];
            run.effects.push(Effect { op, c });
        }
        for (i, h) in handles.iter().enumerate() {
            let res = if h.is_done() { h.take() } else { Res::Unfinished };
            run.ops.push(OpRun { op: batch[i].clone(), batch: b, first: first[i], done: done[i], res });
        }
        run.fired = ctl.borrow().fired.clone();
        if stuck {
            let d = format!("batch {b} deadlocked: every live task waits for a turn nobody holds");
            checker.report(Kind::Stuck, Class::Violation, b, None, d);
            // The rest of the scenario is not run: the ops never finished.
            run.scenario.batches.truncate(b + 1);
            break;
        }
        checker.check_batch(&run, b, &globals, &pre);
    }
    run.scenario.faults = run.fired.iter().map(|f| f.fault).collect();
    run.scenario = run.scenario.normalized();
    run.findings = checker.findings;
    run.lin_checked = checker.lin_checked;
    run
}

// ---- checking --------------------------------------------------------------

/// The host state before a batch.
pub struct Snapshot {
    pub rows: Vec<(String, Js)>,
    pub secrets: BTreeMap<String, Js>,
    pub now: f64,
}

impl Snapshot {
    fn of(w: &World) -> Snapshot {
        Snapshot { rows: w.rows.borrow().clone(), secrets: w.secrets.borrow().clone(), now: w.now_ms.get() }
    }
    pub fn row(&self, id: &str) -> Js {
        self.rows.iter().find(|(k, _)| k == id).map(|(_, v)| v.clone()).unwrap_or(Js::Undefined)
    }
}

/// `+new Date(v)` as the fake clock computes it.
pub fn date_ms(v: &Js) -> f64 {
    match v {
        Js::Str(s) => parse_iso(s),
        Js::Num(n) => *n,
        Js::Null => 0.0,
        Js::Bool(b) => f64::from(u8::from(*b)),
        Js::Date(ms) => *ms,
        _ => f64::NAN,
    }
}

/// The id a vault id belongs to: `u1/p1/a#v3` → `u1/p1/a` (a plain id is its own).
pub fn base_of(vault_id: &str) -> &str {
    vault_id.split('#').next().unwrap_or(vault_id)
}

/// Whether `candidate` is `id` itself or a version of it (`id#token`): the
/// store's rule for every vault id it reads from a row.
pub fn is_version_of(id: &str, candidate: &str) -> bool {
    match candidate.strip_prefix(id) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('#').is_some_and(|t| {
            !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }),
        None => false,
    }
}

/// The vault id holding a row's bytes: in strict mode its `vaultId` when
/// that names a version of `id`, else `id` itself.
pub fn vault_of(strict: bool, id: &str, row: &Js) -> String {
    match row.prop("vaultId").str() {
        Some(v) if strict && is_version_of(id, v) => v.to_owned(),
        _ => id.to_owned(),
    }
}

/// The old versions a strict row records as not yet deleted (validated as
/// the store does: the id itself or a version of it; the plain id is an old
/// version too when the row it replaced had no `vaultId`).
pub fn retired_of(id: &str, row: &Js) -> Vec<String> {
    versions_in(id, row, "retiredVaultIds")
}

/// The versions a strict row names as being written (`pendingVaultIds`).
pub fn pending_of(id: &str, row: &Js) -> Vec<String> {
    versions_in(id, row, "pendingVaultIds")
}

fn versions_in(id: &str, row: &Js, list: &str) -> Vec<String> {
    match row.prop(list) {
        Js::Arr(items) => {
            items.iter().filter_map(|t| t.str().filter(|t| is_version_of(id, t)).map(str::to_owned)).collect()
        }
        _ => vec![],
    }
}

/// The bytes a store deletes with a row: its vault id and, in strict mode, its retired versions.
pub fn named_bytes(strict: bool, id: &str, row: &Js) -> Vec<String> {
    let mut named = vec![vault_of(strict, id, row)];
    if strict {
        named.extend(retired_of(id, row));
        named.extend(pending_of(id, row));
    }
    named
}

/// Default `stalePendingMs` of listOrphans/reconcile (10 minutes).
pub const STALE_PENDING_MS: f64 = 600_000.0;

/// What reconciliation finds wrong with a row (its `reason`), if anything.
pub fn finding_of(strict: bool, id: &str, row: &Js, now: f64, stale_ms: f64) -> Option<String> {
    if !row.truthy() {
        return None;
    }
    if matches!(row.prop("pending"), Js::Bool(true)) {
        if !matches!(row.prop("orphanedAt"), Js::Undefined) {
            let known = ["vault-write-failed", "metadata-commit-failed", "vault-delete-failed"];
            return Some(match row.prop("orphanReason").str() {
                Some(r) if known.contains(&r) => r.to_owned(),
                _ => "unknown".to_owned(),
            });
        }
        if now - date_ms(&row.prop("updatedAt")) >= stale_ms {
            return Some("stale-pending".to_owned());
        }
    }
    // Committed, or pending without a marker (a strict delete in flight).
    (strict && !retired_of(id, row).is_empty()).then(|| "retired-versions".to_owned())
}

/// The scope's rows listOrphans reports, as `(key, reason)` in the KV's order.
pub fn findings_in(
    strict: bool,
    scope: usize,
    rows: &[(String, Js)],
    now: f64,
    stale_ms: f64,
) -> Vec<(String, String)> {
    let pfx = prefix(scope);
    rows.iter()
        .filter(|(k, r)| {
            k.starts_with(&pfx)
                && r.truthy()
                && r.prop("userId").str() == Some(SCOPES[scope].0)
                && r.prop("projectId").str() == Some(SCOPES[scope].1)
        })
        .filter_map(|(k, r)| finding_of(strict, k, r, now, stale_ms).map(|f| (k[pfx.len()..].to_owned(), f)))
        .collect()
}

/// `(key, reason)` of each entry of a listOrphans array or a reconcile report part.
pub fn report_entries(list: &Js) -> Vec<(String, String)> {
    match list {
        Js::Arr(items) => items
            .iter()
            .map(|i| (i.prop("key").str().unwrap_or("?").to_owned(), i.prop("reason").str().unwrap_or("?").to_owned()))
            .collect(),
        _ => vec![],
    }
}

pub fn is_committed(row: &Js) -> bool {
    row.truthy() && !matches!(row.prop("pending"), Js::Bool(true))
}

pub fn is_expired(row: &Js, now: f64) -> bool {
    let e = row.prop("expiresAt");
    !matches!(e, Js::Undefined) && date_ms(&e) <= now
}

/// An error and, through DeleteAll, the errors inside it, with their depth.
fn leaves<'a>(e: &'a Error, depth: usize, out: &mut Vec<(usize, &'a Error)>) {
    out.push((depth, e));
    if let StoreError::DeleteAll(inner) = e {
        for x in inner {
            leaves(x, depth + 1, out);
        }
    }
}

fn leaf_errors(e: &Error) -> Vec<(usize, &Error)> {
    let mut out = vec![];
    leaves(e, 0, &mut out);
    out
}

/// Whether the successful `metadata.put` `e` of row `row` on `id` rewrote
/// the marker already there with its reason and `orphanedAt` unchanged
/// (strict delete's pending-first write spreads the row it deletes).
fn carries_over_a_marker(run: &Run, e: &Effect, id: &str, row: &Js) -> bool {
    let Some(at) = run.effects.iter().position(|x| std::ptr::eq(x, e)) else { return false };
    let previous = run.effects[..at].iter().rev().find(|x| {
        x.c.call.target == "metadata"
            && matches!(x.c.call.method, "put" | "delete")
            && x.c.call.id.as_deref() == Some(id)
            && x.ok()
    });
    let Some(prev) = previous.filter(|x| x.c.call.method == "put").and_then(|x| x.c.call.arg.clone()) else {
        return false;
    };
    matches!(prev.prop("pending"), Js::Bool(true))
        && matches!(row.prop("pending"), Js::Bool(true))
        && prev.prop("orphanedAt").str().is_some()
        && prev.prop("orphanReason").same(&row.prop("orphanReason"))
        && prev.prop("orphanedAt").same(&row.prop("orphanedAt"))
}

fn cause_of(e: &Error) -> Option<&Js> {
    match e {
        StoreError::Host(v)
        | StoreError::VaultWriteOrphaned { cause: v, .. }
        | StoreError::CommitOrphaned { cause: v, .. }
        | StoreError::VaultDeleteOrphaned { cause: v, .. } => Some(v),
        _ => None,
    }
}

/// Whether an op's error reports vault bytes left under vault id `id` by
/// name: the id itself, or (for errors that name a key's id) the id it is
/// a version of. In the compatible mode every vault id is a plain id.
fn reports_orphan(e: &Error, scope: usize, id: &str, by_writer: bool) -> bool {
    let base = base_of(id);
    leaf_errors(e).into_iter().any(|(_, l)| match l {
        StoreError::VaultWriteOrphaned { id: named, .. } | StoreError::CommitOrphaned { id: named, .. } => {
            by_writer && named == base
        }
        StoreError::VaultDeleteOrphaned { key, .. } => format!("{}{key}", prefix(scope)) == base,
        _ => false,
    })
}

pub(crate) struct Checker {
    strict: bool,
    lin: bool,
    secrets: Vec<String>,
    /// Secret → the put op that wrote it.
    writer_of: HashMap<String, usize>,
    /// Acknowledged puts still to be honoured.
    acks: Vec<usize>,
    seen: HashSet<(Kind, String)>,
    findings: Vec<Finding>,
    lin_checked: [u64; 3],
}

impl Checker {
    fn new(sc: &Scenario, opts: RunOpts) -> Checker {
        let mut writer_of = HashMap::new();
        for (g, op) in sc.ops().into_iter().enumerate() {
            if let Some(s) = op.secret() {
                writer_of.insert(s.to_owned(), g);
            }
        }
        Checker {
            strict: opts.strict,
            lin: opts.lin,
            secrets: writer_of.keys().cloned().collect(),
            writer_of,
            acks: vec![],
            seen: HashSet::new(),
            findings: vec![],
            lin_checked: [0; 3],
        }
    }

    fn report(&mut self, kind: Kind, class: Class, batch: usize, id: Option<&str>, detail: String) {
        self.report_sub(kind, "", class, batch, id, detail)
    }

    fn report_sub(
        &mut self,
        kind: Kind,
        sub: &'static str,
        class: Class,
        batch: usize,
        id: Option<&str>,
        detail: String,
    ) {
        let tag = format!("{sub}|{}|{detail}", id.unwrap_or(""));
        if self.seen.insert((kind, tag)) {
            self.findings.push(Finding { kind, sub, class, batch, id: id.map(Into::into), detail });
        }
    }

    fn check_batch(&mut self, run: &Run, b: usize, globals: &[usize], pre: &Snapshot) {
        let concurrent = globals.len() > 1;
        for &g in globals {
            self.check_op(run, b, g, concurrent, pre);
        }
        let state_class = if concurrent { Class::Anomaly } else { Class::Violation };
        if self.strict {
            self.check_state_strict(run, b, state_class);
        } else {
            self.check_state(run, b, state_class);
        }
        if concurrent && self.lin {
            let (bad, sizes) = super::lin::check(run, b, globals, pre);
            for (i, n) in sizes.into_iter().enumerate() {
                self.lin_checked[i] += n;
            }
            for (id, sub, detail) in bad {
                self.report_sub(Kind::NotLinearizable, sub, Class::Anomaly, b, Some(&id), detail);
            }
        }
        for &g in globals {
            if matches!(run.ops[g].res, Res::Put(Ok(()))) {
                let id = run.ops[g].op.id();
                // A later acknowledged put of the same id implies the earlier one.
                let ops = &run.ops;
                self.acks.retain(|&p| !(ops[p].op.id() == id && ops[p].done < ops[g].first));
                self.acks.push(g);
            }
        }
        self.check_acks(run, b, state_class);
    }

    fn check_op(&mut self, run: &Run, b: usize, g: usize, concurrent: bool, pre: &Snapshot) {
        let o = &run.ops[g];
        let op = &o.op;
        let id = op.id();
        let fired: Vec<&Fired> = run.fired.iter().filter(|f| f.fault.op == g).collect();
        let mine: Vec<&Effect> = run.effects.iter().filter(|e| e.op == g).collect();

        // Scope: every call stays under the op's prefix.
        let pfx = prefix(op.scope);
        for e in &mine {
            if let Some(cid) = &e.c.call.id {
                if !cid.starts_with(&pfx) {
                    self.report(
                        Kind::ScopeEscape,
                        Class::Violation,
                        b,
                        Some(cid),
                        format!("op #{g} {op} called {}", e.c.call.short()),
                    );
                }
            }
        }

        // Errors: no secret, the injected value itself, the right wrapper.
        if let Some(err) = o.res.error() {
            let texts = [format!("{err}"), format!("{err:?}")];
            for (_, l) in leaf_errors(err) {
                for t in texts.iter().chain([format!("{l}"), format!("{l:?}")].iter()) {
                    if let Some(s) = self.secrets.iter().find(|s| t.contains(s.as_str())) {
                        let d = format!("op #{g} {op}: error {t:?} contains secret {s:?}");
                        self.report(Kind::SecretInError, Class::Violation, b, None, d);
                    }
                }
            }
            self.check_error_values(run, b, g, err, &fired, &mine);
        }

        // Values: a get returns only what a put of that very id wrote.
        if let Res::Get(Ok(v)) = &o.res {
            let ok = match v {
                Js::Undefined => true,
                Js::Str(s) => self.writer_of.get(&**s).is_some_and(|&w| run.ops[w].op.id() == id),
                _ => false,
            };
            if !ok {
                self.report(Kind::ForeignValue, Class::Violation, b, Some(&id), format!("op #{g} {op} returned {v:?}"));
            }
        }

        // Markers: each orphan reason the op wrote matches its own failures.
        for (at, e) in mine.iter().enumerate() {
            if !(e.c.call.target == "metadata" && e.c.call.method == "put" && e.ok()) {
                continue;
            }
            let row = e.c.call.arg.clone().unwrap_or(Js::Undefined);
            let reason = row.prop("orphanReason");
            let Some(reason) = reason.str() else { continue };
            let mid = e.c.call.id.clone().unwrap_or_default();
            if self.strict && carries_over_a_marker(run, e, &mid, &row) {
                // Strict delete's pending-first write over a marker: the
                // marker's own reason, justified when it was written.
                continue;
            }
            let before = &mine[..at];
            // Vault calls on the id or (strict mode) on a version of it.
            let failed = |t: &str, m: &str| before.iter().position(|x| x.is_for(t, m, &mid) && !x.ok());
            let succeeded_before =
                |t: &str, m: &str, end: usize| before[..end].iter().any(|x| x.is_for(t, m, &mid) && x.ok());
            let justified = matches!(row.prop("pending"), Js::Bool(true))
                && row.prop("orphanedAt").str().is_some()
                && match reason {
                    // The rollback's row delete failed (strict mode: or, before
                    // it, the delete of the version's bytes).
                    "vault-write-failed" => failed("vault", "setSecret").is_some_and(|i| {
                        before[i..].iter().any(|x| {
                            !x.ok()
                                && (x.is("metadata", "delete", &mid)
                                    || (self.strict && x.c.call.target == "vault" && x.c.call.method == "deleteSecret"))
                        })
                    }),
                    "metadata-commit-failed" => before.iter().enumerate().any(|(i, x)| {
                        x.is("metadata", "put", &mid)
                            && !x.ok()
                            && matches!(x.c.call.arg.as_ref().map(|r| r.prop("pending")), Some(Js::Bool(false)))
                            && succeeded_before("vault", "setSecret", i)
                    }),
                    // The row went first: deleted (compatible mode), or
                    // turned pending (strict mode's pending-first delete).
                    "vault-delete-failed" => failed("vault", "deleteSecret").is_some_and(|i| {
                        if self.strict {
                            // A committed row was turned pending first; a row
                            // already pending (deleteAll over a marker or a
                            // stale pending row) is not rewritten before.
                            let writes_before: Vec<_> =
                                before[..i].iter().filter(|x| x.is("metadata", "put", &mid)).collect();
                            writes_before.is_empty()
                                || writes_before.iter().any(|x| {
                                    x.ok()
                                        && x.c
                                            .call
                                            .arg
                                            .as_ref()
                                            .is_some_and(|r| matches!(r.prop("pending"), Js::Bool(true)))
                                })
                        } else {
                            succeeded_before("metadata", "delete", i)
                        }
                    }),
                    _ => false,
                };
            if !justified {
                let d = format!("op #{g} {op} wrote marker {row:?} without the failures its reason names");
                self.report(Kind::UnjustifiedMarker, Class::Violation, b, Some(&mid), d);
            }
        }

        // Reads never wait; get/has only for an expired row's cleanup (a
        // second read of the row, in the cleanup's turn).
        if run.waited.contains(&g) {
            let rereads = mine.iter().filter(|e| e.is("metadata", "get", &id)).count();
            let waits_ok = match op.action {
                Action::Get | Action::Has => rereads >= 2,
                Action::Keys | Action::List | Action::ListOrphans => false,
                _ => true,
            };
            if !waits_ok {
                let d = format!("op #{g} {op} waited for a turn");
                self.report(Kind::ReadWaited, Class::Violation, b, Some(&id), d);
            }
        }

        // Reconciliation: each failed repair carries an error injected into
        // this op; no repair deletes live bytes; each reported one is done.
        if let Res::Reconcile(Ok(report)) = &o.res {
            for entry in report.prop("failed").items() {
                let e = entry.prop("error");
                if !fired.iter().any(|f| f.error.same(&e)) {
                    let d = format!("op #{g} {op}: failed entry {entry:?} carries no value injected into this op");
                    self.report(Kind::WrongErrorValue, Class::Violation, b, None, d);
                }
            }
        }
        if matches!(op.action, Action::Reconcile(_)) {
            self.check_reconcile(run, b, g, pre);
        }

        // Sequential results agree with the state before the step.
        if !concurrent {
            self.check_sequential_result(run, b, g, pre);
        }
    }

    /// Replays the batch's host calls from the snapshot before it and
    /// checks each call of reconcile op `g` against the state it met: it
    /// never deletes bytes a committed row points at; it deletes a row only
    /// once the bytes that row named are gone; and every entry it reports
    /// repaired was finished (the row deleted, or for retired versions
    /// rewritten without them).
    fn check_reconcile(&mut self, run: &Run, b: usize, g: usize, pre: &Snapshot) {
        let strict = self.strict;
        let op = run.ops[g].op.clone();
        let mut rows: BTreeMap<String, Js> = pre.rows.iter().cloned().collect();
        let mut vault = pre.secrets.clone();
        // The row each of reconcile's turns re-read, by id.
        let mut reread: HashMap<String, Js> = HashMap::new();
        let mut removed: HashSet<String> = HashSet::new();
        let mut cleared: HashSet<String> = HashSet::new();
        let mut problems: Vec<(Kind, String, String)> = vec![];
        for e in run.effects.iter().filter(|e| run.ops[e.op].batch == b) {
            let call = &e.c.call;
            let cid = call.id.clone().unwrap_or_default();
            if e.op == g && e.ok() {
                match (call.target, call.method) {
                    ("metadata", "get") => {
                        reread.insert(cid.clone(), rows.get(&cid).cloned().unwrap_or(Js::Undefined));
                    }
                    ("vault", "deleteSecret") => {
                        let base = base_of(&cid);
                        if let Some(row) = rows.get(base) {
                            if is_committed(row) && vault_of(strict, base, row) == cid {
                                let d = format!(
                                    "op #{g} {op} deleted vault id {cid}, which the committed row {base} points at"
                                );
                                problems.push((Kind::ReconcileDeletedLiveBytes, base.to_owned(), d));
                            }
                        }
                    }
                    ("metadata", "delete") => {
                        let row = reread.get(&cid).cloned().unwrap_or(Js::Undefined);
                        // Reconcile reads `vaultId` in either mode.
                        let mut named = vec![vault_of(true, &cid, &row)];
                        named.extend(retired_of(&cid, &row));
                        named.extend(pending_of(&cid, &row));
                        for n in named.iter().filter(|n| vault.contains_key(*n)) {
                            let d =
                                format!("op #{g} {op} deleted row {cid} while vault id {n} it named still held bytes");
                            problems.push((Kind::ReconcileRepairIncomplete, cid.clone(), d));
                        }
                        removed.insert(cid.clone());
                    }
                    // A write that clears the record (strict mode's deletion
                    // mark, written first, keeps every version named).
                    ("metadata", "put") if call.arg.as_ref().is_some_and(|w| retired_of(&cid, w).is_empty()) => {
                        let row = reread.get(&cid).cloned().unwrap_or(Js::Undefined);
                        for r in retired_of(&cid, &row).iter().filter(|r| vault.contains_key(*r)) {
                            let d = format!("op #{g} {op} cleared {cid}'s retired versions while {r} still held bytes");
                            problems.push((Kind::ReconcileRepairIncomplete, cid.clone(), d));
                        }
                        cleared.insert(cid.clone());
                    }
                    _ => {}
                }
            }
            if e.ok() {
                match (call.target, call.method) {
                    ("metadata", "put") => {
                        rows.insert(cid, call.arg.clone().unwrap_or(Js::Undefined));
                    }
                    ("metadata", "delete") => {
                        rows.remove(&cid);
                    }
                    ("vault", "setSecret") => {
                        vault.insert(cid, call.arg.clone().unwrap_or(Js::Undefined));
                    }
                    ("vault", "deleteSecret") => {
                        vault.remove(&cid);
                    }
                    _ => {}
                }
            }
        }
        if let Res::Reconcile(Ok(report)) = &run.ops[g].res {
            for (key, reason) in report_entries(&report.prop("repaired")) {
                let id = format!("{}{key}", prefix(op.scope));
                let done = if reason == "retired-versions" { cleared.contains(&id) } else { removed.contains(&id) };
                if !done {
                    let d = format!("op #{g} {op} reported {key} ({reason}) repaired, but did not finish it");
                    problems.push((Kind::ReconcileRepairIncomplete, id, d));
                }
            }
        }
        for (kind, id, d) in problems {
            self.report(kind, Class::Violation, b, Some(&id), d);
        }
    }

    fn check_error_values(&mut self, run: &Run, b: usize, g: usize, err: &Error, fired: &[&Fired], mine: &[&Effect]) {
        let op = &run.ops[g].op;
        for (depth, l) in leaf_errors(err) {
            let bad = |why: String| format!("op #{g} {op}: {} — {why}", show_error(l));
            if let StoreError::DeleteAll(_) = l {
                if depth > 0 || !matches!(op.action, Action::DeleteAll) {
                    self.report(
                        Kind::UnexpectedError,
                        Class::Violation,
                        b,
                        None,
                        bad("misplaced AggregateError".into()),
                    );
                }
                continue;
            }
            let Some(cause) = cause_of(l) else {
                self.report(Kind::UnexpectedError, Class::Violation, b, None, bad("not a host failure".into()));
                continue;
            };
            let Some(f) = fired.iter().find(|f| f.error.same(cause)) else {
                self.report(
                    Kind::WrongErrorValue,
                    Class::Violation,
                    b,
                    None,
                    bad("carries no value injected into this op".into()),
                );
                continue;
            };
            let expect = |t: &str, m: &str| f.target == t && f.method == m;
            let problem = match l {
                StoreError::Host(_) => None,
                StoreError::VaultWriteOrphaned { id, .. } => (!expect("vault", "setSecret") || *id != op.id())
                    .then(|| "cause is not this id's vault write".to_string()),
                StoreError::CommitOrphaned { id, .. } => {
                    (!expect("metadata", "put") || *id != op.id()).then(|| "cause is not this id's commit".to_string())
                }
                StoreError::VaultDeleteOrphaned { op: dop, key, marker_persisted, .. } => {
                    let did = format!("{}{key}", prefix(op.scope));
                    let right_op = match op.action {
                        Action::Delete => *dop == DeleteOp::Delete,
                        Action::DeleteAll => *dop == DeleteOp::DeleteAll,
                        _ => false,
                    };
                    let at = mine.iter().position(|e| e.c.call.index == f.index);
                    let persisted = if self.strict {
                        // Strict mode deletes the row's retired versions too before the marker.
                        at.and_then(|i| {
                            mine[i + 1..]
                                .iter()
                                .find(|e| e.c.call.target == "metadata" && e.c.call.id.as_deref() == Some(did.as_str()))
                        })
                        .is_some_and(|e| e.c.call.method == "put" && e.ok())
                    } else {
                        at.and_then(|i| mine.get(i + 1)).is_some_and(|e| e.is("metadata", "put", &did) && e.ok())
                    };
                    let same_id = if self.strict {
                        f.id.as_deref().map(base_of) == Some(did.as_str())
                    } else {
                        f.id.as_deref() == Some(did.as_str())
                    };
                    if !expect("vault", "deleteSecret") || !same_id || !right_op {
                        Some("cause is not this key's vault delete".to_string())
                    } else if persisted != *marker_persisted {
                        Some(format!("says marker_persisted={marker_persisted}, the marker write says {persisted}"))
                    } else {
                        None
                    }
                }
                _ => Some("unexpected variant".to_string()),
            };
            if let Some(why) = problem {
                self.report(Kind::WrongErrorValue, Class::Violation, b, None, bad(why));
            }
        }
    }

    fn check_sequential_result(&mut self, run: &Run, b: usize, g: usize, pre: &Snapshot) {
        let o = &run.ops[g];
        let op = &o.op;
        let id = op.id();
        let row = pre.row(&id);
        let live = is_committed(&row) && !is_expired(&row, pre.now);
        let listed = || -> Vec<String> {
            let pfx = prefix(op.scope);
            pre.rows
                .iter()
                .filter(|(k, r)| {
                    k.starts_with(&pfx)
                        && r.prop("userId").str() == Some(SCOPES[op.scope].0)
                        && r.prop("projectId").str() == Some(SCOPES[op.scope].1)
                        && is_committed(r)
                        && !is_expired(r, pre.now)
                })
                .map(|(_, r)| r.prop("key").str().unwrap_or("").to_owned())
                .collect()
        };
        let keys_of = |v: &Js, info: bool| -> Vec<String> {
            v.items()
                .iter()
                .map(|i| if info { i.prop("key") } else { i.clone() }.str().unwrap_or("").to_owned())
                .collect()
        };
        let mismatch = match &o.res {
            Res::Get(Ok(v)) => {
                let at = vault_of(self.strict, &id, &row);
                let want = if live { pre.secrets.get(&at).cloned().unwrap_or(Js::Undefined) } else { Js::Undefined };
                (!v.same(&want)).then(|| format!("returned {v:?}, the state says {want:?}"))
            }
            Res::Has(Ok(h)) => (*h != live).then(|| format!("returned {h}, the state says {live}")),
            Res::Delete(Ok(d)) => {
                let want = is_committed(&row);
                (*d != want).then(|| format!("returned {d}, the state says {want}"))
            }
            Res::Keys(Ok(v)) => {
                let (got, want) = (keys_of(v, false), listed());
                (got != want).then(|| format!("returned {got:?}, the state says {want:?}"))
            }
            Res::List(Ok(v)) => {
                let (got, want) = (keys_of(v, true), listed());
                (got != want).then(|| format!("listed {got:?}, the state says {want:?}"))
            }
            Res::ListOrphans(Ok(v)) => {
                let want = findings_in(self.strict, op.scope, &pre.rows, pre.now, STALE_PENDING_MS);
                let got = report_entries(v);
                (got != want).then(|| format!("listed {got:?}, the state says {want:?}"))
            }
            Res::Reconcile(Ok(r)) => {
                let stale = match op.action {
                    Action::Reconcile(Some(ms)) => f64::from(ms),
                    _ => STALE_PENDING_MS,
                };
                let mut want = findings_in(self.strict, op.scope, &pre.rows, pre.now, stale);
                let mut got = report_entries(&r.prop("repaired"));
                got.extend(report_entries(&r.prop("failed")));
                let skipped = report_entries(&r.prop("skipped"));
                got.sort();
                want.sort();
                if !skipped.is_empty() {
                    Some(format!("skipped {skipped:?} with nothing running alongside"))
                } else if !matches!(r.prop("dryRun"), Js::Bool(false)) {
                    Some("dryRun is not false".to_string())
                } else {
                    (got != want).then(|| format!("repaired or failed {got:?}, the state says {want:?}"))
                }
            }
            _ => None,
        };
        if let Some(m) = mismatch {
            self.report(Kind::ReadMismatch, Class::Violation, b, Some(&id), format!("op #{g} {op} {m}"));
        }
    }

    fn check_state(&mut self, run: &Run, b: usize, class: Class) {
        let w = &run.world;
        let rows = w.rows.borrow().clone();
        let secrets = w.secrets.borrow().clone();
        // A committed row always has its bytes.
        for (id, row) in &rows {
            if is_committed(row) && !secrets.contains_key(id) {
                let d = format!("committed row {id} {} has no vault bytes", self.row_origin(run, id, row));
                self.report(Kind::CommittedRowWithoutSecret, class, b, Some(id), d);
            }
        }
        // Bytes without any row must have been reported by whoever left them.
        for (id, value) in &secrets {
            if rows.iter().any(|(k, _)| k == id) {
                continue;
            }
            let Some(OrphanReport { at, writer, reported, swallowed_by_read }) = orphan_report(run, id) else {
                continue;
            };
            if reported {
                continue;
            }
            let shown = value.str().unwrap_or("?");
            match swallowed_by_read {
                Some(r) => {
                    let d = format!(
                        "vault id {id} keeps {shown:?} (put #{writer}) with no row: op #{r} {} met an expired row, \
                         its delete removed the row, vault.deleteSecret and the marker write both failed, and the \
                         read swallowed the error",
                        run.ops[r].op
                    );
                    self.report(Kind::ExpiredReadSilentOrphan, Class::KnownGap, b, Some(id), d);
                }
                None => {
                    let d = format!(
                        "vault id {id} keeps {shown:?} (put #{writer}) with no row, and no operation reported it{}",
                        self.row_removal(run, id, at)
                    );
                    self.report(Kind::SilentOrphan, class, b, Some(id), d);
                }
            }
        }
        // Row and value of one id come from the same acknowledged put.
        for (id, row) in &rows {
            let (Some(value), true) = (secrets.get(id), is_committed(row)) else { continue };
            let (Some(rw), Some(&vw)) =
                (self.row_writer(run, id, row), value.str().and_then(|s| self.writer_of.get(s)))
            else {
                continue;
            };
            if rw != vw && run.ops[rw].res.is_ok() && run.ops[vw].res.is_ok() {
                let d = format!(
                    "committed row {id} is the one put #{rw} wrote but the vault holds {:?} of put #{vw}; both resolved",
                    value.str().unwrap_or("?")
                );
                self.report(Kind::TornRow, class, b, Some(id), d);
            }
        }
    }

    /// Strict mode's state invariants. Bytes live at a row's vault id.
    /// - A committed row has bytes at its vault id.
    /// - Every vault entry is referenced by a committed row, or visible to
    ///   reconciliation (a marker or pending row naming it through `vaultId`
    ///   or the plain id, or any row's `retiredVaultIds`), or reported by a
    ///   rejection naming it (or the id it is a version of).
    /// - A committed row and its bytes come from one acknowledged put (the
    ///   put that wrote the row's `vaultId` also wrote those bytes).
    fn check_state_strict(&mut self, run: &Run, b: usize, class: Class) {
        let w = &run.world;
        let rows = w.rows.borrow().clone();
        let secrets = w.secrets.borrow().clone();
        let row_at = |id: &str| rows.iter().find(|(k, _)| k == id).map(|(_, r)| r.clone());
        for (id, row) in &rows {
            if is_committed(row) && !secrets.contains_key(&vault_of(true, id, row)) {
                let d = format!(
                    "committed row {id} {} has no vault bytes at {}",
                    self.row_origin(run, id, row),
                    vault_of(true, id, row)
                );
                self.report(Kind::CommittedRowWithoutSecret, class, b, Some(id), d);
            }
        }
        for (vid, value) in &secrets {
            let base = base_of(vid);
            if let Some(row) = row_at(base) {
                if vault_of(true, base, &row) == *vid
                    || retired_of(base, &row).contains(vid)
                    || pending_of(base, &row).contains(vid)
                {
                    continue;
                }
            }
            let Some(OrphanReport { at, writer, reported, swallowed_by_read }) = orphan_report(run, vid) else {
                continue;
            };
            if reported {
                continue;
            }
            let shown = value.str().unwrap_or("?");
            let what = match row_at(base) {
                Some(r) => format!("row {base} {} does not name it", show_row(&r)),
                None => format!("no row {base}"),
            };
            match swallowed_by_read {
                Some(r) => {
                    let d = format!(
                        "vault id {vid} keeps {shown:?} (put #{writer}), {what}: op #{r} {} met an expired row, its \
                         cleanup removed the row, vault.deleteSecret and the marker write both failed, and the read \
                         swallowed the error",
                        run.ops[r].op
                    );
                    self.report(Kind::ExpiredReadSilentOrphan, Class::KnownGap, b, Some(vid), d);
                }
                None => {
                    let d = format!(
                        "vault id {vid} keeps {shown:?} (put #{writer}), {what}, and no operation reported it{}",
                        self.row_removal(run, base, at)
                    );
                    self.report(Kind::SilentOrphan, class, b, Some(vid), d);
                }
            }
        }
        for (id, row) in &rows {
            if !is_committed(row) {
                continue;
            }
            let at = vault_of(true, id, row);
            let Some(value) = secrets.get(&at) else { continue };
            let author = run
                .effects
                .iter()
                .find(|e| {
                    e.is("metadata", "put", id)
                        && e.ok()
                        && matches!(run.ops[e.op].op.action, Action::Put(_))
                        && e.c.call.arg.as_ref().is_some_and(|a| a.prop("vaultId").str() == Some(at.as_str()))
                })
                .map(|e| e.op);
            let vw = value.str().and_then(|s| self.writer_of.get(s)).copied();
            let (Some(rw), Some(vw)) = (author, vw) else { continue };
            if rw != vw && run.ops[rw].res.is_ok() && run.ops[vw].res.is_ok() {
                let d = format!(
                    "committed row {id} names {at}, issued by put #{rw}, but that id holds {:?} of put #{vw}; both resolved",
                    value.str().unwrap_or("?")
                );
                self.report(Kind::TornRow, class, b, Some(id), d);
            }
        }
    }

    /// The op whose successful `metadata.put` wrote this very row object.
    fn row_writer(&self, run: &Run, id: &str, row: &Js) -> Option<usize> {
        run.effects
            .iter()
            .rev()
            .find(|e| e.is("metadata", "put", id) && e.ok() && e.c.call.arg.as_ref().is_some_and(|a| a.same(row)))
            .map(|e| e.op)
    }

    fn row_origin(&self, run: &Run, id: &str, row: &Js) -> String {
        match self.row_writer(run, id, row) {
            Some(w) => format!("(written by #{w} {})", run.ops[w].op),
            None => String::new(),
        }
    }

    /// Who removed the row after the bytes were written, for the report.
    fn row_removal(&self, run: &Run, id: &str, since: usize) -> String {
        match run.effects[since..].iter().rev().find(|e| e.is("metadata", "delete", id) && e.ok()) {
            Some(e) => format!(" (the row was removed by #{} {})", e.op, run.ops[e.op].op),
            None => String::new(),
        }
    }

    /// Each acknowledged put stays readable, with its value or a later one,
    /// until a delete, a deleteAll or an expiry may have removed it.
    fn check_acks(&mut self, run: &Run, b: usize, class: Class) {
        let now = run.world.now_ms.get();
        let ops = &run.ops;
        let precedes = |x: usize, y: usize| ops[x].batch < ops[y].batch || ops[x].done < ops[y].first;
        let excused = |p: usize| -> bool {
            let po = &ops[p].op;
            let id = po.id();
            let deleted = ops.iter().enumerate().any(|(x, o)| {
                x != p
                    && !precedes(x, p)
                    && o.op.scope == po.scope
                    && (matches!(o.op.action, Action::DeleteAll)
                        || (matches!(o.op.action, Action::Delete) && o.op.key == po.key))
            });
            let expired = run.effects.iter().any(|e| {
                e.is("metadata", "put", &id)
                    && e.ok()
                    && !precedes(e.op, p)
                    && e.c.call.arg.as_ref().is_some_and(|r| is_committed(r) && is_expired(r, now))
            });
            deleted || expired
        };
        let acks: Vec<usize> = self.acks.iter().copied().filter(|&p| !excused(p)).collect();
        for &p in &acks {
            let po = &ops[p].op;
            let id = po.id();
            let row = run.world.row(&id);
            let value = run.world.secret(&vault_of(self.strict, &id, &row));
            let value_from = value.as_ref().and_then(|v| v.str()).and_then(|s| self.writer_of.get(s)).copied();
            let problem = if !row.truthy() {
                let by = run
                    .effects
                    .iter()
                    .rev()
                    .find(|e| e.is("metadata", "delete", &id) && e.ok())
                    .map(|e| format!(" (removed by #{} {})", e.op, ops[e.op].op))
                    .unwrap_or_default();
                Some(("no-row", format!("has no row{by}: the key reads as absent")))
            } else if !is_committed(&row) {
                Some((
                    "pending-row",
                    format!("has a pending row {}: the key reads as absent", self.row_origin(run, &id, &row)),
                ))
            } else if value.is_none() {
                Some(("no-bytes", "has a committed row but no vault bytes: get returns undefined".to_string()))
            } else if !value_from.is_some_and(|v| ops[v].op.id() == id && !precedes(v, p)) {
                let v = value.as_ref().and_then(|v| v.str()).unwrap_or("?").to_owned();
                Some(("stale-value", format!("holds {v:?}, written by a put that finished before it began")))
            } else {
                None
            };
            if let Some((sub, why)) = problem {
                let d = format!("put #{p} {po} resolved, nothing deleted or expired it since, yet {id} {why}");
                self.report_sub(Kind::LostPut, sub, class, b, Some(&id), d);
            }
        }
        self.acks = acks;
    }
}

// ---- reproductions ---------------------------------------------------------

/// How a put went: it wrote a pending row first (new), the vault first
/// (update), or failed before deciding.
fn put_path(run: &Run, g: usize) -> &'static str {
    for e in run.effects.iter().filter(|e| e.op == g) {
        match (e.c.call.target, e.c.call.method) {
            ("metadata", "put") => return "put-new",
            ("vault", "setSecret") => return "put-update",
            _ => {}
        }
    }
    "put"
}

fn op_label(run: &Run, g: usize) -> String {
    let o = &run.ops[g].op;
    let name = match o.action {
        Action::Put(_) => put_path(run, g).to_string(),
        Action::Get | Action::Has => {
            let cleans = run.effects.iter().any(|e| e.op == g && e.c.call.method == "delete");
            format!("{}{}", o.name(), if cleans { "(expired)" } else { "" })
        }
        _ => o.name().to_string(),
    };
    let faults: Vec<String> = run
        .fired
        .iter()
        .filter(|f| f.fault.op == g)
        .map(|f| {
            format!(
                "{}.{}{}",
                f.target,
                f.method,
                match f.fault.mode {
                    FaultMode::Reject => "✗",
                    FaultMode::Throw => "⚡",
                    FaultMode::LostAnswer => "✓✗",
                }
            )
        })
        .collect();
    if faults.is_empty() {
        name
    } else {
        format!("{name}[{}]", faults.join(","))
    }
}

/// A compact description of the mechanism: the kind and the shape of the
/// ops (with their paths and failed calls), per batch.
pub fn signature(run: &Run, kind: Kind, sub: &str) -> String {
    let mut parts = vec![];
    let mut g = 0;
    for batch in &run.scenario.batches {
        let mut labels: Vec<String> = (g..g + batch.len()).map(|i| op_label(run, i)).collect();
        labels.sort();
        g += batch.len();
        parts.push(labels.join(" ‖ "));
    }
    let kind = if sub.is_empty() { kind.name().to_string() } else { format!("{}({sub})", kind.name()) };
    format!("{kind}: {}", parts.join(" ; "))
}

fn show_row(row: &Js) -> String {
    if !row.truthy() {
        return format!("{row:?}");
    }
    let mut tags = vec![];
    match row.prop("pending") {
        Js::Bool(true) => tags.push("pending: true".to_string()),
        Js::Bool(false) => tags.push("pending: false".to_string()),
        _ => {}
    }
    if let Some(r) = row.prop("orphanReason").str() {
        tags.push(format!("orphanReason: {r:?}"));
    }
    if let Some(l) = row.prop("label").str() {
        tags.push(format!("label: {l:?}"));
    }
    if let Some(e) = row.prop("expiresAt").str() {
        tags.push(format!("expiresAt: {}", offset((parse_iso(e) - T0) as i64)));
    }
    if tags.is_empty() {
        "{committed row}".into()
    } else {
        format!("{{{}}}", tags.join(", "))
    }
}

/// A readable reproduction: ops and results, faults, schedule, the host
/// calls in the order they took effect, the final state and the findings.
pub fn describe(run: &Run, kind: Option<Kind>) -> String {
    let sc = &run.scenario;
    let mut out = String::new();
    let mut g = 0;
    let _ = writeln!(out, "operations (a batch of several runs concurrently, as tasks T0, T1, …):");
    for (b, batch) in sc.batches.iter().enumerate() {
        for (i, op) in batch.iter().enumerate() {
            let tag = if batch.len() > 1 { format!("batch {b} T{i}") } else { format!("step {b}") };
            let _ = writeln!(out, "  #{g} [{tag}] {op} → {}", run.ops[g].res.show());
            g += 1;
        }
    }
    if sc.faults.is_empty() {
        let _ = writeln!(out, "faults: none");
    } else {
        let _ = writeln!(out, "faults:");
        for f in &run.fired {
            let how = match f.fault.mode {
                FaultMode::Reject => "rejects",
                FaultMode::Throw => "throws synchronously",
                FaultMode::LostAnswer => "takes effect, then rejects",
            };
            let _ = writeln!(
                out,
                "  #{}'s call {} ({}.{} {}) {how}",
                f.fault.op,
                f.fault.nth,
                f.target,
                f.method,
                f.id.as_deref().unwrap_or("")
            );
        }
    }
    for (b, s) in sc.schedules.iter().enumerate() {
        if sc.batches[b].len() > 1 {
            let steps: Vec<String> = s.iter().map(|t| format!("T{t}")).collect();
            let _ = writeln!(
                out,
                "schedule of batch {b} (one poll = finish the pending host call, run to the next): {} then lowest live task first",
                if steps.is_empty() { "-".into() } else { steps.join(" ") },
            );
        }
    }
    let _ = writeln!(out, "host calls in the order they took effect:");
    let mut batch_of = vec![];
    for (b, batch) in sc.batches.iter().enumerate() {
        for i in 0..batch.len() {
            batch_of.push((b, i, batch.len() > 1));
        }
    }
    for e in &run.effects {
        let (b, i, conc) = batch_of[e.op];
        let who = if conc { format!("b{b} T{i} #{}", e.op) } else { format!("#{}", e.op) };
        let arg = match (e.c.call.method, &e.c.call.arg) {
            ("put", Some(r)) => format!(" {}", show_row(r)),
            ("setSecret", Some(v)) => format!(" {v:?}"),
            _ => String::new(),
        };
        let outcome = match e.c.fault {
            None => "",
            Some(FaultMode::Reject) => "  ✗ rejected",
            Some(FaultMode::Throw) => "  ⚡ threw",
            Some(FaultMode::LostAnswer) => "  ✓✗ acted, answer lost",
        };
        let _ = writeln!(out, "  {who:>10}  {}{arg}{outcome}", e.c.call.short());
    }
    let _ = writeln!(out, "final state:");
    for (id, row) in run.world.rows.borrow().iter() {
        let _ = writeln!(out, "  row   {id} = {}", show_row(row));
    }
    for (id, v) in run.world.secrets.borrow().iter() {
        let _ = writeln!(out, "  vault {id} = {v:?}");
    }
    let _ = writeln!(out, "what went wrong:");
    for f in run.findings.iter().filter(|f| kind.map_or(true, |k| k == f.kind)) {
        let _ = writeln!(out, "  [{} / {:?}] {}", f.kind.name(), f.class, f.detail);
    }
    out
}

// ---- shrinking -------------------------------------------------------------

/// Minimises a scenario while `keep` holds: fewest ops, then fewest faults,
/// then fewest concurrent ops, then the shortest schedule. Greedy passes
/// until nothing smaller keeps the finding.
pub fn shrink(sc: &Scenario, keep: &dyn Fn(&Run) -> bool) -> Scenario {
    shrink_with(sc, keep, false, RunOpts::COMPATIBLE)
}

/// `shrink`, plus (with `deep`) a systematic search for a new schedule
/// whenever dropping an op or a fault breaks the recorded one: every
/// two-phase schedule "task a for k steps, then task b for m steps". For
/// polishing the few reproductions kept at the end of a soak.
pub fn shrink_with(sc: &Scenario, keep: &dyn Fn(&Run) -> bool, deep: bool, opts: RunOpts) -> Scenario {
    let run = |sc: &Scenario, e: Option<Explore>| run_with(sc, e, opts);
    let mut best = run(sc, None).scenario;
    assert!(keep(&run(&best, None)), "the recorded scenario does not replay its finding");
    let try_it = |cand: Scenario, best: &mut Scenario| -> bool {
        let r = run(&cand, None);
        if keep(&r) && r.scenario.cost() < best.cost() {
            *best = r.scenario;
            true
        } else {
            false
        }
    };
    // Without an op the old schedule may miss the window: search a new one
    // (random schedules, the same faults); later passes shorten it.
    let try_rescheduled = |cand: Scenario, best: &mut Scenario| -> bool {
        if try_it(cand.clone(), best) {
            return true;
        }
        if !cand.batches.iter().any(|b| b.len() > 1) {
            return false;
        }
        for k in 0..RESCHEDULE_TRIES {
            let r =
                run(&cand, Some(Explore { seed: mix(0x5C4E_D01E, k), draw_faults: false, p_fault: 0.0, p_throw: 0.0 }));
            if keep(&r) && r.scenario.cost() < best.cost() {
                *best = r.scenario;
                return true;
            }
        }
        if deep {
            for b in 0..cand.batches.len() {
                let n = cand.batches[b].len();
                for (a, z) in (0..n).flat_map(|a| (0..n).map(move |z| (a, z))).filter(|(a, z)| a != z) {
                    for k in 0..=TWO_PHASE_MAX {
                        for m in 0..=TWO_PHASE_MAX {
                            let mut c = cand.clone();
                            c.schedules[b] = [vec![a; k], vec![z; m]].concat();
                            let r = run(&c, None);
                            if keep(&r) && r.scenario.cost() < best.cost() {
                                *best = r.scenario;
                                return true;
                            }
                        }
                    }
                }
            }
        }
        false
    };
    loop {
        let mut changed = false;
        // Fewer ops.
        let mut g = best.op_count();
        while g > 0 {
            g -= 1;
            if g < best.op_count() {
                let cand = best.without_op(g);
                changed |= try_rescheduled(cand, &mut best);
            }
        }
        // Fewer faults; rejections rather than throws.
        let mut i = best.faults.len();
        while i > 0 {
            i -= 1;
            let mut cand = best.clone();
            cand.faults.remove(i);
            if try_rescheduled(cand, &mut best) {
                changed = true;
                continue;
            }
            if best.faults[i].mode == FaultMode::Throw {
                let mut cand = best.clone();
                cand.faults[i].mode = FaultMode::Reject;
                let r = run(&cand, None);
                if keep(&r) {
                    best = r.scenario;
                    changed = true;
                }
            }
        }
        // Fewer concurrent ops: run one alone before or after the batch.
        for g in 0..best.op_count() {
            let (b, _) = best.locate(g);
            if best.batches[b].len() > 1 {
                for after in [false, true] {
                    if try_it(best.hoisted(g, after), &mut best) {
                        changed = true;
                        break;
                    }
                }
            }
        }
        // Simpler puts.
        for g in 0..best.op_count() {
            let (b, i) = best.locate(g);
            if let Action::Put(p) = &best.batches[b][i].action {
                let mut simpler = vec![];
                if p.label.is_some() || p.provider.is_some() {
                    let mut q = p.clone();
                    q.label = None;
                    q.provider = None;
                    q.options = q.expires_at.is_some();
                    simpler.push(q);
                }
                if p.expires_at.is_some() {
                    let mut q = p.clone();
                    q.expires_at = None;
                    q.options = q.label.is_some() || q.provider.is_some();
                    simpler.push(q);
                }
                if p.expires_at.is_some_and(|at| at != PAST) {
                    // Already expired: the clock advance that expired it may go.
                    let mut q = p.clone();
                    q.expires_at = Some(PAST);
                    simpler.push(q);
                }
                if p.expires_at.is_some_and(|at| at != PAST && at != FAR) {
                    let mut q = p.clone();
                    q.expires_at = Some(FAR);
                    simpler.push(q);
                }
                if p.options && p.label.is_none() && p.provider.is_none() && p.expires_at.is_none() {
                    let mut q = p.clone();
                    q.options = false;
                    simpler.push(q);
                }
                for q in simpler {
                    let mut cand = best.clone();
                    cand.batches[b][i].action = Action::Put(q);
                    let r = run(&cand, None);
                    if keep(&r) {
                        best = r.scenario;
                        changed = true;
                        break;
                    }
                }
            }
        }
        // Reorder the tasks of a batch when that shortens the schedule.
        for b in 0..best.batches.len() {
            let n = best.batches[b].len();
            'pairs: for i in 0..n {
                for j in i + 1..n {
                    let swapped = best.swapped(b, i, j);
                    let full = swapped.schedules[b].clone();
                    for len in 0..full.len() {
                        let mut cand = swapped.clone();
                        cand.schedules[b] = full[..len].to_vec();
                        if try_it(cand, &mut best) {
                            changed = true;
                            break 'pairs;
                        }
                    }
                }
            }
        }
        // Shortest schedules: the shortest prefix, then drop single steps.
        for b in 0..best.batches.len() {
            if best.batches[b].len() < 2 {
                continue;
            }
            let full = best.schedules[b].clone();
            for len in 0..full.len() {
                let mut cand = best.clone();
                cand.schedules[b] = full[..len].to_vec();
                let r = run(&cand, None);
                if keep(&r) {
                    best.schedules[b] = full[..len].to_vec();
                    changed = true;
                    break;
                }
            }
            let mut i = 0;
            while i < best.schedules[b].len() {
                let mut cand = best.clone();
                cand.schedules[b].remove(i);
                if keep(&run(&cand, None)) {
                    best = cand;
                    changed = true;
                } else {
                    i += 1;
                }
            }
        }
        if !changed {
            break;
        }
    }
    canonical(best, keep, opts)
}

/// Renames secrets and labels after their op (`s3cret-<op>`), so a
/// reproduction reads the same whatever sequence it came from.
fn canonical(sc: Scenario, keep: &dyn Fn(&Run) -> bool, opts: RunOpts) -> Scenario {
    let run = |sc: &Scenario, e: Option<Explore>| run_with(sc, e, opts);
    let mut c = sc.clone();
    let mut g = 0;
    for batch in &mut c.batches {
        for op in batch {
            if let Action::Put(p) = &mut op.action {
                p.secret = format!("s3cret-{g}");
                if p.label.is_some() {
                    p.label = Some(format!("L{g}"));
                }
            }
            g += 1;
        }
    }
    if keep(&run(&c, None)) {
        c
    } else {
        sc
    }
}

// ---- generation ------------------------------------------------------------

/// The expiries the shrinker prefers: already past at T0, or a day after it.
const PAST: i64 = -30_000;
/// Random schedules tried when dropping an op breaks the recorded one.
const RESCHEDULE_TRIES: u64 = 24;
/// Longest phase of the two-phase schedules a deep shrink tries.
const TWO_PHASE_MAX: usize = 10;
const FAR: i64 = 86_400_000;

struct Gen {
    next_secret: usize,
    /// The generator's idea of the clock (ms after T0), for expiry choices.
    now: i64,
}

impl Gen {
    /// One op; `reconciles`: whether reconcile may be drawn (the compatible
    /// mode documents that it must not run alongside writers of its keys,
    /// so its concurrent batches never draw it).
    fn op(&mut self, rng: &mut Rng, race: bool, reconciles: bool) -> Op {
        let scope = if race { rng.weighted(&[17, 2, 1]) } else { rng.weighted(&[6, 2, 2]) };
        let key = if race { KEYS[rng.weighted(&[15, 4, 1])] } else { KEYS[rng.weighted(&[5, 3, 2])] };
        let rec = if reconciles { 5 } else { 0 };
        //            put get has del keys list dAll adv  rec  lOrph
        let weights = if race { [40, 12, 5, 15, 2, 3, 10, 8, rec, 2] } else { [30, 14, 7, 10, 4, 6, 5, 8, rec, 2] };
        let action = match rng.weighted(&weights) {
            0 => {
                let n = self.next_secret;
                self.next_secret += 1;
                let options = rng.chance(0.75);
                let label = (options && rng.chance(0.5)).then(|| format!("L{n}"));
                let provider = (options && rng.chance(0.4)).then(|| rng.pick(&["openai", "anthropic"]).to_string());
                let expires_at = if options {
                    match rng.below(5) {
                        0 => Some(self.now - 30_000),
                        1 => Some(self.now + 30_000),
                        2 => Some(self.now + 86_400_000),
                        _ => None,
                    }
                } else {
                    None
                };
                Action::Put(PutArgs { secret: format!("s3cret-{n}"), options, label, provider, expires_at })
            }
            1 => Action::Get,
            2 => Action::Has,
            3 => Action::Delete,
            4 => Action::Keys,
            5 => Action::List,
            6 => Action::DeleteAll,
            7 => {
                let ms = rng.pick(&[30_000, 60_000]);
                self.now += ms;
                Action::Advance(ms)
            }
            // Half with `stalePendingMs: 0`: every pending row counts as
            // stale, in-flight puts' included (strict turns protect them).
            8 => Action::Reconcile(rng.chance(0.5).then_some(0)),
            _ => Action::ListOrphans,
        };
        let key = if matches!(action, Action::Put(_) | Action::Get | Action::Has | Action::Delete) { key } else { "" };
        let scope = if matches!(action, Action::Advance(_)) { 0 } else { scope };
        Op { scope, key, action }
    }
}

/// A sequential sequence: 4–30 steps, one op each.
pub fn gen_sequential(rng: &mut Rng) -> Scenario {
    let mut g = Gen { next_secret: 0, now: 0 };
    let n = 4 + rng.below(27);
    Scenario::sequential((0..n).map(|_| g.op(rng, false, true)).collect())
}

/// A concurrent sequence: 0–4 sequential setup steps, then 2–4 ops at once,
/// mostly on one id. Reconcile joins the concurrent batch in strict mode
/// only (`strict`); the setup steps may draw it in both.
pub fn gen_concurrent(rng: &mut Rng, strict: bool) -> Scenario {
    let mut g = Gen { next_secret: 0, now: 0 };
    let setup = rng.below(5);
    let mut sc = Scenario::sequential((0..setup).map(|_| g.op(rng, true, true)).collect());
    let race = 2 + rng.below(3);
    sc.batches.push((0..race).map(|_| g.op(rng, true, strict)).collect());
    sc.schedules.push(vec![]);
    sc
}

// ---- exploration -----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Sequential,
    Concurrent,
}

/// A finding with its minimal reproduction (plain data: it crosses threads).
#[derive(Clone, Debug)]
pub struct Repro {
    pub kind: Kind,
    pub sub: &'static str,
    pub class: Class,
    pub signature: String,
    pub scenario: Scenario,
    pub text: String,
    /// Which sequence found it first.
    pub found_in: u64,
    /// Found with strict-mode stores (replay with `run_strict`).
    pub strict: bool,
}

#[derive(Default, Debug)]
pub struct Stats {
    pub sequences: u64,
    pub sequential: u64,
    pub concurrent: u64,
    pub operations: u64,
    pub rejections: u64,
    pub throws: u64,
    /// Sequences showing each kind, by class.
    pub by_kind: BTreeMap<(Class, Kind), u64>,
    /// Sequences showing each kind with each cause (`Finding::sub`).
    pub by_sub: BTreeMap<(Class, Kind, &'static str), u64>,
    /// One minimal reproduction per signature (violations, anomalies, gaps).
    pub repros: BTreeMap<String, Repro>,
    /// Shrinks done per kind (bounded, to keep runs fast).
    pub shrinks: BTreeMap<Kind, u64>,
    pub raw_signatures: HashSet<String>,
    /// How often each failure path ran (see `count_paths`).
    pub paths: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub fn merge(&mut self, o: Stats) {
        self.sequences += o.sequences;
        self.sequential += o.sequential;
        self.concurrent += o.concurrent;
        self.operations += o.operations;
        self.rejections += o.rejections;
        self.throws += o.throws;
        for (k, v) in o.by_kind {
            *self.by_kind.entry(k).or_default() += v;
        }
        for (k, v) in o.by_sub {
            *self.by_sub.entry(k).or_default() += v;
        }
        for (k, v) in o.shrinks {
            *self.shrinks.entry(k).or_default() += v;
        }
        for (_, r) in o.repros {
            keep_best(&mut self.repros, r);
        }
        self.raw_signatures.extend(o.raw_signatures);
        for (k, v) in o.paths {
            *self.paths.entry(k).or_default() += v;
        }
    }

    pub fn violations(&self) -> u64 {
        self.by_kind.iter().filter(|((c, _), _)| *c == Class::Violation).map(|(_, n)| n).sum()
    }

    pub fn count(&self, class: Class) -> BTreeMap<&'static str, u64> {
        self.by_kind.iter().filter(|((c, _), _)| *c == class).map(|((_, k), n)| (k.name(), *n)).collect()
    }

    pub fn summary(&self, mode: &str, seed: u64, secs: f64) -> String {
        let fmt = |m: BTreeMap<&str, u64>| -> String {
            if m.is_empty() {
                "none".into()
            } else {
                m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
            }
        };
        format!(
            "model soak [{mode}]: seed={seed} sequences={} (sequential={} concurrent={}) operations={} faults={} \
             (reject={} throw={}) violations={} anomalies: {} known-gaps: {} distinct-repros={} time={secs:.1}s",
            self.sequences,
            self.sequential,
            self.concurrent,
            self.operations,
            self.rejections + self.throws,
            self.rejections,
            self.throws,
            self.violations(),
            fmt(self.count(Class::Anomaly)),
            fmt(self.count(Class::KnownGap)),
            self.repros.len(),
        )
    }

    /// Sequences showing `kind` with cause `sub`.
    pub fn count_sub(&self, class: Class, kind: Kind, sub: &str) -> u64 {
        self.by_sub.iter().filter(|((c, k, s), _)| *c == class && *k == kind && *s == sub).map(|(_, n)| n).sum()
    }

    /// Anomalies by kind and cause, where a kind has causes.
    pub fn causes(&self, mode: &str) -> String {
        let parts: Vec<String> = self
            .by_sub
            .iter()
            .filter(|((c, _, s), _)| *c == Class::Anomaly && !s.is_empty())
            .map(|((_, k, s), n)| format!("{}({s})={n}", k.name()))
            .collect();
        format!(
            "model soak anomalies by cause [{mode}]: {}",
            if parts.is_empty() { "-".into() } else { parts.join(" ") }
        )
    }

    pub fn coverage(&self, mode: &str) -> String {
        let parts: Vec<String> = self.paths.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("model soak paths [{mode}]: {}", parts.join(" "))
    }
}

/// Counts how often each failure path of the protocol ran (to show the
/// explorer reaches them all): errors by variant, markers by reason.
fn count_paths(r: &Run, stats: &mut Stats) {
    let mut bump = |k: &'static str| *stats.paths.entry(k).or_default() += 1;
    for o in &r.ops {
        let Some(e) = o.res.error() else { continue };
        for (_, l) in leaf_errors(e) {
            bump(match l {
                StoreError::Host(_) => "raw",
                StoreError::VaultWriteOrphaned { .. } => "VaultWriteOrphaned",
                StoreError::CommitOrphaned { .. } => "CommitOrphaned",
                StoreError::VaultDeleteOrphaned { marker_persisted: true, .. } => "VaultDeleteOrphaned(marker)",
                StoreError::VaultDeleteOrphaned { marker_persisted: false, .. } => "VaultDeleteOrphaned(no marker)",
                StoreError::DeleteAll(_) => "AggregateError",
                StoreError::Conflict { .. } => "Conflict",
                _ => "other",
            });
        }
    }
    for (g, o) in r.ops.iter().enumerate() {
        match &o.res {
            Res::Reconcile(Ok(report)) => {
                for (part, name) in [
                    ("repaired", "reconcile:repaired"),
                    ("failed", "reconcile:failed"),
                    ("skipped", "reconcile:skipped"),
                ] {
                    for (_, reason) in report_entries(&report.prop(part)) {
                        bump(name);
                        if reason == "retired-versions" && part == "repaired" {
                            bump("reconcile:repaired-retired-versions");
                        }
                    }
                }
            }
            Res::Get(Ok(_)) => {
                let reads = r.effects.iter().filter(|e| e.op == g && e.c.call.method == "getSecret").count();
                if reads > 1 {
                    bump("strict-get-reread");
                }
            }
            _ => {}
        }
    }
    for (&n, name) in r.lin_checked.iter().zip(["linearizable-2-ops", "linearizable-3-ops", "linearizable-4-ops"]) {
        for _ in 0..n {
            bump(name);
        }
    }
    if r.stalls > 0 {
        bump("batches-with-turn-waits");
    }

    for e in &r.effects {
        if e.c.call.method == "put" && e.ok() {
            if let Some(reason) = e.c.call.arg.as_ref().and_then(|a| a.prop("orphanReason").str().map(str::to_owned)) {
                bump(match reason.as_str() {
                    "vault-write-failed" => "marker:vault-write-failed",
                    "metadata-commit-failed" => "marker:metadata-commit-failed",
                    "vault-delete-failed" => "marker:vault-delete-failed",
                    _ => "marker:other",
                });
            }
        }
        if e.c.call.method == "delete"
            && e.c.call.target == "metadata"
            && e.ok()
            && matches!(r.ops[e.op].op.action, Action::Get | Action::Has)
        {
            bump("expired-read-cleanup");
        }
        if e.c.call.target == "metadata"
            && e.c.call.method == "put"
            && e.ok()
            && matches!(r.ops[e.op].op.action, Action::Put(_))
            && e.c.call.arg.as_ref().is_some_and(|a| matches!(a.prop("retiredVaultIds"), Js::Arr(x) if !x.is_empty()))
        {
            bump("strict-row-records-retired-versions");
        }
    }
}

/// Shrinks at most this many findings of one kind per worker, beyond the
/// first of each new raw shape.
const SHRINKS_PER_KIND: u64 = 40;

/// Explores sequence `index` of `seed` and folds what it found into `stats`.
/// Explores sequence `index` of `seed` (on strict-mode stores if `strict`)
/// and folds what it found into `stats`.
pub fn explore_one(seed: u64, index: u64, mode: Mode, strict: bool, stats: &mut Stats) {
    let s = mix(seed, index);
    let mut rng = Rng::new(s);
    let (sc, p_fault) = match mode {
        Mode::Sequential => (gen_sequential(&mut rng), rng.pick(&[0.0, 0.05, 0.15, 0.3])),
        Mode::Concurrent => (gen_concurrent(&mut rng, strict), rng.pick(&[0.0, 0.0, 0.1, 0.2])),
    };
    let opts = RunOpts::of(strict);
    let r = run_with(&sc, Some(Explore { seed: s, draw_faults: true, p_fault, p_throw: 0.5 }), opts);
    stats.sequences += 1;
    match mode {
        Mode::Sequential => stats.sequential += 1,
        Mode::Concurrent => stats.concurrent += 1,
    }
    stats.operations += r.ops.len() as u64;
    for f in &r.fired {
        match f.fault.mode {
            FaultMode::Reject | FaultMode::LostAnswer => stats.rejections += 1,
            FaultMode::Throw => stats.throws += 1,
        }
    }
    count_paths(&r, stats);
    let mut kinds: Vec<(Class, Kind, &'static str)> = r.findings.iter().map(|f| (f.class, f.kind, f.sub)).collect();
    kinds.sort();
    kinds.dedup();
    let mut counted = HashSet::new();
    for &(class, kind, sub) in &kinds {
        if counted.insert((class, kind)) {
            *stats.by_kind.entry((class, kind)).or_default() += 1;
        }
        *stats.by_sub.entry((class, kind, sub)).or_default() += 1;
        // A raw shape: the kind and the labels of the ops touching the id.
        let id =
            r.findings.iter().find(|f| f.kind == kind && f.sub == sub).and_then(|f| f.id.clone()).unwrap_or_default();
        let mut shape: Vec<String> = (0..r.ops.len())
            .filter(|&g| r.ops[g].op.touches(&id) || id.is_empty())
            .filter(|&g| mode == Mode::Sequential || r.ops[g].batch + 1 == r.scenario.batches.len())
            .map(|g| op_label(&r, g))
            .collect();
        shape.sort();
        let raw = format!("{}({sub})|{:?}|{}", kind.name(), class, shape.join(","));
        let fresh = stats.raw_signatures.insert(raw);
        let done = stats.shrinks.entry(kind).or_default();
        if !(fresh || *done < SHRINKS_PER_KIND) || (*done >= 4 * SHRINKS_PER_KIND) {
            continue;
        }
        *done += 1;
        let repro = minimise_in(&r.scenario, kind, sub, class, index, false, opts);
        keep_best(&mut stats.repros, repro);
    }
}

/// Shrinks a scenario showing `kind` (of shape `sub`, as `class`) into a reproduction.
pub fn minimise(sc: &Scenario, kind: Kind, sub: &'static str, class: Class, found_in: u64, deep: bool) -> Repro {
    minimise_in(sc, kind, sub, class, found_in, deep, RunOpts::COMPATIBLE)
}

/// [`minimise`] with the stores and checks of `opts`.
pub fn minimise_in(
    sc: &Scenario,
    kind: Kind,
    sub: &'static str,
    class: Class,
    found_in: u64,
    deep: bool,
    opts: RunOpts,
) -> Repro {
    let keep = move |x: &Run| x.has_exactly(kind, sub, class);
    let minimal = shrink_with(sc, &keep, deep, opts);
    let mr = run_with(&minimal, None, opts);
    Repro {
        kind,
        sub,
        class,
        signature: signature(&mr, kind, sub),
        text: describe(&mr, Some(kind)),
        scenario: minimal,
        found_in,
        strict: opts.strict,
    }
}

/// Keeps the smallest reproduction per signature (ties: the earliest sequence).
fn keep_best(repros: &mut BTreeMap<String, Repro>, repro: Repro) {
    match repros.get(&repro.signature) {
        Some(old) if (old.scenario.cost(), old.found_in) <= (repro.scenario.cost(), repro.found_in) => {}
        _ => {
            repros.insert(repro.signature.clone(), repro);
        }
    }
}

/// Deep-shrinks every kept reproduction; variants that were only local
/// minima of the quick shrink merge into their mechanism's signature.
pub fn polish(stats: &mut Stats) {
    for (_, r) in std::mem::take(&mut stats.repros) {
        let polished = minimise_in(&r.scenario, r.kind, r.sub, r.class, r.found_in, true, RunOpts::of(r.strict));
        keep_best(&mut stats.repros, polished);
    }
}

/// Who spoke of bytes at vault id `vid` left without a row.
struct OrphanReport {
    /// The effect index of the last successful write of `vid`, and its op.
    at: usize,
    writer: usize,
    /// The last writer's rejection, or a later failed delete's, names it.
    reported: bool,
    /// A get/has whose expired-row cleanup failed to delete it, and swallowed that.
    swallowed_by_read: Option<usize>,
}

/// `None` when no put ever wrote `vid` (nothing to account for).
fn orphan_report(run: &Run, vid: &str) -> Option<OrphanReport> {
    let at = run.effects.iter().rposition(|e| e.is("vault", "setSecret", vid) && e.ok())?;
    let writer = run.effects[at].op;
    let mut reported =
        run.ops[writer].res.error().is_some_and(|e| reports_orphan(e, run.ops[writer].op.scope, vid, true));
    let mut swallowed_by_read = None;
    for e in &run.effects[at + 1..] {
        if e.is("vault", "deleteSecret", vid) && !e.ok() {
            let x = &run.ops[e.op];
            if x.res.error().is_some_and(|err| reports_orphan(err, x.op.scope, vid, false)) {
                reported = true;
            }
            if matches!(x.op.action, Action::Get | Action::Has) && x.res.is_ok() {
                swallowed_by_read = Some(e.op);
            }
        }
    }
    Some(OrphanReport { at, writer, reported, swallowed_by_read })
}
