// Our declarations on their own (see tsconfig.pkg.json), CommonJS view.
import sc = require("server-credential-store-wasm");

declare const vault: sc.SecretVault;
declare const metadata: sc.MetadataKv;

export const store = new sc.ServerCredentialStore({ vault, metadata, userId: "u", projectId: "p" });
export const ready: Promise<void> = sc.init();
