// The package's own executor (src/binding/task.rs): eager first poll, one
// async driver per operation awaiting what Rust asks, slots reused across
// operations, wakers for strict mode's write turns. These tests hold it to
// what users rely on.
import { test } from "./helpers/harness.mjs";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { createHost, deferred } from "./helpers/fakes.mjs";

const scope = { userId: "u", projectId: "p" };

test("an operation starts synchronously, like an async function: its first host call is made before put() returns", () => {
  const host = createHost();
  const s = new ServerCredentialStore({ ...host, ...scope });
  const p = s.put("k", "v");
  assert.deepEqual(host.trace(), ["metadata.get"]);
  return p;
});

test("thousands of concurrent operations on one store all settle with their own results", async () => {
  for (const mode of ["promise", "plain", "thenable"]) {
    const host = createHost({ mode });
    const s = new ServerCredentialStore({ ...host, ...scope });
    const n = 2000;
    await Promise.all(Array.from({ length: n }, (_, i) => s.put(`k${i}`, `v${i}`)));
    const got = await Promise.all(Array.from({ length: n }, (_, i) => s.get(`k${i}`)));
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => `v${i}`), mode);
    const mixed = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 3 === 0 ? s.has(`k${i}`) : i % 3 === 1 ? s.delete(`k${i}`) : s.get(`k${i}`))),
    );
    mixed.forEach((r, i) => assert.equal(r, i % 3 === 2 ? `v${i}` : true, `${mode} #${i}`));
    assert.equal((await s.keys()).length, n - Math.ceil((n - 1) / 3));
  }
});

test("a host method that starts other operations synchronously (reentrancy) gets correct results for all", async () => {
  const host = createHost();
  const s = new ServerCredentialStore({ ...host, ...scope });
  const other = new ServerCredentialStore({ ...createHost(), ...scope });
  await s.put("a", "A");
  await other.put("b", "B");
  let inner = null;
  const get = host.metadata.get;
  host.metadata.get = function (id) {
    if (inner === null) {
      inner = [];
      inner.push(s.get("a"), other.get("b"), s.has("zzz"));
    }
    return get.call(this, id);
  };
  assert.equal(await s.get("a"), "A");
  assert.deepEqual(await Promise.all(inner), ["A", "B", false]);
});

test("a host call that never settles does not stop other operations (its slot stays, others are reused)", async () => {
  const host = createHost();
  const s = new ServerCredentialStore({ ...host, ...scope });
  await s.put("k", "v");
  host.hold("metadata", "get"); // this one never released
  const stuck = s.get("k");
  for (let i = 0; i < 500; i++) assert.equal(await s.get("k"), "v");
  let settled = false;
  stuck.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(settled, false);
});

test("free() of the wasm object while an operation is in flight does not break that operation", async () => {
  // The bare wasm-bindgen class, from a private instance of the web glue.
  const glue = await import("../../pkg/web/server_credential_store_wasm.js");
  glue.initSync({ module: readFileSync(new URL("../../pkg/web/server_credential_store_wasm_bg.wasm", import.meta.url)) });
  const { StoreCore } = glue;
  const { drive, admit } = StoreCore.driver(StoreCore);
  const host = createHost();
  const core = new StoreCore({ ...host, ...scope });
  assert.ok(admit());
  await drive(core.put("k", "v", undefined));
  const held = host.hold("vault", "setSecret");
  assert.ok(admit());
  const p = drive(core.put("k", "v2", undefined));
  await held.reached;
  core.free();
  held.release();
  assert.equal(await p, undefined, "the operation owns the store it runs on");
  assert.equal(host.kv.get("u/p/k").pending, undefined, "and finished it: the row was written after free()");
  assert.equal(host.secrets.get("u/p/k"), "v2");
  assert.throws(() => core.put("k", "v3", undefined), /null pointer|destroyed|moved/i, "the freed object itself is unusable");
});

test("wasm memory growing in the middle of operations, once the driver is optimized, breaks none of them", async () => {
  // A listing of many rows makes the module allocate (and grow its memory)
  // inside a resume; the driver that called it is then deep in the stack.
  const host = createHost();
  const s = new ServerCredentialStore({ ...host, ...scope });
  for (let i = 0; i < 20000; i++) await s.put(`w${i % 50}`, `v${i}`); // warm: the driver is optimized by now
  for (let i = 0; i < 60000; i++) host.kv.set(`u/p/bulk-${i}`, { userId: "u", projectId: "p", key: `bulk-${i}`, pending: false });
  const [listed, got] = await Promise.all([s.listMetadata(), s.get("w7")]);
  assert.equal(listed.length, 60050);
  assert.equal(got, "v19957");
  assert.equal(await s.has("bulk-59999"), true);
});

test("strict-mode waiters are woken in order, also when writers of many keys interleave", async () => {
  const host = createHost();
  const stores = [0, 1, 2].map(() => new ServerCredentialStore({ ...host, ...scope, strict: true }));
  const ops = [];
  for (let i = 0; i < 300; i++) {
    const s = stores[i % 3];
    const key = `k${i % 7}`;
    ops.push(i % 5 === 4 ? s.delete(key) : s.put(key, `v${i}`));
  }
  await Promise.all(ops);
  // The last write of each key wins, as if the writes ran one after another.
  for (let k = 0; k < 7; k++) {
    const last = [...Array(300).keys()].filter((i) => i % 7 === k).pop();
    assert.equal(await stores[0].get(`k${k}`), last % 5 === 4 ? undefined : `v${last}`, `k${k}`);
  }
  assert.equal(host.secrets.size, (await stores[0].keys()).length, "no version left behind");
});
