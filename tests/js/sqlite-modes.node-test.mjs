// The SQLite files the package creates (the database and its -wal and -shm
// files) are 0600 whatever the umask: they hold every row and, with
// SqliteVault, plaintext secrets. An existing file keeps its mode. Node only
// (better-sqlite3 is a native module); each case runs in a child process with
// its own umask.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MODULE = fileURLToPath(new URL("../../js/sqlite-kv.mjs", import.meta.url));

function openAndWrite(file, umask) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `
    process.umask(${umask});
    const { SqliteKvStorage, SqliteVault } = await import(${JSON.stringify(MODULE)});
    const kv = new SqliteKvStorage(${JSON.stringify(file)});
    const vault = new SqliteVault(${JSON.stringify(file)});
    await kv.put("u/p/k", { key: "k" });
    await vault.setSecret("u/p/k", "plaintext secret");
    // Both connections stay open: the -wal and -shm files exist now.
    const fs = await import("node:fs");
    const modes = Object.fromEntries(["", "-wal", "-shm"].map((s) => [s || "db", fs.statSync(${JSON.stringify(file)} + s).mode & 0o777]));
    console.log(JSON.stringify(modes));
    kv.close(); vault.close();
  `], { encoding: "utf8", cwd: fileURLToPath(new URL("../../", import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("SQLite files created by the package are 0600, under umask 022 and umask 000", () => {
  for (const umask of ["0o022", "0o000"]) {
    const file = join(mkdtempSync(join(tmpdir(), "credstore-sqlite-")), "cred.db");
    assert.deepEqual(openAndWrite(file, umask), { db: 0o600, "-wal": 0o600, "-shm": 0o600 }, `umask ${umask}`);
  }
});

test("an existing database file keeps its mode (the package creates, never chmods yours)", () => {
  const file = join(mkdtempSync(join(tmpdir(), "credstore-sqlite-")), "cred.db");
  writeFileSync(file, "", { mode: 0o640 });
  const modes = openAndWrite(file, "0o022");
  assert.equal(modes.db, 0o640);
  assert.ok(existsSync(file));
  assert.equal(statSync(file).mode & 0o777, 0o640);
});
