// The public class, shared by the node and web entries. Each entry passes in
// the StoreCore class of its own wasm-bindgen build, so the wrapper is written
// once. All behaviour lives in Rust; this file only gives the class the exact
// user-facing shape of the TypeScript ServerCredentialStore (no `free()`:
// wasm-bindgen registers StoreCore with a FinalizationRegistry, so the GC
// frees the Rust side together with this object).
export function defineServerCredentialStore(StoreCore) {
  return class ServerCredentialStore {
    #core;

    constructor(options) {
      this.#core = new StoreCore(options);
    }

    // `this` goes along: on an expired row get/has call this.delete(key),
    // and keys calls this.listMetadata(), as the TypeScript store does.
    get(key) {
      return this.#core.get(key, this);
    }

    put(key, value, options) {
      return this.#core.put(key, value, options);
    }

    delete(key) {
      return this.#core.delete(key);
    }

    has(key) {
      return this.#core.has(key, this);
    }

    keys() {
      return this.#core.keys(this);
    }

    deleteAll() {
      return this.#core.deleteAll();
    }

    listMetadata() {
      return this.#core.listMetadata();
    }

    listOrphans(options) {
      return this.#core.listOrphans(options);
    }

    reconcile(options) {
      return this.#core.reconcile(options);
    }
  };
}
