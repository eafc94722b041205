// A real PostgreSQL 15 server for a Node test file: a throwaway cluster of
// scripts/pg.sh. Under `bash scripts/pg.sh run -- ...` the wrapper's cluster
// is used (PG_DIR names a pg.sh cluster); otherwise the file starts its own
// and stops it when done. A PGURL pointing anywhere else is never used: the
// tests create databases and terminate connections.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../../../scripts/pg.sh", import.meta.url));

export function startCluster() {
  const { PGURL, PG_DIR } = process.env;
  if (PGURL && PG_DIR && /\/credstore-pg\.[^/]+$/.test(PG_DIR)) {
    return { url: PGURL, dir: PG_DIR, stop() {} };
  }
  const out = execFileSync("bash", [script, "start"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const vars = Object.fromEntries(
    out
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  if (!vars.PGURL || !vars.PG_DIR) throw new Error(`scripts/pg.sh start printed no cluster:\n${out}`);
  let stopped = false;
  return {
    url: vars.PGURL,
    dir: vars.PG_DIR,
    stop() {
      if (stopped) return;
      stopped = true;
      execFileSync("bash", [script, "stop", vars.PG_DIR], { stdio: "inherit" });
    },
  };
}

/** `url` with more query parameters (application_name, options, ...). */
export function withParams(url, params) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}
