// What a user of the package relies on, in any runtime or bundle: a store
// built from the package's entry (no init() called first) does a round trip,
// and a put whose vault write fails rejects with the vault's own error and
// rolls its pending row back. No Node API: the same file runs in browsers,
// Deno, Bun, Node and workerd, bundled or not.

export async function run(entry) {
  const checks = [];
  const check = (name, ok, detail = "") =>
    checks.push({ name, ok: ok === true, detail: ok === true ? "" : String(detail) });
  const same = (name, actual, expected) =>
    check(name, Object.is(actual, expected), `got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
  try {
    const { ServerCredentialStore, init } = entry;
    check("the entry exports the class", typeof ServerCredentialStore === "function", typeof ServerCredentialStore);

    const rows = new Map();
    const secrets = new Map();
    let failWrite;
    const vault = {
      async setSecret(id, value) {
        if (failWrite) throw failWrite;
        secrets.set(id, value);
      },
      async getSecret(id) { return secrets.get(id); },
      async deleteSecret(id) { secrets.delete(id); },
    };
    const metadata = {
      async get(key) { return rows.get(key); },
      async put(key, row) { rows.set(key, row); },
      async delete(key) { rows.delete(key); },
      async getAll() { return [...rows].map(([key, value]) => ({ key, value })); },
    };
    const store = new ServerCredentialStore({ vault, metadata, userId: "u1", projectId: "p1" });

    same("put resolves", await store.put("api-key", "s3cr3t", { label: "Main", provider: "openai" }), undefined);
    same("the vault holds the value", secrets.get("u1/p1/api-key"), "s3cr3t");
    same("the row is committed", rows.get("u1/p1/api-key")?.pending, false);
    same("get returns the value", await store.get("api-key"), "s3cr3t");
    same("has is true", await store.has("api-key"), true);
    same("keys lists it", JSON.stringify(await store.keys()), '["api-key"]');
    const [info] = await store.listMetadata();
    same("listMetadata gives the label", info?.label, "Main");
    same("delete returns true", await store.delete("api-key"), true);
    same("get after delete", await store.get("api-key"), undefined);

    failWrite = new Error("vault down");
    let rejected;
    try {
      await store.put("other", "v2");
    } catch (e) {
      rejected = e;
    }
    same("a failed vault write rejects the put with the vault's own error", rejected, failWrite);
    same("the pending row is rolled back", rows.has("u1/p1/other"), false);
    same("no value is left in the vault", secrets.has("u1/p1/other"), false);
    failWrite = undefined;

    same("init() still resolves (code written for async init keeps working)", await init(), undefined);
  } catch (e) {
    check("no unexpected exception", false, e?.stack || e);
  }
  return checks;
}
