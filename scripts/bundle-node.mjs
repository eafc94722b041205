#!/usr/bin/env node
// Writes pkg/node/index.mjs: the Node/Bun entry as ONE ES module holding
// wasm-bindgen's web glue, the glue snippet (js/glue.js), the class wrapper
// (js/store.mjs) and the synchronous instantiation from the .wasm next to
// the web entry. Each extra module costs a Node process ~1 ms at start-up
// (resolve, read, parse, link), which is most of the start-up budget.
//
//   node scripts/bundle-node.mjs <web glue dir> <out file>
//
// Only exports and imports of those three known files are rewritten; any
// other import or export in them fails the build instead of being guessed at.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [webDir, out] = process.argv.slice(2);
const name = "server_credential_store_wasm";
const fail = (msg) => {
  console.error(`bundle-node: ${msg}`);
  process.exit(1);
};

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

const snippetDirs = readdirSync(join(webDir, "snippets"));
if (snippetDirs.length !== 1) fail(`expected one snippet directory, found ${snippetDirs.join(", ")}`);
const snippetPath = `./snippets/${snippetDirs[0]}/js/glue.js`;
const snippet = unexport(readFileSync(join(webDir, snippetPath), "utf8"), "glue.js");
const store = unexport(readFileSync("js/store.mjs", "utf8"), "store.mjs");

let glue = readFileSync(join(webDir, `${name}.js`), "utf8");
const esc = snippetPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
glue = glue
  .replace(new RegExp(`^import \\{([^}]*)\\} from ['"]${esc}['"];?$`, "gm"), "const {$1} = glue;")
  .replace(new RegExp(`^import \\* as (\\w+) from ['"]${esc}['"];?$`, "gm"), "const $1 = glue;")
  .replace(/^export class (\w+)/gm, "class $1")
  .replace(/^export \{ initSync, __wbg_init as default \};$/m, "");
const stray = glue.match(/^\s*(export|import)\b.*$/m);
if (stray) fail(`${name}.js: unexpected module syntax: ${stray[0]}`);

writeFileSync(
  out,
  `// Node/Bun entry (built by scripts/bundle-node.mjs; do not edit). One module:
// the glue snippet, wasm-bindgen's web glue, the class wrapper, and a
// synchronous instantiation of ../web/${name}_bg.wasm, so nothing is awaited.
// (getBuiltinModule: node:fs is already loaded; importing it costs ~0.3 ms.)
const { readFileSync } = process.getBuiltinModule("node:fs");

const glue = (() => {
${snippet.body}
return { ${snippet.names.join(", ")} };
})();

${glue}

${store.body}

initSync({ module: readFileSync(new URL("../web/${name}_bg.wasm", import.meta.url)) });

export const ServerCredentialStore = defineServerCredentialStore(StoreCore);
// No-ops, kept so that code written for the browser entry runs unchanged here.
async function initNoop() {}
function initSyncNoop() {}
export { initNoop as init, initSyncNoop as initSync, initNoop as default };
`,
);
