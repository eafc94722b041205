// Recording, Map-based fakes of the two host objects (SPEC §1).
//
// - Every host call is recorded in order as [object, method, args] where
//   object is "metadata" or "vault" and args is the real argument list (the
//   very values the store passed, so identity and arity can be checked).
// - Rows are stored as the very objects passed to metadata.put, and
//   metadata.get / getAll hand back those same objects, so a test can check
//   exact shapes, key order and own-`undefined` properties.
// - Any single call can be made to fail (reject with a given value, or throw
//   it synchronously) or be held on a gate until the test releases it.
// - `mode` chooses how successful results are returned: "promise" (a native
//   promise), "plain" (the bare value) or "thenable" (a non-promise thenable).

export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function makeThenable(settle) {
  // A thenable that is not a Promise: `await` must call its `then`.
  return {
    then(onFulfilled, onRejected) {
      return Promise.resolve()
        .then(settle)
        .then(onFulfilled, onRejected);
    },
  };
}

export function createHost({ rows = [], secrets = [], mode = "promise" } = {}) {
  const kv = new Map(rows);
  const vaultMap = new Map(secrets);
  const calls = [];
  const thisValues = [];
  const rules = [];

  const host = {
    kv,
    secrets: vaultMap,
    calls,
    thisValues,
    mode,
    metadata: null,
    vault: null,
    /** ["metadata.get", "vault.getSecret", …] */
    trace() {
      return calls.map(([o, m]) => `${o}.${m}`);
    },
    callsOf(object, method) {
      return calls.filter(([o, m]) => o === object && m === method).map(([, , args]) => args);
    },
    clearCalls() {
      calls.length = 0;
      thisValues.length = 0;
    },
    /**
     * Make one call fail. `when(...args)` selects candidate calls, `nth`
     * (1-based, among candidates) picks which one; `sync` throws instead of
     * returning a rejected promise; `times` lets it fail repeatedly.
     */
    fail(object, method, error, { when, nth = 1, sync = false, times = 1 } = {}) {
      rules.push({ kind: "fail", object, method, error, when, nth, sync, times, seen: 0, used: 0 });
      return host;
    },
    /**
     * Hold one call: it is recorded at once, but neither performed nor
     * settled until release() (then performed) or release(error) (then
     * rejected with error, not performed). `reached` resolves when the store
     * makes the call.
     */
    hold(object, method, { when, nth = 1 } = {}) {
      const reached = deferred();
      const gate = deferred();
      let released = false;
      rules.push({ kind: "hold", object, method, when, nth, times: 1, seen: 0, used: 0, reached, gate });
      return {
        reached: reached.promise,
        release(error) {
          if (released) return;
          released = true;
          if (arguments.length > 0) gate.resolve({ fail: true, error });
          else gate.resolve({ fail: false });
        },
      };
    },
  };

  function findRule(object, method, args) {
    for (const r of rules) {
      if (r.object !== object || r.method !== method || r.used >= r.times) continue;
      if (r.when && !r.when(...args)) continue;
      r.seen += 1;
      if (r.seen < r.nth) continue;
      r.used += 1;
      return r;
    }
    return null;
  }

  function respond(value) {
    if (host.mode === "plain") return value;
    if (host.mode === "thenable") return makeThenable(() => value);
    return Promise.resolve(value);
  }

  function invoke(object, method, self, args, op) {
    calls.push([object, method, args]);
    thisValues.push(self);
    const rule = findRule(object, method, args);
    if (rule === null) return respond(op());
    if (rule.kind === "fail") {
      if (rule.sync) throw rule.error;
      if (host.mode === "thenable") {
        return makeThenable(() => {
          throw rule.error;
        });
      }
      return Promise.reject(rule.error);
    }
    // hold
    rule.reached.resolve(args);
    return rule.gate.promise.then((how) => {
      if (how.fail) throw how.error;
      return op();
    });
  }

  host.metadata = {
    get(id) {
      return invoke("metadata", "get", this, [...arguments], () => kv.get(id));
    },
    put(id, row) {
      return invoke("metadata", "put", this, [...arguments], () => {
        kv.set(id, row);
      });
    },
    delete(id) {
      return invoke("metadata", "delete", this, [...arguments], () => {
        kv.delete(id);
      });
    },
    getAll() {
      return invoke("metadata", "getAll", this, [...arguments], () =>
        [...kv].map(([key, value]) => ({ key, value })),
      );
    },
    // Present on real backends, never called by the store.
    putBulk() {
      return invoke("metadata", "putBulk", this, [...arguments], () => undefined);
    },
    getBulk() {
      return invoke("metadata", "getBulk", this, [...arguments], () => []);
    },
    deleteAll() {
      return invoke("metadata", "deleteAll", this, [...arguments], () => kv.clear());
    },
    size() {
      return invoke("metadata", "size", this, [...arguments], () => kv.size);
    },
  };

  host.vault = {
    setSecret(id, plaintext) {
      return invoke("vault", "setSecret", this, [...arguments], () => {
        vaultMap.set(id, plaintext);
      });
    },
    getSecret(id) {
      return invoke("vault", "getSecret", this, [...arguments], () => vaultMap.get(id));
    },
    deleteSecret(id) {
      return invoke("vault", "deleteSecret", this, [...arguments], () => {
        vaultMap.delete(id);
      });
    },
  };

  return host;
}

/** A minimal Map-backed vault with no recording, for use with real KV backends. */
export { mapVault } from "./map-hosts.mjs";
