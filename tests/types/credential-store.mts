// Compiled with `tsc --noEmit -p tests/types` (strict). Fails to compile if the
// declarations drift from what users of the TypeScript store write.
import { ServerCredentialStore } from "server-credential-store-wasm";
import type {
  CredentialMetadataInfo,
  CredentialMetadataRow,
  MetadataKv,
  OrphanReason,
  SecretVault,
  ServerCredentialStoreOptions,
} from "server-credential-store-wasm";
import init, { initSync } from "server-credential-store-wasm";
import { InMemoryKvStorage, type IKvStorage } from "@workglow/storage";
import type { CredentialPutOptions, ICredentialStore } from "@workglow/util";

class MapVault implements SecretVault {
  readonly #secrets = new Map<string, string>();
  async setSecret(id: string, plaintext: string): Promise<void> {
    this.#secrets.set(id, plaintext);
  }
  async getSecret(id: string): Promise<string | undefined> {
    return this.#secrets.get(id);
  }
  async deleteSecret(id: string): Promise<void> {
    this.#secrets.delete(id);
  }
}

// The store itself is an ICredentialStore...
const store: ICredentialStore = new ServerCredentialStore({
  vault: new MapVault(),
  metadata: new InMemoryKvStorage(),
  userId: "user-1",
  projectId: "project-1",
});

// ...and a class can delegate to it and declare `implements ICredentialStore`.
class ScopedCredentials implements ICredentialStore {
  readonly #inner: ServerCredentialStore;
  constructor(metadata: IKvStorage<string, CredentialMetadataRow>, vault: SecretVault) {
    const options: ServerCredentialStoreOptions = { vault, metadata, userId: "u", projectId: "p" };
    this.#inner = new ServerCredentialStore(options);
  }
  get(key: string): Promise<string | undefined> {
    return this.#inner.get(key);
  }
  put(key: string, value: string, options?: CredentialPutOptions): Promise<void> {
    return this.#inner.put(key, value, options);
  }
  delete(key: string): Promise<boolean> {
    return this.#inner.delete(key);
  }
  has(key: string): Promise<boolean> {
    return this.#inner.has(key);
  }
  keys(): Promise<readonly string[]> {
    return this.#inner.keys();
  }
  deleteAll(): Promise<void> {
    return this.#inner.deleteAll();
  }
  listMetadata(): Promise<CredentialMetadataInfo[]> {
    return this.#inner.listMetadata();
  }
}

export async function demo(): Promise<void> {
  await init();
  initSync({ module: new Uint8Array(0) });
  const scoped = new ScopedCredentials(new InMemoryKvStorage(), new MapVault());
  await scoped.put("k", "v", { label: "L", provider: "P", expiresAt: new Date() });
  const value: string | undefined = await store.get("k");
  const existed: boolean = await store.delete("k");
  const keys: readonly string[] = await store.keys();
  const infos = await scoped.listMetadata();
  const created: string = infos[0]!.createdAt;
  const expires: string | undefined = infos[0]!.expiresAt;
  void [value, existed, keys, created, expires];

  // A typed metadata KV accepts rows, including orphan markers.
  const kv: MetadataKv = new InMemoryKvStorage();
  const reason: OrphanReason = "vault-delete-failed";
  const row: CredentialMetadataRow = {
    userId: "u", projectId: "p", key: "k", label: undefined, provider: undefined,
    createdAt: "2025-01-01T00:00:00.000Z", updatedAt: "2025-01-01T00:00:00.000Z",
    expiresAt: undefined, pending: true, orphanedAt: "2025-01-02T00:00:00.000Z", orphanReason: reason,
  };
  await kv.put("u/p/k", row);
}

// Deadlines: a DOM or Node AbortSignal fits `signal`.
const controller = new AbortController();
new ServerCredentialStore({
  vault: new MapVault(),
  metadata: new InMemoryKvStorage(),
  userId: "u",
  projectId: "p",
  strict: true,
  timeoutMs: 5000,
  signal: controller.signal,
});
// @ts-expect-error: timeoutMs is a number
new ServerCredentialStore({ vault: new MapVault(), metadata: new InMemoryKvStorage(), userId: "u", projectId: "p", timeoutMs: "5s" });

// @ts-expect-error: the constructor requires options
new ServerCredentialStore();
// @ts-expect-error: put requires a value
void store.put("k");
// @ts-expect-error: no free() on the public class
new ServerCredentialStore({ vault: new MapVault(), metadata: new InMemoryKvStorage(), userId: "u", projectId: "p" }).free();
