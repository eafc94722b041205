// PostgreSQL backends for ServerCredentialStore on Node, through the `pg`
// driver (node-postgres 8, an optional peer dependency: install `pg` yourself).
//
//   import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";
//   const metadata = new PostgresKvStorage({ connectionString: process.env.DATABASE_URL });
//   const vault = new PostgresVault({ pool: metadata.pool, key }); // key: 32 bytes
//   await metadata.init();
//   await vault.init();
//   const store = new ServerCredentialStore({ metadata, vault, userId, projectId });
//   ...
//   await metadata.close(); // ends the pool it made; a pool passed in is left open
//
// PostgresKvStorage: a metadata KV in `<table>(key text PRIMARY KEY, value
// jsonb NOT NULL)`, the layout of workglow's own PostgreSQL KV, so an existing
// table works as it is. Beyond the IKvStorage methods the store calls it has
// `getByPrefix` (a range scan of the primary key) and conditional writes
// (`putIf`, `deleteIf`: a compare-and-set against the row a caller read).
//
// PostgresVault: a SecretVault in `<table>(id text PRIMARY KEY, key_id,
// nonce, ciphertext, created_at, updated_at)`. Every value is encrypted with
// AES-256-GCM before it leaves the process; the plaintext is never a query
// parameter, so no server log, error or table ever holds it.
//
// Every method returns a promise; a driver error (connection lost, server
// error) rejects the call with pg's own error. Each call is one statement,
// atomic on the server.
import { createRequire } from "node:module";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { prefixSuccessor } from "./sqlite-kv.mjs";
import { encode, entries } from "./json-rows.mjs";

export { prefixSuccessor };

const IDENTIFIER = "[A-Za-z_][A-Za-z0-9_]{0,62}";
const TABLE = new RegExp(`^(?:${IDENTIFIER}\\.)?${IDENTIFIER}$`);

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_BYTES = 8;

/**
 * `"name"` or `"schema"."name"`: the name must match the grammar above, so
 * nothing but letters, digits and `_` ever reaches the SQL text, and it is
 * quoted as well (a keyword works; the name is case-sensitive).
 */
function quoteTable(table, who) {
  if (typeof table !== "string" || !TABLE.test(table)) {
    throw new TypeError(`${who}: table must match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters), optionally as schema.table`);
  }
  return table
    .split(".")
    .map((part) => `"${part}"`)
    .join(".");
}

/** The pool to use: the caller's (never ended here) or a new one from the connection string. */
function connect(options, who) {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`${who}: expected an options object ({ connectionString } or { pool })`);
  }
  const { connectionString, pool } = options;
  if (pool !== undefined && connectionString !== undefined) {
    throw new TypeError(`${who}: pass either connectionString or pool, not both`);
  }
  if (pool !== undefined) {
    if (pool === null || typeof pool.query !== "function") {
      throw new TypeError(`${who}: pool must be a pg Pool (an object with query())`);
    }
    return { pool, owned: false };
  }
  // The connection string may hold a password: no message here echoes it.
  if (typeof connectionString !== "string" || connectionString === "") {
    throw new TypeError(`${who}: a connectionString (a non-empty string) or a pool is required`);
  }
  let pg;
  try {
    // Loaded only here, so passing a pool needs no resolution of `pg` from
    // this package's location.
    pg = createRequire(import.meta.url)("pg");
  } catch (e) {
    throw new Error(`${who}: connecting by connectionString needs the pg package (npm install pg)`, { cause: e });
  }
  const made = new pg.Pool({ connectionString });
  // An idle connection that the server ends (a restart, pg_terminate_backend)
  // is reported as an "error" event of the pool, which would crash the
  // process without a listener. The pool has already dropped that client and
  // the next query opens a new connection, so there is nothing to do.
  made.on("error", () => {});
  return { pool: made, owned: true };
}

/** Ends an owned pool once. */
async function endPool(state) {
  if (state.owned && !state.ended) {
    state.ended = true;
    await state.pool.end();
  }
}

/**
 * Runs `CREATE TABLE IF NOT EXISTS ...` so that several processes may run it
 * at once: two concurrent creations of one table make the loser fail with a
 * unique violation on the catalog (23505), or "already exists" for the
 * table (42P07) or its row type (42710); by then the table exists, and
 * running it again confirms that.
 */
async function createTable(pool, sql) {
  for (let attempt = 0; ; attempt++) {
    try {
      await pool.query(sql);
      return;
    } catch (e) {
      if (attempt < 3 && ["23505", "42P07", "42710"].includes(e?.code)) continue;
      throw e;
    }
  }
}

/**
 * Range scans compare keys as UTF-8 bytes (COLLATE "C"), which is code-point
 * order only when the database stores text as UTF-8 (SQL_ASCII stores the
 * client's UTF-8 bytes as they are).
 */
async function requireUtf8(pool, who) {
  const { rows } = await pool.query("SELECT current_setting('server_encoding') AS encoding");
  const encoding = rows[0]?.encoding;
  if (encoding !== "UTF8" && encoding !== "SQL_ASCII") {
    throw new Error(`${who}: the database encoding must be UTF8 (it is ${encoding})`);
  }
}

function requireString(value, who, what) {
  if (typeof value !== "string") throw new TypeError(`${who}: ${what} must be a string`);
  return value;
}

/** Lone surrogates as PostgreSQL stores them (the driver sends them as U+FFFD). */
function wellFormed(s) {
  return typeof s.toWellFormed === "function" ? s.toWellFormed() : s.replace(/\p{Surrogate}/gu, "\uFFFD");
}

/**
 * The `WHERE` clause and parameters selecting the `column` values that start
 * with `prefix`: `prefix <= column < successor` in byte order (see
 * prefixSuccessor), never LIKE, so `%`, `_` and `\` are plain characters.
 * The comparisons are made in the "C" collation whatever the column's own
 * collation is, so the answer is exact for any table; the primary key index
 * serves them when the column is COLLATE "C" (as init() creates it), or when
 * an index on `(column COLLATE "C")` exists.
 */
function prefixRange(column, prefix, who) {
  const low = wellFormed(requireString(prefix, who, "prefix"));
  const high = prefixSuccessor(low);
  return high === undefined
    ? { where: `${column} COLLATE "C" >= $1`, params: [low] }
    : { where: `${column} COLLATE "C" >= $1 AND ${column} COLLATE "C" < $2`, params: [low, high] };
}


export class PostgresKvStorage {
  #state;
  #t;
  #table;

  /**
   * @param options.connectionString a PostgreSQL URL; the storage makes (and close() ends) its own pool
   * @param options.pool a pg Pool (or anything with pg's `query`), shared and never ended here
   * @param options.table default "credential_metadata"; `name` or `schema.name`
   */
  constructor(options = {}) {
    const who = "PostgresKvStorage";
    const { table = "credential_metadata" } = options ?? {};
    this.#t = quoteTable(table, who);
    this.#table = table;
    this.#state = { ...connect(options, who), ended: false };
  }

  /** The pool (share it with a PostgresVault). */
  get pool() {
    return this.#state.pool;
  }

  /** The table name as given. */
  get table() {
    return this.#table;
  }

  /**
   * Creates the table if it is missing, with the key column in the "C"
   * collation (byte order, what getByPrefix's range scan needs). An existing
   * table is used as it is.
   */
  async init() {
    await requireUtf8(this.#state.pool, "PostgresKvStorage");
    await createTable(this.#state.pool, `CREATE TABLE IF NOT EXISTS ${this.#t} (key text COLLATE "C" PRIMARY KEY, value jsonb NOT NULL)`);
  }

  async #query(sql, params) {
    return this.#state.pool.query(sql, params);
  }

  /** The row, parsed from JSON; `undefined` when there is none. */
  async get(key) {
    requireString(key, "PostgresKvStorage.get", "key");
    const { rows } = await this.#query(`SELECT value::text AS value FROM ${this.#t} WHERE key = $1`, [key]);
    return rows.length ? JSON.parse(rows[0].value) : undefined;
  }

  async put(key, value) {
    requireString(key, "PostgresKvStorage.put", "key");
    const text = encode(value, "PostgresKvStorage.put");
    await this.#query(
      `INSERT INTO ${this.#t} (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, text],
    );
  }

  /** One statement for all items (atomic); a key given twice keeps its last value. */
  async putBulk(items) {
    const last = new Map();
    for (const { key, value } of items) {
      requireString(key, "PostgresKvStorage.putBulk", "key");
      last.delete(key);
      last.set(key, encode(value, "PostgresKvStorage.putBulk"));
    }
    if (!last.size) return;
    await this.#query(
      `INSERT INTO ${this.#t} (key, value) SELECT k, v::jsonb FROM unnest($1::text[], $2::text[]) AS u(k, v)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [[...last.keys()], [...last.values()]],
    );
  }

  /** The entries of the keys that exist, in the order asked. */
  async getBulk(keys) {
    const asked = [...keys].map((k) => requireString(k, "PostgresKvStorage.getBulk", "key"));
    if (!asked.length) return [];
    const { rows } = await this.#query(`SELECT key, value::text AS value FROM ${this.#t} WHERE key = ANY($1::text[])`, [asked]);
    const found = new Map(rows.map((r) => [r.key, r.value]));
    return asked.filter((k) => found.has(k)).map((k) => ({ key: k, value: JSON.parse(found.get(k)) }));
  }

  async delete(key) {
    requireString(key, "PostgresKvStorage.delete", "key");
    await this.#query(`DELETE FROM ${this.#t} WHERE key = $1`, [key]);
  }

  /** Every entry, in byte order of the keys; `undefined` when there is none (as InMemoryKvStorage). */
  async getAll() {
    const { rows } = await this.#query(`SELECT key, value::text AS value FROM ${this.#t} ORDER BY key COLLATE "C"`);
    return entries(rows);
  }

  /**
   * The entries whose key starts with `prefix`, in byte order of the keys;
   * `undefined` when there is none (as getAll). A range scan of the primary
   * key; `%`, `_` and `\` are plain characters.
   */
  async getByPrefix(prefix) {
    const { where, params } = prefixRange("key", prefix, "PostgresKvStorage.getByPrefix");
    const { rows } = await this.#query(
      `SELECT key, value::text AS value FROM ${this.#t} WHERE ${where} ORDER BY key COLLATE "C"`,
      params,
    );
    return entries(rows);
  }

  async deleteAll() {
    await this.#query(`DELETE FROM ${this.#t}`);
  }

  async size() {
    const { rows } = await this.#query(`SELECT count(*) AS n FROM ${this.#t}`);
    return Number(rows[0].n);
  }

  /**
   * Writes `value` under `key` only if the row there now equals `expected`
   * (jsonb equality with the row a caller read), or, when `expected` is
   * `undefined`, only if there is no row. Resolves `true` when it wrote,
   * `false` when the row was something else. Atomic against every other
   * writer of the table, in any process: of several putIf with the same
   * `expected`, at most one writes (unless they write `expected` itself).
   * Values are compared, not versions: a row changed and changed back
   * counts as unchanged.
   */
  async putIf(key, value, expected) {
    const who = "PostgresKvStorage.putIf";
    requireString(key, who, "key");
    const text = encode(value, who);
    if (expected === undefined) {
      const { rowCount } = await this.#query(
        `INSERT INTO ${this.#t} (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO NOTHING`,
        [key, text],
      );
      return rowCount === 1;
    }
    const { rowCount } = await this.#query(
      `UPDATE ${this.#t} SET value = $2::jsonb WHERE key = $1 AND value = $3::jsonb`,
      [key, text, encode(expected, who)],
    );
    return rowCount === 1;
  }

  /**
   * Deletes the row of `key` only if it equals `expected` (jsonb equality).
   * Resolves `true` when it deleted, `false` otherwise (another row, or none).
   */
  async deleteIf(key, expected) {
    const who = "PostgresKvStorage.deleteIf";
    requireString(key, who, "key");
    if (expected === undefined) throw new TypeError(`${who}: expected must be the row to compare with`);
    const { rowCount } = await this.#query(`DELETE FROM ${this.#t} WHERE key = $1 AND value = $2::jsonb`, [
      key,
      encode(expected, who),
    ]);
    return rowCount === 1;
  }

  /** Ends the pool if this storage made it (from a connection string); a pool passed in stays open. */
  async close() {
    await endPool(this.#state);
  }
}

function keyBytes(key, who, what) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new TypeError(`${who}: ${what} must be ${KEY_BYTES} bytes (a Uint8Array or Buffer)`);
  }
  // A copy: changing the caller's array later changes nothing here.
  return Buffer.from(key);
}

/** The id stored with each row: the first 8 bytes of SHA-256 of the key, in hex. */
export function keyId(key) {
  const bytes = keyBytes(key, "keyId", "key");
  return createHash("sha256").update(bytes).digest().subarray(0, KEY_ID_BYTES).toString("hex");
}

function bytes(value) {
  if (Buffer.isBuffer(value)) return value;
  // A pool whose bytea parser was replaced may hand back `\x...` text.
  return Buffer.from(String(value).replace(/^\\x/, ""), "hex");
}

/** AES-256-GCM: `{ nonce, sealed }` with sealed = ciphertext | tag; AAD = the id's UTF-8 bytes. */
function seal(key, id, plaintext) {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(id, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, sealed: body };
}

/** The plaintext bytes of a row, or `undefined` when they do not authenticate under `key`. */
function open(key, id, nonce, sealed) {
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(id, "utf8"));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

const DECRYPT_FAILED =
  "PostgresVault: cannot decrypt the secret (a key this vault does not hold, or a row altered or copied from another id)";

export class PostgresVault {
  #state;
  #t;
  #table;
  /** The key new values are encrypted with, and its id. */
  #key;
  #keyId;
  /** Every key this vault decrypts with, by id (the current one included). */
  #keys = new Map();

  /**
   * @param options.connectionString a PostgreSQL URL; the vault makes (and close() ends) its own pool
   * @param options.pool a pg Pool, shared and never ended here
   * @param options.table default "credential_vault"; `name` or `schema.name`
   * @param options.key 32 bytes (Uint8Array or Buffer): encrypts every write, decrypts its rows
   * @param options.previousKeys more 32-byte keys, for reading rows written under them (never for writing)
   */
  constructor(options = {}) {
    const who = "PostgresVault";
    const { table = "credential_vault", key, previousKeys = [] } = options ?? {};
    this.#t = quoteTable(table, who);
    this.#table = table;
    if (!Array.isArray(previousKeys)) throw new TypeError(`${who}: previousKeys must be an array of 32-byte keys`);
    const current = keyBytes(key, who, "key");
    for (const old of previousKeys) this.#adopt(keyBytes(old, who, "each of previousKeys"));
    this.#adopt(current);
    this.#key = current;
    this.#keyId = keyId(current);
    this.#state = { ...connect(options, who), ended: false };
  }

  #adopt(key) {
    this.#keys.set(keyId(key), key);
  }

  /** The pool (shared with a PostgresKvStorage, for instance). */
  get pool() {
    return this.#state.pool;
  }

  /** The table name as given. */
  get table() {
    return this.#table;
  }

  /** The id of the key new values are encrypted with (16 hex digits). */
  get keyId() {
    return this.#keyId;
  }

  /** Creates the table if it is missing (id in the "C" collation, for listIds' range scan). */
  async init() {
    await requireUtf8(this.#state.pool, "PostgresVault");
    await createTable(
      this.#state.pool,
      `CREATE TABLE IF NOT EXISTS ${this.#t} (
        id text COLLATE "C" PRIMARY KEY,
        key_id text NOT NULL,
        nonce bytea NOT NULL,
        ciphertext bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  /**
   * Encrypts `plaintext` (a string; anything else is a TypeError that does
   * not show it) under the current key with a fresh random nonce and the id
   * as additional authenticated data, and writes the row.
   */
  async setSecret(id, plaintext) {
    requireString(id, "PostgresVault.setSecret", "id");
    if (typeof plaintext !== "string") throw new TypeError("PostgresVault.setSecret: the value must be a string");
    const { nonce, sealed } = seal(this.#key, id, Buffer.from(plaintext, "utf8"));
    await this.#state.pool.query(
      `INSERT INTO ${this.#t} (id, key_id, nonce, ciphertext) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce,
         ciphertext = excluded.ciphertext, updated_at = now()`,
      [id, this.#keyId, nonce, sealed],
    );
  }

  /**
   * The value of `id`, or `undefined` when there is no row. A row that does
   * not decrypt (written under a key this vault does not hold, altered, or
   * copied from another id) rejects with one generic Error naming none of it.
   */
  async getSecret(id) {
    requireString(id, "PostgresVault.getSecret", "id");
    const { rows } = await this.#state.pool.query(`SELECT id, key_id, nonce, ciphertext FROM ${this.#t} WHERE id = $1`, [id]);
    if (!rows.length) return undefined;
    const plain = this.#open(rows[0]);
    if (plain === undefined) throw new Error(DECRYPT_FAILED);
    const text = plain.toString("utf8");
    plain.fill(0);
    return text;
  }

  /** Removes the row of `id`; resolves whether or not there was one. */
  async deleteSecret(id) {
    requireString(id, "PostgresVault.deleteSecret", "id");
    await this.#state.pool.query(`DELETE FROM ${this.#t} WHERE id = $1`, [id]);
  }

  /**
   * The ids that start with `prefix`, in byte order (an array, empty when
   * none): a range scan of the primary key, `%`, `_` and `\` plain
   * characters. For reconciliation, to find bytes no metadata row names.
   */
  async listIds(prefix) {
    const { where, params } = prefixRange("id", prefix, "PostgresVault.listIds");
    const { rows } = await this.#state.pool.query(`SELECT id FROM ${this.#t} WHERE ${where} ORDER BY id COLLATE "C"`, params);
    return rows.map((r) => r.id);
  }

  /** The plaintext bytes of a row, or undefined. The AAD is the id as the row stores it. */
  #open(row) {
    const key = this.#keys.get(row.key_id);
    return key === undefined ? undefined : open(key, row.id, bytes(row.nonce), bytes(row.ciphertext));
  }

  /**
   * Makes `newKey` the key of every new write at once (the old one stays for
   * reading), then re-encrypts every row under another key in batches of
   * `batchSize`, each batch one statement. Reads and writes go on
   * meanwhile: a row is replaced only if it still holds the bytes that were
   * read (its nonce), so a concurrent write is never undone; such a row is
   * counted in `remaining` if it is still under an old key. Run it again
   * (same key) to finish those; it is idempotent.
   *
   * Other processes learn the new key from their configuration: give them
   * `{ key: newKey, previousKeys: [oldKey] }` (readers decrypt rows of
   * either key). For no failed read at any point, first give every process
   * the new key as a read key (`{ key: oldKey, previousKeys: [newKey] }`),
   * then switch them to writing with it, then rotate.
   *
   * Resolves `{ rotated, failed, remaining }`: rows re-encrypted, ids that
   * no key of this vault decrypts (left as they are), and rows still under
   * another key when it finished.
   */
  async rotateKey(newKey, { batchSize = 100 } = {}) {
    const who = "PostgresVault.rotateKey";
    const key = keyBytes(newKey, who, "newKey");
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10000) {
      throw new TypeError(`${who}: batchSize must be an integer from 1 to 10000`);
    }
    const id = keyId(key);
    this.#adopt(key);
    this.#key = key;
    this.#keyId = id;
    const pool = this.#state.pool;
    let rotated = 0;
    const failed = [];
    let after;
    for (;;) {
      const { rows } = await pool.query(
        `SELECT id, key_id, nonce, ciphertext FROM ${this.#t}
         WHERE key_id <> $1 ${after === undefined ? "" : `AND id COLLATE "C" > $3`}
         ORDER BY id COLLATE "C" LIMIT $2`,
        after === undefined ? [id, batchSize] : [id, batchSize, after],
      );
      if (!rows.length) break;
      after = rows[rows.length - 1].id;
      const ids = [];
      const oldNonces = [];
      const nonces = [];
      const sealedAll = [];
      for (const row of rows) {
        const plain = this.#open(row);
        if (plain === undefined) {
          failed.push(row.id);
          continue;
        }
        const { nonce, sealed } = seal(key, row.id, plain);
        plain.fill(0);
        ids.push(row.id);
        oldNonces.push(bytes(row.nonce));
        nonces.push(nonce);
        sealedAll.push(sealed);
      }
      if (ids.length) {
        const { rowCount } = await pool.query(
          `UPDATE ${this.#t} AS t SET key_id = $5, nonce = u.nonce, ciphertext = u.ciphertext, updated_at = now()
           FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[]) AS u(id, old_nonce, nonce, ciphertext)
           WHERE t.id = u.id AND t.nonce = u.old_nonce`,
          [ids, oldNonces, nonces, sealedAll, id],
        );
        rotated += rowCount;
      }
      if (rows.length < batchSize) break;
    }
    const { rows } = await pool.query(`SELECT count(*) AS n FROM ${this.#t} WHERE key_id <> $1`, [id]);
    return { rotated, failed, remaining: Number(rows[0].n) };
  }

  /** Ends the pool if this vault made it (from a connection string); a pool passed in stays open. */
  async close() {
    await endPool(this.#state);
  }
}
