// Known races R1 and R6 of the compatible mode (docs/known-races.md), found
// by the native explorer, replayed here step by step on the plain-JS oracle
// (the TypeScript store's algorithm) and on the package: both misbehave in
// the same way, so the race belongs to the protocol, not to the port. Strict
// mode, where the package goes further, does not misbehave.
import { test } from "./helpers/harness.mjs";
import assert from "node:assert/strict";
import { ServerCredentialStore as Ours } from "./helpers/impl.mjs";
import { ServerCredentialStore as Oracle } from "../oracle/server-credential-store.mjs";

// Host calls wait until the driver lets them act, in a chosen order; each is
// tagged with the task (operation) that made it.
function scheduledHost() {
  const waiting = [];
  const rows = new Map();
  const secrets = new Map();
  let current = null;
  const call = (name, act) =>
    new Promise((resolve, reject) => {
      waiting.push({ task: current, name, go: (fail) => (fail ? reject(new Error("injected")) : resolve(act())) });
    });
  const metadata = {
    get: (id) => call("metadata.get", () => rows.get(id)),
    put: (id, row) => call("metadata.put", () => void rows.set(id, row)),
    delete: (id) => call("metadata.delete", () => void rows.delete(id)),
    getAll: () => call("metadata.getAll", () => [...rows].map(([key, value]) => ({ key, value }))),
  };
  const vault = {
    setSecret: (id, s) => call("vault.setSecret", () => void secrets.set(id, s)),
    getSecret: (id) => call("vault.getSecret", () => secrets.get(id)),
    deleteSecret: (id) => call("vault.deleteSecret", () => void secrets.delete(id)),
  };
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return {
    rows,
    secrets,
    metadata,
    vault,
    /** Starts an operation as `task`: its first host call is tagged with it. */
    start(task, op) {
      current = task;
      const p = op().then((v) => ["ok", v], (e) => ["rejects", e.message]);
      current = null;
      return p;
    },
    /** Lets `task`'s pending `name` call act (or fail), then lets the task run on. */
    async step(task, name, fail = false) {
      current = task;
      for (let i = 0; i < 50; i++) {
        const at = waiting.findIndex((w) => w.task === task && w.name === name);
        if (at >= 0) {
          waiting.splice(at, 1)[0].go(fail);
          await settle();
          return;
        }
        await settle();
      }
      throw new Error(`${task} made no ${name} call`);
    },
  };
}

const scope = { userId: "u1", projectId: "p1" };
const plain = (rows) => [...rows].map(([k, row]) => [k, row.pending === true ? "pending" : "committed"]);

async function r1(Store) {
  const h = scheduledHost();
  const s = new Store({ ...h, ...scope });
  const p1 = h.start("T1", () => s.put("a", "value-1"));
  const p0 = h.start("T0", () => s.put("a", "value-0"));
  for (const [task, name, fail] of [
    ["T1", "metadata.get"],
    ["T0", "metadata.get"],
    ["T0", "metadata.put"],
    ["T0", "vault.setSecret"],
    ["T0", "metadata.put"],
    ["T1", "metadata.put"],
    ["T1", "vault.setSecret", true],
    ["T1", "metadata.delete"],
  ]) {
    await h.step(task, name, fail);
  }
  return { results: [await p0, await p1], rows: plain(h.rows), secrets: [...h.secrets] };
}

test("R1: a failed new put's rollback deletes the row a racing put committed — in the oracle and in ours", async () => {
  const ours = await r1(Ours);
  assert.deepEqual(ours, await r1(Oracle));
  assert.deepEqual(ours.results, [["ok", undefined], ["rejects", "injected"]], "T0 was told it succeeded");
  assert.deepEqual(ours.rows, [], "…but its row is gone");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "value-0"]], "…and its value is orphaned, silently");
});

async function r6(Store) {
  const h = scheduledHost();
  const s = new Store({ ...h, ...scope });
  const seeded = h.start("S", () => s.put("a", "old", { expiresAt: new Date(Date.now() - 30_000) }));
  for (const name of ["metadata.get", "metadata.put", "vault.setSecret", "metadata.put"]) await h.step("S", name);
  await seeded;
  const put = h.start("T0", () => s.put("a", "fresh", { expiresAt: new Date(Date.now() + 86_400_000) }));
  const get = h.start("T1", () => s.get("a"));
  for (const [task, name] of [
    ["T1", "metadata.get"],
    ["T0", "metadata.get"],
    ["T0", "vault.setSecret"],
    ["T0", "metadata.put"],
    ["T1", "metadata.get"],
    ["T1", "metadata.delete"],
    ["T1", "vault.deleteSecret"],
  ]) {
    await h.step(task, name);
  }
  return { results: [await put, await get], rows: plain(h.rows), secrets: [...h.secrets] };
}

test("R6: an expired read's cleanup deletes the fresh row an update committed meanwhile — in the oracle and in ours", async () => {
  const ours = await r6(Ours);
  assert.deepEqual(ours, await r6(Oracle));
  assert.deepEqual(ours.results, [["ok", undefined], ["ok", undefined]], "the update was acknowledged");
  assert.deepEqual(ours.rows, [], "…and then deleted by a read");
  assert.deepEqual(ours.secrets, []);
});
