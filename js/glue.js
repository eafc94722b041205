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

// `v?.[name]` — a getter may throw (imported with `catch`).
export function field(v, i) {
  return v?.[names[i]];
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
  return options.expiresAt.toISOString();
}

// The host's Date, looked up at each call so fake timers apply.
export function nowIso() {
  return new Date().toISOString();
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
