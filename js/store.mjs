// The public class, shared by the node and web entries. Each entry passes in
// the StoreCore class of its own wasm-bindgen build, so the wrapper is written
// once. All behaviour lives in Rust; this file only gives the class the exact
// user-facing shape of the TypeScript ServerCredentialStore (no `free()`:
// wasm-bindgen registers StoreCore with a FinalizationRegistry, so the GC
// frees the Rust side together with this object).
export function defineServerCredentialStore(StoreCore) {
  // Each method is one async function (the glue's `drive`) running the Rust
  // operation that the StoreCore call starts. Made with the first store: in
  // a browser the wasm is instantiated (init) after this module loads.
  let drive;
  return class ServerCredentialStore {
    #core;

    constructor(options) {
      this.#core = new StoreCore(options);
      drive ??= StoreCore.driver(StoreCore.resume);
    }

    // `this` goes along: on an expired row get/has call this.delete(key),
    // and keys calls this.listMetadata(), as the TypeScript store does.
    get(key) {
      return drive(this.#core.get(key, this));
    }

    put(key, value, options) {
      return drive(this.#core.put(key, value, options));
    }

    delete(key) {
      return drive(this.#core.delete(key));
    }

    has(key) {
      return drive(this.#core.has(key, this));
    }

    // As the TypeScript store writes it: through this.listMetadata() (an
    // override or a spy sees the call), then `.map` with JS's own errors.
    async keys() {
      return (await this.listMetadata()).map((m) => m.key);
    }

    deleteAll() {
      return drive(this.#core.deleteAll());
    }

    listMetadata() {
      return drive(this.#core.listMetadata());
    }

    listOrphans(options) {
      return drive(this.#core.listOrphans(options));
    }

    reconcile(options) {
      return drive(this.#core.reconcile(options));
    }
  };
}
