#!/usr/bin/env node
// Figures on a real PostgreSQL (a throwaway cluster of scripts/pg.sh, unix
// socket, fsync off): operations per second with 1, 4 and 8 processes × 2
// lanes on 16 shared keys (gets 50%, puts 35%, deletes 15%, no faults), for
// ours in strict mode, ours in the compatible mode, and the TypeScript store's
// algorithm (the plain-JS oracle of tests/oracle/, compatible) over the same
// PostgresKvStorage + PostgresVault. Per contender: throughput, p50/p99
// latency, the share of operations rejected with CREDENTIAL_CONFLICT, and of
// conditional writes that lost their race (each a re-read and retry).
// Nothing is asserted; the figures depend on the machine.
//
//   npm run bench:pg [-- --seconds 5 --rounds 3 --procs 1,4,8 --keys 16 --json]
import { spawn } from "node:child_process";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";
import { startCluster } from "../tests/js/helpers/pg-cluster.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECONDS = Number(opt("seconds", 5));
const ROUNDS = Number(opt("rounds", 3));
const PROCS = opt("procs", "1,4,8").split(",").map(Number);
const KEYS = Number(opt("keys", 16));
const LANES = Number(opt("lanes", 2));
const MIX = { put: 0.35, delete: 0.15 };
const CONTENDERS = ["strict", "compatible", "oracle"];

function runWorker(cfg) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, "pg-worker.mjs"), JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`bench worker exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)));
    });
  });
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function measure(url, pool, contender, procs, key, seed) {
  await pool.query("TRUNCATE credential_metadata, credential_vault");
  const startAt = Date.now() + 1500; // every process connected before
  const endAt = startAt + SECONDS * 1000;
  const results = await Promise.all(
    Array.from({ length: procs }, (_, i) =>
      runWorker({ url, contender, lanes: LANES, keys: KEYS, mix: MIX, key, seed: seed * 100 + i, startAt, endAt }),
    ),
  );
  const lat = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const ops = results.reduce((a, r) => a + r.ops, 0);
  const writes = results.reduce((a, r) => a + (r.byOp.put ?? 0) + (r.byOp.delete ?? 0), 0);
  const conflicts = results.reduce((a, r) => a + (r.failed.CREDENTIAL_CONFLICT ?? 0), 0);
  const failed = results.reduce((a, r) => a + Object.values(r.failed).reduce((x, y) => x + y, 0), 0);
  const conditional = results.reduce((a, r) => a + r.conditional, 0);
  const lost = results.reduce((a, r) => a + r.lostRaces, 0);
  return {
    contender,
    procs,
    opsPerSec: ops / SECONDS,
    ops,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    conflictRate: writes ? conflicts / writes : 0,
    failedOther: failed - conflicts,
    retryRate: conditional ? lost / conditional : 0,
    retriesPerWrite: writes ? lost / writes : 0,
  };
}

const cluster = startCluster();
const pool = new pg.Pool({ connectionString: cluster.url, max: 2 });
pool.on("error", () => {});
const key = randomBytes(32);
try {
  await new PostgresKvStorage({ pool }).init();
  await new PostgresVault({ pool, key }).init();
  const all = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const procs of PROCS) {
      for (const contender of CONTENDERS) {
        const r = await measure(cluster.url, pool, contender, procs, key.toString("hex"), round + 1);
        all.push(r);
        console.error(`round ${round + 1}: ${contender} × ${procs}: ${r.opsPerSec.toFixed(0)} ops/s, p50 ${r.p50} ms, p99 ${r.p99} ms`);
      }
    }
  }
  // Medians over rounds.
  const med = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const rows = [];
  for (const procs of PROCS) {
    for (const contender of CONTENDERS) {
      const rs = all.filter((r) => r.procs === procs && r.contender === contender);
      rows.push({
        procs,
        contender,
        opsPerSec: med(rs.map((r) => r.opsPerSec)),
        p50: med(rs.map((r) => r.p50)),
        p99: med(rs.map((r) => r.p99)),
        conflictRate: med(rs.map((r) => r.conflictRate)),
        retryRate: med(rs.map((r) => r.retryRate)),
        retriesPerWrite: med(rs.map((r) => r.retriesPerWrite)),
        failedOther: med(rs.map((r) => r.failedOther)),
      });
    }
  }
  const name = { strict: "ours, strict", compatible: "ours, compatible", oracle: "TypeScript algorithm (oracle)" };
  console.log(`PostgreSQL 15 (local cluster, unix socket, fsync off), ${LANES} lanes per process, ${KEYS} shared keys, gets ${100 - (MIX.put + MIX.delete) * 100}% / puts ${MIX.put * 100}% / deletes ${MIX.delete * 100}%, ${SECONDS} s per run, median of ${ROUNDS} round(s)`);
  console.log("");
  console.log("| processes | store | ops/s | vs oracle | p50 ms | p99 ms | conflicts / write | lost races / conditional write | retries / write |");
  console.log("|--:|---|--:|--:|--:|--:|--:|--:|--:|");
  for (const r of rows) {
    const oracle = rows.find((o) => o.procs === r.procs && o.contender === "oracle");
    const pct = (x) => `${(x * 100).toFixed(2)}%`;
    const strict = r.contender === "strict";
    console.log(
      `| ${r.procs} | ${name[r.contender]} | ${r.opsPerSec.toFixed(0)} | ${(r.opsPerSec / oracle.opsPerSec).toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${strict ? pct(r.conflictRate) : "—"} | ${strict ? pct(r.retryRate) : "—"} | ${strict ? r.retriesPerWrite.toFixed(3) : "—"} |`,
    );
  }
  if (args.includes("--json")) console.log(JSON.stringify(rows));
} finally {
  await pool.end();
  cluster.stop();
}
