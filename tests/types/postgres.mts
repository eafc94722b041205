// The postgres entry's declarations on their own (tsconfig.pkg.json): the
// backends fit the store's host types, and their extra methods type-check.
import { ServerCredentialStore } from "server-credential-store-wasm";
import type { MetadataKv, SecretVault } from "server-credential-store-wasm";
import { PostgresKvStorage, PostgresVault, keyId, prefixSuccessor } from "server-credential-store-wasm/postgres";
import type { PgQueryable, RotateKeyReport } from "server-credential-store-wasm/postgres";

declare const pool: PgQueryable;
const metadata = new PostgresKvStorage({ connectionString: "postgresql://localhost/db", table: "creds.metadata" });
const key = new Uint8Array(32);
const vault = new PostgresVault({ pool: metadata.pool, key, previousKeys: [new Uint8Array(32)] });
const shared = new PostgresKvStorage({ pool });
await metadata.init();
await vault.init();
const kv: MetadataKv = metadata;
const sv: SecretVault = vault;
const store = new ServerCredentialStore({ metadata: kv, vault: sv, userId: "u", projectId: "p", strict: true });
const won: boolean = await shared.putIf("u/p/k", (await shared.get("u/p/k"))!, undefined);
const gone: boolean = await shared.deleteIf("u/p/k", { userId: "u", projectId: "p", key: "k", label: undefined, provider: undefined, createdAt: "", updatedAt: "", expiresAt: undefined });
const ids: string[] = await vault.listIds("u/p/");
const report: RotateKeyReport = await vault.rotateKey(new Uint8Array(32), { batchSize: 50 });
const id: string = keyId(key) + vault.keyId;
const next: string | undefined = prefixSuccessor("u/p/");
await metadata.close();
// @ts-expect-error: setSecret takes strings only
await vault.setSecret("u/p/k", 42);
export { store, won, gone, ids, report, id, next };
