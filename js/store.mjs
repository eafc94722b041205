// The public class, shared by the node and web entries. Each entry passes in
// the StoreCore class of its own wasm-bindgen build, so the wrapper is written
// once. All behaviour lives in Rust; this file only gives the class the exact
// user-facing shape of the TypeScript ServerCredentialStore (no `free()`:
// wasm-bindgen registers StoreCore with a FinalizationRegistry, so the GC
// frees the Rust side together with this object).
// `timeoutMs` (a positive number of milliseconds) and `signal` (an
// AbortSignal) of the options, checked; undefined when neither is set.
function deadlineOf(options) {
  const ms = options?.timeoutMs;
  const signal = options?.signal;
  if (ms !== undefined && !(typeof ms === "number" && ms > 0 && ms <= 2 ** 31 - 1)) {
    throw new TypeError("ServerCredentialStore: timeoutMs must be a positive number of milliseconds (at most 2147483647)");
  }
  if (signal !== undefined && !(typeof signal?.addEventListener === "function" && typeof signal.aborted === "boolean")) {
    throw new TypeError("ServerCredentialStore: signal must be an AbortSignal");
  }
  return ms === undefined && signal === undefined ? undefined : { ms, signal };
}

export function defineServerCredentialStore(StoreCore) {
  // Each method is one async function (the glue's `drive`) running the Rust
  // operation that the StoreCore call starts, once the glue admits it (the
  // instance can hold it: see "Admission" in glue.js); a call that cannot be
  // admitted rejects with a BUSY error. Made with the first store: in a
  // browser the wasm is instantiated (init) after this module loads.
  let drive;
  let read;
  let remove;
  let write;
  let admit;
  let admitStore;
  let busy;
  const refused = () => Promise.reject(busy());
  return class ServerCredentialStore {
    #core;
    // `{ ms, signal }` when options set `timeoutMs` or `signal`: every host
    // call of this store's operations is awaited against it (glue.js).
    #deadline;
    // `userId/projectId/` and [metadata, vault] as the core read them once
    // (for get and has, whose host calls `drive` makes).
    #prefix;
    #hosts;

    constructor(options) {
      if (drive === undefined) {
        ({ drive, read, remove, write, admit, admitStore, busyError: busy } = StoreCore.driver(StoreCore));
      }
      if (!admitStore()) throw busy();
      const core = new StoreCore(options);
      this.#core = core;
      this.#prefix = core.prefix();
      this.#hosts = core.hosts();
      this.#deadline = deadlineOf(options);
    }

    // `this` and `key` go along to the driver: on an expired row get/has
    // call this.delete(key), and keys calls this.listMetadata(), as the
    // TypeScript store does.
    get(key) {
      if (!admit()) return refused();
      return read(this.#core, 0, key, this, this.#prefix, this.#hosts, this.#deadline);
    }

    put(key, value, options) {
      if (!admit()) return refused();
      return write(this.#core, key, value, options, this.#prefix, this.#hosts, this.#deadline);
    }

    delete(key) {
      if (!admit()) return refused();
      return remove(this.#core, key, this.#prefix, this.#hosts, this.#deadline);
    }

    has(key) {
      if (!admit()) return refused();
      return read(this.#core, 1, key, this, this.#prefix, this.#hosts, this.#deadline);
    }

    // As the TypeScript store writes it: through this.listMetadata() (an
    // override or a spy sees the call), then `.map` with JS's own errors.
    async keys() {
      return (await this.listMetadata()).map((m) => m.key);
    }

    deleteAll() {
      if (!admit()) return refused();
      return drive(this.#core.deleteAll(), this.#deadline, undefined, undefined, undefined, this.#core, 4, this.#hosts);
    }

    listMetadata() {
      if (!admit()) return refused();
      return drive(this.#core.listMetadata(), this.#deadline);
    }

    listOrphans(options) {
      if (!admit()) return refused();
      return drive(this.#core.listOrphans(options), this.#deadline);
    }

    reconcile(options) {
      if (!admit()) return refused();
      return drive(this.#core.reconcile(options), this.#deadline);
    }
  };
}
