// Host-side helpers the Rust binding imports (src/binding). Each does one
// JavaScript operation Rust cannot express with the exact JS semantics the
// TypeScript store has: optional property reads that may run getters, object
// spread, `new Date(x)`, and the error classes. No protocol decision here:
// `drive` (below) makes the host calls Rust names, in the order it names
// them, and Rust decides what each answer means.

// Property names, indexed like Rust's `Field::ALL` (then its host methods),
// handed over once by Rust as one space-separated string so that a field
// read crosses the boundary as a small integer; and the
// status word in wasm memory where a guarded helper reports that it threw.
let names = [];
let memory;
let statusIndex = 0;
let statusView = new Int32Array(0);
let keyTextAt = 0;
let bytes = new Uint8Array(0);
let timesIndex = 0;
let times = new Float64Array(0);
export function init(list, exports, threwAddress, keyTextAddress, timesAddress) {
  names = list.split(" ");
  memory = exports.memory;
  table = exports.__wbindgen_externrefs;
  statusIndex = threwAddress >>> 2;
  keyTextAt = keyTextAddress;
  timesIndex = timesAddress >>> 3;
}

// `view`, or a new one of the same type if memory.grow detached it (a
// detached view has length 0).
function live(view) {
  return view.length === 0 ? new view.constructor(memory.buffer) : view;
}

// A guarded helper caught `e`: keep it for takeThrown() and raise the status
// word, which Rust reads as plain memory (no extra crossing per read).
function raise(e) {
  thrown = e;
  statusView = live(statusView);
  statusView[statusIndex] = 1;
}

// `v?.[name]` — a getter may throw.
export function field(v, i) {
  try {
    return v?.[names[i]];
  } catch (e) {
    raise(e);
  }
}

// Object layouts (lists of property names), registered once each by Rust,
// and for the row layouts the store writes most (SPEC §3's row, pending or
// as an orphan marker) an object literal with those names in that order:
// the same object as the fill below makes, built faster (and, as the TS
// store's literals, defining the properties rather than assigning them).
const layouts = [];
const literals = [];
const ROW = "userId projectId key label provider createdAt updatedAt expiresAt";
const rowLiterals = {
  [ROW]: (a, b, c, d, e, f, g, h) => ({ userId: a, projectId: b, key: c, label: d, provider: e, createdAt: f, updatedAt: g, expiresAt: h }),
  [`${ROW} pending`]: (a, b, c, d, e, f, g, h, i) => ({
    userId: a,
    projectId: b,
    key: c,
    label: d,
    provider: e,
    createdAt: f,
    updatedAt: g,
    expiresAt: h,
    pending: i,
  }),
  [`${ROW} pending orphanedAt orphanReason`]: (a, b, c, d, e, f, g, h, i, j, k) => ({
    userId: a,
    projectId: b,
    key: c,
    label: d,
    provider: e,
    createdAt: f,
    updatedAt: g,
    expiresAt: h,
    pending: i,
    orphanedAt: j,
    orphanReason: k,
  }),
};
export function addLayout(fields) {
  const list = Array.from(fields, (i) => names[i]);
  layouts.push(list);
  const shape = list.join(" ");
  literals.push(Object.hasOwn(rowLiterals, shape) ? rowLiterals[shape] : undefined);
  return layouts.length - 1;
}

// Sets up to 13 properties of layout `id` on `o`, in the layout's order:
// a whole row in one crossing (Rust calls it again for any further ones).
export function fill(o, id, a, b, c, d, e, f, g, h, i, j, k, l, m) {
  if (o === undefined) return o; // the spread before it threw
  const n = layouts[id];
  const len = n.length;
  if (len > 0) o[n[0]] = a;
  if (len > 1) o[n[1]] = b;
  if (len > 2) o[n[2]] = c;
  if (len > 3) o[n[3]] = d;
  if (len > 4) o[n[4]] = e;
  if (len > 5) o[n[5]] = f;
  if (len > 6) o[n[6]] = g;
  if (len > 7) o[n[7]] = h;
  if (len > 8) o[n[8]] = i;
  if (len > 9) o[n[9]] = j;
  if (len > 10) o[n[10]] = k;
  if (len > 11) o[n[11]] = l;
  if (len > 12) o[n[12]] = m;
  return o;
}
export function object(id, a, b, c, d, e, f, g, h, i, j, k, l, m) {
  const literal = literals[id];
  if (literal !== undefined) return literal(a, b, c, d, e, f, g, h, i, j, k);
  return fill({}, id, a, b, c, d, e, f, g, h, i, j, k, l, m);
}
// `{ ...v, ...props }` — runs v's getters.
export function spreadWith(v, id, a, b, c, d, e, f, g, h, i, j, k, l, m) {
  let o;
  try {
    o = { ...v };
  } catch (err) {
    raise(err);
    return;
  }
  return fill(o, id, a, b, c, d, e, f, g, h, i, j, k, l, m);
}

// Written as the TS store writes it, so a host TypeError reads the same.
export function expiresAtIso(options) {
  try {
    return options.expiresAt.toISOString();
  } catch (e) {
    raise(e);
  }
}

// `new Date().toISOString()`, with the host's Date looked up at each call so
// fake timers apply. Formatting costs ~0.45 µs, so the last result is kept:
// the native toISOString is a pure function of the time value. A Date whose
// toISOString is not the native one is asked every time, as the TS store does.
const nativeToIso = Date.prototype.toISOString;
const nativeTime = Date.prototype.getTime;
let lastMs = NaN;
let lastIso;
export function nowIso() {
  try {
    const d = new Date();
    if (d.toISOString !== nativeToIso) return d.toISOString();
    const ms = nativeTime.call(d);
    if (ms !== lastMs) {
      lastIso = nativeToIso.call(d); // NaN (invalid) never matches: RangeError as in TS
      lastMs = ms;
    }
    return lastIso;
  } catch (e) {
    raise(e);
  }
}
export function nowMs() {
  return +new Date();
}
export function dateMs(v) {
  return +new Date(v);
}
// `+new Date(row.expiresAt)` then `+new Date()`, written where Rust reads
// them; false when a getter or Date threw (the value waits in takeThrown()).
export function expiryAndNow(row) {
  try {
    const at = +new Date(row.expiresAt);
    const now = +new Date();
    times = live(times);
    times[timesIndex] = at;
    times[timesIndex + 1] = now;
    return true;
  } catch (e) {
    thrown = e;
    return false;
  }
}

export function typeError(message) {
  return new TypeError(message);
}
export function errorWithCause(message, cause) {
  return new Error(message, { cause });
}
export function aggregateError(errors, message) {
  return new AggregateError(errors, message);
}
// Strict mode: a write that kept losing the race for the key's row.
export function conflictError(message) {
  const e = new Error(message);
  e.code = "CREDENTIAL_CONFLICT";
  return e;
}

// `before + key + after`: a message naming a key keeps the key's own text.
export function messageAround(before, key, after) {
  return before + key + after;
}

// SPEC §2's key test and id, with RegExp#test's ToString: writes the text of
// `key` where Rust reads it (length, then ASCII bytes; length 0 for text
// that cannot be a key: empty, over 128 units or not ASCII; the grammar
// itself is Rust's). For a string, returns the id `p + key` (the common
// path: no allocation in wasm, no TextEncoder); for any other value, marks
// it as no string (the byte after the text area) and Rust builds the id
// with `template` once the text passes. A ToString that throws (a Symbol)
// raises its error.
export function keyAndId(p, key) {
  let text = key;
  if (typeof key !== "string") {
    try {
      text = `${key}`;
    } catch (e) {
      raise(e);
      return;
    }
  }
  bytes = live(bytes);
  const n = text.length;
  let len = n <= 128 ? n : 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c > 127) {
      len = 0;
      break;
    }
    bytes[keyTextAt + 1 + i] = c;
  }
  bytes[keyTextAt] = len;
  if (typeof key === "string") {
    bytes[keyTextAt + 129] = 0;
    return p + key;
  }
  bytes[keyTextAt + 129] = 1;
}
// `${a}${b}` — ToString of each; a Symbol throws.
export function template(a, b) {
  try {
    return `${a}${b}`;
  } catch (e) {
    raise(e);
  }
}
// ToString(v), as RegExp#test applies it.
export function toText(v) {
  try {
    return `${v}`;
  } catch (e) {
    raise(e);
  }
}
export function keyOfId(id, p) {
  return id.slice(p.length);
}
// `s.startsWith(p)`, `v[name]`, `[...v]`: JavaScript's own reads, which
// throw on odd values.
export function callStartsWith(s, p) {
  try {
    return s.startsWith(p) ? 1 : 0;
  } catch (e) {
    thrown = e;
    return 2;
  }
}
export function member(v, i) {
  try {
    return v[names[i]];
  } catch (e) {
    raise(e);
  }
}
export function iterate(v) {
  try {
    return [...v];
  } catch (e) {
    raise(e);
  }
}

// ---- Admission: no allocation failure may trap the instance ----
// Every JS value Rust holds takes a slot of the instance's externref table,
// and every operation in flight holds some of its linear memory. Growing
// either can fail at the engine's limits (V8: --wasm-max-table-size, 4 GiB
// of memory); inside wasm that failure is a trap, and a trap mid-operation
// leaves the instance unusable for every store. So a store is made, and an
// operation started, only while both could grow to hold it and every
// operation already admitted, twice over (wasm-bindgen grows its table by
// doubling); what the engine can allocate is probed with a throwaway table
// or memory of that size, once per doubling. A call that cannot be admitted
// is refused with BUSY; the ones admitted finish normally.
let table;
let inflight = 0;
let tableOk = 0;
let memoryOk = 0;
// How many operations may be in flight before the next check: computed by
// a full check, zeroed whenever something else takes room (a store, a
// listing), so the common admission is one comparison.
let budget = 0;
// Generous bounds on what one operation holds between its crossings, not
// counting a listing's entries (see reserve).
const SLOTS_PER_CALL = 32;
const BYTES_PER_CALL = 4096;
const SLOTS_PER_STORE = 16;
const PAGE = 65536;
const MAX_PAGES = 65536;

function canGrowTo(slots, bytes) {
  const needSlots = 2 * (table.length + slots);
  if (needSlots > tableOk) {
    try {
      new WebAssembly.Table({ element: "externref", initial: needSlots });
    } catch {
      return false;
    }
    tableOk = needSlots;
  }
  const needBytes = memory.buffer.byteLength + bytes;
  if (needBytes > memoryOk) {
    const pages = Math.ceil((2 * needBytes) / PAGE);
    if (pages > MAX_PAGES) return false;
    try {
      new WebAssembly.Memory({ initial: pages });
    } catch {
      return false;
    }
    memoryOk = pages * PAGE;
  }
  return true;
}

// Before an operation's first crossing: whether it may start (then it
// counts as in flight until `drive` settles it). A full check makes room
// for the operations in flight and one more, and, when the engine has room
// for it, sets the budget to twice that.
function admit() {
  if (inflight >= budget) {
    const n = inflight + 1;
    if (!canGrowTo(n * SLOTS_PER_CALL, n * BYTES_PER_CALL)) return false;
    budget = canGrowTo(2 * n * SLOTS_PER_CALL, 2 * n * BYTES_PER_CALL) ? 2 * n : n;
  }
  inflight++;
  return true;
}
// Before a store is made: room for what it holds for its lifetime.
function admitStore() {
  budget = 0;
  return canGrowTo((inflight + 1) * SLOTS_PER_CALL + SLOTS_PER_STORE, (inflight + 1) * BYTES_PER_CALL);
}
// Called by Rust before it takes `values` more JS values at once (a
// listing's entries, a row's list of retired versions).
export function reserve(values) {
  budget = 0;
  return canGrowTo(inflight * SLOTS_PER_CALL + values, inflight * BYTES_PER_CALL + 64 * values);
}

const BUSY = "CREDENTIAL_STORE_BUSY";
export function busyError() {
  const e = new Error(
    `ServerCredentialStore: the wasm instance cannot hold another operation now (${inflight} in flight); retry once some have settled`,
  );
  e.code = BUSY;
  return e;
}

// ---- The executor's side of host calls (src/binding/task.rs) ----
let thrown;
export function takeThrown() {
  const e = thrown;
  thrown = undefined;
  return e;
}

// What the host's last method call returned, for `drive` to await, and
// the method's name (for a deadline's message).
let awaited;
let awaitedName;

// A store's deadline for host calls (`timeoutMs`, `signal`): the result
// `drive` awaits, or a rejection once `ms` have passed or `signal` aborts
// (with `signal.reason`). The host call may still take effect after that:
// the operation fails as on any rejection, and its write turn is released.
const TIMEOUT = "CREDENTIAL_STORE_TIMEOUT";
function withDeadline(pending, deadline, name) {
  const { ms, signal } = deadline;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    let timer;
    const onAbort = () => settle(reject, signal.reason);
    function settle(how, v) {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      how(v);
    }
    if (ms !== undefined) {
      timer = setTimeout(() => {
        const e = new Error(`ServerCredentialStore: host call ${name} did not settle within ${ms} ms`);
        e.code = TIMEOUT;
        settle(reject, e);
      }, ms);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    Promise.resolve(pending).then(
      (v) => settle(resolve, v),
      (e) => settle(reject, e),
    );
  });
}

// `target?.[name]`, with one property load site per method name: each site
// then sees one kind of host object (a KV, a vault, the store itself) and
// its inline cache stays fast, where one `target?.[name]` for all would not.
function method(target, name) {
  switch (name) {
    case "get":
      return target?.get;
    case "put":
      return target?.put;
    case "delete":
      return target?.delete;
    case "getAll":
      return target?.getAll;
    case "putIf":
      return target?.putIf;
    case "deleteIf":
      return target?.deleteIf;
    case "setSecret":
      return target?.setSecret;
    case "getSecret":
      return target?.getSecret;
    case "deleteSecret":
      return target?.deleteSecret;
    default:
      return target?.[name];
  }
}

// The TypeScript store's own call expressions, evaluated when a method the
// protocol requires is not a function, so that the error is the engine's
// own TypeError for that expression (V8: "this.metadata.get is not a
// function"; a missing object: "Cannot read properties of undefined (reading
// 'get')"). The looked-up value stands in for the method: it is not read twice.
const requiredCalls = {
  get(id) {
    return this.metadata.get(id);
  },
  put(id, row) {
    return this.metadata.put(id, row);
  },
  delete(id) {
    return this.metadata.delete(id);
  },
  getAll() {
    return this.metadata.getAll();
  },
  setSecret(id, value) {
    return this.vault.setSecret(id, value);
  },
  getSecret(id) {
    return this.vault.getSecret(id);
  },
  deleteSecret(id) {
    return this.vault.deleteSecret(id);
  },
};
function callMissing(target, name, f, a, b) {
  const holder = target === undefined || target === null ? target : { [name]: f };
  requiredCalls[name].call({ metadata: holder, vault: holder }, a, b);
}

// Flags of callHost's `argc`: the method is one the protocol requires (a
// missing one throws the engine's error) rather than an optional one (a
// missing one is reported back, and the store does without it).
const CALL_ARGC = 3;
const CALL_REQUIRED = 4;

// `target[name](...args)` as JavaScript does it: the method is looked up now
// and called with `this` = target; `drive` then awaits the result like
// `await` (promise, thenable or plain value). Returns 0 when there is a
// result to await, 1 when an optional method is not a function, 2 when the
// lookup or the call threw (the thrown value waits in takeThrown()).
export function callHost(target, i, flags, a, b, c) {
  try {
    const name = names[i];
    const f = method(target, name);
    if (typeof f !== "function") {
      if ((flags & CALL_REQUIRED) === 0) return 1;
      callMissing(target, name, f, a, b);
    }
    const argc = flags & CALL_ARGC;
    // Set after the call: a method that starts other operations
    // synchronously has let theirs be taken by then.
    awaited =
      argc === 0 ? f.call(target) : argc === 1 ? f.call(target, a) : argc === 2 ? f.call(target, a, b) : f.call(target, a, b, c);
    awaitedName = name;
    return 0;
  } catch (e) {
    thrown = e;
    return 2;
  }
}

// Strict mode's write turns: a task waiting for one is polled again once
// its waker calls wakeSlot. A wake-up that comes first is kept (a stale one
// costs one extra poll, which finds the task still waiting).
const wakeups = [];
function wakeupOf(slot) {
  let w = wakeups[slot];
  if (w === undefined) {
    let resolve;
    const promise = new Promise((r) => (resolve = r));
    w = wakeups[slot] = { promise, resolve };
  }
  return w;
}
export function wakeSlot(slot) {
  wakeupOf(slot).resolve();
}

// The result or error of an operation that finished.
let result;
export function setResult(v) {
  result = v;
}

// One store operation as one async function, as the TypeScript store's
// methods are. `code` is what Rust returned: `slot << 4 | state` (the states
// of src/binding/task.rs). A Rust task's states: 0/1 the operation finished
// (the result or the error waits in `result`); 2 it awaits what the host
// returned, handed back with `resume`; 3 it waits for its waker; 4/5/6 it
// finished with undefined, false or true; 10 it awaits a call whose value
// it ignores (handed back with `step`). A task's rejection is always handed
// back with `resume`. Each call back in returns the next code.
//
// The fast paths (`read`, `remove`, `write`, and deleteAll after its scan)
// hold no slot: `drive` holds the id and makes the host calls Rust names,
// in Rust's order, and hands back numbers, never the row; a rejection is
// the operation's, as the same value, unless Rust's code says otherwise.
//   11 `metadata.get(id)`, then the row's state and times (`readRow`) to
//      `core.readStep`;
//   12 `vault.getSecret(id)`, whose settlement is get's;
//   13 an expired row: the public object, the key and the id to
//      `core.readExpired` (a task: `this.delete(key)`);
//   14 `core.readOther` / `core.putOther`: a key that is no string (Rust
//      builds the id and leaves it in `result`, then code 11 or 15), or a
//      strict get, delete or put (a task);
//   15 a step named by `code >>> 4`: 1 delete's `metadata.get(id)`, its state
//      (`deleteState`) to `deleteStep`; 2 `metadata.delete(id)` then
//      `vault.deleteSecret(id)`, whose failure goes with the row to
//      `core.deleteOrphaned` (a task: the marker and the error); 3 put's
//      `metadata.get(id)` (`now` from `result`, read before it), then
//      `core.putStep`; 4 an update: `vault.setSecret(id, value)`, then
//      `metadata.put(id, row)` with the row Rust built (from `result`); 5
//      deleteAll's scoped ids (from `result`): per id `metadata.get`,
//      `core.allStep`, `metadata.delete`, `vault.deleteSecret` (a failure's
//      marker and error from `core.deleteAllOrphaned`), each id's error
//      kept for `deleteAllFailed` (the AggregateError).
// `store` (the StoreCore), `kind` (0 get, 1 has, 2 delete, 3 put), `id`,
// `hosts` ([metadata, vault], as the store read them from the options),
// `value` and `options` are the fast paths'; `self` and `key` the public
// object and the key of get and has.
//
// (No typed array is read here: an earlier driver that read its state from
// wasm memory was deoptimized mid-call when memory grew during `resume`,
// and Node 20's V8 aborted: "unreachable code" in the deoptimizer.)
// What the last host call returned, for `drive` to await: against the
// store's deadline when it has one. Taken once.
function takeAwaited(deadline) {
  const pending = deadline === undefined ? awaited : withDeadline(awaited, deadline, awaitedName);
  awaited = undefined;
  return pending;
}

export function makeDriver(core) {
  const { resume, step, deleteStep, deleteAllFailed } = core;
  const GET = names.indexOf("get");
  const DELETE = names.indexOf("delete");
  const GET_SECRET = names.indexOf("getSecret");
  const DELETE_SECRET = names.indexOf("deleteSecret");
  const PUT = names.indexOf("put");
  const SET_SECRET = names.indexOf("setSecret");
  // `inflight` counts the operation from its admission to its end.
  async function drive(code, deadline, self, key, id, store, kind, hosts, value, options) {
    let row; // the fast delete's row, for an orphan marker
    try {
      for (;;) {
        const slot = code >>> 4;
        switch (code & 15) {
          case 11: {
            if (callHost(hosts[0], GET, CALL_REQUIRED | 1, id) !== 0) throw takeThrown();
            const pending = takeAwaited(deadline);
            const found = await pending;
            code = store.readStep(kind, readRow(found), rowAt, rowNow);
            break;
          }
          case 12: {
            if (callHost(hosts[1], GET_SECRET, CALL_REQUIRED | 1, id) !== 0) throw takeThrown();
            const pending = takeAwaited(deadline);
            return await pending;
          }
          case 13:
            code = store.readExpired(kind, self, key, id);
            break;
          case 14: {
            if (kind === 3) {
              code = store.putOther(key, value, options, id);
              break;
            }
            code = store.readOther(kind, key, id);
            const next = code & 15;
            if (next === 11 || next === 15) {
              // Rust built the id (a key that is no string).
              id = result;
              result = undefined;
            }
            break;
          }
          case 15: {
            if (slot === 3) {
              // The fast put: `now`, then the existing row.
              const now = result;
              result = undefined;
              if (callHost(hosts[0], GET, CALL_REQUIRED | 1, id) !== 0) throw takeThrown();
              const pending = takeAwaited(deadline);
              const existing = await pending;
              code = store.putStep(key, value, options, now, existing, id);
              break;
            }
            if (slot === 4) {
              // An update: the value, then the row.
              const next = result;
              result = undefined;
              if (callHost(hosts[1], SET_SECRET, CALL_REQUIRED | 2, id, value) !== 0) throw takeThrown();
              let pending = takeAwaited(deadline);
              await pending;
              if (callHost(hosts[0], PUT, CALL_REQUIRED | 2, id, next) !== 0) throw takeThrown();
              pending = takeAwaited(deadline);
              await pending;
              return undefined;
            }
            if (slot === 5) {
              // deleteAll: each scoped id as the TS store goes through them.
              const ids = result;
              result = undefined;
              const errors = [];
              for (let n = 0; n < ids.length; n++) {
                const each = ids[n];
                try {
                  if (callHost(hosts[0], GET, CALL_REQUIRED | 1, each) !== 0) throw takeThrown();
                  let pending = takeAwaited(deadline);
                  const found = await pending;
                  if (store.allStep(found === undefined) === 0) continue;
                  if (callHost(hosts[0], DELETE, CALL_REQUIRED | 1, each) !== 0) throw takeThrown();
                  pending = takeAwaited(deadline);
                  await pending;
                  let failed;
                  if (callHost(hosts[1], DELETE_SECRET, CALL_REQUIRED | 1, each) !== 0) {
                    failed = takeThrown();
                  } else {
                    pending = takeAwaited(deadline);
                    try {
                      await pending;
                      continue;
                    } catch (e) {
                      failed = e;
                    }
                  }
                  // The marker and the error: a task of its own, counted as one.
                  inflight++;
                  await drive(store.deleteAllOrphaned(each, found, failed), deadline);
                } catch (e) {
                  errors.push(e);
                }
              }
              if (errors.length === 0) return undefined;
              code = deleteAllFailed(errors);
              break;
            }
            if (slot === 1) {
              if (callHost(hosts[0], GET, CALL_REQUIRED | 1, id) !== 0) throw takeThrown();
              const pending = takeAwaited(deadline);
              row = await pending;
              code = deleteStep(deleteState(row));
              break;
            }
            if (callHost(hosts[0], DELETE, CALL_REQUIRED | 1, id) !== 0) throw takeThrown();
            let pending = takeAwaited(deadline);
            await pending;
            let failed;
            if (callHost(hosts[1], DELETE_SECRET, CALL_REQUIRED | 1, id) !== 0) {
              failed = takeThrown();
            } else {
              pending = takeAwaited(deadline);
              try {
                await pending;
                return true;
              } catch (e) {
                failed = e;
              }
            }
            code = store.deleteOrphaned(id, row, failed);
            break;
          }
          case 0: {
            const v = result;
            result = undefined;
            return v;
          }
          case 1: {
            const e = result;
            result = undefined;
            throw e;
          }
          case 4:
            return undefined;
          case 5:
            return false;
          case 6:
            return true;
          case 3: {
            await wakeupOf(slot).promise;
            wakeups[slot] = undefined;
            code = resume(slot, 2, undefined);
            break;
          }
          default: {
            // 2, 10: a task's host call to await.
            const pending = takeAwaited(deadline);
            let v;
            try {
              v = await pending;
            } catch (e) {
              code = resume(slot, 1, e);
              break;
            }
            code = (code & 15) === 2 ? resume(slot, 0, v) : step(slot);
            break;
          }
        }
      }
    } finally {
      inflight--;
    }
  }
  // get (kind 0) or has (kind 1) of `key` on `store` (a StoreCore): the
  // key's text and id first (SPEC §2's ToString, once), then Rust's test.
  function read(store, kind, key, self, prefix, hosts, deadline) {
    const id = keyAndId(prefix, key);
    const code = id === undefined ? 14 : store.readKey(kind);
    return drive(code, deadline, self, key, id, store, kind, hosts);
  }
  // delete(key) on `store`, the same way (kind 2).
  function remove(store, key, prefix, hosts, deadline) {
    const id = keyAndId(prefix, key);
    const code = id === undefined ? 14 : store.deleteKey();
    return drive(code, deadline, undefined, key, id, store, 2, hosts);
  }
  // put(key, value, options) on `store`, the same way (kind 3).
  function write(store, key, value, options, prefix, hosts, deadline) {
    const id = keyAndId(prefix, key);
    const code = id === undefined ? 14 : store.putKey();
    return drive(code, deadline, undefined, key, id, store, 3, hosts, value, options);
  }
  return { drive, read, remove, write, admit, admitStore, busyError };
}

// get/has's reads of the row `metadata.get` returned, as the TS store
// makes them: `!row`, `row.pending === true`, `row.expiresAt !==
// undefined`, then `+new Date(row.expiresAt)` and `+new Date()` (left in
// `rowAt`, `rowNow`). 0 missing, 1 pending, 2 committed, 3 committed with
// an expiry; 4: a getter or Date threw, the value waits in takeThrown().
let rowAt = 0;
let rowNow = 0;
function readRow(row) {
  try {
    if (!row) return 0;
    if (row.pending === true) return 1;
    if (row.expiresAt === undefined) return 2;
    rowAt = +new Date(row.expiresAt);
    rowNow = +new Date();
    return 3;
  } catch (e) {
    thrown = e;
    return 4;
  }
}

// Strict mode: a version token for a fresh vault id, unique across
// processes: time plus 64 random bits, in [a-z0-9-].
export function versionToken() {
  const r = crypto.getRandomValues(new Uint32Array(2));
  return `${Date.now().toString(36)}-${r[0].toString(36)}${r[1].toString(36)}`;
}

// A small number naming a metadata object, so that stores over the same
// object share write turns (held weakly: the object's lifetime is the caller's).
const slots = new WeakMap();
let nextSlot = 1;
export function metadataSlot(metadata) {
  if ((typeof metadata !== "object" && typeof metadata !== "function") || metadata === null) {
    return 0; // not an object: nothing to share
  }
  let slot = slots.get(metadata);
  if (slot === undefined) {
    slot = nextSlot++;
    slots.set(metadata, slot);
  }
  return slot;
}

// ---- Batched reads (see the defaults in src/core/host.rs) ----
// Each does, in one boundary crossing, the reads the Rust default would do
// one by one, in the same order, stopping at the same point.

// put's step 3 reads (Values::carried_fields in src/core/host.rs does them
// one by one, in this order): `options?.label ?? existing?.label`, the same
// for provider, `existing?.createdAt`, `options?.expiresAt ?
// options.expiresAt.toISOString() : existing?.expiresAt`. The values wait in
// `carriedValues` for carried(i); returns 0, or 1 when createdAt is
// nullish (not kept), or 2 when a getter or toISOString threw.
const carriedValues = [undefined, undefined, undefined, undefined];
const isNullish = (v) => v === undefined || v === null;
export function carriedFields(options, existing) {
  try {
    let label = options?.label;
    if (isNullish(label)) label = existing?.label;
    let provider = options?.provider;
    if (isNullish(provider)) provider = existing?.provider;
    const createdAt = existing?.createdAt;
    const expiresAt = options?.expiresAt ? options.expiresAt.toISOString() : existing?.expiresAt;
    carriedValues[0] = label;
    carriedValues[1] = provider;
    carriedValues[3] = expiresAt;
    if (isNullish(createdAt)) return 1;
    carriedValues[2] = createdAt;
    return 0;
  } catch (e) {
    thrown = e;
    return 2;
  }
}
// Hands one carried value over, and forgets it.
export function carried(i) {
  const v = carriedValues[i];
  carriedValues[i] = undefined;
  return v;
}

// 0 missing (!row), 1 pending (row.pending === true), 2 committed,
// 3 committed with row.expiresAt !== undefined (read only if asked);
// 4: a getter threw, the value waits in takeThrown().
export function rowState(row, readExpiry) {
  try {
    if (!row) return 0;
    if (row.pending === true) return 1;
    return readExpiry && row.expiresAt !== undefined ? 3 : 2;
  } catch (e) {
    thrown = e;
    return 4;
  }
}

// delete's reads (Values::delete_state): 0 `row === undefined`, 1
// `row.pending === true` (a null row throws the host's TypeError), 2
// committed; 4: it threw, the value waits in takeThrown().
export function deleteState(row) {
  try {
    if (row === undefined) return 0;
    return row.pending === true ? 1 : 2;
  } catch (e) {
    thrown = e;
    return 4;
  }
}

// listMetadata's loop over a truthy listing answer (Values::list_infos):
// SPEC §4's code as written there, so that what an odd answer throws (a
// non-iterable, a null entry, a non-string key, a missing row) is the
// host's own error for the same expression.
export function listInfos(all, prefix, userId, projectId) {
  try {
    const out = [];
    for (const entry of all) {
      if (!entry.key.startsWith(prefix)) continue;
      const row = entry.value;
      if (row.userId !== userId || row.projectId !== projectId) continue;
      if (row.pending === true) continue;
      if (row.expiresAt !== undefined && new Date(row.expiresAt) <= new Date()) continue;
      out.push({
        key: row.key,
        label: row.label,
        provider: row.provider,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        expiresAt: row.expiresAt,
      });
    }
    return out;
  } catch (e) {
    raise(e);
  }
}

// deleteAll's scan (Values::scan_scope): the same loop up to its scope
// check; `[id, …]`, or `[id, row, …]` when `rows`.
export function scanScope(all, prefix, userId, projectId, rows) {
  try {
    const ids = [];
    for (const entry of all) {
      if (!entry.key.startsWith(prefix)) continue;
      const row = entry.value;
      if (row.userId !== userId || row.projectId !== projectId) continue;
      if (rows) ids.push(entry.key, row);
      else ids.push(entry.key);
    }
    return ids;
  } catch (e) {
    raise(e);
  }
}

// list[i] of an array made here (iterate, scanScope).
export function at(list, i) {
  return list[i];
}

// list.map(x => x[name])
export function pluck(list, i) {
  return list.map((x) => x[names[i]]);
}
