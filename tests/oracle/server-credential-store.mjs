// A plain-JavaScript ServerCredentialStore written from SPEC.md §2–§5 (second
// edition): the TypeScript store's algorithm with its await structure. get,
// has and delete are each one async function awaiting `metadata.get`
// directly (get returns `vault.getSecret(id)` unawaited); listMetadata is the
// loop of SPEC §4; keys awaits `this.listMetadata()`; deleteAll awaits one
// helper that scans and, per id, one that reads the row and one that
// deletes it. Test-only (never shipped): the benchmark's baseline and the
// differential tests' oracle.
//
// Host calls are written `this.metadata.get(id)` etc., as the TypeScript
// store writes them, so a missing method throws the engine's own TypeError
// for that expression.

const SAFE_SEGMENT = /^[A-Za-z0-9._:-]{1,128}$/;

export class ServerCredentialStore {
  constructor({ vault, metadata, userId, projectId }) {
    if (!SAFE_SEGMENT.test(userId) || !SAFE_SEGMENT.test(projectId)) {
      throw new TypeError("ServerCredentialStore: invalid userId/projectId");
    }
    this.vault = vault;
    this.metadata = metadata;
    this.userId = userId;
    this.projectId = projectId;
    this.prefix = `${userId}/${projectId}/`;
  }

  isExpired(row) {
    return row.expiresAt !== undefined && new Date(row.expiresAt) <= new Date();
  }

  async get(key) {
    if (!SAFE_SEGMENT.test(key)) return undefined;
    const id = `${this.prefix}${key}`;
    const row = await this.metadata.get(id);
    if (!row || row.pending === true) return undefined;
    if (this.isExpired(row)) {
      try {
        await this.delete(key);
      } catch {}
      return undefined;
    }
    return this.vault.getSecret(id);
  }

  async has(key) {
    if (!SAFE_SEGMENT.test(key)) return false;
    const id = `${this.prefix}${key}`;
    const row = await this.metadata.get(id);
    if (!row || row.pending === true) return false;
    if (this.isExpired(row)) {
      try {
        await this.delete(key);
      } catch {}
      return false;
    }
    return true;
  }

  async put(key, value, options) {
    if (!SAFE_SEGMENT.test(key)) throw new TypeError("ServerCredentialStore: invalid key");
    const id = `${this.prefix}${key}`;
    const now = new Date().toISOString();
    const existing = await this.metadata.get(id);
    const base = {
      userId: this.userId,
      projectId: this.projectId,
      key,
      label: options?.label ?? existing?.label,
      provider: options?.provider ?? existing?.provider,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      expiresAt: options?.expiresAt ? options.expiresAt.toISOString() : existing?.expiresAt,
    };
    const marker = (reason) => ({
      ...base,
      pending: true,
      orphanedAt: new Date().toISOString(),
      orphanReason: reason,
    });
    if (existing === undefined) {
      await this.metadata.put(id, { ...base, pending: true });
      try {
        await this.vault.setSecret(id, value);
      } catch (e) {
        try {
          await this.metadata.delete(id);
        } catch {
          try {
            await this.metadata.put(id, marker("vault-write-failed"));
          } catch {}
          throw new Error(
            `ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id ${id}`,
            { cause: e },
          );
        }
        throw e;
      }
      try {
        await this.metadata.put(id, { ...base, pending: false });
      } catch (c) {
        try {
          await this.metadata.put(id, marker("metadata-commit-failed"));
        } catch {}
        throw new Error(
          `ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id ${id}; row left as orphan marker`,
          { cause: c },
        );
      }
      return;
    }
    await this.vault.setSecret(id, value);
    await this.metadata.put(id, base);
  }

  async delete(key) {
    if (!SAFE_SEGMENT.test(key)) return false;
    const id = `${this.prefix}${key}`;
    const row = await this.metadata.get(id);
    if (row === undefined) return false;
    if (row.pending === true) return false;
    await this.commitDelete(id, key, row, "delete");
    return true;
  }

  async commitDelete(id, key, row, op) {
    await this.metadata.delete(id);
    try {
      await this.vault.deleteSecret(id);
    } catch (e) {
      let persisted = true;
      try {
        await this.metadata.put(id, {
          ...row,
          pending: true,
          orphanedAt: new Date().toISOString(),
          orphanReason: "vault-delete-failed",
        });
      } catch {
        persisted = false;
      }
      throw new Error(
        `ServerCredentialStore.${op}: metadata removed but vault delete failed for key ${key}` +
          (persisted ? "; orphan marker persisted" : "; orphan marker also failed to persist"),
        { cause: e },
      );
    }
  }

  async keys() {
    return (await this.listMetadata()).map((m) => m.key);
  }

  async listMetadata() {
    const { prefix, userId, projectId } = this;
    const all = await this.metadata.getAll();
    if (!all) return [];
    const out = [];
    for (const entry of all) {
      if (!entry.key.startsWith(prefix)) continue;
      const row = entry.value;
      if (row.userId !== userId || row.projectId !== projectId) continue;
      if (row.pending === true) continue;
      if (row.expiresAt !== undefined && new Date(row.expiresAt) <= new Date()) continue;
      out.push({
        key: row.key,
        label: row.label,
        provider: row.provider,
        createdAt: row.createdAt,
        updatedAt: row.updatedAt,
        expiresAt: row.expiresAt,
      });
    }
    return out;
  }

  // deleteAll's scan: the listMetadata loop up to its scope check.
  async scopedIds() {
    const { prefix, userId, projectId } = this;
    const all = await this.metadata.getAll();
    if (!all) return [];
    const ids = [];
    for (const entry of all) {
      if (!entry.key.startsWith(prefix)) continue;
      const row = entry.value;
      if (row.userId !== userId || row.projectId !== projectId) continue;
      ids.push(entry.key);
    }
    return ids;
  }

  async readRow(id) {
    return await this.metadata.get(id);
  }

  async deleteAll() {
    const errors = [];
    for (const id of await this.scopedIds()) {
      try {
        const row = await this.readRow(id);
        if (row === undefined) continue;
        await this.commitDelete(id, id.slice(this.prefix.length), row, "deleteAll");
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, "ServerCredentialStore.deleteAll: one or more entries failed");
    }
  }
}
