// A SecretVault for Node: one file per secret, encrypted with AES-256-GCM.
// Shipped as `server-credential-store-wasm/file-vault`; the quickstart and the
// `server-credential-store` CLI use it as their default vault.
//
//   import { FileVault } from "server-credential-store-wasm/file-vault";
//   const vault = await FileVault.open({ dir: "./.credstore/vault", keyFile: "./.credstore/vault.key" });
//
// - The 32-byte key lives in a key file, created with mode 0600 on first use.
//   (In production, take the key from a KMS or the OS keychain instead.)
// - Each write uses a fresh random 12-byte IV; the file holds IV | tag | ciphertext.
// - The vault id is bound in as additional authenticated data, so a file
//   copied under another id fails to decrypt instead of returning the wrong secret.
// - File names are the SHA-256 of the id in hex: fixed length, no path
//   characters, and key names are not readable from the directory listing.
// - Writes go to a temp file renamed into place, so a crash never leaves half a secret.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class FileVault {
  #dir;
  #key;

  constructor(dir, key) {
    this.#dir = dir;
    this.#key = key;
  }

  /** Opens (creating if needed) the vault directory and its key file. */
  static async open({ dir = "./.credstore/vault", keyFile = "./.credstore/vault.key" } = {}) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    let key;
    try {
      // "wx": create only if absent, so two processes never overwrite each other's key.
      key = randomBytes(KEY_BYTES);
      await writeFile(keyFile, key, { mode: 0o600, flag: "wx" });
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      key = await readFile(keyFile);
    }
    if (key.length !== KEY_BYTES) {
      throw new Error(`FileVault: key file ${keyFile} must hold exactly ${KEY_BYTES} bytes`);
    }
    return new FileVault(dir, key);
  }

  #path(id) {
    return join(this.#dir, createHash("sha256").update(id, "utf8").digest("hex") + ".secret");
  }

  async setSecret(id, plaintext) {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(id, "utf8"));
    const body = Buffer.concat([cipher.update(String(plaintext), "utf8"), cipher.final()]);
    const file = this.#path(id);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, Buffer.concat([iv, cipher.getAuthTag(), body]), { mode: 0o600 });
    await rename(tmp, file);
  }

  async getSecret(id) {
    let data;
    try {
      data = await readFile(this.#path(id));
    } catch (e) {
      if (e.code === "ENOENT") return undefined;
      throw e;
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id, "utf8"));
      decipher.setAuthTag(data.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      return plain.toString("utf8");
    } catch {
      // Never include file contents: only say that authentication failed.
      throw new Error("FileVault: cannot decrypt secret (wrong key or tampered file)");
    }
  }

  async deleteSecret(id) {
    await rm(this.#path(id), { force: true });
  }
}
