// SPEC §4 delete, commitDelete and deleteAll.
import { test, describe, assert } from "./helpers/harness.mjs";
import { engineMessage, thrownBy } from "./helpers/engine.mjs";
import {
  USER,
  PROJECT,
  PAST,
  PAST2,
  FUTURE,
  MSG,
  id,
  row,
  setup,
  seeded,
  rejection,
  assertPromise,
  assertWrapped,
  assertIsoWithin,
  assertKeyOrder,
  safeString,
} from "./helpers/util.mjs";

const K = "gh.token";
const ID = id(K);

const INJECTED = () => [
  ["an Error", new Error("boom")],
  ["a plain object", { code: "E_HOST" }],
  ["a string", "string failure"],
  ["a number", 0],
  ["undefined", undefined],
  ["null", null],
];

function assertAggregate(err, errors) {
  assert.ok(err instanceof AggregateError, `expected an AggregateError, got ${safeString(err)}`);
  assert.strictEqual(Object.getPrototypeOf(err), AggregateError.prototype);
  assert.strictEqual(err.message, MSG.deleteAll);
  assert.ok(Array.isArray(err.errors));
  assert.strictEqual(err.errors.length, errors.length, "one error per failed id");
  errors.forEach((check, i) => {
    if (typeof check === "function") check(err.errors[i]);
    else assert.strictEqual(err.errors[i], check, `errors[${i}] is the identical value`);
  });
}

describe("delete", () => {
  // Tested after ToString (SPEC §2): these texts fail the grammar.
  const BAD_KEYS = ["", "x".repeat(129), "a/b", "\u00e9", "a\n", {}, [], ["a", "b"]];
  for (const key of BAD_KEYS) {
    test(`invalid key ${safeString(key).slice(0, 20)} → false, no host call`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      assert.strictEqual(await assertPromise(store.delete(key)), false);
      assert.deepStrictEqual(host.calls, []);
    });
  }

  test("committed row → true; calls metadata.get, metadata.delete, vault.deleteSecret (metadata first)", async () => {
    const { host, store } = seeded([[K, "v"], ["keep", "k"]]);
    assert.strictEqual(await assertPromise(store.delete(K)), true);
    assert.deepStrictEqual(host.calls, [
      ["metadata", "get", [ID]],
      ["metadata", "delete", [ID]],
      ["vault", "deleteSecret", [ID]],
    ]);
    assert.ok(!host.kv.has(ID) && !host.secrets.has(ID));
    assert.ok(host.kv.has(id("keep")) && host.secrets.has(id("keep")));
    assert.strictEqual(await store.get(K), undefined);
  });

  test("missing → false, only metadata.get", async () => {
    const { host, store } = setup({ secrets: [[ID, "stray"]] });
    assert.strictEqual(await store.delete(K), false);
    assert.deepStrictEqual(host.calls, [["metadata", "get", [ID]]]);
    assert.ok(host.secrets.has(ID), "vault untouched");
  });

  // delete skips only `row === undefined` and then reads `row.pending`
  // (SPEC §3, second edition).
  test("a null row → rejects with the host's TypeError for null.pending; nothing deleted", async () => {
    const { host, store } = setup({ rows: [[ID, null]], secrets: [[ID, "x"]] });
    const err = await rejection(store.delete(K));
    const row = null;
    const expected = thrownBy(() => row.pending);
    assert.strictEqual(Object.getPrototypeOf(err), TypeError.prototype);
    assert.strictEqual(engineMessage(err.message), engineMessage(expected.message));
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    assert.ok(host.kv.has(ID) && host.secrets.has(ID));
  });

  for (const falsy of [0, "", false]) {
    test(`falsy row ${JSON.stringify(falsy)} → a committed row: deleted, true`, async () => {
      const { host, store } = setup({ rows: [[ID, falsy]], secrets: [[ID, "x"]] });
      assert.strictEqual(await store.delete(K), true);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete", "vault.deleteSecret"]);
      assert.ok(!host.kv.has(ID) && !host.secrets.has(ID));
    });
  }

  for (const [label, r] of [
    ["in-flight pending row", row(K, { pending: true })],
    ["orphan marker", row(K, { pending: true, orphanedAt: PAST2, orphanReason: "metadata-commit-failed" })],
    ["old orphan marker without orphanReason", row(K, { pending: true, orphanedAt: PAST2 })],
    ["expired pending row", row(K, { pending: true, expiresAt: PAST })],
  ]) {
    test(`${label} → false without touching anything`, async () => {
      const { host, store } = setup({ rows: [[ID, r]], secrets: [[ID, "x"]] });
      assert.strictEqual(await store.delete(K), false);
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
      assert.strictEqual(host.kv.get(ID), r);
      assert.strictEqual(host.secrets.get(ID), "x");
    });
  }

  test("an expired committed row is deleted normally → true", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    assert.strictEqual(await store.delete(K), true);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete", "vault.deleteSecret"]);
  });

  test("a row with pending:false or 'true' (not === true) is deleted → true", async () => {
    const { store } = seeded([["a", "1", { pending: false }], ["b", "2", { pending: "true" }]]);
    assert.strictEqual(await store.delete("a"), true);
    assert.strictEqual(await store.delete("b"), true);
  });

  for (const [label, injected] of INJECTED()) {
    test(`metadata.get rejecting with ${label} → rejects raw`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      host.fail("metadata", "get", injected);
      assert.strictEqual(await rejection(store.delete(K)), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    });

    test(`metadata.delete rejecting with ${label} → rejects raw, vault untouched`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      host.fail("metadata", "delete", injected);
      assert.strictEqual(await rejection(store.delete(K)), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete"]);
      assert.ok(host.secrets.has(ID));
    });

    test(`vault.deleteSecret rejecting with ${label} → marker "vault-delete-failed" persisted, wrapped error`, async () => {
      const existing = row(K, { label: "L", provider: "P", expiresAt: FUTURE, pending: false, extra: "x", nested: { n: 1 } });
      const { host, store } = setup({ rows: [[ID, existing]], secrets: [[ID, "v"]] });
      host.fail("vault", "deleteSecret", injected);
      const from = Date.now();
      const err = await rejection(store.delete(K));
      const to = Date.now();
      assertWrapped(err, MSG.deleteFailed("delete", K, true), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete", "vault.deleteSecret", "metadata.put"]);
      const [markerId, marker] = host.calls[3][2];
      assert.strictEqual(markerId, ID);
      assertIsoWithin(marker.orphanedAt, from, to);
      assert.deepStrictEqual(marker, {
        ...existing,
        pending: true,
        orphanedAt: marker.orphanedAt,
        orphanReason: "vault-delete-failed",
      });
      // spread order: the existing row's keys (pending stays in place), then the new ones
      assertKeyOrder(marker, [...Object.keys(existing), "orphanedAt", "orphanReason"]);
      assert.notStrictEqual(marker, existing);
      assert.strictEqual(existing.pending, false, "the existing row object is not mutated");
      assert.strictEqual(host.kv.get(ID), marker);
      assert.strictEqual(host.secrets.get(ID), "v");
      // the marker hides the key
      assert.strictEqual(await store.get(K), undefined);
      assert.strictEqual(await store.delete(K), false);
    });

    test(`vault.deleteSecret rejecting with ${label} and marker write failing → "also failed to persist"`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      host.fail("vault", "deleteSecret", injected).fail("metadata", "put", new Error("marker"));
      const err = await rejection(store.delete(K));
      assertWrapped(err, MSG.deleteFailed("delete", K, false), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.delete", "vault.deleteSecret", "metadata.put"]);
      assert.ok(!host.kv.has(ID));
    });
  }

  test("vault-delete-failed marker spreads the WHOLE existing row: unknown fields, shallow (nested objects shared)", async () => {
    const nested = { any: ["thing"] };
    const existing = { userId: USER, projectId: PROJECT, key: K, createdAt: PAST, custom: 1, nested };
    const { host, store } = setup({ rows: [[ID, existing]], secrets: [[ID, "v"]] });
    host.fail("vault", "deleteSecret", new Error("x"));
    await rejection(store.delete(K));
    const marker = host.kv.get(ID);
    assertKeyOrder(marker, ["userId", "projectId", "key", "createdAt", "custom", "nested", "pending", "orphanedAt", "orphanReason"]);
    assert.strictEqual(marker.custom, 1);
    assert.strictEqual(marker.nested, nested, "spread is shallow: the same nested object");
    assert.ok(!("label" in marker), "no field is added besides pending/orphanedAt/orphanReason");
  });

  test("marker from a frozen existing row works", async () => {
    const existing = Object.freeze(row(K, { label: "frozen" }));
    const { host, store } = setup({ rows: [[ID, existing]], secrets: [[ID, "v"]] });
    host.fail("vault", "deleteSecret", new Error("x"));
    const err = await rejection(store.delete(K));
    assert.strictEqual(err.message, MSG.deleteFailed("delete", K, true));
    assert.strictEqual(host.kv.get(ID).label, "frozen");
    assert.strictEqual(host.kv.get(ID).pending, true);
  });
});

describe("deleteAll", () => {
  function fixture() {
    const rows = [
      [id("a"), row("a")],
      [id("x", "other-user"), row("x", {}, { user: "other-user" })],
      [id("pend"), row("pend", { pending: true })],
      [id("orph"), row("orph", { pending: true, orphanedAt: PAST2, orphanReason: "vault-write-failed" })],
      [id("old-orph"), row("old-orph", { pending: true, orphanedAt: PAST2 })],
      [id("exp"), row("exp", { expiresAt: PAST })],
      [id("x", USER, "other-proj"), row("x", {}, { project: "other-proj" })],
      [id("intruder"), row("intruder", {}, { user: "mallory" })],
      ["mallory/" + PROJECT + "/lost", row("lost")],
      [id("b"), row("b", { label: "B" })],
    ];
    const secrets = rows.map(([k]) => [k, "secret of " + k]);
    return setup({ rows, secrets });
  }
  const SCOPED = ["a", "pend", "orph", "old-orph", "exp", "b"];

  test("deletes every scoped row incl. pending, orphaned and expired, in KV order; nothing else", async () => {
    const { host, store } = fixture();
    const untouched = [id("x", "other-user"), id("x", USER, "other-proj"), id("intruder"), "mallory/" + PROJECT + "/lost"];
    const result = await assertPromise(store.deleteAll());
    assert.strictEqual(result, undefined);
    const expected = [["metadata", "getAll", []]];
    for (const k of SCOPED) {
      expected.push(["metadata", "get", [id(k)]], ["metadata", "delete", [id(k)]], ["vault", "deleteSecret", [id(k)]]);
    }
    assert.deepStrictEqual(host.calls, expected);
    assert.deepStrictEqual([...host.kv.keys()], untouched);
    assert.deepStrictEqual([...host.secrets.keys()], untouched);
  });

  test("the listing reads of each row only userId and projectId, as the TS store's deleteAll", async () => {
    // Rows whose every field is a getter that logs its read.
    let reads = [];
    const logged = (key, fields) => {
      const plain = row(key, fields);
      const o = {};
      for (const name of Object.keys(plain)) {
        Object.defineProperty(o, name, {
          enumerable: true,
          get() {
            reads.push(`${key}.${name}`);
            return plain[name];
          },
        });
      }
      return o;
    };
    const rows = () => [
      [id("a"), logged("a", { expiresAt: FUTURE })],
      [id("p"), logged("p", { pending: true })],
    ];
    const { host, store } = setup({ rows: rows(), secrets: [[id("a"), "1"], [id("p"), "2"]] });
    // The scan's reads are the ones made before the first per-row metadata.get.
    let scanned;
    const get = host.metadata.get;
    host.metadata.get = function (...args) {
      scanned ??= [...reads];
      return get.apply(this, args);
    };
    await store.deleteAll();
    assert.deepStrictEqual(scanned, ["a.userId", "a.projectId", "p.userId", "p.projectId"]);
    assert.deepStrictEqual(host.trace().filter((c) => c === "vault.deleteSecret").length, 2);

    // listMetadata reads each entry whole before the next (SPEC §4's loop):
    // scope, pending, expiresAt (twice: `!== undefined`, then `new
    // Date(row.expiresAt)`), then the info's fields.
    reads = [];
    const { store: lister } = setup({ rows: rows() });
    await lister.listMetadata();
    assert.deepStrictEqual(reads, [
      "a.userId", "a.projectId", "a.pending", "a.expiresAt", "a.expiresAt",
      "a.key", "a.label", "a.provider", "a.createdAt", "a.updatedAt", "a.expiresAt",
      "p.userId", "p.projectId", "p.pending",
    ]);
  });

  test("empty KV (getAll → undefined) → resolves, only getAll", async () => {
    const { host, store } = setup();
    host.metadata.getAll = function () {
      host.calls.push(["metadata", "getAll", []]);
      return Promise.resolve(undefined);
    };
    assert.strictEqual(await store.deleteAll(), undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.getAll"]);
  });

  test("an id whose row vanished after getAll is skipped; one that became falsy is deleted", async () => {
    const { host, store } = seeded([["a", "1"], ["gone", "2"], ["zero", "3"], ["b", "4"]]);
    const inner = host.metadata.getAll;
    host.metadata.getAll = async function () {
      const all = await inner.call(this);
      host.kv.delete(id("gone"));
      host.kv.set(id("zero"), 0);
      return all;
    };
    await store.deleteAll();
    assert.deepStrictEqual(host.trace(), [
      "metadata.getAll",
      "metadata.get", "metadata.delete", "vault.deleteSecret",
      "metadata.get",
      "metadata.get", "metadata.delete", "vault.deleteSecret",
      "metadata.get", "metadata.delete", "vault.deleteSecret",
    ]);
    assert.ok(host.secrets.has(id("gone")), "a skipped id's vault entry is left alone");
  });

  test("the row re-read by metadata.get is used (a row that became pending is still deleted)", async () => {
    const { host, store } = seeded([["a", "1"]]);
    const inner = host.metadata.getAll;
    host.metadata.getAll = async function () {
      const all = await inner.call(this);
      host.kv.set(id("a"), row("a", { pending: true }));
      return all;
    };
    await store.deleteAll();
    assert.deepStrictEqual(host.trace(), ["metadata.getAll", "metadata.get", "metadata.delete", "vault.deleteSecret"]);
  });

  test("a row whose KV key has the prefix but whose row.key differs: the key in messages is the id minus prefix", async () => {
    const { host, store } = setup({ rows: [[id("kv-key"), row("row-key")]], secrets: [[id("kv-key"), "s"]] });
    const injected = new Error("vault");
    host.fail("vault", "deleteSecret", injected);
    const err = await rejection(store.deleteAll());
    assertAggregate(err, [(e) => assertWrapped(e, MSG.deleteFailed("deleteAll", "kv-key", true), injected)]);
  });

  for (const [label, injected] of INJECTED()) {
    test(`one vault.deleteSecret rejecting with ${label} → others still deleted, AggregateError of the wrapped error`, async () => {
      const { host, store } = seeded([["a", "1"], ["b", "2", { extra: "kept in marker" }], ["c", "3"]]);
      const bRow = host.kv.get(id("b"));
      host.fail("vault", "deleteSecret", injected, { when: (vid) => vid === id("b") });
      const err = await rejection(store.deleteAll());
      assertAggregate(err, [(e) => assertWrapped(e, MSG.deleteFailed("deleteAll", "b", true), injected)]);
      assert.deepStrictEqual(host.trace(), [
        "metadata.getAll",
        "metadata.get", "metadata.delete", "vault.deleteSecret",
        "metadata.get", "metadata.delete", "vault.deleteSecret", "metadata.put",
        "metadata.get", "metadata.delete", "vault.deleteSecret",
      ]);
      const marker = host.kv.get(id("b"));
      assert.deepStrictEqual(marker, {
        ...bRow,
        pending: true,
        orphanedAt: marker.orphanedAt,
        orphanReason: "vault-delete-failed",
      });
      assert.deepStrictEqual([...host.kv.keys()], [id("b")]);
      assert.deepStrictEqual([...host.secrets.keys()], [id("b")]);
    });

    test(`one metadata.delete rejecting with ${label} → errors holds it raw, vault untouched for it, rest deleted`, async () => {
      const { host, store } = seeded([["a", "1"], ["b", "2"], ["c", "3"]]);
      host.fail("metadata", "delete", injected, { when: (vid) => vid === id("a") });
      const err = await rejection(store.deleteAll());
      assertAggregate(err, [injected]);
      assert.deepStrictEqual(host.callsOf("vault", "deleteSecret"), [[id("b")], [id("c")]]);
      assert.ok(host.secrets.has(id("a")) && host.kv.has(id("a")));
    });

    test(`one metadata.get rejecting with ${label} → collected, the rest still processed`, async () => {
      const { host, store } = seeded([["a", "1"], ["b", "2"]]);
      host.fail("metadata", "get", injected, { when: (vid) => vid === id("a") });
      const err = await rejection(store.deleteAll());
      assertAggregate(err, [injected]);
      assert.ok(!host.kv.has(id("b")) && !host.secrets.has(id("b")));
      assert.ok(host.kv.has(id("a")));
    });

    test(`getAll rejecting with ${label} → deleteAll rejects raw`, async () => {
      const { host, store } = seeded([["a", "1"]]);
      host.fail("metadata", "getAll", injected);
      assert.strictEqual(await rejection(store.deleteAll()), injected);
      assert.deepStrictEqual(host.trace(), ["metadata.getAll"]);
    });
  }

  test("several failures → errors in id order; marker failure gives the 'also failed' suffix", async () => {
    const { host, store } = seeded([["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]]);
    const eA = new Error("meta a");
    const eC = "vault c";
    host
      .fail("metadata", "delete", eA, { when: (vid) => vid === id("a") })
      .fail("vault", "deleteSecret", eC, { when: (vid) => vid === id("c") })
      .fail("metadata", "put", new Error("marker c"));
    const err = await rejection(store.deleteAll());
    assertAggregate(err, [eA, (e) => assertWrapped(e, MSG.deleteFailed("deleteAll", "c", false), eC)]);
    assert.ok(!host.kv.has(id("b")) && !host.kv.has(id("d")));
    assert.ok(!host.secrets.has(id("b")) && !host.secrets.has(id("d")));
  });

  test("a single failure is still reported as an AggregateError (never the raw error)", async () => {
    const { host, store } = seeded([["only", "1"]]);
    const injected = new Error("m");
    host.fail("metadata", "delete", injected);
    const err = await rejection(store.deleteAll());
    assert.notStrictEqual(err, injected);
    assertAggregate(err, [injected]);
  });

  test("deleteAll of one scope leaves another store's entries on the same host intact", async () => {
    const { host, store } = seeded([["k", "mine"]]);
    const { ServerCredentialStore } = await import("./helpers/impl.mjs");
    const other = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: "p2" });
    await other.put("k", "theirs");
    await store.deleteAll();
    assert.strictEqual(await store.get("k"), undefined);
    assert.strictEqual(await other.get("k"), "theirs");
    assert.deepStrictEqual(await other.keys(), ["k"]);
  });
});
