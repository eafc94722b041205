// Quickstart: `npm start` (or `node examples/quickstart.mjs` after a build).
//
// Metadata rows go to JSON files through @workglow/storage's
// FsFolderJsonKvStorage; secret values go to the AES-256-GCM FileVault. Both
// live under ./.credstore/. Secret values are never printed, except one
// masked value to show the round trip.
import { FsFolderJsonKvStorage } from "@workglow/storage";
import { ServerCredentialStore } from "server-credential-store-wasm";
import { FileVault } from "server-credential-store-wasm/file-vault";

const ROOT = "./.credstore";
const scope = { userId: "alice", projectId: "demo" };

const vault = await FileVault.open({ dir: `${ROOT}/vault`, keyFile: `${ROOT}/vault.key` });
const metadata = new FsFolderJsonKvStorage(`${ROOT}/metadata`);
const store = new ServerCredentialStore({ vault, metadata, ...scope });

const step = (title) => console.log(`\n== ${title}`);
const mask = (s) => (s === undefined ? "undefined" : `${s.slice(0, 3)}${"*".repeat(Math.max(0, s.length - 3))}`);
const table = (rows, cols) => {
  if (!rows.length) return console.log("  (none)");
  const cell = (v) => (v === undefined ? "-" : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals) => ("  " + vals.map((v, i) => v.padEnd(width[i])).join("  ")).trimEnd();
  console.log(line(cols));
  console.log(line(width.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
};
const fields = (obj) => {
  const w = Math.max(...Object.keys(obj).map((k) => k.length));
  for (const [k, v] of Object.entries(obj)) console.log(`  ${k.padEnd(w)}  ${v === undefined ? "-" : v}`);
};

console.log(`scope ${scope.userId}/${scope.projectId}; files under ${ROOT}/`);
// Start from an empty scope so every run prints the same story.
await store.deleteAll();

step("put two credentials (values go to the encrypted vault)");
const openaiKey = `sk-demo-${Math.random().toString(36).slice(2, 12)}`;
await store.put("openai", openaiKey, { label: "OpenAI production", provider: "openai" });
await store.put("anthropic", "sk-ant-demo-value", { label: "Claude", provider: "anthropic" });
console.log("  ok");

step("get round trip");
const got = await store.get("openai");
console.log(`  get("openai") = ${mask(got)}   (matches what was put: ${got === openaiKey})`);

step("listMetadata (never includes values)");
table(await store.listMetadata(), ["key", "label", "provider", "createdAt", "expiresAt"]);

step("expiry: a credential whose expiresAt has passed");
await store.put("temp-token", "short-lived", { provider: "github", expiresAt: new Date(Date.now() - 1000) });
console.log(`  has("temp-token") = ${await store.has("temp-token")}`);
console.log(`  get("temp-token") = ${await store.get("temp-token")}`);
console.log(`  metadata row after get: ${(await metadata.get("alice/demo/temp-token")) ? "still there" : "removed"}`);

step("delete");
console.log(`  delete("anthropic") = ${await store.delete("anthropic")}`);
console.log(`  delete("anthropic") again = ${await store.delete("anthropic")}`);
console.log(`  keys() = ${JSON.stringify(await store.keys())}`);

step("failure injection: the vault's deleteSecret rejects once");
let failures = 1;
const flakyVault = {
  setSecret: (id, value) => vault.setSecret(id, value),
  getSecret: (id) => vault.getSecret(id),
  deleteSecret: (id) =>
    failures-- > 0 ? Promise.reject(new Error("simulated vault outage")) : vault.deleteSecret(id),
};
const flakyStore = new ServerCredentialStore({ vault: flakyVault, metadata, ...scope });
try {
  await flakyStore.delete("openai");
} catch (e) {
  console.log(`  rejected: ${e.message}`);
  console.log(`  cause:    ${e.cause?.message}`);
}
console.log("  the orphan marker row left in the metadata KV, so an operator can reconcile:");
fields(await metadata.get("alice/demo/openai"));
console.log(`  readers do not see it: get = ${await store.get("openai")}, keys() = ${JSON.stringify(await store.keys())}`);
console.log(`  the secret is still in the vault: ${(await vault.getSecret("alice/demo/openai")) !== undefined}`);

step("deleteAll clears the scope, orphan markers included");
await store.deleteAll();
console.log(`  marker row: ${(await metadata.get("alice/demo/openai")) ? "still there" : "removed"}`);
console.log(`  vault copy: ${(await vault.getSecret("alice/demo/openai")) === undefined ? "removed" : "still there"}`);
