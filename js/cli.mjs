#!/usr/bin/env node
// server-credential-store: the operator CLI of server-credential-store-wasm.
//
// One scope (--user/--project) per run; backends from a config module
// (--config) or, by default, the quickstart's embedded file backend under
// ./.credstore/. Node builtins only (plus the backend modules themselves).
//
// Secrets: `get` prints the value to stdout, on purpose, and nothing else
// ever prints one. Error output is built from messages only (the store's
// never contain values), and a value given with --value or --value-stdin is
// also masked out of anything written to stderr, as a second line of defence.
//
// Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 not found.
import { inspect, parseArgs } from "node:util";
import { StringDecoder } from "node:string_decoder";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const TOOL = "server-credential-store";
const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NOT_FOUND: 3, INTERRUPTED: 130 };
const CODE_NAME = { 1: "failed", 2: "usage", 3: "not-found", 130: "interrupted" };
const SAFE_SEGMENT = /^[A-Za-z0-9._:-]{1,128}$/;
const SEGMENT_RULE = "1 to 128 characters of A-Z a-z 0-9 . _ : -";
const DEFAULT_ROOT = ".credstore";
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
  strict: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

const COMMON_HELP = `Options for every command:
  --user U            userId of the scope (required)
  --project P         projectId of the scope (required)
                      (ids and keys: ${SEGMENT_RULE})
  --config FILE       backends module: exports { metadata, vault }, or a default
                      function (may be async) returning them, optionally with
                      close(). Default: the file backend under ./${DEFAULT_ROOT}/
                      (metadata: JSON files via @workglow/storage's
                      FsFolderJsonKvStorage; values: AES-256-GCM FileVault)
  --strict            strict mode (versioned vault ids; only when every reader
                      of the store is this package)
  --json              machine-readable output (errors as JSON on stderr)
  -h, --help          show help`;

const EXIT_HELP = "Exit codes: 0 ok, 1 operation failed, 2 usage error, 3 not found.";

const STALE_HELP = `  --stale-pending-ms N  a pending row without an orphan marker older than N ms
                        is a put whose process died (default 600000 = 10 min)`;

const COMMANDS = {
  list: {
    args: [],
    options: {},
    summary: "List the credentials of the scope (metadata only, never values)",
    help: `Usage: ${TOOL} list --user U --project P [--json]

List the committed, unexpired credentials of the scope: key, label, provider,
dates. Values are never listed.

Output: an aligned table; --json: [{ "key", "label", "provider", "createdAt",
"updatedAt", "expiresAt" }] (absent fields are null).`,
    run: runList,
  },
  get: {
    args: ["key"],
    options: {},
    summary: "Print a credential's value to stdout",
    help: `Usage: ${TOOL} get <key> --user U --project P [--json]

Print the value of a credential to stdout: the one command that shows a
secret. A newline follows only when stdout is a terminal (where control
characters in the value are shown escaped, e.g. \x1b), so
  VALUE="$(${TOOL} get openai --user u --project p)"
captures it exactly.

Output: the value; --json: { "key", "value" }.
Exit code 3 when there is no such credential (absent, pending or expired).`,
    run: runGet,
  },
  put: {
    args: ["key"],
    options: {
      "value-stdin": { type: "boolean" },
      value: { type: "string" },
      label: { type: "string" },
      provider: { type: "string" },
      expires: { type: "string" },
      "allow-past": { type: "boolean" },
    },
    summary: "Store a credential (value from --value-stdin or --value)",
    help: `Usage: ${TOOL} put <key> --user U --project P (--value-stdin | --value V)
         [--label L] [--provider P] [--expires ISO [--allow-past]] [--json]

Store a credential, creating or replacing it. Give the value in exactly one way:
  --value-stdin       read it from standard input (one trailing newline, as
                      echo adds, is removed): printf %s "$KEY" | ${TOOL} put ...
                      On a terminal the value is typed with echo off (one
                      line, as read -s reads it).
  --value V           on the command line (other users of this machine may see
                      it in the process list: prefer --value-stdin; a warning
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
    options: { "stale-pending-ms": { type: "string" } },
    summary: "List orphan markers and stale pending rows",
    help: `Usage: ${TOOL} orphans --user U --project P [--stale-pending-ms N] [--json]

List the rows of the scope that need repair: orphan markers left by a failed
put or delete (reason vault-write-failed, metadata-commit-failed,
vault-delete-failed, or unknown for old markers), pending rows older than
--stale-pending-ms (reason stale-pending), and in strict mode rows still
recording retired versions (retired-versions).

Options:
${STALE_HELP}

Output: an aligned table; --json: [{ "key", "reason", "orphanedAt", "updatedAt" }].`,
    prepare: staleOption,
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
"failed": [{ ..., "error" }], "skipped": [...] } with entries as in 'orphans'.
Exit code 1 when any repair failed.`,
    prepare: (values) => ({ ...staleOption(values), dryRun: values["dry-run"] === true }),
    run: runReconcile,
  },
};

function mainHelp() {
  const rows = Object.entries(COMMANDS).map(([name, c]) => [name + c.args.map((a) => ` <${a}>`).join(""), c.summary]);
  rows.push(["help [command]", "Show help (also: <command> --help)"]);
  const width = Math.max(...rows.map(([usage]) => usage.length));
  const lines = rows.map(([usage, summary]) => `  ${usage.padEnd(width)}  ${summary}`);
  return `Usage: ${TOOL} <command> --user U --project P [options]

Operator tool for one scope (userId/projectId) of a ServerCredentialStore:
list, read and write credentials, and find and repair orphaned entries.

Commands:
${lines.join("\n")}

${COMMON_HELP}
  --version           print the version

${EXIT_HELP}`;
}

const commandHelp = (name) => `${COMMANDS[name].help}\n\n${COMMON_HELP}\n\n${EXIT_HELP}`;

// ---- argument handling ------------------------------------------------

/**
 * The forms in which a value may appear inside an error message: as is,
 * JSON-escaped (once and twice), as util.inspect quotes it, URI-encoded,
 * base64 / base64url / hex, and as printable() shows it. Longest first.
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
    printable(value),
  ]);
  return [...forms].filter((f) => f.length >= MIN_MASKED).sort((a, b) => b.length - a.length);
}

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

function parse(argv) {
  const allOptions = { ...COMMON_OPTIONS };
  for (const c of Object.values(COMMANDS)) Object.assign(allOptions, c.options);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: allOptions, allowPositionals: true, strict: true, tokens: true });
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
  const given = new Set();
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    if (!Object.hasOwn(COMMON_OPTIONS, t.name) && !Object.hasOwn(spec.options, t.name)) {
      throw usageError(`option --${t.name} does not apply to '${command}'`);
    }
    // A repeated option would silently take its last value: refused.
    if (given.has(t.name)) throw usageError(`option --${t.name} is given more than once`);
    given.add(t.name);
  }
  if (args.length !== spec.args.length) {
    // Never echo the extra arguments: a value typed by mistake would land in logs.
    const want = spec.args.length ? `exactly one argument <${spec.args[0]}>` : "no arguments";
    const hint = command === "put" && args.length > 1 ? "; give the value with --value-stdin or --value" : "";
    throw usageError(`'${command}' takes ${want}, got ${args.length}${hint}`);
  }
  for (const [flag, name] of [["--user", "user"], ["--project", "project"]]) {
    if (values[name] === undefined) throw usageError(`${flag} is required`);
    if (!SAFE_SEGMENT.test(values[name])) throw usageError(`${flag} must be ${SEGMENT_RULE}`);
  }
  const key = args[0];
  if (spec.args.length && !SAFE_SEGMENT.test(key)) throw usageError(`invalid <key>: it must be ${SEGMENT_RULE}`);
  // Every usage check happens here, before any backend is touched.
  const options = spec.prepare ? spec.prepare(values) : {};
  return { command, key, values, options };
}

/** put: the value source and the put options. */
function preparePut(values) {
  const fromStdin = values["value-stdin"] === true;
  if (fromStdin === (values.value !== undefined)) throw usageError("put needs exactly one of --value-stdin and --value");
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
  return { fromStdin, putOptions: options };
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

// ---- backends ---------------------------------------------------------

async function loadBackends(values, scope) {
  if (values.config === undefined) return defaultBackends();
  const path = resolve(values.config);
  if (!existsSync(path)) throw usageError(`config module not found: ${values.config}`);
  let mod;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (e) {
    throw new CliError(EXIT.FAILED, `cannot load config module ${values.config}`, { cause: e });
  }
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

/** The quickstart's backend: ./.credstore/metadata (JSON files), ./.credstore/vault (+ vault.key). */
async function defaultBackends() {
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
  const vault = await FileVault.open({ dir: `./${DEFAULT_ROOT}/vault`, keyFile: `./${DEFAULT_ROOT}/vault.key` });
  const metadata = new storage.FsFolderJsonKvStorage(`./${DEFAULT_ROOT}/metadata`);
  return { metadata, vault };
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

// ---- command bodies: each returns { stdout, exitCode? } ---------------

async function runList({ store, values }) {
  const infos = await store.listMetadata();
  if (values.json) return { stdout: json(infos.map(nullify)) };
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

async function runGet({ store, key, values, scope }) {
  const value = await store.get(key);
  if (value === undefined) throw notFound(key, scope);
  if (values.json) return { stdout: json({ key, value }) };
  // On a terminal the value is for the eye: control characters are shown
  // escaped. Captured or piped, it is written exactly.
  return { stdout: process.stdout.isTTY ? printable(value) + "\n" : String(value) };
}

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

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

async function runPut({ store, key, values, options }) {
  const value = options.fromStdin ? options.stdinValue : values.value;
  await store.put(key, value, options.putOptions);
  return { stdout: values.json ? json({ key, stored: true }) : `stored ${key}\n` };
}

async function runDelete({ store, key, values, scope }) {
  if (!(await store.delete(key))) throw notFound(key, scope);
  return { stdout: values.json ? json({ key, deleted: true }) : `deleted ${key}\n` };
}

async function runOrphans({ store, values, options }) {
  const orphans = await store.listOrphans(options);
  return { stdout: values.json ? json(orphans.map(nullify)) : table(orphans, ORPHAN_COLUMNS) };
}

async function runReconcile({ store, values, options, mask }) {
  const report = await store.reconcile(options);
  const failed = report.failed.map(({ error, ...info }) => ({ ...info, error: mask(describe(error).join("; ")) }));
  const exitCode = failed.length ? EXIT.FAILED : EXIT.OK;
  if (values.json) {
    const out = {
      dryRun: report.dryRun,
      repaired: report.repaired.map(nullify),
      failed: failed.map(nullify),
      skipped: report.skipped.map(nullify),
    };
    return { stdout: json(out), exitCode };
  }
  const rows = [
    ...report.repaired.map((o) => ({ ...o, status: report.dryRun ? "would repair" : "repaired" })),
    ...failed.map((o) => ({ ...o, status: "failed" })),
    ...report.skipped.map((o) => ({ ...o, status: "skipped" })),
  ];
  const head = report.dryRun
    ? `dry run: ${report.repaired.length} to repair, nothing changed\n`
    : `repaired ${report.repaired.length}, failed ${failed.length}, skipped ${report.skipped.length}\n`;
  const columns = [["STATUS", "status"], ...ORPHAN_COLUMNS];
  if (failed.length) columns.push(["ERROR", "error"]);
  return { stdout: head + (rows.length ? table(rows, columns) : ""), exitCode };
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

async function main(argv) {
  const secrets = valuesInArgv(argv);
  const mask = (text) =>
    secrets.reduce(
      (t, s) => (typeof s === "string" && s.length >= MIN_MASKED ? maskForms(s).reduce((u, f) => u.split(f).join("***"), t) : t),
      text,
    );
  let wantJson = argv.includes("--json");
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
    const parsed = parse(argv);
    if (parsed.version) {
      await write(process.stdout, `${version()}\n`);
      return EXIT.OK;
    }
    if (parsed.help) {
      await write(process.stdout, (parsed.help === true ? mainHelp() : commandHelp(parsed.help)) + "\n");
      return EXIT.OK;
    }
    const { command, key, values, options } = parsed;
    wantJson = values.json === true;
    const scope = { userId: values.user, projectId: values.project };
    if (values.value !== undefined) {
      await warn(
        "--value puts the value in the process list, where other users of this machine may see it; prefer --value-stdin",
        "value-in-argv",
      );
    }
    if (options.fromStdin) {
      options.stdinValue =
        process.stdin.isTTY && typeof process.stdin.setRawMode === "function"
          ? await readHiddenLine(`value for ${key} (input hidden): `)
          : await readStdin();
      secrets.push(options.stdinValue);
      // Most likely an unset variable (echo "$UNSET" | ...), not a wish to store "".
      if (options.stdinValue === "") throw usageError("the value read from standard input is empty (use --value '' to store an empty value)");
    }
    const backends = await loadBackends(values, { ...scope, strict: values.strict === true });
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
    const result = await COMMANDS[command].run({ store, key, values, options, scope, secrets, mask });
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
process.exit(await main(process.argv.slice(2)));
