// Loads the implementation under test the way users import it:
//   import { ServerCredentialStore } from "server-credential-store-wasm"
// CREDSTORE_IMPL (a module specifier or a file path) overrides it, so the suite
// itself can be checked against another implementation.
import path from "node:path";
import { pathToFileURL } from "node:url";

export const PACKAGE_NAME = "server-credential-store-wasm";

const override = process.env.CREDSTORE_IMPL;
export const IMPL_SPECIFIER =
  override === undefined || override === ""
    ? PACKAGE_NAME
    : override.startsWith(".") || path.isAbsolute(override)
      ? pathToFileURL(path.resolve(override)).href
      : override;

export const USING_PACKAGE = IMPL_SPECIFIER === PACKAGE_NAME;

const mod = await import(IMPL_SPECIFIER);

// A dynamic import sees the same named exports as a static `import { … }`
// (for CommonJS too), so this fails exactly when the user's import would.
if (typeof mod.ServerCredentialStore !== "function") {
  throw new Error(
    `${IMPL_SPECIFIER} has no named export ServerCredentialStore (exports: ${Object.keys(mod).join(", ")})`,
  );
}
export const ServerCredentialStore = mod.ServerCredentialStore;
