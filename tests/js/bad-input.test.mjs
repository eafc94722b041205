// Runs the bad-input catalogue (bad-input-catalogue.mjs) against the package.
// Every class is followed by a full round trip on the SAME store instance:
// a wasm trap would leave the instance unusable, so this is where it shows.
import { test, assert } from "./helpers/harness.mjs";
import { ServerCredentialStore } from "./helpers/impl.mjs";
import { createHost } from "./helpers/fakes.mjs";
import { CATALOGUE, USER, PROJECT, id } from "./bad-input-catalogue.mjs";

const MIN_CLASSES = 40;

function snapshot(o) {
  return Object.getOwnPropertyDescriptors(o);
}
function restore(o, saved) {
  for (const k of Reflect.ownKeys(o)) delete o[k];
  Object.defineProperties(o, saved);
}

/** One store instance for the whole catalogue, as a long-lived server would have. */
const host = createHost();
const store = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: PROJECT });
const savedMetadata = snapshot(host.metadata);
const savedVault = snapshot(host.vault);

async function roundTrip(tag) {
  host.kv.clear();
  host.secrets.clear();
  const key = "healthy";
  const value = "alive:" + tag;
  await store.put(key, value, { label: "L" });
  assert.strictEqual(await store.get(key), value);
  assert.strictEqual(await store.has(key), true);
  assert.deepStrictEqual(await store.keys(), [key]);
  assert.strictEqual((await store.listMetadata())[0].label, "L");
  assert.strictEqual(await store.delete(key), true);
  assert.strictEqual(await store.get(key), undefined);
  assert.strictEqual(host.secrets.has(id(key)) || host.kv.has(id(key)), false);
  await store.deleteAll();
}

test(`the catalogue has at least ${MIN_CLASSES} classes, uniquely named`, () => {
  assert.ok(CATALOGUE.length >= MIN_CLASSES, `only ${CATALOGUE.length} classes`);
  assert.strictEqual(new Set(CATALOGUE.map((c) => c.cls)).size, CATALOGUE.length);
  for (const c of CATALOGUE) {
    for (const f of ["group", "cls", "input", "expected"]) assert.strictEqual(typeof c[f], "string", `${c.cls}: ${f}`);
  }
});

for (const entry of CATALOGUE) {
  test(`[${entry.group}] ${entry.cls} → ${entry.expected}`, { timeout: 60_000 }, async () => {
    host.kv.clear();
    host.secrets.clear();
    host.clearCalls();
    host.mode = "promise";
    try {
      await entry.run({ store, host, ServerCredentialStore });
    } finally {
      restore(host.metadata, savedMetadata);
      restore(host.vault, savedVault);
      host.mode = "promise";
    }
    await roundTrip(entry.cls);
  });
}
