// SPEC §2 Construction, and the package's import surface.
import { test, describe, assert } from "./helpers/harness.mjs";
import { ServerCredentialStore, USING_PACKAGE, PACKAGE_NAME } from "./helpers/impl.mjs";
import { createHost } from "./helpers/fakes.mjs";
import { MSG, thrown, assertTypeError, setup, id, safeString } from "./helpers/util.mjs";

const A128 = "a".repeat(128);
const A129 = "a".repeat(129);

function build(userId, projectId, host = createHost()) {
  return new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId, projectId });
}

// Values that must be rejected, each with a label for the test name.
// Tested after ToString (SPEC §2, second edition): these texts fail.
const BAD_SEGMENTS = [
  ["plain object", {}],
  ["array of two strings", ["a", "b"]],
  ["empty array", []],
  ["function", function abc() {}],
  ["empty string", ""],
  ["129 chars", A129],
  ["slash", "a/b"],
  ["lone slash", "/"],
  ["backslash", "a\\b"],
  ["space", "a b"],
  ["trailing newline", "abc\n"],
  ["leading newline", "\nabc"],
  ["NUL", "ab\u0000c"],
  ["unicode letter", "caf\u00e9"],
  ["fullwidth letter", "\uff41bc"],
  ["emoji", "key\u{1F511}"],
  ["129 chars of allowed punctuation", ".".repeat(129)],
  ["at sign", "me@host"],
  ["percent-encoded slash", "a%2Fb"],
];

describe("construction: SAFE_SEGMENT on userId/projectId", () => {
  for (const [label, bad] of BAD_SEGMENTS) {
    for (const which of ["userId", "projectId"]) {
      test(`${which} ${label} → synchronous TypeError with the exact message`, () => {
        const host = createHost();
        const args = which === "userId" ? [bad, "proj"] : ["user", bad];
        const err = thrown(() => build(...args, host));
        assertTypeError(err, MSG.invalidScope);
        // The message never echoes the value (exact message already implies it;
        // this makes the intent explicit for long or odd values).
        if (typeof bad === "string" && bad.length >= 4) {
          assert.ok(!String(err.message).includes(bad));
        }
        assert.deepStrictEqual(host.calls, [], "no host call during construction");
      });
    }
  }

  // Values whose ToString passes: accepted, and kept as given in every row.
  const CONVERTED = [
    ["number", 42, "42"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["boolean", true, "true"],
    ["object with toString", { toString: () => "abc" }, "abc"],
    ["array of a valid string", ["abc"], "abc"],
    ["String object", new String("abc"), "abc"],
    ["bigint", 12n, "12"],
  ];
  for (const [label, value, text] of CONVERTED) {
    for (const which of ["userId", "projectId"]) {
      test(`${which} ${label} → accepted as "${text}"; rows carry the value as given`, async () => {
        const host = createHost();
        const [user, project] = which === "userId" ? [value, "proj"] : ["user", value];
        const store = build(user, project, host);
        const prefix = which === "userId" ? `${text}/proj/` : `user/${text}/`;
        await store.put("k", "v");
        assert.strictEqual(host.secrets.get(prefix + "k"), "v");
        const row = host.kv.get(prefix + "k");
        assert.ok(Object.is(row.userId, user) && Object.is(row.projectId, project), "the row keeps the ids as given");
        assert.deepStrictEqual(await store.keys(), ["k"], "the scope check compares the ids as given");
        assert.strictEqual(await store.get("k"), "v");
        await store.deleteAll();
        assert.strictEqual(host.kv.size + host.secrets.size, 0);
      });
    }
  }

  test("a userId or projectId whose ToString throws → that error, synchronously", () => {
    const err = new RangeError("no text");
    const throwing = {
      toString() {
        throw err;
      },
    };
    for (const args of [[throwing, "p"], ["u", throwing]]) {
      assert.strictEqual(thrown(() => build(...args)), err);
    }
    const sym = thrown(() => build(Symbol("u"), "p"));
    const expected = thrown(() => /u/.test(Symbol("u")));
    assert.strictEqual(Object.getPrototypeOf(sym), TypeError.prototype);
    assert.strictEqual(sym.message, expected.message);
  });

  test("both invalid → the same single TypeError", () => {
    const err = thrown(() => build("a/b", "c/d"));
    assertTypeError(err, MSG.invalidScope);
  });

  test("a secret-looking scope id is never echoed, not even in the stack", () => {
    const bad = "sk-live-SCOPE-SECRET-\u00e9";
    const err = thrown(() => build(bad, "proj"));
    assertTypeError(err, MSG.invalidScope);
    assert.ok(!String(err.stack ?? "").includes("SCOPE-SECRET"));
    assert.ok(!safeString(err).includes("SCOPE-SECRET"));
  });

  test("128-char ids and every allowed character are accepted", async () => {
    const allowed = "ABCXYZabcxyz0189._:-";
    for (const [u, p] of [
      [A128, A128],
      [allowed, allowed],
      ["a", "b"],
      [".", ".."],
      ["-", ":"],
      ["_", "0"],
    ]) {
      const host = createHost();
      const store = build(u, p, host);
      assert.ok(store instanceof ServerCredentialStore);
      assert.deepStrictEqual(host.calls, []);
      // prefix = userId + "/" + projectId + "/"
      await store.put("k", "v");
      assert.deepStrictEqual(host.callsOf("vault", "setSecret"), [[`${u}/${p}/k`, "v"]]);
    }
  });

  test("construction succeeds with host objects that lack every method (looked up per call)", async () => {
    const store = new ServerCredentialStore({ vault: {}, metadata: {}, userId: "u", projectId: "p" });
    assert.ok(store instanceof ServerCredentialStore);
    // Calls that need no host call still work.
    assert.strictEqual(await store.get("bad/key"), undefined);
    assert.strictEqual(await store.has(""), false);
    assert.strictEqual(await store.delete({}), false);
  });

  test("the instance exposes the seven async methods", () => {
    const { store } = setup();
    for (const m of ["get", "has", "put", "delete", "keys", "listMetadata", "deleteAll"]) {
      assert.strictEqual(typeof store[m], "function", m);
    }
  });

  test("two instances on one host are independent scopes", async () => {
    const host = createHost();
    const a = build("u", "p", host);
    const b = build("u", "p2", host);
    await a.put("k", "A");
    await b.put("k", "B");
    assert.strictEqual(await a.get("k"), "A");
    assert.strictEqual(await b.get("k"), "B");
    assert.strictEqual(host.secrets.get("u/p/k"), "A");
    assert.strictEqual(host.secrets.get("u/p2/k"), "B");
    assert.deepStrictEqual(await a.keys(), ["k"]);
    assert.deepStrictEqual(await b.keys(), ["k"]);
    assert.strictEqual(id("k", "u", "p"), "u/p/k");
  });
});

describe("package import surface", () => {
  test(`import { ServerCredentialStore } from "${PACKAGE_NAME}" works as users write it`, async (t) => {
    if (!USING_PACKAGE) {
      t.skip?.("CREDSTORE_IMPL overrides the package");
      return;
    }
    const mod = await import(PACKAGE_NAME);
    assert.strictEqual(typeof mod.ServerCredentialStore, "function");
    assert.strictEqual(mod.ServerCredentialStore, ServerCredentialStore);
    // Usable right after import, without any init call.
    const host = createHost();
    const store = new mod.ServerCredentialStore({
      vault: host.vault,
      metadata: host.metadata,
      userId: "u",
      projectId: "p",
    });
    await store.put("k", "v");
    assert.strictEqual(await store.get("k"), "v");
  });
});
