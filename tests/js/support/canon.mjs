// Canonical, comparable forms of JS values and errors, for differential and
// security tests. assert.deepStrictEqual ignores property order; these forms
// keep it (rows must match key for key, in order, own `undefined`s included).

/** A JSON-safe tree describing v: type, value, class, own keys in order. */
export function canon(v, seen = new Set()) {
  if (v === undefined) return ["undefined"];
  if (v === null) return ["null"];
  switch (typeof v) {
    case "string":
      return ["string", v];
    case "number":
      return ["number", Object.is(v, -0) ? "-0" : String(v)];
    case "boolean":
      return ["boolean", v];
    case "bigint":
      return ["bigint", String(v)];
    case "symbol":
      return ["symbol", String(v)];
    case "function":
      return ["function", v.name];
  }
  if (seen.has(v)) return ["cycle"];
  seen.add(v);
  try {
    if (Array.isArray(v)) return ["array", v.map((x) => canon(x, seen))];
    const proto = Object.getPrototypeOf(v);
    const cls = proto === null ? "null" : proto === Object.prototype ? "Object" : (proto.constructor?.name ?? "?");
    if (v instanceof Date) return ["Date", cls, String(v.getTime())];
    const props = [];
    for (const k of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, k);
      props.push([String(k), "value" in d ? canon(d.value, seen) : ["accessor"]]);
    }
    return ["object", cls, props];
  } finally {
    seen.delete(v);
  }
}

import { engineMessage } from "../helpers/engine.mjs";

/**
 * The comparable form of a thrown/rejected value. `known` lists values the
 * test itself injected: one of them is named by its index (identity), so a
 * copy with the same message does not pass for the original.
 */
export function canonError(e, known = [], depth = 0) {
  const i = known.indexOf(e);
  if (i >= 0) return ["injected", i];
  if (depth > 8) return ["too-deep"];
  if (e instanceof Error) {
    const proto = Object.getPrototypeOf(e);
    return [
      "error",
      proto?.constructor?.name ?? "?",
      e.name,
      engineMessage(e.message),
      Object.hasOwn(e, "cause") ? canonError(e.cause, known, depth + 1) : ["no-cause"],
      e instanceof AggregateError ? Array.from(e.errors, (x) => canonError(x, known, depth + 1)) : null,
    ];
  }
  return ["thrown", canon(e)];
}

/** Every string reachable from an error: message, name, stack, String(e), cause, errors, own props. */
export function errorStrings(e, out = [], seen = new Set()) {
  if (e === null || e === undefined) return out;
  if (typeof e !== "object" && typeof e !== "function") {
    try {
      out.push(String(e));
    } catch {}
    return out;
  }
  if (seen.has(e)) return out;
  seen.add(e);
  for (const get of [() => e.message, () => e.name, () => e.stack, () => String(e)]) {
    try {
      const s = get();
      if (typeof s === "string") out.push(s);
    } catch {}
  }
  const nested = [];
  try {
    if ("cause" in e) nested.push(e.cause);
  } catch {}
  try {
    if (Array.isArray(e.errors)) nested.push(...e.errors);
  } catch {}
  try {
    for (const k of Reflect.ownKeys(e)) {
      const d = Object.getOwnPropertyDescriptor(e, k);
      if (d && "value" in d) nested.push(d.value);
    }
  } catch {}
  for (const x of nested) errorStrings(x, out, seen);
  return out;
}

/** Small, fast, seedable PRNG (mulberry32): returns floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  next.chance = (p) => next() < p;
  return next;
}

/** First index where two arrays of canonical forms differ (JSON compare), or -1. */
export function firstDiff(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return i;
  }
  return -1;
}
