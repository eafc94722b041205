// SPEC §3: "now" is read from the host's Date at each use (fake timers apply).
import { test, describe, assert } from "./helpers/harness.mjs";
import {
  MSG,
  RealDate,
  id,
  setup,
  seeded,
  rejection,
  withFakeDate,
  assertWrapped,
} from "./helpers/util.mjs";

const K = "k";
const ID = id(K);
const T = RealDate.UTC(2020, 1, 29, 12, 34, 56, 789); // 2020-02-29T12:34:56.789Z
const T_ISO = "2020-02-29T12:34:56.789Z";
const iso = (ms) => new RealDate(ms).toISOString();

describe("fake Date (globalThis.Date replaced after import and construction)", () => {
  test("new entry: createdAt and updatedAt are the fake instant's ISO string", async () => {
    const { host, store } = setup();
    await withFakeDate(T, async (now) => {
      assert.strictEqual(now, T_ISO);
      await store.put(K, "v");
    });
    const [pendingRow, committed] = host.callsOf("metadata", "put").map((a) => a[1]);
    assert.strictEqual(pendingRow.createdAt, T_ISO);
    assert.strictEqual(pendingRow.updatedAt, T_ISO);
    assert.strictEqual(committed.createdAt, T_ISO);
    assert.strictEqual(committed.updatedAt, T_ISO);
  });

  test("update: updatedAt = the fake instant at that call; createdAt kept", async () => {
    const { host, store } = setup();
    await withFakeDate(T, () => store.put(K, "v1"));
    await withFakeDate(T + 60_000, () => store.put(K, "v2"));
    const r = host.kv.get(ID);
    assert.strictEqual(r.createdAt, T_ISO);
    assert.strictEqual(r.updatedAt, iso(T + 60_000));
  });

  test("extended years: timestamps are the host's toISOString, not a re-formatting", async () => {
    const far = RealDate.UTC(12345, 0, 2, 3, 4, 5, 6);
    const before = RealDate.UTC(-50, 0, 1);
    const { host, store } = setup();
    await withFakeDate(far, () => store.put("a", "v"));
    assert.strictEqual(host.kv.get(id("a")).createdAt, "+012345-01-02T03:04:05.006Z");
    await withFakeDate(before, () => store.put("b", "v"));
    assert.strictEqual(host.kv.get(id("b")).createdAt, iso(before));
    assert.ok(host.kv.get(id("b")).createdAt.startsWith("-0000"));
  });

  test("orphanedAt of all three marker kinds = fake now", async () => {
    await withFakeDate(T, async () => {
      const a = setup();
      const eA = new Error("a");
      a.host.fail("vault", "setSecret", eA).fail("metadata", "delete", new Error("rb"));
      assertWrapped(await rejection(a.store.put(K, "v")), MSG.vaultWriteFailed(ID), eA);
      assert.strictEqual(a.host.kv.get(ID).orphanedAt, T_ISO);
      assert.strictEqual(a.host.kv.get(ID).orphanReason, "vault-write-failed");

      const b = setup();
      b.host.fail("metadata", "put", new Error("c"), { nth: 2 });
      await rejection(b.store.put(K, "v"));
      assert.strictEqual(b.host.kv.get(ID).orphanedAt, T_ISO);
      assert.strictEqual(b.host.kv.get(ID).orphanReason, "metadata-commit-failed");

      const c = seeded([[K, "v"]]);
      c.host.fail("vault", "deleteSecret", new Error("d"));
      await rejection(c.store.delete(K));
      assert.strictEqual(c.host.kv.get(ID).orphanedAt, T_ISO);
      assert.strictEqual(c.host.kv.get(ID).orphanReason, "vault-delete-failed");
    });
  });

  test("expiry boundary against fake now: expiresAt == now is expired, now + 1 ms is not", async () => {
    await withFakeDate(T, async () => {
      const { host, store } = seeded([
        ["equal", "e", { expiresAt: iso(T) }],
        ["minus", "m", { expiresAt: iso(T - 1) }],
        ["plus", "p", { expiresAt: iso(T + 1) }],
      ]);
      assert.deepStrictEqual(await store.keys(), ["plus"]);
      assert.strictEqual(await store.get("plus"), "p");
      assert.strictEqual(await store.has("minus"), false);
      assert.strictEqual(await store.get("equal"), undefined);
      assert.deepStrictEqual([...host.kv.keys()], [id("plus")]);
    });
  });

  test("a fake now in the past makes a really-expired row valid", async () => {
    const { store } = seeded([[K, "v", { expiresAt: "2001-06-01T00:00:00.000Z" }]]);
    await withFakeDate(RealDate.UTC(2000, 0, 1), async () => {
      assert.strictEqual(await store.get(K), "v");
      assert.strictEqual(await store.has(K), true);
      assert.deepStrictEqual(await store.keys(), [K]);
    });
    // back on the real clock it is expired
    assert.strictEqual(await store.get(K), undefined);
  });

  test("a fake now in the future expires a really-valid row", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: "2099-01-01T00:00:00.000Z" }]]);
    assert.strictEqual(await store.get(K), "v");
    await withFakeDate(RealDate.UTC(2100, 0, 1), async () => {
      assert.deepStrictEqual(await store.listMetadata(), []);
      assert.strictEqual(await store.get(K), undefined);
    });
    assert.ok(!host.kv.has(ID));
  });

  test("now is read at each use, not cached: successive fake instants within one test", async () => {
    const { host, store } = seeded([[K, "v", { expiresAt: iso(T + 1000) }]]);
    for (const [offset, visible] of [
      [0, true],
      [999, true],
      [1000, false],
    ]) {
      await withFakeDate(T + offset, async () => {
        assert.strictEqual(await store.has(K), visible, `at +${offset} ms`);
      });
    }
    assert.ok(!host.kv.has(ID));
  });

  test("put with options.expiresAt before fake now creates an entry that reads as expired", async () => {
    await withFakeDate(T, async () => {
      const { store } = setup();
      await store.put(K, "v", { expiresAt: new Date(T - 1) });
      assert.strictEqual(await store.get(K), undefined);
    });
  });
});

// The package keeps the last `new Date().toISOString()` result for the same
// instant (formatting costs more than the rest of a put). These hold it to
// the TS store's behaviour wherever a caller could tell the difference.
describe("now as text: the same as calling toISOString at each use", () => {
  test("puts within one millisecond each get that millisecond's ISO string, and the next millisecond's after it", async () => {
    const { host, store } = setup();
    await withFakeDate(T, async () => {
      await store.put("a", "1");
      await store.put("b", "2");
    });
    await withFakeDate(T + 1, () => store.put("a", "3"));
    assert.strictEqual(host.kv.get(id("a")).createdAt, T_ISO);
    assert.strictEqual(host.kv.get(id("b")).updatedAt, T_ISO);
    assert.strictEqual(host.kv.get(id("a")).updatedAt, iso(T + 1));
  });

  test("a spy on Date.prototype.toISOString sees one call per put, as with the TS store", async () => {
    const { store } = setup();
    const native = RealDate.prototype.toISOString;
    let calls = 0;
    await withFakeDate(T, async () => {
      RealDate.prototype.toISOString = function () {
        calls += 1;
        return native.call(this);
      };
      try {
        for (let i = 0; i < 5; i++) await store.put(K, `v${i}`); // one new put, four updates
      } finally {
        RealDate.prototype.toISOString = native;
      }
    });
    assert.strictEqual(calls, 5);
  });

  test("a Date class whose toISOString differs is asked at every use, not served a kept string", async () => {
    const { host, store } = setup();
    let n = 0;
    class CountingDate extends RealDate {
      constructor(...args) {
        if (args.length === 0) super(T);
        else super(...args);
      }
      toISOString() {
        n += 1;
        return `custom-${n}`;
      }
    }
    globalThis.Date = CountingDate;
    try {
      await store.put(K, "v1");
      await store.put(K, "v2");
    } finally {
      globalThis.Date = RealDate;
    }
    assert.strictEqual(host.kv.get(ID).createdAt, "custom-1");
    assert.strictEqual(host.kv.get(ID).updatedAt, "custom-2");
  });

  test("a fake Date with an invalid instant makes put reject with the host's RangeError before any host call", async () => {
    const { host, store } = setup();
    globalThis.Date = class InvalidNow extends RealDate {
      constructor(...args) {
        if (args.length === 0) super(NaN);
        else super(...args);
      }
    };
    let e;
    try {
      e = await rejection(store.put(K, "v"));
    } finally {
      globalThis.Date = RealDate;
    }
    assert.ok(e instanceof RangeError, String(e));
    let hostMessage;
    try {
      new RealDate(NaN).toISOString();
    } catch (x) {
      hostMessage = x.message; // "Invalid time value" in V8, "Invalid Date" in JavaScriptCore
    }
    assert.strictEqual(e.message, hostMessage);
    assert.deepStrictEqual(host.trace(), []);
  });
});
