// A SecretVault for Node: one file per secret, encrypted with AES-256-GCM.
// Shipped as `server-credential-store-wasm/file-vault`; the quickstart and the
// `server-credential-store` CLI use it as their default vault.
//
//   import { FileVault } from "server-credential-store-wasm/file-vault";
//   const vault = await FileVault.open({ dir: "./.credstore/vault", keyFile: "./.credstore/vault.key" });
//
// - The 32-byte key lives in a key file, created with mode 0600 on first use:
//   written to a temp file, fsynced, then linked into place (link fails if the
//   name exists), so a crash never leaves a short key and two processes racing
//   to create it both end up using the one that won. (In production, take the
//   key from a KMS or the OS keychain instead.)
// - open() refuses a key file that another user owns or that group or others
//   may read or write, and a vault or key directory that another user owns
//   or that group or others may write; it warns (onWarning) when group or
//   others may list such a directory. `checkPermissions: false` skips this
//   (and it is skipped on Windows, where modes mean nothing).
// - File format 2: "SCV" 0x02 | 8-byte write sequence (big endian) | 12-byte
//   random IV | 16-byte tag | ciphertext. The AAD is the 12 header bytes
//   followed by the vault id, so a file copied under another id, or under
//   another version of an id (strict mode's ids carry the version:
//   `<id>#<token>`), fails to decrypt instead of returning the wrong secret.
//   The sequence is authenticated; each write takes one above the clock (in
//   microseconds), above the process's previous writes and above the
//   sequence of the file it replaces, so it grows per id across processes
//   whatever their clocks say (after a delete the clock alone decides). A
//   vault instance
//   refuses a file of an id whose sequence is lower than one it has already
//   written or read for that id, so an older file put back in place under the
//   same id is detected for the instance's lifetime.
// - Files of format 1 (IV | tag | ciphertext, AAD = the id: what versions
//   before format 2 wrote) still decrypt, so no data is lost on upgrade; the
//   next write of that id writes format 2. `legacyFormat: false` refuses them.
// - Only 16-byte GCM tags are accepted; a file too short to hold its header,
//   IV and tag is refused with the same generic error as a tampered one.
// - File names are the SHA-256 of the id in hex: fixed length, no path
//   characters, and key names are not readable from the directory listing.
// - Writes go to a temp file (0600), fsynced, renamed into place, then the
//   directory is fsynced, so a crash never leaves half a secret and an
//   acknowledged write or delete survives a power loss.
// - Values must be strings (as the store's callers give them): anything else
//   is refused with a TypeError naming only its type.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";

const MAGIC = Buffer.from([0x53, 0x43, 0x56, 0x02]); // "SCV", format 2
const SEQ_BYTES = 8;
const HEADER_BYTES = MAGIC.length + SEQ_BYTES;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const DECRYPT_FAILED = "FileVault: cannot decrypt secret (wrong key or tampered file)";
const CHECK_PERMISSIONS = process.platform !== "win32";

/**
 * The next write sequence of this process: above the clock (µs), above every
 * sequence it wrote before, and above `floor` (the id's current file).
 */
let lastSequence = 0n;
function nextSequence(floor) {
  const now = BigInt(Date.now()) * 1000n;
  let next = lastSequence + 1n;
  if (now > next) next = now;
  if (floor + 1n > next) next = floor + 1n;
  lastSequence = next;
  return next;
}

/** Writes `data` to `path` durably: fsync of the file before it is closed. */
async function writeSynced(path, data, flag) {
  const handle = await open(path, flag, 0o600);
  try {
    await handle.chmod(0o600); // umask-independent
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a directory, so a rename, link or unlink in it is durable. */
async function syncDir(dir) {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (e) {
    // Some platforms (Windows) cannot open or fsync a directory.
    if (!["EISDIR", "EPERM", "EINVAL", "EACCES"].includes(e.code)) throw e;
  } finally {
    await handle?.close();
  }
}

const octal = (mode) => (mode & 0o777).toString(8).padStart(4, "0");

/**
 * Refuses (throws) or warns about a path others could read or replace. A
 * symbolic link is judged by what it points to (mounted secrets often are links).
 */
async function checkPath(path, kind, onWarning) {
  const st = await stat(path);
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) {
    throw new Error(`FileVault: ${kind} ${path} is owned by another user (uid ${st.uid}); refusing to use it`);
  }
  if (kind === "key file") {
    if (st.mode & 0o077) {
      throw new Error(`FileVault: key file ${path} has mode ${octal(st.mode)}: group or others may access it; run chmod 600 on it`);
    }
  } else if (st.mode & 0o022) {
    throw new Error(`FileVault: ${kind} ${path} has mode ${octal(st.mode)}: group or others may write to it; run chmod 700 on it`);
  } else if (st.mode & 0o055) {
    onWarning(`FileVault: ${kind} ${path} has mode ${octal(st.mode)}: group or others may list it; chmod 700 is advised`);
  }
}

/** Reads the key file, or creates it atomically when it is absent. */
async function loadOrCreateKey(keyFile) {
  try {
    return await readFile(keyFile);
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
  const tmp = `${keyFile}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const key = randomBytes(KEY_BYTES);
  try {
    await writeSynced(tmp, key, "wx");
    try {
      // link, not rename: it fails if the key file appeared meanwhile, so a
      // key another process already uses is never replaced.
      await link(tmp, keyFile);
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      return await readFile(keyFile);
    }
    await syncDir(dirname(keyFile));
    return key;
  } finally {
    await rm(tmp, { force: true });
  }
}

function typeName(value) {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

export class FileVault {
  #dir;
  #key;
  #legacy;
  /** id -> the highest write sequence this instance wrote or read for it. */
  #seen = new Map();

  constructor(dir, key, { legacyFormat = true } = {}) {
    if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
      throw new TypeError(`FileVault: the key must be ${KEY_BYTES} bytes (a Buffer or Uint8Array)`);
    }
    this.#dir = dir;
    this.#key = Buffer.from(key);
    this.#legacy = legacyFormat !== false;
  }

  /**
   * Opens (creating if needed) the vault directory and its key file, after
   * checking their ownership and modes (see the file's header).
   */
  static async open({
    dir = "./.credstore/vault",
    keyFile = "./.credstore/vault.key",
    checkPermissions = true,
    legacyFormat = true,
    onWarning = (message) => process.emitWarning(message, { code: "FILEVAULT_PERMISSIONS" }),
  } = {}) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    const key = await loadOrCreateKey(keyFile);
    if (checkPermissions && CHECK_PERMISSIONS) {
      await checkPath(keyFile, "key file", onWarning);
      await checkPath(dir, "vault directory", onWarning);
      if (dirname(keyFile) !== dir) await checkPath(dirname(keyFile), "key file directory", onWarning);
    }
    if (key.length !== KEY_BYTES) {
      throw new Error(`FileVault: key file ${keyFile} must hold exactly ${KEY_BYTES} bytes`);
    }
    return new FileVault(dir, key, { legacyFormat });
  }

  #path(id) {
    return join(this.#dir, createHash("sha256").update(id, "utf8").digest("hex") + ".secret");
  }

  async setSecret(id, plaintext) {
    if (typeof id !== "string") throw new TypeError(`FileVault.setSecret: the id must be a string (got ${typeName(id)})`);
    if (typeof plaintext !== "string") {
      throw new TypeError(`FileVault.setSecret: the value must be a string (got ${typeName(plaintext)})`);
    }
    // Above the sequence of the file being replaced, so a reader that saw it
    // accepts this one even if this process's clock is behind the writer's.
    const sequence = nextSequence(await this.#currentSequence(id));
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header);
    header.writeBigUInt64BE(sequence, MAGIC.length);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.concat([header, Buffer.from(id, "utf8")]));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const file = this.#path(id);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeSynced(tmp, Buffer.concat([header, iv, cipher.getAuthTag(), body]), "wx");
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await syncDir(this.#dir);
    this.#remember(id, sequence);
  }

  #remember(id, sequence) {
    if (!(this.#seen.get(id) > sequence)) this.#seen.set(id, sequence);
  }

  /** The authenticated sequence of the id's file (0 when absent, format 1 or not authentic). */
  async #currentSequence(id) {
    let data;
    try {
      data = await readFile(this.#path(id));
    } catch (e) {
      if (e.code === "ENOENT") return this.#seen.get(id) ?? 0n;
      throw e;
    }
    const decoded = this.#decode(id, data);
    const seen = this.#seen.get(id) ?? 0n;
    return decoded && decoded.sequence > seen ? decoded.sequence : seen;
  }

  /** { plain, sequence } of a file of either format, or undefined when it does not authenticate. */
  #decode(id, data) {
    const idBytes = Buffer.from(id, "utf8");
    if (data.length >= HEADER_BYTES && data.subarray(0, MAGIC.length).equals(MAGIC)) {
      const header = data.subarray(0, HEADER_BYTES);
      const plain = this.#open(data.subarray(HEADER_BYTES), Buffer.concat([header, idBytes]));
      if (plain !== undefined) return { plain, sequence: header.readBigUInt64BE(MAGIC.length) };
    }
    // Format 1 (no header): its random IV may begin with the magic bytes, so
    // it is tried whenever format 2 did not authenticate.
    if (this.#legacy) {
      const plain = this.#open(data, idBytes);
      if (plain !== undefined) return { plain, sequence: 0n };
    }
    return undefined;
  }

  /** Decrypts IV | tag | ciphertext with `aad`; undefined when it does not authenticate. */
  #open(data, aad) {
    if (data.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(data.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(data.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }

  async getSecret(id) {
    if (typeof id !== "string") throw new TypeError(`FileVault.getSecret: the id must be a string (got ${typeName(id)})`);
    let data;
    try {
      data = await readFile(this.#path(id));
    } catch (e) {
      if (e.code === "ENOENT") return undefined;
      throw e;
    }
    const decoded = this.#decode(id, data);
    // Never include file contents: only say that authentication failed.
    if (decoded === undefined) throw new Error(DECRYPT_FAILED);
    const { plain, sequence } = decoded;
    if (this.#seen.get(id) > sequence) {
      throw new Error("FileVault: the file of this id is older than one this vault already wrote or read (replayed file)");
    }
    this.#remember(id, sequence);
    return plain;
  }

  async deleteSecret(id) {
    if (typeof id !== "string") throw new TypeError(`FileVault.deleteSecret: the id must be a string (got ${typeName(id)})`);
    await rm(this.#path(id), { force: true });
    await syncDir(this.#dir);
  }
}
