// Several processes, one store (CI size): four Node processes share one
// SQLite database (better-sqlite3, WAL) as metadata KV and vault, with
// injected faults. Node only (child processes, native module).
//
//   node --test tests/multiprocess/multiprocess.node-test.mjs
//   node tests/multiprocess/run.mjs --seconds 60          # a longer run
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runMultiprocess, printReport, checkDatabase } from "./run.mjs";
import { openDatabase, tables } from "./sqlite-host.mjs";

const SECONDS = Number(process.env.MP_SECONDS ?? 4);

test(`4 processes × ${SECONDS} s on one SQLite store: no violation`, { timeout: 120_000 }, async () => {
  const r = await runMultiprocess({ seconds: SECONDS, procs: 4, lanes: 3, faultRate: 0.05, seed: Number(process.env.SEED ?? 1) });
  printReport(r, (line) => console.log(line));
  assert.deepStrictEqual(r.workerFailures, []);
  assert.deepStrictEqual(r.violations, []);
  for (const p of r.perProcess) {
    assert.ok(p.ops > 100, `process ${p.index} did only ${p.ops} ops`);
    assert.ok(p.faults > 0 && p.rejections > 0, `process ${p.index} saw no faults`);
  }
  assert.ok(r.opsByKind.deleteAll > 0 && r.opsByKind["shared-put+get"] > 0);
});

test("the same run catches a store that deletes the vault bytes before the row", { timeout: 120_000 }, async () => {
  const saved = process.env.CREDSTORE_IMPL;
  process.env.CREDSTORE_IMPL = path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "mutant-store.mjs");
  try {
    const r = await runMultiprocess({ seconds: 2, procs: 4, lanes: 3, faultRate: 0.05, seed: 2 });
    assert.deepStrictEqual(r.workerFailures, []);
    assert.ok(r.violations.length > 0, "the broken store went unnoticed");
  } finally {
    if (saved === undefined) delete process.env.CREDSTORE_IMPL;
    else process.env.CREDSTORE_IMPL = saved;
  }
});

test("the database checker flags a committed row without bytes and unreported orphan bytes", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "credstore-mpcheck-"));
  try {
    const file = path.join(dir, "db.sqlite");
    const db = openDatabase(file);
    const t = tables(db);
    const row = (key, fields = {}) => ({ userId: "team", projectId: "shared", key, createdAt: "x", updatedAt: "x", pending: false, ...fields });
    t.putRow("team/shared/w0-l0-k0", row("w0-l0-k0")); // committed, no bytes → violation
    t.setSecret("team/shared/w1-l0-k1", "orphan"); // bytes, no row, unreported → violation
    t.setSecret("team/shared/w1-l0-k2", "orphan"); // bytes, no row, reported → fine
    t.putRow("team/w2-l0/k0", row("k0", { projectId: "w2-l0", pending: true, orphanReason: "vault-delete-failed" }));
    t.setSecret("team/w2-l0/k0", "marked"); // bytes with a marker → fine
    t.putRow("team/w3-l0/k1", row("k1", { projectId: "w3-l0" }));
    t.setSecret("team/w3-l0/k1", "ok"); // committed with bytes → fine
    db.close();
    const reported = new Map([[1, new Set(["team/shared/w1-l0-k2"])]]);
    const { violations } = checkDatabase(file, reported);
    assert.deepStrictEqual(violations.sort(), [
      "committed row without vault bytes: team/shared/w0-l0-k0",
      "vault bytes without any row, never reported by w1-l0: team/shared/w1-l0-k1",
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
