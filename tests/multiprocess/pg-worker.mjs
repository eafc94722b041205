// One process of the PostgreSQL run (spawned by pg-run.mjs, and killed,
// stopped and restarted by it).
//
//   node pg-worker.mjs '{"url":…,"index":0,"incarnation":0,"deadline":…,"seed":1,"lanes":2,
//                        "keys":3,"strict":true,"faultRate":0.03,"key":<hex>,"history":<file>}'
//
// `lanes` async loops share one ServerCredentialStore (strict or compatible)
// over PostgresKvStorage + PostgresVault on one pg Pool whose connections
// carry application_name `credstore-mp-w<index>-<incarnation>` (the
// coordinator terminates them by that name, and waits for them to be gone
// after a SIGKILL). Every lane runs put/get/has/delete on the shared keys
// k0..k<keys-1> of one scope until the deadline.
//
// Faults: every host call (each method of both backends) fails with
// probability `faultRate`, in one of four ways: `sync` (throws before
// calling), `before` (rejects without calling), `after` (the call takes
// effect, then it rejects: a lost answer) and `noanswer` (the promise never
// settles; the call is issued now or a little later and lands whenever it
// does; the store's `timeoutMs` fails the operation meanwhile).
//
// The history file gets one JSON line per event, written synchronously so a
// SIGKILL loses none that happened:
//   {"e":"hello","t":…}                                   at start
//   {"e":"s","l":lane,"n":seq,"op":…,"k":key,"v":value,"t":…}  before a call
//   {"e":"r","l":lane,"n":seq,"ok":bool,"out":…,"code":…,"t":…} after it settled
//   {"e":"ls","i":n,"t":…} / {"e":"le","i":n,"t":…}        a host call of the lane still in
//                                                           flight when its put or delete ended
//                                                           (a noanswer fault's, or one past
//                                                           timeoutMs): issued at t / settled at t
//                                                           (lanes told apart by AsyncLocalStorage)
//   {"e":"f","kind":…,"m":"metadata.putIf"}                an injected fault
//   {"e":"stats","calls":n,"byMethod":{…},"unattributed":n} cumulative, every 250 ms and at the end
//   {"e":"done","t":…}                                     every lane and late call finished
// Times `t` are process.hrtime.bigint() in nanoseconds, as Numbers: libuv
// reads CLOCK_MONOTONIC, one clock for every process of the machine (the
// coordinator checks each worker's hello against its own readings).
import fs from "node:fs";
import { AsyncLocalStorage } from "node:async_hooks";
import pg from "pg";
import { ServerCredentialStore } from "../js/helpers/impl.mjs";
import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";
import { rng } from "../js/support/canon.mjs";

const cfg = JSON.parse(process.argv[2]);
const now = () => Number(process.hrtime.bigint());
const fd = fs.openSync(cfg.history, "a");
const log = (o) => fs.writeSync(fd, JSON.stringify(o) + "\n");
log({ e: "hello", t: now(), pid: process.pid });

const rand = rng(cfg.seed);
const appName = `credstore-mp-w${cfg.index}-${cfg.incarnation}`;
const url = new URL(cfg.url);
url.searchParams.set("application_name", appName);
const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
// A connection ended by pg_terminate_backend while idle is reported here;
// the pool has dropped it already.
pool.on("error", () => {});

const metadata = new PostgresKvStorage({ pool, table: cfg.table ?? "credential_metadata" });
const vault = new PostgresVault({ pool, table: cfg.vaultTable ?? "credential_vault", key: Buffer.from(cfg.key, "hex") });

let calls = 0;
const byMethod = {};
/** Real calls not settled yet: promise → { i, t (issued), lane, tracked }. */
const inflight = new Map();
let callSeq = 0;
/** The lane whose operation made a host call (the store's awaits carry it). */
const laneOf = new AsyncLocalStorage();
let unattributed = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Issues `perform()` as a real call, known until it settles. */
function issue(perform) {
  const c = { i: ++callSeq, t: now(), lane: laneOf.getStore(), tracked: false };
  if (c.lane === undefined) unattributed += 1;
  const p = Promise.resolve()
    .then(perform)
    .finally(() => {
      inflight.delete(p);
      if (c.tracked) log({ e: "le", i: c.i, t: now() });
    });
  inflight.set(p, c);
  return p;
}

/**
 * At the end of a put or delete: the calls still in flight may take effect
 * after it (its caller stopped waiting for them); the checker widens the
 * operation to their landing.
 */
function trackInflight(lane) {
  for (const c of inflight.values()) {
    // A call of another lane is that lane's (one of unknown lane: everyone's).
    if (c.tracked || (c.lane !== undefined && c.lane !== lane)) continue;
    c.tracked = true;
    log({ e: "ls", i: c.i, t: c.t });
  }
}

/** `target` with each method failing at random in the four ways. */
function faulty(target, name, methods) {
  const out = {};
  for (const m of methods) {
    const label = `${name}.${m}`;
    out[m] = (...args) => {
      calls += 1;
      byMethod[label] = (byMethod[label] ?? 0) + 1;
      if (!(rand() < cfg.faultRate)) return issue(() => target[m](...args));
      const r = rand();
      const kind = r < 0.15 ? "sync" : r < 0.5 ? "before" : r < 0.9 ? "after" : "noanswer";
      log({ e: "f", kind, m: label });
      const err = new Error(`injected ${kind} fault in ${label}`);
      if (kind === "sync") throw err;
      if (kind === "before") return Promise.reject(err);
      if (kind === "after") {
        return issue(() => target[m](...args)).then(
          () => Promise.reject(err),
          () => Promise.reject(err),
        );
      }
      // noanswer: the call lands whenever it does; its caller never hears.
      const delay = rand() < 0.5 ? 0 : rand.int(300);
      issue(() => sleep(delay).then(() => target[m](...args))).catch(() => {});
      return new Promise(() => {});
    };
  }
  return out;
}

// `hide` (self-tests only): methods the store must not see, e.g. putIf and
// deleteIf, to check that the run catches what their absence allows.
const shown = (methods) => methods.filter((m) => !(cfg.hide ?? []).includes(m));
const store = new ServerCredentialStore({
  metadata: faulty(metadata, "metadata", shown(["get", "put", "delete", "getAll", "getByPrefix", "putIf", "deleteIf"])),
  vault: faulty(vault, "vault", shown(["setSecret", "getSecret", "deleteSecret", "listIds"])),
  userId: "team",
  projectId: "shared",
  strict: cfg.strict,
  timeoutMs: cfg.timeoutMs ?? 300,
});

const stats = () => log({ e: "stats", calls, byMethod, unattributed });
const ticker = setInterval(stats, 250);

let seq = 0;
async function lane(l) {
  while (Date.now() < cfg.deadline) {
    const key = `k${rand.int(cfg.keys)}`;
    const r = rand();
    const op = r < 0.4 ? "put" : r < 0.7 ? "get" : r < 0.8 ? "has" : "delete";
    const n = ++seq;
    const value = op === "put" ? `w${cfg.index}.${cfg.incarnation}.l${l}.${n}` : undefined;
    log({ e: "s", l, n, op, k: key, v: value, t: now() });
    let rec;
    try {
      const out = await laneOf.run(l, () =>
        op === "put" ? store.put(key, value, { label: `n${n}` })
        : op === "get" ? store.get(key)
        : op === "has" ? store.has(key)
        : store.delete(key),
      );
      rec = { e: "r", l, n, ok: true, out, t: now() };
    } catch (e) {
      rec = { e: "r", l, n, ok: false, code: e?.code ?? null, t: now() };
    }
    if (op === "put" || op === "delete") trackInflight(l);
    log(rec);
  }
}

await Promise.all(Array.from({ length: cfg.lanes }, (_, l) => lane(l)));
while (inflight.size) await Promise.allSettled([...inflight.keys()]);
clearInterval(ticker);
stats();
log({ e: "done", t: now() });
fs.closeSync(fd);
await pool.end();
