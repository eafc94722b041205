#!/usr/bin/env node
// Several processes, one store: N Node processes share one SQLite database
// (WAL, busy_timeout) holding the metadata KV and the vault, and run random
// concurrent operations with injected faults for a bounded time. Afterwards
// the shared data is checked:
//   - no committed row (pending !== true) lacks vault bytes;
//   - every vault entry without a committed row has a row (orphan marker or
//     pending row), or its id was reported by a rejection of the process that
//     owns it (or by a read of an expired row, whose delete failure the store
//     swallows by design);
//   - each worker checked the sequential model for its own keys as it went,
//     and their final rows and bytes.
// For the shared keys, which every process writes without a lock, the same
// findings are counted as anomalies by kind instead of violations.
//
//   node tests/multiprocess/run.mjs [--seconds 5] [--procs 4] [--lanes 3]
//                                  [--fault-rate 0.05] [--seed N] [--keep]
// Exit status 1 when there is any violation or a worker failed.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase, tables } from "./sqlite-host.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

function runWorker(cfg) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(here, "worker.mjs"), JSON.stringify(cfg)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code, signal) => {
      let summary = null;
      try {
        summary = JSON.parse(out.trim().split("\n").at(-1));
      } catch {}
      resolve({ code, signal, summary, stderr: err });
    });
  });
}

/** Which key space an id belongs to: { owner: "w1-l2" } for private ids, { shared: true } otherwise. */
export function ownerOf(id) {
  let m = /^team\/shared\/(w\d+-l\d+)-k\d+$/.exec(id);
  if (m) return { owner: m[1] };
  m = /^team\/(w\d+-l\d+)\/k\d+$/.exec(id);
  if (m) return { owner: m[1] };
  return { shared: true };
}

/**
 * Checks the invariants over the database. `reported` maps a process index
 * to the set of ids its log names (rejections, expired reads).
 */
export function checkDatabase(dbFile, reported) {
  const db = openDatabase(dbFile);
  const t = tables(db);
  const rows = new Map(t.allRows().map(({ key, value }) => [key, value]));
  const secrets = new Map(t.allSecrets().map(({ id, secret }) => [id, secret]));
  db.close();
  const violations = [];
  const anomalies = {};
  const counts = { rows: rows.size, vaultEntries: secrets.size, committed: 0, markers: {}, pendingRows: 0 };
  const note = (kind) => (anomalies[kind] = (anomalies[kind] ?? 0) + 1);
  const reportedByAny = (id) => [...reported.values()].some((s) => s.has(id));
  const reportedByOwner = (owner, id) => reported.get(Number(/^w(\d+)/.exec(owner)[1]))?.has(id) ?? false;

  for (const [id, row] of rows) {
    const committed = row.pending !== true;
    if (committed) counts.committed += 1;
    else if (row.orphanReason) counts.markers[row.orphanReason] = (counts.markers[row.orphanReason] ?? 0) + 1;
    else counts.pendingRows += 1;
    if (committed && !secrets.has(id)) {
      const o = ownerOf(id);
      if (o.shared) note("shared: committed row without vault bytes");
      else violations.push(`committed row without vault bytes: ${id}`);
    }
    if (!committed && !row.orphanReason) note(`${ownerOf(id).shared ? "shared" : "private"}: pending row left without orphanReason`);
  }
  for (const id of secrets.keys()) {
    const row = rows.get(id);
    if (row !== undefined && row.pending !== true) continue;
    if (row !== undefined) continue; // a marker or pending row makes the bytes discoverable
    const o = ownerOf(id);
    if (o.shared) {
      note(reportedByAny(id) ? "shared: orphan bytes, reported by a rejection" : "shared: orphan bytes, unreported");
    } else if (!reportedByOwner(o.owner, id)) {
      violations.push(`vault bytes without any row, never reported by ${o.owner}: ${id}`);
    } else {
      note("private: orphan bytes without a row, reported by a rejection");
    }
  }
  return { violations, anomalies, counts };
}

function readReports(logFile) {
  const ids = new Set();
  const byOp = {};
  if (!fs.existsSync(logFile)) return { ids, byOp };
  for (const line of fs.readFileSync(logFile, "utf8").split("\n")) {
    if (!line) continue;
    const e = JSON.parse(line);
    if (e.id) ids.add(e.id);
    byOp[e.op] = (byOp[e.op] ?? 0) + 1;
  }
  return { ids, byOp };
}

export async function runMultiprocess({
  seconds = 5,
  procs = 4,
  lanes = 3,
  faultRate = 0.05,
  seed = 1,
  keep = false,
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "credstore-mp-")),
} = {}) {
  try {
    return await runIn(dir, { seconds, procs, lanes, faultRate, seed, keep });
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runIn(dir, { seconds, procs, lanes, faultRate, seed, keep }) {
  const dbFile = path.join(dir, "store.sqlite");
  openDatabase(dbFile).close(); // schema + WAL before anyone races for it
  const t0 = Date.now();
  const results = await Promise.all(
    Array.from({ length: procs }, (_, index) =>
      runWorker({ db: dbFile, index, seconds, seed: seed * 1000 + index, lanes, faultRate, log: path.join(dir, `w${index}.log`) }),
    ),
  );
  const wallMs = Date.now() - t0;
  const reported = new Map();
  const logOps = {};
  results.forEach((_, i) => {
    const { ids, byOp } = readReports(path.join(dir, `w${i}.log`));
    reported.set(i, ids);
    for (const [k, v] of Object.entries(byOp)) logOps[k] = (logOps[k] ?? 0) + v;
  });
  const check = checkDatabase(dbFile, reported);
  const workerFailures = results
    .map((r, i) => (r.code === 0 && r.summary ? null : `worker ${i}: exit ${r.code ?? r.signal}\n${r.stderr}`))
    .filter(Boolean);
  const workerViolations = results.flatMap((r) => r.summary?.violations ?? []);
  const anomalies = { ...check.anomalies };
  for (const r of results) {
    for (const [k, v] of Object.entries(r.summary?.anomalies ?? {})) anomalies[k] = (anomalies[k] ?? 0) + v;
  }
  const report = {
    seconds,
    procs,
    lanes,
    faultRate,
    seed,
    wallMs,
    perProcess: results.map((r, i) => ({
      index: i,
      ops: r.summary?.ops ?? 0,
      hostCalls: r.summary?.hostCalls ?? 0,
      faults: r.summary?.faults ?? 0,
      rejections: r.summary?.rejections ?? 0,
      violations: r.summary?.violations?.length ?? 0,
    })),
    totals: {
      ops: results.reduce((a, r) => a + (r.summary?.ops ?? 0), 0),
      hostCalls: results.reduce((a, r) => a + (r.summary?.hostCalls ?? 0), 0),
      faults: results.reduce((a, r) => a + (r.summary?.faults ?? 0), 0),
      rejections: results.reduce((a, r) => a + (r.summary?.rejections ?? 0), 0),
    },
    opsByKind: results.reduce((acc, r) => {
      for (const [k, v] of Object.entries(r.summary?.opsByKind ?? {})) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    loggedByOp: logOps,
    data: check.counts,
    violations: [...workerViolations, ...check.violations],
    anomalies,
    workerFailures,
    dir: keep ? dir : undefined,
  };
  return report;
}

export function printReport(r, out = console.log) {
  out(`multiprocess: ${r.procs} processes × ${r.lanes} lanes, ${r.seconds} s, fault rate ${r.faultRate}, seed ${r.seed} (wall ${r.wallMs} ms)`);
  for (const p of r.perProcess) {
    out(`  process ${p.index}: ${p.ops} ops, ${p.hostCalls} host calls, ${p.faults} faults injected, ${p.rejections} rejections, ${p.violations} violations`);
  }
  out(`  total: ${r.totals.ops} ops, ${r.totals.hostCalls} host calls, ${r.totals.faults} faults, ${r.totals.rejections} rejections`);
  out(`  ops by kind: ${JSON.stringify(r.opsByKind)}`);
  out(`  logged ids by op: ${JSON.stringify(r.loggedByOp)}`);
  out(`  final data: ${JSON.stringify(r.data)}`);
  out(`  violations: ${r.violations.length}`);
  for (const v of r.violations.slice(0, 20)) out(`    - ${v}`);
  out(`  anomalies by kind:`);
  for (const [k, v] of Object.entries(r.anomalies).sort()) out(`    ${k}: ${v}`);
  for (const f of r.workerFailures) out(`  WORKER FAILED: ${f}`);
  if (r.dir) out(`  data kept in ${r.dir}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const report = await runMultiprocess({
    seconds: opt("seconds", 5),
    procs: opt("procs", 4),
    lanes: opt("lanes", 3),
    faultRate: opt("fault-rate", 0.05),
    seed: opt("seed", 1),
    keep: args.includes("--keep"),
  });
  printReport(report);
  process.exit(report.violations.length === 0 && report.workerFailures.length === 0 ? 0 : 1);
}
