// The app every bundler builds (and Node, Bun and Deno run as is): the
// package by name, the checks, and the result on `window.__result` in a
// page or as one JSON line on stdout elsewhere.
import * as entry from "server-credential-store-wasm";
import { run } from "./checks.js";

const result = run(entry);
if (typeof window === "object") window.__result = result;
else result.then((checks) => console.log(JSON.stringify(checks)));
