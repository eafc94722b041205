// Real @workglow/storage KV backends (InMemoryKvStorage, FsFolderJsonKvStorage)
// with a Map vault.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { InMemoryKvStorage, FsFolderJsonKvStorage } from "@workglow/storage";
import { test, describe, assert, afterEach } from "./helpers/harness.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { mapVault } from "./helpers/fakes.mjs";
import { MSG, PAST, rejection, assertWrapped, assertIsoWithin, INFO_KEYS } from "./helpers/util.mjs";

const dirs = [];
afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop(), { recursive: true, force: true });
});

const BACKENDS = [
  ["InMemoryKvStorage", () => new InMemoryKvStorage()],
  [
    "FsFolderJsonKvStorage",
    () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "credstore-kv-"));
      dirs.push(dir);
      return new FsFolderJsonKvStorage(dir);
    },
  ],
];

const make = (kv, vault, userId = "alice", projectId = "proj-1") =>
  new ServerCredentialStore({ vault, metadata: kv, userId, projectId });

for (const [name, factory] of BACKENDS) {
  describe(`real backend: ${name}`, () => {
    test("round trip: put, get, has, stored row shape, update, listMetadata, keys, delete", async () => {
      const kv = factory();
      const vault = mapVault();
      const store = make(kv, vault);
      const from = Date.now();
      await store.put("openai", "sk-1", { label: "Prod", expiresAt: new Date(Date.UTC(2090, 0, 1)) });
      assert.strictEqual(await store.get("openai"), "sk-1");
      assert.strictEqual(await store.has("openai"), true);
      assert.strictEqual(vault.map.get("alice/proj-1/openai"), "sk-1");

      const stored = await kv.get("alice/proj-1/openai");
      assertIsoWithin(stored.createdAt, from, Date.now());
      // JSON drops undefined fields; the rest is the TS shape, in order.
      assert.deepStrictEqual(stored, {
        userId: "alice",
        projectId: "proj-1",
        key: "openai",
        label: "Prod",
        createdAt: stored.createdAt,
        updatedAt: stored.createdAt,
        expiresAt: "2090-01-01T00:00:00.000Z",
        pending: false,
      });
      assert.deepStrictEqual(Object.keys(stored), ["userId", "projectId", "key", "label", "createdAt", "updatedAt", "expiresAt", "pending"]);

      await store.put("openai", "sk-2", { provider: "openai" });
      assert.strictEqual(await store.get("openai"), "sk-2");
      const updated = await kv.get("alice/proj-1/openai");
      assert.strictEqual(updated.createdAt, stored.createdAt);
      assert.strictEqual(updated.label, "Prod");
      assert.strictEqual(updated.provider, "openai");
      assert.ok(!("pending" in updated));

      await store.put("anthropic", "sk-3");
      const list = await store.listMetadata();
      const byKey = Object.fromEntries(list.map((m) => [m.key, m]));
      assert.deepStrictEqual(Object.keys(byKey).sort(), ["anthropic", "openai"]);
      assert.deepStrictEqual(byKey.openai, {
        key: "openai",
        label: "Prod",
        provider: "openai",
        createdAt: stored.createdAt,
        updatedAt: updated.updatedAt,
        expiresAt: "2090-01-01T00:00:00.000Z",
      });
      for (const m of list) assert.deepStrictEqual(Object.keys(m), INFO_KEYS);
      assert.ok("label" in byKey.anthropic && byKey.anthropic.label === undefined);
      assert.deepStrictEqual((await store.keys()).sort(), ["anthropic", "openai"]);

      assert.strictEqual(await store.delete("openai"), true);
      assert.strictEqual(await store.delete("openai"), false);
      assert.strictEqual(await store.get("openai"), undefined);
      assert.strictEqual(await kv.get("alice/proj-1/openai"), undefined);
      assert.ok(!vault.map.has("alice/proj-1/openai"));
      assert.deepStrictEqual(await store.keys(), ["anthropic"]);
    });

    test("empty KV: get/has/delete/keys/listMetadata/deleteAll", async () => {
      const store = make(factory(), mapVault());
      assert.strictEqual(await store.get("k"), undefined);
      assert.strictEqual(await store.has("k"), false);
      assert.strictEqual(await store.delete("k"), false);
      assert.deepStrictEqual(await store.keys(), []);
      assert.deepStrictEqual(await store.listMetadata(), []);
      assert.strictEqual(await store.deleteAll(), undefined);
    });

    test("expired entry: get deletes it from the real KV and the vault", async () => {
      const kv = factory();
      const vault = mapVault();
      const store = make(kv, vault);
      await store.put("old", "v", { expiresAt: new Date(Date.UTC(2001, 0, 1)) });
      assert.deepStrictEqual(await store.keys(), []);
      assert.ok(await kv.get("alice/proj-1/old"), "listing does not delete");
      assert.strictEqual(await store.get("old"), undefined);
      assert.strictEqual(await kv.get("alice/proj-1/old"), undefined);
      assert.ok(!vault.map.has("alice/proj-1/old"));
    });

    test("deleteAll is scoped: other users/projects and intruder rows are untouched", async () => {
      const kv = factory();
      const vault = mapVault();
      const mine = make(kv, vault, "alice", "proj-1");
      const otherProject = make(kv, vault, "alice", "proj-2");
      const otherUser = make(kv, vault, "bob", "proj-1");
      await mine.put("a", "1");
      await mine.put("b", "2");
      await mine.put("gone", "3", { expiresAt: new Date(Date.UTC(2001, 0, 1)) });
      await otherProject.put("a", "x");
      await otherUser.put("a", "y");
      // right prefix, wrong scope inside the row
      await kv.put("alice/proj-1/intruder", { userId: "mallory", projectId: "proj-1", key: "intruder", createdAt: PAST, updatedAt: PAST });
      // an orphan marker of this scope
      await kv.put("alice/proj-1/orphan", { userId: "alice", projectId: "proj-1", key: "orphan", createdAt: PAST, updatedAt: PAST, pending: true, orphanedAt: PAST });
      await vault.setSecret("alice/proj-1/orphan", "orphan-bytes");

      await mine.deleteAll();

      assert.deepStrictEqual(await mine.keys(), []);
      for (const k of ["a", "b", "gone", "orphan"]) {
        assert.strictEqual(await kv.get(`alice/proj-1/${k}`), undefined, k);
        assert.ok(!vault.map.has(`alice/proj-1/${k}`), k);
      }
      assert.ok(await kv.get("alice/proj-1/intruder"));
      assert.strictEqual(await otherProject.get("a"), "x");
      assert.strictEqual(await otherUser.get("a"), "y");
      assert.deepStrictEqual(await otherProject.keys(), ["a"]);
    });

    test("vault delete failure: the orphan marker lands in the real KV and hides the key", async () => {
      const kv = factory();
      const vault = mapVault();
      const store = make(kv, vault);
      await store.put("k", "v", { label: "L" });
      const injected = new Error("vault offline");
      vault.deleteSecret = async () => {
        throw injected;
      };
      const err = await rejection(store.delete("k"));
      assertWrapped(err, MSG.deleteFailed("delete", "k", true), injected);
      const marker = await kv.get("alice/proj-1/k");
      assert.strictEqual(marker.pending, true);
      assert.strictEqual(marker.orphanReason, "vault-delete-failed");
      assert.strictEqual(marker.label, "L");
      assert.strictEqual(await store.get("k"), undefined);
      assert.strictEqual(await store.delete("k"), false);
      assert.deepStrictEqual(await store.keys(), []);
    });

    test("a backend method spied on after construction is used", async () => {
      const kv = factory();
      const store = make(kv, mapVault());
      const seen = [];
      const inner = kv.getAll;
      kv.getAll = function () {
        seen.push(this);
        return inner.call(this);
      };
      await store.put("k", "v");
      assert.deepStrictEqual(await store.keys(), ["k"]);
      assert.deepStrictEqual(seen, [kv]);
    });
  });
}
