// SQLite backends for ServerCredentialStore on Node, through better-sqlite3
// (an optional peer dependency: install `better-sqlite3` yourself).
//
//   import Database from "better-sqlite3";
//   import { SqliteKvStorage, SqliteVault } from "server-credential-store-wasm/sqlite-kv";
//   const db = new Database("./credstore.db");
//   const metadata = new SqliteKvStorage(db, { table: "credential_metadata" });
//   const store = new ServerCredentialStore({ metadata, vault, userId, projectId });
//
// SqliteKvStorage is a metadata KV (the IKvStorage subset the store calls,
// plus putBulk/getBulk/deleteAll/size) with the optional `getByPrefix`
// capability, so listMetadata, keys, deleteAll, listOrphans and reconcile
// read one scope through the primary-key index instead of every row.
//
// SqliteVault keeps secret values in a table of the same database, in
// PLAINTEXT. Use it for tests, or in a deployment whose database file is
// encrypted at rest (an encrypted volume, SQLCipher, ...); otherwise use an
// encrypting vault such as FileVault (`server-credential-store-wasm/file-vault`).
//
// A database opened by file name that does not exist yet is created with
// mode 0600 (whatever the umask), and SQLite gives its -wal and -shm files
// the database file's mode: only the owner can read the rows (and, with
// SqliteVault, the plaintext secrets). An existing file keeps its mode.
//
// better-sqlite3 is synchronous; every method still returns a promise (a
// thrown error becomes a rejection), as the store's host objects do.
import { closeSync, fchmodSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { encode, entries } from "./json-rows.mjs";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const MAX_CODE_POINT = 0x10ffff;

/** Opens `source` (a better-sqlite3 Database, or a file name to open). */
function openDatabase(source, who) {
  if (typeof source === "string") {
    // Loaded only here, so passing an open Database needs no resolution from
    // this package's location.
    let Database;
    try {
      Database = createRequire(import.meta.url)("better-sqlite3");
    } catch (e) {
      throw new Error(`${who}: opening a database by file name needs better-sqlite3 (npm install better-sqlite3)`, { cause: e });
    }
    createPrivate(source);
    return { db: new Database(source), owned: true };
  }
  if (source && typeof source.prepare === "function" && typeof source.exec === "function") {
    return { db: source, owned: false };
  }
  throw new TypeError(`${who}: expected a better-sqlite3 Database or a file name`);
}

/** Creates `path` empty with mode 0600 if it is absent (not for ":memory:", "" or file: URIs). */
function createPrivate(path) {
  if (path === "" || path === ":memory:" || path.startsWith("file:")) return;
  let fd;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if (e.code === "EEXIST") return;
    throw e;
  }
  try {
    fchmodSync(fd, 0o600); // umask-independent
  } finally {
    closeSync(fd);
  }
}

function tableName(table, who) {
  if (typeof table !== "string" || !IDENTIFIER.test(table)) {
    throw new TypeError(`${who}: table must match ${IDENTIFIER}`);
  }
  // Quoted as well, so a name that is an SQL keyword still works.
  return `"${table}"`;
}

function enableWal(db, wal) {
  // An in-memory database answers "memory" and stays so; that is fine.
  if (wal !== false) db.pragma("journal_mode = WAL");
}

/**
 * The smallest string greater than every string that starts with `prefix`,
 * or `undefined` when there is none (the prefix is empty or all U+10FFFF).
 *
 * SQLite stores TEXT as UTF-8 and compares it (BINARY collation) with memcmp,
 * and UTF-8 byte order is exactly Unicode code-point order. So the keys with
 * the prefix are exactly those with `prefix <= key < successor`, where the
 * successor is the prefix with trailing U+10FFFF code points removed and the
 * last remaining code point incremented. Working on code points (not UTF-16
 * units) is what makes this right for any prefix:
 * - "…\uFFFF" becomes "…\u{10000}", which is above every "…\uFFFF…" key
 *   in UTF-8 (F0 90 80 80 > EF BF BF), where UTF-16 order would say otherwise;
 * - a trailing non-BMP character (a surrogate pair) is incremented as one
 *   code point, never split into halves;
 * - U+D7FF is followed by U+E000: surrogate code points cannot be stored
 *   (better-sqlite3 encodes a lone surrogate as U+FFFD, and the prefix is made
 *   well-formed the same way before this is called), so nothing lies between.
 * Comparing with `>=` and `<` keeps the query a range scan of the primary key.
 */
export function prefixSuccessor(prefix) {
  const points = Array.from(prefix, (ch) => ch.codePointAt(0));
  while (points.length && points[points.length - 1] === MAX_CODE_POINT) points.pop();
  if (!points.length) return undefined;
  let last = points.pop() + 1;
  if (last === 0xd800) last = 0xe000;
  points.push(last);
  return String.fromCodePoint(...points);
}

/** Lone surrogates as SQLite stores them (U+FFFD). Node 20 has toWellFormed. */
function wellFormed(s) {
  return typeof s.toWellFormed === "function" ? s.toWellFormed() : s.replace(/\p{Surrogate}/gu, "\uFFFD");
}

/** JSON text of a value; `undefined`-valued properties drop out, as in FsFolderJsonKvStorage. */

export class SqliteKvStorage {
  #db;
  #owned;
  #stmt;

  /**
   * @param source a better-sqlite3 `Database`, or a file name (":memory:" works) to open one
   * @param options.table table name, default "kv" (`[A-Za-z_][A-Za-z0-9_]*`)
   * @param options.wal set `journal_mode = WAL` (default true)
   */
  constructor(source, { table = "kv", wal = true } = {}) {
    const who = "SqliteKvStorage";
    const t = tableName(table, who);
    ({ db: this.#db, owned: this.#owned } = openDatabase(source, who));
    enableWal(this.#db, wal);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS ${t} (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`);
    const db = this.#db;
    this.#stmt = {
      get: db.prepare(`SELECT value FROM ${t} WHERE key = ?`),
      put: db.prepare(`INSERT INTO ${t} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      delete: db.prepare(`DELETE FROM ${t} WHERE key = ?`),
      all: db.prepare(`SELECT key, value FROM ${t} ORDER BY key`),
      from: db.prepare(`SELECT key, value FROM ${t} WHERE key >= ? ORDER BY key`),
      range: db.prepare(`SELECT key, value FROM ${t} WHERE key >= ? AND key < ? ORDER BY key`),
      deleteAll: db.prepare(`DELETE FROM ${t}`),
      size: db.prepare(`SELECT count(*) AS n FROM ${t}`),
      insertNew: db.prepare(`INSERT INTO ${t} (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`),
      replaceIf: db.prepare(`UPDATE ${t} SET value = ? WHERE key = ? AND value = ?`),
      deleteIf: db.prepare(`DELETE FROM ${t} WHERE key = ? AND value = ?`),
    };
  }

  /** The better-sqlite3 Database (share it with a SqliteVault). */
  get database() {
    return this.#db;
  }

  async get(key) {
    const row = this.#stmt.get.get(key);
    return row === undefined ? undefined : JSON.parse(row.value);
  }

  async put(key, value) {
    this.#stmt.put.run(key, encode(value, "SqliteKvStorage.put"));
  }

  async putBulk(items) {
    const texts = items.map(({ key, value }) => [key, encode(value, "SqliteKvStorage.putBulk")]);
    this.#db.transaction(() => {
      for (const [key, text] of texts) this.#stmt.put.run(key, text);
    })();
  }

  async getBulk(keys) {
    const found = [];
    for (const key of keys) {
      const row = this.#stmt.get.get(key);
      if (row !== undefined) found.push({ key, value: JSON.parse(row.value) });
    }
    return found;
  }

  async delete(key) {
    this.#stmt.delete.run(key);
  }

  /**
   * Conditional write (strict mode across processes): writes `value` only if
   * the row stored now is `expected`, the row `get` returned (compared as
   * stored JSON text), or, for `expected === undefined`, only if there is
   * none. Resolves whether it wrote. One statement: atomic across
   * processes on the same database.
   */
  async putIf(key, value, expected) {
    const text = encode(value, "SqliteKvStorage.putIf");
    if (expected === undefined) return this.#stmt.insertNew.run(key, text).changes === 1;
    return this.#stmt.replaceIf.run(text, key, encode(expected, "SqliteKvStorage.putIf")).changes === 1;
  }

  /** Conditional delete: only if the row stored now is `expected`. */
  async deleteIf(key, expected) {
    return this.#stmt.deleteIf.run(key, encode(expected, "SqliteKvStorage.deleteIf")).changes === 1;
  }

  /** Every entry, ordered by key; `undefined` when there is none (as InMemoryKvStorage). */
  async getAll() {
    return entries(this.#stmt.all.all());
  }

  /**
   * The entries whose key starts with `prefix`, ordered by key; `undefined`
   * when there is none (as `getAll`). A range scan of the primary key: see
   * `prefixSuccessor`.
   */
  async getByPrefix(prefix) {
    if (typeof prefix !== "string") throw new TypeError("SqliteKvStorage.getByPrefix: prefix must be a string");
    const low = wellFormed(prefix);
    const high = prefixSuccessor(low);
    return entries(high === undefined ? this.#stmt.from.all(low) : this.#stmt.range.all(low, high));
  }

  async deleteAll() {
    this.#stmt.deleteAll.run();
  }

  async size() {
    return this.#stmt.size.get().n;
  }

  /** Closes the database if this object opened it (from a file name). */
  close() {
    if (this.#owned && this.#db.open) this.#db.close();
  }
}

/**
 * A SecretVault in a table of a SQLite database: `(id TEXT PRIMARY KEY,
 * secret TEXT NOT NULL)`. PLAINTEXT at rest: for tests, and for deployments
 * whose database is encrypted at rest. Values are stored as `String(value)`,
 * as FileVault does.
 */
export class SqliteVault {
  #db;
  #owned;
  #stmt;

  /**
   * @param source a better-sqlite3 `Database` (e.g. `kv.database`), or a file name
   * @param options.table table name, default "secrets"
   * @param options.wal set `journal_mode = WAL` (default true)
   */
  constructor(source, { table = "secrets", wal = true } = {}) {
    const who = "SqliteVault";
    const t = tableName(table, who);
    ({ db: this.#db, owned: this.#owned } = openDatabase(source, who));
    enableWal(this.#db, wal);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS ${t} (id TEXT PRIMARY KEY, secret TEXT NOT NULL) WITHOUT ROWID`);
    const db = this.#db;
    this.#stmt = {
      get: db.prepare(`SELECT secret FROM ${t} WHERE id = ?`),
      set: db.prepare(`INSERT INTO ${t} (id, secret) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET secret = excluded.secret`),
      delete: db.prepare(`DELETE FROM ${t} WHERE id = ?`),
      from: db.prepare(`SELECT id FROM ${t} WHERE id >= ? ORDER BY id`),
      range: db.prepare(`SELECT id FROM ${t} WHERE id >= ? AND id < ? ORDER BY id`),
    };
  }

  get database() {
    return this.#db;
  }

  async setSecret(id, plaintext) {
    this.#stmt.set.run(id, String(plaintext));
  }

  async getSecret(id) {
    return this.#stmt.get.get(id)?.secret;
  }

  async deleteSecret(id) {
    this.#stmt.delete.run(id);
  }

  /** Every id starting with `prefix` (reconcile finds bytes no row names). */
  async listIds(prefix) {
    if (typeof prefix !== "string") throw new TypeError("SqliteVault.listIds: prefix must be a string");
    const low = wellFormed(prefix);
    const high = prefixSuccessor(low);
    return (high === undefined ? this.#stmt.from.all(low) : this.#stmt.range.all(low, high)).map((r) => r.id);
  }

  /** Closes the database if this object opened it (from a file name). */
  close() {
    if (this.#owned && this.#db.open) this.#db.close();
  }
}
