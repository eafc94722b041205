// Host-side helpers the Rust binding imports (src/binding). Each does one
// JavaScript operation Rust cannot express with the exact JS semantics the
// TypeScript store has: optional property reads that may run getters, object
// spread, `new Date(x)`, and the error classes. No protocol decision here.

// Property names, indexed like Rust's `Field::ALL`, handed over once by Rust
// so that a field read crosses the boundary as a small integer.
let names = [];
export function setFieldNames(list) {
  names = list;
}

// A value no host can produce: what a guarded read returns when it threw
// (the thrown value waits in takeThrown()). Cheaper than a `catch` import,
// which allocates a closure and an arguments object per call.
const THREW = Symbol("threw");
export function threw(v) {
  return v === THREW;
}

// `v?.[name]` — a getter may throw.
export function field(v, i) {
  try {
    return v?.[names[i]];
  } catch (e) {
    thrown = e;
    return THREW;
  }
}

// Defines a property on an object the store itself built (never throws).
export function define(o, i, value) {
  o[names[i]] = value;
}

// `{ ...v }` — runs v's getters (imported with `catch`).
export function spread(v) {
  return { ...v };
}

// Written as the TS store writes it, so a host TypeError reads the same.
export function expiresAtIso(options) {
  try {
    return options.expiresAt.toISOString();
  } catch (e) {
    thrown = e;
    return THREW;
  }
}

// The host's Date, looked up at each call so fake timers apply.
export function nowIso() {
  try {
    return new Date().toISOString();
  } catch (e) {
    thrown = e;
    return THREW;
  }
}
export function nowMs() {
  return +new Date();
}
export function dateMs(v) {
  return +new Date(v);
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

// `s + p`, `s.startsWith(p)`: ids and scope checks stay JS strings, so
// they never cross into wasm memory as text.
export function concat(a, b) {
  return a + b;
}
export function startsWith(s, p) {
  return typeof s === "string" && s.startsWith(p);
}

// ---- The executor's side of host calls (src/binding/task.rs) ----
// Rust hands over one persistent callback, wake(slot, how, value); a host
// call reports its settlement through it (how: 0 fulfilled, 1 rejected)
// instead of a fresh closure per await, and a Rust waker asks for a poll (2).
let wake;
let thrown;
export function setWake(f) {
  wake = f;
}

// `await target[name](...args)` as JavaScript does it: the method is looked
// up now and called with `this` = target; its result is awaited like `await`
// (promise, thenable or plain value). Returns 0 when awaiting, 1 when the
// method is not a function, 2 when the lookup or the call threw (the thrown
// value waits in takeThrown()).
export function callThen(target, i, argc, a, b, slot) {
  try {
    const f = target?.[names[i]];
    if (typeof f !== "function") return 1;
    const r = argc === 0 ? f.call(target) : argc === 1 ? f.call(target, a) : f.call(target, a, b);
    Promise.resolve(r).then(
      (v) => wake(slot, 0, v),
      (e) => wake(slot, 1, e),
    );
    return 0;
  } catch (e) {
    thrown = e;
    return 2;
  }
}
export function queuePoll(slot) {
  queueMicrotask(() => wake(slot, 2, undefined));
}
export function takeThrown() {
  const e = thrown;
  thrown = undefined;
  return e;
}

// The promise of a store operation still running, settled by Rust.
const resolvers = [];
export function opPromise(slot) {
  return new Promise((resolve, reject) => {
    resolvers[slot] = [resolve, reject];
  });
}
export function settleOp(slot, ok, value) {
  const [resolve, reject] = resolvers[slot];
  resolvers[slot] = undefined;
  (ok ? resolve : reject)(value);
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

// Per entry of a listing: [bits, expiresMs]; bits 1 key in scope, 2 row
// present, 4 userId matches, 8 projectId matches, 16 pending, 32 expiresAt
// !== undefined (then expiresMs = +new Date(row.expiresAt)).
export function scanEntries(all, prefix, userId, projectId) {
  const n = all.length;
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const entry = all[i];
    const key = entry?.key;
    let bits = 0;
    let ms = NaN;
    if (typeof key === "string" && key.startsWith(prefix)) {
      bits = 1;
      const row = entry.value;
      if (row) {
        bits |= 2;
        if (row.userId === userId) {
          bits |= 4;
          if (row.projectId === projectId) {
            bits |= 8;
            if (row.pending === true) bits |= 16;
            else if (row.expiresAt !== undefined) {
              bits |= 32;
              ms = +new Date(row.expiresAt);
            }
          }
        }
      }
    }
    out[2 * i] = bits;
    out[2 * i + 1] = ms;
  }
  return out;
}

// indices.map(i => pick of all[i].value's fields), fields by name index.
export function pickRows(all, indices, fields) {
  const out = new Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const row = all[indices[j]].value;
    const o = {};
    for (let f = 0; f < fields.length; f++) o[names[fields[f]]] = row[names[fields[f]]];
    out[j] = o;
  }
  return out;
}

// list.map(x => x[name])
export function pluck(list, i) {
  return list.map((x) => x[names[i]]);
}

// all[i].key, all[i].value
export function entryAt(all, i) {
  const entry = all[i];
  return [entry?.key, entry?.value];
}
