#!/usr/bin/env node
// Writes the package's self-contained entries, each ONE ES module holding
// wasm-bindgen's web glue, the glue snippet (js/glue.js), the class wrapper
// (js/store.mjs) and the instantiation of the wasm:
//
//   pkg/node/index.mjs   every runtime and bundler but workerd: the .wasm is
//                        inlined (base64) and instantiated synchronously on
//                        import, so no file has to be found at run time and
//                        no bundler has to copy one.
//   pkg/web/workerd.mjs  Cloudflare's workerd, which refuses to compile wasm
//                        from bytes: it imports the .wasm next to it as a
//                        module (wrangler's default rule for `*.wasm`).
//
// One module, because each extra module costs a Node process ~1 ms at
// start-up (resolve, read, parse, link), which is most of the start-up budget.
//
//   node scripts/bundle-node.mjs <web glue dir> <inline out file> <workerd out file>
//
// Only exports and imports of those three known files are rewritten; any
// other import or export in them fails the build instead of being guessed at.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [webDir, inlineOut, workerdOut] = process.argv.slice(2);
const name = "server_credential_store_wasm";
const fail = (msg) => {
  console.error(`bundle-node: ${msg}`);
  process.exit(1);
};
if (!workerdOut) fail("usage: bundle-node.mjs <web glue dir> <inline out file> <workerd out file>");

// `export function f` / `export const f` / `export class F` → local
// declarations, returning the exported names.
function unexport(source, file) {
  const names = [];
  const body = source.replace(/^export (async function|function|const|let|class) (\w+)/gm, (_, kind, id) => {
    names.push(id);
    return `${kind} ${id}`;
  });
  const stray = body.match(/^\s*(export|import)\b.*$/m);
  if (stray) fail(`${file}: unexpected module syntax: ${stray[0]}`);
  return { body, names };
}

// `pattern` must occur exactly once in `text`.
function replaceOnce(text, pattern, replacement, what) {
  const found = text.match(new RegExp(pattern.source, pattern.flags.replace("g", "") + "g"));
  if (found?.length !== 1) fail(`${name}.js: expected one ${what}, found ${found?.length ?? 0}`);
  return text.replace(pattern, replacement);
}

const snippetDirs = readdirSync(join(webDir, "snippets"));
if (snippetDirs.length !== 1) fail(`expected one snippet directory, found ${snippetDirs.join(", ")}`);
const snippetPath = `./snippets/${snippetDirs[0]}/js/glue.js`;
const snippet = unexport(readFileSync(join(webDir, snippetPath), "utf8"), "glue.js");
const store = unexport(readFileSync("js/store.mjs", "utf8"), "store.mjs");

let glue = readFileSync(join(webDir, `${name}.js`), "utf8");
const esc = snippetPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
glue = glue
  .replace(/^\/\* @ts-self-types=.*\*\/\n/m, "")
  .replace(new RegExp(`^import \\{([^}]*)\\} from ['"]${esc}['"];?$`, "gm"), "const {$1} = glue;")
  .replace(new RegExp(`^import \\* as (\\w+) from ['"]${esc}['"];?$`, "gm"), "const $1 = glue;")
  .replace(/^export class (\w+)/gm, "class $1")
  .replace(/^export \{ initSync, __wbg_init as default \};$/m, "");
// The glue's default `new URL("<name>_bg.wasm", import.meta.url)`: these
// entries always pass the module, and a bundler that sees the URL would try
// to resolve (webpack) or warn about (esbuild's iife/cjs output) it.
glue = replaceOnce(
  glue,
  /^(\s*)module_or_path = new URL\('[\w.]+_bg\.wasm', import\.meta\.url\);$/m,
  "$1throw new TypeError(\"server-credential-store-wasm: no WebAssembly module given\");",
  "default wasm URL",
);
const stray = glue.match(/^\s*(export|import)\b.*$|import\.meta/m);
if (stray) fail(`${name}.js: unexpected module syntax: ${stray[0]}`);

const wasm = readFileSync(join(webDir, `${name}_bg.wasm`));

const body = (instantiate) => `const glue = (() => {
${snippet.body}
return { ${snippet.names.join(", ")} };
})();

${glue}

${store.body}

${instantiate}

export const ServerCredentialStore = defineServerCredentialStore(Core);
`;

writeFileSync(
  inlineOut,
  `// The package's entry for every runtime and bundler but workerd (built by
// scripts/bundle-node.mjs; do not edit). One module: the glue snippet,
// wasm-bindgen's web glue, the class wrapper, and the .wasm inlined as base64,
// instantiated synchronously on import: no file to find, no init() to await.
${body(`// The .wasm (${wasm.length} bytes), base64.
const WASM = "${wasm.toString("base64")}";

function wasmBytes() {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(WASM);
  if (typeof Buffer === "function") return Buffer.from(WASM, "base64");
  const text = atob(WASM);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// Instantiated here, synchronously. The one exception: a browser whose main
// thread refuses to compile a module this size synchronously (older Chromium
// caps it at 4 KB and throws a RangeError). Then it is compiled
// asynchronously, \`init()\` resolves when it is ready, and a store
// constructed before that throws an Error saying to \`await init()\`.
let ready = false;
let compiled;
try {
  initSync({ module: wasmBytes() });
  ready = true;
} catch (e) {
  if (!(e instanceof RangeError)) throw e;
  compiled = __wbg_init({ module_or_path: wasmBytes() }).then(() => {
    ready = true;
  });
  compiled.catch(() => {}); // a failure is init()'s rejection
}

const Core = ready
  ? StoreCore
  : class extends StoreCore {
      static driver(resume) {
        assertReady();
        return super.driver(resume);
      }
      constructor(options) {
        assertReady();
        super(options);
      }
    };
function assertReady() {
  if (!ready) {
    throw new Error(
      "server-credential-store-wasm: the WebAssembly module is still compiling (this browser does not compile it synchronously on the main thread): \`await init()\` before the first \`new ServerCredentialStore()\`",
    );
  }
}

// init() resolves once the module is instantiated (at once, except in the
// case above); initSync() is a no-op. Both accept and ignore the arguments
// of the web entry's init and initSync, so code written for it runs here.
async function initNoop() {
  await compiled;
}
function initSyncNoop() {}
export { initNoop as init, initSyncNoop as initSync, initNoop as default };`)}`,
);

writeFileSync(
  workerdOut,
  `// The package's entry for Cloudflare's workerd (built by
// scripts/bundle-node.mjs; do not edit). workerd refuses to compile wasm from
// bytes, so the .wasm next to this file is imported as a compiled module
// (wrangler's default rule for \`*.wasm\`) and instantiated on import.
import compiledWasm from "./${name}_bg.wasm";

${body(`initSync({ module: compiledWasm });
const Core = StoreCore;

// No-ops, kept so that code written for the web entry runs unchanged here.
async function initNoop() {}
function initSyncNoop() {}
export { initNoop as init, initSyncNoop as initSync, initNoop as default };`)}`,
);
