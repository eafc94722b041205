// PostgresKvStorage and PostgresVault (js/postgres.mjs, shipped as
// server-credential-store-wasm/postgres) against a real PostgreSQL 15 server:
// a throwaway cluster of scripts/pg.sh (tests/js/helpers/pg-cluster.mjs).
// Node only (`node --test`): child processes and the pg driver's sockets.
import { after, before, test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ServerCredentialStore } from "server-credential-store-wasm";
import { PostgresKvStorage, PostgresVault, keyId, prefixSuccessor } from "server-credential-store-wasm/postgres";
import { startCluster, withParams } from "./helpers/pg-cluster.mjs";

// No test may hang the suite: each gets a minute unless it says otherwise.
const test = (name, options, fn) =>
  fn ? nodeTest(name, { timeout: 60_000, ...options }, fn) : nodeTest(name, { timeout: 60_000 }, options);

let cluster;
let admin; // a pool for setting up and inspecting tables
const pools = [];

before(() => {
  cluster = startCluster();
  admin = pool();
});

after(async () => {
  await Promise.allSettled(pools.map((p) => (p.ended ? undefined : p.end())));
  cluster?.stop();
});

/** A pool of the test's own (ended after the file). */
function pool(params = {}) {
  const p = new pg.Pool({ connectionString: withParams(cluster.url, params), max: 10 });
  p.on("error", () => {}); // idle connections ended by pg_terminate_backend
  pools.push(p);
  return p;
}

let tableCount = 0;
/** A fresh table name per use. */
const table = (base) => `${base}_${process.pid}_${++tableCount}`;

async function kvStore(base = "kv", p = admin) {
  const kv = new PostgresKvStorage({ pool: p, table: table(base) });
  await kv.init();
  return kv;
}

// Keys cannot be read back from a vault: the tests remember them.
const vaultKeys = new WeakMap();
const keyOf = (vault) => vaultKeys.get(vault);

async function vaultStore(key = randomBytes(32), { p = admin, name = table("vault"), previousKeys } = {}) {
  const vault = new PostgresVault({ pool: p, table: name, key, previousKeys });
  await vault.init();
  vaultKeys.set(vault, key);
  return vault;
}

const keysOf = (entries) => (entries ?? []).map((e) => e.key);
// COLLATE "C" on a UTF-8 database compares UTF-8 bytes.
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

test("KV round trip: get/put/delete/getAll/putBulk/getBulk/deleteAll/size; JSON rows; undefined properties dropped", async () => {
  const kv = await kvStore();
  assert.equal(await kv.get("missing"), undefined);
  assert.equal(await kv.getAll(), undefined, "an empty getAll resolves undefined, as InMemoryKvStorage does");
  assert.equal(await kv.size(), 0);

  await kv.put("b", { n: 1, label: undefined, nested: { ok: true }, list: [1, "x", null], s: "é✓😀" });
  await kv.put("a", { n: 2 });
  const row = await kv.get("b");
  assert.deepEqual(row, { n: 1, nested: { ok: true }, list: [1, "x", null], s: "é✓😀" });
  assert.equal(Object.hasOwn(row, "label"), false, "undefined-valued properties are dropped, as JSON does");
  assert.notEqual(await kv.get("b"), row, "each read is a fresh object");

  await kv.put("b", { n: 3 }); // overwrite
  assert.deepEqual(await kv.getAll(), [
    { key: "a", value: { n: 2 } },
    { key: "b", value: { n: 3 } },
  ]);
  assert.equal(await kv.size(), 2);
  assert.deepEqual(await kv.getBulk(["b", "zz", "a"]), [
    { key: "b", value: { n: 3 } },
    { key: "a", value: { n: 2 } },
  ]);
  assert.deepEqual(await kv.getBulk([]), []);
  await kv.delete("a");
  await kv.delete("a"); // absent: fine
  assert.deepEqual(keysOf(await kv.getAll()), ["b"]);
  await kv.putBulk([
    { key: "c", value: 1 },
    { key: "d", value: "s" },
    { key: "c", value: [2] }, // the last value of a key wins
  ]);
  assert.deepEqual(await kv.get("c"), [2]);
  assert.equal(await kv.get("d"), "s");
  await kv.put("n", null);
  assert.equal(await kv.get("n"), null, "a JSON null row is a row");
  await kv.deleteAll();
  assert.equal(await kv.getAll(), undefined);
  await assert.rejects(kv.put("x", undefined), TypeError);
  await assert.rejects(kv.put("x", () => 1), TypeError);
  await assert.rejects(kv.get(7), TypeError);
  await assert.rejects(kv.getByPrefix(undefined), TypeError);
});

test("init: the table layout is key text COLLATE \"C\" PRIMARY KEY, value jsonb NOT NULL; init is idempotent and safe to run concurrently", async () => {
  // Five processes' worth of pools creating the same table at once (the
  // server makes all but one of them fail unless init handles it), 8 times.
  const pools5 = Array.from({ length: 5 }, () => pool());
  let name;
  for (let round = 0; round < 8; round++) {
    name = table("layout");
    const kvs = pools5.map((p) => new PostgresKvStorage({ pool: p, table: name }));
    await Promise.all(kvs.map((kv) => kv.init()));
    await kvs[0].init();
  }
  const { rows } = await admin.query(
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, c.collname
     FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 ORDER BY a.attnum`,
    [name],
  );
  assert.deepEqual(rows, [
    { attname: "key", type: "text", attnotnull: true, collname: "C" },
    { attname: "value", type: "jsonb", attnotnull: true, collname: null },
  ]);
  const pk = await admin.query(
    `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = $1::regclass AND indisprimary`,
    [name],
  );
  assert.match(pk.rows[0].def, /USING btree \(key\)/);
});

// Keys full of the characters a LIKE or a naive successor gets wrong.
const TRICKY_KEYS = [
  "", "a", "a%", "a%b", "a_", "a_b", "ab", "aXb", "a\\", "a\\b", "a\\%", "a\\_", "a'b", "a\"b",
  "%", "_", "\\", "%%", "__", "a b", "a\tb", "A", "B", "b",
  "u1/p1/a", "u1/p1/", "u1/p10/a", "u1/p1.x", "u10/p1/a", "u1/p1/a/b",
  "é", "e\u0301", "ü", "z", "\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffef",
  "\uffff", "\uffffa", "\u{10000}", "\u{10000}a", "😀", "😀😀", "😁",
  "\u{10fffe}", "\u{10ffff}", "\u{10ffff}\u{10ffff}", "a\u{10ffff}", "a\u{10ffff}b", "a\u{10ffff}\u{10ffff}", "b\u{10ffff}",
  "ß", "ss", "Straße", "strasse", "İ", "i",
];

/** Every prefix of every key (by code point), and a few that match nothing. */
function prefixesOf(keys) {
  const set = new Set(["", "%", "_", "\\", "a%", "a_", "%a", "_b", "nothing", "\u{10ffff}", "a\u{10ffff}", "\uffff", "\ud7ff"]);
  for (const k of keys) {
    const points = Array.from(k);
    for (let i = 0; i <= points.length; i++) set.add(points.slice(0, i).join(""));
  }
  return [...set];
}

async function assertPrefixesExact(kv, keys) {
  const all = keysOf(await kv.getAll());
  assert.deepEqual(all, [...keys].sort(byteOrder), "getAll is in byte order");
  for (const prefix of prefixesOf(keys)) {
    const expected = all.filter((k) => k.startsWith(prefix));
    const got = await kv.getByPrefix(prefix);
    assert.deepEqual(keysOf(got), expected, `getByPrefix(${JSON.stringify(prefix)})`);
    if (!expected.length) assert.equal(got, undefined, "no match resolves undefined, as getAll");
    else for (const e of got) assert.deepEqual(e.value, { k: e.key }, "each entry carries its own row");
  }
}

test("getByPrefix is exact: %, _, \\, quotes, unicode, U+FFFF, U+10FFFF at the end (the getAll filter is the oracle)", async () => {
  const kv = await kvStore("prefix");
  await kv.putBulk(TRICKY_KEYS.map((k) => ({ key: k, value: { k } })));
  await assertPrefixesExact(kv, TRICKY_KEYS);
  // The successor of a prefix ending in the highest code point drops it and
  // increments the code point before.
  assert.equal(prefixSuccessor("a\u{10ffff}"), "b");
  assert.equal(prefixSuccessor("\u{10ffff}\u{10ffff}"), undefined);
  assert.equal(prefixSuccessor("a\uffff"), "a\u{10000}");
  assert.equal(prefixSuccessor("a\ud7ff"), "a\ue000");
});

test("getByPrefix is exact on an existing table in another collation (ICU), and an index on (key COLLATE \"C\") serves it", async () => {
  const name = table("icu");
  // workglow's layout in a database whose default collation is not bytewise.
  await admin.query(`CREATE TABLE "${name}" (key text COLLATE "und-x-icu" PRIMARY KEY, value jsonb NOT NULL)`);
  const kv = new PostgresKvStorage({ pool: admin, table: name });
  await kv.init(); // leaves the table as it is
  await kv.putBulk(TRICKY_KEYS.map((k) => ({ key: k, value: { k } })));
  // The table's own order is not byte order (so a range in it would be wrong).
  const natural = (await admin.query(`SELECT key FROM "${name}" ORDER BY key`)).rows.map((r) => r.key);
  assert.notDeepEqual(natural, [...TRICKY_KEYS].sort(byteOrder));
  await assertPrefixesExact(kv, TRICKY_KEYS);

  // With the index the README suggests, the scan uses it.
  await admin.query(`CREATE INDEX ON "${name}" (key COLLATE "C")`);
  const client = await admin.connect();
  try {
    await client.query("SET enable_seqscan = off");
    const plan = (await client.query(`EXPLAIN SELECT key FROM "${name}" WHERE key COLLATE "C" >= 'a' AND key COLLATE "C" < 'b'`)).rows
      .map((r) => r["QUERY PLAN"])
      .join("\n");
    assert.match(plan, /Index/, plan);
  } finally {
    client.release();
  }
  await assertPrefixesExact(kv, TRICKY_KEYS);
});

test("getByPrefix is a range scan of the primary key of a table init() made", async () => {
  const kv = await kvStore("plan");
  await kv.putBulk(Array.from({ length: 2000 }, (_, i) => ({ key: `u${i % 50}/p/k${i}`, value: { i } })));
  await admin.query(`ANALYZE "${kv.table}"`);
  const plan = (await admin.query(`EXPLAIN SELECT key FROM "${kv.table}" WHERE key COLLATE "C" >= 'u7/p/' AND key COLLATE "C" < 'u7/p0'`)).rows
    .map((r) => r["QUERY PLAN"])
    .join("\n");
  assert.match(plan, new RegExp(`Index.*${kv.table}_pkey`), plan);
  assert.equal((await kv.getByPrefix("u7/p/")).length, 40);
});

test("lone surrogates: keys and prefixes are stored and matched as U+FFFD, as the driver sends them", async () => {
  const kv = await kvStore("surrogate");
  await kv.put("x\ud800y", { v: 1 });
  assert.deepEqual(keysOf(await kv.getAll()), ["x\ufffdy"]);
  assert.deepEqual(await kv.get("x\ud800y"), { v: 1 });
  assert.deepEqual(keysOf(await kv.getByPrefix("x\udc00")), ["x\ufffdy"]);
});

test("putIf / deleteIf: compare-and-set against the row read (jsonb equality), insert-if-absent", async () => {
  const kv = await kvStore("cas");
  assert.equal(await kv.putIf("k", { v: 1, label: undefined }, undefined), true, "absent: inserted");
  assert.deepEqual(await kv.get("k"), { v: 1 });
  assert.equal(await kv.putIf("k", { v: 9 }, undefined), false, "present: insert-if-absent does nothing");
  assert.equal(await kv.putIf("k", { v: 9 }, { v: 2 }), false, "another row: nothing");
  assert.deepEqual(await kv.get("k"), { v: 1 });
  const read = await kv.get("k");
  assert.equal(await kv.putIf("k", { v: 2, n: { a: 1, b: 2 } }, read), true, "the row read: written");
  assert.deepEqual(await kv.get("k"), { v: 2, n: { a: 1, b: 2 } });
  // jsonb equality: property order and undefined-valued properties do not matter.
  assert.equal(await kv.putIf("k", { v: 3 }, { n: { b: 2, a: 1 }, x: undefined, v: 2 }), true);
  assert.equal(await kv.putIf("k", { v: 4 }, { v: 2, n: { a: 1, b: 2 } }), false, "a stale read loses");
  assert.equal(await kv.putIf("absent", { v: 1 }, { v: 1 }), false, "no row: an expected row never matches");
  assert.equal(await kv.get("absent"), undefined);

  assert.equal(await kv.deleteIf("k", { v: 2 }), false, "another row: kept");
  assert.deepEqual(await kv.get("k"), { v: 3 });
  assert.equal(await kv.deleteIf("k", { v: 3 }), true);
  assert.equal(await kv.get("k"), undefined);
  assert.equal(await kv.deleteIf("k", { v: 3 }), false, "no row: false");
  await assert.rejects(kv.deleteIf("k", undefined), TypeError);
  await assert.rejects(kv.putIf("k", undefined, undefined), TypeError);

  // Rows the store writes: strings, booleans, ISO dates, nulls.
  const row = { userId: "u", projectId: "p", key: "k", pending: true, createdAt: new Date(0).toISOString(), expiresAt: null };
  assert.equal(await kv.putIf("u/p/k", row, undefined), true);
  assert.equal(await kv.putIf("u/p/k", { ...row, pending: false }, await kv.get("u/p/k")), true);
  assert.equal(await kv.putIf("u/p/k", row, row), false, "pending: true is not pending: false");
});

test("putIf / deleteIf under concurrency: of N writers with the same expected row, exactly one wins (several pools)", async () => {
  const name = table("race");
  const kvs = [];
  for (let i = 0; i < 4; i++) kvs.push(new PostgresKvStorage({ pool: pool(), table: name }));
  await kvs[0].init();
  const N = 24;
  for (let round = 0; round < 8; round++) {
    const key = `race-${round}`;
    // Insert-if-absent.
    const inserted = await Promise.all(Array.from({ length: N }, (_, i) => kvs[i % 4].putIf(key, { w: i }, undefined)));
    assert.equal(inserted.filter(Boolean).length, 1, `round ${round}: one insert wins`);
    const first = inserted.indexOf(true);
    assert.deepEqual(await kvs[0].get(key), { w: first });
    // Compare-and-set from the same read.
    const read = await kvs[1].get(key);
    const swapped = await Promise.all(Array.from({ length: N }, (_, i) => kvs[i % 4].putIf(key, { w: first, gen: i }, read)));
    assert.equal(swapped.filter(Boolean).length, 1, `round ${round}: one compare-and-set wins`);
    assert.deepEqual(await kvs[2].get(key), { w: first, gen: swapped.indexOf(true) });
    // Conditional delete against the current row, racing writers that change it.
    const now = await kvs[3].get(key);
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => (i % 2 ? kvs[i % 4].deleteIf(key, now) : kvs[i % 4].putIf(key, { changed: i }, now))),
    );
    assert.equal(results.filter(Boolean).length, 1, `round ${round}: one conditional write wins`);
    const winner = results.indexOf(true);
    assert.deepEqual(await kvs[0].get(key), winner % 2 ? undefined : { changed: winner });
  }
});

test("SQL injection: keys, prefixes and values are parameters; table names outside the grammar are refused", async () => {
  const kv = await kvStore("inject");
  const victim = await kvStore("victim");
  await victim.put("keep", { ok: true });
  const evil = [
    `'); DROP TABLE "${victim.table}"; --`,
    `' OR '1'='1`,
    `"; DELETE FROM "${victim.table}"; --`,
    "%' OR key LIKE '%",
    "$1",
    "\\'; SELECT pg_sleep(10); --",
  ];
  for (const key of evil) {
    await kv.put(key, { evil: key });
    assert.deepEqual(await kv.get(key), { evil: key });
    assert.deepEqual(keysOf(await kv.getByPrefix(key)), [key]);
    assert.equal(await kv.putIf(key, { again: key }, { evil: key }), true);
  }
  assert.equal((await kv.getByPrefix("' OR")).length, 1);
  assert.equal(await kv.size(), evil.length);
  assert.deepEqual(await victim.get("keep"), { ok: true });
  assert.equal(await victim.size(), 1);
  for (const key of evil) await kv.deleteIf(key, { again: key });
  assert.equal(await kv.size(), 0);

  const bad = [
    `x"; DROP TABLE "${victim.table}"; --`,
    'a"b',
    "a b",
    "a-b",
    "1abc",
    "",
    "a.b.c",
    ".a",
    "a.",
    "x".repeat(64),
    "tablé",
    "a;b",
    "a\u0000b",
    null,
    42,
  ];
  for (const name of bad) {
    for (const make of [
      () => new PostgresKvStorage({ pool: admin, table: name }),
      () => new PostgresVault({ pool: admin, table: name, key: randomBytes(32) }),
    ]) {
      assert.throws(make, (e) => e instanceof TypeError && !e.message.includes("DROP"), `table ${JSON.stringify(name)}`);
    }
  }
  assert.deepEqual(await victim.get("keep"), { ok: true });

  // A schema-qualified name and a keyword work (quoted).
  await admin.query("CREATE SCHEMA IF NOT EXISTS creds");
  const qualified = new PostgresKvStorage({ pool: admin, table: `creds.${table("select")}` });
  await qualified.init();
  await qualified.put("k", { v: 1 });
  assert.deepEqual(await qualified.get("k"), { v: 1 });
  const keyword = new PostgresKvStorage({ pool: admin, table: "select" });
  await keyword.init();
  await keyword.put("k", 1);
  assert.equal(await keyword.get("k"), 1);
  await admin.query('DROP TABLE "select"');
});

test("construction: options checked, the connection string never echoed; close() ends only a pool it made", async () => {
  const secretUrl = withParams(cluster.url, { password: "hunter2-do-not-echo" });
  assert.throws(() => new PostgresKvStorage(), TypeError);
  assert.throws(() => new PostgresKvStorage({}), TypeError);
  assert.throws(() => new PostgresKvStorage({ pool: {} }), TypeError);
  assert.throws(
    () => new PostgresKvStorage({ connectionString: secretUrl, pool: admin }),
    (e) => e instanceof TypeError && !e.message.includes("hunter2"),
  );
  assert.throws(() => new PostgresVault({ pool: admin }), TypeError, "a key is required");
  for (const key of [randomBytes(31), randomBytes(33), "k".repeat(32), Array(32).fill(1), new Uint16Array(16)]) {
    assert.throws(() => new PostgresVault({ pool: admin, key }), (e) => e instanceof TypeError && /32 bytes/.test(e.message));
  }
  assert.throws(() => new PostgresVault({ pool: admin, key: randomBytes(32), previousKeys: [randomBytes(16)] }), TypeError);
  assert.throws(() => new PostgresVault({ pool: admin, key: randomBytes(32), previousKeys: randomBytes(32) }), TypeError);

  const own = new PostgresKvStorage({ connectionString: cluster.url, table: table("own") });
  await own.init();
  await own.put("k", 1);
  await own.close();
  await own.close(); // twice: fine
  assert.equal(own.pool.ended, true, "close() ended the pool it made");
  await assert.rejects(own.get("k"));

  const shared = pool();
  const kv = new PostgresKvStorage({ pool: shared, table: table("shared") });
  const vault = new PostgresVault({ pool: shared, key: randomBytes(32), table: table("sharedv") });
  await kv.init();
  await vault.init();
  await kv.close();
  await vault.close();
  assert.equal(shared.ended, false, "a pool passed in stays open");
  await kv.put("k", 2);
  assert.equal(await kv.get("k"), 2);
});

test("init refuses a database whose encoding is not UTF-8 (byte order would not be code-point order)", async () => {
  const db = `latin_${process.pid}`;
  await admin.query(`CREATE DATABASE ${db} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`);
  const u = new URL(cluster.url);
  u.pathname = `/${db}`;
  const kv = new PostgresKvStorage({ connectionString: u.toString() });
  try {
    await assert.rejects(kv.init(), /encoding must be UTF8 \(it is LATIN1\)/);
  } finally {
    await kv.close();
  }
});

const SECRET = "sk-live-Zq8TOP-SECRET-ünïcødé-😀";

/** Every column of every row of `name`, as text (bytea in hex). */
async function tableText(name) {
  const { rows } = await admin.query(`SELECT to_jsonb(t)::text AS row FROM "${name}" t`);
  return rows.map((r) => r.row).join("\n");
}

function assertNoPlaintext(text, secret, where) {
  for (const form of [secret, Buffer.from(secret).toString("hex"), Buffer.from(secret).toString("base64"), secret.slice(0, 12)]) {
    assert.equal(text.includes(form), false, `${where} holds the secret (${form.slice(0, 6)}…)`);
  }
}

test("vault: round trip, missing id, delete, listIds; the table holds no plaintext in any column", async () => {
  const vault = await vaultStore();
  assert.equal(await vault.getSecret("u/p/missing"), undefined);
  await vault.deleteSecret("u/p/missing"); // resolves
  await vault.setSecret("u/p/a", SECRET);
  await vault.setSecret("u/p/b", "");
  await vault.setSecret("u/p/c%_\\", "x".repeat(100_000));
  await vault.setSecret("u/q/a", SECRET + "2");
  assert.equal(await vault.getSecret("u/p/a"), SECRET);
  assert.equal(await vault.getSecret("u/p/b"), "", "an empty value is a value");
  assert.equal(await vault.getSecret("u/p/c%_\\"), "x".repeat(100_000));
  await vault.setSecret("u/p/a", SECRET + "-v2"); // overwrite
  assert.equal(await vault.getSecret("u/p/a"), SECRET + "-v2");
  assert.deepEqual(await vault.listIds("u/p/"), ["u/p/a", "u/p/b", "u/p/c%_\\"]);
  assert.deepEqual(await vault.listIds("u/p/c%"), ["u/p/c%_\\"]);
  assert.deepEqual(await vault.listIds("u/p/%"), []);
  assert.deepEqual(await vault.listIds("u/p_"), [], "_ is no wildcard");
  assert.deepEqual(await vault.listIds(""), ["u/p/a", "u/p/b", "u/p/c%_\\", "u/q/a"]);
  await vault.deleteSecret("u/p/b");
  assert.equal(await vault.getSecret("u/p/b"), undefined);

  const { rows } = await admin.query(`SELECT id, key_id, nonce, ciphertext, created_at, updated_at FROM "${vault.table}" ORDER BY id`);
  for (const r of rows) {
    assert.equal(r.key_id, vault.keyId);
    assert.equal(r.nonce.length, 12, "a 96-bit nonce");
    assert.ok(r.created_at instanceof Date && r.updated_at instanceof Date);
  }
  const a = rows.find((r) => r.id === "u/p/a");
  assert.equal(a.ciphertext.length, Buffer.byteLength(SECRET + "-v2") + 16, "ciphertext + 16-byte tag");
  assert.equal(new Set(rows.map((r) => r.nonce.toString("hex"))).size, rows.length, "a fresh nonce per row");
  const text = await tableText(vault.table);
  assertNoPlaintext(text, SECRET, "the vault table");
  assert.equal(text.includes("x".repeat(50)), false);

  assert.match(keyId(randomBytes(32)), /^[0-9a-f]{16}$/);
  const k = randomBytes(32);
  assert.equal(keyId(k), (await import("node:crypto")).createHash("sha256").update(k).digest("hex").slice(0, 16));
});

test("vault: a non-string value is a TypeError that does not show it; nothing is written", async () => {
  const vault = await vaultStore();
  const leaky = { toString: () => SECRET, valueOf: () => SECRET };
  for (const value of [leaky, 42, undefined, null, Buffer.from(SECRET), [SECRET]]) {
    await assert.rejects(vault.setSecret("u/p/k", value), (e) => e instanceof TypeError && !String(e.message).includes("sk-live"));
  }
  assert.deepEqual(await vault.listIds(""), []);
  await assert.rejects(vault.setSecret(7, "v"), TypeError);
});

test("vault: a row copied under another id, a tampered nonce, ciphertext or tag, an unknown key id or another key fail to decrypt, generically", async () => {
  const key = randomBytes(32);
  const vault = await vaultStore(key);
  const t = `"${vault.table}"`;
  await vault.setSecret("u/p/original", SECRET);
  await vault.setSecret("u/p/other", "other");
  const generic = (e) =>
    e instanceof Error && /cannot decrypt/.test(e.message) && !e.message.includes("sk-live") && !e.message.includes("u/p/");
  // Copied under another id (AAD = the id).
  await admin.query(`INSERT INTO ${t} (id, key_id, nonce, ciphertext) SELECT 'u/p/copy', key_id, nonce, ciphertext FROM ${t} WHERE id = 'u/p/original'`);
  await assert.rejects(vault.getSecret("u/p/copy"), generic);
  // Swapped onto an existing id.
  await admin.query(
    `UPDATE ${t} SET nonce = o.nonce, ciphertext = o.ciphertext FROM ${t} o WHERE ${t}.id = 'u/p/other' AND o.id = 'u/p/original'`,
  );
  await assert.rejects(vault.getSecret("u/p/other"), generic);
  assert.equal(await vault.getSecret("u/p/original"), SECRET, "the original still reads");
  const tamper = async (id, sql) => {
    await vault.setSecret(id, SECRET);
    await admin.query(`UPDATE ${t} SET ${sql} WHERE id = $1`, [id]);
    await assert.rejects(vault.getSecret(id), generic, sql);
  };
  await tamper("u/p/t1", "ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1)");
  await tamper("u/p/t2", "ciphertext = set_byte(ciphertext, length(ciphertext) - 1, get_byte(ciphertext, length(ciphertext) - 1) # 1)");
  await tamper("u/p/t3", "nonce = set_byte(nonce, 5, get_byte(nonce, 5) # 128)");
  // A truncated tag (4 of 16 bytes) is refused: the tag length is enforced.
  await tamper("u/p/t4", "ciphertext = substring(ciphertext from 1 for length(ciphertext) - 12)");
  await tamper("u/p/t5", "ciphertext = substring(ciphertext from 1 for 8)");
  await tamper("u/p/t6", "nonce = substring(nonce from 1 for 8)");
  await tamper("u/p/t7", "key_id = '0000000000000000'");
  // Another vault with another key reads the same table.
  const stranger = new PostgresVault({ pool: admin, table: vault.table, key: randomBytes(32) });
  await assert.rejects(stranger.getSecret("u/p/original"), generic);
  // The same key under a forged key id still fails: the key id picks the key.
  await admin.query(`UPDATE ${t} SET key_id = $1 WHERE id = 'u/p/original'`, [stranger.keyId]);
  await assert.rejects(stranger.getSecret("u/p/original"), generic);
});

test("vault: no plaintext reaches the server log or an error, even with every statement logged and a failing write", async () => {
  const p = pool({ options: "-c log_statement=all -c log_min_error_statement=error -c log_parameter_max_length=-1" });
  const vault = await vaultStore(randomBytes(32), { p });
  const marker = `${SECRET}-${randomBytes(6).toString("hex")}`;
  await vault.setSecret("u/p/logged", marker);
  assert.equal(await vault.getSecret("u/p/logged"), marker);
  // A write the server refuses (NUL in the id) with the secret in hand.
  const e = await vault.setSecret("u/p/\u0000bad", marker).then(
    () => assert.fail("a NUL id was accepted"),
    (err) => err,
  );
  assert.equal(JSON.stringify({ message: e.message, detail: e.detail, where: e.where }).includes(marker), false);
  assert.equal(String(e.stack).includes(marker), false);
  // The server log: every statement and its parameters.
  const log = readFileSync(join(cluster.dir, "server.log"), "utf8");
  assert.match(log, /INSERT INTO/, "statements are logged");
  assertNoPlaintext(log, marker, "the server log");
});

test("vault: rotateKey under concurrent reads and writes loses nothing; readers holding either key keep reading", async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const name = table("rotate");
  const N = 300;
  const ids = Array.from({ length: N }, (_, i) => `u/p/k${String(i).padStart(3, "0")}`);
  const seed = await vaultStore(oldKey, { name });
  for (let i = 0; i < N; i += 50) {
    await Promise.all(ids.slice(i, i + 50).map((id) => seed.setSecret(id, `v1-${id}`)));
  }
  let reads = 0;
  let writes = 0;
  let batches = 0;
  // The rotating vault: before each batch's update, it lets the other lanes
  // make progress, so every batch interleaves with reads and writes.
  const rotPool = pool();
  const paced = {
    async query(sql, params) {
      if (rotating && /^\s*UPDATE/.test(sql)) {
        batches++;
        const [r0, w0] = [reads, writes];
        while (reads < r0 + 4 || writes < w0 + 1) await new Promise((r) => setTimeout(r, 1));
      }
      return rotPool.query(sql, params);
    },
  };
  const vault = new PostgresVault({ pool: paced, table: name, key: oldKey });
  // Another process, already configured for the new key and still reading old rows.
  const reader = new PostgresVault({ pool: pool(), table: name, key: newKey, previousKeys: [oldKey] });
  // A process not yet given the new key, still writing with the old one.
  const writer = new PostgresVault({ pool: pool(), table: name, key: oldKey, previousKeys: [newKey] });
  const written = new Map(ids.map((id) => [id, new Set([`v1-${id}`])]));
  const last = new Map(ids.map((id) => [id, `v1-${id}`]));
  let rotating = true;
  const readErrors = [];
  const readLane = async (v) => {
    while (rotating) {
      const id = ids[Math.floor(Math.random() * N)];
      try {
        const got = await v.getSecret(id);
        if (!written.get(id).has(got)) readErrors.push(`${id}: read ${got}`);
      } catch (e) {
        readErrors.push(`${id}: ${e.message}`);
      }
      reads++;
    }
  };
  // Each write lane owns every other id, so the writes of one id are sequential.
  const writeLane = async (lane) => {
    for (let i = 0; rotating; i++) {
      const id = ids[2 * Math.floor((Math.random() * N) / 2) + lane];
      const value = `v2-${id}-${lane}-${i}`;
      written.get(id).add(value); // before the write: a read may see it as soon as it lands
      await writer.setSecret(id, value);
      last.set(id, value);
      writes++;
    }
  };
  const lanes = [readLane(vault), readLane(vault), readLane(reader), readLane(reader), writeLane(0), writeLane(1)];
  const first = await vault.rotateKey(newKey, { batchSize: 16 });
  rotating = false;
  await Promise.all(lanes);
  assert.deepEqual(readErrors, [], "every read during rotation returned a value written for that id");
  assert.ok(batches >= N / 16, `${batches} batches`);
  assert.ok(reads >= 4 * batches && writes >= batches, `reads ${reads}, writes ${writes}`);
  assert.deepEqual(first.failed, []);
  assert.ok(first.rotated > 0 && first.rotated <= N);
  // The old-key writes that landed after their row was rotated are what remains.
  const again = await vault.rotateKey(newKey, { batchSize: 16 });
  assert.equal(again.remaining, 0);
  assert.equal(first.rotated + again.rotated >= N, true);
  assert.equal(vault.keyId, keyId(newKey));
  const keyIds = (await admin.query(`SELECT DISTINCT key_id FROM "${name}"`)).rows.map((r) => r.key_id);
  assert.deepEqual(keyIds, [keyId(newKey)]);
  // Nothing lost: each id holds its last written value, readable with the new key alone.
  const onlyNew = new PostgresVault({ pool: admin, table: name, key: newKey });
  for (const id of ids) assert.equal(await onlyNew.getSecret(id), last.get(id), id);
  const onlyOld = new PostgresVault({ pool: admin, table: name, key: oldKey });
  await assert.rejects(onlyOld.getSecret(ids[0]), /cannot decrypt/);
  const third = await vault.rotateKey(newKey);
  assert.deepEqual(third, { rotated: 0, failed: [], remaining: 0 }, "idempotent");
});

test("vault: rotateKey never undoes a write that lands between its read and its update of a batch", async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const name = table("rotrace");
  const writer = await vaultStore(oldKey, { name });
  for (const id of ["a", "b", "c"]) await writer.setSecret(id, `old-${id}`);
  // The rotating vault's pool runs a concurrent write just before its first update.
  let injected = false;
  const hooked = {
    async query(sql, params) {
      if (!injected && /^\s*UPDATE/.test(sql)) {
        injected = true;
        await writer.setSecret("b", "fresh-b");
      }
      return admin.query(sql, params);
    },
  };
  const rotating = new PostgresVault({ pool: hooked, table: name, key: oldKey });
  const report = await rotating.rotateKey(newKey);
  assert.equal(injected, true);
  assert.deepEqual(report, { rotated: 2, failed: [], remaining: 1 });
  assert.equal(await rotating.getSecret("b"), "fresh-b", "the concurrent write survived");
  assert.deepEqual(await rotating.rotateKey(newKey), { rotated: 1, failed: [], remaining: 0 });
  for (const id of ["a", "b", "c"]) {
    assert.equal(await rotating.getSecret(id), id === "b" ? "fresh-b" : `old-${id}`);
  }
});

test("vault: rotateKey reports rows no key decrypts and leaves them", async () => {
  const key = randomBytes(32);
  const vault = await vaultStore(key);
  await vault.setSecret("good", "g");
  const stranger = new PostgresVault({ pool: admin, table: vault.table, key: randomBytes(32) });
  await stranger.setSecret("foreign", "f");
  const report = await vault.rotateKey(randomBytes(32), { batchSize: 1 });
  assert.deepEqual(report, { rotated: 1, failed: ["foreign"], remaining: 1 });
  assert.equal(await vault.getSecret("good"), "g");
  assert.equal(await stranger.getSecret("foreign"), "f");
  await assert.rejects(vault.rotateKey(randomBytes(32), { batchSize: 0 }), TypeError);
  await assert.rejects(vault.rotateKey(randomBytes(16)), TypeError);
});

/** The store's calls over PostgreSQL, in one mode. */
async function storeScenario(strict) {
  const kv = await kvStore(strict ? "store_strict" : "store_compat");
  const inner = await vaultStore();
  // The real vault, with one deleteSecret failure on demand.
  let failNextDelete = false;
  const vault = {
    setSecret: (id, v) => inner.setSecret(id, v),
    getSecret: (id) => inner.getSecret(id),
    async deleteSecret(id) {
      if (failNextDelete) {
        failNextDelete = false;
        throw new Error("injected: vault unreachable");
      }
      return inner.deleteSecret(id);
    },
  };
  const store = new ServerCredentialStore({ vault, metadata: kv, userId: "user-1", projectId: "proj-1", strict });
  const neighbour = new ServerCredentialStore({ vault, metadata: kv, userId: "user-1", projectId: "proj-10", strict });
  const expiresAt = new Date(Date.now() + 3_600_000);

  await store.put("openai", SECRET, { label: "OpenAI", provider: "openai", expiresAt });
  await store.put("anthropic", "sk-ant", { provider: "anthropic" });
  await neighbour.put("openai", "other-scope");
  assert.equal(await store.get("openai"), SECRET);
  assert.equal(await store.has("openai"), true);
  assert.equal(await store.get("missing"), undefined);
  assert.equal(await store.has("missing"), false);
  const listed = await store.listMetadata();
  assert.deepEqual(
    listed.map(({ key, label, provider }) => ({ key, label, provider })),
    [
      { key: "anthropic", label: undefined, provider: "anthropic" },
      { key: "openai", label: "OpenAI", provider: "openai" },
    ],
  );
  assert.equal(listed[1].expiresAt, expiresAt.toISOString());
  assert.deepEqual((await store.keys()).sort(), ["anthropic", "openai"]);

  // An update keeps label and createdAt.
  const before = (await kv.get("user-1/proj-1/openai")).createdAt;
  await store.put("openai", SECRET + "-2");
  assert.equal(await store.get("openai"), SECRET + "-2");
  const row = await kv.get("user-1/proj-1/openai");
  assert.equal(row.label, "OpenAI");
  assert.equal(row.createdAt, before);
  const ids = await inner.listIds("user-1/proj-1/");
  if (strict) {
    assert.equal(ids.length, 2, `one vault id per key: ${ids}`);
    assert.ok(ids.includes(row.vaultId), "the row names its version");
  } else {
    assert.deepEqual(ids, ["user-1/proj-1/anthropic", "user-1/proj-1/openai"]);
  }

  // A second "process" (its own pool) sees the same data.
  const other = new ServerCredentialStore({
    vault: new PostgresVault({ pool: pool(), table: inner.table, key: keyOf(inner) }),
    metadata: new PostgresKvStorage({ pool: pool(), table: kv.table }),
    userId: "user-1",
    projectId: "proj-1",
    strict,
  });
  assert.equal(await other.get("openai"), SECRET + "-2");

  // A failed vault delete leaves an orphan marker; listOrphans finds it and reconcile repairs it.
  failNextDelete = true;
  await assert.rejects(store.delete("anthropic"), (e) => !String(e.message).includes("sk-ant"));
  assert.equal(await store.get("anthropic"), undefined);
  const orphans = await store.listOrphans();
  assert.deepEqual(
    orphans.map((o) => [o.key, o.reason]),
    [["anthropic", "vault-delete-failed"]],
  );
  assert.ok((await inner.listIds("user-1/proj-1/anthropic")).length > 0, "the bytes are still there");
  const report = await store.reconcile();
  assert.equal(report.repaired.length, 1);
  assert.deepEqual(report.failed, []);
  assert.deepEqual(await store.listOrphans(), []);
  assert.deepEqual(await inner.listIds("user-1/proj-1/anthropic"), [], "reconcile removed the bytes");

  assert.equal(await store.delete("openai"), true);
  assert.equal(await store.delete("openai"), false);
  assert.equal(await store.get("openai"), undefined);
  await store.put("a", "1");
  await store.put("b", "2");
  await store.deleteAll();
  assert.deepEqual(await store.listMetadata(), []);
  assert.deepEqual(await inner.listIds("user-1/proj-1/"), [], "deleteAll left no bytes in scope");
  assert.equal(await neighbour.get("openai"), "other-scope", "another scope is untouched");
  assertNoPlaintext(await tableText(kv.table), SECRET, "the metadata table");
  assertNoPlaintext(await tableText(inner.table), "other-scope", "the vault table");
}

test("ServerCredentialStore over PostgresKvStorage + PostgresVault, compatible mode", async () => {
  await storeScenario(false);
});

test("ServerCredentialStore over PostgresKvStorage + PostgresVault, strict mode", async () => {
  await storeScenario(true);
});

test("pg_terminate_backend of the pool's connections mid-run: calls resolve or reject cleanly, and the pool recovers", async (t) => {
  const app = `victim_${process.pid}`;
  const url = withParams(cluster.url, { application_name: app });
  const kv = new PostgresKvStorage({ connectionString: url, table: table("term") });
  const vault = new PostgresVault({ pool: kv.pool, table: table("termv"), key: randomBytes(32) });
  await kv.init();
  await vault.init();
  const store = new ServerCredentialStore({ vault, metadata: kv, userId: "u", projectId: "p", strict: true });
  const terminate = async () =>
    (await admin.query("SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1", [app])).rows[0].n;

  let ok = 0;
  const rejected = [];
  let running = true;
  const lane = async (l) => {
    for (let i = 0; running; i++) {
      const key = `k${l}-${i % 5}`;
      const call = [() => store.put(key, `v-${i}`), () => store.get(key), () => store.has(key), () => store.delete(key), () => store.listMetadata()][i % 5];
      let timer;
      const outcome = await Promise.race([
        call().then(
          () => "ok",
          (e) => e,
        ),
        new Promise((r) => (timer = setTimeout(() => r("hung"), 10_000))),
      ]);
      clearTimeout(timer);
      if (outcome === "ok") ok++;
      else rejected.push(outcome);
    }
  };
  const lanes = Array.from({ length: 6 }, (_, l) => lane(l));
  let killed = 0;
  for (let round = 0; round < 6; round++) {
    await new Promise((r) => setTimeout(r, 150));
    killed += Number(await terminate());
  }
  // Idle connections killed too: the pool's "error" event must not crash the process.
  running = false;
  await Promise.all(lanes);
  killed += Number(await terminate());
  await new Promise((r) => setTimeout(r, 200));
  t.diagnostic(`${ok} calls resolved, ${rejected.length} rejected, ${killed} connections terminated`);
  assert.ok(killed > 0, "connections were terminated");
  assert.ok(rejected.length > 0, "some calls were cut mid-flight");
  assert.ok(ok > 0, "calls went through");
  for (const e of rejected) {
    assert.notEqual(e, "hung", "no call hangs");
    assert.ok(e instanceof Error, `a rejection is an Error: ${e}`);
    assert.equal(String(e.message).includes("v-"), false, "no value in a rejection");
  }
  // Recovered: every call succeeds now.
  for (let i = 0; i < 20; i++) {
    await store.put(`after-${i}`, `value-${i}`);
    assert.equal(await store.get(`after-${i}`), `value-${i}`);
  }
  assert.ok((await kv.getByPrefix("u/p/after-")).length === 20);
  await kv.close();
});

test("the npm pack tarball, installed with pg in a scratch project, serves the postgres entry", { timeout: 120_000 }, async () => {
  const pkgDir = fileURLToPath(new URL("../../pkg/", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "scs-pg-pack-"));
  try {
    const [{ filename, files }] = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--pack-destination", dir, pkgDir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
    );
    const shipped = files.map((f) => f.path);
    assert.ok(shipped.includes("postgres.mjs") && shipped.includes("postgres.d.ts"), "the tarball ships the entry");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
    const pgVersion = JSON.parse(readFileSync(new URL("../../node_modules/pg/package.json", import.meta.url), "utf8")).version;
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", join(dir, filename), `pg@${pgVersion}`], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
    });
    mkdirSync(join(dir, "src"));
    writeFileSync(
      join(dir, "src", "check.mjs"),
      `import { ServerCredentialStore } from "server-credential-store-wasm";
       import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";
       import { randomBytes } from "node:crypto";
       const metadata = new PostgresKvStorage({ connectionString: process.argv[2], table: "packed_kv" });
       const vault = new PostgresVault({ pool: metadata.pool, table: "packed_vault", key: randomBytes(32) });
       await metadata.init(); await vault.init();
       const store = new ServerCredentialStore({ metadata, vault, userId: "u", projectId: "p", strict: true });
       await store.put("k", "packed-value");
       console.log(await store.get("k"), (await vault.listIds("u/p/")).length);
       await metadata.close();`,
    );
    const out = execFileSync(process.execPath, ["src/check.mjs", cluster.url], { cwd: dir, encoding: "utf8" }).trim();
    assert.equal(out, "packed-value 1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("examples/postgres.mjs (the README's example) runs to the end against the server", () => {
  const example = fileURLToPath(new URL("../../examples/postgres.mjs", import.meta.url));
  const out = execFileSync(process.execPath, [example], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: cluster.url, CREDSTORE_KEY: randomBytes(32).toString("hex") },
  });
  assert.match(out, /^get from another pool: sk-example-value$/m);
  assert.match(out, /^listMetadata: openai \(OpenAI\)$/m);
  assert.match(out, /^get after the update: sk-rotated-value$/m);
  // Strict mode: one version of the key left after the update.
  assert.match(out, /^vault ids in scope: 1 \(versions of openai\)$/m);
  assert.match(out, /id: 'user-1\/project-1\/openai#[A-Za-z0-9-]+'/);
  assert.match(out, /^reconcile: 0 repaired, 0 failed$/m);
  assert.match(out, /key_id: '[0-9a-f]{16}'/);
  assert.match(out, /^delete: true$/m);
  assert.match(out, /^orphans: \[\]$/m);
});

// scripts/pg.sh itself: the wrapper always cleans up, and a killed run's
// cluster never gets in the way of the next.
const pgScript = fileURLToPath(new URL("../../scripts/pg.sh", import.meta.url));
const clusterParent = process.env.PG_TMP || "/tmp";
const clusterDirs = () =>
  readdirSync(clusterParent)
    .filter((n) => n.startsWith("credstore-pg."))
    .map((n) => join(clusterParent, n));
/** Whether `pid` runs (a zombie, ended but not yet reaped, does not). */
const running = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};
const postmasterPid = (dir) => Number(readFileSync(join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
const postmasterAlive = (dir) => {
  try {
    return running(postmasterPid(dir));
  } catch {
    return false;
  }
};

test("pg.sh run: exports PGURL/DATABASE_URL to the command, returns its status and removes the cluster even when it fails", () => {
  const r = spawnSync("bash", [pgScript, "run", "--", "bash", "-c", 'psql "$DATABASE_URL" -Atc "select 40 + 2" && echo "dir=$PG_DIR" && test "$PGURL" = "$DATABASE_URL" && exit 7'], {
    encoding: "utf8",
    env: { ...process.env, PGURL: "", PG_DIR: "" },
  });
  assert.equal(r.status, 7, r.stderr);
  assert.match(r.stdout, /^42$/m);
  const dir = /^dir=(.*)$/m.exec(r.stdout)[1];
  assert.equal(existsSync(dir), false, "the cluster directory is gone");
});

test("pg.sh: a cluster whose run was killed (SIGKILL) is removed by the next start, which works", async () => {
  const scratch = mkdtempSync(join(tmpdir(), "scs-pgsh-"));
  const sleepPid = join(scratch, "pid");
  const child = spawn("bash", [pgScript, "run", "--", "bash", "-c", `echo $$ > ${sleepPid}; exec sleep 60`], {
    stdio: "ignore",
    env: { ...process.env, PGURL: "", PG_DIR: "" },
  });
  // Wait for its cluster (the one owned by the wrapper) and its command.
  let dir;
  for (let i = 0; i < 200 && !(dir && existsSync(sleepPid)); i++) {
    await new Promise((r) => setTimeout(r, 50));
    dir = clusterDirs().find((d) => {
      try {
        return readFileSync(join(d, "owner"), "utf8").startsWith(`${child.pid} `) && postmasterAlive(d);
      } catch {
        return false;
      }
    });
  }
  assert.ok(dir, "the wrapper started a cluster");
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  assert.equal(existsSync(dir), true, "a SIGKILLed wrapper cannot clean up");
  const pid = postmasterPid(dir);

  const next = spawnSync("bash", [pgScript, "run", "--", "psql", "-Atc", "select 1"], { encoding: "utf8", env: { ...process.env, PGURL: "", PG_DIR: "" } });
  assert.equal(next.status, 0, next.stderr);
  assert.match(next.stderr, /removing a stale cluster/);
  assert.equal(existsSync(dir), false, "the stale cluster was removed");
  for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(running(pid), false, "its server was stopped");
  // The orphaned `sleep 60` (its wrapper is gone) is ours to end.
  process.kill(Number(readFileSync(sleepPid, "utf8")), "SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
});
