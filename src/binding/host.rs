//! The host traits over JS objects. Host methods are looked up at every
//! call and called with `this` = the object; results are awaited as JS
//! `await` does; a sync throw or a rejection comes back as the same value.

use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::error::into_js;
use super::task;
use super::Local;
use crate::core::{Carried, Clock, Facade, Field, MetadataKv, RowState, SecretVault, StoreError, Values};

pub mod glue {
    use super::*;
    use core::sync::atomic::{AtomicU32, Ordering};

    #[wasm_bindgen(module = "/js/glue.js")]
    extern "C" {
        pub fn init(names: &str, exports: &JsValue, threw_address: u32, key_address: u32, times_address: u32);
        /// Whether the instance can take `values` more JS values now (glue.js "Admission").
        pub fn reserve(values: u32) -> bool;
        #[wasm_bindgen(js_name = busyError)]
        pub fn busy_error() -> JsValue;
        #[wasm_bindgen(js_name = field)]
        pub fn field_guarded(v: &JsValue, index: i32) -> JsValue;
        #[wasm_bindgen(js_name = addLayout)]
        pub fn add_layout(fields: &[u8]) -> u32;
        #[wasm_bindgen(js_name = expiresAtIso)]
        pub fn expires_at_iso_guarded(options: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = nowIso)]
        pub fn now_iso_guarded() -> JsValue;
        #[wasm_bindgen(catch, js_name = nowMs)]
        pub fn now_ms() -> Result<f64, JsValue>;
        #[wasm_bindgen(catch, js_name = dateMs)]
        pub fn date_ms(v: &JsValue) -> Result<f64, JsValue>;
        #[wasm_bindgen(js_name = expiryAndNow)]
        pub fn expiry_and_now(row: &JsValue) -> bool;
        #[wasm_bindgen(js_name = typeError)]
        pub fn type_error(message: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = errorWithCause)]
        pub fn error_with_cause(message: &JsValue, cause: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = aggregateError)]
        pub fn aggregate_error(errors: &Array, message: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = conflictError)]
        pub fn conflict_error(message: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = messageAround)]
        pub fn message_around(before: &str, key: &JsValue, after: &str) -> JsValue;
        #[wasm_bindgen(js_name = keyAndId)]
        pub fn key_and_id_guarded(prefix: &JsValue, key: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = template)]
        pub fn template_guarded(a: &JsValue, b: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = toText)]
        pub fn to_text_guarded(v: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = keyOfId)]
        pub fn key_of_id(id: &JsValue, prefix: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = callStartsWith)]
        pub fn call_starts_with(s: &JsValue, prefix: &JsValue) -> u32;
        #[wasm_bindgen(js_name = member)]
        pub fn member_guarded(v: &JsValue, index: i32) -> JsValue;
        #[wasm_bindgen(js_name = iterate)]
        pub fn iterate_guarded(v: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = versionToken)]
        pub fn version_token() -> String;
        #[wasm_bindgen(js_name = metadataSlot)]
        pub fn metadata_slot(metadata: &JsValue) -> u32;
        /// `list[i]` of an array the glue made.
        pub fn at(list: &JsValue, i: i32) -> JsValue;

        // Batched reads (see the Values defaults in core/host.rs).
        #[wasm_bindgen(js_name = carriedFields)]
        pub fn carried_fields(options: &JsValue, existing: &JsValue) -> u32;
        pub fn carried(index: i32) -> JsValue;
        #[wasm_bindgen(js_name = rowState)]
        pub fn row_state(row: &JsValue, read_expiry: i32) -> u32;
        #[wasm_bindgen(js_name = deleteState)]
        pub fn delete_state(row: &JsValue) -> u32;
        #[wasm_bindgen(js_name = listInfos)]
        pub fn list_infos_guarded(all: &JsValue, prefix: &JsValue, user_id: &JsValue, project_id: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = scanScope)]
        pub fn scan_scope_guarded(
            all: &JsValue,
            prefix: &JsValue,
            user_id: &JsValue,
            project_id: &JsValue,
            rows: i32,
        ) -> JsValue;

        // The executor's side of host calls (see task.rs).
        #[wasm_bindgen(js_name = callHost)]
        pub fn call_host(target: &JsValue, method: i32, flags: i32, a: &JsValue, b: &JsValue, c: &JsValue) -> u32;
        #[wasm_bindgen(js_name = wakeSlot)]
        pub fn wake_slot(slot: i32);
        #[wasm_bindgen(js_name = takeThrown)]
        pub fn take_thrown() -> JsValue;
        #[wasm_bindgen(js_name = setResult)]
        pub fn set_result(v: &JsValue);
        #[wasm_bindgen(js_name = makeDriver)]
        pub fn make_driver(core: &JsValue) -> JsValue;
    }

    // Objects from registered property layouts (`with_layout`): up to
    // LAYOUT_MAX values per crossing. One line each (rustfmt skips this
    // block; it ignores `skip` on single items of an extern block).
    #[rustfmt::skip]
    #[wasm_bindgen(module = "/js/glue.js")]
    extern "C" {
        pub fn fill(o: &JsValue, layout: i32, a: &JsValue, b: &JsValue, c: &JsValue, d: &JsValue, e: &JsValue, f: &JsValue, g: &JsValue, h: &JsValue, i: &JsValue, j: &JsValue, k: &JsValue, l: &JsValue, m: &JsValue);
        pub fn object(layout: i32, a: &JsValue, b: &JsValue, c: &JsValue, d: &JsValue, e: &JsValue, f: &JsValue, g: &JsValue, h: &JsValue, i: &JsValue, j: &JsValue, k: &JsValue, l: &JsValue, m: &JsValue) -> JsValue;
        #[wasm_bindgen(js_name = spreadWith)]
        pub fn spread_with_guarded(v: &JsValue, layout: i32, a: &JsValue, b: &JsValue, c: &JsValue, d: &JsValue, e: &JsValue, f: &JsValue, g: &JsValue, h: &JsValue, i: &JsValue, j: &JsValue, k: &JsValue, l: &JsValue, m: &JsValue) -> JsValue;
    }

    /// Raised by the glue (`raise` in glue.js) when a guarded helper threw;
    /// read here as plain memory, so a guarded read costs one crossing.
    pub static THREW: AtomicU32 = AtomicU32::new(0);

    /// A guarded glue read: the value, or what it threw.
    pub fn guarded(v: JsValue) -> Result<JsValue, JsValue> {
        if THREW.load(Ordering::Relaxed) != 0 {
            THREW.store(0, Ordering::Relaxed);
            Err(take_thrown())
        } else {
            Ok(v)
        }
    }

    /// `v?.[name]`; a getter may throw.
    pub fn field(v: &JsValue, index: u32) -> Result<JsValue, JsValue> {
        guarded(field_guarded(v, index as i32))
    }
}

/// The host methods the store calls, named after `Field::ALL` in the glue's name table.
#[derive(Clone, Copy)]
enum Method {
    Get,
    Put,
    Delete,
    GetAll,
    SetSecret,
    GetSecret,
    DeleteSecret,
    GetByPrefix,
    ListMetadata,
    PutIf,
    DeleteIf,
    ListIds,
}

impl Method {
    const ALL: [Method; 12] = [
        Method::Get,
        Method::Put,
        Method::Delete,
        Method::GetAll,
        Method::SetSecret,
        Method::GetSecret,
        Method::DeleteSecret,
        Method::GetByPrefix,
        Method::ListMetadata,
        Method::PutIf,
        Method::DeleteIf,
        Method::ListIds,
    ];

    const fn name(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Delete => "delete",
            Method::GetAll => "getAll",
            Method::SetSecret => "setSecret",
            Method::GetSecret => "getSecret",
            Method::DeleteSecret => "deleteSecret",
            Method::GetByPrefix => "getByPrefix",
            Method::ListMetadata => "listMetadata",
            Method::PutIf => "putIf",
            Method::DeleteIf => "deleteIf",
            Method::ListIds => "listIds",
        }
    }

    fn index(self) -> u32 {
        (Field::ALL.len() + self as usize) as u32
    }
}

/// Whether the glue has its tables (once per module instance).
static NAMES_SET: Local<Cell<bool>> = Local::new(Cell::new(false));

/// Hands the glue its property-name table and the status word, once per module instance.
pub fn init_glue() {
    if NAMES_SET.with(|s| s.replace(true)) {
        return;
    }
    // One string, split by the glue: one text decoding instead of one per name.
    let mut names = String::new();
    for name in Field::ALL.iter().map(|f| f.name()).chain(Method::ALL.iter().map(|m| m.name())) {
        names.push_str(name);
        names.push(' ');
    }
    glue::init(
        names.trim_end(),
        &wasm_bindgen::exports(),
        glue::THREW.as_ptr() as u32,
        KEY_TEXT.0.get() as u32,
        TIMES.0.get() as u32,
    );
}

/// Where the glue's `keyAndId` leaves a key's text (its ToString): its
/// length (0 when the text cannot be a key), then that many ASCII bytes;
/// at `KEY_NOT_STRING`, 1 when the key is not a string (no id was built).
struct KeyText(core::cell::UnsafeCell<[u8; 2 + MAX_KEY_TEXT]>);
// SAFETY: wasm32 without threads; only read right after the glue wrote it.
unsafe impl Sync for KeyText {}
const MAX_KEY_TEXT: usize = 128;
const KEY_NOT_STRING: usize = 1 + MAX_KEY_TEXT;
static KEY_TEXT: KeyText = KeyText(core::cell::UnsafeCell::new([0; 2 + MAX_KEY_TEXT]));

/// What the glue's `keyAndId` returned when it already ran for the key the
/// next `key_id` addresses (see `written_key`).
static WRITTEN: Local<Cell<Option<JsValue>>> = Local::new(Cell::new(None));

/// The glue ran `keyAndId` for the next key addressed (its text and status
/// are in place) and returned `id`: the next `key_id` takes them instead of
/// calling it again (ToString runs once, as in the TS store's test).
pub fn written_key(id: JsValue) {
    WRITTEN.with(|w| w.set(Some(id)));
}

/// Whether the text `keyAndId` left (for a string key: it never throws) is
/// a key: SPEC §2's test.
pub fn written_text_is_key(is_key: impl Fn(&[u8]) -> bool) -> bool {
    // SAFETY: the glue wrote it just before this crossing; nothing else ran.
    let buf = unsafe { &*KEY_TEXT.0.get() };
    let len = usize::from(buf[0]).min(MAX_KEY_TEXT);
    is_key(&buf[1..1 + len])
}

/// Where the glue's `expiryAndNow` leaves its two times (ms since the epoch).
struct Times(core::cell::UnsafeCell<[f64; 2]>);
// SAFETY: as KeyText.
unsafe impl Sync for Times {}
static TIMES: Times = Times(core::cell::UnsafeCell::new([0.0; 2]));

/// `v?.[field]`
pub fn field(v: &JsValue, f: Field) -> Result<JsValue, JsValue> {
    glue::field(v, f as u32)
}

/// The most properties one glue call sets (`fill` in glue.js).
const LAYOUT_MAX: usize = 13;

/// The property lists registered with the glue, by layout id.
static LAYOUTS: Local<RefCell<Vec<Vec<u8>>>> = Local::new(RefCell::new(Vec::new()));

/// The glue's layout id for this list of property names. The store builds
/// a handful of row shapes, so each is registered once and then found by a
/// short scan.
fn layout_id(fields: &[u8]) -> u32 {
    LAYOUTS.with(|l| {
        let mut l = l.borrow_mut();
        match l.iter().position(|known| known.as_slice() == fields) {
            Some(id) => id as u32,
            None => {
                let id = glue::add_layout(fields);
                l.push(fields.to_vec());
                id
            }
        }
    })
}

/// Builds an object from `props` in order: `first` makes it from the first
/// `LAYOUT_MAX` properties (one crossing), the glue's `fill` adds any more.
fn with_layout<'a>(
    props: &[(Field, &'a JsValue)],
    first: impl FnOnce(u32, &[&JsValue; LAYOUT_MAX]) -> JsValue,
) -> JsValue {
    let undefined = JsValue::UNDEFINED;
    let mut chunks = props.chunks(LAYOUT_MAX);
    let pack = |chunk: &[(Field, &'a JsValue)]| {
        let mut fields = [0u8; LAYOUT_MAX];
        let mut values = [&undefined; LAYOUT_MAX];
        for (k, (f, v)) in chunk.iter().enumerate() {
            fields[k] = *f as u8;
            values[k] = *v;
        }
        (layout_id(&fields[..chunk.len()]), values)
    };
    let (id, v) = pack(chunks.next().unwrap_or(&[]));
    let o = first(id, &v);
    for chunk in chunks {
        let (id, v) = pack(chunk);
        glue::fill(&o, id as i32, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]);
    }
    o
}

/// Exactly the arguments the TS store passes (spies see the same `arguments.length`).
enum Args<'a> {
    None,
    One(&'a JsValue),
    Two(&'a JsValue, &'a JsValue),
    Three(&'a JsValue, &'a JsValue, &'a JsValue),
}

/// What `callHost` reports (glue.js).
const AWAITING: u32 = 0;
const NOT_A_FUNCTION: u32 = 1;
/// callHost's `flags`: the argument count (`CALL_ARGC` bits), and whether
/// the protocol requires the method (then a missing one throws the engine's
/// own TypeError).
const CALL_REQUIRED: u32 = 4;

/// Whether a missing method is an error (required) or the store does
/// without it (optional: `getByPrefix`, the public object's methods).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Required,
    Optional,
}

/// `await target[method](...args)`, the one way the store reaches the host:
/// a sync throw or a rejection comes back as the same value; `None` when
/// the method is not a function. The call is made when this is created
/// (the store awaits every host call as soon as it makes it), so the future
/// borrows nothing; it is one small hand-written future rather than nested
/// `async fn`s, since every later poll of the operation passes through it.
enum HostCall {
    Settled(Option<Result<JsValue, JsValue>>),
    /// The host's result is being awaited by `drive`; it lands in this slot's inbox.
    Awaiting(u32),
    Taken,
}

fn host_call(target: &JsValue, method: Method, args: Args<'_>, need: Need) -> HostCall {
    host_call_of(target, method, args, need, false)
}

/// `host_call`; `void`: the store ignores the value the call fulfils with,
/// so `drive` hands back only that it fulfilled (no value enters wasm).
fn host_call_of(target: &JsValue, method: Method, args: Args<'_>, need: Need, void: bool) -> HostCall {
    let Some(slot) = task::current() else {
        let message = JsValue::from_str("ServerCredentialStore: host call outside an operation");
        return HostCall::Settled(Some(Err(glue::type_error(&message))));
    };
    match start_call(target, method, args, need) {
        Ok(()) => {
            task::begin_await(slot, void);
            HostCall::Awaiting(slot)
        }
        Err(None) => HostCall::Settled(None),
        Err(Some(e)) => HostCall::Settled(Some(Err(e))),
    }
}

/// Calls `target[method](...args)` now. `Ok`: its result waits in the glue
/// for `drive` to await; `Err(None)`: an optional method is not a function;
/// `Err(Some(e))`: the lookup or the call threw `e` (for a required method
/// that is not a function, the engine's TypeError for the call expression).
fn start_call(target: &JsValue, method: Method, args: Args<'_>, need: Need) -> Result<(), Option<JsValue>> {
    let undefined = JsValue::UNDEFINED;
    let (argc, a, b, c) = match args {
        Args::None => (0, &undefined, &undefined, &undefined),
        Args::One(a) => (1, a, &undefined, &undefined),
        Args::Two(a, b) => (2, a, b, &undefined),
        Args::Three(a, b, c) => (3, a, b, c),
    };
    let flags = if need == Need::Required { argc | CALL_REQUIRED } else { argc };
    match glue::call_host(target, method.index() as i32, flags as i32, a, b, c) {
        AWAITING => Ok(()),
        NOT_A_FUNCTION => Err(None),
        _ => Err(Some(glue::take_thrown())),
    }
}

impl Future for HostCall {
    type Output = Option<Result<JsValue, JsValue>>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this {
            HostCall::Awaiting(slot) => match task::take_inbox(*slot) {
                Some(out) => {
                    *this = HostCall::Taken;
                    Poll::Ready(Some(out))
                }
                None => Poll::Pending,
            },
            HostCall::Settled(_) => match core::mem::replace(this, HostCall::Taken) {
                HostCall::Settled(out) => Poll::Ready(out),
                _ => Poll::Pending,
            },
            // Polled again after it finished: never settles (a misuse, not a trap).
            HostCall::Taken => Poll::Pending,
        }
    }
}

/// A call of a method the protocol requires: its absence is a TypeError
/// naming it; `map` shapes the settled value.
struct Required<T> {
    call: HostCall,
    object: &'static str,
    method: Method,
    map: fn(JsValue) -> T,
}

fn call<T>(
    target: &JsValue,
    object: &'static str,
    method: Method,
    args: Args<'_>,
    map: fn(JsValue) -> T,
) -> Required<T> {
    Required { call: host_call(target, method, args, Need::Required), object, method, map }
}

/// `call` of a method whose fulfilment value the store ignores.
fn call_void(target: &JsValue, object: &'static str, method: Method, args: Args<'_>) -> Required<()> {
    Required { call: host_call_of(target, method, args, Need::Required, true), object, method, map: nothing }
}

impl<T> Future for Required<T> {
    type Output = Result<T, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.call).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(out)) => Poll::Ready(out.map(this.map)),
            Poll::Ready(None) => {
                Poll::Ready(Err(into_js(StoreError::MissingMethod { object: this.object, method: this.method.name() })))
            }
        }
    }
}

fn value(v: JsValue) -> JsValue {
    v
}

fn nothing(_: JsValue) {}

/// The JS value model: plain `JsValue`s, read and built with JS semantics.
pub struct JsValues;

impl Values for JsValues {
    type Val = JsValue;
    type Err = JsValue;

    fn undefined(&self) -> JsValue {
        JsValue::UNDEFINED
    }
    fn boolean(&self, b: bool) -> JsValue {
        JsValue::from_bool(b)
    }
    fn string(&self, s: &str) -> JsValue {
        JsValue::from_str(s)
    }
    fn is_undefined(&self, v: &JsValue) -> bool {
        v.is_undefined()
    }
    fn is_nullish(&self, v: &JsValue) -> bool {
        v.is_null_or_undefined()
    }
    fn is_truthy(&self, v: &JsValue) -> bool {
        v.is_truthy()
    }
    fn is_true(&self, v: &JsValue) -> bool {
        v.as_bool() == Some(true)
    }
    fn strict_eq(&self, a: &JsValue, b: &JsValue) -> bool {
        a == b
    }
    fn as_string(&self, v: &JsValue) -> Option<String> {
        v.as_string()
    }
    fn as_number(&self, v: &JsValue) -> Option<f64> {
        v.as_f64()
    }
    fn error_value(&self, e: JsValue) -> JsValue {
        e
    }
    fn thrown(&self, v: JsValue) -> JsValue {
        v
    }
    fn to_text(&self, v: &JsValue) -> Result<String, JsValue> {
        glue::guarded(glue::to_text_guarded(v)).map(|t| t.as_string().unwrap_or_default())
    }
    fn template(&self, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue> {
        glue::guarded(glue::template_guarded(a, b))
    }
    fn key_of_id(&self, id: &JsValue, prefix: &JsValue) -> JsValue {
        glue::key_of_id(id, prefix)
    }
    fn call_starts_with(&self, s: &JsValue, prefix: &JsValue) -> Result<bool, JsValue> {
        match glue::call_starts_with(s, prefix) {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(glue::take_thrown()),
        }
    }
    fn member(&self, v: &JsValue, name: Field) -> Result<JsValue, JsValue> {
        glue::guarded(glue::member_guarded(v, name as i32))
    }
    fn iterate(&self, v: &JsValue) -> Result<Vec<JsValue>, JsValue> {
        let items = glue::guarded(glue::iterate_guarded(v))?;
        Ok(items_of(&items))
    }
    /// One crossing: the glue copies a key's text into `KEY_TEXT` (no
    /// allocation or text decoding) and, for a string key, returns
    /// `prefix + key`; any other key's id is built once its text passes.
    fn key_id(
        &self,
        prefix: &JsValue,
        key: &JsValue,
        is_key: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Option<JsValue>, JsValue> {
        let id = match WRITTEN.with(|w| w.take()) {
            // The glue's `read` ran keyAndId for this key already.
            Some(id) => glue::guarded(id)?,
            None => glue::guarded(glue::key_and_id_guarded(prefix, key))?,
        };
        // SAFETY: the glue wrote it just now; nothing else runs in between.
        let buf = unsafe { &*KEY_TEXT.0.get() };
        // Text that cannot be a key arrives as "" (length 0), which fails too.
        let len = usize::from(buf[0]).min(MAX_KEY_TEXT);
        if !is_key(&buf[1..1 + len]) {
            return Ok(None);
        }
        if buf[KEY_NOT_STRING] != 0 {
            return self.template(prefix, key).map(Some);
        }
        Ok(Some(id))
    }
    fn get(&self, v: &JsValue, name: Field) -> Result<JsValue, JsValue> {
        field(v, name)
    }
    fn expires_at_iso(&self, options: &JsValue) -> Result<JsValue, JsValue> {
        glue::guarded(glue::expires_at_iso_guarded(options))
    }
    fn object(&self, props: &[(Field, &JsValue)]) -> JsValue {
        with_layout(props, |id, v| {
            glue::object(id as i32, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12])
        })
    }
    fn spread(&self, row: &JsValue, props: &[(Field, &JsValue)]) -> Result<JsValue, JsValue> {
        glue::guarded(with_layout(props, |id, v| {
            glue::spread_with_guarded(
                row, id as i32, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12],
            )
        }))
    }
    fn array(&self, items: Vec<JsValue>) -> JsValue {
        items.into_iter().collect::<Array>().into()
    }
    fn is_array(&self, v: &JsValue) -> bool {
        Array::is_array(v)
    }
    /// The elements of an array (a row's retired versions): an array too
    /// long for the instance to hold reads as none.
    fn array_items(&self, v: &JsValue) -> Option<Vec<JsValue>> {
        let list = v.dyn_ref::<Array>()?;
        glue::reserve(list.length()).then(|| list.iter().collect())
    }

    /// One crossing for the reads, then one per value handed over.
    fn carried_fields(&self, options: &JsValue, existing: &JsValue) -> Result<Carried<JsValue>, JsValue> {
        let created_at_nullish = match glue::carried_fields(options, existing) {
            0 => false,
            1 => true,
            _ => return Err(glue::take_thrown()),
        };
        Ok(Carried {
            label: glue::carried(0),
            provider: glue::carried(1),
            created_at: (!created_at_nullish).then(|| glue::carried(2)),
            expires_at: glue::carried(3),
        })
    }

    fn row_state(&self, row: &JsValue, read_expiry: bool) -> Result<RowState, JsValue> {
        row_state_of(glue::row_state(row, read_expiry as i32))
    }

    fn delete_state(&self, row: &JsValue) -> Result<RowState, JsValue> {
        match glue::delete_state(row) {
            0 => Ok(RowState::Missing),
            1 => Ok(RowState::Pending),
            2 => Ok(RowState::Committed { expires: false }),
            _ => Err(glue::take_thrown()),
        }
    }

    /// One crossing for the whole loop; the glue's expiry check is
    /// `new Date(row.expiresAt) <= new Date()`, as `JsClock` reads it.
    fn list_infos(
        &self,
        all: &JsValue,
        [prefix, user_id, project_id]: [&JsValue; 3],
        _expired: &dyn Fn(&JsValue) -> Result<bool, JsValue>,
    ) -> Result<JsValue, JsValue> {
        glue::guarded(glue::list_infos_guarded(all, prefix, user_id, project_id))
    }

    /// One crossing for the whole scan.
    fn scan_scope(
        &self,
        all: &JsValue,
        [prefix, user_id, project_id]: [&JsValue; 3],
        rows: bool,
    ) -> Result<Vec<(JsValue, JsValue)>, JsValue> {
        let flat = glue::guarded(glue::scan_scope_guarded(all, prefix, user_id, project_id, rows as i32))?;
        let flat = flat.unchecked_into::<Array>();
        // Each entry is held while the operation goes through them, and
        // reconcile reports each: room for them all, or BUSY.
        if !glue::reserve(flat.length().saturating_mul(2)) {
            return Err(glue::busy_error());
        }
        let flat = items_of(&flat);
        Ok(if rows {
            flat.chunks_exact(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect()
        } else {
            flat.into_iter().map(|id| (id, JsValue::UNDEFINED)).collect()
        })
    }
}

/// What the glue's `rowState` (or `readRow`) answered: 4 means a getter or
/// Date threw, and the value waits in `takeThrown()`.
pub fn row_state_of(n: u32) -> Result<RowState, JsValue> {
    match n {
        0 => Ok(RowState::Missing),
        1 => Ok(RowState::Pending),
        2 => Ok(RowState::Committed { expires: false }),
        3 => Ok(RowState::Committed { expires: true }),
        _ => Err(glue::take_thrown()),
    }
}

/// The elements of an array the glue made (one crossing each).
fn items_of(list: &JsValue) -> Vec<JsValue> {
    let n = list.unchecked_ref::<Array>().length();
    (0..n).map(|i| glue::at(list, i as i32)).collect()
}

/// The caller's metadata KV object.
pub struct JsKv(JsValue);

impl JsKv {
    pub fn new(obj: JsValue) -> Self {
        JsKv(obj)
    }

    /// The object itself (the glue's fast reads call it).
    pub fn object(&self) -> &JsValue {
        &self.0
    }
}

impl MetadataKv<JsValues> for JsKv {
    fn get(&self, id: &JsValue) -> impl Future<Output = Result<JsValue, JsValue>> {
        call(&self.0, "metadata", Method::Get, Args::One(id), value)
    }
    fn put(&self, id: &JsValue, row: &JsValue) -> impl Future<Output = Result<(), JsValue>> {
        call_void(&self.0, "metadata", Method::Put, Args::Two(id, row))
    }
    fn delete(&self, id: &JsValue) -> impl Future<Output = Result<(), JsValue>> {
        call_void(&self.0, "metadata", Method::Delete, Args::One(id))
    }
    fn get_all(&self) -> impl Future<Output = Result<JsValue, JsValue>> {
        call(&self.0, "metadata", Method::GetAll, Args::None, value)
    }
    fn get_by_prefix(&self, prefix: &JsValue) -> impl Future<Output = Option<Result<JsValue, JsValue>>> {
        host_call(&self.0, Method::GetByPrefix, Args::One(prefix), Need::Optional)
    }
    async fn put_if(&self, id: &JsValue, row: &JsValue, expected: &JsValue) -> Option<Result<bool, JsValue>> {
        let written = host_call(&self.0, Method::PutIf, Args::Three(id, row, expected), Need::Optional).await;
        written.map(|r| r.map(|w| w.is_truthy()))
    }
    async fn delete_if(&self, id: &JsValue, expected: &JsValue) -> Option<Result<bool, JsValue>> {
        let removed = host_call(&self.0, Method::DeleteIf, Args::Two(id, expected), Need::Optional).await;
        removed.map(|r| r.map(|d| d.is_truthy()))
    }
}

/// The caller's vault object. Secrets pass through as JS values, never copied into wasm memory.
pub struct JsVault(JsValue);

impl JsVault {
    pub fn new(obj: JsValue) -> Self {
        JsVault(obj)
    }

    /// The object itself (the glue's fast reads call it).
    pub fn object(&self) -> &JsValue {
        &self.0
    }
}

impl SecretVault<JsValues> for JsVault {
    fn set_secret(&self, id: &JsValue, secret: &JsValue) -> impl Future<Output = Result<(), JsValue>> {
        call_void(&self.0, "vault", Method::SetSecret, Args::Two(id, secret))
    }
    fn get_secret(&self, id: &JsValue) -> impl Future<Output = Result<JsValue, JsValue>> {
        call(&self.0, "vault", Method::GetSecret, Args::One(id), value)
    }
    fn delete_secret(&self, id: &JsValue) -> impl Future<Output = Result<(), JsValue>> {
        call_void(&self.0, "vault", Method::DeleteSecret, Args::One(id))
    }
    fn list_ids(&self, prefix: &JsValue) -> impl Future<Output = Option<Result<JsValue, JsValue>>> {
        host_call(&self.0, Method::ListIds, Args::One(prefix), Need::Optional)
    }
}

/// The host's global `Date`.
pub struct JsClock;

impl Clock<JsValues> for JsClock {
    fn now_iso(&self) -> Result<JsValue, JsValue> {
        glue::guarded(glue::now_iso_guarded())
    }
    fn now_ms(&self) -> Result<f64, JsValue> {
        glue::now_ms()
    }
    fn date_ms(&self, v: &JsValue) -> Result<f64, JsValue> {
        glue::date_ms(v)
    }
    /// One crossing; the times come back through `TIMES`.
    fn expiry_and_now(&self, _: &JsValues, row: &JsValue) -> Result<(f64, f64), JsValue> {
        if !glue::expiry_and_now(row) {
            return Err(glue::take_thrown());
        }
        // SAFETY: the glue wrote both just now; nothing else runs in between.
        let [at, now] = unsafe { *TIMES.0.get() };
        Ok((at, now))
    }
    fn version_token(&self) -> String {
        glue::version_token()
    }
}

/// The caller's `ServerCredentialStore` object (`this` of the public method).
pub struct JsFacade(pub JsValue);

impl Facade<JsValues> for JsFacade {
    fn delete(&self, key: &JsValue) -> impl Future<Output = Option<Result<JsValue, JsValue>>> {
        host_call(&self.0, Method::Delete, Args::One(key), Need::Optional)
    }
    fn list_metadata(&self) -> impl Future<Output = Option<Result<JsValue, JsValue>>> {
        host_call(&self.0, Method::ListMetadata, Args::None, Need::Optional)
    }
}
