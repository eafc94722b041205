// One of the processes sharing the SQLite store (spawned by run.mjs).
//
//   node worker.mjs '{"db":…,"index":0,"seconds":5,"seed":1,"lanes":3,"faultRate":0.05,"log":…}'
//
// Several lanes (async loops) run at once on one shared-scope store instance
// (team/shared) and on one store per lane with a lane-private scope
// (team/w<i>-l<j>). Keys:
//   - w<i>-l<j>-k<n> in team/shared and every key of team/w<i>-l<j>: touched by
//     one lane only, so the sequential model applies: every result is checked
//     against it, and a mismatch is a violation;
//   - shared-<n> in team/shared: touched by every lane of every process; the
//     outcomes that the sequential model would not allow are counted as
//     anomalies by kind (no lock exists, so they are expected).
// Each rejected operation is logged (one JSON line: id, op, message) to the
// log file, as are reads of expired rows (their internal delete's failure is
// swallowed by design). The summary goes to stdout as one JSON line.
import fs from "node:fs";
import { ServerCredentialStore } from "../js/helpers/impl.mjs";
import { openDatabase, sqliteHost } from "./sqlite-host.mjs";
import { rng } from "../js/support/canon.mjs";

const cfg = JSON.parse(process.argv[2]);
const USER = "team";
const SHARED = "shared";
const FUTURE = new Date("2999-01-01T00:00:00.000Z");
const PAST = new Date("2001-01-01T00:00:00.000Z");
const PRIVATE_KEYS = 6;
const SHARED_KEYS = 3;

const rand = rng(cfg.seed);
const stats = { calls: 0, faults: 0, faultsByKind: {} };
const db = openDatabase(cfg.db);
const host = sqliteHost(db, { rand, faultRate: cfg.faultRate, stats });
const logFd = fs.openSync(cfg.log, "a");

const summary = {
  index: cfg.index,
  pid: process.pid,
  ops: 0,
  opsByKind: {},
  rejections: 0,
  violations: [],
  anomalies: {},
};
const anomaly = (kind) => (summary.anomalies[kind] = (summary.anomalies[kind] ?? 0) + 1);
const violation = (lane, what) => {
  if (summary.violations.length < 50) summary.violations.push(`${lane}: ${what}`);
  else summary.violationsTruncated = (summary.violationsTruncated ?? 0) + 1;
};
const logLine = (o) => fs.writeSync(logFd, JSON.stringify(o) + "\n");

const shared = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: SHARED });

// ------------------------------------------------------------------ the model
// State of a key as its only writer sees it:
//   ABSENT     no committed row: get → undefined, delete → false
//   EXPIRED    committed expired row: get → undefined, delete → true
//   INVISIBLE  get → undefined; delete → either
//   LIVE(v)    committed, unexpired, value v (v = ANY: value not known)
//   UNKNOWN    after a rejected write
const ABSENT = "ABSENT";
const EXPIRED = "EXPIRED";
const INVISIBLE = "INVISIBLE";
const UNKNOWN = "UNKNOWN";
const ANY = Symbol("any value");
const live = (v) => ({ live: v });
const show = (s) => (typeof s === "object" ? `LIVE(${s.live === ANY ? "?" : s.live})` : s);

class Keyspace {
  constructor(lane, store, scopePrefix, keys) {
    this.lane = lane;
    this.store = store;
    this.prefix = scopePrefix;
    this.keys = keys;
    this.state = new Map(keys.map((k) => [k, ABSENT]));
    this.written = new Map(keys.map((k) => [k, new Set()])); // every value ever put (resolved or not)
  }
  id(key) {
    return this.prefix + key;
  }
  fail(what) {
    violation(this.lane, what);
  }
  checkRead(key, got) {
    const s = this.state.get(key);
    if (got !== undefined && !this.written.get(key).has(got)) {
      this.fail(`get(${key}) → ${got}: a value never written to this key`);
    }
    if (typeof s === "object") {
      if (got === undefined) this.fail(`get(${key}) → undefined, model ${show(s)}`);
      else if (s.live !== ANY && got !== s.live) this.fail(`get(${key}) → ${got}, model ${show(s)}`);
    } else if (s !== UNKNOWN && got !== undefined) {
      this.fail(`get(${key}) → ${got}, model ${s}`);
    }
  }
}

async function settle(p) {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

function rejected(ks, op, key, error) {
  summary.rejections += 1;
  logLine({ id: key === undefined ? null : ks.id(key), scope: ks.prefix, op, message: String(error?.message ?? error) });
}

/** One checked operation on a key space with sequential semantics. */
async function sequentialOp(ks, allowDeleteAll) {
  const r = rand();
  const key = ks.keys[rand.int(ks.keys.length)];
  const s = ks.state.get(key);
  let kind;
  if (r < 0.35) {
    kind = "put";
    const value = `${ks.lane}:${++counter}`;
    const past = rand() < 0.15;
    ks.written.get(key).add(value);
    const res = await settle(ks.store.put(key, value, { label: `L${counter}`, expiresAt: past ? PAST : FUTURE }));
    if (res.ok) ks.state.set(key, past ? EXPIRED : live(value));
    else {
      ks.state.set(key, UNKNOWN);
      rejected(ks, "put", key, res.error);
    }
  } else if (r < 0.6) {
    kind = "get";
    const res = await settle(ks.store.get(key));
    if (!res.ok) rejected(ks, "get", key, res.error);
    else {
      ks.checkRead(key, res.value);
      if (res.value !== undefined) ks.state.set(key, live(res.value));
      else {
        if (s === EXPIRED || s === UNKNOWN || s === INVISIBLE) logLine({ id: ks.id(key), op: "get-expired" });
        ks.state.set(key, s === ABSENT ? ABSENT : INVISIBLE);
      }
    }
  } else if (r < 0.7) {
    kind = "has";
    const res = await settle(ks.store.has(key));
    if (!res.ok) rejected(ks, "has", key, res.error);
    else {
      if (res.value === true) {
        if (typeof s !== "object" && s !== UNKNOWN) ks.fail(`has(${key}) → true, model ${s}`);
        if (typeof s !== "object") ks.state.set(key, live(ANY));
      } else {
        if (typeof s === "object") ks.fail(`has(${key}) → false, model ${show(s)}`);
        if (s === EXPIRED || s === UNKNOWN || s === INVISIBLE) logLine({ id: ks.id(key), op: "get-expired" });
        if (typeof s !== "object") ks.state.set(key, s === ABSENT ? ABSENT : INVISIBLE);
      }
    }
  } else if (r < 0.88) {
    kind = "delete";
    const res = await settle(ks.store.delete(key));
    if (!res.ok) {
      ks.state.set(key, UNKNOWN);
      rejected(ks, "delete", key, res.error);
    } else {
      if (res.value === true && s === ABSENT) ks.fail(`delete(${key}) → true, model ABSENT`);
      if (res.value === false && (typeof s === "object" || s === EXPIRED)) ks.fail(`delete(${key}) → false, model ${show(s)}`);
      ks.state.set(key, ABSENT);
    }
  } else if (r < 0.96 || !allowDeleteAll) {
    kind = "listMetadata";
    const res = await settle(ks.store.listMetadata());
    if (!res.ok) rejected(ks, "listMetadata", undefined, res.error);
    else {
      const listed = new Set(res.value.map((m) => m.key));
      for (const k of ks.keys) {
        const st = ks.state.get(k);
        if (listed.has(k)) {
          if (typeof st !== "object" && st !== UNKNOWN) ks.fail(`listMetadata lists ${k}, model ${st}`);
          if (typeof st !== "object") ks.state.set(k, live(ANY));
        } else {
          if (typeof st === "object") ks.fail(`listMetadata misses ${k}, model ${show(st)}`);
          if (st === UNKNOWN) ks.state.set(k, INVISIBLE);
        }
      }
    }
  } else {
    kind = "deleteAll";
    const res = await settle(ks.store.deleteAll());
    if (!res.ok) {
      for (const k of ks.keys) ks.state.set(k, UNKNOWN);
      rejected(ks, "deleteAll", undefined, res.error);
      for (const k of ks.keys) logLine({ id: ks.id(k), op: "deleteAll-member" });
    } else {
      for (const k of ks.keys) ks.state.set(k, ABSENT);
    }
  }
  return kind;
}

/** Unsynchronised use of the shared keys: outcomes counted, not judged. */
async function sharedOp(lane) {
  const key = `shared-${rand.int(SHARED_KEYS)}`;
  const ks = { id: (k) => `${USER}/${SHARED}/${k}`, prefix: `${USER}/${SHARED}/` };
  const r = rand();
  const value = `${lane}:${++counter}`;
  if (r < 0.5) {
    const put = await settle(shared.put(key, value, { expiresAt: FUTURE }));
    if (!put.ok) {
      rejected(ks, "put", key, put.error);
      return "shared-put";
    }
    const got = await settle(shared.get(key));
    if (!got.ok) rejected(ks, "get", key, got.error);
    else if (got.value === undefined) anomaly("shared: get right after own put → undefined");
    else if (got.value !== value) anomaly("shared: get right after own put → another process's value");
    if (got.ok && got.value !== undefined && !/^w\d+-l\d+:\d+$/.test(got.value)) {
      violation(lane, `shared get → malformed value ${got.value}`);
    }
    return "shared-put+get";
  }
  if (r < 0.8) {
    const del = await settle(shared.delete(key));
    if (!del.ok) rejected(ks, "delete", key, del.error);
    else anomaly(del.value ? "shared: delete → true" : "shared: delete → false");
    return "shared-delete";
  }
  const got = await settle(shared.get(key));
  if (!got.ok) rejected(ks, "get", key, got.error);
  else if (got.value !== undefined && !/^w\d+-l\d+:\d+$/.test(got.value)) {
    violation(lane, `shared get → malformed value ${got.value}`);
  }
  return "shared-get";
}

let counter = 0;

async function runLane(j, deadline) {
  const lane = `w${cfg.index}-l${j}`;
  const laneStore = new ServerCredentialStore({ vault: host.vault, metadata: host.metadata, userId: USER, projectId: lane });
  const inShared = new Keyspace(
    lane,
    shared,
    `${USER}/${SHARED}/`,
    Array.from({ length: PRIVATE_KEYS }, (_, n) => `${lane}-k${n}`),
  );
  const ownScope = new Keyspace(
    lane,
    laneStore,
    `${USER}/${lane}/`,
    Array.from({ length: PRIVATE_KEYS }, (_, n) => `k${n}`),
  );
  while (Date.now() < deadline) {
    const r = rand();
    let kind;
    if (r < 0.5) kind = await sequentialOp(inShared, false);
    else if (r < 0.75) kind = await sequentialOp(ownScope, true);
    else kind = await sharedOp(lane);
    summary.ops += 1;
    summary.opsByKind[kind] = (summary.opsByKind[kind] ?? 0) + 1;
  }
  return [inShared, ownScope];
}

/** After the run: the rows and bytes of each lane's keys match its model. */
function checkFinal(ks) {
  for (const key of ks.keys) {
    const s = ks.state.get(key);
    const id = ks.id(key);
    const row = host.tables.getRow(id);
    const secret = host.tables.getSecret(id);
    const committed = row !== undefined && row.pending !== true;
    if (typeof s === "object") {
      if (!committed) ks.fail(`final ${key}: model ${show(s)} but no committed row`);
      else if (s.live !== ANY && secret !== s.live) ks.fail(`final ${key}: model ${show(s)}, vault holds ${secret}`);
    } else if (s === ABSENT && committed) {
      ks.fail(`final ${key}: model ABSENT but a committed row exists`);
    } else if (s === EXPIRED && !(committed && new Date(row.expiresAt) <= new Date())) {
      ks.fail(`final ${key}: model EXPIRED but no expired committed row`);
    }
  }
}

const deadline = Date.now() + cfg.seconds * 1000;
const spaces = (await Promise.all(Array.from({ length: cfg.lanes }, (_, j) => runLane(j, deadline)))).flat();
for (const ks of spaces) checkFinal(ks);
Object.assign(summary, {
  hostCalls: stats.calls,
  faults: stats.faults,
  faultsByKind: stats.faultsByKind,
});
fs.closeSync(logFd);
db.close();
process.stdout.write(JSON.stringify(summary) + "\n");
