#!/usr/bin/env node
// Benchmark of server-credential-store-wasm (`npm run bench`, or
// `node bench/run.mjs [--quick] [--build]`).
//
// One Node process. Every comparison runs its contenders in interleaved rounds
// (A B, B A, …; three or more contenders rotate the same way), after warm-up
// rounds that are thrown away, with a GC between rounds outside the timed
// region. Each sample times a batch of n operations (n calibrated so a sample
// lasts a few ms) and yields µs per operation. Reported: the median per
// contender, and the median of the round-by-round ratios and differences
// (pairs from the same round, so a slow patch on a loaded machine hits both).
// Targets are printed as PASS/MISS for information only: nothing here asserts
// on wall time, and the script exits 0 whatever the figures are.
//
// Sections:
//   1. ours vs the TypeScript store's algorithm (tests/oracle, plain JS, the
//      same awaits) on three backends: raw Map KV + vault, @workglow/storage
//      InMemoryKvStorage + Map vault, and a Map backend whose every method
//      first yields to the event loop (standing in for real I/O).
//   2. ours and the oracle vs the floor: the bare host calls each operation
//      must make, on the raw Map backend (measured in the same rounds as 1).
//   3. scale: listMetadata / deleteAll with 100 rows in scope among 1k, 10k and
//      100k rows of other scopes, on the getAll path vs the getByPrefix path
//      (a sorted-key Map KV; and js/sqlite-kv.mjs when it exists).
//   4. size of the .wasm (raw, gzip -9) and start-up (import + first
//      construction in 20 fresh Node processes; whole-process wall time vs
//      `node -e ""`).
//
// Output: Markdown on stdout and in bench/results.md, all figures (with the
// per-round samples) in bench/results.json, and bench/ratios.svg.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import zlib from "node:zlib";
import { mapMetadata, mapVault } from "../tests/js/helpers/map-hosts.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
// `--ops a,b` / `--backends x,y`: only those operations (ids of OPS) and
// backends (ids of BACKENDS), section 1–2 only, printed and not written.
const listArg = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3).split(",");
const ONLY_OPS = listArg("ops");
const ONLY_BACKENDS = listArg("backends");
const PARTIAL = ONLY_OPS !== undefined || ONLY_BACKENDS !== undefined;
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(
    "usage: node bench/run.mjs [--quick] [--build] [--ops=a,b] [--backends=x,y]\n  --quick     short run (few rounds; for checking the script)\n  --build     run scripts/build.sh first even if pkg/ exists\n  --ops=…     only these operations (putNew, putUpdate, get, has, delete, listMetadata, deleteAll)\n  --backends=… only these backends (rawMap, inMemoryKv, ioLike); with either, section 1–2 only, nothing written",
  );
  process.exit(0);
}

const CFG = QUICK
  ? { rounds: 6, warmup: 2, sampleMs: 1.5, scaleRounds: 4, scaleWarmup: 1, spawns: 6, sizes: [1_000, 10_000, 100_000] }
  : { rounds: 41, warmup: 4, sampleMs: 4, scaleRounds: 21, scaleWarmup: 2, spawns: 20, sizes: [1_000, 10_000, 100_000] };

// ---------------------------------------------------------------- package --

// Build only when pkg/ is missing (or on --build): build.sh runs npm ci and
// cargo, which must not race another build of the same tree.
const PKG = join(ROOT, "pkg");
if (argv.includes("--build") || !existsSync(join(PKG, "package.json"))) {
  console.error("bench: building pkg/ (bash scripts/build.sh) …");
  const r = spawnSync("bash", ["scripts/build.sh"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    console.error("bench: scripts/build.sh failed");
    process.exit(1);
  }
}
// By name, as users import it (node_modules/server-credential-store-wasm →
// pkg, made by build.sh); by path when that link is missing.
const LINKED = existsSync(join(ROOT, "node_modules", "server-credential-store-wasm", "package.json"));
const PKG_SPEC = LINKED ? "server-credential-store-wasm" : pathToFileURL(join(PKG, "node", "index.mjs")).href;
const { ServerCredentialStore: Ours } = await import(PKG_SPEC);
const ORACLE_URL = pathToFileURL(join(ROOT, "tests/oracle/server-credential-store.mjs")).href;
const { ServerCredentialStore: Oracle } = await import(ORACLE_URL);
// The same file as a second module instance (its own functions, inline
// caches and optimizations): the A/A contender whose ratio to the oracle
// is the noise of the run.
const { ServerCredentialStore: OracleCopy } = await import(`${ORACLE_URL}?copy`);
const BASELINE =
  "tests/oracle/server-credential-store.mjs: the TypeScript store's algorithm with its await structure (SPEC second edition): get, has and delete each one async function awaiting metadata.get directly, listMetadata SPEC §4's loop, keys through this.listMetadata(), deleteAll through one scan and per-id read and delete";
const { InMemoryKvStorage } = await import("@workglow/storage");

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

// ---------------------------------------------------------------- helpers --

const tick = () => new Promise((r) => setImmediate(r));
const sorted = (xs) => [...xs].sort((a, b) => a - b);
function quantile(xs, q) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);
const summary = (xs) => ({ median: median(xs), p25: quantile(xs, 0.25), p75: quantile(xs, 0.75) });

// Contender order of round r among k: rotate by r, reversed every other cycle
// (k = 2 gives A B, B A, B A, A B, …).
function order(r, k) {
  const base = Array.from({ length: k }, (_, i) => (i + r) % k);
  return Math.floor(r / k) % 2 ? base.reverse() : base;
}

const fmtUs = (us) =>
  !Number.isFinite(us) ? "—" : Math.abs(us) >= 10_000 ? us.toFixed(0) : Math.abs(us) >= 100 ? us.toFixed(1) : us.toFixed(2);
const fmtSigned = (us) => (!Number.isFinite(us) ? "—" : (us >= 0 ? "+" : "−") + fmtUs(Math.abs(us)));
const fmtRatio = (x) => (!Number.isFinite(x) ? "—" : x >= 100 ? x.toFixed(0) : x.toFixed(2));
const fmtBytes = (n) => `${n.toLocaleString("en-US")} B (${(n / 1000).toFixed(1)} kB, ${(n / 1024).toFixed(1)} KiB)`;
const passMiss = (ok) => (ok ? "PASS" : "MISS");

function progress(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

// --------------------------------------------------------------- fixtures --

const USER = "bench-user";
const PROJECT = "bench-project";
const PREFIX = `${USER}/${PROJECT}/`;
const ISO = "2025-01-01T00:00:00.000Z";
const FUTURE = "2099-01-01T00:00:00.000Z";
const SECRET = "sk-bench-0123456789abcdef0123456789abcdef0123";
const SECRET2 = "sk-bench-fedcba9876543210fedcba9876543210fedc";
const BASE = 1000;
const baseKeys = Array.from({ length: BASE }, (_, i) => `key-${String(i).padStart(4, "0")}`);

// A committed row as the TS store writes it (every other one with an expiry
// far ahead, so the Date comparison is exercised too).
function makeRow(userId, projectId, key, i) {
  return {
    userId,
    projectId,
    key,
    label: `label ${i}`,
    provider: i % 3 === 0 ? "openai" : "anthropic",
    createdAt: ISO,
    updatedAt: ISO,
    expiresAt: i % 2 ? FUTURE : undefined,
  };
}

// ----------------------------------------------------------------- backends --
// Each backend: { metadata, vault, seed(id, row, secret), drop(id) } where
// seed/drop bypass the timed paths (direct map access where possible).

function rawMapBackend() {
  const rows = new Map();
  const secrets = new Map();
  return {
    metadata: mapMetadata(rows),
    vault: mapVault(secrets),
    seed(id, row, secret) {
      rows.set(id, row);
      secrets.set(id, secret);
    },
    drop(id) {
      rows.delete(id);
      secrets.delete(id);
    },
  };
}

function ioLikeBackend() {
  const rows = new Map();
  const secrets = new Map();
  return {
    metadata: {
      async get(k) {
        await tick();
        return rows.get(k);
      },
      async put(k, v) {
        await tick();
        rows.set(k, v);
      },
      async delete(k) {
        await tick();
        rows.delete(k);
      },
      async getAll() {
        await tick();
        return Array.from(rows, ([key, value]) => ({ key, value }));
      },
    },
    vault: {
      async setSecret(id, s) {
        await tick();
        secrets.set(id, s);
      },
      async getSecret(id) {
        await tick();
        return secrets.get(id);
      },
      async deleteSecret(id) {
        await tick();
        secrets.delete(id);
      },
    },
    seed(id, row, secret) {
      rows.set(id, row);
      secrets.set(id, secret);
    },
    drop(id) {
      rows.delete(id);
      secrets.delete(id);
    },
  };
}

function inMemoryKvBackend() {
  const kv = new InMemoryKvStorage();
  const secrets = new Map();
  return {
    metadata: kv,
    vault: mapVault(secrets),
    async seed(id, row, secret) {
      await kv.put(id, row);
      secrets.set(id, secret);
    },
    async drop(id) {
      await kv.delete(id);
      secrets.delete(id);
    },
  };
}

// Sorted keys in chunks of at most 2·CHUNK (like a B-tree's leaves): insert
// and remove cost O(log n + CHUNK), a prefix scan O(log n + matches).
class SortedKeys {
  static CHUNK = 256;
  chunks = [];
  static lowerBound(a, k) {
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  // The last chunk whose first key is <= k (0 if none).
  chunkFor(k) {
    const c = this.chunks;
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid][0] <= k) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo - 1);
  }
  add(k) {
    if (this.chunks.length === 0) {
      this.chunks.push([k]);
      return;
    }
    const ci = this.chunkFor(k);
    const c = this.chunks[ci];
    const pos = SortedKeys.lowerBound(c, k);
    if (c[pos] === k) return;
    c.splice(pos, 0, k);
    if (c.length > 2 * SortedKeys.CHUNK) this.chunks.splice(ci + 1, 0, c.splice(c.length >>> 1));
  }
  remove(k) {
    if (this.chunks.length === 0) return;
    const ci = this.chunkFor(k);
    const c = this.chunks[ci];
    const pos = SortedKeys.lowerBound(c, k);
    if (c[pos] !== k) return;
    c.splice(pos, 1);
    if (c.length === 0) this.chunks.splice(ci, 1);
  }
  *withPrefix(prefix) {
    if (this.chunks.length === 0) return;
    let ci = this.chunkFor(prefix);
    let pos = SortedKeys.lowerBound(this.chunks[ci], prefix);
    for (; ci < this.chunks.length; ci++, pos = 0) {
      const c = this.chunks[ci];
      for (; pos < c.length; pos++) {
        if (!c[pos].startsWith(prefix)) return;
        yield c[pos];
      }
    }
  }
}

// A Map KV that also answers getByPrefix(prefix) in key order, efficiently.
function prefixMapBackend() {
  const rows = new Map();
  const keys = new SortedKeys();
  const secrets = new Map();
  const set = (k, v) => {
    if (!rows.has(k)) keys.add(k);
    rows.set(k, v);
  };
  const del = (k) => {
    if (rows.delete(k)) keys.remove(k);
  };
  return {
    metadata: {
      async get(k) {
        return rows.get(k);
      },
      async put(k, v) {
        set(k, v);
      },
      async delete(k) {
        del(k);
      },
      async getAll() {
        return Array.from(rows, ([key, value]) => ({ key, value }));
      },
      async getByPrefix(prefix) {
        const out = [];
        for (const key of keys.withPrefix(prefix)) out.push({ key, value: rows.get(key) });
        return out;
      },
    },
    vault: mapVault(secrets),
    seed(id, row, secret) {
      set(id, row);
      secrets.set(id, secret);
    },
    drop(id) {
      del(id);
      secrets.delete(id);
    },
  };
}

// js/sqlite-kv.mjs (another issue): SqliteKvStorage, a better-sqlite3 KV
// with getByPrefix (a primary-key range scan). Used on an in-memory database
// (no disk noise), when the file and better-sqlite3 are there.
let sqliteNote = "js/sqlite-kv.mjs not present: SQLite skipped";
async function loadSqlite() {
  const file = join(ROOT, "js", "sqlite-kv.mjs");
  if (!existsSync(file)) return null;
  try {
    const { SqliteKvStorage } = await import(pathToFileURL(file).href);
    const Database = (await import("better-sqlite3")).default;
    if (typeof SqliteKvStorage !== "function") throw new Error("no SqliteKvStorage export");
    const probe = new SqliteKvStorage(new Database(":memory:"));
    await probe.put("probe/x/y", { userId: "probe" });
    const got = await probe.getByPrefix("probe/x/");
    if (got?.length !== 1 || got[0].value?.userId !== "probe") throw new Error("getByPrefix round trip failed");
    probe.database.close();
    sqliteNote = "SQLite = js/sqlite-kv.mjs SqliteKvStorage on better-sqlite3 `:memory:`";
    return () => new SqliteKvStorage(new Database(":memory:"));
  } catch (e) {
    sqliteNote = `js/sqlite-kv.mjs present but unusable (${e?.message ?? e}): SQLite skipped`;
    return null;
  }
}

function sqliteBackend(makeKv) {
  const kv = makeKv();
  const secrets = new Map();
  return {
    metadata: kv,
    vault: mapVault(secrets),
    async seed(id, row, secret) {
      await kv.put(id, row);
      secrets.set(id, secret);
    },
    async seedMany(items, secret) {
      await kv.putBulk(items.map(({ id, row }) => ({ key: id, value: row })));
      for (const { id } of items) secrets.set(id, secret);
    },
    async drop(id) {
      await kv.delete(id);
      secrets.delete(id);
    },
    close() {
      kv.database.close();
    },
  };
}

// The same KV without getByPrefix (plain forwarding object), for the getAll path.
function hidePrefix(backend) {
  const kv = backend.metadata;
  return {
    ...backend,
    metadata: {
      get: (k) => kv.get(k),
      put: (k, v) => kv.put(k, v),
      delete: (k) => kv.delete(k),
      getAll: () => kv.getAll(),
    },
  };
}

// ------------------------------------------------------------- contenders --

function storeImpl(s) {
  return {
    putNew: (k, v) => s.put(k, v),
    putUpdate: (k, v) => s.put(k, v),
    get: (k) => s.get(k),
    has: (k) => s.has(k),
    delete: (k) => s.delete(k),
    list: () => s.listMetadata(),
    deleteAll: () => s.deleteAll(),
  };
}

// The bare host calls each operation must make, nothing else.
function floorImpl(md, vault) {
  const pending = { ...makeRow(USER, PROJECT, "floor", 0), pending: true };
  const committed = { ...makeRow(USER, PROJECT, "floor", 0), pending: false };
  return {
    async putNew(k, v) {
      const id = PREFIX + k;
      await md.get(id);
      await md.put(id, pending);
      await vault.setSecret(id, v);
      await md.put(id, committed);
    },
    async putUpdate(k, v) {
      const id = PREFIX + k;
      await md.get(id);
      await vault.setSecret(id, v);
      await md.put(id, committed);
    },
    async get(k) {
      const id = PREFIX + k;
      await md.get(id);
      return await vault.getSecret(id);
    },
    async has(k) {
      await md.get(PREFIX + k);
      return true;
    },
    async delete(k) {
      const id = PREFIX + k;
      await md.get(id);
      await md.delete(id);
      await vault.deleteSecret(id);
      return true;
    },
    async list() {
      return await md.getAll();
    },
    async deleteAll() {
      for (const { key } of await md.getAll()) {
        await md.get(key);
        await md.delete(key);
        await vault.deleteSecret(key);
      }
    },
  };
}

function contender(name, kind, backend) {
  const impl =
    kind === "floor"
      ? floorImpl(backend.metadata, backend.vault)
      : storeImpl(new ({ ours: Ours, oracle: Oracle, oracleCopy: OracleCopy }[kind])({ vault: backend.vault, metadata: backend.metadata, userId: USER, projectId: PROJECT }));
  return { name, kind, backend, impl };
}

async function seedBase(backend) {
  for (let i = 0; i < BASE; i++) await backend.seed(PREFIX + baseKeys[i], makeRow(USER, PROJECT, baseKeys[i], i), `${SECRET}-${i}`);
}

// ------------------------------------------------------------- operations --

const OPS = [
  {
    id: "putNew",
    label: "put (new)",
    maxN: 1000,
    setup: (c, n, tag) => Array.from({ length: n }, (_, i) => `new-${tag}-${i}`),
    async run(c, n, keys) {
      const f = c.impl.putNew;
      for (let i = 0; i < n; i++) await f(keys[i], SECRET);
    },
    async teardown(c, n, keys) {
      for (const k of keys) await c.backend.drop(PREFIX + k);
    },
  },
  {
    id: "putUpdate",
    label: "put (update)",
    maxN: 2000,
    async run(c, n) {
      const f = c.impl.putUpdate;
      for (let i = 0; i < n; i++) await f(baseKeys[i % BASE], SECRET2);
    },
  },
  {
    id: "get",
    label: "get",
    maxN: 2000,
    async run(c, n) {
      const f = c.impl.get;
      for (let i = 0; i < n; i++) await f(baseKeys[i % BASE]);
    },
  },
  {
    id: "has",
    label: "has",
    maxN: 2000,
    async run(c, n) {
      const f = c.impl.has;
      for (let i = 0; i < n; i++) await f(baseKeys[i % BASE]);
    },
  },
  {
    id: "delete",
    label: "delete",
    maxN: 1000,
    async setup(c, n, tag) {
      const keys = Array.from({ length: n }, (_, i) => `del-${tag}-${i}`);
      for (let i = 0; i < n; i++) await c.backend.seed(PREFIX + keys[i], makeRow(USER, PROJECT, keys[i], i), SECRET);
      return keys;
    },
    async run(c, n, keys) {
      const f = c.impl.delete;
      for (let i = 0; i < n; i++) await f(keys[i]);
    },
  },
  {
    id: "listMetadata",
    label: "listMetadata (1,000 rows)",
    rows: BASE,
    maxN: 200,
    async run(c, n) {
      const f = c.impl.list;
      for (let i = 0; i < n; i++) await f();
    },
  },
  {
    id: "deleteAll",
    label: "deleteAll (1,000 rows)",
    rows: BASE,
    maxN: 1, // one per sample: the rows are rebuilt between samples
    async run(c) {
      await c.impl.deleteAll();
    },
    async teardown(c) {
      await seedBase(c.backend);
    },
  },
];

// Times op on each contender in interleaved rounds; returns per-contender
// arrays of µs/op, one entry per round (index-aligned across contenders).
let tagSeq = 0;
async function sample(op, c, n) {
  const tag = tagSeq++;
  const state = op.setup ? await op.setup(c, n, tag) : undefined;
  await tick();
  const t0 = performance.now();
  await op.run(c, n, state);
  const dt = performance.now() - t0;
  if (op.teardown) await op.teardown(c, n, state);
  return (dt * 1000) / n;
}

async function compare(op, contenders, { rounds, warmup, sampleMs, perContenderN = false }) {
  // Calibrate n so that one sample lasts ~sampleMs: the same n for all (that
  // of the slowest contender), or one per contender when they differ by
  // orders of magnitude (scale). From the fastest of a few samples of 10
  // operations per contender (robust to a noisy machine).
  const clampN = (usPerOp) => Math.max(1, Math.min(op.maxN, Math.round((sampleMs * 1000) / Math.max(usPerOp, 0.01))));
  let ns = contenders.map(() => 1);
  if (op.maxN > 1) {
    const best = [];
    for (const c of contenders) {
      let b = Infinity;
      for (let i = 0; i < 4; i++) b = Math.min(b, await sample(op, c, 10));
      best.push(b);
    }
    ns = perContenderN ? best.map(clampN) : best.map(() => clampN(Math.max(...best)));
  }
  const k = contenders.length;
  const us = contenders.map(() => []);
  for (let r = -warmup; r < rounds; r++) {
    gc();
    await tick();
    for (const i of order(r + warmup, k)) {
      const t = await sample(op, contenders[i], ns[i]);
      if (r >= 0) us[i].push(t);
    }
  }
  return { n: perContenderN ? ns : ns[0], us };
}

const pairwise = (a, b, f) => a.map((x, i) => f(x, b[i]));

// ------------------------------------------------- 1 + 2: per-op overhead --

const BACKENDS = [
  { id: "rawMap", label: "raw Map KV + Map vault", short: "raw Map", make: rawMapBackend, target: { ratio: 1.3 }, floor: true },
  { id: "inMemoryKv", label: "@workglow/storage InMemoryKvStorage + Map vault", short: "InMemoryKvStorage", make: inMemoryKvBackend, target: { ratio: 1.05 } },
  { id: "ioLike", label: "I/O-like Map backend (setImmediate before every call)", short: "I/O-like (setImmediate)", make: ioLikeBackend, target: { ratio: 1.1 } },
];

async function sanity(contenders) {
  for (const c of contenders) {
    if (c.kind === "floor") continue;
    const got = await c.impl.get(baseKeys[7]);
    const list = await c.impl.list();
    if (got !== `${SECRET}-7` || !Array.isArray(list) || list.length !== BASE) {
      throw new Error(`bench: ${c.name} on a seeded backend does not behave (get → ${got}, listMetadata → ${list?.length} rows)`);
    }
  }
}

async function perOpSection() {
  const out = [];
  for (const b of BACKENDS.filter((b) => ONLY_BACKENDS === undefined || ONLY_BACKENDS.includes(b.id))) {
    const contenders = [contender("oracle", "oracle", b.make()), contender("ours", "ours", b.make()), contender("oracle copy", "oracleCopy", b.make())];
    if (b.floor) contenders.push(contender("floor", "floor", b.make()));
    for (const c of contenders) await seedBase(c.backend);
    await sanity(contenders);
    const ops = [];
    for (const op of OPS.filter((o) => ONLY_OPS === undefined || ONLY_OPS.includes(o.id))) {
      const started = performance.now();
      const { n, us } = await compare(op, contenders, CFG);
      const [oracle, ours, copy, floor] = us;
      const ratio = pairwise(ours, oracle, (a, o) => a / o);
      const diff = pairwise(ours, oracle, (a, o) => a - o);
      const row = {
        op: op.id,
        label: op.label,
        n,
        oracle: summary(oracle),
        ours: summary(ours),
        ratio: summary(ratio),
        ratioOfMedians: median(ours) / median(oracle),
        diffUs: summary(diff),
        aa: summary(pairwise(copy, oracle, (c, o) => c / o)),
        samples: { oracle, ours, oracleCopy: copy },
      };
      if (floor) {
        row.floor = summary(floor);
        row.oursMinusFloorUs = summary(pairwise(ours, floor, (a, f) => a - f));
        row.oracleMinusFloorUs = summary(pairwise(oracle, floor, (a, f) => a - f));
        row.samples.floor = floor;
      }
      row.target = b.target;
      // The µs target is per operation on one key; for the 1,000-row
      // operations it applies per row.
      row.rows = op.rows ?? 1;
      row.pass = row.ratio.median <= b.target.ratio && (b.target.diffUs === undefined || row.diffUs.median / row.rows <= b.target.diffUs);
      ops.push(row);
      progress(
        `${b.id} ${op.id}: oracle ${fmtUs(row.oracle.median)} µs, ours ${fmtUs(row.ours.median)} µs, ratio ${fmtRatio(row.ratio.median)}, A/A ${fmtRatio(row.aa.median)} (n=${n}, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
      );
    }
    out.push({ backend: b.id, label: b.label, short: b.short, target: b.target, ops });
  }
  return out;
}

// ---------------------------------------------------------------- 3: scale --

const IN_SCOPE = 100;

// Other scopes: other users (sorting before and after ours) and another
// project of our own user.
function otherId(i) {
  const kind = i % 4;
  const owner = kind === 0 ? [`a-user-${i % 97}`, "proj"] : kind === 1 ? [`z-user-${i % 89}`, "proj"] : kind === 2 ? [USER, `other-${i % 13}`] : [`m-user-${i % 83}`, PROJECT];
  const key = `k-${i}`;
  return { id: `${owner[0]}/${owner[1]}/${key}`, row: makeRow(owner[0], owner[1], key, i) };
}
const scopeKeys = Array.from({ length: IN_SCOPE }, (_, i) => `key-${String(i).padStart(3, "0")}`);

async function seedScope(backend) {
  for (let i = 0; i < IN_SCOPE; i++) await backend.seed(PREFIX + scopeKeys[i], makeRow(USER, PROJECT, scopeKeys[i], i), `${SECRET}-${i}`);
}

const SCALE_OPS = [
  {
    id: "listMetadata",
    label: `listMetadata (${IN_SCOPE} in scope)`,
    maxN: 200,
    async run(c, n) {
      for (let i = 0; i < n; i++) {
        const list = await c.impl.list();
        if (list.length !== IN_SCOPE) throw new Error(`bench: ${c.name} listed ${list.length} rows, expected ${IN_SCOPE}`);
      }
    },
  },
  {
    id: "deleteAll",
    label: `deleteAll (${IN_SCOPE} in scope)`,
    maxN: 1,
    async run(c) {
      await c.impl.deleteAll();
    },
    async teardown(c) {
      await seedScope(c.backend);
    },
  },
];

async function scaleSection() {
  const sqliteFactory = await loadSqlite();
  let sqliteOk = !!sqliteFactory;
  const results = [];
  for (const size of CFG.sizes) {
    const others = Array.from({ length: size }, (_, i) => otherId(i));
    const contenders = [
      contender("oracle · getAll (Map)", "oracle", rawMapBackend()),
      contender("ours · getAll (Map)", "ours", rawMapBackend()),
      contender("ours · getByPrefix (sorted Map)", "ours", prefixMapBackend()),
    ];
    if (sqliteOk) {
      try {
        const sq = sqliteBackend(sqliteFactory);
        contenders.push(contender("ours · getAll (SQLite)", "ours", hidePrefix(sq)));
        contenders.push(contender("ours · getByPrefix (SQLite)", "ours", sq));
      } catch (e) {
        sqliteOk = false;
        sqliteNote += `; construction failed: ${e?.message ?? e}`;
      }
    }
    // Two sqlite contenders share one database; seed it once.
    const seeded = new Set();
    for (const c of contenders) {
      if (seeded.has(c.backend.metadata) || seeded.has(c.backend.vault)) continue;
      seeded.add(c.backend.metadata);
      seeded.add(c.backend.vault);
      const t0 = performance.now();
      if (c.backend.seedMany) await c.backend.seedMany(others, SECRET);
      else for (const { id, row } of others) await c.backend.seed(id, row, SECRET);
      await seedScope(c.backend);
      const secs = (performance.now() - t0) / 1000;
      if (secs > 5) progress(`seeding ${size.toLocaleString("en-US")} rows into "${c.name}" took ${secs.toFixed(1)} s`);
    }
    // The sqlite pair shares one db: deleteAll by one and rebuild before the
    // other is fine since samples run one at a time.
    const sizeRes = { size, contenders: contenders.map((c) => c.name), ops: [] };
    for (const op of SCALE_OPS) {
      const { n, us } = await compare(op, contenders, { rounds: CFG.scaleRounds, warmup: CFG.scaleWarmup, sampleMs: CFG.sampleMs, perContenderN: true });
      const getAllVsPrefix = pairwise(us[1], us[2], (a, p) => a / p);
      const r = {
        op: op.id,
        label: op.label,
        n,
        us: Object.fromEntries(contenders.map((c, i) => [c.name, summary(us[i])])),
        getAllOverGetByPrefix: summary(getAllVsPrefix),
        samples: Object.fromEntries(contenders.map((c, i) => [c.name, us[i]])),
      };
      if (contenders.length > 3) r.sqliteGetAllOverGetByPrefix = summary(pairwise(us[3], us[4], (a, p) => a / p));
      sizeRes.ops.push(r);
      progress(
        `scale ${size} ${op.id}: ` + contenders.map((c, i) => `${c.name} ${fmtUs(median(us[i]))} µs`).join(", ") + ` (n=${n.join("/")})`,
      );
    }
    results.push(sizeRes);
    for (const c of contenders) if (c.backend.close && c.backend === contenders.at(-1).backend) c.backend.close();
    contenders.length = 0;
    gc();
  }
  return { inScope: IN_SCOPE, sizes: CFG.sizes, sqlite: sqliteNote, results };
}

// ------------------------------------------------------- 4: size, start-up --

function sizeSection() {
  const files = ["node", "web"].map((d) => join(PKG, d, "server_credential_store_wasm_bg.wasm")).filter(existsSync);
  const wasm = files.map((f) => {
    const buf = readFileSync(f);
    return { file: f.slice(ROOT.length + 1), bytes: buf.length, gzip9: zlib.gzipSync(buf, { level: 9 }).length, brotli: zlib.brotliCompressSync(buf).length };
  });
  const glue = ["node/server_credential_store_wasm.js", "web/server_credential_store_wasm.js", "store.mjs", "node/index.mjs", "web/index.js"]
    .map((f) => join(PKG, f))
    .filter(existsSync)
    .map((f) => {
      const buf = readFileSync(f);
      return { file: f.slice(ROOT.length + 1), bytes: buf.length, gzip9: zlib.gzipSync(buf, { level: 9 }).length };
    });
  return { wasm, glue };
}

// The child imports the package by name as users do; if the
// node_modules link is gone at that moment (another build's npm ci), by path.
const childCode = (spec) => `
const t0 = performance.now();
const { ServerCredentialStore } = await import(${JSON.stringify(spec)});
const t1 = performance.now();
const m = new Map();
const metadata = { async get(k) { return m.get(k); }, async put(k, v) { m.set(k, v); }, async delete(k) { m.delete(k); }, async getAll() { return [...m].map(([key, value]) => ({ key, value })); } };
const vault = { async setSecret() {}, async getSecret() {}, async deleteSecret() {} };
new ServerCredentialStore({ vault, metadata, userId: "u", projectId: "p" });
const t2 = performance.now();
process.stdout.write(JSON.stringify({ t0, t1, t2 }));
`;
const oursSpec = () =>
  existsSync(join(ROOT, "node_modules", "server-credential-store-wasm", "package.json"))
    ? "server-credential-store-wasm"
    : pathToFileURL(join(PKG, "node", "index.mjs")).href;
const ORACLE_SPEC = pathToFileURL(join(ROOT, "tests/oracle/server-credential-store.mjs")).href;

function startupSection() {
  const kinds = [
    { id: "baseline", label: 'node -e ""', args: ["-e", ""] },
    { id: "baselineEsm", label: 'node --input-type=module -e ""', args: ["--input-type=module", "-e", ""] },
    { id: "ours", label: "import package + construct store", args: () => ["--input-type=module", "-e", childCode(oursSpec())] },
    // The same entry by file URL: what Node's bare-specifier resolution
    // (node_modules lookup, package.json exports) adds, which any package pays.
    { id: "oursPath", label: "import pkg/node/index.mjs by path + construct", args: ["--input-type=module", "-e", childCode(pathToFileURL(join(PKG, "node", "index.mjs")).href)] },
    { id: "oracle", label: "import oracle (plain JS) + construct", args: ["--input-type=module", "-e", childCode(ORACLE_SPEC)] },
  ];
  const wall = kinds.map(() => []);
  const inner = { ours: [], oursPath: [], oracle: [] };
  const spawnOnce = (k) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, typeof k.args === "function" ? k.args() : k.args, { cwd: ROOT, encoding: "utf8" });
    const dt = performance.now() - t0;
    if (r.status !== 0) throw new Error(`bench: child (${k.id}) failed: ${r.stderr}`);
    return { dt, out: r.stdout };
  };
  for (const k of kinds) spawnOnce(k); // warm the file cache
  for (let r = 0; r < CFG.spawns; r++) {
    for (const i of order(r, kinds.length)) {
      const { dt, out } = spawnOnce(kinds[i]);
      wall[i].push(dt);
      if (inner[kinds[i].id]) {
        const { t0, t1, t2 } = JSON.parse(out);
        inner[kinds[i].id].push({ importMs: t1 - t0, constructMs: t2 - t1, totalMs: t2 - t0, sinceProcessStartMs: t2 });
      }
    }
  }
  const innerSummary = (xs) => ({
    importMs: summary(xs.map((x) => x.importMs)),
    constructMs: summary(xs.map((x) => x.constructMs)),
    totalMs: summary(xs.map((x) => x.totalMs)),
    sinceProcessStartMs: summary(xs.map((x) => x.sinceProcessStartMs)),
  });
  const wallOf = (id) => wall[kinds.findIndex((k) => k.id === id)];
  return {
    spawns: CFG.spawns,
    wallMs: Object.fromEntries(kinds.map((k, i) => [k.id, { label: k.label, ...summary(wall[i]) }])),
    oursMinusBaselineMs: summary(pairwise(wallOf("ours"), wallOf("baseline"), (a, b) => a - b)),
    oursMinusEsmBaselineMs: summary(pairwise(wallOf("ours"), wallOf("baselineEsm"), (a, b) => a - b)),
    oracleMinusEsmBaselineMs: summary(pairwise(wallOf("oracle"), wallOf("baselineEsm"), (a, b) => a - b)),
    inner: { ours: innerSummary(inner.ours), oursPath: innerSummary(inner.oursPath), oracle: innerSummary(inner.oracle) },
    samples: { wall: Object.fromEntries(kinds.map((k, i) => [k.id, wall[i]])), inner },
  };
}

// ----------------------------------------------------------------- report --

function machine() {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m);
    if (m) cpu = m[1].trim();
  } catch {}
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
    git: gitDescribe(),
  };
}

function gitDescribe() {
  const git = (...a) => spawnSync("git", a, { cwd: ROOT, encoding: "utf8" });
  const head = git("rev-parse", "--short", "HEAD");
  if (head.status !== 0) return "unknown";
  const dirty = git("status", "--porcelain", "--", "src", "js", "Cargo.toml", "Cargo.lock").stdout.trim() !== "";
  return head.stdout.trim() + (dirty ? " + uncommitted changes in src/js/Cargo" : "");
}

function markdown(R) {
  const L = [];
  const m = R.machine;
  L.push("# server-credential-store-wasm — benchmark", "");
  L.push(`- Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; ${m.platform}`);
  L.push(`- Node ${m.node} (V8 ${m.v8}); ${m.date}; commit ${m.git}`);
  L.push(`- Load average at start ${m.loadavg.join(" / ")}, at end ${R.loadavgEnd.join(" / ")} (1/5/15 min)`);
  L.push(
    `- Mode: ${R.mode}; ${R.config.rounds} timed rounds after ${R.config.warmup} warm-up rounds per operation (scale: ${R.config.scaleRounds} + ${R.config.scaleWarmup}); contenders interleaved (A B, B A, …); GC between rounds; total ${R.totalSeconds.toFixed(0)} s`,
  );
  L.push(
    "- µs are per operation, medians over rounds. *ratio* and *Δ* are medians of the round-by-round pairs (IQR in brackets). Targets are informational: nothing is asserted on time.",
    "",
  );

  L.push("## 1. Against the TypeScript store's algorithm", "");
  L.push(`Baseline (oracle): ${BASELINE}. *A/A* = a second module instance of the same oracle against the oracle, in the same rounds: the noise of this run.`, "");
  for (const b of R.perOp) {
    const t = b.target;
    L.push(`### ${b.label}`, "");
    L.push(`Target: ratio ≤ ${t.ratio}${t.diffUs !== undefined ? ` and ours − oracle ≤ ${t.diffUs} µs (per row for the 1,000-row operations)` : ""}.`, "");
    L.push("| operation | n/sample | oracle µs | ours µs | ratio ours/oracle | ours − oracle µs | A/A | target |");
    L.push("|---|--:|--:|--:|--:|--:|--:|:-:|");
    for (const o of b.ops) {
      L.push(
        `| ${o.label} | ${o.n} | ${fmtUs(o.oracle.median)} | ${fmtUs(o.ours.median)} | ${fmtRatio(o.ratio.median)} (${fmtRatio(o.ratio.p25)}–${fmtRatio(o.ratio.p75)}) | ${fmtSigned(o.diffUs.median)} (${fmtSigned(o.diffUs.p25)}…${fmtSigned(o.diffUs.p75)})${o.rows > 1 ? `; per row ${fmtSigned(o.diffUs.median / o.rows)}` : ""} | ${fmtRatio(o.aa.median)} (${fmtRatio(o.aa.p25)}–${fmtRatio(o.aa.p75)}) | ${passMiss(o.pass)} |`,
      );
    }
    L.push("");
  }

  const raw = R.perOp.find((b) => b.backend === "rawMap");
  L.push("## 2. Against the floor (bare host calls, raw Map backend)", "");
  L.push(
    "Floor = only the awaited host calls the operation must make: get = metadata.get + vault.getSecret; put (new) = get + put + setSecret + put; put (update) = get + setSecret + put; has = get; delete = get + delete + deleteSecret; listMetadata = getAll; deleteAll = getAll + per row get + delete + deleteSecret. Same rounds as section 1.",
    "",
  );
  L.push("| operation | floor µs | oracle µs | ours µs | oracle − floor µs | ours − floor µs |");
  L.push("|---|--:|--:|--:|--:|--:|");
  for (const o of raw.ops) {
    L.push(
      `| ${o.label} | ${fmtUs(o.floor.median)} | ${fmtUs(o.oracle.median)} | ${fmtUs(o.ours.median)} | ${fmtSigned(o.oracleMinusFloorUs.median)} | ${fmtSigned(o.oursMinusFloorUs.median)} |`,
    );
  }
  L.push("");

  const S = R.scale;
  L.push(`## 3. Scale: ${S.inScope} rows in scope among N rows of other scopes`, "");
  L.push(`getAll path = Map KV without getByPrefix; getByPrefix path = Map KV with a sorted key index (chunked sorted array, binary search). ${S.sqlite}.`, "");
  const names = S.results[0].contenders;
  const sizesHdr = S.results.map((r) => `N = ${r.size.toLocaleString("en-US")}`);
  for (const opId of SCALE_OPS.map((o) => o.id)) {
    const label = S.results[0].ops.find((o) => o.op === opId).label;
    L.push(`### ${label}`, "");
    L.push(`| contender | ${sizesHdr.join(" | ")} | growth ×(last/first) |`);
    L.push(`|---|${sizesHdr.map(() => "--:").join("|")}|--:|`);
    for (const name of names) {
      const vals = S.results.map((r) => r.ops.find((o) => o.op === opId).us[name]?.median);
      L.push(`| ${name} µs | ${vals.map(fmtUs).join(" | ")} | ${fmtRatio(vals.at(-1) / vals[0])} |`);
    }
    const sp = S.results.map((r) => r.ops.find((o) => o.op === opId).getAllOverGetByPrefix.median);
    L.push(`| **getAll / getByPrefix** (Map, ours) | ${sp.map((x) => `${fmtRatio(x)}×`).join(" | ")} | |`);
    if (names.length > 3) {
      const sq = S.results.map((r) => r.ops.find((o) => o.op === opId).sqliteGetAllOverGetByPrefix?.median);
      L.push(`| **getAll / getByPrefix** (SQLite, ours) | ${sq.map((x) => `${fmtRatio(x)}×`).join(" | ")} | |`);
    }
    L.push("");
  }
  const last = S.results.at(-1);
  const lm = last.ops.find((o) => o.op === "listMetadata").getAllOverGetByPrefix.median;
  L.push(`Target: listMetadata among ${last.size.toLocaleString("en-US")} other rows ≥ 100× faster with getByPrefix than with getAll: **${fmtRatio(lm)}× — ${passMiss(lm >= 100)}**`, "");

  const Z = R.size;
  const U = R.startup;
  L.push("## 4. Size and start-up", "");
  L.push("| measure | value | target | |");
  L.push("|---|--:|--:|:-:|");
  for (const w of Z.wasm) {
    L.push(`| \`${w.file}\` raw | ${fmtBytes(w.bytes)} | ≤ 80 kB (80,000 B) | ${passMiss(w.bytes <= 80_000)} |`);
    L.push(`| \`${w.file}\` gzip -9 | ${fmtBytes(w.gzip9)} | ≤ 35 kB (35,000 B) | ${passMiss(w.gzip9 <= 35_000)} |`);
    L.push(`| \`${w.file}\` brotli | ${fmtBytes(w.brotli)} | | |`);
  }
  const ms = (x) => `${x.median.toFixed(2)} ms`;
  L.push(`| import package + first construction (in child, median of ${U.spawns}) | ${ms(U.inner.ours.totalMs)} | ≤ 10 ms | ${passMiss(U.inner.ours.totalMs.median <= 10)} |`);
  L.push(`| — of which import | ${ms(U.inner.ours.importMs)} | | |`);
  L.push(`| — of which first construction | ${ms(U.inner.ours.constructMs)} | | |`);
  L.push(`| process start → store constructed (performance.now()) | ${ms(U.inner.ours.sinceProcessStartMs)} | | |`);
  L.push(`| the same, importing \`pkg/node/index.mjs\` by file path (no package resolution) | ${ms(U.inner.oursPath.totalMs)} | | |`);
  L.push(`| oracle (plain JS, one file, by file path) import + construction, for reference | ${ms(U.inner.oracle.totalMs)} | | |`);
  L.push("");
  L.push("Whole-process wall time (spawn to exit, measured by the parent, interleaved):", "");
  L.push("| process | median ms | IQR ms |");
  L.push("|---|--:|--:|");
  for (const k of Object.values(U.wallMs)) L.push(`| \`${k.label.replace(/\|/g, "\\|")}\` | ${k.median.toFixed(1)} | ${k.p25.toFixed(1)}–${k.p75.toFixed(1)} |`);
  L.push(`| ours − \`node -e ""\` (pairs) | ${U.oursMinusBaselineMs.median.toFixed(1)} | |`);
  L.push(`| ours − \`node --input-type=module -e ""\` (pairs) | ${U.oursMinusEsmBaselineMs.median.toFixed(1)} | |`);
  L.push(`| oracle − \`node --input-type=module -e ""\` (pairs) | ${U.oracleMinusEsmBaselineMs.median.toFixed(1)} | |`);
  L.push("");
  const glue = Z.glue.map((g) => `\`${g.file}\` ${g.bytes.toLocaleString("en-US")} B (${g.gzip9.toLocaleString("en-US")} gz)`).join(", ");
  L.push(`JS shipped beside the wasm: ${glue}.`, "");

  L.push("## Summary of targets", "");
  L.push("| target | result | |");
  L.push("|---|--:|:-:|");
  for (const b of R.perOp) {
    const t = b.target;
    const worst = b.ops.reduce((a, o) => (o.ratio.median > a.ratio.median ? o : a));
    const fails = b.ops.filter((o) => !o.pass).map((o) => o.op);
    L.push(
      `| ${b.label}: ratio ≤ ${t.ratio}${t.diffUs !== undefined ? `, Δ ≤ ${t.diffUs} µs` : ""} (every op) | worst ${fmtRatio(worst.ratio.median)} (${worst.op})${fails.length ? `; MISS: ${fails.join(", ")}` : ""} | ${passMiss(fails.length === 0)} |`,
    );
  }
  L.push(`| listMetadata getByPrefix speed-up at ${last.size.toLocaleString("en-US")} ≥ 100× | ${fmtRatio(lm)}× | ${passMiss(lm >= 100)} |`);
  const nodeWasm = Z.wasm[0];
  if (nodeWasm) {
    L.push(`| .wasm ≤ 80 kB (80,000 B) | ${fmtBytes(nodeWasm.bytes)} | ${passMiss(nodeWasm.bytes <= 80_000)} |`);
    L.push(`| .wasm gzip -9 ≤ 35 kB (35,000 B) | ${fmtBytes(nodeWasm.gzip9)} | ${passMiss(nodeWasm.gzip9 <= 35_000)} |`);
  }
  L.push(`| import + first construction ≤ 10 ms | ${U.inner.ours.totalMs.median.toFixed(2)} ms | ${passMiss(U.inner.ours.totalMs.median <= 10)} |`);
  L.push("");
  L.push("Chart of the per-operation ratios: `bench/ratios.svg`.", "");
  return L.join("\n");
}

// Plain SVG grouped bar chart: ratio ours/oracle per operation, one bar per
// backend, with each backend's target as a dashed line and 1.0 (parity).
function svgChart(R) {
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const colors = ["#4e79a7", "#f28e2b", "#59a14f"];
  const W = 820;
  const H = 380;
  const pad = { l: 54, r: 16, t: 46, b: 78 };
  const ops = R.perOp[0].ops.map((o) => o.label.replace(/ \(1,000 rows\)/, " (1k)"));
  const all = R.perOp.flatMap((b) => b.ops.map((o) => o.ratio.median)).filter(Number.isFinite);
  const yMax = Math.min(8, Math.max(2.5, Math.ceil(Math.max(...all) * 1.15 * 2) / 2)); // taller bars are cut, marked ↑
  const plotW = W - pad.l - pad.r;
  const plotH = H - pad.t - pad.b;
  const y = (v) => pad.t + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const groupW = plotW / ops.length;
  const barW = (groupW * 0.75) / R.perOp.length;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">ratio ours / oracle (median of round pairs; lower is better)</text>`);
  out.push(`<text x="${W / 2}" y="34" text-anchor="middle" fill="#555">${esc(`${R.machine.cpu}, ${R.machine.cores} cores, Node ${R.machine.node}, ${R.machine.date.slice(0, 10)}, ${R.mode}`)}</text>`);
  const step = yMax > 6 ? 1 : 0.5;
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v.toFixed(1)}</text>`);
  }
  out.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(1)}" y2="${y(1)}" stroke="#000" stroke-width="1"/>`);
  R.perOp.forEach((b, bi) => {
    b.ops.forEach((o, oi) => {
      const v = o.ratio.median;
      const x = pad.l + oi * groupW + groupW * 0.125 + bi * barW;
      const top = y(v);
      out.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - top).toFixed(1)}" fill="${colors[bi]}"><title>${esc(`${b.label} — ${o.label}: ${fmtRatio(v)}`)}</title></rect>`);
      out.push(`<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(top - 3).toFixed(1)}" text-anchor="middle" font-size="9" paint-order="stroke" stroke="#fff" stroke-width="3">${v > yMax ? "↑" : ""}${fmtRatio(v)}</text>`);
    });
    const ty = y(b.target.ratio);
    out.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${ty}" y2="${ty}" stroke="${colors[bi]}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  });
  ops.forEach((label, oi) => {
    out.push(`<text x="${(pad.l + oi * groupW + groupW / 2).toFixed(1)}" y="${H - pad.b + 16}" text-anchor="middle">${esc(label)}</text>`);
  });
  R.perOp.forEach((b, bi) => {
    const lx = pad.l + bi * 250;
    const ly = H - 22;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${colors[bi]}"/>`);
    out.push(`<line x1="${lx + 16}" x2="${lx + 36}" y1="${ly - 3}" y2="${ly - 3}" stroke="${colors[bi]}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${lx + 40}" y="${ly + 1}">${esc(`${b.short ?? b.label} (target ≤ ${b.target.ratio})`)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

// ------------------------------------------------------------------- main --

const t0 = performance.now();
const mach = machine();
progress(`${QUICK ? "quick" : "full"} run on ${mach.cpu}, ${mach.cores} cores, Node ${mach.node}, load ${mach.loadavg.join(" ")}`);
const perOp = await perOpSection();
if (PARTIAL) {
  for (const b of perOp) {
    console.log(`${b.label}`);
    for (const o of b.ops) {
      console.log(
        `  ${o.label.padEnd(26)} oracle ${fmtUs(o.oracle.median)} µs  ours ${fmtUs(o.ours.median)} µs  ratio ${fmtRatio(o.ratio.median)} (${fmtRatio(o.ratio.p25)}–${fmtRatio(o.ratio.p75)})  Δ ${fmtSigned(o.diffUs.median / o.rows)} µs${o.rows > 1 ? "/row" : ""}  A/A ${fmtRatio(o.aa.median)}`,
      );
    }
  }
  process.exit(0);
}
const scale = await scaleSection();
progress("size and start-up");
const size = sizeSection();
const startup = startupSection();
const R = {
  machine: mach,
  mode: QUICK ? "quick (--quick)" : "full",
  config: CFG,
  loadavgEnd: os.loadavg().map((x) => +x.toFixed(2)),
  totalSeconds: (performance.now() - t0) / 1000,
  perOp,
  scale,
  size,
  startup,
};
const md = markdown(R);
console.log(md);
writeFileSync(join(HERE, "results.md"), md + "\n");
writeFileSync(join(HERE, "results.json"), JSON.stringify(R, null, 1) + "\n");
writeFileSync(join(HERE, "ratios.svg"), svgChart(R));
progress(`wrote bench/results.md, bench/results.json, bench/ratios.svg in ${R.totalSeconds.toFixed(0)} s`);
