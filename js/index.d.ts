/**
 * server-credential-store-wasm: a Rust/WebAssembly drop-in for the
 * `ServerCredentialStore` of `@workglow/storage`. Same constructor, same
 * methods, same metadata rows, same errors.
 *
 * These declarations describe every entry (node, bun, browser) and depend on
 * no lib beyond ES2022: no DOM, no @types/node.
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
}

export interface ServerCredentialStoreOptions {
  readonly vault: SecretVault;
  readonly metadata: MetadataKv;
  /** 1 to 128 chars of `[A-Za-z0-9._:-]`. */
  readonly userId: string;
  /** 1 to 128 chars of `[A-Za-z0-9._:-]`. */
  readonly projectId: string;
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
}

/**
 * What `init` accepts, as wasm-bindgen's generated init does: a URL or
 * string, a `Request`/`Response` (or a promise of one), wasm bytes, or a
 * compiled `WebAssembly.Module`. Kept loose so no DOM lib is required.
 */
export type InitInput = string | ArrayBuffer | ArrayBufferView | object;

/**
 * Browser: instantiates the wasm; await it once before constructing a store.
 * Without an argument it fetches `server_credential_store_wasm_bg.wasm` next
 * to the module. Node and Bun: a no-op (the wasm is loaded synchronously).
 */
export declare function init(
  moduleOrPath?: { module_or_path: InitInput | PromiseLike<InitInput> },
): Promise<void>;

/** Synchronous `init` from wasm bytes or a compiled module. No-op on Node and Bun. */
export declare function initSync(module: { module: ArrayBuffer | ArrayBufferView | object }): void;

export default init;
