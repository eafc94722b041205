// SPEC §3: rows written by the TypeScript store are read correctly, and rows
// written by this package have exactly the TypeScript store's shape.
import { test, describe, assert } from "./helpers/harness.mjs";
import { createHost } from "./helpers/fakes.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import {
  USER,
  PROJECT,
  PAST,
  PAST2,
  FUTURE,
  BASE_KEYS,
  id,
  setup,
  rejection,
  withFakeDate,
} from "./helpers/util.mjs";

const T_ISO = "2024-05-06T07:08:09.123Z";

// Rows literally as the TypeScript store writes them (and as a JSON KV returns them).
const TS_COMMITTED = {
  userId: USER,
  projectId: PROJECT,
  key: "openai",
  label: "OpenAI prod",
  provider: "openai",
  createdAt: PAST,
  updatedAt: PAST2,
  expiresAt: FUTURE,
  pending: false,
};
const TS_PRE_PENDING = {
  // written before the pending field existed
  userId: USER,
  projectId: PROJECT,
  key: "legacy",
  label: "old",
  createdAt: PAST,
  updatedAt: PAST,
};
const TS_OLD_MARKER = {
  // orphan marker of the seed's first version: no orphanReason
  userId: USER,
  projectId: PROJECT,
  key: "orphaned",
  createdAt: PAST,
  updatedAt: PAST,
  pending: true,
  orphanedAt: PAST2,
};
const TS_NEW_MARKER = { ...TS_OLD_MARKER, key: "orphaned2", orphanReason: "metadata-commit-failed" };
const TS_EXTRA = {
  userId: USER,
  projectId: PROJECT,
  key: "extra",
  provider: "anthropic",
  createdAt: PAST,
  updatedAt: PAST,
  pending: false,
  rotation: { every: "30d" },
  tags: ["a", "b"],
};
const clone = (o) => JSON.parse(JSON.stringify(o));

function tsHost() {
  const rows = [TS_COMMITTED, TS_PRE_PENDING, TS_OLD_MARKER, TS_NEW_MARKER, TS_EXTRA].map((r) => [id(r.key), clone(r)]);
  const secrets = rows.map(([k]) => [k, "secret:" + k]);
  return setup({ rows, secrets });
}

describe("reading rows written by the TypeScript store", () => {
  test("get/has see committed, pre-pending and extra-field rows; markers are invisible", async () => {
    const { store } = tsHost();
    assert.strictEqual(await store.get("openai"), "secret:" + id("openai"));
    assert.strictEqual(await store.get("legacy"), "secret:" + id("legacy"));
    assert.strictEqual(await store.get("extra"), "secret:" + id("extra"));
    assert.strictEqual(await store.get("orphaned"), undefined);
    assert.strictEqual(await store.get("orphaned2"), undefined);
    assert.strictEqual(await store.has("legacy"), true);
    assert.strictEqual(await store.has("orphaned"), false);
  });

  test("listMetadata maps them exactly", async () => {
    const { store } = tsHost();
    assert.deepStrictEqual(await store.listMetadata(), [
      { key: "openai", label: "OpenAI prod", provider: "openai", createdAt: PAST, updatedAt: PAST2, expiresAt: FUTURE },
      { key: "legacy", label: "old", provider: undefined, createdAt: PAST, updatedAt: PAST, expiresAt: undefined },
      { key: "extra", label: undefined, provider: "anthropic", createdAt: PAST, updatedAt: PAST, expiresAt: undefined },
    ]);
  });

  test("delete refuses both marker generations; deleteAll removes them", async () => {
    const { host, store } = tsHost();
    assert.strictEqual(await store.delete("orphaned"), false);
    assert.strictEqual(await store.delete("orphaned2"), false);
    await store.deleteAll();
    assert.strictEqual(host.kv.size, 0);
    assert.strictEqual(host.secrets.size, 0);
  });

  test("put over an old marker revives it (update path, base shape, createdAt kept)", async () => {
    const { host, store } = tsHost();
    await store.put("orphaned", "again");
    const r = host.kv.get(id("orphaned"));
    assert.deepStrictEqual(Object.keys(r), BASE_KEYS);
    assert.strictEqual(r.createdAt, PAST);
    assert.strictEqual(await store.get("orphaned"), "again");
  });

  test("updating a row with unknown fields drops them (base only), keeps label/provider/createdAt", async () => {
    const { host, store } = tsHost();
    await withFakeDate(T_ISO, () => store.put("extra", "new", { label: "now labelled" }));
    const r = host.kv.get(id("extra"));
    assert.deepStrictEqual(r, {
      userId: USER,
      projectId: PROJECT,
      key: "extra",
      label: "now labelled",
      provider: "anthropic",
      createdAt: PAST,
      updatedAt: T_ISO,
      expiresAt: undefined,
    });
    assert.deepStrictEqual(Object.keys(r), BASE_KEYS);
  });

  test("a vault-delete failure on a TS row writes a marker that keeps its unknown fields", async () => {
    const { host, store } = tsHost();
    host.fail("vault", "deleteSecret", new Error("x"));
    await withFakeDate(T_ISO, async () => {
      await rejection(store.delete("extra"));
    });
    const marker = host.kv.get(id("extra"));
    assert.deepStrictEqual(marker, { ...TS_EXTRA, pending: true, orphanedAt: T_ISO, orphanReason: "vault-delete-failed" });
    assert.deepStrictEqual(Object.keys(marker), [...Object.keys(TS_EXTRA), "orphanedAt", "orphanReason"]);
  });
});

describe("rows written by this package have the TypeScript store's exact shape", () => {
  // What the TS store writes, built by hand, in its key order.
  const tsBase = (key, fields = {}) => ({
    userId: USER,
    projectId: PROJECT,
    key,
    label: undefined,
    provider: undefined,
    createdAt: T_ISO,
    updatedAt: T_ISO,
    expiresAt: undefined,
    ...fields,
  });

  test("new entry: pending row and committed row, as objects and as JSON (byte for byte)", async () => {
    const { host, store } = setup();
    await withFakeDate(T_ISO, () => store.put("k", "v", { provider: "openai" }));
    const [[, pendingRow], [, committed]] = host.callsOf("metadata", "put");
    const want1 = { ...tsBase("k", { provider: "openai" }), pending: true };
    const want2 = { ...tsBase("k", { provider: "openai" }), pending: false };
    assert.deepStrictEqual(pendingRow, want1);
    assert.deepStrictEqual(committed, want2);
    assert.strictEqual(JSON.stringify(pendingRow), JSON.stringify(want1));
    assert.strictEqual(JSON.stringify(committed), JSON.stringify(want2));
    assert.strictEqual(
      JSON.stringify(committed),
      `{"userId":"${USER}","projectId":"${PROJECT}","key":"k","provider":"openai","createdAt":"${T_ISO}","updatedAt":"${T_ISO}","pending":false}`,
    );
  });

  test("update row, as JSON", async () => {
    const { host, store } = setup({ rows: [[id("k"), { ...TS_COMMITTED, key: "k" }]] });
    await withFakeDate(T_ISO, () => store.put("k", "v"));
    const w = host.kv.get(id("k"));
    assert.strictEqual(
      JSON.stringify(w),
      JSON.stringify({
        userId: USER,
        projectId: PROJECT,
        key: "k",
        label: "OpenAI prod",
        provider: "openai",
        createdAt: PAST,
        updatedAt: T_ISO,
        expiresAt: FUTURE,
      }),
    );
  });

  test("the three marker kinds, as JSON", async () => {
    await withFakeDate(T_ISO, async () => {
      const a = setup();
      a.host.fail("vault", "setSecret", "v").fail("metadata", "delete", "rb");
      await rejection(a.store.put("k", "v"));
      assert.strictEqual(
        JSON.stringify(a.host.kv.get(id("k"))),
        JSON.stringify({ ...tsBase("k"), pending: true, orphanedAt: T_ISO, orphanReason: "vault-write-failed" }),
      );
      const b = setup();
      b.host.fail("metadata", "put", "c", { nth: 2 });
      await rejection(b.store.put("k", "v", { label: "L" }));
      assert.strictEqual(
        JSON.stringify(b.host.kv.get(id("k"))),
        JSON.stringify({ ...tsBase("k", { label: "L" }), pending: true, orphanedAt: T_ISO, orphanReason: "metadata-commit-failed" }),
      );
      const c = setup({ rows: [[id("openai"), clone(TS_COMMITTED)]], secrets: [[id("openai"), "s"]] });
      c.host.fail("vault", "deleteSecret", "d");
      await rejection(c.store.delete("openai"));
      assert.strictEqual(
        JSON.stringify(c.host.kv.get(id("openai"))),
        JSON.stringify({ ...TS_COMMITTED, pending: true, orphanedAt: T_ISO, orphanReason: "vault-delete-failed" }),
      );
    });
  });

  test("rows written by one store are read back after a JSON round trip (what a JSON KV does)", async () => {
    const a = setup();
    await a.store.put("k1", "v1", { label: "L", provider: "P", expiresAt: new Date(Date.UTC(2090, 0, 1)) });
    await a.store.put("k2", "v2");
    const jsonHost = createHost({
      rows: [...a.host.kv].map(([k, r]) => [k, JSON.parse(JSON.stringify(r))]),
      secrets: [...a.host.secrets],
    });
    const b = new ServerCredentialStore({ vault: jsonHost.vault, metadata: jsonHost.metadata, userId: USER, projectId: PROJECT });
    assert.strictEqual(await b.get("k1"), "v1");
    assert.strictEqual(await b.get("k2"), "v2");
    assert.deepStrictEqual(await b.listMetadata(), await a.store.listMetadata());
  });
});
