// A store that is no longer referenced while one of its calls is in flight
// (e.g. `return makeStore().put(k, v)`) must still complete that call: the
// garbage collector may finalize the JS object, but not the running operation.
import v8 from "node:v8";
import vm from "node:vm";
import { test, describe, assert } from "./helpers/harness.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { createHost } from "./helpers/fakes.mjs";
import { USER, PROJECT, id } from "./helpers/util.mjs";

function getGc() {
  if (typeof globalThis.Bun !== "undefined") return () => globalThis.Bun.gc(true);
  if (typeof globalThis.gc === "function") return globalThis.gc;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc");
}
const gc = getGc();

async function collect() {
  for (let i = 0; i < 6; i++) {
    gc();
    // let FinalizationRegistry callbacks run
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("lifetime", () => {
  test("a put in flight on an unreferenced store completes after garbage collection", async () => {
    const host = createHost();
    const held = host.hold("vault", "setSecret");
    let ref = new WeakRef(
      new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: PROJECT }),
    );
    const p = ref.deref().put("k", "v", { label: "L" });
    await held.reached;
    await collect();
    // Whether the object is actually collected here is not part of the
    // contract (a plain async JS method keeps `this` alive while suspended; the
    // wasm build's wrapper lets V8 collect it). Either way the call completes.
    held.release();
    assert.strictEqual(await p, undefined);
    assert.strictEqual(host.kv.get(id("k")).pending, false);
    assert.strictEqual(host.secrets.get(id("k")), "v");
    ref = null;
  });

  test("reads and deleteAll in flight on an unreferenced store complete after garbage collection", async () => {
    const host = createHost();
    const setup = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: PROJECT });
    await setup.put("a", "A");
    await setup.put("b", "B");
    const heldGet = host.hold("vault", "getSecret");
    const heldAll = host.hold("metadata", "getAll");
    const make = () =>
      new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: PROJECT });
    const g = make().get("a");
    const d = make().deleteAll();
    await heldGet.reached;
    await heldAll.reached;
    await collect();
    heldGet.release();
    heldAll.release();
    assert.strictEqual(await g, "A");
    assert.strictEqual(await d, undefined);
    assert.strictEqual(host.kv.size, 0);
  });

  test("many short-lived stores: creating and dropping 2000 instances leaves every call working", async () => {
    const host = createHost();
    for (let i = 0; i < 2000; i++) {
      const s = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: `p${i % 7}` });
      if (i % 100 === 0) {
        await s.put("k", `v${i}`);
        assert.strictEqual(await s.get("k"), `v${i}`);
      }
    }
    await collect();
    const s = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: "p0" });
    assert.strictEqual(typeof (await s.get("k")), "string");
  });
});
