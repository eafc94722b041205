// Headless Chromium over chromedriver's WebDriver HTTP API with Node's fetch
// (the packaging suite and tests/browser-entry/run.mjs): no npm dependency,
// no browser download. A missing browser or driver is an error, never a skip.
//
//   const browser = await openChromium();
//   const result = await browser.visit("http://127.0.0.1:PORT/page.html"); // window.__result
//   await browser.close();
import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import net from "node:net";

const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const chromedriver = process.env.CHROMEDRIVER ?? "chromedriver";
// Bounds every wait, so a hung page fails instead of stalling the suite.
const RESULT_TIMEOUT_MS = 30_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function webdriver(base, method, route, body) {
  const res = await fetch(base + route, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const { value } = await res.json();
  if (!res.ok) throw new Error(`WebDriver ${method} ${route}: ${value?.error}: ${value?.message}`);
  return value;
}

export async function openChromium() {
  await access(chromium).catch(() => {
    throw new Error(`no Chromium at ${chromium} (install it: scripts/browsers.sh)`);
  });
  const port = await freePort();
  const child = spawn(chromedriver, [`--port=${port}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  await new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (e) => reject(new Error(`cannot run ${chromedriver}: ${e.message}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  let ready = false;
  for (const started = Date.now(); !ready && Date.now() - started < 10_000; ) {
    if (child.exitCode !== null) throw new Error(`chromedriver exited (${child.exitCode}): ${stderr}`);
    try {
      ready = (await (await fetch(`${base}/status`)).json()).value?.ready === true;
    } catch {}
    if (!ready) await sleep(100);
  }
  if (!ready) {
    child.kill();
    throw new Error(`chromedriver not ready after 10s: ${stderr}`);
  }
  let session;
  let version;
  try {
    const created = await webdriver(base, "POST", "/session", {
      capabilities: {
        alwaysMatch: {
          browserName: "chrome",
          "goog:chromeOptions": {
            binary: chromium,
            // Root in a container: no sandbox; no GPU; no calls home.
            args: [
              "--headless",
              "--no-sandbox",
              "--disable-gpu",
              "--disable-dev-shm-usage",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync",
              "--no-first-run",
            ],
          },
        },
      },
    });
    session = `/session/${created.sessionId}`;
    version = `${created.capabilities.browserName} ${created.capabilities.browserVersion}`;
    await webdriver(base, "POST", `${session}/timeouts`, { script: RESULT_TIMEOUT_MS, pageLoad: RESULT_TIMEOUT_MS });
  } catch (e) {
    child.kill();
    throw e;
  }
  return {
    version,
    // Loads `url` and returns what its `window.__result` promise resolves to
    // (with the page's uncaught errors), or the errors when it set none.
    async visit(url) {
      await webdriver(base, "POST", `${session}/url`, { url });
      return webdriver(base, "POST", `${session}/execute/async`, {
        script: `const done = arguments[arguments.length - 1];
          const errors = window.__errors || [];
          if (!window.__result) { done({ checks: [], errors: [...errors, "the page's script set no result"] }); return; }
          window.__result.then((checks) => done({ checks, errors }), (e) => done({ checks: [], errors: [...errors, String(e && e.stack || e)] }));`,
        args: [],
      });
    },
    async close() {
      await webdriver(base, "DELETE", session).catch(() => {});
      child.kill();
    },
  };
}
