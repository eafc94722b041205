// The main entry where the host refuses to compile the module synchronously
// (older Chromium's main thread; the packaging suite emulates it in Node with
// refuse-sync-compile.js): importing still works, a store constructed before
// init() throws an error that says to `await init()`, and after it the
// checks pass.
import * as entry from "server-credential-store-wasm";
import { run } from "./checks.js";

let early;
try {
  new entry.ServerCredentialStore({ vault: {}, metadata: {}, userId: "u", projectId: "p" });
} catch (e) {
  early = e;
}
const before = {
  name: "before init(), construction throws an Error saying to `await init()`",
  ok: early instanceof Error && early.message.includes("`await init()`"),
  detail: String(early),
};
await entry.init();
console.log(JSON.stringify([before, ...(await run(entry))]));
