/**
 * server-credential-store-wasm: a Rust/WebAssembly drop-in for the
 * `ServerCredentialStore` of `@workglow/storage`. Same constructor, same
 * methods, same metadata rows, same errors.
 *
 * These declarations describe every entry (the main one, `./web` and
 * workerd's) and depend on no lib beyond ES2022: no DOM, no @types/node.
 */

/** Which failure left an orphan marker row (old markers may lack it). */
export type OrphanReason =
  | "vault-write-failed"
  | "metadata-commit-failed"
  | "vault-delete-failed";

/**
 * The row kept in the metadata KV under the key `userId/projectId/key`.
 * Rows written by the TypeScript store and by this package are
 * interchangeable. Dates are ISO-8601 strings (`Date#toISOString`).
 */
export interface CredentialMetadataRow {
  readonly userId: string;
  readonly projectId: string;
  readonly key: string;
  readonly label: string | undefined;
  readonly provider: string | undefined;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt: string | undefined;
  /** `true`: invisible to readers (in-flight new entry or orphan marker). */
  readonly pending?: boolean;
  /** Set only on orphan markers. */
  readonly orphanedAt?: string;
  /** Set only on orphan markers. */
  readonly orphanReason?: OrphanReason;
  /** Strict mode only: the versioned vault id (`<id>#<version>`) holding the bytes. */
  readonly vaultId?: string;
  /** Strict mode only: old versions whose delete failed; `reconcile()` finishes them. */
  readonly retiredVaultIds?: readonly string[];
  /** Strict mode: versions being written, named before their bytes exist. */
  readonly pendingVaultIds?: readonly string[];
  /** Strict mode: set when a delete marked the row (no version commits over it). */
  readonly deletingAt?: string;
}

/** What `listMetadata()` returns per credential: never a secret value. */
export interface CredentialMetadataInfo {
  readonly key: string;
  readonly label: string | undefined;
  readonly provider: string | undefined;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt: string | undefined;
}

/** Options of `put`, as `CredentialPutOptions` of `@workglow/util`. */
export interface CredentialPutOptions {
  readonly label?: string;
  readonly provider?: string;
  readonly expiresAt?: Date;
}

/**
 * Holds the secret bytes, addressed by `userId/projectId/key`. Methods are
 * looked up at every call and called with `this` = the vault; a returned
 * thenable or plain value is treated as `await` would treat it.
 */
export interface SecretVault {
  setSecret(id: string, plaintext: string): Promise<void>;
  getSecret(id: string): Promise<string | undefined>;
  deleteSecret(id: string): Promise<void>;
  /**
   * Optional: every vault id starting with `prefix`. Strict mode's
   * `listOrphans`/`reconcile` then also find bytes no row names (reason
   * `"unnamed-bytes"`).
   */
  listIds?(prefix: string): Promise<string[]>;
}

/**
 * The part of `IKvStorage<string, CredentialMetadataRow>` (from
 * `@workglow/storage`) that the store calls. Any IKvStorage backend, such as
 * `InMemoryKvStorage` or `FsFolderJsonKvStorage`, fits.
 */
export interface MetadataKv<Row = CredentialMetadataRow> {
  get(key: string): Promise<Row | undefined>;
  put(key: string, value: Row): Promise<void>;
  delete(key: string): Promise<void>;
  getAll(): Promise<Array<{ key: string; value: Row }> | undefined>;
  /**
   * Optional: the entries whose key starts with `prefix`. When present,
   * listMetadata, keys, deleteAll, listOrphans and reconcile use it instead
   * of `getAll()`, so they cost O(scope) instead of O(all rows).
   */
  getByPrefix?(prefix: string): Promise<Array<{ key: string; value: Row }> | undefined>;
  /**
   * Optional conditional write: writes only if the row stored now is
   * `expected`, the row `get` returned (`undefined`: only if there is none),
   * and resolves whether it wrote. With it (and `deleteIf`), strict mode is
   * linearizable per key across processes and machines.
   */
  putIf?(key: string, value: Row, expected: Row | undefined): Promise<boolean>;
  /** Optional conditional delete: only if the row stored now is `expected`. */
  deleteIf?(key: string, expected: Row): Promise<boolean>;
}

export interface ServerCredentialStoreOptions {
  readonly vault: SecretVault;
  readonly metadata: MetadataKv;
  /** 1 to 128 chars of `[A-Za-z0-9._:-]`. */
  readonly userId: string;
  /** 1 to 128 chars of `[A-Za-z0-9._:-]`. */
  readonly projectId: string;
  /**
   * Opt-in strict mode: updates write a fresh versioned vault id and flip the
   * row to it (a concurrent get never pairs old metadata with a new value),
   * and puts/deletes of one key queue behind each other across every store
   * sharing this `metadata` object in the process; across processes when the
   * KV has `putIf`/`deleteIf`. Rows gain `vaultId`, `pendingVaultIds`,
   * `retiredVaultIds` and `deletingAt`, which the TypeScript store does not
   * read: use it only when every reader is this package. A write that keeps
   * losing the race for its key's row rejects with an `Error` whose `code`
   * is `"CREDENTIAL_CONFLICT"`.
   */
  readonly strict?: boolean;
  /**
   * Opt-in deadline for every host call (KV and vault) of this store's
   * operations, in milliseconds: a call that has not settled by then fails
   * its operation with an `Error` whose `code` is
   * `"CREDENTIAL_STORE_TIMEOUT"` (it may still take effect later, as after
   * any failure whose acknowledgement was lost), and strict mode's write turn
   * is released.
   */
  readonly timeoutMs?: number;
  /**
   * Opt-in: when it aborts, every host call in flight, and every later one,
   * fails its operation with `signal.reason`.
   */
  readonly signal?: AbortSignalLike;
}

/** What the store uses of an `AbortSignal` (any AbortSignal fits; no DOM or Node types needed). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * The `code` of the errors the package makes beyond the TypeScript store's:
 * `"CREDENTIAL_STORE_BUSY"` when the wasm instance cannot hold another
 * operation or store now (the engine's table or memory limit; the call is
 * refused before it starts, nothing is written), and
 * `"CREDENTIAL_STORE_TIMEOUT"` when a host call passed `timeoutMs`.
 */
export type CredentialStoreErrorCode = "CREDENTIAL_STORE_BUSY" | "CREDENTIAL_STORE_TIMEOUT" | "CREDENTIAL_CONFLICT";

/**
 * Why `listOrphans` reports a row. `"invalid-key"`: a KV entry of the scope
 * whose id is not the prefix plus a key of the grammar (for example
 * `u/p/../../u2/p2/x`); reported, never acted on.
 */
export type OrphanFinding =
  | OrphanReason
  | "unknown"
  | "stale-pending"
  | "retired-versions"
  | "stale-versions"
  | "unnamed-bytes"
  | "invalid-key";

/** A row that needs repair: never a value. */
export interface OrphanInfo {
  readonly key: string;
  readonly reason: OrphanFinding;
  /** Set on orphan markers. */
  readonly orphanedAt: string | undefined;
  readonly updatedAt: string | undefined;
}

export interface ListOrphansOptions {
  /** A pending row without a marker older than this is a put whose process died. Default 600000 (10 minutes). */
  readonly stalePendingMs?: number;
}

export interface ReconcileOptions extends ListOrphansOptions {
  /** Report what would be repaired, change nothing. */
  readonly dryRun?: boolean;
}

export interface ReconcileReport {
  readonly dryRun: boolean;
  /** Repaired (or, in a dry run, to be repaired). */
  readonly repaired: readonly OrphanInfo[];
  /** The repair failed; the row is left in place, still discoverable. */
  readonly failed: ReadonlyArray<OrphanInfo & { readonly error: unknown }>;
  /** No longer the same orphan when its turn came (a write raced the repair). */
  readonly skipped: readonly OrphanInfo[];
  /** Entries whose id is outside the key grammar (reason `"invalid-key"`): never acted on. */
  readonly invalid: readonly OrphanInfo[];
}

/**
 * A credential store scoped to one user and project. Secret values go to the
 * vault, metadata rows to the KV. Structurally an `ICredentialStore` of
 * `@workglow/util`.
 */
export declare class ServerCredentialStore {
  /** @throws {TypeError} when userId or projectId is not a safe segment. */
  constructor(options: ServerCredentialStoreOptions);
  /** The secret, or `undefined` if absent, pending, expired or the key is invalid. */
  get(key: string): Promise<string | undefined>;
  /** Rejects with a TypeError for an invalid key. */
  put(key: string, value: string, options?: CredentialPutOptions): Promise<void>;
  /** `true` if a committed entry existed and was removed. */
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  keys(): Promise<string[]>;
  /** Removes every entry of this scope, including pending and orphaned rows. */
  deleteAll(): Promise<void>;
  listMetadata(): Promise<CredentialMetadataInfo[]>;
  /** Orphan markers and stale pending rows of this scope (beyond the TypeScript store). */
  listOrphans(options?: ListOrphansOptions): Promise<OrphanInfo[]>;
  /**
   * Repairs each orphan: the vault bytes go first, then the row, so a failure
   * leaves the orphan discoverable. Rejects only when listing fails.
   */
  reconcile(options?: ReconcileOptions): Promise<ReconcileReport>;
}

/**
 * What `init` accepts, as wasm-bindgen's generated init does: a URL or
 * string, a `Request`/`Response` (or a promise of one), wasm bytes, or a
 * compiled `WebAssembly.Module`. Kept loose so no DOM lib is required.
 */
export type InitInput = string | ArrayBuffer | ArrayBufferView | object;

/**
 * The main entry instantiates the wasm on import, so this resolves at once
 * and its argument is ignored (a browser that refuses to compile the module
 * synchronously on its main thread is the exception: there it resolves when
 * the module is ready, and a store constructed before throws an Error saying
 * to await it). The `./web` entry: await it once before constructing a
 * store; without an argument it fetches `server_credential_store_wasm_bg.wasm`
 * next to the module.
 */
export declare function init(
  moduleOrPath?: { module_or_path: InitInput | PromiseLike<InitInput> },
): Promise<void>;

/** Synchronous `init` from wasm bytes or a compiled module (`./web` entry); a no-op in the main entry. */
export declare function initSync(module: { module: ArrayBuffer | ArrayBufferView | object }): void;

export default init;
