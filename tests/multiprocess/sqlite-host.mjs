// One SQLite database (better-sqlite3, WAL, busy_timeout) holding both host
// objects of the store: the metadata KV (table kv: key TEXT PRIMARY KEY,
// value TEXT = the row as JSON) and the vault (table vault: id, secret).
// Each host call is one autocommit statement, so it is atomic across
// processes. A fault injector can make any call fail: synchronously, before
// performing (reject), or after performing ("the write happened but the
// acknowledgement was lost").
import Database from "better-sqlite3";

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS vault (id TEXT PRIMARY KEY, secret TEXT NOT NULL);
`;

export function openDatabase(file) {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 10000");
  db.pragma("synchronous = NORMAL");
  db.exec(SCHEMA);
  return db;
}

/** The raw (fault-free, synchronous) table access, shared by hosts and checkers. */
export function tables(db) {
  const q = {
    kvGet: db.prepare("SELECT value FROM kv WHERE key = ?"),
    kvPut: db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    kvDelete: db.prepare("DELETE FROM kv WHERE key = ?"),
    kvAll: db.prepare("SELECT key, value FROM kv ORDER BY key"),
    vGet: db.prepare("SELECT secret FROM vault WHERE id = ?"),
    vPut: db.prepare("INSERT INTO vault (id, secret) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET secret = excluded.secret"),
    vDelete: db.prepare("DELETE FROM vault WHERE id = ?"),
    vAll: db.prepare("SELECT id, secret FROM vault ORDER BY id"),
  };
  return {
    getRow(key) {
      const r = q.kvGet.get(key);
      return r === undefined ? undefined : JSON.parse(r.value);
    },
    putRow(key, row) {
      q.kvPut.run(key, JSON.stringify(row));
    },
    deleteRow(key) {
      q.kvDelete.run(key);
    },
    allRows() {
      return q.kvAll.all().map(({ key, value }) => ({ key, value: JSON.parse(value) }));
    },
    getSecret(id) {
      return q.vGet.get(id)?.secret;
    },
    setSecret(id, secret) {
      q.vPut.run(id, String(secret));
    },
    deleteSecret(id) {
      q.vDelete.run(id);
    },
    allSecrets() {
      return q.vAll.all();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Host objects over the tables. `rand` is a seeded PRNG; `faultRate` the
 * chance that a call fails; `stats` counts calls and faults by kind.
 */
export function sqliteHost(db, { rand, faultRate, stats }) {
  const t = tables(db);
  let n = 0;
  function call(object, method, perform) {
    stats.calls += 1;
    let fault = null;
    if (rand() < faultRate) {
      const k = rand();
      fault = k < 0.25 ? "sync" : k < 0.6 ? "before" : "after";
      stats.faults += 1;
      stats.faultsByKind[fault] = (stats.faultsByKind[fault] ?? 0) + 1;
    }
    const err = () => new Error(`injected ${fault} fault #${++n} in ${object}.${method}`);
    if (fault === "sync") throw err();
    const yieldBefore = rand() < 0.5;
    const yieldAfter = rand() < 0.3;
    return (async () => {
      if (yieldBefore) await tick(); // let other lanes (and processes) interleave
      if (fault === "before") throw err();
      const v = perform();
      if (fault === "after") throw err();
      if (yieldAfter) await tick();
      return v;
    })();
  }
  return {
    metadata: {
      get: (id) => call("metadata", "get", () => t.getRow(id)),
      put: (id, row) => call("metadata", "put", () => t.putRow(id, row)),
      delete: (id) => call("metadata", "delete", () => t.deleteRow(id)),
      getAll: () => call("metadata", "getAll", () => t.allRows()),
    },
    vault: {
      setSecret: (id, secret) => call("vault", "setSecret", () => t.setSecret(id, secret)),
      getSecret: (id) => call("vault", "getSecret", () => t.getSecret(id)),
      deleteSecret: (id) => call("vault", "deleteSecret", () => t.deleteSecret(id)),
    },
    tables: t,
  };
}
