// CommonJS: require gives the class import gives, and it works.
const entry = require("server-credential-store-wasm");

(async () => {
  const { run } = await import("./checks.js");
  const checks = await run(entry);
  const esm = await import("server-credential-store-wasm");
  checks.push({
    name: "require and import give one class",
    ok: entry.ServerCredentialStore === esm.ServerCredentialStore,
    detail: "two different classes",
  });
  console.log(JSON.stringify(checks));
})();
