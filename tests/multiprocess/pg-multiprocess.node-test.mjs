// Several processes, one PostgreSQL (CI size): four worker processes × two
// lanes on three shared keys, host calls failing before, after and without
// an answer, connections terminated, processes paused and killed (see
// pg-run.mjs). Strict mode: linearizable per key, nothing left unnamed after
// reconcile, 0 violations. Compatible mode: anomalies counted and printed.
// Node only (child processes, a real PostgreSQL 15 server).
//
//   node --test tests/multiprocess/pg-multiprocess.node-test.mjs
//   npm run soak:pg -- --seconds 600            # a long one
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startCluster } from "../js/helpers/pg-cluster.mjs";
import { runPg, printReport, inspect } from "./pg-run.mjs";
import { check } from "./linearizability.mjs";

const SECONDS = Number(process.env.PG_MP_SECONDS ?? 25);
const cluster = startCluster();
after(() => cluster.stop());

test(`strict mode, 4 processes × 2 lanes × ${SECONDS} s on one PostgreSQL, faults and kills: 0 violations`, { timeout: 180_000 }, async () => {
  const r = await runPg({ url: cluster.url, seconds: SECONDS, procs: 4, lanes: 2, keys: 3, seed: Number(process.env.SEED ?? 1) });
  printReport(r, (line) => console.log(line));
  assert.deepStrictEqual(r.workerFailures, []);
  assert.deepStrictEqual(r.violations, []);
  // The run did what it claims: every fault kind, kills, pauses, terminations.
  assert.ok(r.counters.ops > 1000, `only ${r.counters.ops} operations`);
  for (const kind of ["sync", "before", "after", "noanswer"]) assert.ok(r.counters.faultsByKind[kind] > 0, `no ${kind} fault`);
  assert.ok(r.chaos.kills > 0 && r.chaos.stops > 0 && r.chaos.terminated > 0, JSON.stringify(r.chaos));
  assert.ok(r.chaos.reconciles > 0, "reconcile ran while the workers wrote");
  assert.ok(r.linearizability.ops === r.counters.ops, "every operation was checked");
  assert.equal(r.orphansLeft, 0);
  assert.equal(r.unnamedAfterReconcile, 0);
});

test("compatible mode, the same run: anomalies counted by kind", { timeout: 120_000 }, async () => {
  const r = await runPg({ url: cluster.url, seconds: 10, procs: 4, lanes: 2, keys: 3, seed: 2, strict: false });
  printReport(r, (line) => console.log(line));
  assert.deepStrictEqual(r.workerFailures, []);
  assert.ok(r.counters.ops > 1000);
});

test("the run catches strict mode without conditional writes (putIf/deleteIf hidden)", { timeout: 120_000 }, async () => {
  const r = await runPg({ url: cluster.url, seconds: 8, procs: 4, lanes: 2, keys: 2, seed: 3, hide: ["putIf", "deleteIf"] });
  printReport(r, (line) => console.log(line));
  if (r.dir) fs.rmSync(r.dir, { recursive: true, force: true }); // kept for a violation: expected here
  assert.deepStrictEqual(r.workerFailures, []);
  assert.ok(
    r.violations.some((v) => /not linearizable/.test(v)),
    `in-process write turns alone went unnoticed across processes: ${JSON.stringify(r.violations)}`,
  );
});

test("the table inspection flags bytes without a row, a committed row without bytes, leftovers after reconcile", () => {
  const id = "team/shared/k0";
  const rows = new Map([
    [id, { vaultId: `${id}#a`, pendingVaultIds: [`${id}#b`], pending: false }],
    ["team/shared/k1", { pending: false }], // committed, its bytes (the plain id) missing
  ]);
  const ids = [`${id}#a`, `${id}#b`, `${id}#c`, "team/shared/k2"];
  const before = inspect({ rows, ids }, false);
  assert.equal(before.unnamed, 2); // #c, k2
  assert.deepStrictEqual(before.findings, ["committed row without its bytes: team/shared/k1"]);
  const clean = inspect({ rows, ids }, true);
  assert.ok(clean.findings.some((f) => /k0 still needs repair/.test(f)));
  assert.ok(clean.findings.some((f) => /vault row team\/shared\/k0#b is not the live bytes/.test(f)));
  assert.ok(clean.findings.some((f) => /vault row team\/shared\/k2 is named by no metadata row/.test(f)));
  assert.deepStrictEqual(inspect({ rows: new Map([[id, { vaultId: `${id}#a` }]]), ids: [`${id}#a`] }, true).findings, []);
});

test("the linearizability checker: real-time order, failed calls, the final value", () => {
  const op = (act, start, end, o = {}) => ({ act, start, end, ok: true, ...o });
  const put = (v, s, e, o) => op("put", s, e, { value: v, ...o });
  const get = (out, s, e) => op("get", s, e, { out });
  // Overlapping puts may take either order; disjoint ones may not.
  assert.ok(check([put("a", 0, 10), put("b", 1, 9), get("a", 11, 12)], { final: "a" }).ok);
  assert.ok(!check([put("a", 0, 1), put("b", 2, 3), get("a", 4, 5)], { final: "b" }).ok);
  // A failed put may or may not take effect, but only once, within its interval.
  assert.ok(check([put("a", 0, 1, { ok: false }), get("a", 2, 3)], { final: "a" }).ok);
  assert.ok(check([put("a", 0, 1, { ok: false }), get(undefined, 2, 3)], { final: undefined }).ok);
  assert.ok(!check([put("a", 0, 1, { ok: false }), get(undefined, 2, 3), get("a", 4, 5)], { final: "a" }).ok);
  // delete's and has's answers, and the value read at the end.
  assert.ok(!check([op("delete", 0, 1, { out: true })], { final: undefined }).ok);
  assert.ok(!check([put("a", 0, 1), op("delete", 2, 3, { out: false })], { final: undefined }).ok);
  assert.ok(check([put("a", 0, 1, { ok: false }), op("delete", 2, 3, { out: false })], { final: undefined }).ok);
  assert.ok(check([put("a", 0, 1), op("delete", 2, 3, { out: true }), op("has", 4, 5, { out: false })], { final: undefined }).ok);
  assert.ok(!check([put("a", 0, 5), op("has", 1, 2, { out: true }), op("has", 3, 4, { out: false })], { final: "a" }).ok);
  assert.equal(check([put("a", 0, 1)], { final: undefined }).kind, "final value");
});
