// Known races R1–R8 of the compatible mode (docs/known-races.md), found by
// the native explorer, replayed here step by step on the plain-JS oracle (the
// TypeScript store's algorithm) and on the package: both misbehave in the
// same way, so the race belongs to the protocol, not to the port. Strict
// mode, where the package goes further, does not misbehave.
//
// Each test replays the race's minimal reproduction: the setup steps run
// alone, then the batch's host calls are released one by one in the order of
// the doc's trace (a released call acts, or with `fail` rejects, and its task
// runs on to its next call), then the follow-up reads run alone. An
// operation's first host call is made synchronously when it starts, in both
// implementations, so it is already waiting when the schedule begins.
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
  const host = {
    rows,
    secrets,
    metadata,
    vault,
    /** The calls still waiting, as "task name". */
    pending: () => waiting.map((w) => `${w.task} ${w.name}`),
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
    /** Runs an operation alone as `task`, letting each of its calls act in turn. */
    async run(task, op) {
      let outcome;
      host.start(task, op).then((o) => (outcome = o));
      current = task;
      for (let i = 0; i < 50; i++) {
        await settle();
        if (outcome !== undefined) return outcome;
        const at = waiting.findIndex((w) => w.task === task);
        if (at >= 0) waiting.splice(at, 1)[0].go(false);
      }
      throw new Error(`${task} did not settle`);
    },
  };
  return host;
}

const scope = { userId: "u1", projectId: "p1" };
/** Rows as [id, "pending"/"committed", ...the named fields]. */
const plain = (rows, ...fields) =>
  [...rows].map(([k, row]) => [k, row.pending === true ? "pending" : "committed", ...fields.map((f) => row[f])]);

const past = () => ({ expiresAt: new Date(Date.now() - 30_000) });
const future = () => ({ expiresAt: new Date(Date.now() + 86_400_000) });

/**
 * Replays one reproduction on a fresh store of class `Store`: `setup` ops run
 * alone, the `batch` ops ([task, op]) start in order, the `schedule`
 * ([task, call, fail?]) releases their host calls, then the `after` ops run
 * alone. Rows are shown with `fields`.
 */
async function replay(Store, { setup = [], batch, schedule, after = [], fields = [] }) {
  const h = scheduledHost();
  const s = new Store({ ...h, ...scope });
  for (const op of setup) assert.deepEqual((await h.run("S", () => op(s)))[0], "ok", "setup");
  const started = batch.map(([task, op]) => [task, h.start(task, () => op(s))]);
  for (const [task, name, fail] of schedule) await h.step(task, name, fail);
  assert.deepEqual(h.pending(), [], "the schedule releases every call of the batch");
  const results = {};
  for (const [task, p] of started) results[task] = await p;
  const later = [];
  for (const op of after) later.push(await h.run("A", () => op(s)));
  return { results, rows: plain(h.rows, ...fields), secrets: [...h.secrets], after: later };
}

/** Replays `race` on the oracle and on ours, asserts identical outcomes, returns ours. */
async function both(race) {
  const ours = await replay(Ours, race);
  assert.deepEqual(ours, await replay(Oracle, race), "the oracle and ours differ");
  return ours;
}

const ok = (v) => ["ok", v];
const newPut = (task) => [
  [task, "metadata.get"],
  [task, "metadata.put"],
  [task, "vault.setSecret"],
  [task, "metadata.put"],
];

test("R1: a failed new put's rollback deletes the row a racing put committed — in the oracle and in ours", async () => {
  const ours = await both({
    batch: [
      ["T1", (s) => s.put("a", "s3cret-1")],
      ["T0", (s) => s.put("a", "s3cret-0")],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ...newPut("T0"),
      ["T1", "metadata.put"],
      ["T1", "vault.setSecret", true],
      ["T1", "metadata.delete"],
    ],
    after: [(s) => s.get("a")],
  });
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ["rejects", "injected"] }, "T0 was told it succeeded");
  assert.deepEqual(ours.rows, [], "…but its row is gone");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "s3cret-0"]], "…and its value is orphaned, silently");
  assert.deepEqual(ours.after, [ok(undefined)]);
});

test("R2: a racing new put's commit-failure marker hides the row a concurrent put committed — in the oracle and in ours", async () => {
  const ours = await both({
    batch: [
      ["T1", (s) => s.put("a", "s3cret-1")],
      ["T0", (s) => s.put("a", "s3cret-0")],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ...newPut("T0"),
      ["T1", "metadata.put"],
      ["T1", "vault.setSecret"],
      ["T1", "metadata.put", true],
      ["T1", "metadata.put"],
    ],
    after: [(s) => s.get("a"), (s) => s.has("a")],
    fields: ["orphanReason"],
  });
  assert.deepEqual(ours.results, {
    T0: ok(undefined),
    T1: [
      "rejects",
      "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id u1/p1/a; row left as orphan marker",
    ],
  });
  assert.deepEqual(ours.rows, [["u1/p1/a", "pending", "metadata-commit-failed"]], "T0's committed row became T1's marker");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "s3cret-1"]]);
  assert.deepEqual(ours.after, [ok(undefined), ok(false)], "T0's acknowledged put is unreadable");
});

test("R3: a new put inside a delete's window commits a row without bytes — in the oracle and in ours", async () => {
  const ours = await both({
    setup: [(s) => s.put("a", "s3cret-0")],
    batch: [
      ["T0", (s) => s.put("a", "s3cret-1")],
      ["T1", (s) => s.delete("a")],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ["T1", "metadata.delete"],
      ...newPut("T0"),
      ["T1", "vault.deleteSecret"],
    ],
    after: [(s) => s.has("a"), (s) => s.get("a"), (s) => s.keys()],
  });
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ok(true) });
  assert.deepEqual(ours.rows, [["u1/p1/a", "committed"]], "T0's row is committed…");
  assert.deepEqual(ours.secrets, [], "…but the delete removed its bytes");
  assert.deepEqual(ours.after, [ok(true), ok(undefined), ok(["a"])], "has and keys say yes, get says no");
});

test("R4: a delete inside an update's window leaves a row without bytes — in the oracle and in ours", async () => {
  const ours = await both({
    setup: [(s) => s.put("a", "s3cret-0")],
    batch: [
      ["T0", (s) => s.delete("a")],
      ["T1", (s) => s.put("a", "s3cret-2")],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ["T1", "vault.setSecret"],
      ["T0", "metadata.get"],
      ["T0", "metadata.delete"],
      ["T0", "vault.deleteSecret"],
      ["T1", "metadata.put"],
    ],
    after: [(s) => s.has("a"), (s) => s.get("a")],
  });
  assert.deepEqual(ours.results, { T0: ok(true), T1: ok(undefined) });
  assert.deepEqual(ours.rows, [["u1/p1/a", "committed"]], "the update's row is committed…");
  assert.deepEqual(ours.secrets, [], "…but the delete removed its bytes");
  assert.deepEqual(ours.after, [ok(true), ok(undefined)]);
});

test("R5: an update that outlived a delete orphans its bytes silently when its row write fails — in the oracle and in ours", async () => {
  const ours = await both({
    setup: [(s) => s.put("a", "s3cret-0")],
    batch: [
      ["T0", (s) => s.delete("a")],
      ["T1", (s) => s.put("a", "s3cret-2")],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ["T0", "metadata.get"],
      ["T0", "metadata.delete"],
      ["T0", "vault.deleteSecret"],
      ["T1", "vault.setSecret"],
      ["T1", "metadata.put", true],
    ],
  });
  assert.deepEqual(ours.results, { T0: ok(true), T1: ["rejects", "injected"] }, "a raw error, naming no orphan");
  assert.deepEqual(ours.rows, [], "no row…");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "s3cret-2"]], "…but the update's bytes stay");
});

const r6 = (failVaultDelete) => ({
  setup: [(s) => s.put("a", "s3cret-0", past())],
  batch: [
    ["T0", (s) => s.put("a", "s3cret-1", future())],
    ["T1", (s) => s.get("a")],
  ],
  schedule: [
    ["T1", "metadata.get"],
    ["T0", "metadata.get"],
    ["T0", "vault.setSecret"],
    ["T0", "metadata.put"],
    ["T1", "metadata.get"],
    ["T1", "metadata.delete"],
    ["T1", "vault.deleteSecret", failVaultDelete],
    ...(failVaultDelete ? [["T1", "metadata.put"]] : []),
  ],
  after: [(s) => s.get("a")],
  fields: ["orphanReason"],
});

test("R6: an expired read's cleanup deletes the fresh row an update committed meanwhile — in the oracle and in ours", async () => {
  const ours = await both(r6(false));
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ok(undefined) }, "the update was acknowledged");
  assert.deepEqual(ours.rows, [], "…and then deleted by a read");
  assert.deepEqual(ours.secrets, []);
  assert.deepEqual(ours.after, [ok(undefined)]);
});

test("R6b: an expired read's cleanup turns a fresh update into a marker — in the oracle and in ours", async () => {
  const ours = await both(r6(true));
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ok(undefined) }, "the read swallowed the vault error");
  assert.deepEqual(ours.rows, [["u1/p1/a", "pending", "vault-delete-failed"]], "the fresh row became a marker…");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "s3cret-1"]]);
  assert.deepEqual(ours.after, [ok(undefined)], "…which hides the acknowledged value");
});

test("R7: deleteAll removes an in-flight new put, which then commits a row without bytes — in the oracle and in ours", async () => {
  const ours = await both({
    batch: [
      ["T0", (s) => s.deleteAll()],
      ["T1", (s) => s.put("a", "s3cret-1")],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ["T1", "metadata.put"],
      ["T1", "vault.setSecret"],
      ["T0", "metadata.getAll"],
      ["T0", "metadata.get"],
      ["T0", "metadata.delete"],
      ["T0", "vault.deleteSecret"],
      ["T1", "metadata.put"],
    ],
    after: [(s) => s.has("a"), (s) => s.get("a")],
  });
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ok(undefined) });
  assert.deepEqual(ours.rows, [["u1/p1/a", "committed"]], "the put's row is committed…");
  assert.deepEqual(ours.secrets, [], "…but deleteAll removed its bytes");
  assert.deepEqual(ours.after, [ok(true), ok(undefined)]);
});

test("R8: a new put and a racing put leave a torn row — in the oracle and in ours", async () => {
  const ours = await both({
    batch: [
      ["T0", (s) => s.put("a", "s3cret-0", { label: "L0" })],
      ["T1", (s) => s.put("a", "s3cret-1", { label: "L1" })],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ["T1", "metadata.put"],
      ["T1", "vault.setSecret"],
      ["T0", "metadata.get"],
      ["T0", "vault.setSecret"],
      ["T0", "metadata.put"],
      ["T1", "metadata.put"],
    ],
    after: [(s) => s.get("a")],
    fields: ["label"],
  });
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ok(undefined) }, "both puts were acknowledged");
  assert.deepEqual(ours.rows, [["u1/p1/a", "committed", "L1"]], "the row is T1's…");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "s3cret-0"]], "…the value T0's");
  assert.deepEqual(ours.after, [ok("s3cret-0")]);
});

test("R8b: two concurrent updates leave a torn row (a lost update) — in the oracle and in ours", async () => {
  const ours = await both({
    setup: [(s) => s.put("a", "s3cret-0")],
    batch: [
      ["T0", (s) => s.put("a", "s3cret-1", { label: "L1" })],
      ["T1", (s) => s.put("a", "s3cret-2", { label: "L2" })],
    ],
    schedule: [
      ["T1", "metadata.get"],
      ["T1", "vault.setSecret"],
      ["T0", "metadata.get"],
      ["T0", "vault.setSecret"],
      ["T0", "metadata.put"],
      ["T1", "metadata.put"],
    ],
    after: [(s) => s.get("a")],
    fields: ["label"],
  });
  assert.deepEqual(ours.results, { T0: ok(undefined), T1: ok(undefined) }, "both updates were acknowledged");
  assert.deepEqual(ours.rows, [["u1/p1/a", "committed", "L2"]], "the row is T1's…");
  assert.deepEqual(ours.secrets, [["u1/p1/a", "s3cret-1"]], "…the value T0's");
  assert.deepEqual(ours.after, [ok("s3cret-1")]);
});
