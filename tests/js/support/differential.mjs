// The differential engine: two ServerCredentialStore implementations (the
// reference oracle and the one under test) run the same seeded sequential
// operation sequences, each in its own world (a Map KV + a Map vault shared by
// 2–3 stores of different scopes, a fake clock, the same injected faults).
// After every operation the two worlds must agree on: the result (or the
// error: class, message, cause, AggregateError.errors, identity of injected
// values), whether a promise was returned, every host call (method, args,
// rows key for key in order), and the full KV and vault contents.
//
// Faults: any host call may throw synchronously, reject (before or after
// performing its effect), or return a rejecting thenable, with a fresh Error,
// TypeError, plain object or primitive. Successful calls return a promise, a
// plain value or a thenable. All draws come from a per-world RNG seeded alike,
// so as long as both worlds make the same calls they see the same faults.

import { canon, canonError, rng, firstDiff } from "./canon.mjs";

const RealDate = globalThis.Date;
const BASE_MS = RealDate.UTC(2031, 4, 6, 7, 8, 9, 10);

// The clock of the world running right now (ops of the two worlds never overlap).
let clockWorld = null;
class FakeDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(clockWorld.now);
    else super(...args);
  }
  static now() {
    return clockWorld.now;
  }
}

// Scope ids as the caller passes them: strings, and (SPEC §2, second
// edition) values tested and joined by their ToString but kept as given in
// rows: 7 is "7" in ids and stays 7 in rows.
const SCOPES = [
  ["u1", "p1"],
  ["u1", "p2"],
  ["u2", "p1"],
];
const ODD_SCOPES = [
  [7, "p1"],
  ["u1", ["p2"]],
  [null, "p1"],
];
const KEY_POOL = ["a", "b", "c", "K-1", "x.y:z"];
// Keys that are not strings: ["num", 7] addresses "7" (a valid key), and so
// on; "sym" and "throws" reject with the host's error, "obj" ("[object
// Object]") fails the grammar.
const ODD_KEYS = [["num", 7], ["null"], ["undef"], ["arr", "a"], ["str-obj", "b"], ["to-string", "c"], ["obj"], ["sym"], ["throws"]];
const BAD_KEYS = ["", "a/b", "é", "k".repeat(129)];
const ADVANCES = [0, 1, 999, 1000, 1001, 5000, 60_000, 3_600_000];
const REL = [-100_000, -1, 0, 1, 3000, 1_000_000];
const INJECT_KINDS = [
  "committed",
  "marker",
  "pendingOld",
  "legacy",
  "expNull",
  "expGarbage",
  "expNum",
  "pendingStr",
  "foreign",
  "falsy",
  "extra",
  "wrongKey",
  "vaultOnly",
  "dropVault",
  "dropRow",
  "nullRow",
  "zeroRow",
  "stringRow",
];
// What getAll() answers besides the KV's array (SPEC §4's loop: falsy → no
// rows; any iterable; a non-iterable, a null entry or a non-string key
// throws the host's TypeError).
const LISTINGS = ["array", "array", "array", "array", "null", "false", "set", "generator", "object", "nullEntry", "numKey"];

// ------------------------------------------------------------ generation

function genValue(r) {
  const x = r();
  if (x < 0.8) return ["str", "v" + r.int(1e6)];
  if (x < 0.85) return ["str", ""];
  if (x < 0.9) return ["num", r.int(100)];
  if (x < 0.95) return ["obj", r.int(100)];
  return ["undef"];
}

function genOptions(r) {
  const n = r.int(1000);
  switch (r.int(13)) {
    case 0:
    case 1:
    case 2:
      return ["none"];
    case 3:
      return ["null"];
    case 4:
      return ["obj", {}];
    case 5:
      return ["obj", { label: "L" + n }];
    case 6:
      return ["obj", { provider: "P" + n }];
    case 7:
      return ["obj", { label: null, provider: undefined }];
    case 8:
      return ["obj", { label: "L" + n, provider: "P" + n, expiresAt: ["rel", r.pick(REL)] }];
    case 9:
      return ["obj", { expiresAt: ["rel", r.pick(REL)] }];
    case 10:
      return ["obj", { expiresAt: r.pick([["invalid"], ["string"], ["duck"], ["zero"]]) }];
    case 11:
      return ["obj", { label: "L" + n, expiresAt: ["rel", r.pick(REL)] }];
    default:
      return ["obj", { provider: "P" + n, label: "" }];
  }
}

function genSequence(seed, maxOps) {
  const r = rng(seed);
  const nStores = 2 + r.int(2);
  const scopes = SCOPES.map((s, i) => (r.chance(0.15) ? ODD_SCOPES[i] : s));
  const keys = KEY_POOL.slice(0, 2 + r.int(KEY_POOL.length - 1));
  const faultRate = r.pick([0, 0.03, 0.1, 0.25]);
  const nOps = 5 + r.int(Math.max(1, maxOps - 4));
  const ops = [];
  for (let i = 0; i < nOps; i++) {
    const store = r.int(nStores);
    const advance = r.chance(0.35) ? r.pick(ADVANCES) : 0;
    const k = r();
    const key = k < 0.03 ? r.pick(BAD_KEYS) : k < 0.08 ? ["odd", ...r.pick(ODD_KEYS)] : r.pick(keys);
    const x = r();
    let op;
    if (x < 0.3) op = { m: "put", key, value: genValue(r), options: genOptions(r) };
    else if (x < 0.45) op = { m: "get", key };
    else if (x < 0.53) op = { m: "has", key };
    else if (x < 0.65) op = { m: "delete", key };
    else if (x < 0.71) op = { m: "keys" };
    else if (x < 0.78) op = { m: "listMetadata" };
    else if (x < 0.83) op = { m: "deleteAll" };
    else if (x < 0.95) {
      const scope = r.chance(0.1) ? ["zz", "yy"] : scopes[r.int(nStores)];
      op = { m: "inject", kind: r.pick(INJECT_KINDS), scope, key: r.pick(keys), n: r.int(1000) };
    } else if (x < 0.97) op = { m: "listing", kind: r.pick(LISTINGS) };
    else op = { m: "tick" };
    ops.push({ store, advance, ...op });
  }
  return { seed, nStores, scopes, faultRate, faultSeed: (seed * 2654435761) >>> 0, ops };
}

// ------------------------------------------------------------ worlds

function makeFault(r, n, object, method) {
  const msg = `injected fault ${n} in ${object}.${method}`;
  const x = r();
  if (x < 0.7) return new Error(msg);
  if (x < 0.8) return new TypeError(msg);
  if (x < 0.9) return { code: "E_HOST", n };
  if (x < 0.95) return msg;
  return undefined;
}

function makeWorld(name, Store, seq) {
  const kv = new Map();
  const vault = new Map();
  const r = rng(seq.faultSeed);
  const world = {
    name,
    kv,
    vault,
    trace: [],
    faults: [],
    now: BASE_MS,
    lastPut: undefined,
    lastVaultReturn: undefined,
    hostCalls: 0,
    stores: [],
    listing: "array",
  };

  function call(object, method, args, perform) {
    world.now += 1;
    world.hostCalls += 1;
    const entry = [object, method, canon(args)];
    if (object === "vault" && method === "setSecret") entry.push(args[1] === world.lastPut ? "same-value" : "OTHER-VALUE");
    world.trace.push(entry);
    if (r() < seq.faultRate) {
      const err = makeFault(r, world.faults.length, object, method);
      world.faults.push(err);
      const k = r();
      if (k < 0.25) {
        entry.push("fault:throw");
        throw err;
      }
      if (k < 0.4) {
        entry.push("fault:thenable");
        return {
          then(_, onRejected) {
            onRejected(err);
          },
        };
      }
      if (k < 0.6) {
        entry.push("fault:performed-then-reject");
        perform();
        return Promise.reject(err);
      }
      entry.push("fault:reject");
      return Promise.reject(err);
    }
    const value = perform();
    const m = r();
    if (m < 0.1) return value;
    if (m < 0.2) {
      return {
        then(onFulfilled) {
          onFulfilled(value);
        },
      };
    }
    return Promise.resolve(value);
  }

  const metadata = {
    get(id) {
      return call("metadata", "get", [...arguments], () => kv.get(id));
    },
    put(id, row) {
      return call("metadata", "put", [...arguments], () => {
        kv.set(id, row);
      });
    },
    delete(id) {
      return call("metadata", "delete", [...arguments], () => {
        kv.delete(id);
      });
    },
    getAll() {
      return call("metadata", "getAll", [...arguments], () => listingOf(world.listing, kv));
    },
    // Present on real backends; the store must never call them.
    putBulk() {
      return call("metadata", "putBulk", [...arguments], () => undefined);
    },
    getBulk() {
      return call("metadata", "getBulk", [...arguments], () => []);
    },
    deleteAll() {
      return call("metadata", "deleteAll", [...arguments], () => kv.clear());
    },
    size() {
      return call("metadata", "size", [...arguments], () => kv.size);
    },
  };
  const vaultHost = {
    setSecret(id, plaintext) {
      return call("vault", "setSecret", [...arguments], () => {
        vault.set(id, plaintext);
      });
    },
    getSecret(id) {
      return call("vault", "getSecret", [...arguments], () => (world.lastVaultReturn = vault.get(id)));
    },
    deleteSecret(id) {
      return call("vault", "deleteSecret", [...arguments], () => {
        vault.delete(id);
      });
    },
  };
  for (let i = 0; i < seq.nStores; i++) {
    const [userId, projectId] = seq.scopes[i];
    world.stores.push(new Store({ vault: vaultHost, metadata, userId, projectId }));
  }
  return world;
}

/** What getAll() answers: the KV's entries in one of the shapes of LISTINGS. */
function listingOf(kind, kv) {
  const entries = () => [...kv].map(([key, value]) => ({ key, value }));
  switch (kind) {
    case "null":
      return null;
    case "false":
      return false;
    case "set":
      return new Set(entries());
    case "generator":
      return (function* () {
        yield* entries();
      })();
    case "object":
      return { length: kv.size, entries: entries() };
    case "nullEntry":
      return [...entries(), null];
    case "numKey":
      return [...entries(), { key: 5, value: {} }];
    default:
      return entries();
  }
}

/** A key as the caller passes it (fresh objects each time). */
function materializeKey(key) {
  if (!Array.isArray(key)) return key;
  const [, kind, x] = key;
  switch (kind) {
    case "num":
      return x;
    case "null":
      return null;
    case "undef":
      return undefined;
    case "arr":
      return [x];
    case "str-obj":
      return new String(x);
    case "to-string":
      return { toString: () => x };
    case "obj":
      return {};
    case "sym":
      return Symbol("k");
    default:
      return {
        toString() {
          throw new RangeError("key text refused");
        },
      };
  }
}

function materializeValue([kind, x]) {
  if (kind === "str") return x;
  if (kind === "num") return x;
  if (kind === "obj") return { secret: x, nested: { list: [x] } };
  return undefined;
}

function materializeOptions([kind, spec], now) {
  if (kind === "none") return undefined;
  if (kind === "null") return null;
  const o = {};
  for (const [k, v] of Object.entries(spec)) {
    if (k !== "expiresAt") {
      o[k] = v;
      continue;
    }
    switch (v[0]) {
      case "rel":
        o.expiresAt = new RealDate(now + v[1]);
        break;
      case "invalid":
        o.expiresAt = new RealDate(NaN);
        break;
      case "string":
        o.expiresAt = "2030-01-01T00:00:00.000Z";
        break;
      case "duck":
        o.expiresAt = {
          toISOString() {
            return "duck-iso";
          },
        };
        break;
      case "zero":
        o.expiresAt = 0;
        break;
    }
  }
  return o;
}

function injectRow(kind, [userId, projectId], key, n, now) {
  const iso = new RealDate(now).toISOString();
  const committed = {
    userId,
    projectId,
    key,
    label: "inj" + n,
    provider: undefined,
    createdAt: iso,
    updatedAt: iso,
    expiresAt: undefined,
    pending: false,
  };
  switch (kind) {
    case "committed":
      return committed;
    case "marker":
      return {
        ...committed,
        pending: true,
        orphanedAt: iso,
        orphanReason: ["vault-write-failed", "metadata-commit-failed", "vault-delete-failed"][n % 3],
      };
    case "pendingOld":
      return { ...committed, pending: true };
    case "legacy":
      return { userId, projectId, key, createdAt: iso, updatedAt: iso };
    case "expNull":
      return { ...committed, expiresAt: null };
    case "expGarbage":
      return { ...committed, expiresAt: "not a date " + n };
    case "expNum":
      return { ...committed, expiresAt: now + (n % 2 ? -1 : 5000) };
    case "pendingStr":
      return { ...committed, pending: "true" };
    case "foreign":
      return { ...committed, userId: "other-user" };
    case "falsy":
      return [0, "", null, false][n % 4];
    case "extra":
      return { ...committed, extra: { nested: [n] }, zz: "x" };
    case "wrongKey":
      return { ...committed, key: "different" + n };
    case "nullRow":
      return null;
    case "zeroRow":
      return 0;
    case "stringRow":
      return "row" + n;
    default:
      throw new Error("unknown row kind " + kind);
  }
}

function applyInject(world, op) {
  const id = `${op.scope[0]}/${op.scope[1]}/${op.key}`;
  switch (op.kind) {
    case "vaultOnly":
      world.vault.set(id, "orphan-bytes-" + op.n);
      return;
    case "dropVault":
      world.vault.delete(id);
      return;
    case "dropRow":
      world.kv.delete(id);
      return;
    default:
      world.kv.set(id, injectRow(op.kind, op.scope, op.key, op.n, world.now));
      if (op.kind === "committed" || op.kind === "legacy" || op.kind === "extra") {
        world.vault.set(id, "injected-secret-" + op.n);
      }
  }
}

async function runOp(world, op) {
  world.now += op.advance;
  const start = world.trace.length;
  const faultsBefore = world.faults.length;
  if (op.m === "inject" || op.m === "tick" || op.m === "listing") {
    if (op.m === "inject") applyInject(world, op);
    if (op.m === "listing") world.listing = op.kind;
    return { out: { ok: true, value: ["undefined"] }, trace: [], faults: 0 };
  }
  const store = world.stores[op.store];
  let args;
  if (op.m === "put") {
    const value = materializeValue(op.value);
    world.lastPut = value;
    args = [materializeKey(op.key), value, materializeOptions(op.options, world.now)];
  } else if (op.m === "get" || op.m === "has" || op.m === "delete") {
    args = [materializeKey(op.key)];
  } else {
    args = [];
  }
  world.lastVaultReturn = Symbol("none");
  clockWorld = world;
  globalThis.Date = FakeDate;
  let out;
  try {
    let p;
    try {
      p = store[op.m](...args);
    } catch (e) {
      out = { ok: false, sync: true, error: canonError(e, world.faults) };
    }
    if (out === undefined) {
      const isPromise = p instanceof Promise;
      try {
        const v = await p;
        out = { ok: true, isPromise, value: canon(v) };
        if (op.m === "get" && v !== null && typeof v === "object") {
          out.identity = v === world.lastVaultReturn ? "vault-value" : "OTHER-OBJECT";
        }
      } catch (e) {
        out = { ok: false, isPromise, error: canonError(e, world.faults) };
      }
    }
  } finally {
    globalThis.Date = RealDate;
    clockWorld = null;
  }
  return { out, trace: world.trace.slice(start), faults: world.faults.length - faultsBefore };
}

const stateOf = (world) => ({ kv: canon([...world.kv]), vault: canon([...world.vault]) });

function describeOp(op) {
  const { store, advance, m } = op;
  const rest = { ...op };
  delete rest.store;
  delete rest.advance;
  delete rest.m;
  return `store#${store} +${advance}ms ${m} ${JSON.stringify(rest)}`;
}

const show = (x) => JSON.stringify(x);

/**
 * Runs `sequences` seeded sequences through both implementations.
 * Returns totals and the first mismatch (or null).
 */
export async function runDifferential({ Reference, Candidate, sequences, seed = 1, first = 0, maxOps = 40 }) {
  const totals = { sequences: 0, ops: 0, hostCalls: 0, faults: 0, rejections: 0, oddKeys: 0, oddListings: 0, oddScopes: 0 };
  for (let s = first; s < first + sequences; s++) {
    const seqSeed = (seed + s * 0x9e3779b1) >>> 0;
    const seq = genSequence(seqSeed, maxOps);
    const ref = makeWorld("reference", Reference, seq);
    const cand = makeWorld("candidate", Candidate, seq);
    totals.sequences += 1;
    if (seq.scopes.some((s, i) => s !== SCOPES[i])) totals.oddScopes += 1;
    for (let i = 0; i < seq.ops.length; i++) {
      const op = seq.ops[i];
      const a = await runOp(ref, op);
      const b = await runOp(cand, op);
      totals.ops += 1;
      if (Array.isArray(op.key)) totals.oddKeys += 1;
      if (op.m === "listing" && op.kind !== "array") totals.oddListings += 1;
      totals.faults += a.faults;
      if (!a.out.ok) totals.rejections += 1;
      const where = () =>
        `sequence seed ${seqSeed} (SEED=${seed}, #${s}), op ${i}: ${describeOp(op)}\n` +
        `ops so far:\n${seq.ops
          .slice(0, i + 1)
          .map((o, j) => `  ${j}: ${describeOp(o)}`)
          .join("\n")}`;
      const d = firstDiff(a.trace, b.trace);
      if (d >= 0) {
        return {
          totals,
          mismatch: `host-call trace differs at call ${d}\n${where()}\nreference calls: ${show(a.trace)}\ncandidate calls: ${show(b.trace)}`,
        };
      }
      if (show(a.out) !== show(b.out)) {
        return {
          totals,
          mismatch: `result differs\n${where()}\nreference: ${show(a.out)}\ncandidate: ${show(b.out)}`,
        };
      }
      const sa = stateOf(ref);
      const sb = stateOf(cand);
      if (show(sa) !== show(sb)) {
        return {
          totals,
          mismatch: `KV/vault state differs\n${where()}\nreference: ${show(sa)}\ncandidate: ${show(sb)}`,
        };
      }
    }
    totals.hostCalls += ref.hostCalls;
  }
  return { totals, mismatch: null };
}
