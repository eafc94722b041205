// Beyond the TypeScript store, on the built package: strict mode, the
// optional getByPrefix capability, listOrphans and reconcile (SPEC §6).
import { test, describe } from "./helpers/harness.mjs";
import assert from "node:assert/strict";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { createHost } from "./helpers/fakes.mjs";

const scope = { userId: "u", projectId: "p" };
const strictStore = (host) => new ServerCredentialStore({ ...host, ...scope, strict: true });
const compatStore = (host) => new ServerCredentialStore({ ...host, ...scope });
const vaultIds = (host) => [...host.secrets.keys()];

describe("strict mode", () => {
  test("new and updated values live under versioned vault ids; the old version is deleted", async () => {
    const host = createHost();
    const s = strictStore(host);
    await s.put("k", "v1");
    const [first] = vaultIds(host);
    assert.match(first, /^u\/p\/k#[a-z0-9-]+$/);
    assert.equal(host.kv.get("u/p/k").vaultId, first);
    host.clearCalls();
    await s.put("k", "v2");
    const [second] = vaultIds(host);
    assert.notEqual(second, first);
    // The row names the new version before its bytes exist, flips to it
    // (the old one retired), the old bytes go, the row forgets them.
    assert.deepEqual(host.trace(), [
      "metadata.get",
      "metadata.put",
      "vault.setSecret",
      "metadata.put",
      "vault.deleteSecret",
      "metadata.put",
    ]);
    assert.deepEqual(host.callsOf("vault", "deleteSecret"), [[first]]);
    assert.equal(await s.get("k"), "v2");
    assert.equal(vaultIds(host).length, 1);
  });

  test("a get during an update sees the old row with the old value, never the new value", async () => {
    const host = createHost();
    const s = strictStore(host);
    await s.put("k", "v1", { label: "old" });
    const held = host.hold("metadata", "put");
    const update = s.put("k", "v2", { label: "new" });
    await held.reached;
    assert.equal(await s.get("k"), "v1");
    held.release();
    await update;
    assert.equal(await s.get("k"), "v2");
  });

  test("writes of one key queue across every store sharing the metadata object; reads do not wait", async () => {
    const host = createHost();
    const a = strictStore(host);
    const b = strictStore(host);
    await a.put("k", "v0");
    const held = host.hold("vault", "setSecret");
    const put = a.put("k", "v1");
    await held.reached;
    host.clearCalls();
    const del = b.delete("k");
    assert.equal(await b.get("k"), "v0", "a read is served while the put holds the turn");
    assert.deepEqual(host.trace(), ["metadata.get", "vault.getSecret"], "the delete has not started");
    held.release();
    await put;
    assert.equal(await del, true, "a delete queued behind a put deletes the value");
    assert.equal(host.kv.size, 0);
    assert.equal(host.secrets.size, 0);
  });

  test("compatible stores keep the TypeScript interleaving (no queue)", async () => {
    const host = createHost();
    const s = compatStore(host);
    const held = host.hold("vault", "setSecret");
    const put = s.put("k", "v1");
    await held.reached;
    assert.equal(await s.delete("k"), false, "the pending row protects the in-flight put");
    held.release();
    await put;
    assert.equal(host.kv.get("u/p/k").vaultId, undefined, "compatible rows carry no vaultId");
  });

  test("a failed retire is recorded on the row and reconcile finishes it", async () => {
    const host = createHost();
    const s = strictStore(host);
    await s.put("k", "v1");
    const [old] = vaultIds(host);
    host.fail("vault", "deleteSecret", new Error("vault down"));
    await s.put("k", "v2");
    assert.deepEqual(host.kv.get("u/p/k").retiredVaultIds, [old]);
    assert.deepEqual(
      (await s.listOrphans()).map((o) => [o.key, o.reason]),
      [["k", "retired-versions"]],
    );
    const report = await s.reconcile();
    assert.deepEqual(report.repaired.map((o) => o.key), ["k"]);
    assert.equal(host.secrets.has(old), false);
    assert.equal(await s.get("k"), "v2");
    assert.deepEqual(await s.listOrphans(), []);
  });
});

describe("getByPrefix", () => {
  test("when the KV has getByPrefix, listing uses it and never getAll", async () => {
    const host = createHost();
    host.metadata.getByPrefix = async function (prefix) {
      host.calls.push(["metadata", "getByPrefix", [prefix]]);
      return [...host.kv].filter(([k]) => k.startsWith(prefix)).map(([key, value]) => ({ key, value }));
    };
    const s = compatStore(host);
    await s.put("a", "1");
    await s.put("b", "2");
    host.kv.set("u/p2/x", { userId: "u", projectId: "p2", key: "x" });
    host.clearCalls();
    assert.deepEqual(await s.keys(), ["a", "b"]);
    assert.deepEqual((await s.listMetadata()).map((m) => m.key), ["a", "b"]);
    await s.deleteAll();
    assert.deepEqual(await s.listOrphans(), []);
    const listings = host.trace().filter((t) => t === "metadata.getAll" || t === "metadata.getByPrefix");
    assert.deepEqual(listings, Array(4).fill("metadata.getByPrefix"));
    assert.deepEqual(host.callsOf("metadata", "getByPrefix")[0], ["u/p/"]);
    assert.deepEqual([...host.kv.keys()], ["u/p2/x"]);
  });
});

describe("reconciliation", () => {
  const marker = (key, reason, extra = {}) => ({
    userId: "u",
    projectId: "p",
    key,
    updatedAt: "2025-01-01T00:00:00.000Z",
    pending: true,
    orphanedAt: "2025-01-02T00:00:00.000Z",
    ...(reason ? { orphanReason: reason } : {}),
    ...extra,
  });

  function seeded() {
    const now = Date.now();
    const host = createHost({
      rows: [
        ["u/p/w", marker("w", "vault-write-failed")],
        ["u/p/c", marker("c", "metadata-commit-failed")],
        ["u/p/d", marker("d", "vault-delete-failed")],
        ["u/p/old", marker("old", undefined)],
        ["u/p/stale", { userId: "u", projectId: "p", key: "stale", pending: true, updatedAt: new Date(now - 3_600_000).toISOString() }],
        ["u/p/young", { userId: "u", projectId: "p", key: "young", pending: true, updatedAt: new Date(now).toISOString() }],
        ["u/p/ok", { userId: "u", projectId: "p", key: "ok", updatedAt: new Date(now).toISOString() }],
        ["u2/p/w", marker("w", "vault-write-failed", { userId: "u2" })],
      ],
      secrets: ["w", "c", "d", "old", "stale", "young", "ok"].map((k) => [`u/p/${k}`, "SECRET-" + k]),
    });
    return host;
  }

  test("listOrphans names every reason, never a value, never a young pending row", async () => {
    const s = compatStore(seeded());
    const found = await s.listOrphans();
    assert.deepEqual(
      found.map((o) => [o.key, o.reason]),
      [
        ["w", "vault-write-failed"],
        ["c", "metadata-commit-failed"],
        ["d", "vault-delete-failed"],
        ["old", "unknown"],
        ["stale", "stale-pending"],
      ],
    );
    assert.deepEqual(Object.keys(found[0]), ["key", "reason", "orphanedAt", "updatedAt"]);
    assert.ok(!JSON.stringify(found).includes("SECRET"));
    assert.equal((await s.listOrphans({ stalePendingMs: 0 })).length, 6);
    await assert.rejects(s.listOrphans({ stalePendingMs: "soon" }), {
      name: "TypeError",
      message: "ServerCredentialStore: stalePendingMs must be a non-negative number",
    });
  });

  test("reconcile deletes the vault bytes, then the row; dry runs change nothing", async () => {
    const host = seeded();
    const s = compatStore(host);
    const dry = await s.reconcile({ dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.repaired.length, 5);
    assert.equal(host.kv.size, 8);
    assert.equal(host.secrets.size, 7);
    host.clearCalls();
    const report = await s.reconcile();
    assert.deepEqual(report.repaired.map((o) => o.key), ["w", "c", "d", "old", "stale"]);
    assert.deepEqual(report.failed, []);
    assert.deepEqual(host.trace().slice(1, 4), ["metadata.get", "vault.deleteSecret", "metadata.delete"]);
    assert.deepEqual([...host.kv.keys()], ["u/p/young", "u/p/ok", "u2/p/w"]);
    assert.deepEqual([...host.secrets.keys()], ["u/p/young", "u/p/ok"]);
  });

  test("a failed repair is reported with the very error and leaves the orphan discoverable", async () => {
    const host = seeded();
    const s = compatStore(host);
    const boom = new Error("vault down");
    host.fail("vault", "deleteSecret", boom, { when: (id) => id === "u/p/d" });
    const report = await s.reconcile();
    assert.deepEqual(report.failed.map((o) => o.key), ["d"]);
    assert.equal(report.failed[0].error, boom);
    assert.deepEqual((await s.listOrphans()).map((o) => o.key), ["d"]);
    assert.deepEqual((await s.reconcile()).repaired.map((o) => o.key), ["d"]);
  });

  // Security review, issue 16 item 3: a KV entry of this scope whose id is
  // not the prefix plus a grammar key must never reach the vault.
  test("entries outside the key grammar are listed as invalid-key and never handed to the vault", async () => {
    for (const mode of [compatStore, strictStore]) {
      const host = createHost({
        rows: [
          ["u/p/../../u2/p2/victim", marker("../../u2/p2/victim", "vault-write-failed", { vaultId: "u/p/../../u2/p2/victim#v1" })],
          ["u/p/a b", marker("a b", "vault-delete-failed")],
          ["u/p/ok", marker("ok", "vault-write-failed")],
        ],
        secrets: [
          ["u2/p2/victim", "SECRET-victim"],
          ["u/p/../../u2/p2/victim", "SECRET-path"],
          ["u/p/ok", "SECRET-ok"],
        ],
      });
      const s = mode(host);
      assert.deepEqual(
        (await s.listOrphans()).map((o) => [o.key, o.reason]),
        [
          ["../../u2/p2/victim", "invalid-key"],
          ["a b", "invalid-key"],
          ["ok", "vault-write-failed"],
        ],
      );
      const dry = await s.reconcile({ dryRun: true });
      assert.deepEqual(dry.repaired.map((o) => o.key), ["ok"]);
      assert.deepEqual(dry.invalid.map((o) => o.key), ["../../u2/p2/victim", "a b"]);
      host.clearCalls();
      const report = await s.reconcile();
      assert.deepEqual(report.repaired.map((o) => o.key), ["ok"]);
      assert.deepEqual(report.invalid.map((o) => [o.key, o.reason]), [
        ["../../u2/p2/victim", "invalid-key"],
        ["a b", "invalid-key"],
      ]);
      assert.deepEqual(host.callsOf("vault", "deleteSecret"), [["u/p/ok"]], "only the grammar key's bytes");
      assert.ok(host.secrets.has("u2/p2/victim") && host.secrets.has("u/p/../../u2/p2/victim"));
      assert.ok(host.kv.has("u/p/../../u2/p2/victim"), "never acted on");
    }
  });

  test("strict deleteAll skips ids outside the key grammar; the compatible one deletes them as the TS store", async () => {
    const rows = () => [
      ["u/p/../x", { userId: "u", projectId: "p", key: "../x" }],
      ["u/p/k", { userId: "u", projectId: "p", key: "k" }],
    ];
    const strictHost = createHost({ rows: rows() });
    await strictStore(strictHost).deleteAll();
    assert.deepEqual([...strictHost.kv.keys()], ["u/p/../x"]);
    assert.deepEqual(strictHost.callsOf("metadata", "get"), [["u/p/k"]]);
    const compatHost = createHost({ rows: rows() });
    await compatStore(compatHost).deleteAll();
    assert.deepEqual([...compatHost.kv.keys()], []);
    assert.deepEqual(compatHost.callsOf("vault", "deleteSecret"), [["u/p/../x"], ["u/p/k"]]);
  });

  // Issue 16 item 4: a retiredVaultIds list naming the live version.
  test("reconcile never deletes the version a row names, whatever retiredVaultIds says", async () => {
    const host = createHost({
      rows: [
        [
          "u/p/k",
          { userId: "u", projectId: "p", key: "k", vaultId: "u/p/k#live", retiredVaultIds: ["u/p/k#live", "u/p/k#old"] },
        ],
        ["u/p/j", { userId: "u", projectId: "p", key: "j", retiredVaultIds: ["u/p/j"] }],
      ],
      secrets: [
        ["u/p/k#live", "SECRET-live"],
        ["u/p/k#old", "SECRET-old"],
        ["u/p/j", "SECRET-j"],
      ],
    });
    const s = strictStore(host);
    assert.deepEqual((await s.listOrphans()).map((o) => [o.key, o.reason]), [["k", "retired-versions"]]);
    const report = await s.reconcile();
    assert.deepEqual(report.repaired.map((o) => o.key), ["k"]);
    assert.deepEqual(host.callsOf("vault", "deleteSecret"), [["u/p/k#old"]]);
    assert.equal(await s.get("k"), "SECRET-live");
    assert.equal(await s.get("j"), "SECRET-j");
  });
});

// Security review, issue 16 item 2: host-call deadlines.
describe("timeoutMs and signal", () => {
  const never = () => new Promise(() => {});

  test("a host call past timeoutMs fails the operation with a TIMEOUT error naming the call", async () => {
    const host = createHost({ rows: [["u/p/k", { userId: "u", projectId: "p", key: "k" }]], secrets: [["u/p/k", "SECRET-k"]] });
    const s = new ServerCredentialStore({ ...host, ...scope, timeoutMs: 30 });
    host.vault.getSecret = never;
    const started = Date.now();
    const e = await s.get("k").then(
      () => assert.fail("resolved"),
      (x) => x,
    );
    assert.equal(e.code, "CREDENTIAL_STORE_TIMEOUT");
    assert.equal(e.message, "ServerCredentialStore: host call getSecret did not settle within 30 ms");
    assert.ok(Date.now() - started >= 25, "not before the deadline");
    assert.equal(await compatStore(createHost()).get("k"), undefined, "other stores have no deadline");
  });

  test("a hung strict write releases the key's write turn at its deadline; the next write proceeds", async () => {
    const host = createHost();
    const s = new ServerCredentialStore({ ...host, ...scope, strict: true, timeoutMs: 30 });
    const setSecret = host.vault.setSecret;
    host.vault.setSecret = never;
    const hung = s.put("k", "v1");
    const next = s.put("k", "v2");
    await assert.rejects(hung, { code: "CREDENTIAL_STORE_TIMEOUT" });
    host.vault.setSecret = setSecret;
    await next;
    assert.equal(await s.get("k"), "v2");
  });

  test("a late answer after the deadline is ignored; the store keeps working", async () => {
    const host = createHost({ rows: [["u/p/k", { userId: "u", projectId: "p", key: "k" }]], secrets: [["u/p/k", "v"]] });
    const s = new ServerCredentialStore({ ...host, ...scope, timeoutMs: 20 });
    const get = host.metadata.get;
    let late;
    host.metadata.get = function (id) {
      return new Promise((resolve) => (late = () => resolve(get.call(this, id))));
    };
    await assert.rejects(s.has("k"), { code: "CREDENTIAL_STORE_TIMEOUT" });
    late();
    host.metadata.get = get;
    assert.equal(await s.get("k"), "v");
  });

  test("an aborted signal fails the host calls in flight, and later ones, with its reason", async () => {
    const host = createHost();
    const controller = new AbortController();
    const s = new ServerCredentialStore({ ...host, ...scope, signal: controller.signal });
    host.metadata.get = never;
    const inFlight = s.get("k");
    const reason = new Error("shutting down");
    controller.abort(reason);
    assert.equal(await inFlight.catch((e) => e), reason);
    assert.equal(await s.put("k", "v").catch((e) => e), reason);
    assert.equal(await s.get("bad/key"), undefined, "an operation with no host call is unaffected");
  });

  test("timeoutMs and signal are checked at construction", () => {
    const host = createHost();
    for (const timeoutMs of [0, -1, Number.NaN, "100", Infinity]) {
      assert.throws(() => new ServerCredentialStore({ ...host, ...scope, timeoutMs }), {
        name: "TypeError",
        message: "ServerCredentialStore: timeoutMs must be a positive number of milliseconds (at most 2147483647)",
      });
    }
    assert.throws(() => new ServerCredentialStore({ ...host, ...scope, signal: {} }), {
      name: "TypeError",
      message: "ServerCredentialStore: signal must be an AbortSignal",
    });
  });
});

// Strict mode across processes (issue 12): stores that share no write
// turns (each has a metadata object of its own, as separate processes do)
// over one KV with conditional writes and one vault with listIds.
describe("strict mode across processes (putIf/deleteIf)", () => {
  function sharedBackend() {
    const rows = new Map();
    const secrets = new Map();
    const calls = [];
    const tick = () => new Promise((r) => setImmediate(r));
    const kv = () => ({
      async get(id) {
        await tick();
        return rows.get(id);
      },
      async put(id, row) {
        calls.push("put");
        await tick();
        rows.set(id, row);
      },
      async delete(id) {
        await tick();
        rows.delete(id);
      },
      async getAll() {
        return [...rows].map(([key, value]) => ({ key, value }));
      },
      async putIf(id, row, expected) {
        calls.push(`putIf/${arguments.length}`);
        await tick();
        if (rows.get(id) !== expected) return false;
        rows.set(id, row);
        return true;
      },
      async deleteIf(id, expected) {
        await tick();
        if (rows.get(id) !== expected) return false;
        rows.delete(id);
        return true;
      },
    });
    const vault = {
      async setSecret(id, v) {
        await tick();
        secrets.set(id, v);
      },
      async getSecret(id) {
        await tick();
        return secrets.get(id);
      },
      async deleteSecret(id) {
        await tick();
        secrets.delete(id);
      },
      async listIds(prefix) {
        return [...secrets.keys()].filter((k) => k.startsWith(prefix));
      },
    };
    return { rows, secrets, calls, kv, vault };
  }

  test("concurrent writers in several processes: every write conditional, no byte unnamed, the last write wins", async () => {
    const b = sharedBackend();
    const procs = [0, 1, 2].map(() => new ServerCredentialStore({ vault: b.vault, metadata: b.kv(), ...scope, strict: true }));
    for (let round = 0; round < 30; round++) {
      const ops = [];
      for (let i = 0; i < 6; i++) {
        const s = procs[(round + i) % 3];
        const key = i % 2 ? "a" : "b";
        ops.push(i % 3 === 2 ? s.delete(key) : s.put(key, `v${round}-${i}`));
      }
      const settled = await Promise.allSettled(ops);
      for (const r of settled) if (r.status === "rejected") assert.equal(r.reason?.code, "CREDENTIAL_CONFLICT", String(r.reason));
      for (const [id, row] of b.rows) {
        if (row.pending !== true) assert.ok(b.secrets.has(row.vaultId), `committed row ${id} has its bytes`);
      }
    }
    assert.ok(!b.calls.includes("put"), "strict mode writes rows only conditionally when the KV can");
    assert.ok(b.calls.includes("putIf/3"), "putIf gets (id, row, expected)");
    const reader = procs[0];
    const report = await reader.reconcile({ stalePendingMs: 0 });
    assert.deepEqual(report.failed, []);
    const live = [...b.rows.values()].filter((r) => r.pending !== true).map((r) => r.vaultId);
    assert.deepEqual([...b.secrets.keys()].sort(), live.sort(), "after reconcile only live bytes remain");
    for (const key of ["a", "b"]) {
      const row = b.rows.get(`u/p/${key}`);
      assert.equal(await reader.get(key), row ? b.secrets.get(row.vaultId) : undefined);
    }
  });

  test("a version written after its writer gave up is found by listIds and removed by reconcile", async () => {
    const b = sharedBackend();
    const s = new ServerCredentialStore({ vault: b.vault, metadata: b.kv(), ...scope, strict: true });
    await s.put("k", "v1");
    b.secrets.set("u/p/k#lost-1", "SECRET-late");
    const found = await s.listOrphans();
    assert.deepEqual(found.map((o) => [o.key, o.reason]), [["k", "unnamed-bytes"]]);
    await s.reconcile();
    assert.deepEqual([...b.secrets.keys()], [b.rows.get("u/p/k").vaultId]);
    assert.equal(await s.get("k"), "v1");
  });
});
