// SPEC §1: how host methods are looked up, called, awaited and failed.
import { test, describe, assert } from "./helpers/harness.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { createHost } from "./helpers/fakes.mjs";
import {
  USER,
  PROJECT,
  MSG,
  id,
  row,
  setup,
  seeded,
  rejection,
  assertWrapped,
  assertInstanceStillWorks,
} from "./helpers/util.mjs";

const K = "k";
const ID = id(K);

function storeOn(vault, metadata) {
  return new ServerCredentialStore({ vault, metadata, userId: USER, projectId: PROJECT });
}

/** Runs a full life cycle through the public API. */
async function lifecycle(store) {
  await store.put("a", "A", { label: "la" });
  await store.put("b", "B");
  assert.strictEqual(await store.get("a"), "A");
  assert.strictEqual(await store.has("b"), true);
  assert.strictEqual(await store.get("nope"), undefined);
  await store.put("a", "A2", { provider: "p" });
  assert.strictEqual(await store.get("a"), "A2");
  assert.deepStrictEqual(await store.keys(), ["a", "b"]);
  const list = await store.listMetadata();
  assert.strictEqual(list[0].label, "la");
  assert.strictEqual(list[0].provider, "p");
  assert.strictEqual(await store.delete("b"), true);
  assert.strictEqual(await store.delete("b"), false);
  await store.deleteAll();
  assert.deepStrictEqual(await store.keys(), []);
}

describe("methods are looked up on the object at every call", () => {
  const METHODS = [
    ["metadata", "get", (s) => s.get(K)],
    ["vault", "getSecret", (s) => s.get(K)],
    ["metadata", "getAll", (s) => s.keys()],
    ["metadata", "delete", (s) => s.delete(K)],
    ["vault", "deleteSecret", (s) => s.delete(K)],
    ["vault", "setSecret", (s) => s.put(K, "new")],
    ["metadata", "put", (s) => s.put(K, "new")],
  ];
  for (const [obj, method, run] of METHODS) {
    test(`${obj}.${method}: a spy installed after construction is used, then a second replacement`, async () => {
      const { host, store } = seeded([[K, "v"]]);
      const target = host[obj];
      const original = target[method];
      const seen = [];
      target[method] = function (...args) {
        seen.push(["spy1", this, args]);
        return original.apply(this, args);
      };
      await run(store);
      assert.ok(seen.length >= 1, "first spy called");
      assert.strictEqual(seen[0][1], target, "called as a method (this = the host object)");
      assert.deepStrictEqual(seen[0][2], method === "getAll" ? [] : seen[0][2].length === 1 ? [ID] : [ID, seen[0][2][1]]);

      // re-seed and swap again: the store must not have cached spy1
      host.kv.set(ID, row(K));
      host.secrets.set(ID, "v");
      const seen2 = [];
      target[method] = function (...args) {
        seen2.push(this);
        return original.apply(this, args);
      };
      const before = seen.length;
      await run(store);
      assert.strictEqual(seen.length, before, "the replaced spy is no longer called");
      assert.ok(seen2.length >= 1 && seen2[0] === target);
    });
  }

  test("every call is made with this = the host object", async () => {
    const { host, store } = setup();
    await lifecycle(store);
    host.fail("vault", "deleteSecret", new Error("x"));
    await store.put("z", "Z");
    await rejection(store.delete("z"));
    assert.ok(host.calls.length > 20);
    host.calls.forEach(([obj], i) => {
      assert.strictEqual(host.thisValues[i], host[obj], `call ${i} (${host.trace()[i]})`);
    });
  });

  test("host objects built with Object.create(inner) overriding some methods", async () => {
    const host = createHost();
    const meta = Object.create(host.metadata);
    const vault = Object.create(host.vault);
    const overridden = [];
    meta.get = function (key) {
      overridden.push(["get", this]);
      return host.metadata.get.call(this, key);
    };
    vault.getSecret = function (vid) {
      overridden.push(["getSecret", this]);
      return Object.getPrototypeOf(this).getSecret.call(this, vid);
    };
    const store = storeOn(vault, meta);
    await lifecycle(store);
    assert.ok(overridden.some(([n]) => n === "get") && overridden.some(([n]) => n === "getSecret"));
    for (const [, self] of overridden) assert.ok(self === meta || self === vault);
    // inherited methods are called with this = the derived object
    host.calls.forEach(([obj], i) => {
      assert.strictEqual(host.thisValues[i], obj === "metadata" ? meta : vault, host.trace()[i]);
    });
  });

  test("class instances with private fields (methods on the prototype, need the right this)", async () => {
    class Kv {
      #m = new Map();
      async get(k) {
        return this.#m.get(k);
      }
      async put(k, v) {
        this.#m.set(k, v);
      }
      async delete(k) {
        this.#m.delete(k);
      }
      async getAll() {
        return [...this.#m].map(([key, value]) => ({ key, value }));
      }
    }
    class Vault {
      #m = new Map();
      async setSecret(k, v) {
        this.#m.set(k, v);
      }
      async getSecret(k) {
        return this.#m.get(k);
      }
      async deleteSecret(k) {
        this.#m.delete(k);
      }
    }
    await lifecycle(storeOn(new Vault(), new Kv()));
  });

  test("host objects that are Proxies (this = the proxy)", async () => {
    const host = createHost();
    const selves = [];
    const wrap = (target) =>
      new Proxy(target, {
        get(t, prop, receiver) {
          const v = Reflect.get(t, prop, receiver);
          if (typeof v !== "function") return v;
          return function (...args) {
            selves.push(this === receiver);
            return v.apply(this, args);
          };
        },
      });
    await lifecycle(storeOn(wrap(host.vault), wrap(host.metadata)));
    assert.ok(selves.length > 10 && selves.every(Boolean));
  });

  test("methods defined as accessors are read at every call", async () => {
    const { host, store } = seeded([[K, "v"]]);
    const inner = host.vault.getSecret;
    let reads = 0;
    Object.defineProperty(host.vault, "getSecret", {
      configurable: true,
      get() {
        reads += 1;
        return inner;
      },
    });
    await store.get(K);
    await store.get(K);
    await store.get(K);
    assert.ok(reads >= 3, `getter read ${reads} times for 3 calls`);
  });
});

describe("results are awaited like JavaScript `await`", () => {
  test("methods returning plain values (not promises) work for every operation", async () => {
    const host = createHost({ mode: "plain" });
    await lifecycle(storeOn(host.vault, host.metadata));
  });

  test("methods returning non-promise thenables work for every operation", async () => {
    const host = createHost({ mode: "thenable" });
    await lifecycle(storeOn(host.vault, host.metadata));
  });

  test("plain mode: every failure path still behaves (sync throw = rejection)", async () => {
    const host = createHost({ mode: "plain" });
    const store = storeOn(host.vault, host.metadata);
    const e1 = new Error("vault");
    host.fail("vault", "setSecret", e1, { sync: true }).fail("metadata", "delete", "rb", { sync: true });
    assertWrapped(await rejection(store.put(K, "v")), MSG.vaultWriteFailed(ID), e1);
    assert.strictEqual(host.kv.get(ID).orphanReason, "vault-write-failed");
  });

  test("a rejecting thenable passes on the identical value", async () => {
    const host = createHost({ mode: "thenable" });
    const store = storeOn(host.vault, host.metadata);
    const injected = { thenable: "failure" };
    host.fail("metadata", "get", injected);
    assert.strictEqual(await rejection(store.get(K)), injected);
    host.fail("metadata", "getAll", "str");
    assert.strictEqual(await rejection(store.keys()), "str");
  });

  test("nested thenables are unwrapped recursively (getSecret → thenable → thenable → value)", async () => {
    const { host, store } = seeded([[K, "ignored"]]);
    host.vault.getSecret = () => ({
      then(resolve) {
        resolve({
          then(resolve2) {
            resolve2("deep");
          },
        });
      },
    });
    assert.strictEqual(await store.get(K), "deep");
  });

  test("a promise resolving to a thenable is unwrapped too", async () => {
    const { host, store } = seeded([[K, "ignored"]]);
    host.vault.getSecret = async () => ({ then: (r) => r("via-promise") });
    assert.strictEqual(await store.get(K), "via-promise");
  });

  test("a result whose `then` getter throws → rejects with that identical value", async () => {
    const { host, store } = seeded([[K, "v"]]);
    const injected = new Error("then getter");
    host.vault.getSecret = () => ({
      get then() {
        throw injected;
      },
    });
    assert.strictEqual(await rejection(store.get(K)), injected);
    host.vault.getSecret = function (vid) {
      return Promise.resolve(host.secrets.get(vid));
    };
    assert.strictEqual(await store.get(K), "v");
  });

  test("a thenable that calls back twice or throws after resolving behaves like await (first settle wins)", async () => {
    const { host, store } = seeded([[K, "v"]]);
    host.vault.getSecret = () => ({
      then(resolve, reject) {
        resolve("first");
        resolve("second");
        reject(new Error("ignored"));
        throw new Error("also ignored");
      },
    });
    assert.strictEqual(await store.get(K), "first");
  });

  test("a plain value that is a row object (metadata.get not async) is used as is", async () => {
    const { host, store } = seeded([[K, "v"]]);
    const r = row(K, { label: "plain" });
    host.metadata.get = () => r;
    assert.strictEqual(await store.get(K), "v");
    host.metadata.getAll = () => [{ key: ID, value: r }];
    assert.deepStrictEqual((await store.listMetadata()).map((m) => m.label), ["plain"]);
  });
});

describe("synchronous throws are passed on as the same value", () => {
  const INJECTED = () => [new Error("sync"), "sync string", 3, undefined, Symbol("sym")];
  const CASES = [
    ["metadata", "get", "get", (s) => s.get(K)],
    ["vault", "getSecret", "get", (s) => s.get(K)],
    ["metadata", "get", "has", (s) => s.has(K)],
    ["metadata", "getAll", "keys", (s) => s.keys()],
    ["metadata", "getAll", "listMetadata", (s) => s.listMetadata()],
    ["metadata", "getAll", "deleteAll", (s) => s.deleteAll()],
    ["metadata", "delete", "delete", (s) => s.delete(K)],
    ["vault", "setSecret", "put (update)", (s) => s.put(K, "x")],
    ["metadata", "put", "put (update)", (s) => s.put(K, "x")],
  ];
  for (const [obj, method, op, run] of CASES) {
    test(`${obj}.${method} throwing synchronously inside ${op} → the store's promise rejects with it`, async () => {
      for (const injected of INJECTED()) {
        const { host, store } = seeded([[K, "v"]]);
        host.fail(obj, method, injected, { sync: true });
        let p;
        assert.doesNotThrow(() => {
          p = run(store);
        });
        assert.ok(p instanceof Promise);
        assert.strictEqual(await rejection(p), injected);
      }
    });
  }

  test("vault.deleteSecret throwing synchronously → wrapped error whose cause is the identical value", async () => {
    const { host, store } = seeded([[K, "v"]]);
    const injected = new Error("sync");
    host.fail("vault", "deleteSecret", injected, { sync: true });
    assertWrapped(await rejection(store.delete(K)), MSG.deleteFailed("delete", K, true), injected);
  });

  test("a synchronous throw of a Symbol in the new-entry vault write is wrapped with that Symbol as cause", async () => {
    const { host, store } = setup();
    const injected = Symbol("vault");
    host.fail("vault", "setSecret", injected, { sync: true }).fail("metadata", "delete", new Error("rb"));
    assertWrapped(await rejection(store.put(K, "v")), MSG.vaultWriteFailed(ID), injected);
  });
});

describe("missing or non-function methods → TypeError naming the method", () => {
  const CASES = [
    ["metadata", "get", (s) => s.get(K), "raw"],
    ["metadata", "getAll", (s) => s.keys(), "raw"],
    ["metadata", "delete", (s) => s.delete(K), "raw"],
    ["metadata", "put", (s) => s.put("fresh", "v"), "raw"],
    ["vault", "getSecret", (s) => s.get(K), "raw"],
    ["vault", "setSecret", (s) => s.put(K, "v"), "raw"],
    ["vault", "deleteSecret", (s) => s.delete(K), "cause"],
  ];
  for (const [obj, method, run, how] of CASES) {
    for (const [label, value] of [
      ["missing", undefined],
      ["a number", 42],
      ["an object", {}],
      ["null", null],
    ]) {
      test(`${obj}.${method} ${label} → TypeError mentioning "${method}"${how === "cause" ? " (as the wrapped error's cause)" : ""}`, async () => {
        const { host, store } = seeded([[K, "v"]]);
        const original = host[obj][method];
        if (value === undefined) delete host[obj][method];
        else host[obj][method] = value;
        let err = await rejection(run(store));
        if (how === "cause") {
          assert.strictEqual(err.message, MSG.deleteFailed("delete", K, true));
          err = err.cause;
        }
        assert.ok(err instanceof TypeError, `TypeError expected, got ${String(err)}`);
        assert.ok(String(err.message).includes(method), `message ${JSON.stringify(err.message)} names ${method}`);
        // put the method back: the same instance works again
        host[obj][method] = original;
        host.kv.delete(ID);
        host.secrets.delete(ID);
        host.kv.delete(id("fresh"));
        await assertInstanceStillWorks(store, host);
      });
    }
  }

  test("vault.setSecret missing on a NEW entry → rollback runs, TypeError rejected raw", async () => {
    const { host, store } = setup();
    delete host.vault.setSecret;
    const err = await rejection(store.put(K, "v"));
    assert.ok(err instanceof TypeError && err.message.includes("setSecret"));
    assert.deepStrictEqual(host.trace(), ["metadata.get", "metadata.put", "metadata.delete"]);
    assert.strictEqual(host.kv.size, 0);
  });
});

describe("the store object itself", () => {
  test("it can be subclassed; overridden methods reach the base via super", async () => {
    class Audited extends ServerCredentialStore {
      constructor(opts) {
        super(opts);
        this.log = [];
      }
      async get(key) {
        this.log.push(["get", key]);
        return super.get(key);
      }
    }
    const host = createHost();
    const store = new Audited({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: PROJECT });
    assert.ok(store instanceof ServerCredentialStore);
    await store.put(K, "v");
    assert.strictEqual(await store.get(K), "v");
    assert.deepStrictEqual(store.log, [["get", K]]);
    assert.strictEqual(await store.delete(K), true);
    await lifecycle(store);
  });

  test("a subclass constructor with invalid ids still throws the TypeError synchronously", () => {
    class Sub extends ServerCredentialStore {}
    const host = createHost();
    assert.throws(
      () => new Sub({ vault: host.vault, metadata: host.metadata, userId: "a/b", projectId: "p" }),
      (e) => e instanceof TypeError && e.message === MSG.invalidScope,
    );
  });

  test("get/has of an expired row go through this.delete(key) (SPEC §4 get step 3), visible to an instance spy", async () => {
    const { store } = seeded([[K, "v", { expiresAt: "2001-01-01T00:00:00.000Z" }], ["k2", "v", { expiresAt: "2001-01-01T00:00:00.000Z" }]]);
    const seen = [];
    const original = store.delete;
    store.delete = function (key) {
      seen.push([this, key]);
      return original.call(this, key);
    };
    assert.strictEqual(await store.get(K), undefined);
    assert.strictEqual(await store.has("k2"), false);
    assert.deepStrictEqual(seen, [
      [store, K],
      [store, "k2"],
    ]);
  });

  test("keys() maps this.listMetadata() (an instance override is used, as in the TS store)", async () => {
    const { store } = seeded([[K, "v"]]);
    const original = store.listMetadata;
    let calls = 0;
    store.listMetadata = async function () {
      calls += 1;
      const list = await original.call(this);
      return [...list, { key: "injected-by-override" }];
    };
    assert.deepStrictEqual(await store.keys(), [K, "injected-by-override"]);
    assert.strictEqual(calls, 1);
  });
});
