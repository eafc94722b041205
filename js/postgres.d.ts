/**
 * `server-credential-store-wasm/postgres`: PostgreSQL backends for Node
 * through the `pg` driver (node-postgres 8, an optional peer dependency).
 */
import type { CredentialMetadataRow, MetadataKv, SecretVault } from "./index.js";

/** The part of a pg `Pool` these classes use (a pg `Pool` or `Client` has it). */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
  end?(): Promise<void>;
}

export interface PostgresConnectOptions {
  /** A PostgreSQL URL: the object makes its own pool, and `close()` ends it. */
  readonly connectionString?: string;
  /** A pool of yours, shared and never ended by `close()`. Attach an "error" listener to it (pg's advice). */
  readonly pool?: PgQueryable;
  /** Table name, `[A-Za-z_][A-Za-z0-9_]*` (at most 63 characters), or `schema.table`; quoted, so case-sensitive. */
  readonly table?: string;
}

/**
 * A metadata KV in `<table>(key text PRIMARY KEY, value jsonb NOT NULL)`
 * (default table "credential_metadata"), with `getByPrefix` (a primary-key
 * range scan) and conditional writes. Rows are stored as JSON:
 * `undefined`-valued properties are dropped, and jsonb keeps no property
 * order, no duplicate keys and no U+0000 in strings.
 */
export declare class PostgresKvStorage<Row = CredentialMetadataRow> implements MetadataKv<Row> {
  constructor(options: PostgresConnectOptions);
  readonly pool: PgQueryable;
  readonly table: string;
  /** Creates the table if missing (key column COLLATE "C"); an existing table is used as it is. */
  init(): Promise<void>;
  get(key: string): Promise<Row | undefined>;
  put(key: string, value: Row): Promise<void>;
  putBulk(items: Iterable<{ key: string; value: Row }>): Promise<void>;
  getBulk(keys: Iterable<string>): Promise<Array<{ key: string; value: Row }>>;
  delete(key: string): Promise<void>;
  /** Ordered by key bytes; `undefined` when empty. */
  getAll(): Promise<Array<{ key: string; value: Row }> | undefined>;
  /** Entries whose key starts with `prefix` (no wildcards), ordered by key bytes; `undefined` when none. */
  getByPrefix(prefix: string): Promise<Array<{ key: string; value: Row }> | undefined>;
  deleteAll(): Promise<void>;
  size(): Promise<number>;
  /**
   * Writes only if the current row equals `expected` (jsonb equality), or,
   * with `expected` undefined, only if there is no row. `true` when written.
   */
  putIf(key: string, value: Row, expected: Row | undefined): Promise<boolean>;
  /** Deletes only if the current row equals `expected`. `true` when deleted. */
  deleteIf(key: string, expected: Row): Promise<boolean>;
  /** Ends the pool if this object made it. */
  close(): Promise<void>;
}

export interface PostgresVaultOptions extends PostgresConnectOptions {
  /** 32 bytes: encrypts every write (AES-256-GCM) and decrypts the rows written with it. */
  readonly key: Uint8Array;
  /** More 32-byte keys, only for reading rows written under them (key rotation). */
  readonly previousKeys?: readonly Uint8Array[];
}

export interface RotateKeyOptions {
  /** Rows re-encrypted per statement, 1 to 10000 (default 100). */
  readonly batchSize?: number;
}

export interface RotateKeyReport {
  /** Rows re-encrypted under the new key by this call. */
  readonly rotated: number;
  /** Ids that no key of this vault decrypts (left as they are). */
  readonly failed: string[];
  /** Rows still under another key when the call finished (written meanwhile under an old key, or failed). */
  readonly remaining: number;
}

/**
 * A SecretVault in `<table>(id text PRIMARY KEY, key_id, nonce, ciphertext,
 * created_at, updated_at)` (default table "credential_vault"): each value
 * encrypted with AES-256-GCM, a random 96-bit nonce and the id as
 * additional authenticated data; the key's id stored with each row.
 */
export declare class PostgresVault implements SecretVault {
  constructor(options: PostgresVaultOptions);
  readonly pool: PgQueryable;
  readonly table: string;
  /** The id (16 hex digits) of the key new values are encrypted with. */
  readonly keyId: string;
  init(): Promise<void>;
  /** `plaintext` must be a string (TypeError otherwise). */
  setSecret(id: string, plaintext: string): Promise<void>;
  /** `undefined` when there is no row; rejects with a generic Error when the row does not decrypt. */
  getSecret(id: string): Promise<string | undefined>;
  deleteSecret(id: string): Promise<void>;
  /** Ids starting with `prefix` (no wildcards), ordered by bytes. */
  listIds(prefix: string): Promise<string[]>;
  /** Writes with `newKey` from now on, and re-encrypts the other rows in batches. */
  rotateKey(newKey: Uint8Array, options?: RotateKeyOptions): Promise<RotateKeyReport>;
  close(): Promise<void>;
}

/** The id stored with rows written under `key`: the first 8 bytes of its SHA-256, in hex. */
export declare function keyId(key: Uint8Array): string;

/** The smallest string above every string starting with `prefix` (code-point order), if any. */
export declare function prefixSuccessor(prefix: string): string | undefined;
