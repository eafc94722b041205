// SqliteKvStorage and SqliteVault (js/sqlite-kv.mjs, shipped as
// server-credential-store-wasm/sqlite-kv) on better-sqlite3. Node only
// (`node --test`): bun cannot load better-sqlite3's native addon, hence the
// .node-test.mjs name, outside test.sh's *.test.mjs glob.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { InMemoryKvStorage } from "@workglow/storage";
import { ServerCredentialStore } from "server-credential-store-wasm";
import { ServerCredentialStore as OracleStore } from "../oracle/server-credential-store.mjs";
import { SqliteKvStorage, SqliteVault, prefixSuccessor } from "../../js/sqlite-kv.mjs";

const scratch = () => mkdtempSync(join(tmpdir(), "credstore-sqlite-"));
const memory = () => new Database(":memory:");
const keysOf = (entries) => (entries ?? []).map((e) => e.key);
// SQLite's BINARY collation compares UTF-8 bytes.
const utf8Order = (a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

test("round trip: get/put/delete/getAll, JSON values, undefined properties dropped", async () => {
  const kv = new SqliteKvStorage(memory());
  assert.equal(await kv.get("missing"), undefined);
  assert.equal(await kv.getAll(), undefined, "empty getAll resolves undefined");
  // ...as @workglow/storage's own backends do.
  assert.equal(await new InMemoryKvStorage().getAll(), undefined);

  await kv.put("b", { n: 1, label: undefined, nested: { ok: true }, list: [1, "x"] });
  await kv.put("a", { n: 2 });
  const row = await kv.get("b");
  assert.deepEqual(row, { n: 1, nested: { ok: true }, list: [1, "x"] });
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
  await kv.delete("a");
  await kv.delete("a"); // absent: fine
  assert.deepEqual(keysOf(await kv.getAll()), ["b"]);
  await kv.putBulk([{ key: "c", value: 1 }, { key: "d", value: "s" }]);
  assert.deepEqual(await kv.get("d"), "s");
  await kv.deleteAll();
  assert.equal(await kv.getAll(), undefined);
  await assert.rejects(kv.put("x", undefined), TypeError);
});

test("a file database: WAL, the table shape, persistence across reopen, table option", async () => {
  const file = join(scratch(), "kv.db");
  const kv = new SqliteKvStorage(file, { table: "credential_metadata" });
  await kv.put("u/p/k", { v: 1 });
  assert.equal(kv.database.pragma("journal_mode", { simple: true }), "wal");
  const sql = kv.database.prepare("SELECT sql FROM sqlite_schema WHERE name = 'credential_metadata'").get().sql;
  assert.match(sql, /\(key TEXT PRIMARY KEY, value TEXT NOT NULL\) WITHOUT ROWID/);
  kv.close();
  assert.equal(kv.database.open, false, "close() closes a database it opened");

  const db = new Database(file);
  const again = new SqliteKvStorage(db, { table: "credential_metadata" });
  assert.deepEqual(await again.get("u/p/k"), { v: 1 });
  assert.equal(await new SqliteKvStorage(db, { table: "other" }).get("u/p/k"), undefined);
  again.close();
  assert.equal(db.open, true, "close() leaves a database it was given open");
  db.close();

  assert.throws(() => new SqliteKvStorage(memory(), { table: "x; DROP TABLE y" }), TypeError);
  assert.throws(() => new SqliteKvStorage({}), TypeError);
});

test("getByPrefix: a scope is not confused with a longer one (u1/p1/ vs u1/p10/)", async () => {
  const kv = new SqliteKvStorage(memory());
  const keys = ["u1/p1/b", "u1/p10/a", "u1/p1/a", "u1/p1", "u1/p2/x", "u10/p1/a", "u1/p1/a/b", "u1/p1/", "u1/p1.x"];
  for (const key of keys) await kv.put(key, { key });
  assert.deepEqual(keysOf(await kv.getByPrefix("u1/p1/")), ["u1/p1/", "u1/p1/a", "u1/p1/a/b", "u1/p1/b"]);
  assert.deepEqual(keysOf(await kv.getByPrefix("u1/p10/")), ["u1/p10/a"]);
  assert.deepEqual(keysOf(await kv.getByPrefix("u1/")), keys.filter((k) => k.startsWith("u1/")).sort());
  assert.deepEqual(keysOf(await kv.getByPrefix("")), [...keys].sort(), "the empty prefix is everything");
  assert.equal(await kv.getByPrefix("nothing/"), undefined, "no match resolves undefined, as getAll");
  const [entry] = await kv.getByPrefix("u1/p10/");
  assert.deepEqual(entry, { key: "u1/p10/a", value: { key: "u1/p10/a" } });
});

test("getByPrefix: the successor string, for any code point", () => {
  assert.equal(prefixSuccessor("u1/p1/"), "u1/p10");
  assert.equal(prefixSuccessor("a\uFFFF"), "a\u{10000}", "U+FFFF is followed by U+10000, not by a carry");
  assert.equal(prefixSuccessor("a\u{1F600}"), "a\u{1F601}", "a surrogate pair is one code point");
  assert.equal(prefixSuccessor("a\u{10FFFF}"), "b", "trailing U+10FFFF carries");
  assert.equal(prefixSuccessor("a\u{10FFFF}\u{10FFFF}"), "b");
  assert.equal(prefixSuccessor("\uD7FF"), "\uE000", "surrogate code points are skipped");
  assert.equal(prefixSuccessor("\u{10FFFF}"), undefined);
  assert.equal(prefixSuccessor(""), undefined);
});

test("getByPrefix: unicode prefixes match a brute-force filter, in UTF-8 byte order", async () => {
  const alphabet = ["a", "/", "\u007F", "\u0080", "\u07FF", "\u0800", "\uD7FF", "\uE000", "\uFFFF", "\u{10000}", "\u{1F600}", "\u{10FFFF}"];
  let seed = 12345; // deterministic xorshift
  const rand = (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const keys = new Set();
  while (keys.size < 400) {
    let k = "";
    for (let i = 1 + rand(4); i > 0; i--) k += alphabet[rand(alphabet.length)];
    keys.add(k);
  }
  const kv = new SqliteKvStorage(memory());
  await kv.putBulk([...keys].map((key) => ({ key, value: 1 })));
  const prefixes = ["", ...alphabet, ...alphabet.flatMap((x) => alphabet.map((y) => x + y))];
  for (const prefix of prefixes) {
    const want = [...keys].filter((k) => k.startsWith(prefix)).sort(utf8Order);
    assert.deepEqual(keysOf(await kv.getByPrefix(prefix)), want, `prefix ${JSON.stringify(prefix)}`);
  }
  // getAll is in the same order.
  assert.deepEqual(keysOf(await kv.getAll()), [...keys].sort(utf8Order));
});

test("getByPrefix: a range scan of the primary key", async () => {
  const kv = new SqliteKvStorage(memory(), { table: "meta" });
  const plan = kv.database
    .prepare("EXPLAIN QUERY PLAN SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key")
    .all("u1/p1/", "u1/p10")
    .map((r) => r.detail)
    .join("; ");
  assert.match(plan, /SEARCH meta USING PRIMARY KEY \(key>\? AND key<\?\)/);
  assert.doesNotMatch(plan, /TEMP B-TREE/, "no sort step: the index gives the order");
});

test("SqliteVault: round trip in the same database; plaintext at rest, as documented", async () => {
  const db = memory();
  const kv = new SqliteKvStorage(db);
  const vault = new SqliteVault(kv.database);
  assert.equal(await vault.getSecret("u/p/k"), undefined);
  await vault.setSecret("u/p/k", "first ünïcødé 😀");
  assert.equal(await vault.getSecret("u/p/k"), "first ünïcødé 😀");
  await vault.setSecret("u/p/k", "second");
  assert.equal(await vault.getSecret("u/p/k"), "second");
  assert.equal(db.prepare("SELECT secret FROM secrets WHERE id = ?").get("u/p/k").secret, "second");
  await vault.deleteSecret("u/p/k");
  await vault.deleteSecret("u/p/k");
  assert.equal(await vault.getSecret("u/p/k"), undefined);
  assert.equal(await kv.getAll(), undefined, "the vault table is separate from the KV table");
});

/** The KV with every call counted; getAll fails the test if called. */
function spied(kv) {
  const calls = { getAll: 0, getByPrefix: [] };
  const spy = Object.create(kv);
  spy.getAll = () => {
    calls.getAll++;
    return kv.getAll();
  };
  spy.getByPrefix = (prefix) => {
    calls.getByPrefix.push(prefix);
    return kv.getByPrefix(prefix);
  };
  for (const m of ["get", "put", "delete"]) spy[m] = (...args) => kv[m](...args);
  return { spy, calls };
}

test("the store lists through getByPrefix only, never getAll", async () => {
  const db = memory();
  const kv = new SqliteKvStorage(db);
  const vault = new SqliteVault(db);
  const { spy, calls } = spied(kv);
  const store = new ServerCredentialStore({ vault, metadata: spy, userId: "u1", projectId: "p1" });
  const other = new ServerCredentialStore({ vault, metadata: spy, userId: "u1", projectId: "p10" });
  await store.put("a", "va");
  await store.put("b", "vb");
  await other.put("a", "other");
  calls.getByPrefix.length = 0;

  assert.deepEqual((await store.listMetadata()).map((m) => m.key), ["a", "b"]);
  assert.deepEqual(await store.keys(), ["a", "b"]);
  assert.deepEqual(await store.listOrphans(), []);
  assert.deepEqual(await store.reconcile({ dryRun: true }), { dryRun: true, repaired: [], failed: [], skipped: [], invalid: [] });
  await store.deleteAll();
  assert.equal(calls.getAll, 0, "getAll is never called");
  assert.deepEqual(calls.getByPrefix, Array(5).fill("u1/p1/"), "one getByPrefix per listing, with the scope prefix");
  assert.deepEqual(await store.keys(), []);
  assert.deepEqual(await other.keys(), ["a"], "deleteAll of u1/p1 leaves u1/p10 alone");
  assert.equal(await other.get("a"), "other");
});

test("a full store round trip on SQLite, orphans and reconcile included; rows readable by the TS algorithm", async () => {
  const file = join(scratch(), "store.db");
  const kv = new SqliteKvStorage(file, { table: "credential_metadata" });
  const vault = new SqliteVault(kv.database, { table: "credential_secrets" });
  const scope = { userId: "alice", projectId: "demo" };
  const store = new ServerCredentialStore({ vault, metadata: kv, ...scope });

  const expiresAt = new Date(Date.now() + 3_600_000);
  await store.put("openai", "sk-1", { label: "OpenAI", provider: "openai", expiresAt });
  await store.put("github", "gh-1");
  assert.equal(await store.get("openai"), "sk-1");
  assert.equal(await store.has("github"), true);
  const meta = await store.listMetadata();
  assert.deepEqual(meta.map((m) => m.key), ["github", "openai"], "ordered by key");
  assert.deepEqual(Object.keys(meta[1]), ["key", "label", "provider", "createdAt", "updatedAt", "expiresAt"]);
  assert.equal(meta[1].expiresAt, expiresAt.toISOString());
  assert.equal(meta[0].label, undefined);

  await store.put("openai", "sk-2"); // update keeps label and expiry
  assert.equal(await store.get("openai"), "sk-2");
  assert.equal((await store.listMetadata())[1].label, "OpenAI");

  // The TypeScript algorithm reads what this package wrote, and vice versa.
  const oracle = new OracleStore({ vault, metadata: kv, ...scope });
  assert.equal(await oracle.get("openai"), "sk-2");
  await oracle.put("from-ts", "ts-value", { provider: "x" });
  assert.equal(await store.get("from-ts"), "ts-value");

  // An expired entry is invisible and removed on read.
  await store.put("old", "o", { expiresAt: new Date(Date.now() - 1000) });
  assert.equal(await store.get("old"), undefined);
  assert.equal(await kv.get("alice/demo/old"), undefined);

  // A failed vault delete leaves an orphan marker; reconcile repairs it.
  const flaky = Object.create(vault);
  flaky.deleteSecret = () => Promise.reject(new Error("vault down"));
  const flakyStore = new ServerCredentialStore({ vault: flaky, metadata: kv, ...scope });
  await assert.rejects(flakyStore.delete("github"), /orphan marker persisted/);
  assert.equal((await kv.get("alice/demo/github")).orphanReason, "vault-delete-failed");
  const [orphan] = await store.listOrphans();
  assert.equal(orphan.key, "github");
  assert.equal(orphan.reason, "vault-delete-failed");
  const dry = await store.reconcile({ dryRun: true });
  assert.equal(dry.repaired.length, 1);
  assert.notEqual(await kv.get("alice/demo/github"), undefined, "a dry run changes nothing");
  const done = await store.reconcile();
  assert.deepEqual(done.repaired.map((o) => o.key), ["github"]);
  assert.equal(await kv.get("alice/demo/github"), undefined);
  assert.equal(await vault.getSecret("alice/demo/github"), undefined);

  assert.equal(await store.delete("openai"), true);
  assert.equal(await store.delete("openai"), false);
  await store.deleteAll();
  assert.equal(await kv.getAll(), undefined);
  assert.equal(kv.database.prepare("SELECT count(*) AS n FROM credential_secrets").get().n, 0);
  kv.close();
});

test("putIf/deleteIf: conditional on the row as read, atomic across connections; SqliteVault.listIds", async () => {
  const file = join(scratch(), "cas.db");
  const a = new SqliteKvStorage(file);
  const b = new SqliteKvStorage(file); // another connection, as another process has
  const row = { userId: "u", projectId: "p", key: "k", n: 1 };
  assert.equal(await a.putIf("u/p/k", row, undefined), true, "only if absent: absent");
  assert.equal(await b.putIf("u/p/k", { ...row, n: 9 }, undefined), false, "only if absent: present");
  const read = await b.get("u/p/k");
  assert.equal(await a.putIf("u/p/k", { ...row, n: 2 }, read), true, "as read: unchanged");
  assert.equal(await b.putIf("u/p/k", { ...row, n: 3 }, read), false, "as read: changed since");
  assert.equal((await a.get("u/p/k")).n, 2);
  assert.equal(await b.deleteIf("u/p/k", read), false);
  assert.equal(await b.deleteIf("u/p/k", await b.get("u/p/k")), true);
  assert.equal(await a.get("u/p/k"), undefined);
  const vault = new SqliteVault(file);
  for (const id of ["u/p/k#1", "u/p/k#2", "u/p2/x", "u/p/"]) await vault.setSecret(id, "s");
  assert.deepEqual(await vault.listIds("u/p/"), ["u/p/", "u/p/k#1", "u/p/k#2"]);
  // The store runs strict mode on them across two "processes".
  const stores = [a, b].map((metadata) => new ServerCredentialStore({ metadata, vault, userId: "u", projectId: "p", strict: true }));
  await Promise.all([stores[0].put("x", "one"), stores[1].put("x", "two"), stores[0].put("x", "three")]);
  const value = await stores[1].get("x");
  assert.ok(["one", "two", "three"].includes(value));
  const live = (await a.get("u/p/x")).vaultId;
  assert.equal(await vault.getSecret(live), value);
  a.close();
  b.close();
  vault.close();
});
