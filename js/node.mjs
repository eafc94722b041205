// Node/Bun ESM entry (pkg/node/index.mjs). wasm-bindgen's nodejs build is
// CommonJS and instantiates the wasm synchronously on load, so there is
// nothing to await; init/initSync are no-ops kept so that code written for
// the browser entry runs unchanged here.
import wasm from "./server_credential_store_wasm.js";
import { defineServerCredentialStore } from "../store.mjs";

export const ServerCredentialStore = defineServerCredentialStore(wasm.StoreCore);
export async function init() {}
export function initSync() {}
export default init;
