/**
 * Private: reads `type base64 [comment]` the way OpenSSH's `sshkey_read`
 * (sshkey.c) does, for authorized_keys and known_hosts lines.
 *
 * @module
 */
import { fromBase64 } from "./_bytes.ts";
import { parsePublicKey } from "./public_key.ts";
import type { PublicKey } from "./types.ts";

/**
 * Key type names OpenSSH's `sshkey_read` recognises at the start of a key
 * (the `keyimpls` names of sshkey.c). A first word that is none of these
 * makes sshd try the word as key options.
 */
export const OPENSSH_KEY_TYPE_NAMES: ReadonlySet<string> = new Set([
  "ssh-ed25519",
  "ssh-ed25519-cert-v01@openssh.com",
  "sk-ssh-ed25519@openssh.com",
  "sk-ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ssh-rsa",
  "ssh-rsa-cert-v01@openssh.com",
  "ssh-dss",
  "ssh-dss-cert-v01@openssh.com",
  "ssh-xmss@openssh.com",
  "ssh-xmss-cert-v01@openssh.com",
]);

/** Why a key could not be read. */
export type KeyReadProblemKind =
  | "no-key"
  | "unsupported-key-type"
  | "bad-base64"
  | "bad-key"
  | "key-type-mismatch";

/** The outcome of {@link readKey}. */
export type KeyRead =
  | { ok: true; keyType: string; key: PublicKey; end: number }
  | { ok: false; kind: KeyReadProblemKind; problem: string; knownType: boolean };

const isSpace = (c: string | undefined) => c === " " || c === "\t";

/** Index of the first space or tab at or after `from`, or `s.length`. */
export function wordEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length && !isSpace(s[i])) i++;
  return i;
}

/** Index of the first character at or after `from` that is not a space or tab. */
export function skipSpace(s: string, from: number): number {
  let i = from;
  while (isSpace(s[i])) i++;
  return i;
}

/**
 * Reads a key starting at `from` (`sshkey_read`): the type word must be
 * followed by a space or tab, then the base64 blob; the blob's type must be
 * the word's. On success `end` is where the comment starts (after the
 * whitespace that follows the blob).
 */
export function readKey(s: string, from: number): KeyRead {
  const typeEnd = wordEnd(s, from);
  const keyType = s.slice(from, typeEnd);
  const knownType = OPENSSH_KEY_TYPE_NAMES.has(keyType);
  if (typeEnd === s.length || !knownType) {
    return {
      ok: false,
      kind: "no-key",
      problem: knownType ? `no key after type ${JSON.stringify(keyType)}` : "no key type",
      knownType,
    };
  }
  const blobStart = skipSpace(s, typeEnd);
  if (blobStart === s.length) {
    return {
      ok: false,
      kind: "no-key",
      problem: `no key after type ${JSON.stringify(keyType)}`,
      knownType,
    };
  }
  const blobEnd = wordEnd(s, blobStart);
  const b64 = s.slice(blobStart, blobEnd);
  let blob: Uint8Array;
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error("invalid characters");
    blob = fromBase64(b64);
  } catch {
    return { ok: false, kind: "bad-base64", problem: "key is not valid base64", knownType };
  }
  let key: PublicKey;
  try {
    key = parsePublicKey(blob);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const unsupported = /unsupported key type/.test(message);
    return {
      ok: false,
      kind: unsupported ? "unsupported-key-type" : "bad-key",
      problem: unsupported
        ? `key type ${JSON.stringify(keyType)} is not supported by rxssh (${message})`
        : message,
      knownType,
    };
  }
  if (key.type !== keyType) {
    return {
      ok: false,
      kind: "key-type-mismatch",
      problem: `line says ${JSON.stringify(keyType)} but the key is ${JSON.stringify(key.type)}`,
      knownType,
    };
  }
  return { ok: true, keyType, key, end: skipSpace(s, blobEnd) };
}

/** Splits a file into lines as getline(3) does, dropping each line's "\n" (and a "\r" before it). */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}
