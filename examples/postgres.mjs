// The store over PostgreSQL: metadata rows in one table, encrypted secret
// values in another, shared by every process that connects.
//
//   npm install server-credential-store-wasm pg
//   DATABASE_URL=postgresql://user@host/db CREDSTORE_KEY=<64 hex digits> node examples/postgres.mjs
//
// In this repository, on a throwaway local cluster:
//   bash scripts/pg.sh run -- node examples/postgres.mjs
import { randomBytes } from "node:crypto";
import { ServerCredentialStore } from "server-credential-store-wasm";
import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";

const url = process.env.DATABASE_URL ?? "postgresql://postgres@localhost/postgres";
// The vault key: 32 bytes that every process shares, from your secret
// manager or KMS. A fresh one here when CREDSTORE_KEY is not set.
const key = process.env.CREDSTORE_KEY ? Buffer.from(process.env.CREDSTORE_KEY, "hex") : randomBytes(32);

const metadata = new PostgresKvStorage({ connectionString: url }); // table credential_metadata
const vault = new PostgresVault({ pool: metadata.pool, key }); // table credential_vault, same pool
await metadata.init(); // CREATE TABLE IF NOT EXISTS
await vault.init();

const scope = { userId: "user-1", projectId: "project-1" };
const store = new ServerCredentialStore({ metadata, vault, ...scope });
await store.put("openai", "sk-example-value", { label: "OpenAI", provider: "openai" });

// Another process (here: another pool) sees the same credentials.
const elsewhere = new PostgresKvStorage({ connectionString: url });
const other = new ServerCredentialStore({ metadata: elsewhere, vault: new PostgresVault({ pool: elsewhere.pool, key }), ...scope });
console.log("get from another pool:", await other.get("openai"));
console.log("listMetadata:", (await other.listMetadata()).map((m) => `${m.key} (${m.label})`).join(", "));
console.log("vault ids in scope:", (await vault.listIds("user-1/project-1/")).join(", "));

// What the table holds: ciphertext and the key's id, no plaintext.
const { rows } = await metadata.pool.query("SELECT id, key_id, length(ciphertext) AS bytes FROM credential_vault WHERE id = $1", ["user-1/project-1/openai"]);
console.log("vault row:", rows[0]);

console.log("delete:", await store.delete("openai"));
console.log("orphans:", await store.listOrphans());
await elsewhere.close();
await metadata.close(); // ends the pool it made (the vault shares it)
