#!/usr/bin/env node
// Renames the import modules of the wasm-bindgen web build to one letter
// each, in the .wasm and in the JS glue's imports object. wasm-bindgen
// names them after files ("./snippets/server-credential-store-wasm-<hash>/
// js/glue.js", "./server_credential_store_wasm_bg.js") and repeats that
// string for every import: ~2.3 KB of the module, for nothing.
//
//   node scripts/short-imports.mjs <file.wasm> <glue.js>
//
// Only function imports are expected; anything else, or a module name the
// glue does not use as an imports-object key, fails the build.
import { readFileSync, writeFileSync } from "node:fs";

const [wasmPath, gluePath] = process.argv.slice(2);
const fail = (msg) => {
  console.error(`short-imports: ${msg}`);
  process.exit(1);
};

const bytes = readFileSync(wasmPath);
let glue = readFileSync(gluePath, "utf8");

function readLeb(buf, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}
function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}
const name = (s) => Buffer.concat([leb(Buffer.byteLength(s)), Buffer.from(s)]);

if (bytes.readUInt32LE(0) !== 0x6d736100) fail("not a wasm module");
const parts = [bytes.subarray(0, 8)];
const renamed = new Map(); // old module name → short name
let at = 8;
while (at < bytes.length) {
  const id = bytes[at];
  const [size, body] = readLeb(bytes, at + 1);
  const end = body + size;
  if (id !== 2) {
    parts.push(bytes.subarray(at, end));
    at = end;
    continue;
  }
  let [count, p] = readLeb(bytes, body);
  const entries = [leb(count)];
  for (let i = 0; i < count; i++) {
    let len;
    [len, p] = readLeb(bytes, p);
    const module = bytes.toString("utf8", p, p + len);
    p += len;
    [len, p] = readLeb(bytes, p);
    const field = bytes.subarray(p, p + len);
    p += len;
    if (bytes[p] !== 0) fail(`import ${module} ${field} is not a function`);
    const descStart = p;
    [, p] = readLeb(bytes, p + 1); // type index
    if (!renamed.has(module)) renamed.set(module, String.fromCharCode(97 + renamed.size));
    entries.push(name(renamed.get(module)), leb(field.length), field, bytes.subarray(descStart, p));
  }
  if (p !== end) fail("import section not fully read");
  const section = Buffer.concat(entries);
  parts.push(Buffer.from([2]), leb(section.length), section);
  at = end;
}

for (const [from, to] of renamed) {
  const key = `${JSON.stringify(from)}: import`;
  // wasm-bindgen may repeat a key (one per `import * as importN` of the
  // same snippet, all the same namespace): every one is renamed alike.
  if (!glue.includes(key)) fail(`${from}: no imports-object key in the glue`);
  glue = glue.split(key).join(`${JSON.stringify(to)}: import`);
}

const out = Buffer.concat(parts);
writeFileSync(wasmPath, out);
writeFileSync(gluePath, glue);
console.log(`short-imports: ${renamed.size} modules renamed, ${bytes.length - out.length} bytes saved`);
