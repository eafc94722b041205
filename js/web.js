// Browser entry (pkg/web/index.js). The wasm must be instantiated before the
// first `new ServerCredentialStore(...)`: `await init()` fetches
// server_credential_store_wasm_bg.wasm next to this file (or pass a URL,
// Response, bytes or WebAssembly.Module); `initSync({ module })` takes bytes
// or a compiled module.
import init, { initSync, StoreCore } from "./server_credential_store_wasm.js";
import { defineServerCredentialStore } from "../store.mjs";

export const ServerCredentialStore = defineServerCredentialStore(StoreCore);
export { init, initSync };
export default init;
