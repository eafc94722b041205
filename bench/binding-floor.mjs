#!/usr/bin/env node
// Where the time of `has` goes (`npm run bench:floor`): the package against a
// *minimal binding* — a hand-written wasm module of a few instructions that
// makes exactly the package's crossings for `has` through the package's own
// glue (js/glue.js: `read`, `drive`, keyAndId, callHost, readRow): the
// export `readKey` (the key's test), the awaited `metadata.get`, the export
// `readStep` (what the row's state means), and does nothing else. So:
//   minimal − floor   what the crossing pattern, the glue and the awaits cost;
//   ours − minimal    what the Rust side costs (the key grammar, the row's
//                     state, the store's step functions);
//   oracle            the TypeScript store's algorithm in plain JS.
// Backends: a Map KV (`get` returns at once) and the same Map behind
// setImmediate (standing in for I/O, as in bench/run.mjs). Interleaved
// rounds, warm-up discarded, medians of per-round ratios; nothing asserted.
//
// Then the same split without awaits, per crossing: each step of `has` and
// of `put` (an update) called synchronously in a loop, the package's exports
// (a private instance of pkg/web) against the minimal binding's and against
// the plain-JS expressions the TS store evaluates there.
//
//   node bench/binding-floor.mjs [--quick]

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import binaryen from "binaryen";
import * as glue from "../js/glue.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const QUICK = process.argv.includes("--quick");
const ROUNDS = QUICK ? 6 : 41;
const WARMUP = QUICK ? 2 : 4;
const N = QUICK ? 1000 : 5000;

if (!existsSync(join(ROOT, "pkg/node/index.mjs"))) {
  console.error("binding-floor: pkg/ is not built: run `npm run build` first");
  process.exit(1);
}
const { ServerCredentialStore: Ours } = await import(pathToFileURL(join(ROOT, "pkg/node/index.mjs")).href);
const { ServerCredentialStore: Oracle } = await import(pathToFileURL(join(ROOT, "tests/oracle/server-credential-store.mjs")).href);

// The minimal binding's module: `readKey` says "call metadata.get" (code 11,
// as the package's does for a valid key); `readStep` returns 6 (true) for a
// committed row (state 2), else 5 (false): the package's codes (js/glue.js
// `drive`, src/binding/task.rs).
const WAT = `(module
  (memory (export "memory") 1)
  (table (export "t") 1 externref)
  (func (export "readKey") (param i32) (result i32) (i32.const 11))
  (func (export "readStep") (param i32 i32 f64 f64) (result i32)
    (select (i32.const 6) (i32.const 5) (i32.eq (local.get 1) (i32.const 2)))))`;

function minimalBinding() {
  const m = binaryen.parseText(WAT);
  m.setFeatures(binaryen.Features.ReferenceTypes);
  if (!m.validate()) throw new Error("binding-floor: the minimal module does not validate");
  const bytes = m.emitBinary();
  m.dispose();
  const { exports: w } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  // The method names drive looks up; the key's text goes to address 0.
  glue.init("get delete getSecret deleteSecret put setSecret", { memory: w.memory, __wbindgen_externrefs: w.t }, 1024, 0, 1032);
  // The package's admission too (one comparison per call on the common path).
  const { read, admit, busyError } = glue.makeDriver({});
  const core = { readKey: w.readKey, readStep: w.readStep };
  class MinimalStore {
    #hosts;
    #prefix;
    constructor({ metadata, vault, userId, projectId }) {
      this.#prefix = `${userId}/${projectId}/`;
      this.#hosts = [metadata, vault];
    }
    has(key) {
      if (!admit()) return Promise.reject(busyError());
      return read(core, 1, key, this, this.#prefix, this.#hosts, undefined);
    }
  }
  return { MinimalStore, w };
}
const { MinimalStore: Minimal, w: minimal } = minimalBinding();

const tick = () => new Promise((r) => setImmediate(r));
const USER = "bench-user";
const PROJECT = "bench-project";
const ISO = "2025-01-01T00:00:00.000Z";
const keys = Array.from({ length: 100 }, (_, i) => `key-${String(i).padStart(4, "0")}`);
const row = (key) => ({ userId: USER, projectId: PROJECT, key, label: "l", provider: "p", createdAt: ISO, updatedAt: ISO });

// Each contender gets its own rows (same content), so no Map is shared.
function backend(io) {
  const rows = new Map(keys.map((k) => [`${USER}/${PROJECT}/${k}`, row(k)]));
  const metadata = io
    ? {
        async get(id) {
          await tick();
          return rows.get(id);
        },
      }
    : {
        async get(id) {
          return rows.get(id);
        },
      };
  return { metadata, vault: {} };
}

function contenders(io) {
  const make = (Store) => {
    const b = backend(io);
    return new Store({ ...b, userId: USER, projectId: PROJECT });
  };
  const floorMetadata = backend(io).metadata;
  const prefix = `${USER}/${PROJECT}/`;
  return [
    { name: "oracle", store: make(Oracle) },
    { name: "ours", store: make(Ours) },
    { name: "minimal", store: make(Minimal) },
    {
      name: "floor",
      store: {
        async has(k) {
          return (await floorMetadata.get(prefix + k)) !== undefined;
        },
      },
    },
  ];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(io) {
  const cs = contenders(io);
  for (const c of cs) {
    if ((await c.store.has(keys[3])) !== true || (await c.store.has("absent")) !== false || (await c.store.has("bad/key")) !== false) {
      throw new Error(`binding-floor: ${c.name} answers has() wrongly`);
    }
  }
  const us = Object.fromEntries(cs.map((c) => [c.name, []]));
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    const k = cs.length;
    const order = Array.from({ length: k }, (_, i) => (i + r) % k);
    if (Math.floor(r / k) % 2) order.reverse();
    for (const i of order) {
      const { name, store } = cs[i];
      await tick();
      const t0 = performance.now();
      for (let j = 0; j < N; j++) await store.has(keys[j % 100]);
      const dt = ((performance.now() - t0) * 1000) / N;
      if (r >= WARMUP) us[name].push(dt);
    }
  }
  const per = (f) => median(us.oracle.map((_, i) => f(i)));
  return {
    backend: io ? "I/O-like (setImmediate)" : "Map (no yield)",
    median: Object.fromEntries(Object.entries(us).map(([k, v]) => [k, median(v)])),
    oursRatio: per((i) => us.ours[i] / us.oracle[i]),
    minimalRatio: per((i) => us.minimal[i] / us.oracle[i]),
    rustSide: per((i) => us.ours[i] - us.minimal[i]),
    crossings: per((i) => us.minimal[i] - us.floor[i]),
  };
}

const f = (x) => x.toFixed(3);
console.log(`has() of a present key, ${N} per sample, ${ROUNDS} rounds (Node ${process.version})\n`);
console.log("| backend | floor µs | oracle µs | minimal binding µs | ours µs | minimal/oracle | ours/oracle | minimal − floor µs | ours − minimal µs |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const io of [false, true]) {
  const m = await measure(io);
  const d = m.median;
  console.log(
    `| ${m.backend} | ${f(d.floor)} | ${f(d.oracle)} | ${f(d.minimal)} | ${f(d.ours)} | ${m.minimalRatio.toFixed(2)} | ${m.oursRatio.toFixed(2)} | ${f(m.crossings)} | ${f(m.rustSide)} |`,
  );
}

// ---- The same split without awaits, per crossing ----
// The package's exports from a private instance of pkg/web (its own glue
// instance: keyAndId writes where that instance's Rust reads).
const webDir = join(ROOT, "pkg/web");
const snippet = readdirSync(join(webDir, "snippets"))[0];
const web = await import(pathToFileURL(join(webDir, "server_credential_store_wasm.js")).href);
const webGlue = await import(pathToFileURL(join(webDir, "snippets", snippet, "js/glue.js")).href);
web.initSync({ module: readFileSync(join(webDir, "server_credential_store_wasm_bg.wasm")) });
const { StoreCore } = web;
StoreCore.driver(StoreCore);
const syncRow = row("k");
const syncHost = { metadata: { get: () => syncRow, put() {} }, vault: { setSecret() {}, getSecret: () => "s" } };
const core = new StoreCore({ ...syncHost, userId: USER, projectId: PROJECT });
const prefix = core.prefix();
const SAFE_SEGMENT = /^[A-Za-z0-9._:-]{1,128}$/;

// Results are kept (so no work is optimized away), the best loop counts.
const kept = new Array(100);
function nsPerCall(f) {
  const n = QUICK ? 50_000 : 200_000;
  let best = Infinity;
  for (let i = 0; i < n; i++) kept[i % 100] = f(keys[i % 100]); // warm-up
  for (let r = 0; r < (QUICK ? 3 : 7); r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) kept[i % 100] = f(keys[i % 100]);
    best = Math.min(best, performance.now() - t0);
  }
  return (best * 1e6) / n;
}
// readKey and putKey test the text keyAndId last wrote (a valid key's).
webGlue.keyAndId(prefix, keys[0]);
glue.keyAndId(prefix, keys[0]);
const steps = [
  {
    step: "key: ToString, text and id (JS: the TS store's regex test and template; the glue's keyAndId)",
    ts: nsPerCall((k) => SAFE_SEGMENT.test(k) && `${prefix}${k}`),
    minimal: nsPerCall((k) => glue.keyAndId(prefix, k)),
    ours: nsPerCall((k) => webGlue.keyAndId(prefix, k)),
  },
  {
    step: "has: the key's test (export `readKey`)",
    ts: NaN,
    minimal: nsPerCall(() => minimal.readKey(1)),
    ours: nsPerCall(() => core.readKey(1)),
  },
  {
    step: "has: what the row's state means (JS: the row's reads; export `readStep`)",
    ts: nsPerCall(() => !syncRow || syncRow.pending === true || syncRow.expiresAt !== undefined),
    minimal: nsPerCall(() => minimal.readStep(1, 2, 0, 0)),
    ours: nsPerCall(() => core.readStep(1, 2, 0, 0)),
  },
  {
    step: "put: the key's test and now (JS: new Date().toISOString(); export `putKey`)",
    ts: nsPerCall(() => new Date().toISOString()),
    minimal: NaN,
    ours: nsPerCall(() => core.putKey()),
  },
  {
    step: "put: an update's row (JS: the base row literal; export `putStep`: carried fields, row)",
    ts: nsPerCall((k) => {
      const options = undefined;
      const existing = syncRow;
      const now = ISO;
      return {
        userId: USER,
        projectId: PROJECT,
        key: k,
        label: options?.label ?? existing?.label,
        provider: options?.provider ?? existing?.provider,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
        expiresAt: options?.expiresAt ? options.expiresAt.toISOString() : existing?.expiresAt,
      };
    }),
    minimal: NaN,
    ours: nsPerCall((k) => core.putStep(k, "v", undefined, ISO, syncRow, `${prefix}${k}`)),
  },
];
const g = (x) => (Number.isFinite(x) ? x.toFixed(0) : "—");
console.log(`\nThe same steps without awaits (ns per call, best of ${QUICK ? 3 : 7} loops; TS store = the plain-JS expressions it evaluates there)\n`);
console.log("| step | TS store ns | minimal binding ns | ours ns | ours − minimal ns |");
console.log("|---|---:|---:|---:|---:|");
for (const s of steps) console.log(`| ${s.step} | ${g(s.ts)} | ${g(s.minimal)} | ${g(s.ours)} | ${g(s.ours - s.minimal)} |`);
