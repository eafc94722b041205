// Finds the WebAssembly.Memory of the package's node build.
//
// The node entry (pkg/node/index.mjs, wasm-bindgen's web glue bundled)
// keeps the instance private and exports only the public class. So this module, imported BEFORE the package, wraps
// WebAssembly.Instance to record every instance created while the package
// loads. If the package was loaded earlier in this process (bun runs all test
// files in one process), it loads a private copy of pkg/node from a temp
// directory instead: the same bytes and glue, with its own instance.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const PKG_DIR = path.resolve(here, "../../../pkg");

const captured = [];
const RealInstance = WebAssembly.Instance;
let capturing = true;
WebAssembly.Instance = new Proxy(RealInstance, {
  construct(target, args, newTarget) {
    const inst = Reflect.construct(target, args, newTarget === WebAssembly.Instance ? target : newTarget);
    if (capturing) captured.push(inst);
    return inst;
  },
});

function memoryOf(instances) {
  for (const inst of instances) {
    const mem = Object.values(inst.exports).find((x) => x instanceof WebAssembly.Memory);
    if (mem && typeof inst.exports.storecore_new === "function") return { memory: mem, exports: inst.exports };
  }
  return null;
}

/**
 * Returns { ServerCredentialStore, memory, exports, source } where memory is
 * the WebAssembly.Memory behind that class. Loads the package by name first.
 */
export async function loadWithMemory() {
  let mod;
  try {
    mod = await import("server-credential-store-wasm");
  } catch (e) {
    // node_modules/server-credential-store-wasm is a link build.sh makes; an
    // npm ci in between drops it. The built package itself is what counts.
    if (e?.code !== "ERR_MODULE_NOT_FOUND") throw e;
    mod = await import(pathToFileURL(path.join(PKG_DIR, "node", "index.mjs")).href);
  }
  let found = memoryOf(captured);
  if (found) {
    capturing = false;
    WebAssembly.Instance = RealInstance;
    return { ServerCredentialStore: mod.ServerCredentialStore, ...found, source: "package instance" };
  }
  // The package instance predates us: load a private copy.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "credstore-mem-"));
  fs.cpSync(path.join(PKG_DIR, "node"), path.join(dir, "node"), { recursive: true });
  fs.cpSync(path.join(PKG_DIR, "web"), path.join(dir, "web"), { recursive: true }); // node/index.mjs loads ../web/*.wasm
  fs.copyFileSync(path.join(PKG_DIR, "store.mjs"), path.join(dir, "store.mjs"));
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
  let copy;
  try {
    copy = await import(pathToFileURL(path.join(dir, "node", "index.mjs")).href);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true }); // loaded: the files are no longer needed
  }
  capturing = false;
  WebAssembly.Instance = RealInstance;
  found = memoryOf(captured);
  if (!found) throw new Error("could not find the WebAssembly.Memory of the package");
  return { ServerCredentialStore: copy.ServerCredentialStore, ...found, source: "private copy of pkg/node" };
}

/** Byte offsets where needle occurs in the memory (at most `max`). */
export function findAll(memory, needle, max = 10) {
  const hay = Buffer.from(memory.buffer);
  const out = [];
  let i = hay.indexOf(needle);
  while (i >= 0 && out.length < max) {
    out.push(i);
    i = hay.indexOf(needle, i + 1);
  }
  return out;
}
