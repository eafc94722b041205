// Cloudflare workerd: the checks run per request and come back as JSON.
import * as entry from "server-credential-store-wasm";
import { run } from "./checks.js";

export default {
  async fetch() {
    return Response.json(await run(entry));
  },
};
