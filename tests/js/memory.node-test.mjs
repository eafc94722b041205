// CI-sized memory soak (Node only: child process, RSS and --expose-gc).
// The full run is `node --expose-gc scripts/memory.mjs` (1M ops, 100k instances).
//
//   node --test tests/js/memory.node-test.mjs
import { test, assert } from "./helpers/harness.mjs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const script = path.join(root, "scripts", "memory.mjs");

function soak(extra) {
  const r = spawnSync(process.execPath, ["--expose-gc", script, "--json", ...extra], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  const last = r.stdout.trim().split("\n").at(-1);
  let summary = null;
  try {
    summary = JSON.parse(last);
  } catch {}
  return { status: r.status, summary, stderr: r.stderr };
}

test("100k operations on one instance and 10k dropped instances stay bounded (wasm < 1 MiB, RSS < 50 MB growth)", { timeout: 180_000 }, () => {
  const { status, summary, stderr } = soak(["--ops", "100000", "--instances", "10000"]);
  console.log(stderr.trim());
  assert.ok(summary, `no summary from scripts/memory.mjs (exit ${status})\n${stderr}`);
  assert.deepStrictEqual(summary.failures, []);
  assert.strictEqual(status, 0);
  assert.strictEqual(summary.ops, 100000);
  assert.strictEqual(summary.instances, 10000);
  assert.ok(summary.phase1.end.wasmBytes > 0 && summary.phase1.end.rss > 0, "real measurements");
  assert.ok(summary.phase1.wasmGrowth < 1 << 20);
  assert.ok(summary.phase2.wasmGrowth < 1 << 20);
  if (summary.phase2.tableGrowth !== null) {
    // Dropped instances give their externref slots back (FinalizationRegistry).
    assert.ok(summary.phase2.tableGrowth < 1024, `externref table grew by ${summary.phase2.tableGrowth}`);
  }
});

test("the soak's bounds are live: a 0-byte wasm bound fails the script", { timeout: 60_000 }, () => {
  // wasm memory never shrinks, so growth >= 0 always trips a 0 bound.
  const { status, summary } = soak(["--ops", "20000", "--instances", "2000", "--max-wasm-growth", "0"]);
  assert.strictEqual(status, 1);
  assert.ok(summary.failures.some((f) => /wasm memory grew/.test(f)));
});
