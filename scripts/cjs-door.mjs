#!/usr/bin/env node
// Writes the CommonJS door of an ES module entry: `foo.mjs` (or `foo.js` in
// this "type": "module" package) → `foo.cjs`, which
// loads it with require(esm) (Node 20.19+ / 22.12+, Bun) so that
// `require` and `import` share one module instance, and re-exports its
// exports by name as a transpiled ES module does (`__esModule`, `default`),
// which is the shape TypeScript's and bundlers' CommonJS interop read.
//
//   node scripts/cjs-door.mjs pkg/node/index.mjs    # writes pkg/node/index.cjs
//
// The export names are read from the module's source: `export function|class|
// const|let NAME`, `export { a as b, ... }` and `export default NAME;` (the
// forms this package uses); anything else (`export *`, `export default
// <expression>`) fails the build.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const [file] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`cjs-door: ${file}: ${msg}`);
  process.exit(1);
};
if (!/\.m?js$/.test(file ?? "")) fail("usage: cjs-door.mjs <file.mjs or ES module file.js>");

const source = readFileSync(file, "utf8");
const names = [];
for (const m of source.matchAll(/^export (?:async function|function|class|const|let) (\w+)/gm)) names.push(m[1]);
for (const m of source.matchAll(/^export \{([^}]*)\};?$/gm)) {
  for (const spec of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
    const [, exported] = spec.match(/^\w+(?: as (\w+))?$/) ?? fail(`cannot read export specifier "${spec}"`);
    names.push(exported ?? spec);
  }
}
if (/^export default \w+;$/m.test(source)) names.push("default");
const other = source.match(/^export (?!(?:async function|function|class|const|let) \w|\{[^}]*\};?$|default \w+;$).*$/m);
if (other) fail(`unsupported export form: ${other[0]}`);
if (!names.length) fail("no exports found");

const esm = `./${basename(file)}`;
writeFileSync(
  file.replace(/\.m?js$/, ".cjs"),
  `"use strict";
// CommonJS door to ${esm} (built by scripts/cjs-door.mjs; do not edit):
// require(esm) loads the very module \`import\` loads.
const esm = require("${esm}");
Object.defineProperty(exports, "__esModule", { value: true });
${names.map((n) => `exports.${n} = esm.${n};`).join("\n")}
`,
);
