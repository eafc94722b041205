// Security review, issue 16 item 1: operations piling up on host calls that
// do not settle must never trap the wasm instance. Each case runs a child
// process under a real engine limit (V8's --wasm-max-table-size for the
// externref table that holds every JS value Rust keeps, --wasm-max-mem-pages
// for linear memory, which also holds the executor's slots) and piles up
// stalled calls: those the instance cannot hold are refused with a BUSY
// error, those admitted all finish with the right answer once the host
// answers, and the instance (the same store and a new one) keeps working.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("../admission/child.mjs", import.meta.url));

function run(flag, mode, count) {
  const r = spawnSync(process.execPath, [flag, CHILD, mode, String(count)], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `child ${flag} ${mode} failed (a trap ends it):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1));
}

const LIMITS = [
  ["externref table", "--wasm-max-table-size=100000"],
  ["linear memory (and the executor's slots)", "--wasm-max-mem-pages=40"],
];

for (const [resource, flag] of LIMITS) {
  for (const [mode, count, what] of [
    ["get", 40_000, "40,000 gets on a KV whose get stalls"],
    ["put-strict", 40_000, "40,000 strict puts queued behind each other's write turns"],
    ["listing", 300_000, "a deleteAll over 300,000 entries in scope"],
  ]) {
    test(`${resource} (${flag}): ${what} → refused with BUSY past the limit, never a trap; admitted ones finish; the instance keeps working`, () => {
      const out = run(flag, mode, count);
      assert.deepEqual(out.otherErrors, []);
      assert.equal(out.wrong, 0, "every admitted call answers correctly");
      assert.equal(out.busy + out.fulfilled, out.started, "each call either finished or was refused");
      assert.ok(out.busy > 0, "the limit was reached (else this case tests nothing)");
      if (mode !== "listing") assert.ok(out.fulfilled > 100, `only ${out.fulfilled} admitted`);
      assert.deepEqual(out.after, ["fine", true, 1]);
    });
  }
}
