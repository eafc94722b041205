// A deliberately broken store for the multi-process self-test (never shipped):
// the oracle with delete's two steps swapped (vault first, then metadata), so a
// failed metadata.delete leaves a committed row without vault bytes.
import { ServerCredentialStore as Oracle } from "../oracle/server-credential-store.mjs";

export class ServerCredentialStore extends Oracle {
  async commitDelete(id, key, row, op) {
    await this.vault.deleteSecret(id);
    await this.metadata.delete(id);
  }
}
