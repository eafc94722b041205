// SPEC §1 (no lock, interleaving at every await) and the documented races of §4.
import { test, describe, assert } from "./helpers/harness.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import {
  PAST,
  PAST2,
  FUTURE,
  id,
  setup,
  seeded,
  rejection,
  assertIsoWithin,
} from "./helpers/util.mjs";

const K = "k";
const ID = id(K);

/** Wraps every host method so each call first waits a pseudo-random timer (deterministic). */
function addJitter(host, seed = 1) {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % 4;
  };
  for (const obj of [host.metadata, host.vault]) {
    for (const name of Object.keys(obj)) {
      const inner = obj[name];
      obj[name] = function (...args) {
        const self = this;
        return new Promise((r) => setTimeout(r, rnd())).then(() => inner.apply(self, args));
      };
    }
  }
}

describe("concurrency on one instance", () => {
  test("a new-entry put in flight is invisible: get → undefined, has → false, keys/listMetadata exclude it", async () => {
    const { host, store } = setup();
    const held = host.hold("vault", "setSecret");
    const put = store.put(K, "v");
    await held.reached;
    assert.strictEqual(host.kv.get(ID).pending, true);
    host.clearCalls();
    assert.strictEqual(await store.get(K), undefined);
    assert.strictEqual(await store.has(K), false);
    assert.deepStrictEqual(await store.keys(), []);
    assert.deepStrictEqual(await store.listMetadata(), []);
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.get", "metadata.getAll", "metadata.getAll"]);
    held.release();
    assert.strictEqual(await put, undefined);
    assert.strictEqual(await store.get(K), "v");
    assert.deepStrictEqual(await store.keys(), [K]);
  });

  test("put/delete race: delete during a new put's vault write returns false and touches nothing", async () => {
    const { host, store } = setup();
    const held = host.hold("vault", "setSecret");
    const put = store.put(K, "v");
    await held.reached;
    const pendingRow = host.kv.get(ID);
    host.clearCalls();
    assert.strictEqual(await store.delete(K), false);
    assert.deepStrictEqual(host.calls, [["metadata", "get", [ID]]]);
    assert.strictEqual(host.kv.get(ID), pendingRow);
    held.release();
    await put;
    assert.strictEqual(await store.get(K), "v");
    assert.strictEqual(host.kv.get(ID).pending, false);
  });

  test("deleteAll during a new put's vault write removes the pending row (deleteAll includes pending rows)", async () => {
    const { host, store } = setup();
    const held = host.hold("vault", "setSecret");
    const put = store.put(K, "v");
    await held.reached;
    await store.deleteAll();
    assert.ok(!host.kv.has(ID));
    held.release();
    await put; // the commit write re-creates the row
    assert.strictEqual(await store.get(K), "v");
  });

  test("update in flight: before the vault write get sees the old value; between the two writes, the OLD row with the NEW value", async () => {
    const { host, store } = seeded([[K, "v1", { label: "old", updatedAt: PAST2, expiresAt: FUTURE }]]);
    const heldVault = host.hold("vault", "setSecret");
    const heldMeta = host.hold("metadata", "put");
    const from = Date.now();
    const put = store.put(K, "v2", { label: "new" });

    await heldVault.reached;
    assert.strictEqual(await store.get(K), "v1");
    assert.strictEqual(await store.has(K), true);
    heldVault.release();

    await heldMeta.reached;
    // SPEC §4 put step 5: vault written first → a get here sees the new value
    // while the metadata row is still the old one.
    assert.strictEqual(await store.get(K), "v2");
    assert.strictEqual(await store.has(K), true);
    const [during] = await store.listMetadata();
    assert.strictEqual(during.label, "old");
    assert.strictEqual(during.updatedAt, PAST2);
    heldMeta.release();

    await put;
    const [after] = await store.listMetadata();
    assert.strictEqual(after.label, "new");
    assert.strictEqual(after.createdAt, PAST);
    assertIsoWithin(after.updatedAt, from, Date.now());
    assert.strictEqual(await store.get(K), "v2");
  });

  test("no lock: while one call is held, every other method completes on the same instance", async () => {
    const { host, store } = seeded([["old", "o"]]);
    const held = host.hold("vault", "setSecret", { when: (vid) => vid === id("a") });
    let aDone = false;
    const a = store.put("a", "A").then(() => {
      aDone = true;
    });
    await held.reached;

    await store.put("b", "B", { label: "b" });
    assert.strictEqual(await store.get("b"), "B");
    assert.strictEqual(await store.has("b"), true);
    assert.deepStrictEqual(await store.keys(), ["old", "b"]);
    assert.strictEqual((await store.listMetadata()).length, 2);
    await store.put("b", "B2");
    assert.strictEqual(await store.get("b"), "B2");
    assert.strictEqual(await store.delete("b"), true);
    assert.strictEqual(await store.get("a"), undefined);
    assert.strictEqual(await store.delete("a"), false);
    await assert.rejects(store.put("bad/key", "x"), TypeError);
    assert.strictEqual(aDone, false, "the held put is still running");

    held.release();
    await a;
    assert.strictEqual(await store.get("a"), "A");
    assert.strictEqual(await store.get("old"), "o");
  });

  test("a held read does not block writes: get held at metadata.get, put/delete of the same key complete", async () => {
    const { host, store } = seeded([[K, "v1"]]);
    const held = host.hold("metadata", "get");
    const g = store.get(K);
    await held.reached;
    await store.put(K, "v2");
    assert.strictEqual(await store.has(K), true);
    held.release();
    assert.strictEqual(await g, "v2");
    const held2 = host.hold("metadata", "get");
    const g2 = store.get(K);
    await held2.reached;
    assert.strictEqual(await store.delete(K), true);
    held2.release();
    assert.strictEqual(await g2, undefined);
  });

  test("one failing call does not disturb a concurrent one", async () => {
    const { host, store } = setup();
    const injected = new Error("vault a");
    host.fail("vault", "setSecret", injected, { when: (vid) => vid === id("a") });
    const heldB = host.hold("vault", "setSecret", { when: (vid) => vid === id("b") });
    const b = store.put("b", "B");
    await heldB.reached;
    assert.strictEqual(await rejection(store.put("a", "A")), injected);
    heldB.release();
    await b;
    assert.strictEqual(await store.get("b"), "B");
    assert.strictEqual(await store.get("a"), undefined);
  });

  test("two concurrent new-entry puts on one key both resolve; the row ends committed with the vault's value", async () => {
    const { host, store } = setup();
    const results = await Promise.allSettled([store.put(K, "x"), store.put(K, "y")]);
    assert.deepStrictEqual(results.map((r) => r.status), ["fulfilled", "fulfilled"]);
    const r = host.kv.get(ID);
    assert.strictEqual(r.pending === true, false);
    const v = await store.get(K);
    assert.ok(v === "x" || v === "y");
    assert.strictEqual(v, host.secrets.get(ID));
  });

  test("many interleaved calls (random host latency) all succeed and leave a consistent state", async () => {
    const { host, store } = setup();
    addJitter(host, 7);
    const N = 40;
    const keys = Array.from({ length: N }, (_, i) => `key-${i}`);
    await Promise.all(keys.map((k, i) => store.put(k, `v${i}`, { label: `L${i}` })));
    const ops = [];
    for (let i = 0; i < N; i++) {
      const k = keys[i];
      ops.push(store.get(k), store.has(k), store.put(k, `w${i}`), store.keys(), store.listMetadata());
      if (i % 3 === 0) ops.push(store.delete(k));
    }
    const settled = await Promise.allSettled(ops);
    const rejected = settled.filter((s) => s.status === "rejected");
    assert.deepStrictEqual(rejected, [], "no call fails because another is running");
    for (let i = 0; i < N; i++) {
      const v = await store.get(keys[i]);
      if (i % 3 !== 0) assert.strictEqual(v, `w${i}`);
      else assert.ok(v === undefined || v === `w${i}`);
    }
    await store.deleteAll();
    assert.deepStrictEqual(await store.keys(), []);
  });

  test("re-entrancy: a host method may call back into the same store before it returns", async () => {
    const { host, store } = seeded([["other", "o"]]);
    const innerGet = host.metadata.get;
    const innerSet = host.vault.setSecret;
    const nested = [];
    let depth = 0;
    host.metadata.get = function (key) {
      if (depth === 0 && key === ID) {
        depth += 1;
        // synchronously start calls on the same instance from inside the host call
        nested.push(store.has("other"), store.get("other"), store.keys(), store.put("side", "s"));
        depth -= 1;
      }
      return innerGet.call(this, key);
    };
    host.vault.setSecret = function (vid, value) {
      if (vid === ID) nested.push(store.get("other"));
      return innerSet.call(this, vid, value);
    };
    await store.put(K, "v");
    const results = await Promise.all(nested);
    assert.deepStrictEqual(results.slice(0, 2), [true, "o"]);
    assert.ok(results[2].includes("other"));
    assert.strictEqual(results[3], undefined);
    assert.strictEqual(results[4], "o");
    assert.strictEqual(await store.get(K), "v");
    assert.strictEqual(await store.get("side"), "s");
  });

  test("re-entrancy from user code the store runs: a row getter and options.expiresAt.toISOString", async () => {
    const { host, store } = seeded([["other", "o"]]);
    const fromGetter = [];
    const fromIso = [];
    const r = {
      userId: "u",
      key: K,
      get pending() {
        if (fromGetter.length === 0) fromGetter.push(store.has("other"), store.put("side", "s"));
        return false;
      },
    };
    host.kv.set(ID, r);
    host.secrets.set(ID, "v");
    assert.strictEqual(await store.get(K), "v");
    await store.put("x", "X", {
      expiresAt: {
        toISOString() {
          fromIso.push(store.get("other"), store.keys());
          return "2999-01-01T00:00:00.000Z";
        },
      },
    });
    const [has, put] = await Promise.all(fromGetter);
    assert.strictEqual(has, true);
    assert.strictEqual(put, undefined);
    const [got, keys] = await Promise.all(fromIso);
    assert.strictEqual(got, "o");
    assert.ok(Array.isArray(keys) && keys.includes("other"));
    assert.strictEqual(await store.get("side"), "s");
    assert.strictEqual(await store.get("x"), "X");
  });

  test("separate instances sharing the host run independently and concurrently", async () => {
    const { host } = setup();
    const stores = ["p1", "p2", "p3"].map(
      (p) => new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: "u", projectId: p }),
    );
    addJitter(host, 3);
    await Promise.all(stores.map((s, i) => s.put("k", `v${i}`)));
    assert.deepStrictEqual(await Promise.all(stores.map((s) => s.get("k"))), ["v0", "v1", "v2"]);
    assert.strictEqual(host.kv.get("u/p2/k").key, "k");
  });
});
