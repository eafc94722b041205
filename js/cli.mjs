#!/usr/bin/env node
// server-credential-store: the operator CLI of server-credential-store-wasm.
//
// One scope (--user/--project, or CREDSTORE_USER/CREDSTORE_PROJECT) per run;
// backends from a config module (--config) or, by default, the file backend
// under --dir / CREDSTORE_DIR / ./.credstore (JSON metadata files, the
// AES-256-GCM FileVault). Node builtins only (plus the backend modules).
//
// The default store is created only by `init`: every other command refuses
// (exit 3, naming the path) when it is missing, so a typo in a directory
// never silently starts an empty store. The process runs with umask 077, so
// everything it creates is 0600 (files) or 0700 (directories); an existing
// store that group or others may read gets a warning.
//
// Secrets: `get` and `export --values` print values to stdout, on purpose,
// and nothing else ever prints one. Error output is built from messages only
// (the store's never contain values), and every value the run was given
// (--value, --value-stdin, --value-file, import, migrate) is also masked out
// of anything written to stderr, in its escaped and encoded forms too.
// Control characters are escaped in every table and message.
//
// Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 not found (a
// credential, or the store itself), 4 orphans found (orphans --exit-code),
// 130 interrupted.
import { inspect, parseArgs } from "node:util";
import { StringDecoder } from "node:string_decoder";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const TOOL = "server-credential-store";
const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NOT_FOUND: 3, ORPHANS: 4, INTERRUPTED: 130 };
const CODE_NAME = { 1: "failed", 2: "usage", 3: "not-found", 4: "orphans-found", 130: "interrupted" };
const SAFE_SEGMENT = /^[A-Za-z0-9._:-]{1,128}$/;
const SEGMENT_RULE = "1 to 128 characters of A-Z a-z 0-9 . _ : -";
/** Names `--output env` and dotenv files can carry: POSIX shell variable names. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_ROOT = ".credstore";
const OUTPUTS = ["table", "json", "env"];
// Values shorter than this are not masked in stderr (masking "a" would garble
// every message); the store's messages never hold a value in the first place.
const MIN_MASKED = 4;

class CliError extends Error {
  constructor(exitCode, message, options) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
const usageError = (message) => new CliError(EXIT.USAGE, message);

// ---- commands ---------------------------------------------------------

const COMMON_OPTIONS = {
  user: { type: "string" },
  project: { type: "string" },
  config: { type: "string" },
  dir: { type: "string" },
  strict: { type: "boolean" },
  output: { type: "string", short: "o" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

const COMMON_HELP = `Options for every command on a scope:
  --user U            userId of the scope (default: $CREDSTORE_USER)
  --project P         projectId of the scope (default: $CREDSTORE_PROJECT)
                      (ids and keys: ${SEGMENT_RULE})
  --dir DIR           the default file store's directory (default:
                      $CREDSTORE_DIR, else ./${DEFAULT_ROOT}); created only by
                      'init': other commands exit 3 when it is missing
  --config FILE       backends module instead of the file store: exports
                      { metadata, vault }, or a default function (may be async)
                      returning them, optionally with close()
  --strict            strict mode (versioned vault ids; only when every reader
                      of the store is this package)
  -o, --output FMT    table (default), json, or env where the command says so
  --json              the same as --output json (errors as JSON on stderr)
  -h, --help          show help`;

const EXIT_HELP =
  "Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 not found (or no store), 4 orphans found (orphans --exit-code).";

const STALE_HELP = `  --stale-pending-ms N  a pending row without an orphan marker older than N ms
                        is a put whose process died (default 600000 = 10 min)`;

const VALUE_OPTIONS = {
  "value-stdin": { type: "boolean" },
  "value-file": { type: "string" },
  value: { type: "string" },
};

const COMMANDS = {
  init: {
    args: [],
    scoped: false,
    commonOptions: ["dir", "json", "output", "help"],
    store: "create",
    outputs: ["table", "json"],
    options: {},
    summary: "Create the file store (--dir, $CREDSTORE_DIR or ./.credstore)",
    help: `Usage: ${TOOL} init [--dir DIR] [--json]

Create the default file store: DIR (0700) with metadata/ and vault/ (0700)
and a new 32-byte key in DIR/vault.key (0600). Running it on an existing
store changes nothing (exit 0). It refuses to make a new key when DIR/vault
holds encrypted files but the key file is gone (restore the key instead).

Output: "initialised <dir>" or "exists <dir>"; --json: { "dir", "created" }.`,
    run: runInit,
  },
  list: {
    args: [],
    outputs: OUTPUTS,
    options: {},
    summary: "List the credentials of the scope (metadata only, never values)",
    help: `Usage: ${TOOL} list --user U --project P [--output table|json|env]

List the committed, unexpired credentials of the scope: key, label, provider,
dates. Values are never listed.

Output: an aligned table; --output json: [{ "key", "label", "provider",
"createdAt", "updatedAt", "expiresAt" }] (absent fields are null);
--output env: one line per credential of shell-quoted assignments,
  key='openai' label='OpenAI' provider='openai' createdAt='…' updatedAt='…' expiresAt=''
safe to eval line by line (control characters appear escaped, as in the table).`,
    run: runList,
  },
  get: {
    args: ["key"],
    outputs: OUTPUTS,
    options: {},
    summary: "Print a credential's value to stdout",
    help: `Usage: ${TOOL} get <key> --user U --project P [--output table|json|env]

Print the value of a credential to stdout: one of the two commands that show
a secret. A newline follows only when stdout is a terminal (where control
characters in the value are shown escaped, e.g. \\x1b), so
  VALUE="$(${TOOL} get openai --user u --project p)"
captures it exactly.

Output: the value; --output json: { "key", "value" }; --output env:
KEY='value' (shell-quoted; the key must be a shell variable name).
Exit code 3 when there is no such credential (absent, pending or expired).`,
    run: runGet,
  },
  put: {
    args: ["key"],
    options: {
      ...VALUE_OPTIONS,
      label: { type: "string" },
      provider: { type: "string" },
      expires: { type: "string" },
      "allow-past": { type: "boolean" },
    },
    summary: "Store a credential (value from stdin, a file or --value)",
    help: `Usage: ${TOOL} put <key> --user U --project P
         (--value-stdin | --value-file FILE | --value V)
         [--label L] [--provider P] [--expires ISO [--allow-past]] [--json]

Store a credential, creating or replacing it. Give the value in exactly one way:
  --value-stdin       read it from standard input (one trailing newline, as
                      echo adds, is removed): printf %s "$KEY" | ${TOOL} put ...
                      On a terminal the value is typed with echo off (one
                      line, as read -s reads it).
  --value-file FILE   read it from FILE (one trailing newline removed)
  --value V           on the command line (other users of this machine may see
                      it in the process list: prefer the others; a warning
                      says so on stderr)

Options:
  --label L           label (when omitted, an existing entry keeps its label)
  --provider P        provider (likewise)
  --expires ISO       expiry, ISO-8601: 2030-01-01T00:00:00Z, with an offset
                      (+02:00) or Z, or a date alone (2030-01-01, midnight UTC)
  --allow-past        accept an --expires in the past (the entry is expired
                      at once); refused otherwise

Output: "stored <key>"; --json: { "key", "stored": true }.`,
    prepare: preparePut,
    run: runPut,
  },
  delete: {
    args: ["key"],
    options: {},
    summary: "Delete a credential",
    help: `Usage: ${TOOL} delete <key> --user U --project P [--json]

Delete a committed credential: its metadata row, then its vault value. A
pending entry (a put in flight, or an orphan marker) is left alone: use
reconcile for orphans.

Output: "deleted <key>"; --json: { "key", "deleted": true }.
Exit code 3 when there is no such committed credential.`,
    run: runDelete,
  },
  orphans: {
    args: [],
    options: { "stale-pending-ms": { type: "string" }, "exit-code": { type: "boolean" } },
    summary: "List orphan markers and stale pending rows",
    help: `Usage: ${TOOL} orphans --user U --project P [--stale-pending-ms N] [--exit-code] [--json]

List the rows of the scope that need repair: orphan markers left by a failed
put or delete (reason vault-write-failed, metadata-commit-failed,
vault-delete-failed, or unknown for old markers), pending rows older than
--stale-pending-ms (reason stale-pending), and in strict mode rows still
recording retired versions (retired-versions).

Options:
${STALE_HELP}
  --exit-code           exit 4 when any orphan is found (for monitors)

Output: an aligned table; --json: [{ "key", "reason", "orphanedAt", "updatedAt" }].`,
    prepare: (values) => ({ ...staleOption(values), exitCode: values["exit-code"] === true }),
    run: runOrphans,
  },
  reconcile: {
    args: [],
    options: { "dry-run": { type: "boolean" }, "stale-pending-ms": { type: "string" } },
    summary: "Repair orphans (--dry-run: only report)",
    help: `Usage: ${TOOL} reconcile --user U --project P [--dry-run] [--stale-pending-ms N] [--json]

Repair every orphan that 'orphans' lists: the vault value goes first, then the
row, so a failed repair leaves the orphan in place, still discoverable.

Options:
  --dry-run             report what would be repaired, change nothing
${STALE_HELP}

Output: a summary and a table; --json: { "dryRun", "repaired": [...],
"failed": [{ ..., "error" }], "skipped": [...], "invalid": [...] } with
entries as in 'orphans'. "invalid": entries whose id is outside the key
grammar (reason invalid-key): reported, never acted on.
Exit code 1 when any repair failed.`,
    prepare: (values) => ({ ...staleOption(values), dryRun: values["dry-run"] === true }),
    run: runReconcile,
  },
  export: {
    args: [],
    outputs: ["env", "json"],
    options: { values: { type: "boolean" }, out: { type: "string" } },
    summary: "Write the scope's credentials, values included, as a dotenv file",
    help: `Usage: ${TOOL} export --values --user U --project P [--out FILE] [--output env|json]

Write every committed, unexpired credential of the scope with its VALUE, as
KEY='value' lines (dotenv, shell-quoted: 'it'\\''s'), to stdout or to FILE.
The values leave the store only this way, so --values must be given.

Options:
  --values            required: confirms that secret values are written
  --out FILE          write to FILE, created with mode 0600 (an existing FILE
                      is refused, never overwritten); stdout otherwise

Keys that are not shell variable names ([A-Za-z_][A-Za-z0-9_]*) cannot be
dotenv names: they are left out, named in a warning, and the exit code is 1
(--output json has no such limit: { "KEY": "value", ... }).`,
    prepare: prepareExport,
    run: runExport,
  },
  import: {
    args: ["file"],
    options: { "dry-run": { type: "boolean" } },
    summary: "Put every KEY=value of a dotenv file (- for stdin)",
    help: `Usage: ${TOOL} import <file|-> --user U --project P [--dry-run] [--json]

Read a dotenv file and put each KEY=value in the scope (replacing existing
values; labels and providers are kept). The whole file is checked first: a
malformed line, a repeated key, an empty value or a key outside the key
grammar is a usage error (exit 2, with the line number, never the value) and
nothing is stored.

Accepted: KEY=value, export KEY=value, 'single quoted' (literal, as the shell
reads it; \\' outside quotes is a quote: 'it'\\''s'), "double quoted" (\\n \\t
\\r \\" \\\\ \\$ escapes), quoted values over several lines, # comments.
Unquoted values are trimmed and end at " #"; other backslashes are literal.

Options:
  --dry-run           check the file and list the keys, store nothing

Output: "imported N: KEY, ..."; --json: { "dryRun", "imported": [keys],
"failed": [{ "key", "error" }] }. Exit code 1 when any put failed (the
others are stored; run it again).`,
    prepare: (values) => ({ dryRun: values["dry-run"] === true }),
    run: runImport,
  },
  migrate: {
    args: [],
    options: {
      "from-dir": { type: "string" },
      "from-config": { type: "string" },
      "passphrase-stdin": { type: "boolean" },
      "dry-run": { type: "boolean" },
      overwrite: { type: "boolean" },
    },
    summary: "Copy an EncryptedKvCredentialStore (@workglow/storage) into the scope",
    help: `Usage: ${TOOL} migrate (--from-dir DIR | --from-config FILE) --passphrase-stdin
         --user U --project P [--dry-run] [--overwrite] [--json]

Copy every credential of an EncryptedKvCredentialStore of @workglow/storage
(its KV, decrypted with its passphrase) into this store's scope: value,
label, provider and expiry (createdAt becomes the time of the copy).

Source (exactly one):
  --from-dir DIR      the FsFolderJsonKvStorage folder the source store uses
                      (new FsFolderJsonKvStorage(DIR))
  --from-config FILE  a module exporting the source KV as \`kv\` (or a default
                      function, may be async, returning the KV or { kv,
                      close() })
  --passphrase-stdin  the source store's passphrase, from standard input
                      (required; typed with echo off on a terminal)

Options:
  --dry-run           list what would be copied, write nothing (run it first)
  --overwrite         replace a credential the scope holds with another value
                      (without it, that key is a conflict and is left alone)

The source is never modified (it is read through a view that refuses
writes, so an expired entry is skipped, not deleted). Each key is one put;
a key already holding the same value is "unchanged", so running it again
copies only what is missing: after a failure midway, run it again.

Statuses: migrated (would migrate), unchanged, conflict, expired (skipped),
invalid-key (outside the key grammar; skipped), failed.
Output: a table; --json: [{ "key", "status", "error"? }].
Exit code 1 when any key failed, conflicts, or has an invalid key.`,
    prepare: prepareMigrate,
    run: runMigrate,
  },
  completion: {
    args: ["shell"],
    scoped: false,
    commonOptions: ["help"],
    store: "none",
    options: {},
    summary: "Print a shell completion script (bash, zsh or fish)",
    help: `Usage: ${TOOL} completion bash|zsh|fish

Print a completion script for commands, options and option values.
  bash:  source <(${TOOL} completion bash)      (or save it in
         ~/.local/share/bash-completion/completions/${TOOL})
  zsh:   ${TOOL} completion zsh > "\${fpath[1]}/_${TOOL}"
  fish:  ${TOOL} completion fish > ~/.config/fish/completions/${TOOL}.fish`,
    run: runCompletion,
  },
};

function mainHelp() {
  const rows = Object.entries(COMMANDS).map(([name, c]) => [name + c.args.map((a) => ` <${a}>`).join(""), c.summary]);
  rows.push(["help [command]", "Show help (also: <command> --help)"]);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  const lines = rows.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}`);
  return `Usage: ${TOOL} <command> --user U --project P [options]

Operator tool for one scope (userId/projectId) of a ServerCredentialStore:
list, read and write credentials, find and repair orphaned entries, import,
export and migrate. Start with '${TOOL} init' for the default file store.

Commands:
${lines.join("\n")}

${COMMON_HELP}
  --version           print the version

${EXIT_HELP}`;
}

const commandHelp = (name) =>
  `${COMMANDS[name].help}\n\n${COMMANDS[name].scoped === false ? "" : COMMON_HELP + "\n\n"}${EXIT_HELP}`;

// ---- argument handling ------------------------------------------------

/** Every value given with --value, to mask from stderr whatever happens. */
function valuesInArgv(argv) {
  const found = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") break;
    if (argv[i] === "--value" && i + 1 < argv.length) found.push(argv[i + 1]);
    else if (argv[i].startsWith("--value=")) found.push(argv[i].slice("--value=".length));
  }
  return found;
}

function allOptions() {
  const all = { ...COMMON_OPTIONS };
  for (const c of Object.values(COMMANDS)) Object.assign(all, c.options);
  return all;
}

function parse(argv, env) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: allOptions(), allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    // Node's messages name the option, never its value; keep the first sentence.
    throw usageError(String(e.message).split("\n")[0].replace(/\. To specify .*$/, "."));
  }
  const { values, positionals, tokens } = parsed;
  let [command, ...args] = positionals;
  if (command === "help") {
    const topic = args[0];
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) throw usageError(`unknown command '${topic}'`);
    return { help: topic ?? true };
  }
  if (command !== undefined && !Object.hasOwn(COMMANDS, command)) {
    throw usageError(`unknown command '${command}'`);
  }
  if (values.version && command === undefined) return { version: true };
  if (values.help) return { help: command ?? true };
  if (command === undefined) throw usageError("no command given");

  const spec = COMMANDS[command];
  const scoped = spec.scoped !== false;
  const given = new Set();
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const common = Object.hasOwn(COMMON_OPTIONS, t.name) && (spec.commonOptions ?? Object.keys(COMMON_OPTIONS)).includes(t.name);
    if (!common && !Object.hasOwn(spec.options, t.name)) {
      throw usageError(`option --${t.name} does not apply to '${command}'`);
    }
    // A repeated option would silently take its last value: refused.
    if (given.has(t.name)) throw usageError(`option --${t.name} is given more than once`);
    given.add(t.name);
  }
  if (args.length !== spec.args.length) {
    // Never echo the extra arguments: a value typed by mistake would land in logs.
    const want = spec.args.length ? `exactly one argument <${spec.args[0]}>` : "no arguments";
    const hint = command === "put" && args.length > 1 ? "; give the value with --value-stdin or --value-file" : "";
    throw usageError(`'${command}' takes ${want}, got ${args.length}${hint}`);
  }

  const outputs = spec.outputs ?? ["table", "json"];
  if (values.output !== undefined && !OUTPUTS.includes(values.output)) {
    throw usageError(`--output must be one of ${OUTPUTS.join(", ")}`);
  }
  if (values.json && values.output !== undefined && values.output !== "json") {
    throw usageError(`--json is --output json; it contradicts --output ${values.output}`);
  }
  const output = values.json ? "json" : values.output ?? outputs[0];
  if (!outputs.includes(output)) throw usageError(`--output ${output} does not apply to '${command}' (${outputs.join(", ")})`);

  let scope;
  if (scoped) {
    scope = {};
    for (const [flag, name, variable, field] of [
      ["--user", "user", "CREDSTORE_USER", "userId"],
      ["--project", "project", "CREDSTORE_PROJECT", "projectId"],
    ]) {
      const fromEnv = values[name] === undefined && env[variable] !== undefined && env[variable] !== "";
      const value = values[name] ?? (fromEnv ? env[variable] : undefined);
      if (value === undefined) throw usageError(`${flag} is required (or set ${variable})`);
      if (!SAFE_SEGMENT.test(value)) throw usageError(`${fromEnv ? variable : flag} must be ${SEGMENT_RULE}`);
      scope[field] = value;
    }
  }
  if (values.config !== undefined && values.dir !== undefined) {
    throw usageError("--dir names the default file store; it does not apply with --config");
  }
  const key = spec.args[0] === "key" ? args[0] : undefined;
  if (key !== undefined && !SAFE_SEGMENT.test(key)) throw usageError(`invalid <key>: it must be ${SEGMENT_RULE}`);
  // Every usage check happens here, before any backend is touched.
  const options = spec.prepare ? spec.prepare(values, args) : {};
  return { command, key, args, values, options, output, scope };
}

/** The value source of put: exactly one of --value-stdin, --value-file, --value. */
function valueSource(values, command) {
  const sources = ["value-stdin", "value-file", "value"].filter((name) => values[name] !== undefined);
  if (sources.length !== 1) throw usageError(`${command} needs exactly one of --value-stdin, --value-file and --value`);
  return sources[0];
}

/** put: the value source and the put options. */
function preparePut(values) {
  const source = valueSource(values, "put");
  const options = {};
  if (values.label !== undefined) options.label = values.label;
  if (values.provider !== undefined) options.provider = values.provider;
  if (values.expires !== undefined) {
    const date = parseIsoDate(values.expires);
    if (date === undefined) {
      throw usageError("--expires must be an ISO-8601 date such as 2030-01-01T00:00:00Z (with Z or an offset) or 2030-01-01");
    }
    if (date.getTime() <= Date.now() && values["allow-past"] !== true) {
      throw usageError("--expires is in the past (the entry would be expired at once); add --allow-past to store it anyway");
    }
    options.expiresAt = date;
  } else if (values["allow-past"] === true) {
    throw usageError("--allow-past applies only with --expires");
  }
  return { source, putOptions: options };
}

function prepareExport(values) {
  if (values.values !== true) {
    throw usageError("export writes secret values: add --values to confirm (to stdout, or --out FILE for a 0600 file)");
  }
  return { out: values.out };
}

function prepareMigrate(values) {
  const from = ["from-dir", "from-config"].filter((name) => values[name] !== undefined);
  if (from.length !== 1) throw usageError("migrate needs exactly one of --from-dir and --from-config");
  if (values["passphrase-stdin"] !== true) throw usageError("migrate needs --passphrase-stdin (the source store's passphrase)");
  return { dryRun: values["dry-run"] === true, overwrite: values.overwrite === true };
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2})))?$/;

/**
 * An ISO-8601 date-time with Z or an offset, or a date alone (midnight UTC);
 * undefined for anything else, including calendar dates that do not exist
 * (2030-02-30) and forms Date would guess at ("1", "March 7").
 */
function parseIsoDate(text) {
  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", sec = "0", , oh = "0", om = "0"] = m;
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > days) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59 || Number(oh) > 23 || Number(om) > 59) return undefined;
  const date = new Date(m[4] === undefined ? `${m[0]}T00:00:00Z` : text.replace(/([+-]\d{2})(\d{2})$/, "$1:$2"));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function staleOption(values) {
  const raw = values["stale-pending-ms"];
  if (raw === undefined) return {};
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw usageError("--stale-pending-ms must be a non-negative whole number of milliseconds");
  }
  return { stalePendingMs: Number(raw) };
}

// ---- the default file store -------------------------------------------

const storeRoot = (values, env) => resolve(values.dir ?? (env.CREDSTORE_DIR || DEFAULT_ROOT));
const storePaths = (root) => ({
  root,
  metadata: join(root, "metadata"),
  vault: join(root, "vault"),
  keyFile: join(root, "vault.key"),
});

/** Exit 3 unless `root` is a store `init` made (its key file exists). */
function requireStore(paths) {
  if (existsSync(paths.keyFile)) return;
  const what = existsSync(paths.root) ? `${paths.root} is not a credential store (no vault.key)` : `no credential store at ${paths.root}`;
  throw new CliError(EXIT.NOT_FOUND, `${what}; run '${TOOL} init${paths.root === resolve(DEFAULT_ROOT) ? "" : ` --dir ${paths.root}`}' to create one`);
}

/** One warning when group or others may read any part of an existing store. */
function looseStoreWarning(paths) {
  const loose = [];
  const check = (path) => {
    try {
      const mode = statSync(path).mode & 0o777;
      if (mode & 0o077) loose.push(`${path} ${mode.toString(8).padStart(4, "0")}`);
    } catch {
      // absent: nothing to check
    }
  };
  for (const path of [paths.root, paths.metadata, paths.vault]) check(path);
  for (const dir of [paths.metadata, paths.vault]) {
    let names = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) check(join(dir, name));
  }
  if (!loose.length) return undefined;
  const shown = loose.slice(0, 3).join(", ") + (loose.length > 3 ? `, and ${loose.length - 3} more` : "");
  return `the store ${paths.root} is open to group or others (${shown}); run: chmod -R go-rwx ${paths.root}`;
}

async function fileBackends(paths, warn) {
  let storage;
  try {
    storage = await import("@workglow/storage");
  } catch (e) {
    throw new CliError(
      EXIT.FAILED,
      "the default backend needs @workglow/storage (npm install @workglow/storage @workglow/util); or pass --config",
      { cause: e },
    );
  }
  const { FileVault } = await import("./file-vault.mjs");
  const loose = looseStoreWarning(paths);
  if (loose) await warn(loose, "store-permissions");
  // FileVault refuses what others could replace; what they could read is the warning above.
  const vault = await FileVault.open({ dir: paths.vault, keyFile: paths.keyFile, onWarning: () => {} });
  const metadata = new storage.FsFolderJsonKvStorage(paths.metadata);
  return { metadata, vault };
}

// ---- backends ---------------------------------------------------------

/** Imports a module given with `--<flag>`; errors name the flag and the file. */
async function importModule(file, flag) {
  const path = resolve(file);
  if (!existsSync(path)) throw usageError(`${flag} module not found: ${file}`);
  try {
    return await import(pathToFileURL(path).href);
  } catch (e) {
    throw new CliError(EXIT.FAILED, `cannot load ${flag} module ${file}`, { cause: e });
  }
}

async function loadBackends(values, scope, env, warn) {
  if (values.config === undefined) {
    const paths = storePaths(storeRoot(values, env));
    requireStore(paths);
    return fileBackends(paths, warn);
  }
  const mod = await importModule(values.config, "config");
  let config;
  try {
    if (typeof mod.default === "function") config = await mod.default({ ...scope, cwd: process.cwd() });
    else config = mod.default?.metadata !== undefined ? mod.default : mod;
  } catch (e) {
    throw new CliError(EXIT.FAILED, `config module ${values.config} failed to create the backends`, { cause: e });
  }
  const { metadata, vault } = config ?? {};
  const fits = (o, methods) => o != null && methods.every((m) => typeof o[m] === "function");
  if (!fits(metadata, ["get", "put", "delete", "getAll"]) || !fits(vault, ["setSecret", "getSecret", "deleteSecret"])) {
    throw usageError(
      `config module ${values.config} must export { metadata, vault } (a KV with get/put/delete/getAll ` +
        `and a vault with setSecret/getSecret/deleteSecret), or a default function returning them`,
    );
  }
  return { metadata, vault, close: typeof config.close === "function" ? () => config.close() : undefined };
}

// ---- output -----------------------------------------------------------

// Characters a terminal may act on: C0 and C1 controls (escape sequences set
// the window title, clear the screen, move the cursor), DEL, and the Unicode
// line separators and bidirectional overrides (they reorder what is shown).
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED_ESCAPES = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** `text` with every unsafe character shown as an escape (\x1b, \n, \u{202e}); `keep` lists characters left as they are. */
function printable(text, keep = "") {
  return String(text).replace(UNSAFE_CHARS, (c) => {
    if (keep.includes(c)) return c;
    const code = c.charCodeAt(0);
    return NAMED_ESCAPES[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`);
  });
}

/** JSON text with the unsafe characters JSON.stringify leaves raw (C1, DEL, bidi) as \u escapes: the same JSON value. */
const terminalSafeJson = (text) =>
  text.replace(/[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

const nullify = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === undefined ? null : v]));
const json = (v) => terminalSafeJson(JSON.stringify(v, null, 2)) + "\n";

/** Single-quoted for POSIX shells (and read back by import): nothing in it is expanded. */
const shellQuote = (value) => `'${String(value).replaceAll("'", `'\\''`)}'`;

function table(rows, columns) {
  if (!rows.length) return "(none)\n";
  const cell = (v) => (v === undefined || v === null || v === "" ? "-" : printable(v));
  const width = columns.map(([title, field]) => Math.max(title.length, ...rows.map((r) => cell(r[field]).length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(width[i])).join("  ").trimEnd() + "\n";
  return (
    line(columns.map(([title]) => title)) +
    line(width.map((w) => "-".repeat(w))) +
    rows.map((r) => line(columns.map(([, field]) => cell(r[field])))).join("")
  );
}

const ORPHAN_COLUMNS = [["KEY", "key"], ["REASON", "reason"], ["ORPHANED AT", "orphanedAt"], ["UPDATED AT", "updatedAt"]];
const INFO_FIELDS = ["key", "label", "provider", "createdAt", "updatedAt", "expiresAt"];

/** A thrown value's message, never its other contents. */
function messageOf(e) {
  if (e instanceof Error || (e !== null && typeof e === "object" && typeof e.message === "string")) return String(e.message);
  return typeof e === "string" ? e : `non-Error value thrown (${e === null ? "null" : typeof e})`;
}

/** The message, then each cause, and each error of an AggregateError. */
function describe(e, depth = 0) {
  const lines = [messageOf(e)];
  if (depth < 8 && e !== null && typeof e === "object") {
    if (Array.isArray(e.errors)) for (const inner of e.errors) lines.push(...describe(inner, depth + 1).map((l) => `- ${l}`));
    if (e.cause !== undefined) lines.push(...describe(e.cause, depth + 1).map((l, i) => (i ? l : `cause: ${l}`)));
  }
  return lines;
}

/**
 * The forms in which a value may appear inside an error message: as is,
 * JSON-escaped (once and twice), as util.inspect quotes it, URI-encoded,
 * base64 / base64url / hex, shell-quoted, and as printable() shows it.
 * Longest first.
 */
function maskForms(value) {
  const bytes = Buffer.from(value, "utf8");
  const escaped = JSON.stringify(value).slice(1, -1);
  const forms = new Set([
    value,
    escaped,
    JSON.stringify(escaped).slice(1, -1),
    inspect(value).slice(1, -1),
    encodeURIComponent(value),
    bytes.toString("base64").replace(/=+$/, ""),
    bytes.toString("base64url"),
    bytes.toString("hex"),
    shellQuote(value).slice(1, -1),
    printable(value),
  ]);
  return [...forms].filter((f) => f.length >= MIN_MASKED).sort((a, b) => b.length - a.length);
}

// ---- input --------------------------------------------------------------

/**
 * One line typed on the terminal with echo off (as `read -s`): Enter ends
 * it, Backspace and Ctrl-U edit it, Ctrl-D ends the input, Ctrl-C aborts.
 */
async function readHiddenLine(prompt) {
  const stdin = process.stdin;
  await write(process.stderr, prompt);
  const decoder = new StringDecoder("utf8");
  let line = "";
  stdin.setRawMode(true);
  try {
    return await new Promise((done, fail) => {
      stdin.on("data", (chunk) => {
        for (const ch of decoder.write(chunk)) {
          if (ch === "\r" || ch === "\n" || ch === "\u0004") return done(line);
          if (ch === "\u0003") return fail(new CliError(EXIT.INTERRUPTED, "interrupted"));
          if (ch === "\u007f" || ch === "\b") line = Array.from(line).slice(0, -1).join("");
          else if (ch === "\u0015") line = "";
          else line += ch;
        }
      });
      stdin.resume();
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    await write(process.stderr, "\n");
  }
}

async function readStdinText() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** A secret from stdin: hidden line on a terminal, else all of it minus one trailing newline. */
async function readSecretFromStdin(prompt) {
  if (process.stdin.isTTY && typeof process.stdin.setRawMode === "function") return readHiddenLine(prompt);
  return (await readStdinText()).replace(/\r?\n$/, "");
}

async function readValueFile(file) {
  try {
    return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
  } catch (e) {
    throw usageError(`cannot read --value-file ${file}: ${e.code ?? messageOf(e)}`);
  }
}

/**
 * A dotenv file as [{ key, value, line }]; throws a usage error naming the
 * line (never a value) at the first problem.
 */
function parseDotenv(text, source) {
  const entries = [];
  const seen = new Set();
  const fail = (line, what) => {
    throw usageError(`${source}:${line}: ${what}`);
  };
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    // Skip blank space and comment lines.
    if (text[i] === "\n") {
      line++;
      i++;
      continue;
    }
    if (text[i] === " " || text[i] === "\t" || text[i] === "\r") {
      i++;
      continue;
    }
    if (text[i] === "#") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    const nameMatch = /^(?:export[ \t]+)?([^=\s]+)[ \t]*=[ \t]*/.exec(text.slice(i, text.indexOf("\n", i) === -1 ? n : text.indexOf("\n", i)));
    if (!nameMatch) fail(startLine, "not a KEY=value line");
    const key = nameMatch[1];
    if (!SAFE_SEGMENT.test(key)) fail(startLine, `invalid key: it must be ${SEGMENT_RULE}`);
    if (seen.has(key)) fail(startLine, `key ${key} is given more than once`);
    seen.add(key);
    i += nameMatch[0].length;
    let value = "";
    // A value is a run of quoted and unquoted parts, as the shell reads it.
    while (i < n && text[i] !== "\n") {
      const c = text[i];
      if (c === "'") {
        const end = text.indexOf("'", i + 1);
        if (end === -1) fail(startLine, `unterminated ' quote in the value of ${key}`);
        const part = text.slice(i + 1, end);
        line += part.split("\n").length - 1;
        value += part;
        i = end + 1;
      } else if (c === '"') {
        i++;
        for (;;) {
          if (i >= n) fail(startLine, `unterminated " quote in the value of ${key}`);
          const d = text[i];
          if (d === '"') {
            i++;
            break;
          }
          if (d === "\\" && i + 1 < n) {
            const e = text[i + 1];
            value += { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", $: "$" }[e] ?? `\\${e}`;
            if (e === "\n") line++;
            i += 2;
            continue;
          }
          if (d === "\n") line++;
          value += d;
          i++;
        }
      } else if (c === "\\" && text[i + 1] === "'") {
        // \' outside quotes is a quote, as in export's 'it'\''s'; other
        // backslashes outside quotes are literal, as dotenv reads them.
        value += "'";
        i += 2;
      } else if (c === "#" && (value === "" || /[ \t]$/.test(text[i - 1]))) {
        while (i < n && text[i] !== "\n") i++;
      } else {
        value += c;
        i++;
      }
    }
    value = value.replace(/[ \t\r]+$/, "");
    if (value === "") fail(startLine, `${key} has an empty value`);
    entries.push({ key, value, line: startLine });
  }
  return entries;
}

// ---- command bodies: each returns { stdout, exitCode? } ---------------

async function runInit({ paths, output }) {
  if (existsSync(paths.keyFile)) {
    return { stdout: output === "json" ? json({ dir: paths.root, created: false }) : `exists ${paths.root}\n` };
  }
  let secrets = [];
  try {
    secrets = readdirSync(paths.vault).filter((f) => f.endsWith(".secret"));
  } catch {
    // no vault directory yet
  }
  if (secrets.length) {
    throw new CliError(
      EXIT.FAILED,
      `${paths.vault} holds ${secrets.length} encrypted file(s) but ${paths.keyFile} is missing: ` +
        "refusing to create a new key (restore the key file)",
    );
  }
  await mkdir(paths.root, { recursive: true, mode: 0o700 });
  await mkdir(paths.metadata, { recursive: true, mode: 0o700 });
  const { FileVault } = await import("./file-vault.mjs");
  await FileVault.open({ dir: paths.vault, keyFile: paths.keyFile, onWarning: () => {} });
  return { stdout: output === "json" ? json({ dir: paths.root, created: true }) : `initialised ${paths.root}\n` };
}

async function runList({ store, output }) {
  const infos = await store.listMetadata();
  if (output === "json") return { stdout: json(infos.map(nullify)) };
  if (output === "env") {
    // One line per credential, so a reader may eval line by line: control
    // characters (a newline would end the line inside a quote) are escaped,
    // as in the table.
    return {
      stdout: infos.map((info) => INFO_FIELDS.map((f) => `${f}=${shellQuote(printable(info[f] ?? ""))}`).join(" ") + "\n").join(""),
    };
  }
  return {
    stdout: table(infos, [
      ["KEY", "key"], ["LABEL", "label"], ["PROVIDER", "provider"],
      ["CREATED AT", "createdAt"], ["UPDATED AT", "updatedAt"], ["EXPIRES AT", "expiresAt"],
    ]),
  };
}

function notFound(key, scope) {
  return new CliError(EXIT.NOT_FOUND, `not found: no credential '${key}' in scope ${scope.userId}/${scope.projectId}`);
}

/** Values for the eye on a terminal (control characters escaped); exact when captured. */
const forStdout = (text) => (process.stdout.isTTY ? printable(text, "\n") : text);

async function runGet({ store, key, output, scope }) {
  if (output === "env" && !SHELL_NAME.test(key)) {
    throw usageError(`--output env needs a key that is a shell variable name ([A-Za-z_][A-Za-z0-9_]*); '${key}' is not`);
  }
  const value = await store.get(key);
  if (value === undefined) throw notFound(key, scope);
  if (output === "json") return { stdout: json({ key, value }) };
  if (output === "env") return { stdout: forStdout(`${key}=${shellQuote(value)}`) + "\n" };
  // A newline only on a terminal, so $(...) captures the value exactly.
  return { stdout: process.stdout.isTTY ? printable(value) + "\n" : String(value) };
}

async function runPut({ store, key, output, options }) {
  await store.put(key, options.value, options.putOptions);
  return { stdout: output === "json" ? json({ key, stored: true }) : `stored ${key}\n` };
}

async function runDelete({ store, key, output, scope }) {
  if (!(await store.delete(key))) throw notFound(key, scope);
  return { stdout: output === "json" ? json({ key, deleted: true }) : `deleted ${key}\n` };
}

async function runOrphans({ store, output, options }) {
  const orphans = await store.listOrphans(options.stalePendingMs === undefined ? {} : { stalePendingMs: options.stalePendingMs });
  const exitCode = options.exitCode && orphans.length ? EXIT.ORPHANS : EXIT.OK;
  return { stdout: output === "json" ? json(orphans.map(nullify)) : table(orphans, ORPHAN_COLUMNS), exitCode };
}

async function runReconcile({ store, output, options, mask }) {
  const report = await store.reconcile(options);
  const failed = report.failed.map(({ error, ...info }) => ({ ...info, error: mask(describe(error).join("; ")) }));
  const exitCode = failed.length ? EXIT.FAILED : EXIT.OK;
  if (output === "json") {
    const out = {
      dryRun: report.dryRun,
      repaired: report.repaired.map(nullify),
      failed: failed.map(nullify),
      skipped: report.skipped.map(nullify),
      invalid: report.invalid.map(nullify),
    };
    return { stdout: json(out), exitCode };
  }
  const rows = [
    ...report.repaired.map((o) => ({ ...o, status: report.dryRun ? "would repair" : "repaired" })),
    ...failed.map((o) => ({ ...o, status: "failed" })),
    ...report.skipped.map((o) => ({ ...o, status: "skipped" })),
    ...report.invalid.map((o) => ({ ...o, status: "not acted on" })),
  ];
  const head = report.dryRun
    ? `dry run: ${report.repaired.length} to repair, nothing changed\n`
    : `repaired ${report.repaired.length}, failed ${failed.length}, skipped ${report.skipped.length}, invalid ${report.invalid.length}\n`;
  const columns = [["STATUS", "status"], ...ORPHAN_COLUMNS];
  if (failed.length) columns.push(["ERROR", "error"]);
  return { stdout: head + (rows.length ? table(rows, columns) : ""), exitCode };
}

async function runExport({ store, output, options, scope, warn }) {
  const entries = [];
  const unnamed = [];
  for (const { key } of await store.listMetadata()) {
    if (output === "env" && !SHELL_NAME.test(String(key))) {
      unnamed.push(key);
      continue;
    }
    const value = await store.get(key);
    if (value !== undefined) entries.push([key, String(value)]); // deleted or expired meanwhile: gone
  }
  const text =
    output === "json"
      ? json(Object.fromEntries(entries))
      : `# ${TOOL} export of ${scope.userId}/${scope.projectId}, ${new Date().toISOString()}\n` +
        entries.map(([key, value]) => `${key}=${shellQuote(value)}\n`).join("");
  if (unnamed.length) {
    await warn(
      `not exported (not shell variable names, use --output json): ${unnamed.join(", ")}`,
      "keys-not-exported",
    );
  }
  const exitCode = unnamed.length ? EXIT.FAILED : EXIT.OK;
  if (options.out === undefined) return { stdout: forStdout(text), exitCode };
  let handle;
  try {
    // "wx": never overwrite (nor follow a planted link to) an existing file.
    handle = await open(options.out, "wx", 0o600);
  } catch (e) {
    if (e.code === "EEXIST") throw new CliError(EXIT.FAILED, `${options.out} exists; export never overwrites a file (remove it first)`);
    throw e;
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  const done = `exported ${entries.length} to ${options.out}`;
  return { stdout: output === "json" ? json({ exported: entries.map(([key]) => key), out: options.out }) : done + "\n", exitCode };
}

async function runImport({ store, output, options, mask }) {
  const { entries } = options;
  const imported = [];
  const failed = [];
  if (!options.dryRun) {
    for (const { key, value } of entries) {
      try {
        await store.put(key, value);
        imported.push(key);
      } catch (e) {
        failed.push({ key, error: mask(describe(e).join("; ")) });
      }
    }
  }
  const keys = options.dryRun ? entries.map((e) => e.key) : imported;
  const exitCode = failed.length ? EXIT.FAILED : EXIT.OK;
  if (output === "json") return { stdout: json({ dryRun: options.dryRun, imported: keys, failed }), exitCode };
  const head = `${options.dryRun ? "would import" : "imported"} ${keys.length}${keys.length ? ": " + keys.join(", ") : ""}\n`;
  return { stdout: head + (failed.length ? table(failed, [["FAILED", "key"], ["ERROR", "error"]]) : ""), exitCode };
}

/** The source KV of migrate, wrapped so that nothing can write to it. */
async function migrateSource(values, scope) {
  let kv;
  let close;
  if (values["from-dir"] !== undefined) {
    const dir = resolve(values["from-dir"]);
    // FsFolderJsonKvStorage creates its folder on first use: check first.
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(EXIT.NOT_FOUND, `no source folder at ${dir}`);
    const { FsFolderJsonKvStorage } = await import("@workglow/storage");
    kv = new FsFolderJsonKvStorage(dir);
  } else {
    const mod = await importModule(values["from-config"], "from-config");
    try {
      let got = typeof mod.default === "function" ? await mod.default({ ...scope, cwd: process.cwd() }) : mod.default ?? mod;
      if (got && got.kv !== undefined) {
        if (typeof got.close === "function") close = () => got.close();
        got = got.kv;
      }
      kv = got;
    } catch (e) {
      throw new CliError(EXIT.FAILED, `from-config module ${values["from-config"]} failed to create the source KV`, { cause: e });
    }
    if (kv == null || typeof kv.get !== "function" || typeof kv.getAll !== "function") {
      throw usageError(`from-config module ${values["from-config"]} must export the source KV as kv (with get and getAll), or a default function returning it`);
    }
  }
  const refuse = (method) => async () => {
    throw new Error(`migrate never writes to the source (it tried ${method})`);
  };
  const readOnly = {
    get: (key) => kv.get(key),
    getAll: () => kv.getAll(),
    put: refuse("put"),
    delete: refuse("delete"),
    deleteAll: refuse("deleteAll"),
    putBulk: refuse("putBulk"),
  };
  return { kv: readOnly, close };
}

async function runMigrate({ store, output, options, values, scope, mask, secrets }) {
  const { kv, close } = await migrateSource(values, scope);
  const rows = [];
  try {
    let EncryptedKvCredentialStore;
    try {
      ({ EncryptedKvCredentialStore } = await import("@workglow/storage"));
    } catch (e) {
      throw new CliError(EXIT.FAILED, "migrate needs @workglow/storage (npm install @workglow/storage @workglow/util)", { cause: e });
    }
    const source = new EncryptedKvCredentialStore(kv, options.passphrase);
    const entries = (await kv.getAll()) ?? [];
    const now = new Date();
    for (const entry of entries) {
      const key = entry?.key;
      const raw = entry?.value;
      if (typeof key !== "string" || !SAFE_SEGMENT.test(key)) {
        rows.push({ key: String(key), status: "invalid-key" });
        continue;
      }
      if (raw?.expiresAt && new Date(raw.expiresAt) <= now) {
        rows.push({ key, status: "expired" });
        continue;
      }
      let value;
      try {
        value = await source.get(key);
      } catch (e) {
        rows.push({ key, status: "failed", error: mask(`cannot decrypt with the passphrase given: ${describe(e).join("; ")}`) });
        continue;
      }
      if (typeof value !== "string") {
        rows.push({ key, status: "expired" }); // gone or expired since the listing
        continue;
      }
      secrets.push(value);
      try {
        const current = await store.get(key);
        if (current === value) {
          rows.push({ key, status: "unchanged" });
          continue;
        }
        if (current !== undefined && !options.overwrite) {
          rows.push({ key, status: "conflict", error: "the scope holds another value (--overwrite replaces it)" });
          continue;
        }
        if (options.dryRun) {
          rows.push({ key, status: current === undefined ? "would migrate" : "would overwrite" });
          continue;
        }
        const putOptions = {};
        if (typeof raw?.label === "string") putOptions.label = raw.label;
        if (typeof raw?.provider === "string") putOptions.provider = raw.provider;
        if (raw?.expiresAt) putOptions.expiresAt = new Date(raw.expiresAt);
        await store.put(key, value, putOptions);
        rows.push({ key, status: current === undefined ? "migrated" : "overwritten" });
      } catch (e) {
        rows.push({ key, status: "failed", error: mask(describe(e).join("; ")) });
      }
    }
  } finally {
    if (close) await close();
  }
  rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const bad = rows.filter((r) => ["failed", "conflict", "invalid-key"].includes(r.status)).length;
  const exitCode = bad ? EXIT.FAILED : EXIT.OK;
  if (output === "json") return { stdout: json(rows), exitCode };
  const count = (status) => rows.filter((r) => r.status === status).length;
  const head = options.dryRun
    ? `dry run: ${count("would migrate") + count("would overwrite")} to copy, nothing written\n`
    : `migrated ${count("migrated") + count("overwritten")}, unchanged ${count("unchanged")}, not copied ${rows.length - count("migrated") - count("overwritten") - count("unchanged")}\n`;
  const columns = [["STATUS", "status"], ["KEY", "key"]];
  if (rows.some((r) => r.error)) columns.push(["ERROR", "error"]);
  return { stdout: head + (rows.length ? table(rows, columns) : ""), exitCode };
}

// ---- completion -------------------------------------------------------

function completionScript(shell) {
  const commands = [...Object.keys(COMMANDS), "help"];
  const flagsOf = (name) => {
    const spec = COMMANDS[name];
    const common = (spec.commonOptions ?? Object.keys(COMMON_OPTIONS)).filter((o) => o !== "version");
    return [...common, ...Object.keys(spec.options)].map((o) => `--${o}`);
  };
  const fileOptions = ["--config", "--from-config", "--value-file", "--out"];
  const dirOptions = ["--dir", "--from-dir"];
  const fn = "_server_credential_store";
  if (shell === "bash") {
    const cases = Object.keys(COMMANDS)
      .map((name) => `    ${name}) flags="${flagsOf(name).join(" ")}" ;;`)
      .join("\n");
    return `# bash completion for ${TOOL}: source <(${TOOL} completion bash)
${fn}() {
  local cur prev cmd flags i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$prev" in
    ${fileOptions.join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${dirOptions.join("|")}) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --output|-o) COMPREPLY=($(compgen -W "${OUTPUTS.join(" ")}" -- "$cur")); return ;;
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${commands.join(" ")} --help --version" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
    help) COMPREPLY=($(compgen -W "${Object.keys(COMMANDS).join(" ")}" -- "$cur")); return ;;
    *) return ;;
  esac
  if [[ "$cmd" == completion && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur"))
  elif [[ "$cmd" == import && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  fi
}
complete -o default -F ${fn} ${TOOL}
`;
  }
  if (shell === "zsh") {
    const describeCommands = Object.entries(COMMANDS)
      .map(([name, c]) => `    '${name}:${c.summary.replaceAll("'", "'\\''").replaceAll(":", "\\:")}'`)
      .join("\n");
    const cases = Object.keys(COMMANDS)
      .map((name) => `    ${name}) flags=(${flagsOf(name).join(" ")}) ;;`)
      .join("\n");
    return `#compdef ${TOOL}
# zsh completion for ${TOOL}: save as _${TOOL} in a directory of $fpath
${fn}() {
  local -a commands flags
  commands=(
${describeCommands}
    'help:Show help'
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'command' commands
    return
  fi
  case "\${words[CURRENT-1]}" in
    ${fileOptions.join("|")}) _files; return ;;
    ${dirOptions.join("|")}) _files -/; return ;;
    --output|-o) compadd ${OUTPUTS.join(" ")}; return ;;
  esac
  case "\${words[2]}" in
${cases}
    help) compadd ${Object.keys(COMMANDS).join(" ")}; return ;;
    *) return ;;
  esac
  if [[ "\${words[2]}" == completion && "\${words[CURRENT]}" != -* ]]; then
    compadd bash zsh fish
  else
    compadd -- $flags
  fi
}
compdef ${fn} ${TOOL}
`;
  }
  // fish
  const lines = [
    `# fish completion for ${TOOL}: save as ~/.config/fish/completions/${TOOL}.fish`,
    `complete -c ${TOOL} -f`,
  ];
  const quote = (s) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  for (const [name, c] of Object.entries(COMMANDS)) {
    lines.push(`complete -c ${TOOL} -n __fish_use_subcommand -a ${name} -d ${quote(c.summary)}`);
    for (const flag of flagsOf(name)) {
      const long = flag.slice(2);
      let extra = "";
      if (fileOptions.includes(flag) || dirOptions.includes(flag)) extra = " -r -F";
      else if (long === "output") extra = ` -x -a ${quote(OUTPUTS.join(" "))}`;
      else if ((COMMON_OPTIONS[long] ?? c.options[long])?.type === "string") extra = " -x";
      lines.push(`complete -c ${TOOL} -n ${quote(`__fish_seen_subcommand_from ${name}`)} -l ${long}${extra}`);
    }
  }
  lines.push(`complete -c ${TOOL} -n __fish_use_subcommand -a help -d 'Show help'`);
  lines.push(`complete -c ${TOOL} -n ${quote("__fish_seen_subcommand_from completion")} -a ${quote("bash zsh fish")}`);
  lines.push(`complete -c ${TOOL} -n ${quote("__fish_seen_subcommand_from import")} -F`);
  return lines.join("\n") + "\n";
}

async function runCompletion({ args }) {
  return { stdout: completionScript(args[0]) };
}

// ---- main ---------------------------------------------------------------

function version() {
  try {
    return JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")).version;
  } catch {
    return "unknown";
  }
}

const write = (stream, text) => new Promise((done) => (text ? stream.write(text, () => done()) : done()));

async function main(argv, env) {
  // Everything this process creates is private to its user: 0600 / 0700.
  process.umask(0o077);
  const secrets = valuesInArgv(argv);
  const mask = (text) =>
    secrets.reduce(
      (t, s) => (typeof s === "string" && s.length >= MIN_MASKED ? maskForms(s).reduce((u, f) => u.split(f).join("***"), t) : t),
      text,
    );
  let wantJson =
    argv.includes("--json") || argv.includes("--output=json") || argv.some((a, i) => (a === "--output" || a === "-o") && argv[i + 1] === "json");
  let close;
  // A warning: one line on stderr (a JSON object per line with --json).
  const warn = (message, code) =>
    write(
      process.stderr,
      wantJson
        ? terminalSafeJson(JSON.stringify({ warning: { code, message: mask(message) } })) + "\n"
        : `${TOOL}: warning: ${printable(mask(message))}\n`,
    );
  try {
    if (argv.length === 0) {
      await write(process.stderr, mainHelp() + "\n");
      return EXIT.USAGE;
    }
    const parsed = parse(argv, env);
    if (parsed.version) {
      await write(process.stdout, `${version()}\n`);
      return EXIT.OK;
    }
    if (parsed.help) {
      await write(process.stdout, (parsed.help === true ? mainHelp() : commandHelp(parsed.help)) + "\n");
      return EXIT.OK;
    }
    const { command, key, args, values, options, output, scope } = parsed;
    wantJson = output === "json";
    const spec = COMMANDS[command];
    if (command === "completion") {
      if (!["bash", "zsh", "fish"].includes(args[0])) throw usageError("completion takes bash, zsh or fish");
    }
    if (spec.store === "none") {
      const result = await spec.run({ args, output });
      await write(process.stdout, result.stdout);
      return EXIT.OK;
    }
    if (spec.store === "create") {
      if (values.config !== undefined) throw usageError("init creates the default file store; with --config, create your backends yourself");
      const result = await spec.run({ paths: storePaths(storeRoot(values, env)), output });
      await write(process.stdout, result.stdout);
      return EXIT.OK;
    }

    // Input first: every value is read (and masked) before a backend is touched.
    if (command === "put") {
      if (options.source === "value") {
        await warn(
          "--value puts the value in the process list, where other users of this machine may see it; prefer --value-stdin or --value-file",
          "value-in-argv",
        );
        options.value = values.value;
      } else {
        options.value =
          options.source === "value-file"
            ? await readValueFile(values["value-file"])
            : await readSecretFromStdin(`value for ${key} (input hidden): `);
        secrets.push(options.value);
        // Most likely an unset variable (echo "$UNSET" | ...), not a wish to store "".
        if (options.value === "") {
          throw usageError(`the value read from ${options.source === "value-file" ? "the file" : "standard input"} is empty (use --value '' to store an empty value)`);
        }
      }
    }
    if (command === "import") {
      const file = args[0];
      let text;
      if (file === "-") {
        if (process.stdin.isTTY) throw usageError("import - reads a dotenv file from standard input; pipe one in, or name the file");
        text = await readStdinText();
      } else {
        try {
          text = await readFile(file, "utf8");
        } catch (e) {
          throw usageError(`cannot read ${file}: ${e.code ?? messageOf(e)}`);
        }
      }
      options.entries = parseDotenv(text, file === "-" ? "stdin" : file);
      for (const { value } of options.entries) secrets.push(value);
      if (!options.entries.length) throw usageError(`${file === "-" ? "stdin" : file} holds no KEY=value line`);
    }
    if (command === "migrate") {
      options.passphrase = await readSecretFromStdin("passphrase of the source store (input hidden): ");
      secrets.push(options.passphrase);
      if (options.passphrase === "") throw usageError("the passphrase read from standard input is empty");
    }

    const backends = await loadBackends(values, { ...scope, strict: values.strict === true }, env, warn);
    close = backends.close;
    const { ServerCredentialStore } = await import("server-credential-store-wasm");
    let store;
    try {
      store = new ServerCredentialStore({
        metadata: backends.metadata,
        vault: backends.vault,
        ...scope,
        ...(values.strict ? { strict: true } : {}),
      });
    } catch (e) {
      throw usageError(`invalid scope: ${messageOf(e)}`);
    }
    const result = await spec.run({ store, key, args, values, options, output, scope, secrets, mask, warn });
    await write(process.stdout, result.stdout);
    return result.exitCode ?? EXIT.OK;
  } catch (e) {
    const exitCode = e instanceof CliError ? e.exitCode : EXIT.FAILED;
    const lines = describe(e).map(mask);
    if (wantJson) {
      const [message, ...causes] = lines;
      const error = { code: CODE_NAME[exitCode], exitCode, message, causes };
      await write(process.stderr, terminalSafeJson(JSON.stringify({ error })) + "\n");
    } else {
      const hint = exitCode === EXIT.USAGE ? `\nRun '${TOOL} --help' for usage.` : "";
      const text = lines.map((l) => printable(l, "\n\t")).join("\n").split("\n").join("\n  ");
      await write(process.stderr, `${TOOL}: ${text}${hint}\n`);
    }
    return exitCode;
  } finally {
    if (close) {
      try {
        await close();
      } catch (e) {
        await warn(`closing the backends failed: ${messageOf(e)}`, "close-failed");
      }
    }
  }
}

// A closed stdout (`| head`) is not an error of ours.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(EXIT.OK);
  throw e;
});
// Exit explicitly: a config's open handles (a database pool) must not keep
// the process alive after the command is done.
process.exit(await main(process.argv.slice(2), process.env));
