// SPEC §4 get / has / keys / listMetadata, and the expiry rules of §3.
import { test, describe, assert } from "./helpers/harness.mjs";
import {
  USER,
  PROJECT,
  PAST,
  PAST2,
  FUTURE,
  INFO_KEYS,
  id,
  row,
  setup,
  seeded,
  rejection,
  assertPromise,
  assertKeyOrder,
  isIso,
} from "./helpers/util.mjs";

const K = "api.key";
const ID = id(K);

const deleteTrace = (vid) => [
  ["metadata", "get", [vid]],
  ["metadata", "get", [vid]],
  ["metadata", "delete", [vid]],
  ["vault", "deleteSecret", [vid]],
];

// Injected failure values: an Error, a non-Error object, and primitives.
const INJECTED = () => [
  ["an Error", new Error("boom")],
  ["a TypeError subclass instance", new (class HostError extends TypeError {})("host")],
  ["a plain object", { code: "E_HOST" }],
  ["a string", "string failure"],
  ["a number", 42],
  ["undefined", undefined],
  ["null", null],
];

describe("get", () => {
  test("committed row → the vault's value; calls metadata.get(id) then vault.getSecret(id)", async () => {
    const { host, store } = seeded([[K, "s3cret"]]);
    const p = assertPromise(store.get(K));
    assert.strictEqual(await p, "s3cret");
    assert.deepStrictEqual(host.calls, [
      ["metadata", "get", [ID]],
      ["vault", "getSecret", [ID]],
    ]);
  });

  test("returns exactly what vault.getSecret returns (identity, and undefined)", async () => {
    const value = { opaque: true };
    const { host, store } = seeded([[K, value], ["gone", "x"]]);
    assert.strictEqual(await store.get(K), value);
    host.secrets.delete(id("gone"));
    assert.strictEqual(await store.get("gone"), undefined);
  });

  test("missing row → undefined without touching the vault", async () => {
    const { host, store } = setup({ secrets: [[ID, "orphan-bytes"]] });
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.calls, [["metadata", "get", [ID]]]);
  });

  for (const falsy of [null, 0, "", false, Number.NaN]) {
    test(`falsy row (${String(falsy) || '""'}) is missing → undefined, no vault call`, async () => {
      const { host, store } = setup({ rows: [[ID, falsy]], secrets: [[ID, "x"]] });
      assert.strictEqual(await store.get(K), undefined);
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    });
  }

  test("pending:true → undefined, no vault call, nothing deleted", async () => {
    const { host, store } = setup({ rows: [[ID, row(K, { pending: true })]], secrets: [[ID, "x"]] });
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    assert.ok(host.kv.has(ID));
  });

  test("pending:true AND expired → undefined and NOT deleted (pending is checked first)", async () => {
    const { host, store } = setup({
      rows: [[ID, row(K, { pending: true, expiresAt: PAST })]],
      secrets: [[ID, "x"]],
    });
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    assert.ok(host.kv.has(ID));
    assert.ok(host.secrets.has(ID));
  });

  for (const p of [false, "true", 1, null, {}]) {
    test(`only pending === true hides a row (pending: ${JSON.stringify(p)} is visible)`, async () => {
      const { store } = seeded([[K, "v", { pending: p }]]);
      assert.strictEqual(await store.get(K), "v");
      assert.strictEqual(await store.has(K), true);
      assert.deepStrictEqual(await store.keys(), [K]);
    });
  }

  test("row without a pending field is committed", async () => {
    const r = row(K);
    delete r.pending;
    const { store } = setup({ rows: [[ID, r]], secrets: [[ID, "v"]] });
    assert.strictEqual(await store.get(K), "v");
  });

  test("expired row → get deletes it (delete's own calls visible) and returns undefined", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }], ["other", "o"]]);
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.calls, deleteTrace(ID));
    assert.ok(!host.kv.has(ID));
    assert.ok(!host.secrets.has(ID));
    assert.ok(host.kv.has(id("other")) && host.secrets.has(id("other")));
  });

  test("not-yet-expired row → value, nothing deleted", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: FUTURE }]]);
    assert.strictEqual(await store.get(K), "v");
    assert.deepStrictEqual(host.trace(), ["metadata.get", "vault.getSecret"]);
  });

  // expiresAt is judged as `expiresAt !== undefined && new Date(expiresAt) <= new Date()`.
  const EXPIRY_CASES = [
    ["null (epoch 0)", null, true],
    ["number 0", 0, true],
    ["number in the past", Date.UTC(2001, 0, 1), true],
    ["number far in the future", Date.UTC(2999, 0, 1), false],
    ["RFC 1123 date in the past", "Sat, 01 Jan 2000 00:00:00 GMT", true],
    ["date-only ISO in the past", "2000-01-01", true],
    ["date-only ISO in the future", "2999-01-01", false],
    ["ISO with offset in the past", "2001-01-01T00:00:00+05:00", true],
    ["unparseable string", "not a date", false],
    ["empty string", "", false],
    ["object", {}, false],
    ["true (1 ms after epoch)", true, true],
    ["Date object in the past", new Date(Date.UTC(2001, 0, 1)), true],
    ["Date object in the future", new Date(Date.UTC(2999, 0, 1)), false],
    ["out-of-range number", 1e20, false],
  ];
  for (const [label, expiresAt, expired] of EXPIRY_CASES) {
    test(`expiresAt ${label} → ${expired ? "expired" : "not expired"}`, async () => {
      const { host, store } = seeded([[K, "v", { expiresAt }], ["k2", "v2", { expiresAt }]]);
      assert.strictEqual(await store.get(K), expired ? undefined : "v");
      assert.strictEqual(host.kv.has(ID), !expired, "expired rows are deleted by get");
      assert.strictEqual(await store.has("k2"), !expired);
      assert.strictEqual(host.kv.has(id("k2")), !expired, "expired rows are deleted by has");
    });
  }

  test("expiresAt exactly undefined (own property) is never expired", async () => {
    const { store } = seeded([[K, "v", { expiresAt: undefined }]]);
    assert.strictEqual(await store.get(K), "v");
  });

  test("get swallows a failing metadata.delete of the expired row", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    host.fail("metadata", "delete", new Error("kv down"));
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get", "metadata.delete"]);
    assert.ok(host.kv.has(ID), "row kept (delete failed)");
    assert.ok(host.secrets.has(ID), "vault untouched");
  });

  test("get swallows a failing vault.deleteSecret; the orphan marker is persisted", async () => {
    const original = row(K, { expiresAt: PAST, label: "L" });
    const { host, store } = setup({ rows: [[ID, original]], secrets: [[ID, "v"]] });
    host.fail("vault", "deleteSecret", new Error("vault down"));
    const before = Date.now();
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.trace(), [
      "metadata.get",
      "metadata.get",
      "metadata.delete",
      "vault.deleteSecret",
      "metadata.put",
    ]);
    const marker = host.kv.get(ID);
    assert.ok(isIso(marker.orphanedAt));
    assert.ok(new Date(marker.orphanedAt).getTime() >= before - 1);
    assert.deepStrictEqual(marker, {
      ...original,
      pending: true,
      orphanedAt: marker.orphanedAt,
      orphanReason: "vault-delete-failed",
    });
    // The marker hides the key from now on.
    assert.strictEqual(await store.get(K), undefined);
    assert.strictEqual(await store.has(K), false);
  });

  test("get swallows the delete error even when the marker write fails too", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    host.fail("vault", "deleteSecret", "vault down").fail("metadata", "put", "kv down");
    assert.strictEqual(await store.get(K), undefined);
    assert.strictEqual(await store.has(K), false);
  });

  test("get swallows a failing second metadata.get inside its delete", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    host.fail("metadata", "get", new Error("flaky"), { nth: 2 });
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get"]);
  });

  test("if the row turned pending before get's delete re-reads it, nothing is deleted", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    const inner = host.metadata.get;
    let n = 0;
    host.metadata.get = function (key) {
      n += 1;
      if (n === 2) host.kv.set(ID, row(K, { pending: true }));
      return inner.call(this, key);
    };
    assert.strictEqual(await store.get(K), undefined);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get"]);
    assert.ok(host.kv.has(ID) && host.secrets.has(ID));
  });

  for (const [label, injected] of INJECTED()) {
    test(`metadata.get rejecting with ${label} → get rejects with the identical value`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      host.fail("metadata", "get", injected);
      const err = await rejection(store.get(K));
      assert.strictEqual(err, injected);
      assert.deepStrictEqual(host.trace(), ["metadata.get"]);
    });
    test(`vault.getSecret rejecting with ${label} → get rejects with the identical value`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      host.fail("vault", "getSecret", injected);
      const err = await rejection(store.get(K));
      assert.strictEqual(err, injected);
    });
  }
});

describe("has", () => {
  test("committed row → true without touching the vault", async () => {
    const { host, store } = seeded([[K, "v"]]);
    assert.strictEqual(await assertPromise(store.has(K)), true);
    assert.deepStrictEqual(host.calls, [["metadata", "get", [ID]]]);
  });

  test("committed row whose vault entry is missing → still true (vault not consulted)", async () => {
    const { host, store } = setup({ rows: [[ID, row(K)]] });
    assert.strictEqual(await store.has(K), true);
    assert.deepStrictEqual(host.trace(), ["metadata.get"]);
  });

  test("missing → false; pending → false; falsy row → false", async () => {
    const { host, store } = setup({
      rows: [
        [id("p"), row("p", { pending: true })],
        [id("z"), 0],
      ],
    });
    assert.strictEqual(await store.has("missing"), false);
    assert.strictEqual(await store.has("p"), false);
    assert.strictEqual(await store.has("z"), false);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get", "metadata.get"]);
  });

  test("expired → false, and the row is deleted like get does", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    assert.strictEqual(await store.has(K), false);
    assert.deepStrictEqual(host.calls, deleteTrace(ID));
    assert.ok(!host.kv.has(ID) && !host.secrets.has(ID));
  });

  test("expired → false even when that delete fails (error swallowed)", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: PAST }]]);
    const injected = new Error("kv down");
    host.fail("metadata", "delete", injected);
    assert.strictEqual(await store.has(K), false);
  });

  for (const [label, injected] of INJECTED()) {
    test(`metadata.get rejecting with ${label} → has rejects with the identical value`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      host.fail("metadata", "get", injected);
      assert.strictEqual(await rejection(store.has(K)), injected);
    });
  }
});

describe("listMetadata / keys", () => {
  function scopeFixture() {
    const rows = [
      [id("zeta"), row("zeta", { label: "Z", provider: "openai", expiresAt: FUTURE, createdAt: PAST, updatedAt: PAST2 })],
      [id("alpha"), row("alpha", { extra: "not listed", nested: { a: 1 } })],
      [id("pend"), row("pend", { pending: true })],
      [id("orphan"), row("orphan", { pending: true, orphanedAt: PAST2, orphanReason: "vault-delete-failed" })],
      [id("old-orphan"), row("old-orphan", { pending: true, orphanedAt: PAST2 })],
      [id("expired"), row("expired", { expiresAt: PAST })],
      [id("k", "other-user"), row("k", {}, { user: "other-user" })],
      [id("k", USER, "other-proj"), row("k", {}, { project: "other-proj" })],
      [id("k", USER, PROJECT + "x"), row("k", {}, { project: PROJECT + "x" })],
      // right prefix, wrong scope inside the row → skipped
      [id("intruder"), row("intruder", {}, { user: "someone-else" })],
      [id("intruder2"), row("intruder2", {}, { project: "elsewhere" })],
      // right scope inside the row, wrong KV key prefix → skipped
      ["elsewhere/" + PROJECT + "/lost", row("lost")],
      ["lost-no-slash", row("lost2")],
      [id("mu"), row("mu", { pending: false, label: "M" })],
    ];
    return setup({ rows });
  }

  test("lists exactly the visible rows of this scope, in KV order, with exactly the six fields", async () => {
    const { host, store } = scopeFixture();
    const list = await assertPromise(store.listMetadata());
    assert.deepStrictEqual(host.calls, [["metadata", "getAll", []]]);
    assert.ok(Array.isArray(list));
    assert.deepStrictEqual(list, [
      { key: "zeta", label: "Z", provider: "openai", createdAt: PAST, updatedAt: PAST2, expiresAt: FUTURE },
      { key: "alpha", label: undefined, provider: undefined, createdAt: PAST, updatedAt: PAST, expiresAt: undefined },
      { key: "mu", label: "M", provider: undefined, createdAt: PAST, updatedAt: PAST, expiresAt: undefined },
    ]);
    for (const info of list) {
      assertKeyOrder(info, INFO_KEYS);
      assert.ok("label" in info && "provider" in info && "expiresAt" in info);
      assert.ok(!("value" in info) && !("pending" in info) && !("extra" in info) && !("userId" in info));
    }
  });

  test("listMetadata returns fresh objects, never the stored rows", async () => {
    const { host, store } = scopeFixture();
    const list = await store.listMetadata();
    assert.notStrictEqual(list[0], host.kv.get(id("zeta")));
    assert.strictEqual(Object.getPrototypeOf(list[0]), Object.prototype);
  });

  test("keys() = listMetadata().map(m => m.key), one getAll call", async () => {
    const { host, store } = scopeFixture();
    const keys = await assertPromise(store.keys());
    assert.deepStrictEqual(keys, ["zeta", "alpha", "mu"]);
    assert.deepStrictEqual(host.calls, [["metadata", "getAll", []]]);
  });

  test("listing never deletes expired rows (only getAll is called)", async () => {
    const { host, store } = scopeFixture();
    await store.listMetadata();
    await store.keys();
    assert.deepStrictEqual(host.trace(), ["metadata.getAll", "metadata.getAll"]);
    assert.ok(host.kv.has(id("expired")));
  });

  test("fields come from the row (key included), other fields passed through as they are", async () => {
    const label = { rich: "label object" };
    const { store } = setup({
      rows: [[id("a"), row("b", { label, provider: 7, createdAt: "whenever", updatedAt: null })]],
    });
    const [info] = await store.listMetadata();
    assert.strictEqual(info.key, "b");
    assert.strictEqual(info.label, label);
    assert.strictEqual(info.provider, 7);
    assert.strictEqual(info.createdAt, "whenever");
    assert.strictEqual(info.updatedAt, null);
    assert.deepStrictEqual(await store.keys(), ["b"]);
  });

  test("rows lacking optional fields (as after a JSON round trip) list them as own undefined", async () => {
    const r = { userId: USER, projectId: PROJECT, key: "j", createdAt: PAST, updatedAt: PAST };
    const { store } = setup({ rows: [[id("j"), r]] });
    const [info] = await store.listMetadata();
    assert.deepStrictEqual(info, {
      key: "j",
      label: undefined,
      provider: undefined,
      createdAt: PAST,
      updatedAt: PAST,
      expiresAt: undefined,
    });
    assertKeyOrder(info, INFO_KEYS);
  });

  for (const empty of [undefined, null, []]) {
    test(`getAll() → ${JSON.stringify(empty) ?? "undefined"} lists []`, async () => {
      const { host, store } = setup();
      host.metadata.getAll = async () => empty;
      assert.deepStrictEqual(await store.listMetadata(), []);
      assert.deepStrictEqual(await store.keys(), []);
    });
  }

  for (const [label, bad] of [
    ["a number", 5],
    ["a plain object", { key: "x", value: {} }],
    ["true", true],
  ]) {
    test(`getAll() → ${label} (not an array) rejects with a TypeError; instance still works`, async () => {
      const { host, store } = setup();
      const inner = host.metadata.getAll;
      host.metadata.getAll = async () => bad;
      const err = await rejection(store.listMetadata());
      assert.ok(err instanceof TypeError, `TypeError expected, got ${String(err)}`);
      const err2 = await rejection(store.keys());
      assert.ok(err2 instanceof TypeError);
      const err3 = await rejection(store.deleteAll());
      assert.ok(err3 instanceof TypeError);
      host.metadata.getAll = inner;
      await store.put("k", "v");
      assert.deepStrictEqual(await store.keys(), ["k"]);
    });
  }

  for (const [label, injected] of INJECTED()) {
    test(`getAll rejecting with ${label} → listMetadata and keys reject with the identical value`, async () => {
      const { host, store } = setup();
      host.fail("metadata", "getAll", injected, { times: 2 });
      assert.strictEqual(await rejection(store.listMetadata()), injected);
      assert.strictEqual(await rejection(store.keys()), injected);
    });
  }

  test("pending, orphan markers (with and without orphanReason) and expired rows are not listed", async () => {
    const { store } = scopeFixture();
    const keys = await store.keys();
    for (const hidden of ["pend", "orphan", "old-orphan", "expired", "intruder", "intruder2", "lost", "lost2", "k"]) {
      assert.ok(!keys.includes(hidden), hidden);
    }
  });
});
