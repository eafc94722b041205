// Loads the npm package's browser entry in headless Chromium the way a web
// page does: pkg/ served over http on localhost, the entry found through
// pkg/package.json's `browser` export condition and mapped to the package
// name with an import map. page.html runs the checks and leaves the result
// on `window.__result`; this script reads it back, prints every check and
// exits non-zero when any failed or the page produced nothing.
//
// Chromium is driven over chromedriver's WebDriver HTTP API with Node's
// fetch (tests/packaging/chromium.mjs): no npm dependency and no browser
// download. A missing browser or driver is an error, never a skip.
//
//   node tests/browser-entry/run.mjs    # needs pkg/ (scripts/build.sh)
//   CHROMIUM=/path CHROMEDRIVER=/path   # override the binaries

import { access, readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openChromium } from "../packaging/chromium.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.resolve(here, "../../pkg");
function fail(message) {
  console.error(`browser-entry: ${message}`);
  process.exit(1);
}

// The file a browser (or bundler) gets for `import "server-credential-store-wasm"`:
// exports["."] resolved with a bundler's browser conditions, in the map's order.
async function browserEntry() {
  const manifest = JSON.parse(await readFile(path.join(pkgDir, "package.json"), "utf8"));
  const conditions = new Set(["browser", "import", "module", "default"]);
  const resolve = (target) => {
    if (typeof target === "string" || target == null) return target;
    for (const [key, value] of Object.entries(target)) if (conditions.has(key)) return resolve(value);
  };
  const file = resolve(manifest.exports?.["."]);
  if (typeof file !== "string") fail('pkg/package.json: exports["."] has no entry for browsers');
  return `/pkg/${path.posix.normalize(file)}`;
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm", // lets init() use WebAssembly.instantiateStreaming
};

// `/` is the page, `/pkg/...` the built package; nothing else is served.
function serve(page) {
  const missing = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": TYPES[".html"] }).end(page);
      return;
    }
    const file = path.join(pkgDir, path.normalize(decodeURIComponent(url.pathname)).replace(/^\/pkg\//, "/"));
    if (url.pathname.startsWith("/pkg/") && file.startsWith(pkgDir + path.sep)) {
      try {
        const body = await readFile(file);
        res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" }).end(body);
        return;
      } catch {}
    }
    if (url.pathname !== "/favicon.ico") missing.push(url.pathname);
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, missing })));
}

async function main() {
  await access(path.join(pkgDir, "package.json")).catch(() => fail("no pkg/: run scripts/build.sh first"));
  const entry = await browserEntry();
  const page = (await readFile(path.join(here, "page.html"), "utf8")).replace("%ENTRY%", entry);
  const { server, missing } = await serve(page);
  const browser = await openChromium().catch((e) => {
    server.close();
    fail(e.message);
  });
  const started = Date.now();
  try {
    console.log(`browser-entry: ${browser.version}, entry ${entry}`);
    // Navigation returns after `load`, so the module script has run (and set
    // __result) unless it failed to load; its checks may still be running.
    const result = await browser.visit(`http://127.0.0.1:${server.address().port}/`);
    return { result, missing, ms: Date.now() - started };
  } finally {
    await browser.close();
    server.close();
  }
}

const { result, missing, ms } = await main().catch((e) => fail(e.message));
for (const c of result.checks) console.log(c.ok ? `ok - ${c.name}` : `not ok - ${c.name}: ${c.detail}`);
// A page error or an unserved file is a failure even when every check that ran passed.
const problems = [
  ...result.errors.map((e) => `page error: ${e}`),
  ...missing.map((m) => `not served: ${m}`),
  ...(result.checks.length ? [] : ["the page ran no check"]),
];
for (const p of problems) console.log(`not ok - ${p}`);
const passed = result.checks.filter((c) => c.ok).length;
const failed = result.checks.length - passed + problems.length;
console.log(`browser-entry: ${ms} ms in Chromium`);
console.log(`browser-entry: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
