// JS side of the wasm-bindgen-test suite (tests/suite/mod.rs): the host
// objects a user hands to the store, built the way users build them, in the
// JS engine the test runs in (Node, Chromium or Firefox).
//
// Two backends hold the data: Maps, and a real IndexedDB database (browsers
// only; Node has no IndexedDB). Both sit behind the same `Hosts` layer, which
// records every call the store makes and can fail or hold any single one, so
// each case makes the same assertions over either backend.

// ---- clock --------------------------------------------------------------
// SPEC §3: the store reads the host's global `Date` at each use, so a test
// may swap it as fake timers do. A frozen clock makes every timestamp the
// store writes exact. wasm-bindgen-test runs one test at a time and times
// tests with `performance.now()`, so the swap touches nothing else.

const RealDate = globalThis.Date;
let frozenAt = null;

class FrozenDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(frozenAt);
    else super(...args);
  }
  static now() {
    return frozenAt;
  }
}

export function freezeClock(ms) {
  frozenAt = ms;
  globalThis.Date = FrozenDate;
}

export function advanceClock(ms) {
  if (frozenAt === null) throw new Error("advanceClock: the clock is not frozen");
  frozenAt += ms;
}

export function restoreClock() {
  frozenAt = null;
  globalThis.Date = RealDate;
}

// ---- backends -----------------------------------------------------------
// Both return `{ metadata, vault, close }` with the method shapes of SPEC §1.
// `getAll()` resolves to `undefined` when empty, as @workglow's KV stores do.

function mapBackend() {
  const rows = new Map();
  const secrets = new Map();
  return {
    metadata: {
      async get(id) {
        return rows.get(id);
      },
      async put(id, row) {
        rows.set(id, row);
      },
      async delete(id) {
        rows.delete(id);
      },
      async getAll() {
        return rows.size ? [...rows].map(([key, value]) => ({ key, value })) : undefined;
      },
    },
    vault: {
      async setSecret(id, plaintext) {
        secrets.set(id, plaintext);
      },
      async getSecret(id) {
        return secrets.get(id);
      },
      async deleteSecret(id) {
        secrets.delete(id);
      },
    },
    async close() {},
  };
}

export function hasIndexedDb() {
  return typeof globalThis.indexedDB === "object" && globalThis.indexedDB !== null;
}

// One transaction for `op`'s requests; resolves with `op`'s result once the
// transaction has committed, so a write is durable when the store sees it done.
function transact(db, store, mode, op) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const result = op(tx.objectStore(store));
    tx.oncomplete = () => resolve(result());
    tx.onerror = tx.onabort = () => reject(tx.error);
  });
}

let dbSerial = 0;

// One database per test: two object stores with out-of-line keys. Each host
// call is its own transaction, as an IndexedDB-backed KV and vault would do
// it; rows come back as structured clones, never the objects that were put.
async function indexedDbBackend() {
  if (!hasIndexedDb()) throw new Error("indexedDbBackend: this environment has no indexedDB");
  const name = `scs-suite-${RealDate.now()}-${++dbSerial}`;
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore("metadata");
      open.result.createObjectStore("secrets");
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  // `one(store, mode, op)`: a single request; resolves with its result.
  const one = (store, mode, op) =>
    transact(db, store, mode, (s) => {
      const request = op(s);
      return () => request.result;
    });
  return {
    metadata: {
      get: (id) => one("metadata", "readonly", (s) => s.get(id)),
      put: (id, row) => one("metadata", "readwrite", (s) => s.put(row, id)).then(() => {}),
      delete: (id) => one("metadata", "readwrite", (s) => s.delete(id)),
      // Keys and values read in one transaction, so they pair up (key order).
      getAll: () =>
        transact(db, "metadata", "readonly", (s) => {
          const keys = s.getAllKeys();
          const values = s.getAll();
          return () =>
            keys.result.length ? keys.result.map((key, i) => ({ key, value: values.result[i] })) : undefined;
        }),
    },
    vault: {
      setSecret: (id, plaintext) => one("secrets", "readwrite", (s) => s.put(plaintext, id)).then(() => {}),
      getSecret: (id) => one("secrets", "readonly", (s) => s.get(id)),
      deleteSecret: (id) => one("secrets", "readwrite", (s) => s.delete(id)),
    },
    async close() {
      db.close();
      await new Promise((resolve, reject) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = resolve;
        request.onerror = () => reject(request.error);
      });
    },
  };
}

// ---- recording and fault injection ----------------------------------------

const METHODS = {
  metadata: ["get", "put", "delete", "getAll"],
  vault: ["setSecret", "getSecret", "deleteSecret"],
};

export class Hosts {
  #backend;
  #calls = [];
  #args = [];
  #counts = new Map(); // "vault.setSecret" -> calls so far
  #faults = []; // { name, at, error, sync }: call number `at` of `name` fails
  #gates = new Map(); // "vault.setSecret" -> gate

  constructor(backend) {
    this.#backend = backend;
    // What the store is given: fresh plain objects whose methods record the
    // call, then fail, hold or forward it to the backend.
    this.metadata = this.#wrap("metadata");
    this.vault = this.#wrap("vault");
  }

  #wrap(object) {
    const out = {};
    for (const method of METHODS[object]) {
      const name = `${object}.${method}`;
      const inner = this.#backend[object];
      out[method] = (...args) => {
        this.#calls.push(args.length ? `${name} ${args[0]}` : name);
        this.#args.push(args);
        const fault = this.#takeFault(name);
        if (fault?.sync) throw fault.error;
        const gate = this.#gates.get(name);
        this.#gates.delete(name);
        return (async () => {
          if (gate) {
            gate.arrive();
            await gate.opened;
          }
          if (fault) throw fault.error;
          return inner[method](...args);
        })();
      };
    }
    return out;
  }

  #takeFault(name) {
    const count = (this.#counts.get(name) ?? 0) + 1;
    this.#counts.set(name, count);
    return this.#faults.find((f) => f.name === name && f.at === count);
  }

  // The `nth` next call of `name` ("vault.setSecret", "metadata.put", …)
  // rejects with `error`, or throws it synchronously when `sync` is set.
  // Several faults may be armed at once, on one method or on several.
  fail(name, error, nth, sync) {
    const [object, method] = name.split(".");
    if (!METHODS[object]?.includes(method)) throw new Error(`fail: no host method ${name}`);
    this.#faults.push({ name, at: (this.#counts.get(name) ?? 0) + nth, error, sync });
  }

  // Holds the next call of `name` before it reaches the backend (nothing is
  // written yet) until `release()`; `reached` resolves once the call is made.
  hold(name) {
    let arrive;
    let release;
    const reached = new Promise((resolve) => (arrive = resolve));
    const opened = new Promise((resolve) => (release = resolve));
    const gate = { arrive, opened, reached, release };
    this.#gates.set(name, gate);
    return gate;
  }

  // Calls so far, as "object.method firstArg".
  calls() {
    return [...this.#calls];
  }

  // The argument list of call number `i` (as the store passed it).
  argsOf(i) {
    return this.#args[i];
  }

  // Armed faults still count calls from when they were armed.
  clearCalls() {
    this.#calls.length = 0;
    this.#args.length = 0;
  }

  // Direct backend access for setup and checks; not recorded.
  row(id) {
    return this.#backend.metadata.get(id);
  }
  putRow(id, row) {
    return this.#backend.metadata.put(id, row);
  }
  secret(id) {
    return this.#backend.vault.getSecret(id);
  }
  putSecret(id, plaintext) {
    return this.#backend.vault.setSecret(id, plaintext);
  }
  close() {
    return this.#backend.close();
  }
}

export function mapHosts() {
  return new Hosts(mapBackend());
}

export async function indexedDbHosts() {
  return new Hosts(await indexedDbBackend());
}

// ---- the public class ------------------------------------------------------
// The suite drives `StoreCore` through the package's own js/store.mjs, as the
// package entries do. It is loaded at run time: a snippet cannot import
// another local file, and the browser test runner serves `.mjs` files as
// application/octet-stream, which browsers refuse to run as a module. So in
// a browser its text is fetched (the runner also serves the crate root) and
// imported as a blob of type text/javascript; store.mjs imports nothing.

export async function loadStoreMjs() {
  if (typeof process === "object" && process.versions?.node) {
    const { pathToFileURL } = await import("node:url");
    return import(pathToFileURL(`${process.cwd()}/js/store.mjs`).href);
  }
  const response = await fetch("/js/store.mjs");
  if (!response.ok) throw new Error(`fetch /js/store.mjs: HTTP ${response.status}`);
  const url = URL.createObjectURL(new Blob([await response.text()], { type: "text/javascript" }));
  try {
    return await import(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}

// ---- inspection -----------------------------------------------------------

// Own properties in insertion order, `undefined`-valued ones included, so a
// row's exact shape (SPEC §3) compares as one string.
export function show(v) {
  if (v === undefined) return "undefined";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(",")}]`;
  if (v instanceof Error) return `${v.constructor.name}(${JSON.stringify(v.message)})`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.keys(v)
      .map((k) => `${k}:${show(v[k])}`)
      .join(",")}}`;
  }
  return String(v);
}

// A real Date for `put`'s `expiresAt` option, whatever the clock.
export function dateAt(ms) {
  return new RealDate(ms);
}
