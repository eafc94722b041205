// Secrets stay out of wasm memory, and out of every error (SPEC §5).
//
// Values cross the boundary as JS references (externref), never as bytes, so
// after puts and gets of a distinctive secret — and after every fault path —
// the secret's UTF-8 and UTF-16LE bytes must not occur anywhere in the
// module's linear memory. The scanner is proven on a positive control: a
// distinctive KEY, which the store does read into wasm memory as text.
//
// support/wasm-memory.mjs must be imported before anything that loads the
// package: it records the WebAssembly.Instance the package creates.
import { loadWithMemory, findAll } from "./support/wasm-memory.mjs";
import { test, assert } from "./helpers/harness.mjs";
import { captureConsole } from "./helpers/util.mjs";
import { errorStrings, canon } from "./support/canon.mjs";
import crypto from "node:crypto";

const { ServerCredentialStore, memory, source } = await loadWithMemory();

const USER = "user-1";
const PROJECT = "proj-1";
const PREFIX = `${USER}/${PROJECT}/`;
const FUTURE = "2999-01-01T00:00:00.000Z";
const PAST = "2001-01-01T00:00:00.000Z";

function randomAscii(n) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.randomBytes(n), (b) => alphabet[b % alphabet.length]).join("");
}

const SECRET_ASCII = randomAscii(64);
const SECRET_UNICODE = `пароль-秘密-🔑-${crypto.randomBytes(12).toString("hex")}-ünïcødé-שלום`;
const SECRETS = [SECRET_ASCII, SECRET_UNICODE];

/** Byte patterns of a string: whole and a middle slice, in UTF-8 and UTF-16LE. */
function patterns(s) {
  const mid = s.slice(Math.floor(s.length / 4), Math.floor(s.length / 4) + 20);
  return [
    ["utf8", Buffer.from(s, "utf8")],
    ["utf16le", Buffer.from(s, "utf16le")],
    ["utf8 middle slice", Buffer.from(mid, "utf8")],
    ["utf16le middle slice", Buffer.from(mid, "utf16le")],
  ];
}

function assertNotInMemory(label) {
  for (const s of SECRETS) {
    for (const [enc, bytes] of patterns(s)) {
      const at = findAll(memory, bytes);
      assert.deepStrictEqual(at, [], `${label}: secret (${enc}) found in wasm memory at ${at.join(", ")}`);
    }
  }
}

function assertNoSecretIn(strings, label) {
  for (const str of strings) {
    for (const s of SECRETS) {
      assert.ok(!str.includes(s), `${label}: secret found in ${JSON.stringify(str.slice(0, 200))}`);
      assert.ok(!str.includes(s.slice(8, 40)), `${label}: part of a secret found in ${JSON.stringify(str.slice(0, 200))}`);
    }
  }
}

/**
 * A Map host whose calls can fail: `failAt` is a set of 1-based call numbers,
 * `how` one of reject | sync | after (performed, then rejected) | thenable.
 */
function faultyHost({ failAt = new Set(), how = "reject" } = {}) {
  const kv = new Map();
  const vault = new Map();
  let n = 0;
  const errors = [];
  function call(name, perform) {
    n += 1;
    if (!failAt.has(n)) return Promise.resolve(perform());
    const err = new Error(`host failure at call ${n} (${name})`);
    errors.push(err);
    if (how === "sync") throw err;
    if (how === "thenable") return { then: (_, reject) => reject(err) };
    if (how === "after") perform();
    return Promise.reject(err);
  }
  const metadata = {
    get: (id) => call("metadata.get", () => kv.get(id)),
    put: (id, row) => call("metadata.put", () => void kv.set(id, row)),
    delete: (id) => call("metadata.delete", () => void kv.delete(id)),
    getAll: () => call("metadata.getAll", () => [...kv].map(([key, value]) => ({ key, value }))),
  };
  const vaultHost = {
    setSecret: (id, s) => call("vault.setSecret", () => void vault.set(id, s)),
    getSecret: (id) => call("vault.getSecret", () => vault.get(id)),
    deleteSecret: (id) => call("vault.deleteSecret", () => void vault.delete(id)),
  };
  return { kv, vault, metadata, vaultHost, calls: () => n, errors };
}

const committed = (key, fields = {}) => ({
  userId: USER,
  projectId: PROJECT,
  key,
  label: "L",
  provider: undefined,
  createdAt: PAST,
  updatedAt: PAST,
  expiresAt: undefined,
  pending: false,
  ...fields,
});

// Each scenario seeds the host, then runs one operation whose data involves the secrets.
const SCENARIOS = {
  "put new": {
    seed() {},
    run: (s) => s.put("k", SECRET_ASCII, { label: "L" }),
  },
  "put new (unicode secret, object wrapper)": {
    seed() {},
    run: (s) => s.put("k", { secret: SECRET_UNICODE }),
  },
  "put update": {
    seed(h) {
      h.kv.set(PREFIX + "k", committed("k"));
      h.vault.set(PREFIX + "k", SECRET_UNICODE);
    },
    run: (s) => s.put("k", SECRET_ASCII, { expiresAt: new Date(FUTURE) }),
  },
  get: {
    seed(h) {
      h.kv.set(PREFIX + "k", committed("k"));
      h.vault.set(PREFIX + "k", SECRET_UNICODE);
    },
    run: (s) => s.get("k"),
  },
  "get of an expired row": {
    seed(h) {
      h.kv.set(PREFIX + "k", committed("k", { expiresAt: PAST }));
      h.vault.set(PREFIX + "k", SECRET_ASCII);
    },
    run: (s) => s.get("k"),
  },
  has: {
    seed(h) {
      h.kv.set(PREFIX + "k", committed("k"));
      h.vault.set(PREFIX + "k", SECRET_ASCII);
    },
    run: (s) => s.has("k"),
  },
  delete: {
    seed(h) {
      h.kv.set(PREFIX + "k", committed("k"));
      h.vault.set(PREFIX + "k", SECRET_UNICODE);
    },
    run: (s) => s.delete("k"),
  },
  "deleteAll of three": {
    seed(h) {
      for (const [k, v] of [
        ["a", SECRET_ASCII],
        ["b", SECRET_UNICODE],
        ["c", SECRET_ASCII],
      ]) {
        h.kv.set(PREFIX + k, committed(k));
        h.vault.set(PREFIX + k, v);
      }
    },
    run: (s) => s.deleteAll(),
  },
  listMetadata: {
    seed(h) {
      h.kv.set(PREFIX + "a", committed("a"));
      h.vault.set(PREFIX + "a", SECRET_ASCII);
    },
    run: (s) => s.listMetadata(),
  },
};

const HOW = ["reject", "sync", "after", "thenable"];

async function runScenario(name, { failAt, how }) {
  const { seed, run } = SCENARIOS[name];
  const h = faultyHost({ failAt, how });
  seed(h);
  const store = new ServerCredentialStore({ vault: h.vaultHost, metadata: h.metadata, userId: USER, projectId: PROJECT });
  let error;
  let rejected = false;
  let value;
  try {
    value = await run(store);
  } catch (e) {
    rejected = true;
    error = e;
  }
  return { h, rejected, error, value };
}

test(`the scanner finds text the store does read into wasm memory (positive control; ${source})`, async () => {
  const canary = "canary-" + randomAscii(40);
  const h = faultyHost({ failAt: new Set([3]) }); // metadata.get, metadata.delete, vault.deleteSecret ✗
  h.kv.set(PREFIX + canary, committed(canary));
  const store = new ServerCredentialStore({ vault: h.vaultHost, metadata: h.metadata, userId: USER, projectId: PROJECT });
  await assert.rejects(store.delete(canary), /vault delete failed for key canary-/);
  const at = findAll(memory, Buffer.from(canary, "utf8"));
  assert.ok(at.length > 0, "the key (checked and formatted as text by the store) should be visible in wasm memory");
  assert.ok(memory.buffer.byteLength >= 65536);
});

test("secrets never appear in wasm memory: puts, gets, updates, lists, deletes", async () => {
  const h = faultyHost();
  const store = new ServerCredentialStore({ vault: h.vaultHost, metadata: h.metadata, userId: USER, projectId: PROJECT });
  for (let i = 0; i < 50; i++) {
    await store.put(`a${i}`, SECRET_ASCII, { label: "L" });
    await store.put(`u${i}`, SECRET_UNICODE);
    assert.strictEqual(await store.get(`a${i}`), SECRET_ASCII);
    assert.strictEqual(await store.get(`u${i}`), SECRET_UNICODE);
    await store.put(`a${i}`, SECRET_UNICODE, { expiresAt: new Date(FUTURE) });
    assert.strictEqual(await store.get(`a${i}`), SECRET_UNICODE);
    assert.strictEqual(await store.has(`u${i}`), true);
  }
  assert.strictEqual((await store.keys()).length, 100);
  await store.listMetadata();
  for (let i = 0; i < 25; i++) assert.strictEqual(await store.delete(`a${i}`), true);
  await store.deleteAll();
  assert.strictEqual(h.vault.size, 0);
  assertNotInMemory("after the happy paths");
});

test("no secret in any error (message, stack, cause, errors, at any depth), any row, or the console, over every fault path; nor in wasm memory after them", async () => {
  let runs = 0;
  let rejections = 0;
  const lines = await captureConsole(async () => {
    for (const name of Object.keys(SCENARIOS)) {
      const clean = await runScenario(name, { failAt: new Set(), how: "reject" });
      assert.strictEqual(clean.rejected, false, `${name} without faults must succeed`);
      const n = clean.h.calls();
      const subsets = [];
      for (let i = 1; i <= n + 1; i++) {
        subsets.push([i]);
        for (let j = i + 1; j <= n + 3; j++) subsets.push([i, j]);
      }
      subsets.push(Array.from({ length: n + 4 }, (_, i) => i + 1)); // everything fails
      for (const failAt of subsets) {
        for (const how of HOW) {
          const r = await runScenario(name, { failAt: new Set(failAt), how });
          runs += 1;
          const label = `${name}, calls ${failAt.join("+")} fail (${how})`;
          if (r.rejected) {
            rejections += 1;
            assertNoSecretIn(errorStrings(r.error), label);
          }
          assertNoSecretIn([JSON.stringify(canon([...r.h.kv]))], `${label}: metadata rows`);
        }
      }
    }
  });
  assertNoSecretIn(
    lines.flat().map((x) => (typeof x === "string" ? x : JSON.stringify(canon(x)))),
    "console output",
  );
  assert.ok(runs > 800 && rejections > 500, `too few fault paths exercised (${runs} runs, ${rejections} rejections)`);
  console.log(`secret-residue: ${runs} fault-path runs, ${rejections} rejections walked`);
  assertNotInMemory("after every fault path");
});

test("the error walker reaches nested causes and AggregateError members (self-check)", () => {
  const leak = new AggregateError([new Error("x", { cause: { detail: `…${SECRET_UNICODE}…` } })], "outer");
  const strings = errorStrings(new Error("top", { cause: leak }));
  assert.throws(() => assertNoSecretIn(strings, "planted"), /secret found/);
  assert.throws(() => assertNotInMemoryPlanted(), /found in wasm memory/);
});

/** Writes the secret into a scratch copy of memory's size and scans that (the scanner's own check). */
function assertNotInMemoryPlanted() {
  const fake = { buffer: new ArrayBuffer(4096) };
  Buffer.from(fake.buffer).set(Buffer.from(SECRET_ASCII, "utf16le"), 1000);
  const at = findAll(fake, Buffer.from(SECRET_ASCII, "utf16le"));
  assert.deepStrictEqual(at, [], `planted secret found in wasm memory at ${at}`);
}
