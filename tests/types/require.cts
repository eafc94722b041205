// The CommonJS view (index.d.cts) has the same class.
import sc = require("server-credential-store-wasm");
import type { ICredentialStore } from "@workglow/util";

export function make(): ICredentialStore {
  const rows = new Map<string, sc.CredentialMetadataRow>();
  return new sc.ServerCredentialStore({
    vault: {
      async setSecret() {},
      async getSecret() { return undefined; },
      async deleteSecret() {},
    },
    metadata: {
      async get(key) { return rows.get(key); },
      async put(key, value) { rows.set(key, value); },
      async delete(key) { rows.delete(key); },
      async getAll() { return [...rows].map(([key, value]) => ({ key, value })); },
    },
    userId: "u",
    projectId: "p",
  });
}
