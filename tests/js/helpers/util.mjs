import { assert } from "./harness.mjs";
import { ServerCredentialStore } from "./impl.mjs";
import { createHost } from "./fakes.mjs";

export * from "./rows.mjs";
import { USER, PROJECT, row, id } from "./rows.mjs";

/** A fresh fake host plus a store on it. */
export function setup({ rows = [], secrets = [], mode, user = USER, project = PROJECT } = {}) {
  const host = createHost({ rows, secrets, mode });
  const store = new ServerCredentialStore({
    vault: host.vault,
    metadata: host.metadata,
    userId: user,
    projectId: project,
  });
  return { host, store };
}

/** Seeds a committed entry: row + secret. */
export function seeded(entries, opts = {}) {
  const rows = [];
  const secrets = [];
  for (const [key, value, fields] of entries) {
    rows.push([id(key), row(key, fields)]);
    secrets.push([id(key), value]);
  }
  return setup({ ...opts, rows: [...rows, ...(opts.rows ?? [])], secrets: [...secrets, ...(opts.secrets ?? [])] });
}

const NOT_REJECTED = Symbol("not rejected");

/** Settles p; returns its rejection reason (any value), fails if it resolved. */
export async function rejection(p, what = "promise") {
  let reason = NOT_REJECTED;
  let value;
  try {
    value = await p;
  } catch (e) {
    reason = e;
  }
  if (reason === NOT_REJECTED) {
    assert.fail(`expected ${what} to reject, but it resolved with ${safeString(value)}`);
  }
  return reason;
}

/** Returns what a synchronous call threw (fails if it did not throw). */
export function thrown(fn) {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail("expected a synchronous throw");
}

export function safeString(v) {
  try {
    if (typeof v === "string") return JSON.stringify(v);
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** Asserts err is a TypeError exactly (class and message). */
export function assertTypeError(err, message) {
  assert.ok(err instanceof TypeError, `expected a TypeError, got ${safeString(err)}`);
  assert.strictEqual(Object.getPrototypeOf(err), TypeError.prototype, "class is TypeError itself");
  if (message !== undefined) assert.strictEqual(err.message, message);
}

/** Asserts err is a plain Error with this exact message and the identical cause. */
export function assertWrapped(err, message, cause) {
  assert.ok(err instanceof Error, `expected an Error, got ${safeString(err)}`);
  assert.strictEqual(Object.getPrototypeOf(err), Error.prototype, "class is Error itself");
  assert.strictEqual(err.name, "Error");
  assert.strictEqual(err.message, message);
  assert.ok(Object.hasOwn(err, "cause"), "cause is an own property (new Error(msg, { cause }))");
  assert.strictEqual(err.cause, cause, "cause is the identical injected value");
}

/** Asserts the store method returned a native promise (never a sync throw). */
export function assertPromise(p) {
  assert.ok(p instanceof Promise, "store methods return native promises");
  return p;
}

export function isIso(s) {
  if (typeof s !== "string") return false;
  const d = new Date(s);
  return !Number.isNaN(d.getTime()) && d.toISOString() === s;
}

/** s is a Date#toISOString string for an instant within [fromMs, toMs]. */
export function assertIsoWithin(s, fromMs, toMs) {
  assert.ok(isIso(s), `expected an ISO-8601 string, got ${safeString(s)}`);
  const t = new Date(s).getTime();
  // toISOString has millisecond precision, as has Date.now.
  assert.ok(t >= fromMs && t <= toMs, `${s} not within [${new Date(fromMs).toISOString()}, ${new Date(toMs).toISOString()}]`);
}

export function assertKeyOrder(obj, keys) {
  assert.deepStrictEqual(Object.keys(obj), keys);
}

// ---------------------------------------------------------------- fake Date

const RealDate = globalThis.Date;
export { RealDate };

/**
 * Replaces globalThis.Date by a subclass whose `Date.now()` and no-argument
 * constructor return `instant` (ms), for the duration of fn. Restored after.
 */
export async function withFakeDate(instant, fn) {
  const fixed = typeof instant === "string" ? RealDate.parse(instant) : instant;
  class FakeDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(fixed);
      else super(...args);
    }
    static now() {
      return fixed;
    }
  }
  globalThis.Date = FakeDate;
  try {
    return await fn(new RealDate(fixed).toISOString());
  } finally {
    globalThis.Date = RealDate;
  }
}

/** Collects console output during fn (and still restores console). */
export async function captureConsole(fn) {
  const lines = [];
  const names = ["log", "info", "warn", "error", "debug", "trace"];
  const saved = names.map((n) => console[n]);
  names.forEach((n) => {
    console[n] = (...args) => {
      lines.push(args);
    };
  });
  try {
    await fn();
  } finally {
    names.forEach((n, i) => {
      console[n] = saved[i];
    });
  }
  return lines;
}

/** A store method must settle; if it rejects, returns the reason. */
export async function settle(p) {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Calls every store method on a healthy key of the same instance. */
export async function assertInstanceStillWorks(store, host, key = "healthy") {
  await store.put(key, "alive", { label: "L" });
  assert.strictEqual(await store.get(key), "alive");
  assert.strictEqual(await store.has(key), true);
  const info = (await store.listMetadata()).find((m) => m.key === key);
  assert.ok(info, "listMetadata still lists the healthy key");
  assert.strictEqual(info.label, "L");
  assert.ok((await store.keys()).includes(key));
  assert.strictEqual(await store.delete(key), true);
  assert.strictEqual(await store.get(key), undefined);
  if (host) assert.strictEqual(host.secrets.has(id(key)), false);
}
