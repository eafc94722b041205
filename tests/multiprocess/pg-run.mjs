#!/usr/bin/env node
// Several processes, one PostgreSQL: N worker processes (pg-worker.mjs), each
// with concurrent lanes on one store, run put/get/has/delete on a few shared
// keys of one scope over PostgresKvStorage + PostgresVault, with every kind
// of host call failing at random (before, after, never answering), while this
// coordinator terminates random connections (pg_terminate_backend), pauses
// workers (SIGSTOP … SIGCONT) and kills them (SIGKILL; a new incarnation
// takes the dead one's place) and, in strict mode, runs reconcile() with
// stale thresholds down to 0 while they write. Afterwards, with no writer left:
//
//   1. the whole recorded history of each key must be linearizable as a
//      register (linearizability.mjs), ending in the value a fresh store reads;
//   2. no committed row lacks its bytes; the bytes no row names are counted;
//   3. reconcile({ stalePendingMs: 0 }) runs, then listOrphans() is empty, every
//      vault row is the live bytes of a committed row (none named by no row),
//      no row names a pending or retired version, and every key reads as before.
//
// Strict mode: any failure of 1–3 is a violation. Compatible mode (the
// TypeScript store's algorithm, no conditional writes): the same findings are
// counted as anomalies by kind.
//
// Real-time order: every event is stamped with process.hrtime.bigint()
// (CLOCK_MONOTONIC on Linux: one clock for every process of the machine;
// checked when each worker starts: its first reading must fall between the
// coordinator's readings before spawning it and after hearing from it). A call
// is issued after its start stamp and its answer handled before its end stamp.
// A call that was rejected or cut by a kill may or may not have taken effect,
// by the latest of: its end stamp, the landing of any call a `noanswer` fault
// left in flight while it ran, and, for a killed worker, the moment the server
// showed no connection of it any more (every statement it sent was over).
//
//   node tests/multiprocess/pg-run.mjs [--seconds 30] [--procs 4] [--lanes 2]
//        [--keys 3] [--fault-rate 0.03] [--seed 1] [--compatible | --both] [--no-chaos]
//        [--hide putIf,deleteIf] [--keep] [--json]
//   npm run soak:pg -- --seconds 600
// Exit status 1 on a violation (strict) or a worker that failed.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ServerCredentialStore } from "../js/helpers/impl.mjs";
import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";
import { rng } from "../js/support/canon.mjs";
import { startCluster } from "../js/helpers/pg-cluster.mjs";
import { check, checkSegments } from "./linearizability.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const now = () => Number(process.hrtime.bigint());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const USER = "team";
const PROJECT = "shared";
const PREFIX = `${USER}/${PROJECT}/`;

/** Whether `candidate` names a version of vault id `id` (`id` or `id#token`). */
export function isVersionOf(id, candidate) {
  if (typeof candidate !== "string" || !candidate.startsWith(id)) return false;
  const rest = candidate.slice(id.length);
  return rest === "" || /^#[A-Za-z0-9-]{1,64}$/.test(rest);
}

/** The vault ids a metadata row names: { live, pending[], retired[] }. */
export function namedBy(id, row) {
  const live = isVersionOf(id, row?.vaultId) ? row.vaultId : id;
  const list = (v) => (Array.isArray(v) ? v.filter((x) => isVersionOf(id, x) && x !== live) : []);
  return { live, pending: list(row?.pendingVaultIds), retired: list(row?.retiredVaultIds) };
}

/** The tables as they are: rows by key, vault ids. */
async function scan(pool) {
  const rows = new Map(
    (await pool.query(`SELECT key, value::text AS value FROM credential_metadata`)).rows.map((r) => [r.key, JSON.parse(r.value)]),
  );
  const ids = (await pool.query(`SELECT id FROM credential_vault`)).rows.map((r) => r.id);
  return { rows, ids };
}

/**
 * Findings over the tables: committed rows without bytes, bytes no row names,
 * and (`clean`: after reconcile) anything but committed rows naming only
 * their live bytes.
 */
export function inspect({ rows, ids }, clean) {
  const have = new Set(ids);
  const findings = [];
  let unnamed = 0;
  for (const [id, row] of rows) {
    const n = namedBy(id, row);
    const committed = row && row.pending !== true;
    if (committed && !have.has(n.live)) findings.push(`committed row without its bytes: ${id}`);
    if (clean && (!committed || n.pending.length || n.retired.length)) {
      findings.push(`after reconcile, row ${id} still needs repair (pending ${row.pending === true}, ${n.pending.length} pending and ${n.retired.length} retired versions)`);
    }
  }
  for (const vid of ids) {
    const base = vid.includes("#") ? vid.slice(0, vid.indexOf("#")) : vid;
    const row = rows.get(base);
    const n = row === undefined ? undefined : namedBy(base, row);
    const named = n !== undefined && (n.live === vid || n.pending.includes(vid) || n.retired.includes(vid));
    if (!named) {
      unnamed += 1;
      if (clean) findings.push(`after reconcile, vault row ${vid} is named by no metadata row`);
    } else if (clean && !(n.live === vid && row.pending !== true)) {
      findings.push(`after reconcile, vault row ${vid} is not the live bytes of a committed row`);
    }
  }
  return { findings, unnamed };
}

/** Reads each worker incarnation's history file into operations per key and counters. */
export function readHistories(files) {
  const byKey = new Map();
  const counters = { calls: 0, callsByMethod: {}, faults: 0, faultsByKind: {}, ops: 0, failed: 0, cut: 0, widened: 0, unattributed: 0, byCode: {}, opsByKind: {} };
  for (const { file, deathAt } of files) {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
    const open = new Map();
    const late = [];
    const lateOpen = new Map();
    let lastStats = null;
    let done = false;
    const ops = [];
    for (const line of lines) {
      if (!line) continue;
      let e;
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a line cut by SIGKILL mid-write
      }
      if (e.e === "s") {
        const op = { act: e.op, key: e.k, value: e.v, start: e.t, end: undefined, ok: false, out: undefined, src: `${path.basename(file)} l${e.l} n${e.n}` };
        open.set(`${e.l}.${e.n}`, op);
        ops.push(op);
      } else if (e.e === "r") {
        const op = open.get(`${e.l}.${e.n}`);
        open.delete(`${e.l}.${e.n}`);
        op.end = e.t;
        op.ok = e.ok;
        op.out = e.out;
        if (!e.ok) {
          counters.failed += 1;
          const code = e.code ?? "error";
          counters.byCode[code] = (counters.byCode[code] ?? 0) + 1;
        }
      } else if (e.e === "ls") lateOpen.set(e.i, { start: e.t, end: deathAt });
      else if (e.e === "le") {
        const l = lateOpen.get(e.i);
        if (l) {
          l.end = e.t;
          late.push(l);
          lateOpen.delete(e.i);
        }
      } else if (e.e === "f") {
        counters.faults += 1;
        counters.faultsByKind[e.kind] = (counters.faultsByKind[e.kind] ?? 0) + 1;
      } else if (e.e === "stats") lastStats = e;
      else if (e.e === "done") done = true;
    }
    late.push(...lateOpen.values());
    if (!done && deathAt === undefined) throw new Error(`${file}: the worker neither finished nor was killed`);
    for (const op of ops) {
      if (op.end === undefined) {
        // Cut by the kill: over by the time the server had no connection of it.
        op.end = deathAt;
        op.cut = true;
        counters.cut += 1;
      }
      if (op.act === "put" || op.act === "delete") {
        const end = op.end;
        for (const l of late) if (l.start >= op.start && l.start <= end && l.end > op.end) op.end = l.end;
        if (op.end > end) counters.widened += 1;
      }
      counters.ops += 1;
      counters.opsByKind[op.act] = (counters.opsByKind[op.act] ?? 0) + 1;
      if (!byKey.has(op.key)) byKey.set(op.key, []);
      byKey.get(op.key).push(op);
    }
    if (lastStats) {
      counters.calls += lastStats.calls;
      counters.unattributed += lastStats.unattributed ?? 0;
      for (const [m, n] of Object.entries(lastStats.byMethod)) counters.callsByMethod[m] = (counters.callsByMethod[m] ?? 0) + n;
    }
  }
  return { byKey, counters };
}

/** Starts one worker incarnation; resolves its handle once it said hello (clock checked). */
async function startWorker(ctx, index, incarnation) {
  const history = path.join(ctx.dir, `w${index}-${incarnation}.jsonl`);
  const cfg = {
    url: ctx.url,
    index,
    incarnation,
    deadline: ctx.deadline,
    seed: ctx.seed * 7919 + index * 131 + incarnation,
    lanes: ctx.lanes,
    keys: ctx.keys,
    strict: ctx.strict,
    faultRate: ctx.faultRate,
    key: ctx.vaultKey,
    hide: ctx.hide,
    history,
  };
  const before = now();
  const child = spawn(process.execPath, [path.join(here, "pg-worker.mjs"), JSON.stringify(cfg)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const w = { index, incarnation, child, history, stderr: "", exited: null, deathAt: undefined, killed: false };
  child.stderr.on("data", (d) => (w.stderr += d));
  w.exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve((w.exited = { code, signal }))));
  ctx.files.push(w);
  // The hello line: the worker's clock reading must fall between ours.
  for (;;) {
    if (w.exited) break;
    const text = fs.existsSync(history) ? fs.readFileSync(history, "utf8") : "";
    if (text.includes("\n")) {
      const hello = JSON.parse(text.slice(0, text.indexOf("\n")));
      const after = now();
      if (!(hello.t >= before && hello.t <= after)) {
        throw new Error(`worker ${index}: its clock (${hello.t}) is not ours (${before}..${after}): real-time order cannot be checked`);
      }
      ctx.clockChecks += 1;
      break;
    }
    await sleep(5);
  }
  return w;
}

/** Waits until the server has no connection of that worker incarnation left. */
async function waitGone(admin, w) {
  const name = `credstore-mp-w${w.index}-${w.incarnation}`;
  for (let i = 0; i < 2000; i++) {
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [name]);
    if (rows[0].n === 0) return now();
    await sleep(5);
  }
  throw new Error(`${name}: connections still open 10 s after SIGKILL`);
}

/**
 * The coordinator's faults until the deadline: terminations, pauses, kills;
 * in strict mode also reconcile() while the workers write (`reconciler`, a
 * store of its own), with thresholds from 0 (every pending version is
 * retired at once, its writer's commit must then fail) to a second.
 */
async function chaos(ctx, admin, slots, reconciler) {
  const rand = rng(ctx.seed ^ 0xc0ffee);
  const counts = { terminated: 0, stops: 0, kills: 0, restarts: 0, reconciles: 0, reconcileRepaired: {} };
  const terminate = async () => {
    while (Date.now() < ctx.deadline - 200) {
      await sleep(100 + rand.int(300));
      const { rows } = await admin.query(
        `SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'credstore-mp-w%' ORDER BY random() LIMIT 1`,
      );
      if (!rows.length) continue;
      const r = await admin.query(`SELECT pg_terminate_backend($1) AS ok`, [rows[0].pid]);
      if (r.rows[0].ok) counts.terminated += 1;
    }
  };
  const pause = async () => {
    while (Date.now() < ctx.deadline - 1000) {
      await sleep(300 + rand.int(1200));
      const w = slots[rand.int(slots.length)];
      if (w.exited || w.killed) continue;
      w.child.kill("SIGSTOP");
      counts.stops += 1;
      await sleep(20 + rand.int(400));
      w.child.kill("SIGCONT");
    }
  };
  const kill = async () => {
    while (Date.now() < ctx.deadline - 1500) {
      await sleep(1500 + rand.int(3000));
      if (Date.now() >= ctx.deadline - 1500) break;
      const i = rand.int(slots.length);
      const w = slots[i];
      if (w.exited) continue;
      w.killed = true;
      w.child.kill("SIGKILL");
      counts.kills += 1;
      await w.exit;
      w.deathAt = await waitGone(admin, w);
      slots[i] = await startWorker(ctx, w.index, w.incarnation + 1);
      counts.restarts += 1;
    }
  };
  const reconcile = async () => {
    while (reconciler && Date.now() < ctx.deadline - 500) {
      await sleep(500 + rand.int(1000));
      const stalePendingMs = [0, 100, 1000][rand.int(3)];
      const t0 = now();
      const report = await reconciler.reconcile({ stalePendingMs });
      const repaired = report.repaired.map((e) => [e.key, e.reason]);
      fs.appendFileSync(path.join(ctx.dir, "reconciles.jsonl"), JSON.stringify({ t0, t1: now(), stalePendingMs, repaired }) + "\n");
      counts.reconciles += 1;
      for (const e of report.repaired) counts.reconcileRepaired[e.reason] = (counts.reconcileRepaired[e.reason] ?? 0) + 1;
    }
  };
  await Promise.all([terminate(), pause(), kill(), reconcile()]);
  return counts;
}

export async function runPg({
  url,
  seconds = 30,
  procs = 4,
  lanes = 2,
  keys = 3,
  faultRate = 0.03,
  seed = 1,
  strict = true,
  chaos: withChaos = true,
  keep = false,
  hide = [],
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "credstore-pgmp-")),
} = {}) {
  const database = `mp_${process.pid}_${Date.now() % 1e8}_${seed}`;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  admin.on("error", () => {});
  await admin.query(`CREATE DATABASE ${database}`);
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${database}`;
  const pool = new pg.Pool({ connectionString: dbUrl.toString(), max: 4 });
  pool.on("error", () => {});
  const vaultKey = randomBytes(32);
  const metadata = new PostgresKvStorage({ pool });
  const vault = new PostgresVault({ pool, key: vaultKey });
  await metadata.init();
  await vault.init();
  const ctx = {
    url: dbUrl.toString(),
    dir,
    deadline: Date.now() + seconds * 1000,
    seed,
    lanes,
    keys,
    strict,
    faultRate,
    vaultKey: vaultKey.toString("hex"),
    hide,
    files: [],
    clockChecks: 0,
  };
  const t0 = Date.now();
  let kept = false;
  try {
    const slots = [];
    for (let i = 0; i < procs; i++) slots.push(await startWorker(ctx, i, 0));
    const reconciler = strict && !hide.length ? new ServerCredentialStore({ metadata, vault, userId: USER, projectId: PROJECT, strict }) : null;
    const counts = withChaos
      ? await chaos(ctx, admin, slots, reconciler)
      : { terminated: 0, stops: 0, kills: 0, restarts: 0, reconciles: 0, reconcileRepaired: {} };
    await Promise.all(slots.map((w) => w.exit));
    const workerFailures = ctx.files
      .filter((w) => !w.killed && !(w.exited.code === 0))
      .map((w) => `worker ${w.index}.${w.incarnation}: exit ${w.exited.code ?? w.exited.signal}\n${w.stderr}`);
    const wallMs = Date.now() - t0;

    // 1. The histories, and the value each key reads now, no writer left.
    const { byKey, counters } = readHistories(ctx.files.map((w) => ({ file: w.history, deathAt: w.deathAt })));
    // The checking store sees the backends as the workers did (`hide`).
    const expose = (target, methods) =>
      Object.fromEntries(methods.filter((m) => !hide.includes(m)).map((m) => [m, (...a) => target[m](...a)]));
    const reader = new ServerCredentialStore({
      metadata: expose(metadata, ["get", "put", "delete", "getAll", "getByPrefix", "putIf", "deleteIf"]),
      vault: expose(vault, ["setSecret", "getSecret", "deleteSecret", "listIds"]),
      userId: USER,
      projectId: PROJECT,
      strict,
    });
    const violations = [];
    const anomalies = {};
    const note = (kind, n = 1) => (anomalies[kind] = (anomalies[kind] ?? 0) + n);
    const finals = new Map();
    const lin = { keys: 0, ops: 0, steps: 0, checkMs: 0 };
    for (let k = 0; k < keys; k++) {
      const key = `k${k}`;
      finals.set(key, await reader.get(key));
    }
    const tc = Date.now();
    for (const [key, ops] of [...byKey].sort()) {
      lin.keys += 1;
      lin.ops += ops.length;
      if (strict) {
        const r = check(ops, { final: finals.get(key) });
        lin.steps += r.steps;
        if (!r.ok) violations.push(`key ${key}: history not linearizable (${r.kind}) at ${JSON.stringify(r.at)}`);
      } else {
        const r = checkSegments(ops, { final: finals.get(key) });
        lin.steps += r.steps;
        for (const a of r.anomalies) note(`not linearizable at: ${a.kind}`);
      }
    }
    lin.checkMs = Date.now() - tc;

    // 2. The tables before reconcile.
    const before = inspect(await scan(pool), false);
    for (const f of before.findings) (strict ? violations.push(f) : note(f.replace(/: .*/, "")));

    // 3. Reconcile, then nothing left to repair and every key as it was.
    const report = await reader.reconcile({ stalePendingMs: 0 });
    const repairedByReason = {};
    for (const e of report.repaired) repairedByReason[e.reason] = (repairedByReason[e.reason] ?? 0) + 1;
    if (report.failed.length) {
      (strict ? violations.push(`reconcile failed on ${report.failed.length} findings`) : note("reconcile failed"));
    }
    const orphansLeft = await reader.listOrphans({ stalePendingMs: 0 });
    const after = inspect(await scan(pool), true);
    const afterFindings = [...after.findings];
    if (orphansLeft.length) afterFindings.push(`listOrphans after reconcile: ${orphansLeft.length} rows`);
    for (const [key, value] of finals) {
      const again = await reader.get(key);
      if (again !== value) afterFindings.push(`key ${key} read ${JSON.stringify(value)} before reconcile, ${JSON.stringify(again)} after`);
    }
    for (const f of afterFindings) (strict ? violations.push(f) : note(f.replace(/: .*/, "").replace(/row \S+ /, "row ")));
    const rowsLeft = await scan(pool);
    if (violations.length) {
      kept = true;
      fs.writeFileSync(path.join(dir, "report.json"), JSON.stringify({ violations, finals: [...finals], rows: [...rowsLeft.rows] }, null, 1));
    }

    return {
      mode: strict ? "strict" : "compatible",
      seconds,
      procs,
      lanes,
      keys,
      faultRate,
      seed,
      wallMs,
      incarnations: ctx.files.length,
      clockChecks: ctx.clockChecks,
      chaos: counts,
      counters,
      linearizability: lin,
      unnamedBeforeReconcile: before.unnamed,
      reconcile: { repaired: report.repaired.length, byReason: repairedByReason, failed: report.failed.length, skipped: report.skipped.length },
      orphansLeft: orphansLeft.length,
      unnamedAfterReconcile: after.unnamed,
      rowsAfter: rowsLeft.rows.size,
      vaultRowsAfter: rowsLeft.ids.length,
      violations,
      anomalies,
      workerFailures,
      dir: keep || kept ? dir : undefined,
    };
  } finally {
    for (const w of ctx.files) if (!w.exited) w.child.kill("SIGKILL");
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    // Histories that showed a violation are kept for study.
    if (!keep && !kept) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function printReport(r, out = console.log) {
  const c = r.counters;
  out(`pg multiprocess (${r.mode}): ${r.procs} processes × ${r.lanes} lanes, ${r.keys} shared keys, ${r.seconds} s, fault rate ${r.faultRate}, seed ${r.seed} (wall ${r.wallMs} ms)`);
  out(`  processes: ${r.incarnations} started (${r.procs} + ${r.chaos.restarts} restarts), clock checked at each start (${r.clockChecks})`);
  out(`  calls: ${c.ops} store operations (${JSON.stringify(c.opsByKind)}), ${c.calls} host calls (at least: a killed process's last 250 ms are not counted; ${c.unattributed} not attributed to a lane)`);
  out(`  operations failed: ${c.failed} (${JSON.stringify(c.byCode)}), cut by a kill: ${c.cut}, widened to a call that landed after them: ${c.widened}`);
  out(`  faults injected: ${c.faults} ${JSON.stringify(c.faultsByKind)}`);
  out(`  coordinator: ${r.chaos.kills} SIGKILLs, ${r.chaos.stops} SIGSTOP/SIGCONT, ${r.chaos.terminated} connections terminated, ${r.chaos.reconciles} reconciles during the run (repaired ${JSON.stringify(r.chaos.reconcileRepaired)})`);
  out(`  linearizability: ${r.linearizability.keys} keys, ${r.linearizability.ops} operations checked (${r.linearizability.steps} search steps, ${r.linearizability.checkMs} ms)`);
  out(`  unnamed vault rows before reconcile: ${r.unnamedBeforeReconcile}; reconcile repaired ${r.reconcile.repaired} ${JSON.stringify(r.reconcile.byReason)}, failed ${r.reconcile.failed}, skipped ${r.reconcile.skipped}`);
  out(`  after reconcile: ${r.orphansLeft} orphans listed, ${r.unnamedAfterReconcile} vault rows named by no row; ${r.rowsAfter} rows, ${r.vaultRowsAfter} vault rows`);
  out(`  violations: ${r.violations.length}`);
  for (const v of r.violations.slice(0, 20)) out(`    - ${v}`);
  if (Object.keys(r.anomalies).length) {
    out(`  anomalies by kind:`);
    for (const [k, v] of Object.entries(r.anomalies).sort()) out(`    ${k}: ${v}`);
  }
  for (const f of r.workerFailures) out(`  WORKER FAILED: ${f}`);
  if (r.dir) out(`  histories kept in ${r.dir}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const cluster = startCluster();
  let failed = false;
  try {
    const modes = args.includes("--compatible") ? [false] : args.includes("--both") ? [true, false] : [true];
    for (const strict of modes) {
      const report = await runPg({
        url: cluster.url,
        seconds: opt("seconds", 30),
        procs: opt("procs", 4),
        lanes: opt("lanes", 2),
        keys: opt("keys", 3),
        faultRate: opt("fault-rate", 0.03),
        seed: opt("seed", 1),
        strict,
        chaos: !args.includes("--no-chaos"),
        hide: args.includes("--hide") ? args[args.indexOf("--hide") + 1].split(",") : [],
        keep: args.includes("--keep"),
      });
      printReport(report);
      if (args.includes("--json")) console.log(JSON.stringify(report));
      if (report.violations.length || report.workerFailures.length) failed = true;
    }
  } finally {
    cluster.stop();
  }
  process.exit(failed ? 1 : 0);
}
