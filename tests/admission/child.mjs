// One process run under an engine limit (node --wasm-max-table-size or
// --wasm-max-mem-pages, set by tests/js/admission.node-test.mjs): piles up
// operations that wait on a host call that never settles until released,
// then releases them and checks the instance still works. Prints a JSON
// summary; any trap (RuntimeError) ends the process with an uncaught error.
//
//   node --wasm-max-table-size=100000 tests/admission/child.mjs get 40000
import { ServerCredentialStore } from "server-credential-store-wasm";

const [mode = "get", count = "40000"] = process.argv.slice(2);
const N = Number(count);

let release;
const gate = new Promise((r) => (release = r));
const rows = new Map();
const secrets = new Map();
const held = (f) => (...args) => gate.then(() => f(...args));
const metadata = {
  get: held((id) => rows.get(id)),
  put: held((id, r) => void rows.set(id, r)),
  delete: held((id) => void rows.delete(id)),
  getAll: held(() => [...rows].map(([key, value]) => ({ key, value }))),
};
const vault = {
  setSecret: held((id, v) => void secrets.set(id, v)),
  getSecret: held((id) => secrets.get(id)),
  deleteSecret: held((id) => void secrets.delete(id)),
};
const scope = { userId: "u", projectId: "p" };
const strict = mode === "put-strict";
const store = new ServerCredentialStore({ vault, metadata, ...scope, strict });
for (let i = 0; i < 100; i++) rows.set(`u/p/k${i}`, { ...scope, key: `k${i}` }), secrets.set(`u/p/k${i}`, `v${i}`);

const out = { mode, started: 0, busy: 0, otherErrors: [], fulfilled: 0, wrong: 0 };
const ops = [];
const start = (i) => {
  switch (mode) {
    case "get":
      return store.get(`k${i % 100}`).then((v) => v === `v${i % 100}`);
    case "put-strict":
      // Writes of one key queue behind each other: most wait for their turn.
      return store.put(`k${i % 10}`, `w${i}`).then(() => true);
    case "listing":
      return store.deleteAll().then(() => true);
  }
};
if (mode === "listing") {
  // One listing whose scope holds more entries than the instance may take.
  for (let i = 0; i < N; i++) rows.set(`u/p/x${i}`, { ...scope, key: `x${i}` });
}
const calls = mode === "listing" ? 1 : N;
for (let i = 0; i < calls; i++) {
  let p;
  try {
    p = start(i);
  } catch (e) {
    out.otherErrors.push(`sync: ${e}`);
    break;
  }
  out.started++;
  ops.push(
    p.then(
      (ok) => (ok ? out.fulfilled++ : out.wrong++),
      (e) => {
        if (e?.code === "CREDENTIAL_STORE_BUSY") out.busy++;
        else if (out.otherErrors.length < 5) out.otherErrors.push(String(e?.stack ?? e));
      },
    ),
  );
}
release();
await Promise.all(ops);

// The instance keeps working: the same store, and a new one.
const free = { get: async (id) => rows.get(id), put: async (id, r) => void rows.set(id, r), delete: async (id) => void rows.delete(id), getAll: async () => [...rows].map(([key, value]) => ({ key, value })) };
const freeVault = { setSecret: async (i, v) => void secrets.set(i, v), getSecret: async (i) => secrets.get(i), deleteSecret: async (i) => void secrets.delete(i) };
const fresh = new ServerCredentialStore({ vault: freeVault, metadata: free, userId: "u2", projectId: "p" });
await fresh.put("after", "fine");
out.after = [await fresh.get("after"), await store.has("k1"), (await fresh.keys()).length];
console.log(JSON.stringify(out));
