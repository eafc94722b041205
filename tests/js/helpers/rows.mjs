// Scope, messages, timestamps and a row builder shared by the JS suites.
// Imports nothing that loads the package (the bad-input table prints without a build).

export const USER = "user-1";
export const PROJECT = "proj.A:1_x";
export const PREFIX = `${USER}/${PROJECT}/`;
export const id = (key, user = USER, project = PROJECT) => `${user}/${project}/${key}`;

export const MSG = {
  invalidScope: "ServerCredentialStore: invalid userId/projectId",
  invalidKey: "ServerCredentialStore: invalid key",
  vaultWriteFailed: (vid) =>
    "ServerCredentialStore.put: vault write failed and rollback may have orphaned vault id " + vid,
  commitFailed: (vid) =>
    "ServerCredentialStore.put: vault write succeeded but metadata commit failed for vault id " +
    vid +
    "; row left as orphan marker",
  deleteFailed: (op, key, persisted) =>
    "ServerCredentialStore." +
    op +
    ": metadata removed but vault delete failed for key " +
    key +
    (persisted ? "; orphan marker persisted" : "; orphan marker also failed to persist"),
  deleteAll: "ServerCredentialStore.deleteAll: one or more entries failed",
};

export const BASE_KEYS = [
  "userId",
  "projectId",
  "key",
  "label",
  "provider",
  "createdAt",
  "updatedAt",
  "expiresAt",
];
export const INFO_KEYS = ["key", "label", "provider", "createdAt", "updatedAt", "expiresAt"];

export const PAST = "2001-02-03T04:05:06.789Z";
export const PAST2 = "2002-03-04T05:06:07.890Z";
export const FUTURE = "2999-01-01T00:00:00.000Z";

/** A committed row as the TypeScript store writes it (SPEC §3). */
export function row(key, fields = {}, { user = USER, project = PROJECT } = {}) {
  return {
    userId: user,
    projectId: project,
    key,
    label: undefined,
    provider: undefined,
    createdAt: PAST,
    updatedAt: PAST,
    expiresAt: undefined,
    pending: false,
    ...fields,
  };
}
