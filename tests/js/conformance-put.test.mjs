// SPEC §4 put: key check, base row, new-entry protocol, update, failures.
import { test, describe, assert } from "./helpers/harness.mjs";
import {
  USER,
  PROJECT,
  PAST,
  PAST2,
  FUTURE,
  BASE_KEYS,
  MSG,
  id,
  row,
  setup,
  rejection,
  assertPromise,
  assertTypeError,
  assertWrapped,
  assertIsoWithin,
  assertKeyOrder,
} from "./helpers/util.mjs";

const K = "openai";
const ID = id(K);

const INJECTED = () => [
  ["an Error", new Error("boom")],
  ["a RangeError", new RangeError("range")],
  ["a plain object", { code: "E_HOST" }],
  ["a string", "string failure"],
  ["a number", 7],
  ["undefined", undefined],
  ["null", null],
];

/** Runs fn and returns [result, fromMs, toMs] bracketing it. */
async function timed(fn) {
  const from = Date.now();
  const result = await fn();
  const to = Date.now();
  return [result, from, to];
}

describe("put: key check", () => {
  const BAD_KEYS = [
    ["empty", ""],
    ["129 chars", "k".repeat(129)],
    ["slash", "a/b"],
    ["parent escape", "../x"],
    ["space", "a b"],
    ["trailing newline", "abc\n"],
    ["unicode", "cl\u00e9"],
    // Tested after ToString (SPEC §2): these texts fail too.
    ["plain object", {}],
    ["array of two keys", ["a", "b"]],
    ["function", () => "k"],
  ];
  for (const [label, key] of BAD_KEYS) {
    test(`invalid key (${label}) → rejects TypeError("${MSG.invalidKey}"), no host call`, async () => {
      const { host, store } = setup();
      let p;
      assert.doesNotThrow(() => {
        p = store.put(key, "secret-value");
      }, "put never throws synchronously");
      assertPromise(p);
      const err = await rejection(p);
      assertTypeError(err, MSG.invalidKey);
      assert.deepStrictEqual(host.calls, []);
    });
  }

  test("a key whose ToString passes is stored under that text; the row keeps the key as given", async () => {
    const { host, store } = setup();
    const keys = [1, null, undefined, { toString: () => "k" }, new String("s"), ["a"], 7n];
    for (const key of keys) await store.put(key, "v");
    assert.deepStrictEqual([...host.kv.keys()], ["1", "null", "undefined", "k", "s", "a", "7"].map((k) => id(k)));
    [...host.kv.values()].forEach((r, i) => assert.ok(Object.is(r.key, keys[i]), `row ${i} keeps its key`));
  });

  test("a Symbol key → rejects with the host's TypeError (ToString), no host call", async () => {
    const { host, store } = setup();
    const err = await rejection(assertPromise(store.put(Symbol("k"), "v")));
    assert.strictEqual(Object.getPrototypeOf(err), TypeError.prototype);
    assert.deepStrictEqual(host.calls, []);
  });

  test("128-char key and every allowed character are accepted", async () => {
    const { host, store } = setup();
    const long = "K".repeat(128);
    const odd = "aZ09._:-";
    await store.put(long, "v1");
    await store.put(odd, "v2");
    await store.put(".", "v3");
    assert.strictEqual(host.secrets.get(id(long)), "v1");
    assert.strictEqual(host.secrets.get(id(odd)), "v2");
    assert.strictEqual(host.secrets.get(id(".")), "v3");
  });
});

describe("put: new entry", () => {
  test("calls get, put(pending:true), setSecret, put(pending:false) with exact rows", async () => {
    const { host, store } = setup();
    const [result, from, to] = await timed(() => assertPromise(store.put(K, "sk-1")));
    assert.strictEqual(result, undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.put", "vault.setSecret", "metadata.put"]);
    const [[getId], [id1, pendingRow], [sid, sval], [id2, committedRow]] = host.calls.map((c) => c[2]);
    assert.strictEqual(getId, ID);
    assert.strictEqual(id1, ID);
    assert.strictEqual(sid, ID);
    assert.strictEqual(sval, "sk-1");
    assert.strictEqual(id2, ID);
    assert.deepStrictEqual(
      host.calls.map((c) => c[2].length),
      [1, 2, 2, 2],
      "exact arity",
    );

    assertIsoWithin(pendingRow.createdAt, from, to);
    const now = pendingRow.createdAt;
    const base = {
      userId: USER,
      projectId: PROJECT,
      key: K,
      label: undefined,
      provider: undefined,
      createdAt: now,
      updatedAt: now,
      expiresAt: undefined,
    };
    assert.deepStrictEqual(pendingRow, { ...base, pending: true });
    assert.deepStrictEqual(committedRow, { ...base, pending: false });
    assertKeyOrder(pendingRow, [...BASE_KEYS, "pending"]);
    assertKeyOrder(committedRow, [...BASE_KEYS, "pending"]);
    for (const r of [pendingRow, committedRow]) {
      assert.ok("label" in r && "provider" in r && "expiresAt" in r, "undefined fields are own properties");
      assert.strictEqual(Object.getPrototypeOf(r), Object.prototype, "plain objects");
    }
    assert.notStrictEqual(pendingRow, committedRow, "each write is a fresh object");
    assert.strictEqual(pendingRow.pending, true, "the first row object is not mutated afterwards");
    assert.strictEqual(host.kv.get(ID), committedRow);
    assert.strictEqual(host.secrets.get(ID), "sk-1");
  });

  test("options label, provider and expiresAt (Date → toISOString) are written", async () => {
    const { host, store } = setup();
    const expires = new Date(Date.UTC(2031, 4, 6, 7, 8, 9, 10));
    await store.put(K, "sk", { label: "Prod key", provider: "openai", expiresAt: expires });
    const r = host.kv.get(ID);
    assert.strictEqual(r.label, "Prod key");
    assert.strictEqual(r.provider, "openai");
    assert.strictEqual(r.expiresAt, "2031-05-06T07:08:09.010Z");
    assert.strictEqual(r.pending, false);
    assertKeyOrder(r, [...BASE_KEYS, "pending"]);
    const [info] = await store.listMetadata();
    assert.deepStrictEqual(info, {
      key: K,
      label: "Prod key",
      provider: "openai",
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      expiresAt: "2031-05-06T07:08:09.010Z",
    });
  });

  test("expiresAt: any object's toISOString() is called once, as a method, and its result used as is", async () => {
    const { host, store } = setup();
    const seen = [];
    const when = {
      toISOString() {
        seen.push(this);
        return "custom-iso";
      },
    };
    await store.put(K, "sk", { expiresAt: when });
    assert.deepStrictEqual(seen, [when]);
    assert.strictEqual(host.kv.get(ID).expiresAt, "custom-iso");
    // an unparseable expiresAt is never expired
    assert.strictEqual(await store.get(K), "sk");
  });

  test("options omitted, undefined, or {} → label/provider/expiresAt undefined", async () => {
    const { host, store } = setup();
    await store.put("a", "1");
    await store.put("b", "2", undefined);
    await store.put("c", "3", {});
    for (const k of ["a", "b", "c"]) {
      const r = host.kv.get(id(k));
      assert.strictEqual(r.label, undefined);
      assert.strictEqual(r.provider, undefined);
      assert.strictEqual(r.expiresAt, undefined);
      assert.ok("label" in r && "provider" in r && "expiresAt" in r);
    }
  });

  test("the options object is neither stored nor mutated", async () => {
    const { host, store } = setup();
    const options = Object.freeze({ label: "L", provider: "P", expiresAt: new Date(Date.UTC(2040, 0, 1)) });
    await store.put(K, "sk", options);
    assert.notStrictEqual(host.kv.get(ID), options);
    assert.deepStrictEqual(Object.keys(options), ["label", "provider", "expiresAt"]);
  });

  test("the new entry is readable afterwards", async () => {
    const { store } = setup();
    await store.put(K, "sk");
    assert.strictEqual(await store.get(K), "sk");
    assert.strictEqual(await store.has(K), true);
    assert.deepStrictEqual(await store.keys(), [K]);
  });

  for (const [label, injected] of INJECTED()) {
    test(`pending write rejecting with ${label} → rejects raw, vault never touched`, async () => {
      const { host, store } = setup();
      host.fail("metadata", "put", injected);
      const err = await rejection(store.put(K, "sk"));
      assert.strictEqual(err, injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.put"]);
      assert.strictEqual(host.kv.size, 0);
      assert.strictEqual(host.secrets.size, 0);
    });

    test(`vault write rejecting with ${label}, rollback ok → rejects raw, row removed`, async () => {
      const { host, store } = setup();
      host.fail("vault", "setSecret", injected);
      const err = await rejection(store.put(K, "sk"));
      assert.strictEqual(err, injected);
      assert.deepStrictEqual(host.calls.slice(2), [
        ["vault", "setSecret", [ID, "sk"]],
        ["metadata", "delete", [ID]],
      ]);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.put", "vault.setSecret", "metadata.delete"]);
      assert.strictEqual(host.kv.size, 0);
    });

    test(`vault write rejecting with ${label}, rollback fails → marker "vault-write-failed", wrapped error`, async () => {
      const { host, store } = setup();
      const rollbackErr = new Error("rollback failed");
      host.fail("vault", "setSecret", injected).fail("metadata", "delete", rollbackErr);
      const [err, from, to] = await timed(() => rejection(store.put(K, "sk")));
      assertWrapped(err, MSG.vaultWriteFailed(ID), injected);
      assert.deepStrictEqual(host.trace(), [
        "metadata.get",
        "metadata.put",
        "vault.setSecret",
        "metadata.delete",
        "metadata.put",
      ]);
      const pendingRow = host.calls[1][2][1];
      const [markerId, marker] = host.calls[4][2];
      assert.strictEqual(markerId, ID);
      assertIsoWithin(marker.orphanedAt, from, to);
      assert.deepStrictEqual(marker, {
        userId: USER,
        projectId: PROJECT,
        key: K,
        label: undefined,
        provider: undefined,
        createdAt: pendingRow.createdAt,
        updatedAt: pendingRow.updatedAt,
        expiresAt: undefined,
        pending: true,
        orphanedAt: marker.orphanedAt,
        orphanReason: "vault-write-failed",
      });
      assertKeyOrder(marker, [...BASE_KEYS, "pending", "orphanedAt", "orphanReason"]);
      assert.strictEqual(host.kv.get(ID), marker);
      // invisible to readers, and delete leaves it alone
      assert.strictEqual(await store.get(K), undefined);
      assert.strictEqual(await store.has(K), false);
      assert.strictEqual(await store.delete(K), false);
      assert.deepStrictEqual(await store.keys(), []);
    });

    test(`commit write rejecting with ${label} → marker "metadata-commit-failed", wrapped error, vault kept`, async () => {
      const { host, store } = setup();
      host.fail("metadata", "put", injected, { nth: 2 });
      const [err, from, to] = await timed(() => rejection(store.put(K, "sk", { label: "L" })));
      assertWrapped(err, MSG.commitFailed(ID), injected);
      assert.deepStrictEqual(host.trace(), [
        "metadata.get",
        "metadata.put",
        "vault.setSecret",
        "metadata.put",
        "metadata.put",
      ]);
      const pendingRow = host.calls[1][2][1];
      const [markerId, marker] = host.calls[4][2];
      assert.strictEqual(markerId, ID);
      assertIsoWithin(marker.orphanedAt, from, to);
      const { pending: _p, ...base } = pendingRow;
      assert.deepStrictEqual(marker, {
        ...base,
        pending: true,
        orphanedAt: marker.orphanedAt,
        orphanReason: "metadata-commit-failed",
      });
      assert.strictEqual(marker.label, "L");
      assertKeyOrder(marker, [...BASE_KEYS, "pending", "orphanedAt", "orphanReason"]);
      assert.strictEqual(host.secrets.get(ID), "sk", "vault bytes are kept");
      assert.strictEqual(await store.get(K), undefined);
    });
  }

  test("pending write throwing synchronously → rejects with that value, vault never touched", async () => {
    const { host, store } = setup();
    const injected = new Error("sync");
    host.fail("metadata", "put", injected, { sync: true });
    assert.strictEqual(await rejection(store.put(K, "sk")), injected);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.put"]);
  });

  test("vault write AND rollback AND marker write fail → still the same wrapped error", async () => {
    const { host, store } = setup();
    const vaultErr = new Error("vault");
    host
      .fail("vault", "setSecret", vaultErr)
      .fail("metadata", "delete", new Error("rb"))
      .fail("metadata", "put", new Error("marker"), { nth: 2 });
    const err = await rejection(store.put(K, "sk"));
    assertWrapped(err, MSG.vaultWriteFailed(ID), vaultErr);
    assert.deepStrictEqual(host.trace(), [
      "metadata.get",
      "metadata.put",
      "vault.setSecret",
      "metadata.delete",
      "metadata.put",
    ]);
    assert.strictEqual(host.kv.get(ID).pending, true, "the pending row is what is left");
  });

  test("commit AND marker write fail → still the same wrapped error, vault kept", async () => {
    const { host, store } = setup();
    const commitErr = "commit failed";
    host.fail("metadata", "put", commitErr, { nth: 2 }).fail("metadata", "put", new Error("marker"), { nth: 3 });
    const err = await rejection(store.put(K, "sk"));
    assertWrapped(err, MSG.commitFailed(ID), commitErr);
    assert.strictEqual(host.secrets.get(ID), "sk");
    assert.deepStrictEqual(host.callsOf("vault", "deleteSecret"), []);
  });

  test("metadata.get rejecting → put rejects raw, nothing written", async () => {
    const { host, store } = setup();
    const injected = { reason: "kv offline" };
    host.fail("metadata", "get", injected);
    assert.strictEqual(await rejection(store.put(K, "sk")), injected);
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
  });
});

describe("put: update of an existing row", () => {
  function existingRow(fields = {}) {
    return row(K, {
      label: "old label",
      provider: "old provider",
      createdAt: PAST,
      updatedAt: PAST2,
      expiresAt: FUTURE,
      extra: "unknown field",
      nested: { deep: true },
      ...fields,
    });
  }

  test("calls get, setSecret, put(base) — base carries label/provider/createdAt/expiresAt only", async () => {
    const existing = Object.freeze(existingRow());
    const snapshot = structuredClone(existing);
    const { host, store } = setup({ rows: [[ID, existing]], secrets: [[ID, "old"]] });
    const [result, from, to] = await timed(() => store.put(K, "new"));
    assert.strictEqual(result, undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
    assert.deepStrictEqual(host.calls[1][2], [ID, "new"]);
    const [putId, written] = host.calls[2][2];
    assert.strictEqual(putId, ID);
    assertIsoWithin(written.updatedAt, from, to);
    assert.deepStrictEqual(written, {
      userId: USER,
      projectId: PROJECT,
      key: K,
      label: "old label",
      provider: "old provider",
      createdAt: PAST,
      updatedAt: written.updatedAt,
      expiresAt: FUTURE,
    });
    assertKeyOrder(written, BASE_KEYS);
    assert.ok(!("pending" in written), "update writes base without pending");
    assert.ok(!("extra" in written) && !("nested" in written), "other fields are not carried over");
    assert.deepStrictEqual(existing, snapshot, "the existing row is not mutated");
    assert.strictEqual(await store.get(K), "new");
  });

  test("options override with ?? semantics: '' and 0 override, null/undefined carry over", async () => {
    const { host, store } = setup({ rows: [[ID, existingRow()]], secrets: [[ID, "old"]] });
    await store.put(K, "v", { label: "", provider: 0 });
    let w = host.kv.get(ID);
    assert.strictEqual(w.label, "");
    assert.strictEqual(w.provider, 0);
    host.kv.set(ID, existingRow());
    await store.put(K, "v", { label: null, provider: undefined });
    w = host.kv.get(ID);
    assert.strictEqual(w.label, "old label");
    assert.strictEqual(w.provider, "old provider");
  });

  test("options.expiresAt replaces; a falsy options.expiresAt carries the old one over", async () => {
    for (const falsy of [undefined, null, 0, "", false]) {
      const { host, store } = setup({ rows: [[ID, existingRow()]], secrets: [[ID, "old"]] });
      await store.put(K, "v", { expiresAt: falsy });
      assert.strictEqual(host.kv.get(ID).expiresAt, FUTURE, `expiresAt ${String(falsy)}`);
    }
    const { host, store } = setup({ rows: [[ID, existingRow()]], secrets: [[ID, "old"]] });
    await store.put(K, "v", { expiresAt: new Date(Date.UTC(2050, 0, 2)) });
    assert.strictEqual(host.kv.get(ID).expiresAt, "2050-01-02T00:00:00.000Z");
  });

  test("an expired existing row is updated in place (createdAt kept, expiresAt carried unless given)", async () => {
    const { host, store } = setup({ rows: [[ID, existingRow({ expiresAt: PAST })]], secrets: [[ID, "old"]] });
    await store.put(K, "v");
    assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
    assert.strictEqual(host.kv.get(ID).expiresAt, PAST);
    assert.strictEqual(host.kv.get(ID).createdAt, PAST);
  });

  test("existing row without createdAt → createdAt = now (existing?.createdAt ?? now)", async () => {
    const r = existingRow();
    delete r.createdAt;
    const { host, store } = setup({ rows: [[ID, r]], secrets: [[ID, "old"]] });
    await store.put(K, "v");
    const w = host.kv.get(ID);
    assert.strictEqual(w.createdAt, w.updatedAt);
  });

  test("a pending existing row (orphan marker) takes the update path and becomes committed", async () => {
    const marker = existingRow({ pending: true, orphanedAt: PAST2, orphanReason: "vault-write-failed" });
    const { host, store } = setup({ rows: [[ID, marker]] });
    await store.put(K, "revived");
    assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
    const w = host.kv.get(ID);
    assertKeyOrder(w, BASE_KEYS);
    assert.ok(!("pending" in w) && !("orphanedAt" in w) && !("orphanReason" in w));
    assert.strictEqual(w.createdAt, PAST);
    assert.strictEqual(await store.get(K), "revived");
  });

  test("base takes userId/projectId/key from the store, not from the existing row", async () => {
    const odd = existingRow({ userId: "mallory", projectId: "elsewhere", key: "other" });
    const { host, store } = setup({ rows: [[ID, odd]] });
    await store.put(K, "v");
    const w = host.kv.get(ID);
    assert.strictEqual(w.userId, USER);
    assert.strictEqual(w.projectId, PROJECT);
    assert.strictEqual(w.key, K);
  });

  test("existing row null (falsy but !== undefined) takes the update path (SPEC: new entry iff existing === undefined)", async () => {
    const { host, store } = setup({ rows: [[ID, null]] });
    await store.put(K, "v");
    assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
    const w = host.kv.get(ID);
    assertKeyOrder(w, BASE_KEYS);
    assert.strictEqual(w.createdAt, w.updatedAt);
    assert.strictEqual(w.label, undefined);
  });

  for (const [label, injected] of INJECTED()) {
    test(`update: vault write rejecting with ${label} → rejects raw, metadata not written`, async () => {
      const { host, store } = setup({ rows: [[ID, existingRow()]], secrets: [[ID, "old"]] });
      host.fail("vault", "setSecret", injected);
      assert.strictEqual(await rejection(store.put(K, "new")), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret"]);
      assert.deepStrictEqual(host.kv.get(ID), existingRow());
      assert.strictEqual(host.secrets.get(ID), "old");
    });

    test(`update: metadata write rejecting with ${label} → rejects raw, nothing rolled back`, async () => {
      const { host, store } = setup({ rows: [[ID, existingRow()]], secrets: [[ID, "old"]] });
      host.fail("metadata", "put", injected);
      assert.strictEqual(await rejection(store.put(K, "new")), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.setSecret", "metadata.put"]);
      assert.strictEqual(host.secrets.get(ID), "new", "vault keeps the new value");
      assert.deepStrictEqual(host.kv.get(ID), existingRow(), "old row stays");
    });
  }
});

describe("put: the value is handed to vault.setSecret untouched", () => {
  const VALUES = () => [
    ["a string", "plain"],
    ["an empty string", ""],
    ["a string with NUL and emoji", "a\u0000b\u{1F511}"],
    ["a lone surrogate string", "\ud800x"],
    ["a number", 42],
    ["NaN", Number.NaN],
    ["null", null],
    ["undefined", undefined],
    ["an object", { secret: "x" }],
    ["an array", ["x"]],
    ["a symbol", Symbol("s")],
    ["a function", () => "x"],
    ["a Uint8Array", new Uint8Array([1, 2, 3])],
    ["a bigint", 10n ** 30n],
    ["a Date", new Date(0)],
  ];
  for (const [label, value] of VALUES()) {
    test(`${label}, new entry and update`, async () => {
      const { host, store } = setup();
      await store.put(K, value);
      await store.put(K, value);
      const values = host.callsOf("vault", "setSecret").map((a) => a[1]);
      assert.strictEqual(values.length, 2);
      for (const v of values) assert.ok(Object.is(v, value), "same value (Object.is)");
      assert.ok(Object.is(await store.get(K), value));
    });
  }
});
