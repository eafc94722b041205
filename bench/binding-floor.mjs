#!/usr/bin/env node
// Where the time of `has` goes (`npm run bench:floor`): the package against a
// *minimal binding* — a hand-written wasm module of a few instructions that
// makes exactly the package's crossings for `has` (export call, keyAndId,
// callHost, the awaited host call, resume, rowState) through the package's
// own glue (js/glue.js: the same drive / callHost / keyAndId / rowState), and
// does nothing else. So:
//   minimal − floor   what the crossing pattern and the awaits cost;
//   ours − minimal    what the Rust side costs (executor, futures, key
//                     grammar, externref table traffic, allocation);
//   oracle            the TypeScript store's algorithm in plain JS.
// Backends: a Map KV (`get` returns at once) and the same Map behind
// setImmediate (standing in for I/O, as in bench/run.mjs). Interleaved
// rounds, warm-up discarded, medians of per-round ratios; nothing asserted.
//
//   node bench/binding-floor.mjs [--quick]

import { existsSync } from "node:fs";
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

// The minimal binding's module. `has` starts metadata.get(prefix + key) and
// returns code 7 (slot 0, awaiting a row's state); `step` returns 6 (true)
// for a committed row, else 5 (false) — the package's codes (js/glue.js
// `drive`, src/binding/task.rs).
const WAT = `(module
  (import "g" "keyAndId" (func $keyAndId (param externref externref) (result externref)))
  (import "g" "callHost" (func $callHost (param externref i32 i32 externref externref) (result i32)))
  (global $prefix (mut externref) (ref.null extern))
  (global $metadata (mut externref) (ref.null extern))
  (memory (export "memory") 1)
  (table (export "t") 1 externref)
  (func (export "setup") (param externref externref)
    (global.set $prefix (local.get 0))
    (global.set $metadata (local.get 1)))
  (func (export "has") (param $key externref) (result i32)
    (drop (call $callHost (global.get $metadata) (i32.const 0) (i32.const 1)
      (call $keyAndId (global.get $prefix) (local.get $key)) (ref.null extern)))
    (i32.const 7))
  (func (export "step") (param i32 i32 f64 f64) (result i32)
    (select (i32.const 6) (i32.const 5) (i32.eq (local.get 1) (i32.const 2)))))`;

function minimalBinding() {
  const m = binaryen.parseText(WAT);
  m.setFeatures(binaryen.Features.ReferenceTypes);
  if (!m.validate()) throw new Error("binding-floor: the minimal module does not validate");
  const bytes = m.emitBinary();
  m.dispose();
  const { exports: w } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    g: { keyAndId: glue.keyAndId, callHost: glue.callHost },
  });
  // Name 0 is "get" (callHost's method index); key text goes to address 0.
  glue.init("get", { memory: w.memory, __wbindgen_externrefs: w.t }, 1024, 0, 1032);
  // The package's admission too (one comparison per call on the common path).
  const { drive, admit, busyError } = glue.makeDriver({ resume: w.resume, step: w.step });
  return class MinimalStore {
    constructor({ metadata, userId, projectId }) {
      w.setup(`${userId}/${projectId}/`, metadata);
    }
    has(key) {
      if (!admit()) return Promise.reject(busyError());
      return drive(w.has(key), undefined, this, key);
    }
  };
}
const Minimal = minimalBinding();

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
