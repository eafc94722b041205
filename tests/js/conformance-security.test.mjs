// SPEC §5: secrets never leak into errors, logs or rows; bad input is never echoed;
// a key cannot address another scope.
import { test, describe, assert } from "./helpers/harness.mjs";
import {
  MSG,
  setup,
  seeded,
  rejection,
  captureConsole,
  assertTypeError,
  safeString,
} from "./helpers/util.mjs";

const SECRET = `sk-live-${Math.random().toString(36).slice(2)}-S\u00e9cr\u00e9t`;
const K = "k";

/** Every string reachable from err that the store may have produced (not what we injected). */
function texts(err, injected, seen = new Set()) {
  if (err === null || err === undefined || seen.has(err)) return [];
  if (injected.has(err)) return [];
  if (typeof err !== "object" && typeof err !== "function") return [safeString(err)];
  seen.add(err);
  const out = [safeString(err)];
  for (const prop of ["message", "stack", "name"]) {
    try {
      if (typeof err[prop] === "string") out.push(err[prop]);
    } catch {}
  }
  try {
    out.push(JSON.stringify(err) ?? "");
  } catch {}
  out.push(...texts(err.cause, injected, seen));
  if (Array.isArray(err.errors)) for (const e of err.errors) out.push(...texts(e, injected, seen));
  return out;
}

function assertNoSecret(strings, where) {
  for (const s of strings) assert.ok(!String(s).includes(SECRET), `${where} leaks the secret: ${s}`);
}

describe("secrets never appear in errors, logs or rows", () => {
  // arrange(host, inj): inj(v) registers v as injected (not scanned) and returns it.
  const SCENARIOS = [
    ["pending write fails", (h, inj) => h.fail("metadata", "put", inj(new Error("kv"))), "new"],
    ["vault write fails, rollback ok", (h, inj) => h.fail("vault", "setSecret", inj(new Error("vault"))), "new"],
    [
      "vault write and rollback fail",
      (h, inj) => h.fail("vault", "setSecret", inj(new Error("vault"))).fail("metadata", "delete", inj(new Error("rb"))),
      "new",
    ],
    [
      "vault write, rollback and marker fail",
      (h, inj) =>
        h
          .fail("vault", "setSecret", inj(new Error("vault")))
          .fail("metadata", "delete", inj(new Error("rb")))
          .fail("metadata", "put", inj(new Error("m")), { nth: 2 }),
      "new",
    ],
    ["commit fails", (h, inj) => h.fail("metadata", "put", inj(new Error("commit")), { nth: 2 }), "new"],
    [
      "commit and marker fail",
      (h, inj) =>
        h.fail("metadata", "put", inj(new Error("commit")), { nth: 2 }).fail("metadata", "put", inj("m"), { nth: 3 }),
      "new",
    ],
    ["update: vault write fails", (h, inj) => h.fail("vault", "setSecret", inj(new Error("vault"))), "update"],
    ["update: metadata write fails", (h, inj) => h.fail("metadata", "put", inj(new Error("kv"))), "update"],
    ["update: sync throw", (h, inj) => h.fail("vault", "setSecret", inj("sync"), { sync: true }), "update"],
  ];
  for (const [label, arrange, kind] of SCENARIOS) {
    test(`put, ${label}: no secret in the error chain, console, or any row`, async () => {
      const { host, store } = kind === "update" ? seeded([[K, "old"]]) : setup();
      const injected = new Set();
      arrange(host, (v) => {
        injected.add(v);
        return v;
      });
      let err;
      const lines = await captureConsole(async () => {
        err = await rejection(store.put(K, SECRET, { label: "L" }));
      });
      assertNoSecret(texts(err, injected), "error");
      assertNoSecret(lines.map((args) => args.map(safeString).join(" ")), "console");
      for (const [k, r] of host.kv) assertNoSecret([k, JSON.stringify(r)], "metadata row");
      assertNoSecret((await store.listMetadata()).map((m) => JSON.stringify(m)), "listMetadata");
    });
  }

  test("a secret object with toString/toJSON returning the secret is never stringified into errors", async () => {
    const value = { toString: () => SECRET, toJSON: () => SECRET, [Symbol.toPrimitive]: () => SECRET };
    const { host, store } = setup();
    host.fail("vault", "setSecret", new Error("v")).fail("metadata", "delete", new Error("rb"));
    const err = await rejection(store.put(K, value));
    assertNoSecret(texts(err, new Set([err.cause])), "error");
  });

  test("delete/deleteAll/get error paths carry no secret", async () => {
    const { host, store } = seeded([
      ["a", SECRET],
      ["b", SECRET],
    ]);
    host.fail("vault", "deleteSecret", new Error("v1")).fail("vault", "deleteSecret", new Error("v2"), { nth: 2 });
    const e1 = await rejection(store.delete("a"));
    const e2 = await rejection(store.deleteAll());
    assertNoSecret(texts(e1, new Set([e1.cause])), "delete error");
    assertNoSecret(texts(e2, new Set(e2.errors.map((e) => e.cause))), "deleteAll error");
    for (const [, r] of host.kv) assertNoSecret([JSON.stringify(r)], "marker");
  });

  test("rows never contain the value; listMetadata never returns it", async () => {
    const { host, store } = setup();
    await store.put(K, SECRET, { label: "L", provider: "P", expiresAt: new Date(Date.UTC(2099, 0, 1)) });
    await store.put(K, SECRET + "2");
    for (const args of host.callsOf("metadata", "put")) {
      assertNoSecret([JSON.stringify(args[1])], "written row");
      assert.ok(!Object.values(args[1]).includes(SECRET));
    }
    const list = await store.listMetadata();
    assertNoSecret([JSON.stringify(list)], "listMetadata");
  });
});

describe("invalid input is never echoed; keys cannot escape the scope", () => {
  const TRICKY = ["../other-proj/k", "k/../../x", "other-user/p/k", "/abs", "SECRET-TOKEN-\u00e9-1234", "a".repeat(200)];
  for (const key of TRICKY) {
    test(`key ${JSON.stringify(key.slice(0, 24))}: get/has/delete refuse with no host call; put's TypeError does not echo it`, async () => {
      const { host, store } = setup();
      assert.strictEqual(await store.get(key), undefined);
      assert.strictEqual(await store.has(key), false);
      assert.strictEqual(await store.delete(key), false);
      const err = await rejection(store.put(key, SECRET));
      assertTypeError(err, MSG.invalidKey);
      assert.ok(!String(err.stack ?? "").includes(key));
      assert.ok(!String(err.stack ?? "").includes(SECRET));
      assert.deepStrictEqual(host.calls, []);
    });
  }

  test("a valid key only ever produces ids inside the store's prefix", async () => {
    const { host, store } = setup({ user: "u", project: "p" });
    for (const k of [".", "..", "...", ":", "-", "_"]) {
      await store.put(k, "v");
      await store.get(k);
      await store.delete(k);
    }
    for (const [, , args] of host.calls) {
      if (args.length) assert.ok(String(args[0]).startsWith("u/p/"), args[0]);
      assert.strictEqual(String(args[0] ?? "u/p/x").split("/").length, 3);
    }
  });
});
