// The bad-input catalogue: classes of odd input, each with the outcome the
// TypeScript ServerCredentialStore has (SPEC §1–§4; the plain-JS oracle in
// tests/oracle is the reference where SPEC is silent).
//
// Data first: `group`, `cls`, `input`, `expected` are plain strings, printed by
// scripts/bad-input-table.mjs for the README. `run(ctx)` asserts the outcome
// on ctx.store / ctx.host (a recording Map host, tests/js/helpers/fakes.mjs);
// tests/js/bad-input.test.mjs runs every class and then does a full round trip
// on the SAME store instance (no wasm trap may poison it).
//
// This module imports nothing that loads the package, so the table prints
// without a build.
import assert from "node:assert/strict";

import { USER, PROJECT, PREFIX, PAST, FUTURE, BASE_KEYS, row } from "./helpers/rows.mjs";
import { createHost } from "./helpers/fakes.mjs";
import { engineMessage, thrownBy } from "./helpers/engine.mjs";
import { ServerCredentialStore as Oracle } from "../oracle/server-credential-store.mjs";

export { USER, PROJECT, PREFIX };
export const id = (key) => PREFIX + key;
const K = "k";
const ID = id(K);
const INVALID_KEY = "ServerCredentialStore: invalid key";


async function outcome(p) {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

async function rejects(p, check) {
  const r = await outcome(p);
  assert.ok(!r.ok, `expected a rejection, got ${String(r.value)}`);
  check(r.error);
  return r.error;
}

const isType = (cls, message) => (e) => {
  assert.ok(e instanceof cls, `expected ${cls.name}, got ${safe(e)}`);
  assert.strictEqual(Object.getPrototypeOf(e), cls.prototype);
  if (typeof message === "string") assert.strictEqual(e.message, message);
  else if (message) assert.match(e.message, message);
};
const isSame = (x) => (e) => assert.ok(Object.is(e, x), `expected the identical value, got ${safe(e)}`);

/** The same class and the same engine message as `expected`. */
const isHostError = (expected) => (e) => {
  assert.strictEqual(Object.getPrototypeOf(e), Object.getPrototypeOf(expected), `expected ${expected}, got ${safe(e)}`);
  assert.strictEqual(engineMessage(e.message), engineMessage(expected.message));
};

function safe(v) {
  try {
    return typeof v === "string" ? JSON.stringify(v.length > 80 ? v.slice(0, 80) + "…" : v) : String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** What the TS store's own expression throws for these options (engine's exact message). */
function tsExpiresAtError(options) {
  try {
    options.expiresAt.toISOString();
  } catch (e) {
    return e;
  }
  throw new Error("expected the expression to throw");
}

const seed = (host, key, r, secret = "s") => {
  host.kv.set(id(key), r);
  if (secret !== undefined) host.secrets.set(id(key), secret);
};
const lastPut = (host) => host.callsOf("metadata", "put").at(-1);

// ------------------------------------------------------------------ keys

function keyClass(cls, input, makeKey) {
  return {
    group: "key",
    cls,
    input,
    expected: `get → undefined, has → false, delete → false, put → TypeError("${INVALID_KEY}"); no host call; key never echoed`,
    async run({ store, host }) {
      const key = makeKey();
      const value = { secret: "never handed over" };
      assert.strictEqual(await store.get(key), undefined);
      assert.strictEqual(await store.has(key), false);
      assert.strictEqual(await store.delete(key), false);
      await rejects(store.put(key, value, { label: "L" }), isType(TypeError, INVALID_KEY));
      assert.deepStrictEqual(host.calls, [], "no host call for an invalid key");
    },
  };
}

function validKeyClass(cls, input, key) {
  return {
    group: "key",
    cls,
    input,
    expected: `accepted: round trip under vault id "${PREFIX}" + key`,
    async run({ store, host }) {
      await store.put(key, "v");
      assert.strictEqual(host.secrets.get(id(key)), "v");
      assert.strictEqual(await store.get(key), "v");
      assert.deepStrictEqual(await store.keys(), [key]);
      assert.strictEqual(await store.delete(key), true);
      assert.strictEqual(host.kv.size + host.secrets.size, 0);
    },
  };
}

// A key that is not a string is tested and addressed by its ToString (SPEC
// §2, second edition): `SAFE_SEGMENT.test(key)`, then `${prefix}${key}`;
// the row keeps the key as given.
function convertedKeyClass(cls, input, makeKey, text) {
  return {
    group: "key",
    cls,
    input,
    expected: `addresses "${text}" (RegExp#test's ToString): round trip under vault id "${PREFIX}${text}"; the row's key is the value as given`,
    async run({ store, host }) {
      const key = makeKey();
      await store.put(key, "v");
      assert.strictEqual(host.secrets.get(id(text)), "v");
      assert.ok(Object.is(host.kv.get(id(text)).key, key), "the row keeps the key as given");
      assert.strictEqual(await store.get(makeKey()), "v");
      assert.strictEqual(await store.get(text), "v", "the same credential as its text");
      assert.strictEqual(await store.has(makeKey()), true);
      const [listed] = await store.keys();
      assert.ok(Object.is(listed, key), "keys() lists row.key as stored");
      assert.strictEqual(await store.delete(makeKey()), true);
      assert.strictEqual(host.kv.size + host.secrets.size, 0);
    },
  };
}

// A key whose ToString throws: every method rejects with the host's own error.
function throwingKeyClass(cls, input, makeKey) {
  return {
    group: "key",
    cls,
    input,
    expected: "get/has/delete/put reject with the host's own error for ToString (as SAFE_SEGMENT.test(key) throws); no host call",
    async run({ store, host }) {
      const same = isHostError(thrownBy(() => /k/.test(makeKey())));
      for (const op of [(k) => store.get(k), (k) => store.has(k), (k) => store.delete(k), (k) => store.put(k, "v")]) {
        const p = op(makeKey());
        assert.ok(p instanceof Promise, "rejects, never a synchronous throw");
        await rejects(p, same);
      }
      assert.deepStrictEqual(host.calls, [], "no host call");
    },
  };
}

const KEYS = [
  convertedKeyClass("number key", "42", () => 42, "42"),
  convertedKeyClass("bigint key", "42n", () => 42n, "42"),
  throwingKeyClass("symbol key", 'Symbol("k")', () => Symbol("k")),
  throwingKeyClass("key whose toString throws", "{ toString() { throw err } }", () => ({
    toString() {
      throw new RangeError("no text");
    },
  })),
  convertedKeyClass("object key", '{ toString: () => "k" }', () => ({ toString: () => "k" }), "k"),
  keyClass("plain object key", "{} (\"[object Object]\")", () => ({})),
  convertedKeyClass("array key", '["k"]', () => ["k"], "k"),
  keyClass("array of two keys", '["a", "b"] ("a,b")', () => ["a", "b"]),
  convertedKeyClass("null key", "null", () => null, "null"),
  convertedKeyClass("undefined key", "undefined", () => undefined, "undefined"),
  convertedKeyClass("boolean key", "true", () => true, "true"),
  keyClass("empty key", '""', () => ""),
  keyClass("empty array key", '[] ("")', () => []),
  keyClass("129-char key", '"k".repeat(129)', () => "k".repeat(129)),
  keyClass("unicode key", '"ключ", "é", "ǅ"', () => "ключ"),
  keyClass("key with '/'", '"a/b", "../x"', () => "../x"),
  keyClass("NUL in key", '"\\u0000", "a\\u0000"', () => "a\u0000"),
  keyClass("trailing newline key", '"k\\n"', () => "k\n"),
  keyClass("lone surrogate key", '"\\uD800"', () => "\uD800"),
  convertedKeyClass("String object key", 'new String("k")', () => new String("k"), "k"),
  validKeyClass("'..' key (the grammar allows dots)", '".."', ".."),
  validKeyClass("128-char key", '"k".repeat(128)', "k".repeat(128)),
  validKeyClass("all grammar characters", '"A-z_0.9:x"', "A-z_0.9:x"),
];

// ------------------------------------------------------------------ values

function valueClass(cls, input, makeValue, { flattens } = {}) {
  return {
    group: "value",
    cls,
    input,
    expected: flattens
      ? "handed to vault.setSecret untouched (identity); get resolves to what the vault's promise settles to"
      : "handed to vault.setSecret untouched (identity, 2 arguments); get → the identical value",
    async run({ store, host }) {
      const value = makeValue();
      await store.put(K, value);
      const [args] = host.callsOf("vault", "setSecret");
      assert.strictEqual(args.length, 2);
      assert.strictEqual(args[0], ID);
      assert.ok(Object.is(args[1], value), "setSecret got the identical value");
      const row = host.kv.get(ID);
      assert.deepStrictEqual(Object.keys(row), [...BASE_KEYS, "pending"], "the row holds no value");
      const got = await store.get(K);
      if (flattens) assert.strictEqual(got, await value);
      else assert.ok(Object.is(got, value), "get returns the identical value");
      assert.strictEqual(await store.has(K), true);
      // an update hands it over untouched too
      await store.put(K, value);
      assert.ok(Object.is(host.callsOf("vault", "setSecret")[1][1], value));
      assert.strictEqual(await store.delete(K), true);
    },
  };
}

const BIG = "x".repeat(1 << 20);
const UNICODE = "pässwörd-🔑-秘密-שָׁלוֹם-e\u0301-\u0000-\uD800-\uDFFF-\u202E";

const VALUES = [
  valueClass("undefined value", "undefined", () => undefined),
  valueClass("null value", "null", () => null),
  valueClass("number values", "0, -0, NaN", () => NaN),
  valueClass("-0 value", "-0", () => -0),
  valueClass("bigint value", "2n ** 70n", () => 2n ** 70n),
  valueClass("symbol value", 'Symbol("s")', () => Symbol("s")),
  valueClass("boolean value", "false", () => false),
  valueClass("empty string value", '""', () => ""),
  valueClass("object value", "{ nested: { a: [1] } }", () => ({ nested: { a: [1] } })),
  valueClass("array value", "[1, 2]", () => [1, 2]),
  valueClass("function value", "() => 1", () => () => 1),
  valueClass("Uint8Array value", "new Uint8Array([1, 2, 3])", () => new Uint8Array([1, 2, 3])),
  valueClass("String object value", 'new String("s")', () => new String("s")),
  valueClass("frozen null-prototype object value", "Object.freeze(Object.create(null))", () => Object.freeze(Object.create(null))),
  valueClass("Promise value", 'Promise.resolve("inner")', () => Promise.resolve("inner"), { flattens: true }),
  valueClass("huge string value (1 MiB)", '"x".repeat(2 ** 20)', () => BIG),
  valueClass("unicode value", "emoji, CJK, RTL, combining, NUL, lone surrogates", () => UNICODE),
];

// ------------------------------------------------------------------ options

function optionsClass(cls, input, makeOptions, expected, check) {
  return {
    group: "options",
    cls,
    input,
    expected,
    async run(ctx) {
      seed(ctx.host, K, row(K, { label: "old-label", provider: "old-provider", expiresAt: FUTURE }));
      const options = makeOptions();
      await check(ctx, options);
    },
  };
}

const carried = "treated as no options: label, provider and expiresAt carried over from the existing row";
const checkCarried = async ({ store, host }, options) => {
  await store.put(K, "v2", options);
  const [, r] = lastPut(host);
  assert.deepStrictEqual(Object.keys(r), BASE_KEYS, "an update row is base only");
  assert.strictEqual(r.label, "old-label");
  assert.strictEqual(r.provider, "old-provider");
  assert.strictEqual(r.expiresAt, FUTURE);
  assert.strictEqual(await store.get(K), "v2");
};

const expiresAtTypeError = (options) => async ({ store, host }) => {
  const want = tsExpiresAtError(options);
  await rejects(store.put(K, "v2", options), isType(want.constructor, want.message));
  assert.deepStrictEqual(host.trace(), ["metadata.get"], "nothing written");
  assert.strictEqual(host.secrets.get(ID), "s");
};

const OPTIONS = [
  optionsClass("options null", "null", () => null, carried, checkCarried),
  optionsClass("options number", "5", () => 5, carried, checkCarried),
  optionsClass("options string", '"label"', () => "label", carried, checkCarried),
  optionsClass("options array", '["label"]', () => ["label"], carried, checkCarried),
  optionsClass("options boolean", "true", () => true, carried, checkCarried),
  optionsClass(
    "label/provider non-strings",
    "{ label: 42, provider: { o: 1 } }",
    () => ({ label: 42, provider: { o: 1 } }),
    "written into the row as given (no conversion; the same object)",
    async ({ store, host }, options) => {
      await store.put(K, "v2", options);
      const [, r] = lastPut(host);
      assert.strictEqual(r.label, 42);
      assert.strictEqual(r.provider, options.provider);
      const [info] = await store.listMetadata();
      assert.strictEqual(info.provider, options.provider);
    },
  ),
  optionsClass(
    "label null / provider undefined",
    "{ label: null, provider: undefined }",
    () => ({ label: null, provider: undefined }),
    "nullish option → existing label/provider carried over (??)",
    checkCarried,
  ),
  optionsClass(
    "label empty string",
    '{ label: "" }',
    () => ({ label: "" }),
    'kept as "" (?? only replaces null/undefined)',
    async ({ store, host }, options) => {
      await store.put(K, "v2", options);
      assert.strictEqual(lastPut(host)[1].label, "");
    },
  ),
  optionsClass(
    "expiresAt invalid Date",
    "new Date(NaN)",
    () => ({ expiresAt: new Date(NaN) }),
    'RangeError from Date#toISOString ("Invalid time value"); only metadata.get was called',
    async (ctx, options) => expiresAtTypeError(options)(ctx),
  ),
  optionsClass(
    "expiresAt ISO string",
    '"2030-01-01T00:00:00.000Z"',
    () => ({ expiresAt: "2030-01-01T00:00:00.000Z" }),
    "TypeError: options.expiresAt.toISOString is not a function (the host's message); nothing written",
    async (ctx, options) => expiresAtTypeError(options)(ctx),
  ),
  optionsClass(
    "expiresAt number",
    "1893456000000",
    () => ({ expiresAt: 1893456000000 }),
    "TypeError: options.expiresAt.toISOString is not a function; nothing written",
    async (ctx, options) => expiresAtTypeError(options)(ctx),
  ),
  optionsClass(
    "expiresAt falsy",
    '0, "", null, false',
    () => ({ expiresAt: 0 }),
    "falsy → ignored, existing expiresAt carried over",
    async (ctx) => {
      for (const expiresAt of [0, "", null, false, undefined]) await checkCarried(ctx, { expiresAt });
    },
  ),
  optionsClass(
    "expiresAt duck-typed",
    '{ toISOString: () => "whenever" }',
    () => ({ expiresAt: { toISOString: () => "whenever" } }),
    'row.expiresAt = "whenever" (unparseable → never expired)',
    async ({ store, host }, options) => {
      await store.put(K, "v2", options);
      assert.strictEqual(lastPut(host)[1].expiresAt, "whenever");
      assert.strictEqual(await store.get(K), "v2");
    },
  ),
  optionsClass(
    "expiresAt whose toISOString throws",
    "{ toISOString() { throw err } }",
    () => {
      const err = new Error("boom");
      return { err, expiresAt: { toISOString: () => { throw err; } } };
    },
    "rejects with the identical thrown value; nothing written",
    async ({ store, host }, options) => {
      await rejects(store.put(K, "v2", options), isSame(options.err));
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    },
  ),
  optionsClass(
    "options with a throwing getter",
    "{ get label() { throw err } }",
    () => {
      const err = new Error("getter");
      return {
        err,
        get label() {
          throw err;
        },
      };
    },
    "rejects with the identical thrown value after metadata.get; nothing written",
    async ({ store, host }, options) => {
      await rejects(store.put(K, "v2", options), isSame(options.err));
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    },
  ),
  optionsClass(
    "options Proxy",
    "new Proxy({ label: 'L' }, { get })",
    () => {
      const seen = [];
      const p = new Proxy({ label: "L" }, { get: (t, k) => (seen.push(k), t[k]) });
      return { p, seen };
    },
    "read with plain property gets: label, provider, expiresAt",
    async ({ store, host }, { p, seen }) => {
      await store.put(K, "v2", p);
      assert.deepStrictEqual([...new Set(seen)].sort(), ["expiresAt", "label", "provider"]);
      assert.strictEqual(lastPut(host)[1].label, "L");
    },
  ),
  optionsClass(
    "expiresAt in the past",
    "new Date(0)",
    () => ({ expiresAt: new Date(0) }),
    "put succeeds; the row is expired: get → undefined and the entry is deleted",
    async ({ store, host }, options) => {
      await store.put(K, "v2", options);
      assert.strictEqual(lastPut(host)[1].expiresAt, "1970-01-01T00:00:00.000Z");
      assert.strictEqual(await store.get(K), undefined);
      assert.strictEqual(host.kv.has(ID), false);
      assert.strictEqual(host.secrets.has(ID), false);
    },
  ),
  optionsClass(
    "huge label (1 MiB) and unicode provider",
    '{ label: "x".repeat(2 ** 20), provider: "🔑秘密" }',
    () => ({ label: BIG, provider: UNICODE }),
    "written and listed as given",
    async ({ store, host }, options) => {
      await store.put(K, "v2", options);
      const [info] = await store.listMetadata();
      assert.strictEqual(info.label, BIG);
      assert.strictEqual(info.provider, UNICODE);
    },
  ),
];

// ------------------------------------------------------------------ rows from the KV

/** A truthy non-object row: not pending, not expired, belongs to no scope. */
function primitiveRowClass(cls, input, value) {
  return {
    group: "row",
    cls,
    input,
    expected: "truthy → a committed row: get → vault value, has → true, delete → true; not listed (no userId)",
    async run({ store, host }) {
      seed(host, K, value);
      assert.strictEqual(await store.get(K), "s");
      assert.strictEqual(await store.has(K), true);
      assert.deepStrictEqual(await store.keys(), []);
      await store.put(K, "s2", { label: "L" });
      assert.deepStrictEqual(host.trace().slice(-3), ["metadata.get", "vault.setSecret", "metadata.put"], "update path");
      seed(host, K, value, "s2");
      assert.strictEqual(await store.delete(K), true);
      assert.strictEqual(host.kv.has(ID) || host.secrets.has(ID), false);
    },
  };
}

// get/has read `!row` (falsy is missing); delete reads `row === undefined`
// and then `row.pending` (SPEC §3, second edition).
function falsyRowClass(cls, input, value) {
  return {
    group: "row",
    cls,
    input,
    expected:
      "get/has: falsy → missing (no vault call); delete: a committed row, deleted (row, then vault; a vault failure's marker spreads it: no fields of its own); put takes the UPDATE path (existing !== undefined): setSecret, then the base row without `pending`",
    async run({ store, host }) {
      seed(host, K, value);
      assert.strictEqual(await store.get(K), undefined);
      assert.strictEqual(await store.has(K), false);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get"]);
      host.clearCalls();
      assert.strictEqual(await store.delete(K), true);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete", "vault.deleteSecret"]);
      assert.strictEqual(host.kv.has(ID) || host.secrets.has(ID), false);
      // The marker of a failed vault delete spreads the row as `{ ...row }` does.
      seed(host, K, value);
      const err = new Error("vault down");
      host.vault.deleteSecret = () => Promise.reject(err);
      const e = await rejects(store.delete(K), isType(Error, /vault delete failed for key k; orphan marker persisted$/));
      assert.strictEqual(e.cause, err);
      const marker = host.kv.get(ID);
      assert.deepStrictEqual(Object.keys(marker), [...Object.keys({ ...value }), "pending", "orphanedAt", "orphanReason"]);
      host.clearCalls();
      seed(host, K, value);
      await store.put(K, "new");
      assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
      assert.deepStrictEqual(Object.keys(host.kv.get(ID)), BASE_KEYS);
      assert.strictEqual(await store.get(K), "new");
    },
  };
}

function throwingGetter(name) {
  const err = new Error(`getter ${name}`);
  const r = row(K);
  delete r[name];
  Object.defineProperty(r, name, {
    enumerable: true,
    get() {
      throw err;
    },
  });
  return { r, err };
}

function expiryRowClass(cls, input, makeExpiresAt, expired) {
  return {
    group: "row",
    cls,
    input,
    expected: expired
      ? "expired (new Date(x) <= now): get → undefined, has → false, the entry is deleted; not listed"
      : "not expired (NaN or future): get → vault value; listed with expiresAt as stored",
    async run({ store, host }) {
      const expiresAt = makeExpiresAt();
      seed(host, K, row(K, { expiresAt }));
      if (expired) {
        assert.deepStrictEqual(await store.keys(), []);
        assert.strictEqual(await store.has(K), false);
        assert.strictEqual(host.kv.has(ID), false, "has deleted the expired row");
        seed(host, K, row(K, { expiresAt }));
        assert.strictEqual(await store.get(K), undefined);
        assert.strictEqual(host.kv.has(ID) || host.secrets.has(ID), false);
      } else {
        assert.strictEqual(await store.get(K), "s");
        const [info] = await store.listMetadata();
        assert.ok(Object.is(info.expiresAt, expiresAt));
      }
    },
  };
}

const ROWS = [
  primitiveRowClass("row is a number", "1", 1),
  primitiveRowClass("row is a string", '"row"', "row"),
  primitiveRowClass("row is an array", "[]", []),
  primitiveRowClass("row is true", "true", true),
  {
    group: "row",
    cls: "row is null",
    input: "null",
    expected:
      "get/has: missing; delete rejects with the host's TypeError for null.pending (nothing deleted); listMetadata/deleteAll reject with the host's TypeError for row.userId; put takes the UPDATE path",
    async run({ store, host }) {
      seed(host, K, null);
      assert.strictEqual(await store.get(K), undefined);
      assert.strictEqual(await store.has(K), false);
      const row = null;
      await rejects(store.delete(K), isHostError(thrownBy(() => row.pending)));
      assert.strictEqual(host.kv.has(ID) && host.secrets.has(ID), true, "nothing deleted");
      // The listing loop reads row.userId of every entry in the prefix.
      await rejects(store.deleteAll(), isHostError(thrownBy(() => row.userId)));
      await rejects(store.listMetadata(), isHostError(thrownBy(() => row.userId)));
      await store.put(K, "new");
      assert.deepStrictEqual(Object.keys(host.kv.get(ID)), BASE_KEYS);
    },
  },
  falsyRowClass("row is 0", "0", 0),
  falsyRowClass("row is an empty string", '""', ""),
  falsyRowClass("row is false", "false", false),
  {
    group: "row",
    cls: "throwing getter on pending",
    input: "{ ...row, get pending() { throw err } }",
    expected:
      "get/has/delete reject with the identical error (nothing deleted); put succeeds (it never reads pending) and replaces the row",
    async run({ store, host }) {
      const { r, err } = throwingGetter("pending");
      seed(host, K, r);
      await rejects(store.get(K), isSame(err));
      await rejects(store.has(K), isSame(err));
      await rejects(store.delete(K), isSame(err));
      await rejects(store.keys(), isSame(err));
      assert.strictEqual(host.secrets.get(ID), "s");
      await store.put(K, "v2");
      assert.deepStrictEqual(Object.keys(host.kv.get(ID)), BASE_KEYS);
      assert.strictEqual(await store.get(K), "v2");
    },
  },
  {
    group: "row",
    cls: "throwing getter on expiresAt",
    input: "{ ...row, get expiresAt() { throw err } }",
    expected:
      "get/has/put (without expiresAt option) reject with the identical error; put with options.expiresAt and delete succeed",
    async run({ store, host }) {
      const { r, err } = throwingGetter("expiresAt");
      seed(host, K, r);
      await rejects(store.get(K), isSame(err));
      await rejects(store.has(K), isSame(err));
      await rejects(store.put(K, "v2"), isSame(err));
      assert.strictEqual(host.secrets.get(ID), "s", "nothing written");
      await store.put(K, "v3", { expiresAt: new Date(FUTURE) });
      assert.strictEqual(await store.get(K), "v3");
      seed(host, K, throwingGetter("expiresAt").r);
      assert.strictEqual(await store.delete(K), true);
    },
  },
  expiryRowClass("expiresAt as a past number", "Date.now() - 1", () => Date.now() - 1, true),
  expiryRowClass("expiresAt as a future number", "Date.now() + 1e9", () => Date.now() + 1e9, false),
  expiryRowClass("expiresAt null", "null (new Date(null) is the epoch)", () => null, true),
  expiryRowClass("expiresAt an object", "{}", () => ({}), false),
  expiryRowClass("expiresAt garbage string", '"not a date"', () => "not a date", false),
  expiryRowClass("expiresAt true", "true (new Date(true) is epoch + 1 ms)", () => true, true),
  {
    group: "row",
    cls: "expiresAt a Symbol",
    input: 'Symbol("t")',
    expected: "get rejects with the host's TypeError from new Date(symbol) (Cannot convert a Symbol value to a number)",
    async run({ store, host }) {
      seed(host, K, row(K, { expiresAt: Symbol("t") }));
      let want;
      try {
        new Date(Symbol("t"));
      } catch (e) {
        want = e;
      }
      await rejects(store.get(K), isType(TypeError, want.message));
      assert.strictEqual(host.secrets.get(ID), "s");
    },
  },
  {
    group: "row",
    cls: 'pending "true" (a string)',
    input: '{ ...row, pending: "true" }',
    expected: "only pending === true is pending: visible to get, has, keys; delete → true",
    async run({ store, host }) {
      seed(host, K, row(K, { pending: "true" }));
      assert.strictEqual(await store.get(K), "s");
      assert.deepStrictEqual(await store.keys(), [K]);
      assert.strictEqual(await store.delete(K), true);
    },
  },
  {
    group: "row",
    cls: "row without any field",
    input: "{}",
    expected: "committed row (no pending, no expiresAt): get → vault value; not listed (no userId); put carries nothing",
    async run({ store, host }) {
      seed(host, K, {});
      assert.strictEqual(await store.get(K), "s");
      assert.deepStrictEqual(await store.keys(), []);
      await store.put(K, "v2");
      const [, r] = lastPut(host);
      assert.strictEqual(r.createdAt, r.updatedAt, "createdAt = now when the row has none");
    },
  },
  {
    group: "row",
    cls: "row of another scope under our prefix",
    input: '{ ...row, userId: "other" } at our id',
    expected: "get/has read it (they check no userId); listMetadata and deleteAll skip it",
    async run({ store, host }) {
      seed(host, K, row(K, { userId: "other" }));
      assert.strictEqual(await store.get(K), "s");
      assert.deepStrictEqual(await store.keys(), []);
      await store.deleteAll();
      assert.ok(host.kv.has(ID) && host.secrets.has(ID), "deleteAll left it alone");
    },
  },
  {
    group: "row",
    cls: "Proxy row",
    input: "new Proxy(row, { get, ownKeys })",
    expected: "read with plain property gets; on a vault-delete failure the marker spreads the proxy's own keys",
    async run({ store, host }) {
      const seen = [];
      const r = new Proxy(row(K, { extra: 1 }), { get: (t, k) => (seen.push(k), t[k]) });
      seed(host, K, r);
      assert.strictEqual(await store.get(K), "s");
      assert.ok(seen.includes("pending") && seen.includes("expiresAt"));
      const err = new Error("vault down");
      host.vault.deleteSecret = () => Promise.reject(err);
      const e = await rejects(store.delete(K), isType(Error, /vault delete failed for key k; orphan marker persisted$/));
      assert.strictEqual(e.cause, err);
      const marker = host.kv.get(ID);
      assert.deepStrictEqual(Object.keys(marker), [...BASE_KEYS, "pending", "extra", "orphanedAt", "orphanReason"]);
      assert.strictEqual(marker.extra, 1);
      assert.strictEqual(marker.pending, true);
    },
  },
  {
    group: "row",
    cls: "throwing getter while spreading the orphan marker",
    input: "{ ...row, get extra() { throw } } and vault.deleteSecret rejects",
    expected: 'delete rejects Error("…vault delete failed for key k; orphan marker also failed to persist", { cause }) with no marker write',
    async run({ store, host }) {
      const r = row(K);
      Object.defineProperty(r, "extra", {
        enumerable: true,
        get() {
          throw new Error("spread");
        },
      });
      seed(host, K, r);
      const err = new Error("vault down");
      host.vault.deleteSecret = () => Promise.reject(err);
      const e = await rejects(
        store.delete(K),
        isType(Error, /vault delete failed for key k; orphan marker also failed to persist$/),
      );
      assert.strictEqual(e.cause, err);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete"], "no marker write");
    },
  },
  {
    group: "row",
    cls: "two rows with throwing getters in listMetadata",
    input: "rows [a: get label() throws A, b: get pending() throws B]",
    expected: "rejects with A: each entry is read whole (scope, pending, expiry, then its info) before the next (SPEC §4's loop)",
    async run({ store, host }) {
      const a = row("a");
      const errA = new Error("label of a");
      Object.defineProperty(a, "label", {
        enumerable: true,
        get() {
          throw errA;
        },
      });
      const b = row("b");
      const errB = new Error("pending of b");
      Object.defineProperty(b, "pending", {
        enumerable: true,
        get() {
          throw errB;
        },
      });
      seed(host, "a", a);
      seed(host, "b", b);
      await rejects(store.listMetadata(), isSame(errA));
    },
  },
  {
    group: "row",
    cls: "KV id in scope with a non-grammar key",
    input: `"${PREFIX}" + "a/b", "\\uD800" (rows of our scope) and vault.deleteSecret rejects`,
    expected:
      "deleteAll still deletes them; AggregateError whose errors name each key (id minus the prefix) with its exact text, a lone surrogate included",
    async run({ store, host }) {
      for (const key of ["a/b", "\uD800"]) seed(host, key, row(key));
      const err = new Error("vault down");
      host.vault.deleteSecret = () => Promise.reject(err);
      const e = await rejects(store.deleteAll(), isType(AggregateError, "ServerCredentialStore.deleteAll: one or more entries failed"));
      assert.deepStrictEqual(
        e.errors.map((x) => x.message),
        ["a/b", "\uD800"].map(
          (key) => `ServerCredentialStore.deleteAll: metadata removed but vault delete failed for key ${key}; orphan marker persisted`,
        ),
      );
    },
  },
];

// ------------------------------------------------------------------ hosts

function missingMethodClass(cls, input, object, method, breakIt, ops) {
  return {
    group: "host",
    cls,
    input,
    expected: `TypeError naming ${object}.${method} ("… ${object}.${method} is not a function"); never a synchronous throw`,
    async run(ctx) {
      const { store, host } = ctx;
      seed(host, K, row(K));
      breakIt(host[object], method);
      for (const op of ops) {
        const p = op(store);
        assert.ok(p instanceof Promise);
        await rejects(p, isType(TypeError, new RegExp(`${object}\\.${method} is not a function`)));
      }
    },
  };
}
const remove = (o, m) => delete o[m];
const notFunction = (o, m) => (o[m] = "not a function");

const HOSTS = [
  missingMethodClass("metadata.get missing", "delete metadata.get", "metadata", "get", remove, [
    (s) => s.get(K),
    (s) => s.has(K),
    (s) => s.delete(K),
    (s) => s.put(K, "v"),
  ]),
  missingMethodClass("metadata.getAll missing", "delete metadata.getAll", "metadata", "getAll", remove, [
    (s) => s.keys(),
    (s) => s.listMetadata(),
    (s) => s.deleteAll(),
  ]),
  missingMethodClass("vault.getSecret not a function", 'vault.getSecret = "…"', "vault", "getSecret", notFunction, [
    (s) => s.get(K),
  ]),
  {
    group: "host",
    cls: "vault.setSecret missing on a new entry",
    input: "delete vault.setSecret",
    expected: "the pending row is rolled back (metadata.delete), then put rejects with that TypeError, raw",
    async run({ store, host }) {
      delete host.vault.setSecret;
      await rejects(store.put(K, "v"), isType(TypeError, /vault\.setSecret is not a function/));
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.put", "metadata.delete"]);
      assert.strictEqual(host.kv.size, 0);
    },
  },
  {
    group: "host",
    cls: "vault.deleteSecret missing",
    input: "delete vault.deleteSecret",
    expected: 'delete rejects Error("…vault delete failed for key k; orphan marker persisted") whose cause is the TypeError',
    async run({ store, host }) {
      seed(host, K, row(K));
      delete host.vault.deleteSecret;
      const e = await rejects(store.delete(K), isType(Error, /vault delete failed for key k; orphan marker persisted$/));
      assert.ok(e.cause instanceof TypeError && /vault\.deleteSecret is not a function/.test(e.cause.message));
      assert.strictEqual(host.kv.get(ID).orphanReason, "vault-delete-failed");
    },
  },
  {
    group: "host",
    cls: "metadata object without any method",
    input: "every own method of metadata deleted",
    expected: "every operation rejects with a TypeError naming the first method it needs",
    async run({ store, host }) {
      for (const m of Object.keys(host.metadata)) delete host.metadata[m];
      await rejects(store.get(K), isType(TypeError, /metadata\.get is not a function/));
      await rejects(store.put(K, "v"), isType(TypeError, /metadata\.get is not a function/));
      await rejects(store.keys(), isType(TypeError, /metadata\.getAll is not a function/));
      await rejects(store.deleteAll(), isType(TypeError, /metadata\.getAll is not a function/));
    },
  },
  {
    group: "host",
    cls: "methods return plain values",
    input: 'host mode "plain" (no promises)',
    expected: "awaited like await does: the full life cycle works",
    async run({ store, host }) {
      host.mode = "plain";
      await lifecycle(store);
    },
  },
  {
    group: "host",
    cls: "methods return thenables",
    input: 'host mode "thenable" (non-promise thenables)',
    expected: "awaited like await does: the full life cycle works",
    async run({ store, host }) {
      host.mode = "thenable";
      await lifecycle(store);
    },
  },
  {
    group: "host",
    cls: "a thenable that rejects",
    input: "metadata.get returns { then(_, reject) { reject(err) } }",
    expected: "get rejects with the identical err",
    async run({ store, host }) {
      const err = new Error("thenable rejected");
      host.metadata.get = () => ({ then: (_, reject) => reject(err) });
      await rejects(store.get(K), isSame(err));
    },
  },
  {
    group: "host",
    cls: "a thenable whose then throws",
    input: "metadata.get returns { then() { throw err } }",
    expected: "get rejects with the identical err (as await does)",
    async run({ store, host }) {
      const err = new Error("then threw");
      host.metadata.get = () => ({
        then() {
          throw err;
        },
      });
      await rejects(store.get(K), isSame(err));
    },
  },
  {
    group: "host",
    cls: "a thenable that settles twice",
    input: 'then(resolve, reject) { resolve(row); reject(err); resolve("x") }',
    expected: "the first settlement wins",
    async run({ store, host }) {
      seed(host, K, row(K));
      const inner = host.metadata.get;
      host.metadata.get = function (i) {
        return {
          then: (resolve, reject) => {
            resolve(host.kv.get(i));
            reject(new Error("late"));
            resolve(undefined);
          },
        };
      };
      assert.strictEqual(await store.get(K), "s");
      host.metadata.get = inner;
    },
  },
  {
    group: "host",
    cls: "non-callable then",
    input: "metadata.get returns { then: 5, ...row }",
    expected: "not a thenable: the object itself is the row",
    async run({ store, host }) {
      host.metadata.get = () => ({ then: 5, ...row(K) });
      host.secrets.set(ID, "s");
      assert.strictEqual(await store.get(K), "s");
    },
  },
  {
    group: "host",
    cls: "a method throws synchronously",
    input: "vault.getSecret = () => { throw err }",
    expected: "the store method still returns a promise, which rejects with the identical err",
    async run({ store, host }) {
      seed(host, K, row(K));
      const err = new Error("sync");
      host.vault.getSecret = () => {
        throw err;
      };
      const p = store.get(K);
      assert.ok(p instanceof Promise);
      await rejects(p, isSame(err));
    },
  },
  {
    group: "host",
    cls: "rejections with non-Error values",
    input: "undefined, null, 0, a string, a symbol, a plain object",
    expected: "each passed on as the identical value (raw), or as the identical `cause`",
    async run({ store, host }) {
      seed(host, K, row(K));
      for (const [i, v] of [undefined, null, 0, "oops", Symbol("e"), { code: 1 }].entries()) {
        host.vault.getSecret = () => Promise.reject(v);
        await rejects(store.get(K), isSame(v));
        host.vault.setSecret = () => Promise.reject(v);
        host.metadata.delete = () => Promise.reject(new Error("rollback failed"));
        const e = await rejects(store.put("new" + i, "x"), isType(Error, /rollback may have orphaned vault id/));
        assert.ok(Object.hasOwn(e, "cause") && Object.is(e.cause, v));
      }
    },
  },
  {
    group: "host",
    cls: "host objects are Proxies",
    input: "new Proxy(metadata, { get }) and new Proxy(vault, { get })",
    expected: "methods looked up (trap) at every call, called with this = the proxy",
    async run(ctx) {
      const { host, ServerCredentialStore } = ctx;
      // Needs its own instance (the proxies are the host objects); the round
      // trip afterwards still runs on ctx.store.
      const seen = [];
      const thisSeen = [];
      const wrap = (o) =>
        new Proxy(o, {
          get: (t, k, r) => {
            seen.push(k);
            const f = t[k];
            return typeof f === "function"
              ? function (...a) {
                  thisSeen.push(this === r);
                  return f.apply(t, a);
                }
              : f;
          },
        });
      const s = new ServerCredentialStore({ vault: wrap(host.vault), metadata: wrap(host.metadata), userId: USER, projectId: PROJECT });
      await s.put(K, "v");
      assert.strictEqual(await s.get(K), "v");
      assert.deepStrictEqual(seen, ["get", "put", "setSecret", "put", "get", "getSecret"]);
      assert.ok(thisSeen.every(Boolean));
    },
  },
  {
    group: "getAll",
    cls: "getAll resolves undefined or null",
    input: "undefined, null",
    expected: "no entries: keys → [], listMetadata → [], deleteAll resolves",
    async run({ store, host }) {
      for (const v of [undefined, null]) {
        host.metadata.getAll = () => Promise.resolve(v);
        assert.deepStrictEqual(await store.keys(), []);
        assert.deepStrictEqual(await store.listMetadata(), []);
        assert.strictEqual(await store.deleteAll(), undefined);
      }
    },
  },
  {
    group: "getAll",
    cls: "getAll resolves a non-array",
    input: '{}, { length: 1, 0: entry }, 5, true, "abc", a Set, a generator, a Map',
    expected:
      "the loop of SPEC §4 (`for…of`): a non-iterable rejects with the host's TypeError; a string iterates its characters (no `.key`: TypeError); a Set or a generator of entries is listed; each outcome as the oracle's",
    async run({ store, host }) {
      const entries = () => [{ key: ID, value: row(K) }];
      const answers = [
        () => ({}),
        () => ({ length: 1, 0: entries()[0] }),
        () => 5,
        () => true,
        () => "abc",
        () => new Set(entries()),
        () => entries().values(),
        () => new Map([[ID, row(K)]]),
      ];
      for (const answer of answers) await sameAsOracle(store, host, answer);
    },
  },
  {
    group: "getAll",
    cls: "getAll array with junk entries",
    input: 'each of null, undefined, 5, "x", [], {}, { key: 5 }, { key: id }, { key: id, value: 0 }, other prefix, { key: new String(id) }, before a good entry',
    expected:
      "the loop of SPEC §4: a junk entry in front either rejects the listing with the host's TypeError (null, no key, a non-string key, no row) or is skipped (a row of no scope, another prefix); each outcome as the oracle's",
    async run({ store, host }) {
      const junk = [
        () => null,
        () => undefined,
        () => 5,
        () => "x",
        () => [],
        () => ({}),
        () => ({ key: 5, value: row("n") }),
        () => ({ key: id("novalue") }),
        () => ({ key: id("zero"), value: 0 }),
        () => ({ key: "user-1/other/k", value: row("k") }),
        () => ({ key: new String(id("obj")), value: row("obj") }),
      ];
      for (const entry of junk) await sameAsOracle(store, host, () => [entry(), { key: id("good"), value: row("good") }]);
    },
  },
  {
    group: "getAll",
    cls: "getAll entry with a throwing getter on key",
    input: "[{ get key() { throw err } }]",
    expected: "keys / listMetadata / deleteAll reject with the identical err",
    async run({ store, host }) {
      const err = new Error("key getter");
      host.metadata.getAll = () =>
        Promise.resolve([
          {
            get key() {
              throw err;
            },
          },
        ]);
      await rejects(store.keys(), isSame(err));
      await rejects(store.deleteAll(), isSame(err));
    },
  },
];

/**
 * keys, listMetadata and deleteAll over a KV whose getAll() answers
 * `answer()`: the store under test and the oracle (on a host of its own)
 * give the same outcome and make the same host calls.
 */
async function sameAsOracle(store, host, answer) {
  const outcomes = async (s, h) => {
    h.kv.clear();
    h.metadata.getAll = () => Promise.resolve(answer());
    h.clearCalls();
    const out = [];
    for (const op of ["keys", "listMetadata", "deleteAll"]) {
      const r = await outcome(s[op]());
      out.push(r.ok ? { ok: true, value: r.value } : { ok: false, proto: Object.getPrototypeOf(r.error), message: engineMessage(r.error.message) });
    }
    return { out, trace: h.trace() };
  };
  const oracleHost = createHost();
  const expected = await outcomes(new Oracle({ vault: oracleHost.vault, metadata: oracleHost.metadata, userId: USER, projectId: PROJECT }), oracleHost);
  const got = await outcomes(store, host);
  assert.deepStrictEqual(got, expected, `getAll() answering ${safe(answer())}`);
}

async function lifecycle(store) {
  await store.put("a", "A", { label: "la" });
  await store.put("b", "B");
  assert.strictEqual(await store.get("a"), "A");
  assert.strictEqual(await store.has("b"), true);
  await store.put("a", "A2", { provider: "p" });
  assert.strictEqual(await store.get("a"), "A2");
  assert.deepStrictEqual(await store.keys(), ["a", "b"]);
  assert.strictEqual(await store.delete("b"), true);
  await store.deleteAll();
  assert.deepStrictEqual(await store.keys(), []);
}

export const CATALOGUE = [...KEYS, ...VALUES, ...OPTIONS, ...ROWS, ...HOSTS];
