// Our declarations on their own (see tsconfig.pkg.json), ESM view.
import init, { initSync, ServerCredentialStore } from "server-credential-store-wasm";
import type { CredentialMetadataInfo, MetadataKv, SecretVault } from "server-credential-store-wasm";

declare const vault: SecretVault;
declare const metadata: MetadataKv;

await init();
initSync({ module: new Uint8Array(0) });
const store = new ServerCredentialStore({ vault, metadata, userId: "u", projectId: "p" });
const infos: CredentialMetadataInfo[] = await store.listMetadata();
const value: string | undefined = await store.get("k");
export { infos, value };
