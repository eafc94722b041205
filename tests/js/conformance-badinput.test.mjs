// Bad input from the caller and odd data from the host never crash the store:
// after each, the SAME instance keeps working (a wasm trap would poison it).
import { test, describe, assert } from "./helpers/harness.mjs";
import {
  MSG,
  PAST,
  FUTURE,
  USER,
  PROJECT,
  id,
  row,
  setup,
  seeded,
  rejection,
  settle,
  assertPromise,
  assertTypeError,
  assertInstanceStillWorks,
  safeString,
} from "./helpers/util.mjs";

const K = "k";
const ID = id(K);

describe("non-string keys", () => {
  const KEYS = () => [
    ["number", 1],
    ["zero", 0],
    ["NaN", Number.NaN],
    ["null", null],
    ["undefined", undefined],
    ["true", true],
    ["object", {}],
    ["object whose toString is a valid key", { toString: () => "k" }],
    ["array", ["k"]],
    ["symbol", Symbol("k")],
    ["bigint", 1n],
    ["function", () => "k"],
    ["String object", new String("k")],
  ];
  // SPEC §2 (second edition): the key is tested as SAFE_SEGMENT.test(key)
  // tests it, after ToString; a valid text addresses `${prefix}${key}` and
  // the row keeps the key as given; a ToString that throws rejects.
  const SAFE = /^[A-Za-z0-9._:-]{1,128}$/;
  for (const [label, key] of KEYS()) {
    let text;
    let thrown;
    try {
      text = `${key}`;
    } catch (e) {
      thrown = e;
    }
    const seeds = [[K, "v"], ["null", "n"], ["undefined", "u"], ["1", "one"]];
    if (thrown !== undefined) {
      test(`${label}: ToString throws → get/has/delete/put reject with the host's error; no host call; instance fine`, async () => {
        const { host, store } = seeded(seeds);
        for (const op of [() => store.get(key), () => store.has(key), () => store.delete(key), () => store.put(key, "v")]) {
          const err = await rejection(assertPromise(op()));
          assert.strictEqual(Object.getPrototypeOf(err), Object.getPrototypeOf(thrown));
          assert.strictEqual(err.message, thrown.message);
        }
        assert.deepStrictEqual(host.calls, []);
        await assertInstanceStillWorks(store, host);
      });
    } else if (!SAFE.test(text)) {
      test(`${label} ("${text}" fails the grammar): get → undefined, has → false, delete → false, put → TypeError; no host call`, async () => {
        const { host, store } = seeded(seeds);
        assert.strictEqual(await assertPromise(store.get(key)), undefined);
        assert.strictEqual(await assertPromise(store.has(key)), false);
        assert.strictEqual(await assertPromise(store.delete(key)), false);
        assertTypeError(await rejection(assertPromise(store.put(key, "v"))), MSG.invalidKey);
        assert.deepStrictEqual(host.calls, []);
        await assertInstanceStillWorks(store, host);
      });
    } else {
      test(`${label} → addresses "${text}": get, has, put (row keeps the key as given), delete`, async () => {
        const { host, store } = seeded(seeds);
        const seededValue = new Map(seeds).get(text);
        assert.strictEqual(await assertPromise(store.get(key)), seededValue);
        assert.strictEqual(await assertPromise(store.has(key)), seededValue !== undefined);
        assert.deepStrictEqual(host.callsOf("metadata", "get"), [[id(text)], [id(text)]]);
        await assertPromise(store.put(key, "w", { label: "L" }));
        assert.strictEqual(host.secrets.get(id(text)), "w");
        assert.ok(Object.is(host.kv.get(id(text)).key, key), "the row keeps the key as given");
        assert.strictEqual(await store.get(text), "w");
        assert.strictEqual(await assertPromise(store.delete(key)), true);
        assert.strictEqual(host.kv.has(id(text)) || host.secrets.has(id(text)), false);
        await assertInstanceStillWorks(store, host);
      });
    }
  }

  test("extra arguments are ignored", async () => {
    const { host, store } = seeded([[K, "v"]]);
    assert.strictEqual(await store.get(K, "extra", 1), "v");
    assert.strictEqual(await store.has(K, {}), true);
    assert.deepStrictEqual(host.callsOf("metadata", "get"), [[ID], [ID]]);
  });
});

describe("put options.expiresAt", () => {
  test("an invalid Date → rejects with the host's RangeError, after metadata.get, nothing written (new entry)", async () => {
    const { host, store } = setup();
    const err = await rejection(store.put(K, "v", { expiresAt: new Date(Number.NaN) }));
    assert.ok(err instanceof RangeError, `RangeError expected, got ${safeString(err)}`);
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    assert.strictEqual(host.kv.size, 0);
    await assertInstanceStillWorks(store, host);
  });

  test("an invalid Date on an update → RangeError, vault untouched", async () => {
    const { host, store } = seeded([[K, "old"]]);
    const err = await rejection(store.put(K, "v", { expiresAt: new Date("nope") }));
    assert.ok(err instanceof RangeError);
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    assert.strictEqual(host.secrets.get(ID), "old");
  });

  test("toISOString throwing any value → rejects with that identical value", async () => {
    for (const injected of [new Error("iso"), "iso string", 5, undefined]) {
      const { host, store } = setup();
      const err = await rejection(
        store.put(K, "v", {
          expiresAt: {
            toISOString() {
              throw injected;
            },
          },
        }),
      );
      assert.strictEqual(err, injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    }
  });

  for (const [label, expiresAt] of [
    ["a plain object", {}],
    ["an ISO string", "2030-01-01T00:00:00.000Z"],
    ["a number", 1893456000000],
    ["true", true],
    ["an object whose toISOString is not a function", { toISOString: "2030" }],
  ]) {
    test(`expiresAt ${label} (no callable toISOString) → TypeError after metadata.get; instance fine`, async () => {
      const { host, store } = setup();
      const err = await rejection(store.put(K, "v", { expiresAt }));
      assert.ok(err instanceof TypeError, `TypeError expected, got ${safeString(err)}`);
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
      assert.strictEqual(host.kv.size, 0);
      await assertInstanceStillWorks(store, host);
    });
  }

  test("toISOString returning a non-string is stored as returned", async () => {
    const { host, store } = setup();
    const v = { odd: true };
    await store.put(K, "v", { expiresAt: { toISOString: () => v } });
    assert.strictEqual(host.kv.get(ID).expiresAt, v);
  });

  test("options that are not objects behave like no options", async () => {
    const { host, store } = setup();
    await store.put("a", "1", "a string");
    await store.put("b", "2", 42);
    await store.put("c", "3", true);
    for (const k of ["a", "b", "c"]) {
      const r = host.kv.get(id(k));
      assert.strictEqual(r.label, undefined);
      assert.strictEqual(r.expiresAt, undefined);
      assert.strictEqual(r.pending, false);
    }
  });

  test("options getters are honoured (label read through a getter)", async () => {
    const { host, store } = setup();
    await store.put(K, "v", {
      get label() {
        return "from getter";
      },
    });
    assert.strictEqual(host.kv.get(ID).label, "from getter");
  });

  test("an options getter that throws → rejects with that identical value; instance fine", async () => {
    const { host, store } = setup();
    const injected = new Error("getter");
    const err = await rejection(
      store.put(K, "v", {
        get provider() {
          throw injected;
        },
      }),
    );
    assert.strictEqual(err, injected);
    assert.strictEqual(host.kv.size, 0);
    await assertInstanceStillWorks(store, host);
  });
});

describe("rows of odd shapes from the KV", () => {
  // [label, row, expectation]: "missing" (falsy), "visible" (truthy, not pending,
  // not expired), "hidden" (pending), "expired", or "settles" (any outcome).
  const ODD_ROWS = () => [
    ["number 5", 5, "visible"],
    ["string", "row", "visible"],
    ["true", true, "visible"],
    ["empty array", [], "visible"],
    ["array", [1, 2], "visible"],
    ["function", function f() {}, "visible"],
    ["symbol", Symbol("row"), "visible"],
    ["bigint", 5n, "visible"],
    ["empty object", {}, "visible"],
    ["null-prototype object", Object.assign(Object.create(null), row(K)), "visible"],
    ["frozen row", Object.freeze(row(K)), "visible"],
    ["Date object", new Date(0), "visible"],
    ["Map", new Map([["pending", true]]), "visible"],
    ["row with numeric fields", { userId: 1, projectId: 2, key: 3, createdAt: 4, updatedAt: 5 }, "visible"],
    ["row with huge label", row(K, { label: "L".repeat(1 << 20) }), "visible"],
    ["row parsed from JSON with own __proto__", JSON.parse(`{"key":"k","__proto__":{"pending":true}}`), "visible"],
    ["prototype-inherited pending:true", Object.create({ pending: true }), "hidden"],
    ["minimal pending row", { pending: true }, "hidden"],
    ["pending row with odd fields", { pending: true, label: 5, key: [] }, "hidden"],
    ["expiresAt null", { expiresAt: null }, "expired"],
    ["expiresAt 0", { expiresAt: 0 }, "expired"],
    ["expiresAt array of a past date", { expiresAt: [PAST] }, "expired"],
    ["expiresAt object with valueOf in the past", { expiresAt: { valueOf: () => 1000 } }, "expired"],
    ["expiresAt object with toString in the future", { expiresAt: { toString: () => FUTURE } }, "visible"],
    ["expiresAt nested object", { expiresAt: { a: 1 } }, "visible"],
    ["expiresAt a symbol (new Date throws)", { expiresAt: Symbol("s") }, "settles"],
    ["expiresAt a bigint (new Date throws)", { expiresAt: 10n }, "settles"],
    ["expiresAt with throwing valueOf", { expiresAt: { valueOf() { throw new Error("valueOf"); } } }, "settles"],
    ["Proxy throwing on every trap", new Proxy({}, new Proxy({}, { get: () => () => { throw new Error("trap"); } })), "settles"],
    ["revoked Proxy", (() => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; })(), "settles"],
  ];

  for (const [label, odd, expect] of ODD_ROWS()) {
    test(`${label}: get/has/delete/put/list/deleteAll settle as plain JS would, on ONE instance that keeps working`, async () => {
      const { host, store } = seeded([["sibling", "s"]], { rows: [[ID, odd]], secrets: [[ID, "v"]] });
      const reset = () => {
        host.kv.clear();
        host.secrets.clear();
        host.kv.set(id("sibling"), row("sibling"));
        host.kv.set(ID, odd);
        host.secrets.set(id("sibling"), "s");
        host.secrets.set(ID, "v");
        host.clearCalls();
      };

      reset();
      const g = await settle(store.get(K));
      if (expect === "visible") assert.deepStrictEqual(g, { ok: true, value: "v" });
      if (expect === "hidden") assert.deepStrictEqual(g, { ok: true, value: undefined });
      if (expect === "expired") {
        assert.deepStrictEqual(g, { ok: true, value: undefined });
        assert.ok(!host.kv.has(ID), "expired row deleted");
      }

      reset();
      const h = await settle(store.has(K));
      if (expect === "visible") assert.deepStrictEqual(h, { ok: true, value: true });
      if (expect === "hidden" || expect === "expired") assert.deepStrictEqual(h, { ok: true, value: false });

      reset();
      const d = await settle(store.delete(K));
      if (expect === "visible" || expect === "expired") assert.deepStrictEqual(d, { ok: true, value: true });
      if (expect === "hidden") assert.deepStrictEqual(d, { ok: true, value: false });

      reset();
      const p = await settle(store.put(K, "new"));
      if (expect !== "settles") {
        assert.deepStrictEqual(p, { ok: true, value: undefined }, "put over any existing row is an update");
        assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
        assert.strictEqual(host.kv.get(ID).key, K);
        if (expect !== "expired") assert.strictEqual(await store.get(K), "new");
      }

      // listing: the odd row sits at this scope's KV key
      reset();
      const l = await settle(store.listMetadata());
      if (l.ok) assert.ok(l.value.every((m) => m.key === "sibling" || m.key === K));
      if (l.ok) assert.ok(l.value.some((m) => m.key === "sibling"));

      reset();
      const all = await settle(store.deleteAll());
      if (all.ok) assert.ok(!host.kv.has(id("sibling")));

      // The same instance keeps working once the odd row is gone.
      host.kv.delete(ID);
      await assertInstanceStillWorks(store, host);
    });
  }

  test("a throwing getter on `pending` → get/has/delete reject with the identical value; instance fine", async () => {
    const injected = new Error("pending getter");
    const odd = {
      get pending() {
        throw injected;
      },
    };
    const { host, store } = setup({ rows: [[ID, odd]], secrets: [[ID, "v"]] });
    assert.strictEqual(await rejection(store.get(K)), injected);
    assert.strictEqual(await rejection(store.has(K)), injected);
    assert.strictEqual(await rejection(store.delete(K)), injected);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get", "metadata.get"]);
    // put does not read `pending` of the existing row: it is an update
    await store.put(K, "new");
    assert.strictEqual(await store.get(K), "new");
    await assertInstanceStillWorks(store, host);
  });

  test("a throwing getter on `expiresAt` → get rejects with it; put (no options.expiresAt) rejects with it", async () => {
    const injected = { thrown: "expiresAt getter" };
    const odd = {
      pending: false,
      get expiresAt() {
        throw injected;
      },
    };
    const { host, store } = setup({ rows: [[ID, odd]], secrets: [[ID, "v"]] });
    assert.strictEqual(await rejection(store.get(K)), injected);
    assert.strictEqual(await rejection(store.put(K, "x")), injected);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get"]);
    // with options.expiresAt given, existing.expiresAt is not read
    await store.put(K, "x", { expiresAt: new Date(Date.UTC(2090, 0, 1)) });
    assert.strictEqual(await store.get(K), "x");
    await assertInstanceStillWorks(store, host);
  });

  test("an enumerable getter that throws during the vault-delete marker spread → the marker counts as failed", async () => {
    const odd = {
      userId: USER,
      projectId: PROJECT,
      key: K,
      get boom() {
        throw new Error("spread getter");
      },
    };
    const { host, store } = setup({ rows: [[ID, odd]], secrets: [[ID, "v"]] });
    const injected = new Error("vault");
    host.fail("vault", "deleteSecret", injected);
    const err = await rejection(store.delete(K));
    // Plain JS: `{ ...row }` is evaluated inside the marker attempt, so its
    // throw is the marker failing: "also failed to persist", cause = vault error.
    assert.strictEqual(err.message, MSG.deleteFailed("delete", K, false));
    assert.strictEqual(err.cause, injected);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete", "vault.deleteSecret"]);
    await assertInstanceStillWorks(store, host);
  });

  test("the raw rows handed out by the KV are never mutated by any operation", async () => {
    const original = row(K, { label: "L", expiresAt: FUTURE, extra: { n: 1 } });
    const frozen = Object.freeze({ ...original, extra: Object.freeze({ n: 1 }) });
    const { host, store } = setup({ rows: [[ID, frozen]], secrets: [[ID, "v"]] });
    await store.get(K);
    await store.has(K);
    await store.listMetadata();
    host.fail("vault", "deleteSecret", new Error("x"));
    await rejection(store.delete(K));
    assert.deepStrictEqual(frozen, original);
  });
});

describe("odd getAll results", () => {
  const ENTRIES = () => [
    ["null entry", null],
    ["number entry", 5],
    ["string entry", "u/p/k"],
    ["entry with numeric key", { key: 5, value: row("n") }],
    ["entry without key", { value: row("n") }],
    ["entry without value", { key: id("nv") }],
    ["entry with null value", { key: id("nullv"), value: null }],
    ["entry with number value", { key: id("numv"), value: 7 }],
    ["entry with string value", { key: id("strv"), value: "x" }],
    ["entry whose value getter throws", { key: id("tv"), get value() { throw new Error("value getter"); } }],
  ];
  for (const [label, entry] of ENTRIES()) {
    test(`${label}: listMetadata/keys/deleteAll resolve without it or reject with a TypeError/the thrown value; instance fine`, async () => {
      const { host, store } = seeded([["good", "g"]]);
      const inner = host.metadata.getAll;
      host.metadata.getAll = async function () {
        const all = await inner.call(this);
        return [all[0], entry];
      };
      for (const op of ["listMetadata", "keys"]) {
        const r = await settle(store[op]());
        if (r.ok) {
          const keys = op === "keys" ? r.value : r.value.map((m) => m.key);
          assert.deepStrictEqual(keys, ["good"], `${op} lists only the good entry`);
        } else {
          assert.ok(r.error instanceof Error, `${op} rejected with ${safeString(r.error)}`);
        }
      }
      const d = await settle(store.deleteAll());
      if (d.ok) assert.ok(!host.kv.has(id("good")));
      host.metadata.getAll = inner;
      await assertInstanceStillWorks(store, host);
    });
  }

  test("getAll → a Set of entries (iterable, not an array) does not crash", async () => {
    const { host, store } = seeded([["good", "g"]]);
    const inner = host.metadata.getAll;
    host.metadata.getAll = async function () {
      return new Set(await inner.call(this));
    };
    await settle(store.listMetadata());
    await settle(store.deleteAll());
    host.metadata.getAll = inner;
    await assertInstanceStillWorks(store, host);
  });

  test("a sparse array / array with holes from getAll does not crash", async () => {
    const { host, store } = seeded([["good", "g"]]);
    const inner = host.metadata.getAll;
    host.metadata.getAll = async function () {
      const all = await inner.call(this);
      const sparse = [];
      sparse[3] = all[0];
      return sparse;
    };
    const r = await settle(store.keys());
    if (r.ok) assert.deepStrictEqual(r.value, ["good"]);
    host.metadata.getAll = inner;
    await assertInstanceStillWorks(store, host);
  });
});

describe("odd vault results", () => {
  for (const [label, value] of [
    ["an object", { a: 1 }],
    ["a number", 3],
    ["null", null],
    ["a symbol", Symbol("v")],
    ["a lone surrogate string", "\udc00"],
  ]) {
    test(`getSecret returning ${label} is returned as is`, async () => {
      const { host, store } = seeded([[K, value]]);
      assert.ok(Object.is(await store.get(K), value));
      await assertInstanceStillWorks(store, host);
    });
  }
});

describe("keys and sizes that stress a host-side map", () => {
  test("keys named like Object.prototype members work through the whole life cycle", async () => {
    const { host, store } = setup();
    const names = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "prototype", "then"];
    for (const k of names) await store.put(k, `v:${k}`, { label: k });
    for (const k of names) assert.strictEqual(await store.get(k), `v:${k}`);
    assert.deepStrictEqual(await store.keys(), names);
    assert.deepStrictEqual((await store.listMetadata()).map((m) => m.label), names);
    for (const k of names) assert.strictEqual(await store.delete(k), true);
    assert.strictEqual(host.kv.size, 0);
  });

  test("getAll listing the same id twice: deleteAll deletes it once and skips the vanished repeat", async () => {
    const { host, store } = seeded([["a", "1"]]);
    const inner = host.metadata.getAll;
    host.metadata.getAll = async function () {
      const all = await inner.call(this);
      return [all[0], all[0]];
    };
    await store.deleteAll();
    assert.deepStrictEqual(host.trace(), ["metadata.getAll", "metadata.get", "metadata.delete", "vault.deleteSecret", "metadata.get"]);
    host.metadata.getAll = inner;
    await assertInstanceStillWorks(store, host);
  });

  test("a KV with 5000 rows across scopes: listMetadata/keys/deleteAll are correct and finish", async () => {
    const rows = [];
    const secrets = [];
    for (let i = 0; i < 5000; i++) {
      const mine = i % 2 === 0;
      const key = `key-${i}`;
      const rid = mine ? id(key) : id(key, "someone-else");
      rows.push([rid, row(key, { label: `L${i}` }, mine ? {} : { user: "someone-else" })]);
      secrets.push([rid, `s${i}`]);
    }
    const { host, store } = setup({ rows, secrets });
    const started = Date.now();
    const list = await store.listMetadata();
    assert.strictEqual(list.length, 2500);
    assert.deepStrictEqual(list[1], {
      key: "key-2",
      label: "L2",
      provider: undefined,
      createdAt: PAST,
      updatedAt: PAST,
      expiresAt: undefined,
    });
    assert.strictEqual((await store.keys()).length, 2500);
    await store.deleteAll();
    assert.strictEqual(host.kv.size, 2500);
    assert.ok([...host.kv.keys()].every((k) => k.startsWith("someone-else/")));
    assert.ok(Date.now() - started < 15_000, "finished in reasonable time");
  });
});
