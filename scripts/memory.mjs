#!/usr/bin/env node
// Memory soak of the built package (node build):
//   1. one store instance doing --ops operations (mixed put/get/delete on a
//      Map backend, --concurrency at a time);
//   2. --instances store instances created, used once and dropped WITHOUT
//      .free() (the FinalizationRegistry must reclaim them).
// Prints the wasm linear memory size (memory.buffer.byteLength), the
// externref table length, the JS heap and the process RSS before, at
// intervals and after each phase, and exits 1 if growth after warm-up
// exceeds the bounds (wasm memory < 1 MiB, RSS < 50 MB by default).
//
//   node --expose-gc scripts/memory.mjs                       # 1M ops, 100k instances
//   node --expose-gc scripts/memory.mjs --ops 100000 --instances 10000 --json
// (without --expose-gc the script enables gc itself through v8 flags.)
import { mapMetadata, mapVault } from "../tests/js/helpers/map-hosts.mjs";
import { loadWithMemory } from "../tests/js/support/wasm-memory.mjs";
import v8 from "node:v8";
import vm from "node:vm";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const OPS = opt("ops", 1_000_000);
const INSTANCES = opt("instances", 100_000);
const CONCURRENCY = opt("concurrency", 64);
const MAX_WASM_GROWTH = opt("max-wasm-growth", 1 << 20);
const MAX_RSS_GROWTH = opt("max-rss-growth", 50 * 1e6);
const JSON_OUT = args.includes("--json");

let gc = globalThis.gc;
if (typeof gc !== "function") {
  v8.setFlagsFromString("--expose-gc");
  gc = vm.runInNewContext("gc");
}

const { ServerCredentialStore, memory, exports, source } = await loadWithMemory();
const table = Object.values(exports).find((x) => x instanceof WebAssembly.Table);

const turn = () => new Promise((resolve) => setImmediate(resolve));
async function settle() {
  // Collect, then let FinalizationRegistry callbacks (tasks) run, twice.
  for (let i = 0; i < 3; i++) {
    gc();
    await turn();
  }
}

function sample(label) {
  const m = process.memoryUsage();
  return {
    label,
    wasmBytes: memory.buffer.byteLength,
    tableLength: table ? table.length : null,
    heapUsed: m.heapUsed,
    rss: m.rss,
  };
}

const log = (...a) => (JSON_OUT ? console.error(...a) : console.log(...a));
const mb = (n) => (n / 1e6).toFixed(1) + " MB";
function show(s) {
  log(
    `  ${s.label.padEnd(28)} wasm ${String(s.wasmBytes).padStart(9)} B` +
      (s.tableLength === null ? "" : `  externref table ${String(s.tableLength).padStart(6)}`) +
      `  heap ${mb(s.heapUsed).padStart(9)}  rss ${mb(s.rss).padStart(9)}`,
  );
  return s;
}

function mapBackend() {
  const metadata = mapMetadata();
  const vaultHost = mapVault();
  return { kv: metadata.rows, vault: vaultHost.map, metadata, vaultHost };
}

// A cheap deterministic PRNG (xorshift32).
let seed = 0x1234567;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
};

const failures = [];
function check(phase, base, end) {
  const wasmGrowth = end.wasmBytes - base.wasmBytes;
  const rssGrowth = end.rss - base.rss;
  const out = { phase, wasmGrowth, rssGrowth, tableGrowth: table ? end.tableLength - base.tableLength : null };
  if (wasmGrowth >= MAX_WASM_GROWTH) failures.push(`${phase}: wasm memory grew by ${wasmGrowth} B after warm-up (bound ${MAX_WASM_GROWTH})`);
  if (rssGrowth >= MAX_RSS_GROWTH) failures.push(`${phase}: RSS grew by ${mb(rssGrowth)} after warm-up (bound ${mb(MAX_RSS_GROWTH)})`);
  return out;
}

const t0 = performance.now();
log(`memory soak (${source}): ${OPS} ops on one instance, ${INSTANCES} instances dropped without free()`);
await settle();
const start = show(sample("start"));

// ---------------------------------------------------------------- phase 1
log(`phase 1: ${OPS} mixed put/get/delete on one instance, ${CONCURRENCY} in flight`);
const b = mapBackend();
const store = new ServerCredentialStore({ vault: b.vaultHost, metadata: b.metadata, userId: "u", projectId: "p" });
const warmOps = Math.min(OPS, Math.max(10_000, Math.floor(OPS / 20)));
const every = Math.max(1, Math.floor(OPS / 10));
let done = 0;
let base1 = null;
let nextReport = warmOps;
let gets = 0;
let hits = 0;
const t1 = performance.now();
while (done < OPS) {
  const batch = [];
  const n = Math.min(CONCURRENCY, OPS - done);
  for (let i = 0; i < n; i++) {
    const key = "k" + Math.floor(rand() * 1000);
    const r = rand();
    if (r < 0.4) batch.push(store.put(key, "secret-" + key + "-" + done, r < 0.05 ? { label: "L", expiresAt: new Date(Date.now() + 1e9) } : undefined));
    else if (r < 0.8) {
      gets += 1;
      batch.push(store.get(key).then((v) => void (v !== undefined && hits++)));
    } else batch.push(store.delete(key));
  }
  await Promise.all(batch);
  done += n;
  if (done >= nextReport) {
    await settle();
    const s = show(sample(`${done} ops`));
    if (base1 === null) {
      base1 = s;
      nextReport = every;
    }
    while (nextReport <= done) nextReport += every;
  }
}
const opsMs = performance.now() - t1;
await settle();
const end1 = show(sample(`phase 1 end (${done} ops)`));
if (base1 === null) base1 = end1;
const result1 = check("ops", base1, end1);
log(`  ${Math.round(done / (opsMs / 1000))} ops/s, ${gets} gets (${hits} hits), wasm +${result1.wasmGrowth} B, rss ${result1.rssGrowth >= 0 ? "+" : ""}${mb(result1.rssGrowth)} after warm-up`);
if (hits === 0 || b.kv.size === 0) failures.push("phase 1 did no real work (no get hit)");

// ---------------------------------------------------------------- phase 2
log(`phase 2: ${INSTANCES} instances created, used and dropped without free()`);
const warmInstances = Math.min(INSTANCES, Math.max(1000, Math.floor(INSTANCES / 10)));
const every2 = Math.max(1, Math.floor(INSTANCES / 10));
let base2 = null;
let next2 = warmInstances;
const t2 = performance.now();
for (let i = 1; i <= INSTANCES; i++) {
  const bi = mapBackend();
  let s = new ServerCredentialStore({ vault: bi.vaultHost, metadata: bi.metadata, userId: "u" + (i % 97), projectId: "p" });
  await s.put("k", "v" + i);
  if ((await s.get("k")) !== "v" + i) failures.push(`instance ${i}: wrong value`);
  await s.delete("k");
  s = null; // dropped, never freed
  if (i >= next2) {
    await settle();
    const sm = show(sample(`${i} instances`));
    if (base2 === null) base2 = sm;
    while (next2 <= i) next2 += every2;
  }
}
const instMs = performance.now() - t2;
await settle();
const end2 = show(sample(`phase 2 end (${INSTANCES} inst.)`));
if (base2 === null) base2 = end2;
const result2 = check("instances", base2, end2);
log(`  ${Math.round(INSTANCES / (instMs / 1000))} instances/s, wasm +${result2.wasmGrowth} B, table ${result2.tableGrowth ?? "n/a"}, rss ${result2.rssGrowth >= 0 ? "+" : ""}${mb(result2.rssGrowth)} after warm-up`);

const totalMs = Math.round(performance.now() - t0);
const summary = {
  source,
  ops: done,
  instances: INSTANCES,
  opsPerSecond: Math.round(done / (opsMs / 1000)),
  start,
  phase1: { base: base1, end: end1, ...result1 },
  phase2: { base: base2, end: end2, ...result2 },
  totalMs,
  failures,
};
log(failures.length ? `FAILED:\n  ${failures.join("\n  ")}` : `ok: memory bounded (${totalMs} ms)`);
if (JSON_OUT) console.log(JSON.stringify(summary));
process.exit(failures.length ? 1 : 0);
