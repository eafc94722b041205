// The store over PostgreSQL, in strict mode: metadata rows in one table,
// encrypted secret values in another, shared by every process on every
// machine that connects. With PostgresKvStorage's conditional writes
// (putIf/deleteIf), strict mode is linearizable per key across all of them.
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
// strict: every row write is a compare-and-set (putIf/deleteIf), versions are
// named by the row before their bytes are written. Every process of the
// deployment must use strict mode (the TypeScript store cannot read its rows).
const store = new ServerCredentialStore({ metadata, vault, ...scope, strict: true, timeoutMs: 5000 });
await store.put("openai", "sk-example-value", { label: "OpenAI", provider: "openai" });

// Another process (here: another pool) sees the same credentials.
const elsewhere = new PostgresKvStorage({ connectionString: url });
const other = new ServerCredentialStore({
  metadata: elsewhere,
  vault: new PostgresVault({ pool: elsewhere.pool, key }),
  ...scope,
  strict: true,
});
console.log("get from another pool:", await other.get("openai"));
console.log("listMetadata:", (await other.listMetadata()).map((m) => `${m.key} (${m.label})`).join(", "));

// An update from the other process writes a new version, then flips the row to it.
try {
  await other.put("openai", "sk-rotated-value", { label: "OpenAI" });
} catch (e) {
  // Lost the race for the row 8 times in a row to other writers of this key:
  // nothing of this call took effect that reconcile will not clean up.
  if (e.code === "CREDENTIAL_CONFLICT") console.log("busy key, try again later");
  else throw e;
}
console.log("get after the update:", await store.get("openai"));
const ids = await vault.listIds("user-1/project-1/");
console.log("vault ids in scope:", ids.length, ids.every((id) => id.startsWith("user-1/project-1/openai")) ? "(versions of openai)" : ids);

// What the table holds: ciphertext and the key's id, no plaintext.
const { rows } = await metadata.pool.query("SELECT id, key_id, length(ciphertext) AS bytes FROM credential_vault WHERE id = $1", [ids[0]]);
console.log("vault row:", rows[0]);

// Reconcile as a periodic job (one process is enough; any may run it): rows
// and bytes left by crashed or cut-off writers older than stalePendingMs are
// repaired, and bytes no row names (found through listIds) are removed.
async function reconcileJob() {
  const report = await store.reconcile({ stalePendingMs: 10 * 60_000 });
  if (report.failed.length) console.error("reconcile: failed on", report.failed.map((f) => f.key));
  return report;
}
const timer = setInterval(() => reconcileJob().catch((e) => console.error("reconcile:", e.message)), 15 * 60_000);
timer.unref(); // never keeps the process alive
const report = await reconcileJob();
console.log("reconcile:", report.repaired.length, "repaired,", report.failed.length, "failed");

console.log("delete:", await store.delete("openai"));
console.log("orphans:", await store.listOrphans());
clearInterval(timer);
await elsewhere.close();
await metadata.close(); // ends the pool it made (the vault shares it)
