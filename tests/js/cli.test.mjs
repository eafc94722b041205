// The operator CLI (`server-credential-store`, js/cli.mjs shipped as
// pkg/cli.mjs), run as a real process under node in a scratch directory:
// the default file store (made by init, never by a read; --dir,
// CREDSTORE_DIR; private modes), the scope from flags or CREDSTORE_USER /
// CREDSTORE_PROJECT, --output table|json|env, exit codes (0 ok, 1 failed,
// 2 usage, 3 not found, 4 orphans found), --help texts, orphans/reconcile
// against a config module whose vault fails on demand, export/import of
// dotenv files read back by bash, hidden input in a real pty (python3's pty
// module), completion scripts run by bash, zsh and fish, migrate from a real
// EncryptedKvCredentialStore of @workglow/storage, terminal escapes, and no
// secret ever on stderr. Runs under node and bun (the CLI itself always runs
// under node).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { inspect } from "node:util";

const root = fileURLToPath(new URL("../../", import.meta.url));
// The shipped file once the build copies it, else the source (same code).
const CLI = existsSync(join(root, "pkg/cli.mjs")) ? join(root, "pkg/cli.mjs") : join(root, "js/cli.mjs");
const NODE = process.versions.bun ? "node" : process.execPath;
const TOOL = "server-credential-store";
const COMMANDS = ["list", "get", "put", "delete", "orphans", "reconcile", "export", "import", "migrate"];
const SCOPE = ["--user", "alice", "--project", "demo"];

// Each test spawns the CLI many times: beyond bun's default 5 s per test on a busy machine.
const SLOW = { timeout: 120_000 };

const scratch = () => mkdtempSync(join(tmpdir(), "credstore-cli-"));
// The environment of every run: the caller's, without CREDSTORE_* (set per test).
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("CREDSTORE_")));

/**
 * Runs the CLI. Every secret in these tests contains "SECRET-", and every
 * run checks that stderr never shows one.
 */
function run(cwd, args, { input, env = {} } = {}) {
  const r = spawnSync(NODE, [CLI, ...args], { cwd, input, env: { ...BASE_ENV, ...env }, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.error, undefined, `spawn failed: ${r.error}`);
  assert.doesNotMatch(r.stderr, /SECRET-/, `a secret leaked to stderr of ${args.join(" ")}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** With --json: stdout parsed; stderr is JSON lines, { warning } objects then at most one { error }. */
const runJson = (cwd, args, opts) => {
  const r = run(cwd, [...args, "--json"], opts);
  const lines = r.stderr.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return {
    ...r,
    json: r.stdout ? JSON.parse(r.stdout) : undefined,
    error: lines.find((l) => l.error)?.error,
    warnings: lines.filter((l) => l.warning).map((l) => l.warning),
  };
};

// A config module: metadata rows and secrets in state.json next to it (each
// CLI run is a new process), and a vault method fails once for each file
// fail.<method> present (the file is removed when it fails). The failure
// message quotes the value, as a careless backend might: the CLI must mask it.
const FLAKY_CONFIG = `
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { inspect } from "node:util";
const here = (name) => new URL(name, import.meta.url);
const load = () => (existsSync(here("state.json")) ? JSON.parse(readFileSync(here("state.json"), "utf8")) : { rows: {}, secrets: {} });
const save = (state) => writeFileSync(here("state.json"), JSON.stringify(state, null, 1));
// The fail file's content says how the message quotes the value: "" as is,
// or json, json2 (escaped twice), inspect, uri, base64, hex.
const RENDER = {
  "": (v) => v, json: (v) => JSON.stringify(v), json2: (v) => JSON.stringify(JSON.stringify(v)),
  uri: (v) => encodeURIComponent(v), base64: (v) => Buffer.from(v).toString("base64"),
  hex: (v) => Buffer.from(v).toString("hex"),
  inspect: (v) => inspect(v),
};
const failOnce = (method, detail) => {
  if (!existsSync(here("fail." + method))) return;
  const how = readFileSync(here("fail." + method), "utf8");
  rmSync(here("fail." + method));
  throw new Error("simulated " + method + " outage (" + RENDER[how](detail) + ")");
};
const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

export default async function backends(context) {
  writeFileSync(here("context.json"), JSON.stringify(context));
  const metadata = {
    async get(key) { return clone(load().rows[key]); },
    async put(key, value) { const s = load(); s.rows[key] = clone(value); save(s); },
    async delete(key) { const s = load(); delete s.rows[key]; save(s); },
    async getAll() {
      const entries = Object.entries(load().rows).map(([key, value]) => ({ key, value }));
      return entries.length ? entries : undefined;
    },
  };
  const vault = {
    async setSecret(id, value) { failOnce("setSecret", "value " + value); const s = load(); s.secrets[id] = value; save(s); },
    async getSecret(id) { return load().secrets[id]; },
    async deleteSecret(id) { failOnce("deleteSecret", id); const s = load(); delete s.secrets[id]; save(s); },
  };
  return { metadata, vault, close() { writeFileSync(here("closed"), "yes"); } };
}
`;

/** A scratch directory with a default store made by `init`. */
function initialised() {
  const dir = scratch();
  const r = run(dir, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

function flakyDir() {
  const dir = scratch();
  writeFileSync(join(dir, "credstore.config.mjs"), FLAKY_CONFIG);
  return dir;
}
const state = (dir) => JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));
const withConfig = [...SCOPE, "--config", "./credstore.config.mjs"];

test("--help: the tool and every command; no arguments is a usage error", SLOW, () => {
  const dir = scratch();
  for (const args of [["--help"], ["-h"], ["help"]]) {
    const r = run(dir, args);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: ${TOOL} <command>`));
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, "m"), `lists ${c}`);
    assert.match(r.stdout, /Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 not found/);
    assert.match(r.stdout, /--config FILE/);
  }
  for (const c of COMMANDS) {
    for (const args of [[c, "--help"], ["help", c], [c, "-h", ...SCOPE]]) {
      const r = run(dir, args);
      assert.equal(r.code, 0, args.join(" "));
      assert.match(r.stdout, new RegExp(`^Usage: ${TOOL} ${c}\\b`), args.join(" "));
      assert.match(r.stdout, /--user U/);
      assert.equal(r.stderr, "");
    }
  }
  // The commands without a scope.
  for (const c of ["init", "completion"]) {
    assert.match(run(dir, ["--help"]).stdout, new RegExp(`^  ${c}\\b`, "m"));
    const r = run(dir, [c, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: ${TOOL} ${c}\\b`));
    assert.doesNotMatch(r.stdout, /--user U/);
  }
  const put = run(dir, ["put", "--help"]).stdout;
  for (const opt of ["--value-stdin", "--value-file FILE", "--value V", "--label L", "--provider P", "--expires ISO", "--allow-past"]) {
    assert.ok(put.includes(opt), opt);
  }
  const migrate = run(dir, ["migrate", "--help"]).stdout;
  for (const opt of ["--from-dir DIR", "--from-config FILE", "--passphrase-stdin", "--dry-run", "--overwrite"]) assert.ok(migrate.includes(opt), opt);
  assert.match(run(dir, ["export", "--help"]).stdout, /--values[\s\S]*--out FILE/);
  assert.match(run(dir, ["reconcile", "--help"]).stdout, /--dry-run[\s\S]*--stale-pending-ms N/);
  assert.match(run(dir, ["orphans", "--help"]).stdout, /--stale-pending-ms N/);

  const none = run(dir, []);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^Usage: /);
  assert.equal(existsSync(join(dir, ".credstore")), false, "help touches no backend");
});

test("default backend: put/get/list/delete round trip under ./.credstore/", SLOW, () => {
  const dir = initialised();
  let r = run(dir, ["put", "openai", ...SCOPE, "--value-stdin", "--label", "OpenAI key", "--provider", "openai"], {
    input: "SECRET-sk-1 with spaces\n",
  });
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "stored openai\n", ""]);
  r = run(dir, ["put", "github", ...SCOPE, "--value", "SECRET-gh", "--expires", "2030-01-01T00:00:00Z"]);
  assert.equal(r.code, 0);

  r = run(dir, ["get", "openai", ...SCOPE]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, "SECRET-sk-1 with spaces", ""], "exact value, one trailing newline of stdin dropped");

  r = run(dir, ["list", ...SCOPE]);
  assert.equal(r.code, 0);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^KEY\s+LABEL\s+PROVIDER\s+CREATED AT\s+UPDATED AT\s+EXPIRES AT$/);
  assert.match(lines[1], /^-+( +-+){5}$/);
  assert.match(lines[2], /^github\s+-\s+-\s+\S+\s+\S+\s+2030-01-01T00:00:00\.000Z$/);
  assert.match(lines[3], /^openai\s+OpenAI key\s+openai\s+/);
  assert.equal(lines.length, 4);
  assert.equal(lines[2].indexOf("2030"), lines[0].indexOf("EXPIRES AT"), "columns are aligned");
  assert.doesNotMatch(r.stdout, /SECRET-/, "list never shows a value");

  // An update keeps label and provider.
  assert.equal(run(dir, ["put", "openai", ...SCOPE, "--value", "SECRET-sk-2"]).code, 0);
  assert.equal(run(dir, ["get", "openai", ...SCOPE]).stdout, "SECRET-sk-2");
  assert.match(run(dir, ["list", ...SCOPE]).stdout, /^openai\s+OpenAI key\s+openai/m);

  // On disk: metadata JSON files, encrypted vault files (no plaintext).
  assert.ok(readdirSync(join(dir, ".credstore/metadata")).length >= 2);
  for (const f of readdirSync(join(dir, ".credstore/vault"))) {
    assert.equal(readFileSync(join(dir, ".credstore/vault", f)).includes("SECRET-"), false);
  }
  assert.equal(statSync(join(dir, ".credstore/vault.key")).mode & 0o777, 0o600);

  // Another scope sees nothing.
  assert.equal(run(dir, ["list", "--user", "alice", "--project", "other"]).stdout, "(none)\n");

  r = run(dir, ["delete", "github", ...SCOPE]);
  assert.deepEqual([r.code, r.stdout], [0, "deleted github\n"]);
  r = run(dir, ["delete", "github", ...SCOPE]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /not found: no credential 'github' in scope alice\/demo/);
  r = run(dir, ["get", "github", ...SCOPE]);
  assert.deepEqual([r.code, r.stdout], [3, ""]);
  assert.equal(run(dir, ["delete", "openai", ...SCOPE]).code, 0);
  assert.equal(run(dir, ["list", ...SCOPE]).stdout, "(none)\n");
});

test("--json shapes", SLOW, () => {
  const dir = initialised();
  let r = runJson(dir, ["put", "k1", ...SCOPE, "--value", "SECRET-1", "--label", "L"]);
  assert.deepEqual([r.code, r.json], [0, { key: "k1", stored: true }]);
  r = runJson(dir, ["get", "k1", ...SCOPE]);
  assert.deepEqual([r.code, r.json], [0, { key: "k1", value: "SECRET-1" }]);
  r = runJson(dir, ["list", ...SCOPE]);
  assert.equal(r.code, 0);
  assert.equal(r.json.length, 1);
  assert.deepEqual(Object.keys(r.json[0]), ["key", "label", "provider", "createdAt", "updatedAt", "expiresAt"]);
  assert.deepEqual({ ...r.json[0], createdAt: 0, updatedAt: 0 }, {
    key: "k1", label: "L", provider: null, createdAt: 0, updatedAt: 0, expiresAt: null,
  });
  assert.equal(r.json[0].createdAt, new Date(r.json[0].createdAt).toISOString());
  r = runJson(dir, ["orphans", ...SCOPE]);
  assert.deepEqual([r.code, r.json], [0, []]);
  r = runJson(dir, ["reconcile", ...SCOPE, "--dry-run"]);
  assert.deepEqual([r.code, r.json], [0, { dryRun: true, repaired: [], failed: [], skipped: [], invalid: [] }]);
  r = runJson(dir, ["delete", "k1", ...SCOPE]);
  assert.deepEqual([r.code, r.json], [0, { key: "k1", deleted: true }]);

  // Errors go to stderr as one JSON object; stdout stays empty.
  r = runJson(dir, ["get", "k1", ...SCOPE]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "");
  assert.deepEqual(r.error, {
    code: "not-found", exitCode: 3, message: "not found: no credential 'k1' in scope alice/demo", causes: [],
  });
  r = runJson(dir, ["get", ...SCOPE]);
  assert.equal(r.code, 2);
  assert.equal(r.error.code, "usage");
  assert.equal(r.error.exitCode, 2);
});

test("usage errors exit 2 with a clear message and never echo a value", SLOW, () => {
  const dir = scratch();
  const cases = [
    [["frobnicate", ...SCOPE], /unknown command 'frobnicate'/],
    [["list"], /--user is required/],
    [["list", "--user", "alice"], /--project is required/],
    [["list", "--user", "bad/user", "--project", "demo"], /--user must be 1 to 128 characters/],
    [["list", "--user", "alice", "--project", "x".repeat(129)], /--project must be 1 to 128 characters/],
    [["get", ...SCOPE], /'get' takes exactly one argument <key>, got 0/],
    [["get", "a/b", ...SCOPE], /invalid <key>/],
    [["list", "extra", ...SCOPE], /'list' takes no arguments, got 1/],
    [["put", "k", ...SCOPE], /exactly one of --value-stdin, --value-file and --value/],
    [["put", "k", ...SCOPE, "--value", "SECRET-x", "--value-stdin"], /exactly one of --value-stdin, --value-file and --value/],
    [["put", "k", ...SCOPE, "--value-file", "f", "--value-stdin"], /exactly one of --value-stdin, --value-file and --value/],
    [["put", "k", "SECRET-typed-as-argument", ...SCOPE], /'put' takes exactly one argument <key>, got 2; give the value with --value-stdin/],
    [["put", "k", ...SCOPE, "--value", "SECRET-x", "--expires", "someday"], /--expires must be an ISO-8601 date/],
    [["put", "k", ...SCOPE, "--value"], /--value/],
    [["list", ...SCOPE, "--dry-run"], /option --dry-run does not apply to 'list'/],
    [["get", "k", ...SCOPE, "--value", "SECRET-x"], /option --value does not apply to 'get'/],
    [["list", ...SCOPE, "--bogus"], /Unknown option '--bogus'/],
    [["orphans", ...SCOPE, "--stale-pending-ms", "-5"], /--stale-pending-ms/],
    [["reconcile", ...SCOPE, "--stale-pending-ms", "soon"], /--stale-pending-ms must be a non-negative whole number/],
    [["list", ...SCOPE, "--config", "./missing.config.mjs"], /config module not found: .\/missing.config.mjs/],
    [["help", "frobnicate"], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = run(dir, args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
    assert.match(r.stderr, new RegExp(`^${TOOL}: `));
    assert.match(r.stderr, /Run 'server-credential-store --help' for usage\./);
  }
  assert.equal(existsSync(join(dir, ".credstore")), false, "a usage error touches no backend");

  // An empty value on stdin is most likely an unset variable: refused.
  const empty = run(dir, ["put", "k", ...SCOPE, "--value-stdin"], { input: "\n" });
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /the value read from standard input is empty/);
  assert.equal(existsSync(join(dir, ".credstore")), false);
});

test("orphans and reconcile against a config module whose vault fails once", SLOW, () => {
  const dir = flakyDir();
  assert.equal(run(dir, ["put", "k1", ...withConfig, "--value", "SECRET-v1"]).code, 0);
  assert.equal(run(dir, ["put", "k2", ...withConfig, "--value", "SECRET-v2"]).code, 0);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, "context.json"), "utf8")), {
    userId: "alice", projectId: "demo", strict: false, cwd: dir,
  }, "the default function gets the scope");
  assert.equal(readFileSync(join(dir, "closed"), "utf8"), "yes", "close() is called");

  // The vault delete fails once: the row becomes an orphan marker.
  writeFileSync(join(dir, "fail.deleteSecret"), "");
  let r = run(dir, ["delete", "k1", ...withConfig]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /ServerCredentialStore\.delete: metadata removed but vault delete failed for key k1; orphan marker persisted/);
  assert.match(r.stderr, /cause: simulated deleteSecret outage \(alice\/demo\/k1\)/);
  assert.equal(state(dir).rows["alice/demo/k1"].orphanReason, "vault-delete-failed");

  // A pending row of a put whose process died long ago.
  const s = state(dir);
  s.rows["alice/demo/stuck"] = {
    userId: "alice", projectId: "demo", key: "stuck", createdAt: "2000-01-01T00:00:00.000Z",
    updatedAt: "2000-01-01T00:00:00.000Z", pending: true,
  };
  s.secrets["alice/demo/stuck"] = "SECRET-stuck";
  writeFileSync(join(dir, "state.json"), JSON.stringify(s));

  r = runJson(dir, ["orphans", ...withConfig]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.json.map((o) => [o.key, o.reason]).sort(), [["k1", "vault-delete-failed"], ["stuck", "stale-pending"]]);
  assert.deepEqual(Object.keys(r.json[0]), ["key", "reason", "orphanedAt", "updatedAt"]);
  const marker = r.json.find((o) => o.key === "k1");
  assert.equal(marker.orphanedAt, state(dir).rows["alice/demo/k1"].orphanedAt);
  assert.equal(r.json.find((o) => o.key === "stuck").orphanedAt, null);
  r = runJson(dir, ["orphans", ...withConfig, "--stale-pending-ms", String(100 * 365 * 86_400_000)]);
  assert.deepEqual(r.json.map((o) => o.key), ["k1"], "a pending row younger than the threshold is no orphan");
  r = run(dir, ["orphans", ...withConfig]);
  assert.match(r.stdout, /^KEY\s+REASON\s+ORPHANED AT\s+UPDATED AT$/m);
  assert.match(r.stdout, /^k1\s+vault-delete-failed\s+\S+\s+\S+$/m);
  assert.match(r.stdout, /^stuck\s+stale-pending\s+-\s+2000-01-01T00:00:00\.000Z$/m);

  // A dry run reports and changes nothing.
  const before = readFileSync(join(dir, "state.json"), "utf8");
  r = runJson(dir, ["reconcile", ...withConfig, "--dry-run"]);
  assert.equal(r.code, 0);
  assert.equal(r.json.dryRun, true);
  assert.deepEqual(r.json.repaired.map((o) => o.key).sort(), ["k1", "stuck"]);
  assert.deepEqual([r.json.failed, r.json.skipped], [[], []]);
  r = run(dir, ["reconcile", ...withConfig, "--dry-run"]);
  assert.match(r.stdout, /^dry run: 2 to repair, nothing changed$/m);
  assert.match(r.stdout, /^would repair\s+k1\s+vault-delete-failed/m);
  assert.equal(readFileSync(join(dir, "state.json"), "utf8"), before, "the dry run wrote nothing");

  // The vault fails once more: that repair fails (exit 1), the other succeeds.
  writeFileSync(join(dir, "fail.deleteSecret"), "");
  r = runJson(dir, ["reconcile", ...withConfig]);
  assert.equal(r.code, 1);
  assert.equal(r.json.dryRun, false);
  assert.equal(r.json.repaired.length + r.json.failed.length, 2);
  assert.equal(r.json.failed.length, 1);
  assert.match(r.json.failed[0].error, /simulated deleteSecret outage/);
  assert.deepEqual(Object.keys(r.json.failed[0]), ["key", "reason", "orphanedAt", "updatedAt", "error"]);
  const failedKey = r.json.failed[0].key;
  assert.ok(state(dir).rows[`alice/demo/${failedKey}`], "a failed repair leaves the orphan in place");

  // Text output of a run that repairs the rest.
  r = run(dir, ["reconcile", ...withConfig]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^repaired 1, failed 0, skipped 0, invalid 0$/m);
  assert.match(r.stdout, new RegExp(`^repaired\\s+${failedKey}\\s`, "m"));
  assert.deepEqual(runJson(dir, ["orphans", ...withConfig]).json, []);
  const after = state(dir);
  assert.deepEqual(Object.keys(after.rows), ["alice/demo/k2"]);
  assert.deepEqual(Object.keys(after.secrets), ["alice/demo/k2"]);
  assert.equal(run(dir, ["get", "k2", ...withConfig]).stdout, "SECRET-v2");
});

test("a failing operation exits 1 and no secret reaches stderr, even from a careless backend", SLOW, () => {
  const dir = flakyDir();
  // setSecret fails once with an error quoting the value; the CLI masks it.
  for (const [how, extra, input] of [
    ["--value", ["--value", "SECRET-on-the-command-line"], undefined],
    ["--value-stdin", ["--value-stdin"], "SECRET-from-stdin\n"],
  ]) {
    for (const json of [false, true]) {
      writeFileSync(join(dir, "fail.setSecret"), "");
      const r = run(dir, ["put", "k", ...withConfig, ...extra, ...(json ? ["--json"] : [])], { input });
      assert.equal(r.code, 1, how);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /simulated setSecret outage \(value \*\*\*\)/, how);
      if (json) assert.equal(JSON.parse(r.stderr.trimEnd().split("\n").at(-1)).error.code, "failed");
    }
  }
  assert.equal(run(dir, ["get", "k", ...withConfig]).code, 3, "the failed put left nothing readable");
});

test("config modules: named exports; bad and failing modules", SLOW, () => {
  const dir = scratch();
  writeFileSync(
    join(dir, "named.config.mjs"),
    `const rows = new Map(), secrets = new Map();
     export const metadata = {
       async get(k) { return rows.get(k); }, async put(k, v) { rows.set(k, v); },
       async delete(k) { rows.delete(k); }, async getAll() { return [...rows].map(([key, value]) => ({ key, value })); },
     };
     export const vault = {
       async setSecret(id, v) { secrets.set(id, v); }, async getSecret(id) { return secrets.get(id); },
       async deleteSecret(id) { secrets.delete(id); },
     };`,
  );
  writeFileSync(join(dir, "empty.config.mjs"), "export const metadata = {};\n");
  writeFileSync(join(dir, "throws.config.mjs"), "export default async () => { throw new Error('no database'); };\n");
  writeFileSync(join(dir, "host-error.config.mjs"),
    `export const metadata = { get() {}, put() {}, delete() {}, async getAll() { throw new Error("database offline"); } };
     export const vault = { setSecret() {}, getSecret() {}, deleteSecret() {} };`);

  let r = runJson(dir, ["list", ...SCOPE, "--config", "named.config.mjs"]);
  assert.deepEqual([r.code, r.json], [0, []]);
  r = run(dir, ["list", ...SCOPE, "--config", "empty.config.mjs"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /must export \{ metadata, vault \}/);
  r = run(dir, ["list", ...SCOPE, "--config", "throws.config.mjs"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /config module throws\.config\.mjs failed to create the backends\n  cause: no database/);
  r = run(dir, ["list", ...SCOPE, "--config", "host-error.config.mjs"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /database offline/);
});

test("--strict: a round trip with versioned vault ids", SLOW, () => {
  const dir = flakyDir();
  const strict = [...withConfig, "--strict"];
  assert.equal(run(dir, ["put", "k", ...strict, "--value", "SECRET-a"]).code, 0);
  assert.equal(run(dir, ["put", "k", ...strict, "--value", "SECRET-b"]).code, 0);
  assert.equal(run(dir, ["get", "k", ...strict]).stdout, "SECRET-b");
  assert.equal(JSON.parse(readFileSync(join(dir, "context.json"), "utf8")).strict, true);
  const row = state(dir).rows["alice/demo/k"];
  assert.match(row.vaultId, /^alice\/demo\/k#/);
  assert.deepEqual(Object.values(state(dir).secrets), ["SECRET-b"], "the old version is gone");
  assert.deepEqual(runJson(dir, ["list", ...strict]).json.map((m) => m.key), ["k"]);
});

test("the package declares the bin, and the script is an executable node script", SLOW, () => {
  const manifest = JSON.parse(readFileSync(join(root, "pkg-template/package.json"), "utf8"));
  assert.deepEqual(manifest.bin, { [TOOL]: "./cli.mjs" });
  for (const file of [join(root, "js/cli.mjs"), CLI]) {
    assert.match(readFileSync(file, "utf8"), /^#!\/usr\/bin\/env node\n/);
    assert.notEqual(statSync(file).mode & 0o111, 0, `${file} is executable`);
  }
  const version = run(scratch(), ["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^(\d+\.\d+\.\d+\S*|unknown)\n$/);
});

// ---- hardening (issue 16, items 6, 7, 9) ----------------------------------

const ESC = "\x1b";
const TITLE_AND_CLEAR = `${ESC}]0;pwned\x07${ESC}[2J`;
const C1_CSI = "\u009b2J";
const BIDI = "\u202eevil";
/** No byte a terminal would act on: C0 (but \n), DEL, C1, bidi overrides. */
const assertInert = (text, what) =>
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/, `${what} is terminal-safe`);

test("terminal escapes in labels, providers and messages are shown escaped, in tables and on stderr", SLOW, () => {
  const dir = flakyDir();
  let r = run(dir, ["put", "k", ...withConfig, "--value-stdin", "--label", TITLE_AND_CLEAR, "--provider", C1_CSI + BIDI], { input: "SECRET-v" });
  assert.equal(r.code, 0, r.stderr);
  r = run(dir, ["list", ...withConfig]);
  assert.equal(r.code, 0);
  assertInert(r.stdout, "list table");
  assert.ok(r.stdout.includes("\\x1b]0;pwned\\x07\\x1b[2J"), r.stdout);
  assert.ok(r.stdout.includes("\\x9b2J\\u{202e}evil"), r.stdout);
  // JSON keeps the exact values, escaped as JSON (C1 and bidi included).
  r = runJson(dir, ["list", ...withConfig]);
  assertInert(r.stdout, "list --json");
  assert.equal(r.json[0].label, TITLE_AND_CLEAR);
  assert.equal(r.json[0].provider, C1_CSI + BIDI);

  // Orphan and reconcile tables: a failing vault whose message carries escapes.
  writeFileSync(join(dir, "fail.deleteSecret"), "");
  const s = state(dir);
  s.rows["alice/demo/k"] = { ...s.rows["alice/demo/k"], pending: true, orphanedAt: `x${ESC}[31mred`, orphanReason: "vault-delete-failed" };
  writeFileSync(join(dir, "state.json"), JSON.stringify(s));
  r = run(dir, ["orphans", ...withConfig]);
  assertInert(r.stdout, "orphans table");
  assert.ok(r.stdout.includes("x\\x1b[31mred"), r.stdout);
  r = run(dir, ["reconcile", ...withConfig, "--dry-run"]);
  assertInert(r.stdout, "reconcile table");
  assert.ok(r.stdout.includes("x\\x1b[31mred"), r.stdout);

  // A backend error message with escapes, in text and JSON errors.
  writeFileSync(join(dir, "bad.config.mjs"), `
    export const metadata = { get() {}, put() {}, delete() {}, async getAll() { throw new Error("db says ${"\\x1b"}]0;pwned${"\\x07"} and ${"\\u009b"}2J"); } };
    export const vault = { setSecret() {}, getSecret() {}, deleteSecret() {} };`);
  r = run(dir, ["list", ...SCOPE, "--config", "bad.config.mjs"]);
  assert.equal(r.code, 1);
  assertInert(r.stderr, "error message");
  assert.match(r.stderr, /db says \\x1b\]0;pwned\\x07 and \\x9b2J/);
  r = runJson(dir, ["list", ...SCOPE, "--config", "bad.config.mjs"]);
  assertInert(r.stderr, "JSON error");
  assert.equal(r.error.message, "db says \x1b]0;pwned\x07 and \u009b2J");

  // An unknown option made of escapes (Node's message names it).
  r = run(dir, ["list", ...SCOPE, `--${ESC}[2J`]);
  assert.equal(r.code, 2);
  assertInert(r.stderr, "usage error");
  assert.match(r.stderr, /\\x1b\[2J/);
});

test("get: a value with escapes is written exactly when captured, escaped on a terminal", SLOW, () => {
  const dir = initialised();
  const value = `SECRET-${TITLE_AND_CLEAR}`;
  assert.equal(run(dir, ["put", "k", ...SCOPE, "--value-stdin"], { input: value }).code, 0);
  assert.equal(run(dir, ["get", "k", ...SCOPE]).stdout, value, "captured: exact");
  const tty = inPty(dir, ["get", "k", ...SCOPE], []);
  assert.equal(tty.code, 0, tty.output);
  assertInert(tty.output.replace(/\r/g, ""), "value on a terminal");
  assert.ok(tty.output.includes("SECRET-\\x1b]0;pwned\\x07\\x1b[2J"), JSON.stringify(tty.output));
});

/**
 * Runs the CLI in a pseudo-terminal (python3's pty module): waits for
 * `expect` text before typing each entry of `typed`; returns everything the
 * terminal showed and the exit code.
 */
function inPty(cwd, args, typed, expect = "input hidden") {
  const driver = `
import json, os, pty, select, sys, time
args, typed, expect = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(args[0], args)
out = b""
def pump(until=None, seconds=20):
    global out
    end = time.time() + seconds
    while time.time() < end:
        if until is not None and until.encode() in out:
            return True
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
    return False
for text in typed:
    pump(expect)
    for ch in text:
        os.write(fd, ch.encode())
        time.sleep(0.01)
pump(None, 20)
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": out.decode("utf8", "replace")}))
`;
  const r = spawnSync("python3", ["-c", driver, JSON.stringify([[NODE, CLI, ...args], typed, expect])], {
    cwd, encoding: "utf8", timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test("put --value-stdin on a terminal: echo off, the typed value is stored and never shown", SLOW, () => {
  const dir = initialised();
  const r = inPty(dir, ["put", "typed", ...SCOPE, "--value-stdin"], ["SECRET-typed-hidden\r"]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /value for typed \(input hidden\): /);
  assert.doesNotMatch(r.output, /SECRET-/, "the terminal never showed the value");
  assert.match(r.output, /stored typed/);
  assert.equal(run(dir, ["get", "typed", ...SCOPE]).stdout, "SECRET-typed-hidden");
  // Backspace edits the line; Ctrl-C aborts with 130 and stores nothing.
  const edited = inPty(dir, ["put", "edited", ...SCOPE, "--value-stdin"], ["SECRET-abX\x7fc\r"]);
  assert.equal(edited.code, 0, edited.output);
  assert.equal(run(dir, ["get", "edited", ...SCOPE]).stdout, "SECRET-abc");
  const aborted = inPty(dir, ["put", "aborted", ...SCOPE, "--value-stdin"], ["SECRET-no\x03"]);
  assert.equal(aborted.code, 130, aborted.output);
  assert.match(aborted.output, /interrupted/);
  assert.doesNotMatch(aborted.output, /SECRET-/);
  assert.equal(run(dir, ["get", "aborted", ...SCOPE]).code, 3);
});

test("put --value warns on stderr that the value is visible in the process list", SLOW, () => {
  const dir = initialised();
  let r = run(dir, ["put", "k", ...SCOPE, "--value", "SECRET-argv"]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^server-credential-store: warning: --value puts the value in the process list, where other users of this machine may see it; prefer --value-stdin/);
  r = runJson(dir, ["put", "k", ...SCOPE, "--value", "SECRET-argv"]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.warnings.map((w) => w.code), ["value-in-argv"]);
  r = run(dir, ["put", "k", ...SCOPE, "--value-stdin"], { input: "SECRET-stdin" });
  assert.equal(r.stderr, "", "no warning for --value-stdin");
});

test("--expires takes ISO-8601 only, and a past time only with --allow-past", SLOW, () => {
  const dir = scratch();
  for (const bad of ["1", "2001", "March 7", "2030-02-30T00:00:00Z", "2030-13-01", "2030-01-01T00:00:00", "2030-01-01 00:00Z", "2030-01-01T25:00Z", "tomorrow"]) {
    const r = run(dir, ["put", "k", ...SCOPE, "--value-stdin", "--expires", bad], { input: "SECRET-x" });
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--expires must be an ISO-8601 date/, bad);
  }
  let r = run(dir, ["put", "k", ...SCOPE, "--value-stdin", "--expires", "2001-01-01T00:00:00Z"], { input: "SECRET-x" });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--expires is in the past .* add --allow-past/);
  r = run(dir, ["put", "k", ...SCOPE, "--value-stdin", "--allow-past"], { input: "SECRET-x" });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--allow-past applies only with --expires/);
  assert.equal(existsSync(join(dir, ".credstore")), false, "nothing stored");
  assert.equal(run(dir, ["init"]).code, 0);

  r = run(dir, ["put", "old", ...SCOPE, "--value-stdin", "--expires", "2001-01-01T00:00:00Z", "--allow-past"], { input: "SECRET-x" });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(run(dir, ["get", "old", ...SCOPE]).code, 3, "stored already expired");
  for (const [given, stored] of [
    ["2030-01-01", "2030-01-01T00:00:00.000Z"],
    ["2030-06-01T12:30:00+02:00", "2030-06-01T10:30:00.000Z"],
    ["2030-06-01T12:30:15.250-0130", "2030-06-01T14:00:15.250Z"],
    ["2030-06-01T12:30Z", "2030-06-01T12:30:00.000Z"],
  ]) {
    assert.equal(run(dir, ["put", "k", ...SCOPE, "--value-stdin", "--expires", given], { input: "SECRET-x" }).code, 0, given);
    assert.equal(runJson(dir, ["list", ...SCOPE]).json.find((m) => m.key === "k").expiresAt, stored, given);
  }
});

test("a repeated option is refused (exit 2), not silently the last one", SLOW, () => {
  const dir = scratch();
  for (const args of [
    ["put", "k", ...SCOPE, "--value-stdin", "--label", "a", "--label", "b"],
    ["list", ...SCOPE, "--user", "mallory"],
    ["put", "k", ...SCOPE, "--value=SECRET-1", "--value", "SECRET-2"],
    ["list", ...SCOPE, "--json", "--json"],
  ]) {
    const r = run(dir, args, { input: "SECRET-x" });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /option --(label|user|value|json) is given more than once/);
  }
  assert.equal(existsSync(join(dir, ".credstore")), false);
});

test("stderr masking covers escaped and encoded forms of the value", SLOW, () => {
  const dir = flakyDir();
  const value = "SECRET-\"quo'ted\" päss\\w+rd/?&";
  const forms = {
    "": value,
    json: JSON.stringify(value).slice(1, -1),
    json2: JSON.stringify(JSON.stringify(value)).slice(1, -1),
    inspect: inspect(value).slice(1, -1),
    uri: encodeURIComponent(value),
    base64: Buffer.from(value).toString("base64").replace(/=+$/, ""),
    hex: Buffer.from(value).toString("hex"),
  };
  for (const [how, form] of Object.entries(forms)) {
    for (const source of ["--value", "--value-stdin"]) {
      writeFileSync(join(dir, "fail.setSecret"), how);
      const args = source === "--value" ? ["--value", value] : ["--value-stdin"];
      const r = run(dir, ["put", "k", ...withConfig, ...args], { input: value });
      assert.equal(r.code, 1, `${how} ${source}`);
      assert.match(r.stderr, /simulated setSecret outage/, how);
      assert.ok(!r.stderr.includes(form), `${how} form leaked with ${source}: ${r.stderr}`);
      assert.match(r.stderr, /\*\*\*/, how);
    }
  }
});

// ---- operators (issue 13, item 4) -----------------------------------------

const mode = (path) => statSync(path).mode & 0o777;
const NO_STORE = (path) => new RegExp(`no credential store at ${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}; run 'server-credential-store init`);

test("a read never creates a store: exit 3 naming the path; init creates it (0700 / 0600), idempotently", SLOW, () => {
  const dir = scratch();
  const root = join(dir, ".credstore");
  writeFileSync(join(dir, "one.env"), "A=SECRET-a\n");
  for (const [args, input] of [
    [["list", ...SCOPE]], [["get", "k", ...SCOPE]], [["delete", "k", ...SCOPE]], [["orphans", ...SCOPE]],
    [["reconcile", ...SCOPE]], [["export", "--values", ...SCOPE]], [["put", "k", ...SCOPE, "--value-stdin"], "SECRET-v"],
    [["import", "one.env", ...SCOPE]],
  ]) {
    const r = run(dir, args, { input });
    assert.equal(r.code, 3, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, NO_STORE(root), args.join(" "));
    assert.equal(existsSync(root), false, `${args[0]} created nothing`);
  }
  let r = runJson(dir, ["list", ...SCOPE]);
  assert.equal(r.error.code, "not-found");

  r = run(dir, ["init"]);
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `initialised ${root}\n`, ""]);
  assert.deepEqual([root, join(root, "metadata"), join(root, "vault")].map(mode), [0o700, 0o700, 0o700]);
  assert.equal(mode(join(root, "vault.key")), 0o600);
  const key = readFileSync(join(root, "vault.key"));
  r = runJson(dir, ["init"]);
  assert.deepEqual([r.code, r.json], [0, { dir: root, created: false }]);
  assert.deepEqual(readFileSync(join(root, "vault.key")), key, "a second init keeps the key");
  assert.equal(run(dir, ["list", ...SCOPE]).stdout, "(none)\n");

  // Files written under umask 000 are still 0600 (the CLI sets its own umask).
  const sh = spawnSync("sh", ["-c", `umask 000; exec "$0" "$@"`, NODE, CLI, "put", "k", ...SCOPE, "--value-stdin", "--label", "L"], {
    cwd: dir, input: "SECRET-umask", encoding: "utf8", env: BASE_ENV,
  });
  assert.equal(sh.status, 0, sh.stderr);
  for (const sub of ["metadata", "vault"]) {
    const files = readdirSync(join(root, sub));
    assert.equal(files.length, 1, sub);
    assert.equal(mode(join(root, sub, files[0])), 0o600, `${sub} file`);
    assert.equal(mode(join(root, sub)), 0o700);
  }

  // An existing directory without a key file is no store; init refuses to
  // make a new key over encrypted files whose key is gone.
  const other = join(dir, "not-a-store");
  mkdirSync(other);
  r = run(dir, ["list", ...SCOPE, "--dir", other]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /not-a-store is not a credential store \(no vault\.key\); run 'server-credential-store init --dir /);
  rmSync(join(root, "vault.key"));
  r = run(dir, ["init"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds 1 encrypted file\(s\) but .*vault\.key is missing: refusing to create a new key/);
  assert.equal(existsSync(join(root, "vault.key")), false);
  assert.equal(run(dir, ["init", ...SCOPE]).code, 2, "init takes no scope");
});

test("--dir and CREDSTORE_DIR choose the store; CREDSTORE_USER / CREDSTORE_PROJECT default the scope", SLOW, () => {
  const dir = scratch();
  assert.equal(run(dir, ["init", "--dir", "a"]).code, 0);
  assert.equal(run(dir, ["init"], { env: { CREDSTORE_DIR: join(dir, "b") } }).code, 0);
  assert.ok(existsSync(join(dir, "a/vault.key")) && existsSync(join(dir, "b/vault.key")));
  assert.equal(existsSync(join(dir, ".credstore")), false);

  const envB = { CREDSTORE_DIR: join(dir, "b"), CREDSTORE_USER: "alice", CREDSTORE_PROJECT: "demo" };
  assert.equal(run(dir, ["put", "k", "--value-stdin"], { input: "SECRET-in-b", env: envB }).code, 0);
  assert.equal(run(dir, ["put", "k", "--value-stdin", "--dir", "a"], { input: "SECRET-in-a", env: envB }).code, 0, "--dir wins over CREDSTORE_DIR");
  assert.equal(run(dir, ["get", "k"], { env: envB }).stdout, "SECRET-in-b");
  assert.equal(run(dir, ["get", "k", ...SCOPE, "--dir", "a"]).stdout, "SECRET-in-a");
  // Flags win over the variables.
  assert.equal(run(dir, ["get", "k", "--project", "other"], { env: envB }).code, 3);
  assert.equal(run(dir, ["put", "k", "--user", "bob", "--value-stdin"], { input: "SECRET-bob", env: envB }).code, 0);
  assert.equal(run(dir, ["get", "k", "--user", "bob", "--project", "demo", "--dir", "b"]).stdout, "SECRET-bob");

  let r = run(dir, ["list"], { env: { CREDSTORE_DIR: join(dir, "b") } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--user is required \(or set CREDSTORE_USER\)/);
  r = run(dir, ["list"], { env: { ...envB, CREDSTORE_PROJECT: "bad/project" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /CREDSTORE_PROJECT must be 1 to 128 characters/);
  r = run(dir, ["list", ...SCOPE, "--dir", "a", "--config", "x.mjs"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--dir names the default file store; it does not apply with --config/);
});

test("an existing store open to group or others gets a warning; a loose key file is refused", SLOW, () => {
  const dir = initialised();
  const root = join(dir, ".credstore");
  assert.equal(run(dir, ["put", "k", ...SCOPE, "--value-stdin"], { input: "SECRET-v" }).code, 0);
  let r = run(dir, ["list", ...SCOPE]);
  assert.equal(r.stderr, "", "a private store: no warning");
  chmodSync(root, 0o755);
  const meta = join(root, "metadata", readdirSync(join(root, "metadata"))[0]);
  chmodSync(meta, 0o644);
  r = run(dir, ["list", ...SCOPE]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^server-credential-store: warning: the store .*\.credstore is open to group or others \(.*\.credstore 0755, .*\.json 0644\); run: chmod -R go-rwx /);
  r = runJson(dir, ["list", ...SCOPE]);
  assert.deepEqual(r.warnings.map((w) => w.code), ["store-permissions"]);
  chmodSync(root, 0o700);
  chmodSync(meta, 0o600);
  chmodSync(join(root, "vault.key"), 0o644);
  r = run(dir, ["get", "k", ...SCOPE]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /key file .*vault\.key has mode 0644: group or others may access it; run chmod 600/);
});

test("orphans --exit-code exits 4 when there are orphans", SLOW, () => {
  const dir = flakyDir();
  assert.equal(run(dir, ["put", "k1", ...withConfig, "--value-stdin"], { input: "SECRET-1" }).code, 0);
  let r = run(dir, ["orphans", ...withConfig, "--exit-code"]);
  assert.deepEqual([r.code, r.stdout], [0, "(none)\n"]);
  writeFileSync(join(dir, "fail.deleteSecret"), "");
  assert.equal(run(dir, ["delete", "k1", ...withConfig]).code, 1);
  r = run(dir, ["orphans", ...withConfig, "--exit-code"]);
  assert.equal(r.code, 4);
  assert.match(r.stdout, /^k1\s+vault-delete-failed/m);
  assert.equal(r.stderr, "");
  r = runJson(dir, ["orphans", ...withConfig, "--exit-code"]);
  assert.equal(r.code, 4);
  assert.deepEqual(r.json.map((o) => o.key), ["k1"]);
  assert.equal(run(dir, ["orphans", ...withConfig]).code, 0, "without --exit-code: 0");
  assert.match(run(dir, ["orphans", "--help"]).stdout, /--exit-code\s+exit 4 when any orphan is found/);
});

const NASTY = `SECRET-it's "q" $(touch pwned) \`touch pwned\` \\ $HOME\nline2 ünï`;

/** Runs a bash script in `cwd`; returns its stdout. */
function bash(cwd, script, env = {}) {
  const r = spawnSync("bash", ["-c", script], { cwd, encoding: "utf8", env: { ...BASE_ENV, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("--output table|json|env; --json is --output json; env output is shell-safe", SLOW, () => {
  const dir = initialised();
  assert.equal(run(dir, ["put", "API_KEY", ...SCOPE, "--value-stdin", "--label", "it's $(touch pwned)"], { input: NASTY }).code, 0);
  // A newline in a label must not end the line inside a quote: the next
  // line would be read with its quoting inverted.
  assert.equal(run(dir, ["put", "NL", ...SCOPE, "--value-stdin", "--label", "x\ntouch pwned; echo '"], { input: "SECRET-nl" }).code, 0);
  assert.equal(run(dir, ["put", "dash-key", ...SCOPE, "--value-stdin"], { input: "SECRET-d" }).code, 0);

  assert.deepEqual(runJson(dir, ["list", ...SCOPE]).json, JSON.parse(run(dir, ["list", ...SCOPE, "--output", "json"]).stdout));
  assert.deepEqual(JSON.parse(run(dir, ["get", "API_KEY", ...SCOPE, "-o", "json"]).stdout), { key: "API_KEY", value: NASTY });
  assert.match(run(dir, ["list", ...SCOPE, "-o", "table"]).stdout, /^KEY\s+LABEL/);

  // get -o env: KEY='value', evaluated by bash to the exact value, nothing run.
  const line = run(dir, ["get", "API_KEY", ...SCOPE, "-o", "env"]).stdout;
  assert.match(line, /^API_KEY='SECRET-it'\\''s /);
  const got = bash(dir, `eval "$(${JSON.stringify(NODE)} ${JSON.stringify(CLI)} get API_KEY --user alice --project demo -o env)"; printf %s "$API_KEY"`);
  assert.equal(got, NASTY);
  // list -o env: one line of assignments per credential; eval line by line.
  const listed = bash(dir, `${JSON.stringify(NODE)} ${JSON.stringify(CLI)} list --user alice --project demo -o env | while IFS= read -r l; do eval "$l"; printf '%s|%s|%s\\n' "$key" "$label" "$expiresAt"; done`);
  assert.equal(listed, "API_KEY|it's $(touch pwned)|\nNL|x\\ntouch pwned; echo '|\ndash-key||\n");
  assert.equal(existsSync(join(dir, "pwned")), false, "nothing in a value or label was executed");

  for (const [args, message] of [
    [["get", "dash-key", ...SCOPE, "-o", "env"], /--output env needs a key that is a shell variable name/],
    [["list", ...SCOPE, "--json", "--output", "table"], /--json is --output json; it contradicts --output table/],
    [["list", ...SCOPE, "-o", "yaml"], /--output must be one of table, json, env/],
    [["put", "k", ...SCOPE, "--value-stdin", "-o", "env"], /--output env does not apply to 'put' \(table, json\)/],
    [["orphans", ...SCOPE, "-o", "env"], /--output env does not apply to 'orphans'/],
  ]) {
    const r = run(dir, args, { input: "SECRET-x" });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, message);
  }
});

test("export --values and import: a dotenv round trip; values leave only with --values; --out is a new 0600 file", SLOW, () => {
  const dir = initialised();
  const values = { API_KEY: NASTY, TOKEN: "SECRET-plain", MULTI: "SECRET-a\nb\n\nc", Q: "SECRET-'''" };
  for (const [key, value] of Object.entries(values)) {
    assert.equal(run(dir, ["put", key, ...SCOPE, "--value-stdin"], { input: value + "\n" }).code, 0);
  }
  assert.equal(run(dir, ["put", "dash-key", ...SCOPE, "--value-stdin"], { input: "SECRET-d" }).code, 0);

  let r = run(dir, ["export", ...SCOPE]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /export writes secret values: add --values to confirm/);
  assert.equal(r.stdout, "");

  // To stdout: dotenv lines; a key that is no shell name is left out, named, exit 1.
  r = run(dir, ["export", "--values", ...SCOPE]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^# server-credential-store export of alice\/demo, /);
  assert.match(r.stderr, /warning: not exported \(not shell variable names, use --output json\): dash-key/);
  assert.doesNotMatch(r.stdout, /dash-key/);
  // -o json carries every key.
  r = runJson(dir, ["export", "--values", ...SCOPE]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.json, { ...values, "dash-key": "SECRET-d" });

  // --out: a new file, 0600; never overwritten.
  r = run(dir, ["export", "--values", ...SCOPE, "--out", "creds.env"]);
  assert.equal(r.code, 1, "dash-key again");
  assert.equal(r.stdout, "exported 4 to creds.env\n");
  assert.equal(mode(join(dir, "creds.env")), 0o600);
  const exported = readFileSync(join(dir, "creds.env"), "utf8");
  r = run(dir, ["export", "--values", ...SCOPE, "--out", "creds.env"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /creds\.env exists; export never overwrites a file/);
  assert.equal(readFileSync(join(dir, "creds.env"), "utf8"), exported);

  // bash reads the file to the same values, running nothing.
  const seen = bash(dir, `set -a; . ./creds.env; printf '%s\\0' "$API_KEY" "$TOKEN" "$MULTI" "$Q"`);
  assert.deepEqual(seen.split("\0").slice(0, 4), [values.API_KEY, values.TOKEN, values.MULTI, values.Q]);
  assert.equal(existsSync(join(dir, "pwned")), false);

  // import into another scope: the same values.
  const copy = ["--user", "alice", "--project", "copy"];
  r = run(dir, ["import", "creds.env", ...copy, "--dry-run"]);
  assert.deepEqual([r.code, r.stdout], [0, "would import 4: API_KEY, MULTI, Q, TOKEN\n"]);
  assert.equal(run(dir, ["list", ...copy]).stdout, "(none)\n", "a dry run stores nothing");
  r = runJson(dir, ["import", "creds.env", ...copy]);
  assert.deepEqual([r.code, r.json], [0, { dryRun: false, imported: ["API_KEY", "MULTI", "Q", "TOKEN"], failed: [] }]);
  for (const [key, value] of Object.entries(values)) assert.equal(run(dir, ["get", key, ...copy]).stdout, value, key);
  // From stdin, with the dotenv forms people write.
  const handWritten = [
    "# a comment", "", "export PLAIN=SECRET-plain-value # trailing comment", `DQ="SECRET-a\\nb \\"q\\" \\$x"`,
    "SQ='SECRET-#not a comment'", "ML='SECRET-line1", "line2'", "SPACED = SECRET-spaced ",
  ].join("\n");
  r = run(dir, ["import", "-", "--user", "alice", "--project", "hand"], { input: handWritten });
  assert.equal(r.code, 0, r.stderr);
  const hand = ["--user", "alice", "--project", "hand"];
  assert.equal(run(dir, ["get", "PLAIN", ...hand]).stdout, "SECRET-plain-value");
  assert.equal(run(dir, ["get", "DQ", ...hand]).stdout, 'SECRET-a\nb "q" $x');
  assert.equal(run(dir, ["get", "SQ", ...hand]).stdout, "SECRET-#not a comment");
  assert.equal(run(dir, ["get", "ML", ...hand]).stdout, "SECRET-line1\nline2");
  assert.equal(run(dir, ["get", "SPACED", ...hand]).stdout, "SECRET-spaced");
});

test("import checks the whole file first: a bad line is exit 2 with its number, never its value, and nothing is stored", SLOW, () => {
  const dir = initialised();
  const bad = ["--user", "alice", "--project", "bad"];
  for (const [text, message] of [
    ["OK=SECRET-1\nnot a line SECRET-2\n", /bad\.env:2: not a KEY=value line/],
    ["OK=SECRET-1\na/b=SECRET-2\n", /bad\.env:2: invalid key: it must be 1 to 128 characters/],
    ["OK=SECRET-1\n\nOK=SECRET-2\n", /bad\.env:3: key OK is given more than once/],
    ["OK=SECRET-1\nEMPTY=\n", /bad\.env:2: EMPTY has an empty value/],
    ["OK=SECRET-1\nQ=\"SECRET-unterminated\n", /bad\.env:2: unterminated " quote in the value of Q/],
    ["OK=SECRET-1\nQ='SECRET-unterminated\n", /bad\.env:2: unterminated ' quote in the value of Q/],
    ["# only a comment\n", /bad\.env holds no KEY=value line/],
  ]) {
    writeFileSync(join(dir, "bad.env"), text);
    const r = run(dir, ["import", "bad.env", ...bad]);
    assert.equal(r.code, 2, text);
    assert.match(r.stderr, message, text);
  }
  assert.equal(run(dir, ["list", ...bad]).stdout, "(none)\n", "nothing stored from a bad file");
  const r = run(dir, ["import", "missing.env", ...bad]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read missing\.env: ENOENT/);
});

test("put --value-file: the file's content minus one trailing newline; masked on stderr", SLOW, () => {
  const dir = initialised();
  writeFileSync(join(dir, "v.txt"), "SECRET-from-file\n\n");
  let r = run(dir, ["put", "k", ...SCOPE, "--value-file", "v.txt"]);
  assert.deepEqual([r.code, r.stderr], [0, ""]);
  assert.equal(run(dir, ["get", "k", ...SCOPE]).stdout, "SECRET-from-file\n");
  writeFileSync(join(dir, "empty.txt"), "\n");
  r = run(dir, ["put", "k", ...SCOPE, "--value-file", "empty.txt"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the value read from the file is empty/);
  r = run(dir, ["put", "k", ...SCOPE, "--value-file", "nope.txt"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read --value-file nope\.txt: ENOENT/);

  const flaky = flakyDir();
  writeFileSync(join(flaky, "v.txt"), "SECRET-file-value");
  writeFileSync(join(flaky, "fail.setSecret"), "json");
  r = run(flaky, ["put", "k", ...withConfig, "--value-file", "v.txt"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /simulated setSecret outage \("value \*\*\*"\)/);
});

test("completion: bash sources it and completes; zsh and fish parse it (fish completes too)", SLOW, () => {
  const dir = scratch();
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = run(dir, ["completion", shell]);
    assert.equal(r.code, 0);
    writeFileSync(join(dir, `c.${shell}`), r.stdout);
  }
  const bashOut = bash(dir, `
    source ./c.bash
    complete -p server-credential-store
    c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _server_credential_store; echo "\${COMPREPLY[*]}"; }
    c server-credential-store mi
    c server-credential-store put k --value-
    c server-credential-store list --output ""
    c server-credential-store completion ""
    c server-credential-store orphans --exit`);
  assert.deepEqual(bashOut.trimEnd().split("\n"), [
    "complete -o default -F _server_credential_store server-credential-store",
    "migrate", "--value-stdin --value-file", "table json env", "bash zsh fish", "--exit-code",
  ]);
  for (const shell of ["zsh", "fish"]) {
    const which = spawnSync("sh", ["-c", `command -v ${shell}`]);
    assert.equal(which.status, 0, `${shell} is missing: scripts/setup.sh installs it`);
  }
  let r = spawnSync("zsh", ["-n", join(dir, "c.zsh")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  r = spawnSync("zsh", ["-c", `autoload -U compinit; compinit -u -d ${join(dir, "zcomp")}; source ${join(dir, "c.zsh")}; print -r -- $_comps[server-credential-store]`], { encoding: "utf8" });
  assert.equal(r.stdout.trim(), "_server_credential_store", r.stderr);
  r = spawnSync("fish", ["--no-execute", join(dir, "c.fish")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  r = spawnSync("fish", ["-c", `source ${join(dir, "c.fish")}; complete -C 'server-credential-store mig'; complete -C 'server-credential-store list --output '`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^migrate\tCopy an EncryptedKvCredentialStore/m);
  assert.deepEqual(r.stdout.trimEnd().split("\n").slice(1), ["env", "json", "table"]);
  r = run(dir, ["completion", "powershell"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /completion takes bash, zsh or fish/);
});

/**
 * A source EncryptedKvCredentialStore (@workglow/storage) over an
 * FsFolderJsonKvStorage folder, written by the real class in a node child.
 */
function makeSource(folder, passphrase, entries) {
  const script = `
    import { EncryptedKvCredentialStore, FsFolderJsonKvStorage } from "@workglow/storage";
    const store = new EncryptedKvCredentialStore(new FsFolderJsonKvStorage(${JSON.stringify(folder)}), ${JSON.stringify(passphrase)});
    for (const [key, value, options] of ${JSON.stringify(entries)}) {
      await store.put(key, value, { ...options, expiresAt: options.expiresAt ? new Date(options.expiresAt) : undefined });
    }
  `;
  const r = spawnSync(process.versions.bun ? "node" : process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

/** Every file of a folder with its bytes: to show that migrate never writes to the source. */
const snapshot = (folder) => Object.fromEntries(readdirSync(folder).sort().map((f) => [f, readFileSync(join(folder, f), "base64")]));

test("migrate from an EncryptedKvCredentialStore folder: dry run, copy, idempotent, source untouched", SLOW, () => {
  const dir = initialised();
  const source = join(dir, "old-store");
  const passphrase = "SECRET-passphrase words";
  makeSource(source, passphrase, [
    ["openai", "SECRET-sk-1", { label: "OpenAI", provider: "openai" }],
    ["github", NASTY, { expiresAt: "2031-01-01T00:00:00.000Z" }],
    ["stale", "SECRET-stale", { expiresAt: "2001-01-01T00:00:00.000Z" }],
  ]);
  const before = snapshot(source);
  const migrate = (...extra) => runJson(dir, ["migrate", "--from-dir", "old-store", "--passphrase-stdin", ...SCOPE, ...extra], { input: passphrase + "\n" });

  let r = migrate("--dry-run");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json, [
    { key: "github", status: "would migrate" }, { key: "openai", status: "would migrate" }, { key: "stale", status: "expired" },
  ]);
  assert.equal(run(dir, ["list", ...SCOPE]).stdout, "(none)\n", "the dry run wrote nothing");

  r = migrate();
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.map((e) => [e.key, e.status]), [["github", "migrated"], ["openai", "migrated"], ["stale", "expired"]]);
  assert.equal(run(dir, ["get", "openai", ...SCOPE]).stdout, "SECRET-sk-1");
  assert.equal(run(dir, ["get", "github", ...SCOPE]).stdout, NASTY);
  const listed = runJson(dir, ["list", ...SCOPE]).json.sort((x, y) => (x.key < y.key ? -1 : 1));
  assert.deepEqual(listed.map((m) => [m.key, m.label, m.provider, m.expiresAt]), [
    ["github", null, null, "2031-01-01T00:00:00.000Z"], ["openai", "OpenAI", "openai", null],
  ]);

  // Again: nothing new, no failure.
  r = migrate();
  assert.equal(r.code, 0);
  assert.deepEqual(r.json.map((e) => e.status), ["unchanged", "unchanged", "expired"]);
  const text = run(dir, ["migrate", "--from-dir", "old-store", "--passphrase-stdin", ...SCOPE], { input: passphrase });
  assert.match(text.stdout, /^migrated 0, unchanged 2, not copied 1$/m);

  // A key changed in this store since: a conflict, left alone unless --overwrite.
  assert.equal(run(dir, ["put", "openai", ...SCOPE, "--value-stdin"], { input: "SECRET-newer" }).code, 0);
  r = migrate();
  assert.equal(r.code, 1);
  assert.deepEqual(r.json.find((e) => e.key === "openai"), {
    key: "openai", status: "conflict", error: "the scope holds another value (--overwrite replaces it)",
  });
  assert.equal(run(dir, ["get", "openai", ...SCOPE]).stdout, "SECRET-newer");
  r = migrate("--overwrite");
  assert.equal(r.code, 0);
  assert.equal(r.json.find((e) => e.key === "openai").status, "overwritten");
  assert.equal(run(dir, ["get", "openai", ...SCOPE]).stdout, "SECRET-sk-1");

  // A wrong passphrase: every key fails, nothing written, the passphrase never shown.
  const wrong = run(dir, ["migrate", "--from-dir", "old-store", "--passphrase-stdin", "--user", "alice", "--project", "w"], { input: "SECRET-wrong-pass" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stdout, /^failed\s+github\s+cannot decrypt with the passphrase given/m);
  assert.equal(run(dir, ["list", "--user", "alice", "--project", "w"]).stdout, "(none)\n");

  assert.deepEqual(snapshot(source), before, "the source folder is byte for byte as it was (the expired entry included)");

  // Usage.
  for (const [args, message] of [
    [["migrate", ...SCOPE, "--passphrase-stdin"], /exactly one of --from-dir and --from-config/],
    [["migrate", ...SCOPE, "--from-dir", "old-store"], /migrate needs --passphrase-stdin/],
    [["migrate", ...SCOPE, "--from-dir", "a", "--from-config", "b", "--passphrase-stdin"], /exactly one of --from-dir and --from-config/],
  ]) {
    const u = run(dir, args, { input: passphrase });
    assert.equal(u.code, 2, args.join(" "));
    assert.match(u.stderr, message);
  }
  const missing = run(dir, ["migrate", ...SCOPE, "--from-dir", "nowhere", "--passphrase-stdin"], { input: passphrase });
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /no source folder at .*nowhere/);
  assert.equal(existsSync(join(dir, "nowhere")), false);
});

test("migrate: a failure midway loses nothing and a second run finishes; --from-config; keys outside the grammar", SLOW, () => {
  const dir = flakyDir();
  const source = join(dir, "src");
  const passphrase = "SECRET-pp";
  makeSource(source, passphrase, [
    ["a", "SECRET-a", {}], ["b", "SECRET-b", {}], ["c", "SECRET-c", {}], ["bad/key", "SECRET-bad", {}],
  ]);
  const before = snapshot(source);
  writeFileSync(join(dir, "source.config.mjs"), `
    import { FsFolderJsonKvStorage } from ${JSON.stringify(pathToFileURL(join(root, "node_modules/@workglow/storage/dist/node.js")).href)};
    export const kv = new FsFolderJsonKvStorage(${JSON.stringify(source)});`);
  const migrate = () => runJson(dir, ["migrate", "--from-config", "source.config.mjs", "--passphrase-stdin", ...withConfig], { input: passphrase });

  // The target vault fails once (quoting the value, which stderr/stdout mask).
  writeFileSync(join(dir, "fail.setSecret"), "");
  let r = migrate();
  assert.equal(r.code, 1);
  const failed = r.json.filter((e) => e.status === "failed");
  assert.equal(failed.length, 1);
  assert.match(failed[0].error, /simulated setSecret outage \(value \*\*\*\)/);
  assert.deepEqual(r.json.find((e) => e.key === "bad/key"), { key: "bad/key", status: "invalid-key" });
  assert.equal(r.json.filter((e) => e.status === "migrated").length, 2);
  assert.equal(Object.keys(state(dir).secrets).length, 2, "the failed put left no value behind");

  r = migrate();
  assert.equal(r.code, 1, "bad/key still cannot move");
  assert.deepEqual(r.json.map((e) => [e.key, e.status]).sort(), [
    ["a", "unchanged"], ["b", "unchanged"], ["bad/key", "invalid-key"], ["c", "unchanged"],
  ].map(([k, s]) => [k, k === failed[0].key ? "migrated" : s]).sort());
  for (const k of ["a", "b", "c"]) assert.equal(run(dir, ["get", k, ...withConfig]).stdout, `SECRET-${k}`);
  r = migrate();
  assert.deepEqual(r.json.map((e) => e.status).sort(), ["invalid-key", "unchanged", "unchanged", "unchanged"]);

  // A migrate killed inside a put leaves that key's pending row (and maybe
  // its value): the next run copies it.
  const s = state(dir);
  s.rows["alice/demo/a"] = { ...s.rows["alice/demo/a"], pending: true };
  delete s.secrets["alice/demo/a"];
  writeFileSync(join(dir, "state.json"), JSON.stringify(s));
  assert.equal(run(dir, ["get", "a", ...withConfig]).code, 3);
  r = migrate();
  assert.equal(r.json.find((e) => e.key === "a").status, "migrated");
  assert.equal(run(dir, ["get", "a", ...withConfig]).stdout, "SECRET-a");
  assert.notEqual(state(dir).rows["alice/demo/a"].pending, true, "committed");
  assert.deepEqual(snapshot(source), before, "the source is untouched");
});

test("migrate --passphrase-stdin on a terminal: the passphrase is typed with echo off", SLOW, () => {
  const dir = initialised();
  makeSource(join(dir, "src"), "SECRET-typed-pass", [["k", "SECRET-v", {}]]);
  const r = inPty(dir, ["migrate", "--from-dir", "src", "--passphrase-stdin", ...SCOPE], ["SECRET-typed-pass\r"]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /passphrase of the source store \(input hidden\): /);
  assert.doesNotMatch(r.output, /SECRET-/);
  assert.match(r.output, /^migrated\s+k$/m);
  assert.equal(run(dir, ["get", "k", ...SCOPE]).stdout, "SECRET-v");
});
