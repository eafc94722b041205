// The `./web` entry (pkg/web/index.js): wasm-bindgen's web glue with the
// .wasm as a separate file, for apps that prefer a separate asset to the
// inlined module of the main entry. Instantiate it before the first
// `new ServerCredentialStore(...)`: `await init()` fetches
// server_credential_store_wasm_bg.wasm next to this file (or pass a URL,
// Response, bytes or WebAssembly.Module); `initSync({ module })` takes bytes
// or a compiled module. A store constructed before either throws an Error
// that says to call `await init()`.
import wasmInit, { initSync as wasmInitSync, StoreCore } from "./server_credential_store_wasm.js";
import { defineServerCredentialStore } from "../store.mjs";

let ready = false;

export async function init(input) {
  await wasmInit(input);
  ready = true;
}

export function initSync(module) {
  wasmInitSync(module);
  ready = true;
}

function assertReady() {
  if (!ready) {
    throw new Error(
      "server-credential-store-wasm/web: the WebAssembly module is not instantiated: `await init()` (or `initSync({ module })`) before the first `new ServerCredentialStore()`",
    );
  }
}

// The class store.mjs drives: its first call (the driver, or a store) says
// what to call when the module is not instantiated yet.
class Core extends StoreCore {
  static driver(resume) {
    assertReady();
    return super.driver(resume);
  }

  constructor(options) {
    assertReady();
    super(options);
  }
}

export const ServerCredentialStore = defineServerCredentialStore(Core);
export default init;
