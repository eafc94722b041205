//! A deterministic JS-like host. `Js` models the values the store sees,
//! with JavaScript's truthiness, `===` and `?.[]`; `World` holds a metadata
//! KV (a Map: insertion-ordered), a vault and a clock, records every host
//! call in order, and fails the calls a test asks it to.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use server_credential_store_wasm::core::{Clock, Field, MetadataKv, SecretVault, Store, Values};

use super::exec::{current_task, yield_now, Gate};

/// A JS value. Objects and arrays have identity (`Rc`), like JS references.
#[derive(Clone)]
pub enum Js {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Rc<str>),
    Date(f64),
    Obj(Rc<Obj>),
    Arr(Rc<Vec<Js>>),
}

/// A plain object: ordered own properties; optionally one getter that throws.
#[derive(Default)]
pub struct Obj {
    pub props: RefCell<Vec<(String, Js)>>,
    pub throwing_getter: Option<(String, Js)>,
}

impl Js {
    pub fn s(s: &str) -> Js {
        Js::Str(s.into())
    }
    pub fn obj(props: &[(&str, Js)]) -> Js {
        Js::Obj(Rc::new(Obj {
            props: RefCell::new(props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()),
            throwing_getter: None,
        }))
    }
    /// An object whose `name` getter throws `err` (reads and spreads of it fail).
    pub fn obj_throwing(props: &[(&str, Js)], name: &str, err: Js) -> Js {
        Js::Obj(Rc::new(Obj {
            props: RefCell::new(props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()),
            throwing_getter: Some((name.to_string(), err)),
        }))
    }
    /// An error object; compare identity with `same`.
    pub fn error(class: &str, message: &str) -> Js {
        Js::obj(&[("name", Js::s(class)), ("message", Js::s(message))])
    }
    /// `a === b`
    pub fn same(&self, other: &Js) -> bool {
        match (self, other) {
            (Js::Undefined, Js::Undefined) | (Js::Null, Js::Null) => true,
            (Js::Bool(a), Js::Bool(b)) => a == b,
            (Js::Num(a), Js::Num(b)) => a == b,
            (Js::Str(a), Js::Str(b)) => a == b,
            (Js::Date(_), Js::Date(_)) => false,
            (Js::Obj(a), Js::Obj(b)) => Rc::ptr_eq(a, b),
            (Js::Arr(a), Js::Arr(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
    pub fn truthy(&self) -> bool {
        match self {
            Js::Undefined | Js::Null => false,
            Js::Bool(b) => *b,
            Js::Num(n) => *n != 0.0 && !n.is_nan(),
            Js::Str(s) => !s.is_empty(),
            _ => true,
        }
    }
    /// Own property read (no getters), `undefined` when absent.
    pub fn prop(&self, name: &str) -> Js {
        match self {
            Js::Obj(o) => {
                o.props.borrow().iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or(Js::Undefined)
            }
            _ => Js::Undefined,
        }
    }
    pub fn has_own(&self, name: &str) -> bool {
        matches!(self, Js::Obj(o) if o.props.borrow().iter().any(|(k, _)| k == name))
    }
    /// Own property names in order.
    pub fn keys(&self) -> Vec<String> {
        match self {
            Js::Obj(o) => o.props.borrow().iter().map(|(k, _)| k.clone()).collect(),
            _ => vec![],
        }
    }
    pub fn str(&self) -> Option<&str> {
        match self {
            Js::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn items(&self) -> Vec<Js> {
        match self {
            Js::Arr(a) => a.as_ref().clone(),
            _ => panic!("not an array: {self:?}"),
        }
    }
}

/// JSON-like rendering for assertions and traces.
impl fmt::Debug for Js {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Js::Undefined => write!(f, "undefined"),
            Js::Null => write!(f, "null"),
            Js::Bool(b) => write!(f, "{b}"),
            Js::Num(n) => write!(f, "{n}"),
            Js::Str(s) => write!(f, "{s:?}"),
            Js::Date(ms) => write!(f, "Date({ms})"),
            Js::Obj(o) => {
                write!(f, "{{")?;
                for (i, (k, v)) in o.props.borrow().iter().enumerate() {
                    write!(f, "{}{k}: {v:?}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "}}")
            }
            Js::Arr(a) => f.debug_list().entries(a.iter()).finish(),
        }
    }
}

/// The value model the store runs on in native tests.
pub struct FakeValues;

fn read(v: &Js, name: &str) -> Result<Js, Js> {
    if let Js::Obj(o) = v {
        if let Some((g, err)) = &o.throwing_getter {
            if g == name {
                return Err(err.clone());
            }
        }
    }
    Ok(v.prop(name))
}

impl Values for FakeValues {
    type Val = Js;
    type Err = Js;

    fn undefined(&self) -> Js {
        Js::Undefined
    }
    fn boolean(&self, b: bool) -> Js {
        Js::Bool(b)
    }
    fn string(&self, s: &str) -> Js {
        Js::s(s)
    }
    fn is_undefined(&self, v: &Js) -> bool {
        matches!(v, Js::Undefined)
    }
    fn is_nullish(&self, v: &Js) -> bool {
        matches!(v, Js::Undefined | Js::Null)
    }
    fn is_truthy(&self, v: &Js) -> bool {
        v.truthy()
    }
    fn is_true(&self, v: &Js) -> bool {
        matches!(v, Js::Bool(true))
    }
    fn strict_eq(&self, a: &Js, b: &Js) -> bool {
        a.same(b)
    }
    fn as_number(&self, v: &Js) -> Option<f64> {
        match v {
            Js::Num(n) => Some(*n),
            _ => None,
        }
    }
    fn error_value(&self, e: Js) -> Js {
        e
    }
    fn as_string(&self, v: &Js) -> Option<String> {
        v.str().map(str::to_owned)
    }
    fn thrown(&self, v: Js) -> Js {
        v
    }
    fn to_text(&self, v: &Js) -> Result<String, Js> {
        to_text(v)
    }
    fn template(&self, a: &Js, b: &Js) -> Result<Js, Js> {
        Ok(Js::s(&(to_text(a)? + &to_text(b)?)))
    }
    fn key_of_id(&self, id: &Js, prefix: &Js) -> Js {
        let (id, prefix) = (id.str().unwrap_or_default(), prefix.str().unwrap_or_default());
        Js::s(id.get(prefix.len()..).unwrap_or_default())
    }
    fn call_starts_with(&self, s: &Js, prefix: &Js) -> Result<bool, Js> {
        match (s, prefix) {
            (Js::Str(s), Js::Str(p)) => Ok(s.starts_with(&**p)),
            (Js::Undefined | Js::Null, _) => Err(Js::error("TypeError", "Cannot read properties of null or undefined")),
            _ => Err(Js::error("TypeError", "startsWith is not a function")),
        }
    }
    fn member(&self, v: &Js, name: Field) -> Result<Js, Js> {
        match v {
            Js::Undefined | Js::Null => Err(Js::error("TypeError", "Cannot read properties of null or undefined")),
            _ => read(v, name.name()),
        }
    }
    fn iterate(&self, v: &Js) -> Result<Vec<Js>, Js> {
        match v {
            Js::Arr(a) => Ok(a.as_ref().clone()),
            Js::Str(s) => Ok(s.chars().map(|c| Js::s(&c.to_string())).collect()),
            _ => Err(Js::error("TypeError", "is not iterable")),
        }
    }
    fn get(&self, v: &Js, name: Field) -> Result<Js, Js> {
        read(v, name.name())
    }
    fn expires_at_iso(&self, options: &Js) -> Result<Js, Js> {
        match read(options, "expiresAt")? {
            Js::Date(ms) if ms.is_finite() => Ok(Js::s(&iso(ms))),
            Js::Date(_) => Err(Js::error("RangeError", "Invalid time value")),
            _ => Err(Js::error("TypeError", "options.expiresAt.toISOString is not a function")),
        }
    }
    fn object(&self, props: &[(Field, &Js)]) -> Js {
        let o = Js::obj(&[]);
        for (f, v) in props {
            set(&o, f.name(), (*v).clone());
        }
        o
    }
    fn spread(&self, v: &Js, props: &[(Field, &Js)]) -> Result<Js, Js> {
        let o = Js::obj(&[]);
        for k in v.keys() {
            set(&o, &k, read(v, &k)?);
        }
        if let Js::Obj(src) = v {
            if let Some((_, err)) = &src.throwing_getter {
                return Err(err.clone());
            }
        }
        for (f, val) in props {
            set(&o, f.name(), (*val).clone());
        }
        Ok(o)
    }
    fn array(&self, items: Vec<Js>) -> Js {
        Js::Arr(Rc::new(items))
    }
    fn array_items(&self, v: &Js) -> Option<Vec<Js>> {
        match v {
            Js::Arr(a) => Some(a.as_ref().clone()),
            _ => None,
        }
    }
}

/// JavaScript's ToString of the values this model has.
pub fn to_text(v: &Js) -> Result<String, Js> {
    Ok(match v {
        Js::Undefined => "undefined".into(),
        Js::Null => "null".into(),
        Js::Bool(b) => b.to_string(),
        Js::Num(n) if n.fract() == 0.0 && n.abs() < 1e21 => format!("{n:.0}"),
        Js::Num(n) => n.to_string(),
        Js::Str(s) => s.to_string(),
        Js::Date(_) => return Err(Js::error("TypeError", "Date text is not modelled")),
        Js::Obj(_) => "[object Object]".into(),
        Js::Arr(a) => a
            .iter()
            .map(|x| if matches!(x, Js::Undefined | Js::Null) { Ok(String::new()) } else { to_text(x) })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
    })
}

/// `o[name] = v` on a plain object: an existing property keeps its place.
pub fn set(o: &Js, name: &str, v: Js) {
    let Js::Obj(o) = o else { panic!("set on a non-object") };
    let mut props = o.props.borrow_mut();
    match props.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = v,
        None => props.push((name.to_string(), v)),
    }
}

/// `Date#toISOString` of a time value.
pub fn iso(ms: f64) -> String {
    let ms = ms as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// `+new Date(s)` for strings in `toISOString` form; NaN for anything else.
pub fn parse_iso(s: &str) -> f64 {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<i64>().ok());
    if b.len() != 24 || b[4] != b'-' || b[10] != b'T' || b[23] != b'Z' {
        return f64::NAN;
    }
    let (Some(y), Some(m), Some(d), Some(h), Some(mi), Some(sec), Some(ms)) =
        (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19), num(20..23))
    else {
        return f64::NAN;
    };
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms) as f64
}

/// One recorded host call: `metadata.put("u/p/k", {…})`.
#[derive(Clone, Debug)]
pub struct Call {
    pub target: &'static str,
    pub method: &'static str,
    pub id: Option<String>,
    pub arg: Option<Js>,
    /// Global call number since the world was made (0-based; `take_calls` does not reset it).
    pub index: usize,
    /// The pool index of the task that made the call (`exec::current_task`).
    pub task: Option<usize>,
}

/// How an injected failure reaches the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultMode {
    /// The method returns a promise that rejects (after the usual yield).
    Reject,
    /// The method throws synchronously: the call fails at once, without
    /// yielding (natively the same `Err`, but no interleaving point).
    Throw,
    /// The call takes effect, then its answer is lost: it rejects anyway
    /// (a timeout after the write, a dropped connection).
    LostAnswer,
}

/// A host call as it completed, in the order the effects happened
/// (with `yielding`, a call's effect lands when it resumes, not when made).
#[derive(Clone, Debug)]
pub struct Completion {
    pub call: Call,
    /// `None`: it succeeded and acted; `Some`: it failed and did nothing
    /// (`LostAnswer`: it acted, then failed).
    pub fault: Option<FaultMode>,
}

/// Decides, when a call is made, whether it fails and how.
pub type FaultHook = Box<dyn FnMut(&Call) -> Option<(FaultMode, Js)>>;

impl Call {
    /// `"metadata.put u/p/k"`: method and id, for sequence assertions.
    pub fn short(&self) -> String {
        match &self.id {
            Some(id) => format!("{}.{} {id}", self.target, self.method),
            None => format!("{}.{}", self.target, self.method),
        }
    }
}

/// A planned failure: the `nth` (0-based) future call of `target.method` fails with `error`.
struct Fault {
    target: &'static str,
    method: &'static str,
    nth: usize,
    error: Js,
}

/// The shared host: one metadata KV, one vault, one clock, one call log.
pub struct World {
    pub rows: RefCell<Vec<(String, Js)>>,
    pub secrets: RefCell<BTreeMap<String, Js>>,
    pub calls: RefCell<Vec<Call>>,
    faults: RefCell<Vec<Fault>>,
    gates: RefCell<Vec<(&'static str, &'static str, Gate)>>,
    /// `getAll()` returns this instead of the rows when set.
    pub get_all_override: RefCell<Option<Js>>,
    pub now_ms: Cell<f64>,
    /// Every host call yields once before it acts, like a JS await.
    pub yielding: Cell<bool>,
    /// Strict mode's version tokens: v1, v2, … in order of issue.
    pub versions: Cell<u64>,
    /// Calls made so far (the next call's `index`).
    pub call_count: Cell<usize>,
    /// Every call as it completed, in effect order (the model checker reads it).
    pub completions: RefCell<Vec<Completion>>,
    /// Failures planned by global call index (see `fail_at`).
    indexed_faults: RefCell<Vec<(usize, FaultMode, Js)>>,
    /// Consulted at every call (see `set_fault_hook`).
    fault_hook: RefCell<Option<FaultHook>>,
    /// The KV offers `getByPrefix(prefix)`.
    pub prefix_query: Cell<bool>,
    /// The KV offers conditional writes (`putIf`, `deleteIf`: by row
    /// identity, as a KV storing the objects themselves would) and the vault
    /// `listIds(prefix)`.
    pub conditional: Cell<bool>,
    /// Version tokens carry their issue time (`<base36 ms>-vN`).
    pub timed_tokens: Cell<bool>,
}

pub type FakeStore = Store<FakeValues, FakeKv, FakeVault, FakeClock>;

/// 2026-01-01T00:00:00.000Z
pub const T0: f64 = 1_767_225_600_000.0;

impl World {
    pub fn new() -> Rc<World> {
        Rc::new(World {
            rows: RefCell::default(),
            secrets: RefCell::default(),
            calls: RefCell::default(),
            faults: RefCell::default(),
            gates: RefCell::default(),
            get_all_override: RefCell::default(),
            now_ms: Cell::new(T0),
            yielding: Cell::new(false),
            versions: Cell::new(0),
            call_count: Cell::new(0),
            completions: RefCell::default(),
            indexed_faults: RefCell::default(),
            fault_hook: RefCell::default(),
            prefix_query: Cell::new(false),
            conditional: Cell::new(false),
            timed_tokens: Cell::new(false),
        })
    }

    pub fn store(self: &Rc<Self>, user: &str, project: &str) -> FakeStore {
        Store::new(
            FakeValues,
            FakeKv(self.clone()),
            FakeVault(self.clone()),
            FakeClock(self.clone()),
            &Js::s(user),
            &Js::s(project),
        )
        .expect("valid scope")
    }

    /// The `nth` future call of `target.method` ("metadata"/"vault") fails with `error`.
    pub fn fail(&self, target: &'static str, method: &'static str, nth: usize, error: &Js) {
        self.faults.borrow_mut().push(Fault { target, method, nth, error: error.clone() });
    }

    /// The call with global index `index` (see `Call::index`) fails with `error`, as `mode` says.
    pub fn fail_at(&self, index: usize, mode: FaultMode, error: &Js) {
        self.indexed_faults.borrow_mut().push((index, mode, error.clone()));
    }

    /// `hook` sees every call as it is made and may fail it (reject or throw).
    pub fn set_fault_hook(&self, hook: impl FnMut(&Call) -> Option<(FaultMode, Js)> + 'static) {
        *self.fault_hook.borrow_mut() = Some(Box::new(hook));
    }

    /// The next call of `target.method` waits until the returned gate opens.
    pub fn hold(&self, target: &'static str, method: &'static str) -> Gate {
        let g = Gate::default();
        self.gates.borrow_mut().push((target, method, g.clone()));
        g
    }

    pub fn row(&self, id: &str) -> Js {
        self.rows.borrow().iter().find(|(k, _)| k == id).map(|(_, v)| v.clone()).unwrap_or(Js::Undefined)
    }

    pub fn set_row(&self, id: &str, row: Js) {
        let mut rows = self.rows.borrow_mut();
        match rows.iter_mut().find(|(k, _)| k == id) {
            Some(slot) => slot.1 = row,
            None => rows.push((id.to_string(), row)),
        }
    }

    pub fn secret(&self, id: &str) -> Option<Js> {
        self.secrets.borrow().get(id).cloned()
    }

    /// The calls so far as `"target.method id"`, and forget them.
    pub fn take_calls(&self) -> Vec<String> {
        self.calls.borrow_mut().drain(..).map(|c| c.short()).collect()
    }

    pub fn take_full_calls(&self) -> Vec<Call> {
        self.calls.borrow_mut().drain(..).collect()
    }

    /// Records the call, then yields / waits at a gate / fails as planned.
    async fn enter(
        &self,
        target: &'static str,
        method: &'static str,
        id: Option<&str>,
        arg: Option<&Js>,
    ) -> Result<Option<Js>, Js> {
        let index = self.call_count.get();
        self.call_count.set(index + 1);
        let call = Call { target, method, id: id.map(str::to_owned), arg: arg.cloned(), index, task: current_task() };
        self.calls.borrow_mut().push(call.clone());
        let planned = {
            let mut indexed = self.indexed_faults.borrow_mut();
            let at = indexed.iter().position(|(i, _, _)| *i == index);
            at.map(|i| {
                let (_, mode, err) = indexed.remove(i);
                (mode, err)
            })
        };
        let planned = match planned {
            Some(p) => Some(p),
            None => {
                let mut hook = self.fault_hook.borrow_mut();
                hook.as_mut().and_then(|h| h(&call))
            }
        };
        if let Some((FaultMode::Throw, err)) = planned {
            self.completions.borrow_mut().push(Completion { call, fault: Some(FaultMode::Throw) });
            return Err(err);
        }
        let gate = {
            let mut gates = self.gates.borrow_mut();
            let at = gates.iter().position(|(t, m, _)| *t == target && *m == method);
            at.map(|i| gates.remove(i).2)
        };
        if let Some(g) = gate {
            g.pass().await;
        } else if self.yielding.get() {
            yield_now().await;
        }
        if let Some((mode, err)) = planned {
            self.completions.borrow_mut().push(Completion { call, fault: Some(mode) });
            if mode == FaultMode::LostAnswer {
                return Ok(Some(err));
            }
            return Err(err);
        }
        let mut faults = self.faults.borrow_mut();
        let mut failed = None;
        faults.retain_mut(|f| {
            if f.target != target || f.method != method {
                return true;
            }
            if f.nth == 0 && failed.is_none() {
                failed = Some(f.error.clone());
                return false;
            }
            f.nth -= 1;
            true
        });
        let fault = failed.is_some().then_some(FaultMode::Reject);
        self.completions.borrow_mut().push(Completion { call, fault });
        failed.map_or(Ok(None), Err)
    }
}

pub struct FakeKv(pub Rc<World>);
pub struct FakeVault(pub Rc<World>);
pub struct FakeClock(pub Rc<World>);

impl MetadataKv<FakeValues> for FakeKv {
    async fn get(&self, id: &Js) -> Result<Js, Js> {
        let id = id.str().unwrap_or_default();
        let lost = self.0.enter("metadata", "get", Some(id), None).await?;
        answer(lost, self.0.row(id))
    }
    async fn put(&self, id: &Js, row: &Js) -> Result<(), Js> {
        let id = id.str().unwrap_or_default();
        let lost = self.0.enter("metadata", "put", Some(id), Some(row)).await?;
        self.0.set_row(id, row.clone());
        answer(lost, ())
    }
    async fn delete(&self, id: &Js) -> Result<(), Js> {
        let id = id.str().unwrap_or_default();
        let lost = self.0.enter("metadata", "delete", Some(id), None).await?;
        self.0.rows.borrow_mut().retain(|(k, _)| k != id);
        answer(lost, ())
    }
    async fn put_if(&self, id: &Js, row: &Js, expected: &Js) -> Option<Result<bool, Js>> {
        if !self.0.conditional.get() {
            return None;
        }
        let id = id.str().unwrap_or_default();
        let lost = match self.0.enter("metadata", "putIf", Some(id), Some(row)).await {
            Ok(lost) => lost,
            Err(e) => return Some(Err(e)),
        };
        let stored = self.0.rows.borrow().iter().find(|(k, _)| k == id).map(|(_, r)| r.clone());
        let matches = match (&stored, expected) {
            (None, Js::Undefined) => true,
            (Some(r), e) => r.same(e),
            _ => false,
        };
        if matches {
            self.0.set_row(id, row.clone());
        }
        Some(answer(lost, matches))
    }
    async fn delete_if(&self, id: &Js, expected: &Js) -> Option<Result<bool, Js>> {
        if !self.0.conditional.get() {
            return None;
        }
        let id = id.str().unwrap_or_default();
        let lost = match self.0.enter("metadata", "deleteIf", Some(id), None).await {
            Ok(lost) => lost,
            Err(e) => return Some(Err(e)),
        };
        let matches = self.0.rows.borrow().iter().any(|(k, r)| k == id && r.same(expected));
        if matches {
            self.0.rows.borrow_mut().retain(|(k, _)| k != id);
        }
        Some(answer(lost, matches))
    }
    async fn get_all(&self) -> Result<Js, Js> {
        self.0.enter("metadata", "getAll", None, None).await?;
        if let Some(v) = self.0.get_all_override.borrow().clone() {
            return Ok(v);
        }
        let rows = self.0.rows.borrow();
        if rows.is_empty() {
            return Ok(Js::Undefined); // as FsFolderJsonKvStorage does
        }
        Ok(Js::Arr(Rc::new(rows.iter().map(|(k, v)| Js::obj(&[("key", Js::s(k)), ("value", v.clone())])).collect())))
    }
    async fn get_by_prefix(&self, prefix: &Js) -> Option<Result<Js, Js>> {
        if !self.0.prefix_query.get() {
            return None;
        }
        let prefix = prefix.str().unwrap_or_default().to_owned();
        if let Err(e) = self.0.enter("metadata", "getByPrefix", Some(&prefix), None).await {
            return Some(Err(e));
        }
        let rows = self.0.rows.borrow();
        let found = rows.iter().filter(|(k, _)| k.starts_with(&prefix));
        Some(Ok(Js::Arr(Rc::new(found.map(|(k, v)| Js::obj(&[("key", Js::s(k)), ("value", v.clone())])).collect()))))
    }
}

impl SecretVault<FakeValues> for FakeVault {
    async fn set_secret(&self, id: &Js, secret: &Js) -> Result<(), Js> {
        let id = id.str().unwrap_or_default();
        let lost = self.0.enter("vault", "setSecret", Some(id), Some(secret)).await?;
        self.0.secrets.borrow_mut().insert(id.to_string(), secret.clone());
        answer(lost, ())
    }
    async fn get_secret(&self, id: &Js) -> Result<Js, Js> {
        let id = id.str().unwrap_or_default();
        let lost = self.0.enter("vault", "getSecret", Some(id), None).await?;
        answer(lost, self.0.secret(id).unwrap_or(Js::Undefined))
    }
    async fn delete_secret(&self, id: &Js) -> Result<(), Js> {
        let id = id.str().unwrap_or_default();
        let lost = self.0.enter("vault", "deleteSecret", Some(id), None).await?;
        self.0.secrets.borrow_mut().remove(id);
        answer(lost, ())
    }
    async fn list_ids(&self, prefix: &Js) -> Option<Result<Js, Js>> {
        if !self.0.conditional.get() {
            return None;
        }
        let prefix = prefix.str().unwrap_or_default().to_owned();
        let lost = match self.0.enter("vault", "listIds", Some(&prefix), None).await {
            Ok(lost) => lost,
            Err(e) => return Some(Err(e)),
        };
        let ids = self.0.secrets.borrow().keys().filter(|k| k.starts_with(&prefix)).map(|k| Js::s(k)).collect();
        Some(answer(lost, Js::Arr(Rc::new(ids))))
    }
}

/// A call's answer, or the error of a call whose answer was lost after it acted.
fn answer<T>(lost: Option<Js>, value: T) -> Result<T, Js> {
    lost.map_or(Ok(value), Err)
}

impl Clock<FakeValues> for FakeClock {
    fn now_iso(&self) -> Result<Js, Js> {
        Ok(Js::s(&iso(self.0.now_ms.get())))
    }
    fn now_ms(&self) -> Result<f64, Js> {
        Ok(self.0.now_ms.get())
    }
    fn date_ms(&self, v: &Js) -> Result<f64, Js> {
        Ok(match v {
            Js::Str(s) => parse_iso(s),
            Js::Num(n) => *n,
            Js::Null => 0.0,
            Js::Bool(b) => f64::from(u8::from(*b)),
            Js::Date(ms) => *ms,
            _ => f64::NAN,
        })
    }
    fn version_token(&self) -> String {
        let n = self.0.versions.get() + 1;
        self.0.versions.set(n);
        if self.0.timed_tokens.get() {
            return format!("{}-v{n}", base36(self.0.now_ms.get() as u64));
        }
        format!("v{n}")
    }
}

fn base36(mut n: u64) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}
