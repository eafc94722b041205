// The `./web` entry (separate .wasm, async init) in a page: a store made
// before init() throws an error that says what to call; after `await init()`
// the checks pass.
import * as entry from "server-credential-store-wasm/web";
import { run } from "./checks.js";

window.__result = (async () => {
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
  await entry.init(); // fetches the .wasm next to web/index.js
  return [before, ...(await run(entry))];
})();
