// The operator CLI (`server-credential-store`, js/cli.mjs shipped as
// pkg/cli.mjs), run as a real process under node in a scratch directory:
// the default file backend, --json shapes, exit codes (0 ok, 1 failed,
// 2 usage, 3 not found), --help texts, orphans/reconcile against a config
// module whose vault fails on demand, and no secret ever on stderr.
// Runs under node and bun (the CLI itself always runs under node).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
// The shipped file once the build copies it, else the source (same code).
const CLI = existsSync(join(root, "pkg/cli.mjs")) ? join(root, "pkg/cli.mjs") : join(root, "js/cli.mjs");
const NODE = process.versions.bun ? "node" : process.execPath;
const TOOL = "server-credential-store";
const COMMANDS = ["list", "get", "put", "delete", "orphans", "reconcile"];
const SCOPE = ["--user", "alice", "--project", "demo"];

// Each test spawns the CLI many times: beyond bun's default 5 s per test on a busy machine.
const SLOW = { timeout: 120_000 };

const scratch = () => mkdtempSync(join(tmpdir(), "credstore-cli-"));

/**
 * Runs the CLI. Every secret in these tests contains "SECRET-", and every
 * run checks that stderr never shows one.
 */
function run(cwd, args, { input } = {}) {
  const r = spawnSync(NODE, [CLI, ...args], { cwd, input, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.error, undefined, `spawn failed: ${r.error}`);
  assert.doesNotMatch(r.stderr, /SECRET-/, `a secret leaked to stderr of ${args.join(" ")}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const runJson = (cwd, args, opts) => {
  const r = run(cwd, [...args, "--json"], opts);
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : undefined, error: r.stderr ? JSON.parse(r.stderr).error : undefined };
};

// A config module: metadata rows and secrets in state.json next to it (each
// CLI run is a new process), and a vault method fails once for each file
// fail.<method> present (the file is removed when it fails). The failure
// message quotes the value, as a careless backend might: the CLI must mask it.
const FLAKY_CONFIG = `
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
const here = (name) => new URL(name, import.meta.url);
const load = () => (existsSync(here("state.json")) ? JSON.parse(readFileSync(here("state.json"), "utf8")) : { rows: {}, secrets: {} });
const save = (state) => writeFileSync(here("state.json"), JSON.stringify(state, null, 1));
const failOnce = (method, detail) => {
  if (!existsSync(here("fail." + method))) return;
  rmSync(here("fail." + method));
  throw new Error("simulated " + method + " outage (" + detail + ")");
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
  const put = run(dir, ["put", "--help"]).stdout;
  for (const opt of ["--value-stdin", "--value V", "--label L", "--provider P", "--expires ISO"]) assert.ok(put.includes(opt), opt);
  assert.match(run(dir, ["reconcile", "--help"]).stdout, /--dry-run[\s\S]*--stale-pending-ms N/);
  assert.match(run(dir, ["orphans", "--help"]).stdout, /--stale-pending-ms N/);

  const none = run(dir, []);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /^Usage: /);
  assert.equal(existsSync(join(dir, ".credstore")), false, "help touches no backend");
});

test("default backend: put/get/list/delete round trip under ./.credstore/", SLOW, () => {
  const dir = scratch();
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
  const dir = scratch();
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
  assert.deepEqual([r.code, r.json], [0, { dryRun: true, repaired: [], failed: [], skipped: [] }]);
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
    [["put", "k", ...SCOPE], /exactly one of --value-stdin and --value/],
    [["put", "k", ...SCOPE, "--value", "SECRET-x", "--value-stdin"], /exactly one of --value-stdin and --value/],
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
  assert.match(r.stdout, /^repaired 1, failed 0, skipped 0$/m);
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
      if (json) assert.equal(JSON.parse(r.stderr).error.code, "failed");
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
