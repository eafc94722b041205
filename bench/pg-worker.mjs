// One process of `npm run bench:pg` (spawned by bench/pg.mjs): `lanes`
// concurrent loops on one store over PostgresKvStorage + PostgresVault,
// from `startAt` to `endAt` (wall clock), no faults. Prints one JSON line:
// operations by kind, failures by code, latencies (ms) and the conditional
// writes that lost their race (each one a re-read and retry in strict mode).
import pg from "pg";
import { PostgresKvStorage, PostgresVault } from "server-credential-store-wasm/postgres";
import { ServerCredentialStore as Ours } from "server-credential-store-wasm";
import { ServerCredentialStore as Oracle } from "../tests/oracle/server-credential-store.mjs";
import { rng } from "../tests/js/support/canon.mjs";

const cfg = JSON.parse(process.argv[2]);
const rand = rng(cfg.seed);
const pool = new pg.Pool({ connectionString: cfg.url, max: cfg.lanes + 1 });
pool.on("error", () => {});
const kv = new PostgresKvStorage({ pool });
const vault = new PostgresVault({ pool, key: Buffer.from(cfg.key, "hex") });
let lostRaces = 0;
let conditional = 0;
const metadata = {
  get: (k) => kv.get(k),
  put: (k, v) => kv.put(k, v),
  delete: (k) => kv.delete(k),
  getAll: () => kv.getAll(),
  getByPrefix: (p) => kv.getByPrefix(p),
  putIf: async (k, v, e) => {
    conditional += 1;
    const ok = await kv.putIf(k, v, e);
    if (!ok) lostRaces += 1;
    return ok;
  },
  deleteIf: async (k, e) => {
    conditional += 1;
    const ok = await kv.deleteIf(k, e);
    if (!ok) lostRaces += 1;
    return ok;
  },
};
const scope = { userId: "bench", projectId: "pg" };
const store =
  cfg.contender === "oracle"
    ? new Oracle({ metadata, vault, ...scope })
    : new Ours({ metadata, vault, ...scope, strict: cfg.contender === "strict" });

const result = { ops: 0, byOp: {}, failed: {}, latencies: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await pool.query("SELECT 1"); // connect before the start
await sleep(Math.max(0, cfg.startAt - Date.now()));

async function lane(l) {
  let n = 0;
  while (Date.now() < cfg.endAt) {
    const key = `k${rand.int(cfg.keys)}`;
    const r = rand();
    const op = r < cfg.mix.put ? "put" : r < cfg.mix.put + cfg.mix.delete ? "delete" : "get";
    const t0 = performance.now();
    try {
      if (op === "put") await store.put(key, `value-${process.pid}-${l}-${++n}`, { label: "bench" });
      else if (op === "delete") await store.delete(key);
      else await store.get(key);
    } catch (e) {
      const code = e?.code ?? "error";
      result.failed[code] = (result.failed[code] ?? 0) + 1;
    }
    result.latencies.push(Math.round((performance.now() - t0) * 1000) / 1000);
    result.ops += 1;
    result.byOp[op] = (result.byOp[op] ?? 0) + 1;
  }
}

await Promise.all(Array.from({ length: cfg.lanes }, (_, l) => lane(l)));
result.conditional = conditional;
result.lostRaces = lostRaces;
await pool.end();
process.stdout.write(JSON.stringify(result) + "\n");
