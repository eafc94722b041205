/**
 * `server-credential-store-wasm/sqlite-kv`: SQLite backends for Node through
 * better-sqlite3 (an optional peer dependency).
 */
import type { CredentialMetadataRow, MetadataKv, SecretVault } from "./index.js";

/** The part of a better-sqlite3 `Database` these classes use. */
export interface SqliteDatabase {
  prepare(sql: string): unknown;
  exec(sql: string): unknown;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction(fn: (...args: any[]) => unknown): (...args: any[]) => unknown;
  close(): unknown;
  readonly open: boolean;
}

export interface SqliteTableOptions {
  /** Table name, `[A-Za-z_][A-Za-z0-9_]*`. */
  readonly table?: string;
  /** Set `journal_mode = WAL` (default true). */
  readonly wal?: boolean;
}

/**
 * A metadata KV in `<table>(key TEXT PRIMARY KEY, value TEXT NOT NULL)
 * WITHOUT ROWID` (default table "kv"), values as JSON, with the optional
 * `getByPrefix` capability (a primary-key range scan).
 */
export declare class SqliteKvStorage<Row = CredentialMetadataRow> implements MetadataKv<Row> {
  /** @param source a better-sqlite3 Database, or a file name to open. */
  constructor(source: SqliteDatabase | string, options?: SqliteTableOptions);
  readonly database: SqliteDatabase;
  get(key: string): Promise<Row | undefined>;
  put(key: string, value: Row): Promise<void>;
  putBulk(items: ReadonlyArray<{ key: string; value: Row }>): Promise<void>;
  getBulk(keys: readonly string[]): Promise<Array<{ key: string; value: Row }>>;
  delete(key: string): Promise<void>;
  /** Ordered by key; `undefined` when empty. */
  getAll(): Promise<Array<{ key: string; value: Row }> | undefined>;
  /** Entries whose key starts with `prefix`, ordered by key; `undefined` when none. */
  getByPrefix(prefix: string): Promise<Array<{ key: string; value: Row }> | undefined>;
  /** Writes only if the stored row is `expected` (as `get` returned it; `undefined`: only if none). */
  putIf(key: string, value: Row, expected: Row | undefined): Promise<boolean>;
  /** Deletes only if the stored row is `expected`. */
  deleteIf(key: string, expected: Row): Promise<boolean>;
  deleteAll(): Promise<void>;
  size(): Promise<number>;
  /** Closes the database if this object opened it from a file name. */
  close(): void;
}

/**
 * A SecretVault in `<table>(id TEXT PRIMARY KEY, secret TEXT NOT NULL)`
 * (default table "secrets"). PLAINTEXT at rest: for tests and for databases
 * encrypted at rest.
 */
export declare class SqliteVault implements SecretVault {
  constructor(source: SqliteDatabase | string, options?: SqliteTableOptions);
  readonly database: SqliteDatabase;
  setSecret(id: string, plaintext: string): Promise<void>;
  getSecret(id: string): Promise<string | undefined>;
  deleteSecret(id: string): Promise<void>;
  /** Every id starting with `prefix`. */
  listIds(prefix: string): Promise<string[]>;
  close(): void;
}

/** The smallest string above every string starting with `prefix` (code-point order), if any. */
export declare function prefixSuccessor(prefix: string): string | undefined;
