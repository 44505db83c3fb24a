/**
 * `rxssh keygen`: OpenSSH's `ssh-keygen` for the common jobs, with its
 * flags, its messages and its output formats.
 *
 * ```sh
 * rxssh keygen [-q] [-t ed25519|ecdsa|rsa] [-b bits] [-C comment] [-f file] [-m PEM|PKCS8|RFC4716]
 *              [-N new_passphrase] [-a rounds] [-Z cipher]                  # generate file and file.pub
 * rxssh keygen -l [-v] [-E sha256|md5|sha1] -f file                         # fingerprint(s)
 * rxssh keygen -y [-P passphrase] -f private_key                            # print the public key
 * rxssh keygen -p [-P old] [-N new] [-m format] [-a rounds] [-Z cipher] -f private_key
 * rxssh keygen -c [-P passphrase] [-C comment] -f private_key               # change the comment
 * rxssh keygen -e [-m RFC4716|PKCS8|PEM] -f key                             # export a public key
 * rxssh keygen -i [-m RFC4716|PKCS8|PEM] -f file                            # import a public key
 * rxssh keygen -L -f key-cert.pub                                           # show a certificate
 * rxssh keygen -s ca_key -I key_id [-h] [-n principals] [-V validity] [-z serial] [-O option]...
 *              [-t signature_algorithm] [-P ca_passphrase] file.pub...      # sign certificates
 * ```
 *
 * What it prints is ssh-keygen's (OpenSSH 9.2) text: `-l` lines
 * (`256 SHA256:... comment (ED25519)`, with the randomart under `-v`), `-y`
 * lines, `.pub` files, the generation messages, `-e` blocks, the
 * `Signed user key ...` line and `-L`. Differences, on purpose:
 *
 * - the default key type is ed25519 (as OpenSSH 9.5 and later), and
 *   without `-f` the key goes to `~/.ssh/id_<type>` without asking;
 * - an existing output file is never overwritten: ssh-keygen asks
 *   "Overwrite (y/n)?", `rxssh keygen` prints "<file> already exists." and
 *   exits with status 1;
 * - every error exits with status 1 (ssh-keygen uses 255 for most of
 *   them), and file names are quoted with the program name `rxssh keygen`;
 * - `-e -m PKCS8|PEM` also exports ed25519 keys (as SubjectPublicKeyInfo,
 *   RFC 8410), which ssh-keygen 9.2 refuses;
 * - passphrases are read from standard input when not given with `-P`/`-N`
 *   (with echo off on a terminal), as ssh-keygen does when it has no
 *   terminal.
 *
 * Not implemented: DSA and security-key (`-sk`) types, `-A`, `-B`, `-D`,
 * `-F`/`-H`/`-R` (known_hosts), `-k`/`-Q` (KRLs), `-M` (moduli), `-r`,
 * `-U`/agent signing, `-w`, `-Y` (SSHSIG), `-O` options for `-M`/`-Y`.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { CERT_FOREVER, signCertificate, SshCertificate } from "../keys/certificate.ts";
import { KeyError } from "../keys/errors.ts";
import { fingerprintMd5, fingerprintSha256 } from "../keys/fingerprint.ts";
import { generatePrivateKey } from "../keys/private_key.ts";
import { formatAbsoluteTime, parseAbsoluteTime } from "../keys/time.ts";
import {
  type ParsedPrivateKeyFile,
  parsePrivateKeyFile,
  PassphraseRequiredError,
  type PrivateKeyFileFormat,
  writePrivateKeyFile,
  WrongPassphraseError,
} from "../keys/private_key_file.ts";
import { parsePublicKey, PUBLIC_KEY_TYPES } from "../keys/public_key.ts";
import {
  formatPemPublicKey,
  formatPublicKeyLine,
  formatRfc4716PublicKey,
  parsePublicKeyText,
} from "../keys/public_key_file.ts";
import { CERTIFICATE_TYPES } from "../keys/certificate.ts";
import type { PrivateKey, PublicKey } from "../keys/types.ts";
import { SshReader } from "../wire/reader.ts";
import { homeDirectory, localUserName } from "./options.ts";

const PROG = "rxssh keygen";

/**
 * The usage text of `rxssh keygen`.
 *
 * @example
 * ```ts
 * import { KEYGEN_USAGE } from "./keygen.ts";
 * console.log(KEYGEN_USAGE.split("\n")[0]); // "usage: rxssh keygen [-q] [-a rounds] ..."
 * ```
 */
export const KEYGEN_USAGE =
  `usage: rxssh keygen [-q] [-a rounds] [-b bits] [-C comment] [-f output_keyfile]
                    [-m format] [-N new_passphrase] [-t ed25519 | ecdsa | rsa] [-Z cipher]
       rxssh keygen -p [-a rounds] [-f keyfile] [-m format] [-N new_passphrase]
                    [-P old_passphrase] [-Z cipher]
       rxssh keygen -i [-f input_keyfile] [-m key_format]
       rxssh keygen -e [-f input_keyfile] [-m key_format]
       rxssh keygen -y [-f input_keyfile] [-P passphrase]
       rxssh keygen -c [-a rounds] [-C comment] [-f keyfile] [-P passphrase]
       rxssh keygen -l [-v] [-E fingerprint_hash] [-f input_keyfile]
       rxssh keygen -I certificate_identity -s ca_key [-h] [-n principals] [-O option]
                    [-V validity_interval] [-z serial_number] [-t signature_algorithm] file ...
       rxssh keygen -L [-f input_keyfile]`;

/**
 * Where `keygenMain` writes and how it asks for passphrases. Every member
 * is optional: the defaults write to the process's standard output and
 * error, read passphrases from standard input, and take the clock's time.
 *
 * @example
 * ```ts
 * import type { KeygenIo } from "./keygen.ts";
 * let out = "";
 * const io: KeygenIo = { stdout: (t) => out += t, readPassphrase: () => Promise.resolve("secret") };
 * ```
 */
export interface KeygenIo {
  /** Receives what ssh-keygen prints to standard output. */
  stdout?: (text: string) => void;
  /** Receives messages and errors (standard error). */
  stderr?: (text: string) => void;
  /** Asks for a passphrase (or a comment) after showing `prompt`; resolves with the answer, without its line break. */
  readPassphrase?: (prompt: string) => Promise<string>;
  /** The current time in seconds since the epoch, for `-V` (default the clock). */
  now?: () => number;
}

/** A failure reported as one line on standard error, then exit status 1. */
class KeygenError extends Error {}

/** ssh-keygen's `%s: %s` for a failed system call, with strerror's wording. */
function sysError(e: unknown): string {
  const code = (e as { code?: string }).code;
  const text: Record<string, string> = {
    ENOENT: "No such file or directory",
    EACCES: "Permission denied",
    EISDIR: "Is a directory",
    ENOTDIR: "Not a directory",
    EEXIST: "File exists",
  };
  return (code && text[code]) ?? (e instanceof Error ? e.message : String(e));
}

function readText(file: string, prefix = ""): string {
  try {
    return fs.readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new KeygenError(`${prefix}${file}: ${sysError(e)}`);
  }
}

function exists(file: string): boolean {
  try {
    fs.statSync(file);
    return true;
  } catch {
    return false;
  }
}

function writeStdio(fd: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) {
    try {
      off += fs.writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") throw e;
    }
  }
}

function readLineSync(fd: number): string {
  const one = new Uint8Array(1);
  const bytes: number[] = [];
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, one, 0, 1, null);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "EAGAIN") continue;
      if (code === "EOF") break;
      throw e;
    }
    if (n === 0 || one[0] === 0x0a) break;
    bytes.push(one[0]);
  }
  return new TextDecoder().decode(new Uint8Array(bytes)).replace(/\r$/, "");
}

function defaultReadPassphrase(prompt: string): Promise<string> {
  writeStdio(2, prompt);
  const tty = process.stdin.isTTY === true;
  const stty = (arg: string) => {
    try {
      spawnSync("stty", [arg], { stdio: ["inherit", "ignore", "ignore"] });
    } catch {
      // no stty: the answer echoes
    }
  };
  if (tty) stty("-echo");
  try {
    return Promise.resolve(readLineSync(0));
  } finally {
    if (tty) {
      stty("echo");
      writeStdio(2, "\n");
    }
  }
}

// ---------------------------------------------------------------------------
// Options (getopt with GNU permutation, as ssh-keygen on glibc)

const FLAGS = new Set("cehiLlpqvyA".split(""));
const WITH_ARG = new Set("abCEfImNnOPsStVZz".split(""));

interface Options {
  flags: Set<string>;
  values: Map<string, string>;
  certOptions: string[];
  files: string[];
}

function parseArgs(args: string[]): Options {
  const o: Options = { flags: new Set(), values: new Map(), certOptions: [], files: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      o.files.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      o.files.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (FLAGS.has(c)) {
        o.flags.add(c);
      } else if (WITH_ARG.has(c)) {
        let v: string;
        if (j + 1 < a.length) v = a.slice(j + 1);
        else if (i + 1 < args.length) v = args[++i];
        else throw new KeygenError(`option requires an argument -- ${c}\n${KEYGEN_USAGE}`);
        if (c === "O") o.certOptions.push(v);
        else o.values.set(c, v);
        break;
      } else {
        throw new KeygenError(`unknown option -- ${c}\n${KEYGEN_USAGE}`);
      }
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// Keys, as ssh-keygen names and measures them

function plainKey(key: PublicKey): PublicKey {
  return key instanceof SshCertificate ? key.key : key;
}

/** sshkey_size: bits of the modulus or curve (of the certified key for certificates). */
function keySize(key: PublicKey): number {
  const plain = plainKey(key);
  const r = new SshReader(plain.blob);
  const type = r.ascii("key type");
  if (type === "ssh-ed25519") return 256;
  if (type === "ssh-rsa") {
    r.mpintBytes("e");
    const n = r.mpintBytes("n");
    let i = 0;
    while (i < n.length && n[i] === 0) i++;
    return i === n.length ? 0 : (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]));
  }
  return Number(/nistp(\d+)$/.exec(type)?.[1] ?? 0);
}

/** sshkey_type: "ED25519", "ECDSA", "RSA", with "-CERT" for certificates. */
function keyTypeName(key: PublicKey): string {
  const plain = plainKey(key).type;
  const base = plain === "ssh-ed25519" ? "ED25519" : plain === "ssh-rsa" ? "RSA" : "ECDSA";
  return key instanceof SshCertificate ? `${base}-CERT` : base;
}

type HashName = "sha256" | "md5" | "sha1";

function fingerprint(key: PublicKey, hash: HashName): string {
  const blob = plainKey(key).blob;
  if (hash === "md5") return fingerprintMd5(blob);
  if (hash === "sha1") return "SHA1:" + btoa(String.fromCharCode(...sha1(blob))).replace(/=+$/, "");
  return fingerprintSha256(blob);
}

function digest(key: PublicKey, hash: HashName): Uint8Array {
  const blob = plainKey(key).blob;
  return hash === "md5" ? md5(blob) : hash === "sha1" ? sha1(blob) : sha256(blob);
}

/** OpenSSH's fingerprint_randomart (the "drunken bishop"), byte for byte. */
function randomart(key: PublicKey, hash: HashName): string {
  const X = 17, Y = 9;
  const chars = " .o+=*BOX@%&#/^SE";
  const len = chars.length - 1;
  const field = Array.from({ length: X }, () => new Array<number>(Y).fill(0));
  let x = X >> 1, y = Y >> 1;
  for (const byte of digest(key, hash)) {
    let input = byte;
    for (let b = 0; b < 4; b++) {
      x += input & 1 ? 1 : -1;
      y += input & 2 ? 1 : -1;
      x = Math.min(Math.max(x, 0), X - 1);
      y = Math.min(Math.max(y, 0), Y - 1);
      if (field[x][y] < len - 2) field[x][y]++;
      input >>= 2;
    }
  }
  field[X >> 1][Y >> 1] = len - 1;
  field[x][y] = len;
  let title = `[${keyTypeName(key)} ${keySize(key)}]`;
  if (title.length + 1 > X) title = `[${keyTypeName(key)}]`;
  title = title.slice(0, X - 1);
  const hashTitle = `[${hash.toUpperCase()}]`;
  const border = (t: string) => {
    const left = (X - t.length) >> 1;
    return "+" + "-".repeat(left) + t + "-".repeat(X - left - t.length) + "+";
  };
  const rows = [border(title)];
  for (let j = 0; j < Y; j++) {
    let row = "|";
    for (let i = 0; i < X; i++) row += chars[Math.min(field[i][j], len)];
    rows.push(row + "|");
  }
  rows.push(border(hashTitle));
  return rows.join("\n");
}

// ---------------------------------------------------------------------------
// Reading keys as OpenSSH's authfile.c does

const KEY_TYPES = [...PUBLIC_KEY_TYPES, ...CERTIFICATE_TYPES];

/** sshkey_read: `type base64` at the start of `s` (after blanks); the rest after blanks. */
function tryReadKey(s: string): { key: PublicKey; rest: string } | undefined {
  const m = /^[ \t]*(\S+)[ \t]+([^ \t]+)[ \t]*(.*)$/s.exec(s);
  if (!m || !KEY_TYPES.includes(m[1])) return undefined;
  try {
    const bin = atob(m[2]);
    const key = parsePublicKey(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    if (key.type !== m[1]) return undefined;
    return { key, rest: m[3] };
  } catch {
    return undefined;
  }
}

/** sshkey_try_load_public: the first key line of a file; its comment, else the file name. */
function tryLoadPublicFile(file: string): { key: PublicKey; comment: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("-----BEGIN") || line === "SSH PRIVATE KEY FILE") break;
    const r = tryReadKey(line);
    if (r) {
      const comment = r.rest.replace(/[\r\n].*$/s, "");
      return { key: r.key, comment: comment || file };
    }
  }
  return undefined;
}

/** The public key in an openssh-key-v1 file's clear header (PROTOCOL.key), even when encrypted. */
function publicFromOpensshPrivate(text: string): PublicKey | undefined {
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(
    text,
  );
  if (!m) return undefined;
  try {
    const bytes = Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    const magic = "openssh-key-v1\0";
    if (String.fromCharCode(...bytes.subarray(0, magic.length)) !== magic) return undefined;
    const r = new SshReader(bytes, magic.length);
    r.string("ciphername");
    r.string("kdfname");
    r.string("kdfoptions");
    if (r.uint32("number of keys") !== 1) return undefined;
    return parsePublicKey(r.string("public key"));
  } catch {
    return undefined;
  }
}

/** sshkey_load_public: the file itself, then file.pub, then an openssh-key-v1 header. */
function loadPublic(file: string): { key: PublicKey; comment?: string } | undefined {
  const direct = tryLoadPublicFile(file) ?? tryLoadPublicFile(`${file}.pub`);
  if (direct) return direct;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const key = publicFromOpensshPrivate(text);
  return key ? { key } : undefined;
}

interface Loaded {
  key: PrivateKey;
  /** The comment, undefined for formats without one (PEM), as OpenSSH's NULL. */
  comment?: string;
  parsed: ParsedPrivateKeyFile;
  /** The passphrase that decrypted it ("" when not encrypted). */
  passphrase: string;
}

function describeKeyError(e: unknown): string {
  if (e instanceof WrongPassphraseError || e instanceof PassphraseRequiredError) {
    return "incorrect passphrase supplied to decrypt private key";
  }
  if (e instanceof KeyError) return `invalid format (${e.message})`;
  throw e;
}

/**
 * load_identity: without a passphrase first, then with `passphrase` (-P) or
 * the answer `ask` gets to `prompt`. Errors read "<prefix>: <reason>"
 * (ssh-keygen's fatal_r).
 */
async function loadIdentity(
  file: string,
  how: {
    passphrase: string | undefined;
    ask: (prompt: string) => Promise<string>;
    prefix: string;
    prompt?: string;
  },
): Promise<Loaded> {
  const { passphrase, ask, prefix, prompt = "Enter passphrase: " } = how;
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new KeygenError(`${file}: ${sysError(e)}`);
  }
  const done = (parsed: ParsedPrivateKeyFile, pass: string): Loaded => ({
    key: parsed.key,
    comment: parsed.format === "openssh" ? parsed.comment : undefined,
    parsed,
    passphrase: pass,
  });
  try {
    return done(await parsePrivateKeyFile(bytes), "");
  } catch (e) {
    if (!(e instanceof PassphraseRequiredError)) {
      throw new KeygenError(`${prefix}: ${describeKeyError(e)}`);
    }
  }
  const pass = passphrase ?? await ask(prompt);
  try {
    return done(await parsePrivateKeyFile(bytes, { passphrase: pass }), pass);
  } catch (e) {
    throw new KeygenError(`${prefix}: ${describeKeyError(e)}`);
  }
}

// ---------------------------------------------------------------------------
// Writing keys

function privateFormat(key: PrivateKey, m: string | undefined): PrivateKeyFileFormat {
  const f = (m ?? "").toUpperCase();
  if (key.type === "ssh-ed25519") return "openssh"; // as ssh-keygen: no PEM form for Ed25519
  if (f === "PEM") return key.type === "ssh-rsa" ? "pkcs1" : "sec1";
  if (f === "PKCS8") return "pkcs8";
  return "openssh";
}

function checkFormat(m: string | undefined): void {
  if (m === undefined) return;
  if (!["RFC4716", "SSH2", "PKCS8", "PEM"].includes(m.toUpperCase())) {
    throw new KeygenError(`Unsupported conversion format "${m}"`);
  }
}

/** `key` as the file `how.file` holds it: the format (-m), rounds (-a) and cipher (-Z) of `how.o`. */
async function encodePrivate(
  key: PrivateKey,
  how: { file: string; o: Options; passphrase: string; comment: string },
): Promise<string> {
  const { file, o, passphrase, comment } = how;
  const format = privateFormat(key, o.values.get("m"));
  const utf8Len = new TextEncoder().encode(passphrase).length;
  if (format !== "openssh" && utf8Len > 0 && utf8Len <= 4) {
    throw new KeygenError(
      `Saving key "${file}" failed: passphrase is too short (minimum five characters)`,
    );
  }
  const rounds = o.values.get("a");
  const cipher = o.values.get("Z");
  try {
    return await writePrivateKeyFile(key, {
      format,
      passphrase,
      comment,
      ...(format === "openssh" && rounds !== undefined ? { rounds: Number(rounds) } : {}),
      ...(format === "openssh" && cipher !== undefined ? { cipher: cipher as "aes256-ctr" } : {}),
    });
  } catch (e) {
    if (e instanceof KeyError) throw new KeygenError(`Saving key "${file}" failed: ${e.message}`);
    throw e;
  }
}

function writeFile(file: string, text: string, options: { mode: number }): void {
  const { mode } = options;
  try {
    fs.writeFileSync(file, text, { mode });
  } catch (e) {
    throw new KeygenError(`${file}: ${sysError(e)}`);
  }
}

function checkRoundsAndCipher(o: Options): void {
  const a = o.values.get("a");
  if (a !== undefined && !/^[1-9]\d*$/.test(a)) {
    throw new KeygenError(`Invalid number: ${a}`);
  }
  const z = o.values.get("Z");
  if (
    z !== undefined &&
    !["aes256-ctr", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"].includes(z)
  ) {
    throw new KeygenError(`Invalid OpenSSH-format cipher '${z}'`);
  }
}

// ---------------------------------------------------------------------------
// The modes

interface Context {
  o: Options;
  out: (text: string) => void;
  err: (text: string) => void;
  ask: (prompt: string) => Promise<string>;
  now: () => number;
  quiet: boolean;
}

function identityFile(c: Context): string {
  const f = c.o.values.get("f");
  if (f === undefined) {
    throw new KeygenError("no key file given (use -f file)");
  }
  return f;
}

const KEY_TYPE_NAMES: Record<string, string> = {
  ed25519: "ssh-ed25519",
  "ssh-ed25519": "ssh-ed25519",
  ecdsa: "ecdsa",
  "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
  rsa: "ssh-rsa",
  "ssh-rsa": "ssh-rsa",
};

async function askNewPassphrase(c: Context, again: string): Promise<string> {
  for (let tries = 0; tries < 3; tries++) {
    const p1 = await c.ask("Enter passphrase (empty for no passphrase): ");
    const p2 = await c.ask("Enter same passphrase again: ");
    if (p1 === p2) return p1;
    c.out(again);
  }
  throw new KeygenError("Too many failed attempts");
}

async function generate(c: Context): Promise<void> {
  const { o } = c;
  const typeName = (o.values.get("t") ?? "ed25519").toLowerCase();
  let type = KEY_TYPE_NAMES[typeName];
  if (type === undefined) {
    throw new KeygenError(
      ["dsa", "ecdsa-sk", "ed25519-sk"].includes(typeName)
        ? `key type ${typeName} is not supported by ${PROG}`
        : `unknown key type ${typeName}`,
    );
  }
  const bitsText = o.values.get("b");
  let bits = bitsText === undefined ? undefined : Number(bitsText);
  if (bitsText !== undefined && !/^\d+$/.test(bitsText)) {
    throw new KeygenError(`Bits has bad value ${bitsText} (invalid)`);
  }
  if (type === "ecdsa") {
    bits ??= 256;
    if (![256, 384, 521].includes(bits)) {
      throw new KeygenError("Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits");
    }
    type = `ecdsa-sha2-nistp${bits}`;
  } else if (type.startsWith("ecdsa-")) {
    const curve = Number(type.slice(-3));
    if (bits !== undefined && bits !== curve) {
      throw new KeygenError("Invalid ECDSA key length: valid lengths are 256, 384 or 521 bits");
    }
    bits = curve;
  } else if (type === "ssh-rsa") {
    bits ??= 3072;
    if (bits < 2048) throw new KeygenError("Invalid RSA key length: minimum is 2048 bits");
    if (bits > 16384) throw new KeygenError("Invalid RSA key length: maximum is 16384 bits");
    if (bits % 8 !== 0) {
      throw new KeygenError(`Invalid RSA key length: ${bits} is not a multiple of 8`);
    }
  } else {
    bits = undefined; // ed25519: -b is ignored, as by ssh-keygen
  }
  checkFormat(o.values.get("m"));
  checkRoundsAndCipher(o);
  const short = type === "ssh-ed25519" ? "ed25519" : type === "ssh-rsa" ? "rsa" : "ecdsa";
  let file = o.values.get("f");
  if (!c.quiet) c.out(`Generating public/private ${typeName} key pair.\n`);
  if (file === undefined) {
    const dir = path.join(homeDirectory(), ".ssh");
    file = path.join(dir, `id_${short}`);
    if (!exists(dir)) {
      fs.mkdirSync(dir, { mode: 0o700 });
      if (!c.quiet) c.out(`Created directory '${dir}'.\n`);
    }
  }
  if (exists(file)) {
    c.out(`${file} already exists.\n`);
    throw new KeygenError(`${file}: not overwritten (remove it first to generate a new key)`);
  }
  let key: PrivateKey;
  try {
    key = await generatePrivateKey(type, { bits });
  } catch (e) {
    if (e instanceof KeyError) throw new KeygenError(`key generation failed: ${e.message}`);
    throw e;
  }
  const passphrase = o.values.get("P") ?? o.values.get("N") ??
    await askNewPassphrase(c, "Passphrases do not match.  Try again.\n");
  const comment = o.values.get("C") ?? `${localUserName()}@${os.hostname()}`;
  const text = await encodePrivate(key, { file, o, passphrase, comment });
  writeFile(file, text, { mode: 0o600 });
  if (!c.quiet) c.out(`Your identification has been saved in ${file}\n`);
  writeFile(`${file}.pub`, formatPublicKeyLine(key.publicKey, comment), { mode: 0o644 });
  if (!c.quiet) {
    const hash = fingerprintHash(o);
    c.out(
      `Your public key has been saved in ${file}.pub\n` +
        `The key fingerprint is:\n${fingerprint(key.publicKey, hash)} ${comment}\n` +
        `The key's randomart image is:\n${randomart(key.publicKey, hash)}\n`,
    );
  }
}

function fingerprintHash(o: Options): HashName {
  const e = (o.values.get("E") ?? "sha256").toLowerCase();
  if (e !== "sha256" && e !== "md5" && e !== "sha1") {
    throw new KeygenError(`Invalid hash algorithm "${o.values.get("E")}"`);
  }
  return e;
}

function fingerprintOne(
  c: Context,
  { key, comment }: { key: PublicKey; comment: string | undefined },
): void {
  const hash = fingerprintHash(c.o);
  c.out(
    `${keySize(key)} ${fingerprint(key, hash)} ${comment ?? "no comment"} (${keyTypeName(key)})\n`,
  );
  if (c.o.flags.has("v")) c.out(`${randomart(key, hash)}\n`);
}

/** fingerprint_private: the .pub's comment, else the private key's. */
async function fingerprintPrivate(c: Context, file: string): Promise<void> {
  const pub = loadPublic(file);
  let comment = pub?.comment;
  let priv: PrivateKey | undefined;
  if (pub === undefined || !comment) {
    comment = undefined;
    try {
      const parsed = await parsePrivateKeyFile(fs.readFileSync(file));
      priv = parsed.key;
      if (parsed.format === "openssh") comment = parsed.comment;
    } catch {
      // encrypted or unreadable: the public part alone
    }
  }
  const key = pub?.key ?? priv?.publicKey;
  if (key === undefined) throw new KeygenError(`${file} is not a key file.`);
  fingerprintOne(c, { key, comment });
}

/** do_fingerprint: public keys, authorized_keys and known_hosts lines, or a private key file. */
async function fingerprintFile(c: Context): Promise<void> {
  fingerprintHash(c.o);
  const file = identityFile(c);
  const text = readText(file, `${PROG}: `);
  const shown = file === "-" ? "(stdin)" : file;
  let found = false;
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  for (let n = 0; n < lines.length; n++) {
    let cp = lines[n].replace(/^[ \t]+/, "");
    if (cp.startsWith("#") || cp === "") continue;
    if (n === 0 && file !== "-" && cp.includes("PRIVATE KEY")) {
      await fingerprintPrivate(c, file);
      return;
    }
    let comment: string | undefined;
    let read = tryReadKey(cp);
    if (read === undefined) {
      const num = /^[ \t]*([+-]?\d+)([ \t])?/.exec(cp);
      const isNumber = num !== null && Number(num[1]) !== 0 && num[2] !== undefined;
      if (!isNumber) {
        // hostnames or options before the key (known_hosts, authorized_keys)
        let i = 0;
        let quoted = false;
        for (; i < cp.length && (quoted || (cp[i] !== " " && cp[i] !== "\t")); i++) {
          if (cp[i] === "\\" && cp[i + 1] === '"') i++;
          else if (cp[i] === '"') quoted = !quoted;
        }
        if (i >= cp.length) continue;
        comment = cp.slice(0, i);
        cp = cp.slice(i + 1);
      }
      read = tryReadKey(cp);
      if (read === undefined) continue;
    }
    const rest = read.rest.replace(/\r$/, "");
    if (rest !== "" && !rest.startsWith("#")) comment = rest;
    fingerprintOne(c, { key: read.key, comment });
    found = true;
  }
  if (!found) throw new KeygenError(`${shown} is not a public key file.`);
}

async function printPublic(c: Context): Promise<void> {
  const file = identityFile(c);
  if (!exists(file)) throw new KeygenError(`${file}: No such file or directory`);
  const { key, comment } = await loadIdentity(file, {
    passphrase: c.o.values.get("P"),
    ask: c.ask,
    prefix: `Load key "${file}"`,
  });
  c.out(formatPublicKeyLine(key.publicKey, comment || undefined));
}

async function changePassphrase(c: Context): Promise<void> {
  const { o } = c;
  const file = identityFile(c);
  checkFormat(o.values.get("m"));
  checkRoundsAndCipher(o);
  if (!exists(file)) throw new KeygenError(`${file}: No such file or directory`);
  const loaded = await loadIdentity(file, {
    passphrase: o.values.get("P"),
    ask: c.ask,
    prefix: `Failed to load key ${file}`,
    prompt: "Enter old passphrase: ",
  });
  if (loaded.comment !== undefined) c.out(`Key has comment '${loaded.comment}'\n`);
  let passphrase = o.values.get("N");
  if (passphrase === undefined) {
    const p1 = await c.ask("Enter new passphrase (empty for no passphrase): ");
    const p2 = await c.ask("Enter same passphrase again: ");
    if (p1 !== p2) {
      c.out("Pass phrases do not match.  Try again.\n");
      throw new KeygenError("passphrase not changed");
    }
    passphrase = p1;
  }
  const text = await encodePrivate(loaded.key, {
    file,
    o,
    passphrase,
    comment: loaded.comment ?? "",
  });
  writeFile(file, text, { mode: 0o600 });
  c.out("Your identification has been saved with the new passphrase.\n");
}

async function changeComment(c: Context): Promise<void> {
  const { o } = c;
  const file = identityFile(c);
  checkRoundsAndCipher(o);
  if (!exists(file)) throw new KeygenError(`${file}: No such file or directory`);
  const loaded = await loadIdentity(file, {
    passphrase: o.values.get("P"),
    ask: c.ask,
    prefix: `Cannot load private key "${file}"`,
  });
  if (loaded.parsed.format !== "openssh") {
    throw new KeygenError(
      "Comments are only supported for keys stored in the new format (-o).",
    );
  }
  c.out(`Old comment: ${loaded.comment ?? ""}\n`);
  const comment = o.values.get("C") ?? await c.ask("New comment: ");
  const text = await encodePrivate(loaded.key, { file, o, passphrase: loaded.passphrase, comment });
  writeFile(file, text, { mode: 0o600 });
  writeFile(`${file}.pub`, formatPublicKeyLine(loaded.key.publicKey, comment), { mode: 0o644 });
  c.out(`Comment '${comment}' applied\n`);
}

async function exportKey(c: Context): Promise<void> {
  const { o } = c;
  const file = identityFile(c);
  const m = (o.values.get("m") ?? "RFC4716").toUpperCase();
  checkFormat(m);
  if (!exists(file)) throw new KeygenError(`${PROG}: ${file}: No such file or directory`);
  const key = loadPublic(file)?.key ??
    (await loadIdentity(file, {
      passphrase: o.values.get("P"),
      ask: c.ask,
      prefix: `Load key "${file}"`,
    })).key.publicKey;
  if (m === "RFC4716" || m === "SSH2") {
    const comment = `${keySize(key)}-bit ${
      keyTypeName(key)
    }, converted by ${localUserName()}@${os.hostname()} from OpenSSH`
      .slice(0, 60);
    c.out(formatRfc4716PublicKey(key, { comment }));
    return;
  }
  const plain = plainKey(key);
  c.out(
    formatPemPublicKey(plain, {
      format: m === "PEM" && plain.type === "ssh-rsa" ? "pkcs1" : "spki",
    }),
  );
}

function importKey(c: Context): void {
  const file = identityFile(c);
  checkFormat(c.o.values.get("m"));
  const text = readText(file, `${PROG}: `);
  try {
    c.out(formatPublicKeyLine(parsePublicKeyText(text).key));
  } catch (e) {
    if (e instanceof KeyError) {
      throw new KeygenError(`${file}: cannot import: ${e.message}`);
    }
    throw e;
  }
}

// -- certificates ------------------------------------------------------------

/** OpenSSH's convtime: `90`, `90s`, `1h30m`, `2d`, `52w`; undefined when invalid. */
function convtime(s: string): number | undefined {
  if (s === "") return undefined;
  const units: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  const re = /(\d+)([smhdw]?)/iy;
  let at = 0;
  while (at < s.length) {
    re.lastIndex = at;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2].toLowerCase()];
    at = re.lastIndex;
  }
  return total > 0x7fffffff ? undefined : total;
}

/** ssh-keygen parse_cert_times: `-V` into [valid after, valid before]. */
function parseValidity(spec: string, now: number): [bigint, bigint] {
  const nowB = BigInt(now);
  if (spec.startsWith("+") && !spec.includes(":")) {
    const secs = convtime(spec.slice(1));
    if (secs === undefined) throw new KeygenError(`Invalid relative certificate life ${spec}`);
    return [BigInt(Math.floor((now - 59) / 60) * 60), nowB + BigInt(secs)];
  }
  const colon = spec.indexOf(":");
  if (colon <= 0 || colon === spec.length - 1) {
    throw new KeygenError(`Invalid certificate life specification ${spec}`);
  }
  const from = spec.slice(0, colon);
  const to = spec.slice(colon + 1);
  const relative = (s: string): bigint => {
    const secs = convtime(s.slice(1));
    if (secs === undefined) throw new KeygenError(`Invalid relative certificate time ${s}`);
    if (s[0] === "-" && secs > now) {
      throw new KeygenError(`Certificate time ${s} cannot be represented`);
    }
    return s[0] === "-" ? nowB - BigInt(secs) : nowB + BigInt(secs);
  };
  const hex = (s: string): bigint => {
    if (!/^0x[0-9a-f]+$/i.test(s) || BigInt(s) > CERT_FOREVER) {
      throw new KeygenError("Invalid certificate time: not a number");
    }
    return BigInt(s);
  };
  /** One end: relative, `word` (always/forever) standing for `wordValue`, hex, or absolute. */
  const one = (s: string, end: { word: string; wordValue: bigint; what: string }): bigint => {
    const { word, wordValue, what } = end;
    if (s[0] === "-" || s[0] === "+") return relative(s);
    if (s === word) return wordValue;
    if (s.startsWith("0x")) return hex(s);
    const t = parseAbsoluteTime(s);
    if (t === undefined) throw new KeygenError(`Invalid ${what} time "${s}"`);
    return BigInt(t);
  };
  const after = one(from, { word: "always", wordValue: 0n, what: "from" });
  const before = one(to, { word: "forever", wordValue: CERT_FOREVER, what: "to" });
  if (before <= after) throw new KeygenError("Empty certificate validity interval");
  return [after, before];
}

/** sshkey_format_cert_validity. */
function formatValidity(after: bigint, before: bigint): string {
  if (after === 0n && before === CERT_FOREVER) return "forever";
  if (after === 0n) return `before ${formatAbsoluteTime(before)}`;
  if (before === CERT_FOREVER) return `after ${formatAbsoluteTime(after)}`;
  return `from ${formatAbsoluteTime(after)} to ${formatAbsoluteTime(before)}`;
}

const FLAG_EXTENSIONS: Record<string, string> = {
  "x11-forwarding": "permit-X11-forwarding",
  "agent-forwarding": "permit-agent-forwarding",
  "port-forwarding": "permit-port-forwarding",
  "pty": "permit-pty",
  "user-rc": "permit-user-rc",
};

/** add_cert_option + finalise_cert_exts: `-O` into critical options and extensions. */
function certOptions(
  options: string[],
  host: boolean,
): { critical: Record<string, string>; extensions: Record<string, string> } {
  const flags = new Set<string>(host ? [] : Object.values(FLAG_EXTENSIONS));
  let verifyRequired = false;
  let noTouchRequired = false;
  let command: string | undefined;
  let sourceAddress: string | undefined;
  const custom: { key: string; value: string; critical: boolean }[] = [];
  for (const opt of options) {
    const lower = opt.toLowerCase();
    const flag = /^(no|permit)-(x11-forwarding|agent-forwarding|port-forwarding|pty|user-rc)$/
      .exec(lower);
    if (lower === "clear") {
      flags.clear();
      verifyRequired = false;
      noTouchRequired = false;
    } else if (flag) {
      if (flag[1] === "no") flags.delete(FLAG_EXTENSIONS[flag[2]]);
      else flags.add(FLAG_EXTENSIONS[flag[2]]);
    } else if (lower === "touch-required") noTouchRequired = false;
    else if (lower === "no-touch-required") noTouchRequired = true;
    else if (lower === "verify-required") verifyRequired = true;
    else if (lower === "no-verify-required") verifyRequired = false;
    else if (lower.startsWith("force-command=")) {
      const v = opt.slice(14);
      if (v === "") throw new KeygenError("Empty force-command option");
      if (command !== undefined) throw new KeygenError("force-command already specified");
      command = v;
    } else if (lower.startsWith("source-address=")) {
      const v = opt.slice(15);
      if (v === "") throw new KeygenError("Empty source-address option");
      if (sourceAddress !== undefined) throw new KeygenError("source-address already specified");
      if (!v.split(",").every(validCidr)) throw new KeygenError("Invalid source-address list");
      sourceAddress = v;
    } else if (lower.startsWith("extension:") || lower.startsWith("critical:")) {
      const critical = lower.startsWith("critical:");
      const body = opt.slice(opt.indexOf(":") + 1);
      const eq = body.indexOf("=");
      custom.push({
        key: eq < 0 ? body : body.slice(0, eq),
        value: eq < 0 ? "" : body.slice(eq + 1),
        critical,
      });
    } else {
      throw new KeygenError(`Unsupported certificate option "${opt}"`);
    }
  }
  const critical: Record<string, string> = {};
  const extensions: Record<string, string> = {};
  if (command !== undefined) critical["force-command"] = command;
  if (sourceAddress !== undefined) critical["source-address"] = sourceAddress;
  if (verifyRequired) critical["verify-required"] = "";
  for (const f of flags) extensions[f] = "";
  if (noTouchRequired) extensions["no-touch-required"] = "";
  for (const x of custom) (x.critical ? critical : extensions)[x.key] = x.value;
  return { critical, extensions };
}

/** addr_match_cidr_list's syntax check for one entry: IPv4 or IPv6 with an optional /bits. */
function validCidr(entry: string): boolean {
  const m = /^([^/]+)(?:\/(\d+))?$/.exec(entry);
  if (!m) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(m[1]);
  if (v4) {
    return v4.slice(1).every((o) => Number(o) <= 255) &&
      (m[2] === undefined || Number(m[2]) <= 32);
  }
  return /^[0-9a-f:.]+$/i.test(m[1]) && m[1].includes(":") &&
    (m[2] === undefined || Number(m[2]) <= 128);
}

/** -z: the first serial number, and whether it counts up ("+N") from certificate to certificate. */
function serialOption(o: Options): { serial: bigint; autoinc: boolean } {
  const z = o.values.get("z");
  if (z === undefined) return { serial: 0n, autoinc: false };
  const autoinc = z.startsWith("+");
  const digits = autoinc ? z.slice(1) : z;
  if (!/^\d+$/.test(digits) || BigInt(digits) > CERT_FOREVER) {
    throw new KeygenError(`Invalid serial number "${digits}"`);
  }
  return { serial: BigInt(digits), autoinc };
}

/** -n: the comma-separated principals (none when absent), at most 256, none empty. */
function principalsOption(o: Options): string[] {
  const principalsText = o.values.get("n");
  const principals = principalsText === undefined ? [] : principalsText.split(",");
  if (principals.some((p) => p === "")) throw new KeygenError("Empty principal name");
  if (principals.length > 256) {
    throw new KeygenError("Too many certificate principals specified");
  }
  return principals;
}

async function signCertificates(c: Context, caFile: string): Promise<void> {
  const { o } = c;
  const keyId = o.values.get("I");
  if (keyId === undefined) throw new KeygenError("Must specify key id (-I) when certifying");
  const host = o.flags.has("h");
  const { critical, extensions } = certOptions(o.certOptions, host);
  const first = serialOption(o);
  let serial = first.serial;
  const principalsText = o.values.get("n");
  const principals = principalsOption(o);
  const validity = o.values.get("V");
  const [validAfter, validBefore] = validity === undefined
    ? [0n, CERT_FOREVER]
    : parseValidity(validity, Math.floor(c.now()));
  if (o.files.length === 0) throw new KeygenError(`no public key files to sign\n${KEYGEN_USAGE}`);
  if (!exists(caFile)) throw new KeygenError(`${caFile}: No such file or directory`);
  const ca = (await loadIdentity(caFile, {
    passphrase: o.values.get("P"),
    ask: c.ask,
    prefix: `Load key "${caFile}"`,
  })).key;
  let algorithm = o.values.get("t");
  if (algorithm !== undefined && !ca.algorithms.includes(algorithm)) {
    throw new KeygenError(`CA key type ${ca.type} doesn't match specified ${algorithm}`);
  }
  algorithm ??= ca.algorithms[0];
  for (const file of o.files) {
    const pub = loadPublic(file);
    if (pub === undefined) {
      throw new KeygenError(
        `load pubkey "${file}": ${exists(file) ? "invalid format" : "No such file or directory"}`,
      );
    }
    if (pub.key instanceof SshCertificate) {
      throw new KeygenError(
        `do_ca_sign: key "${file}" type ${keyTypeName(pub.key)} cannot be certified`,
      );
    }
    let cert: SshCertificate;
    try {
      cert = await signCertificate({
        key: pub.key,
        ca,
        type: host ? "host" : "user",
        keyId,
        principals,
        serial,
        validAfter,
        validBefore,
        criticalOptions: critical,
        extensions,
        signatureAlgorithm: algorithm,
      });
    } catch (e) {
      if (e instanceof KeyError) {
        throw new KeygenError(`Couldn't certify key ${file}: ${e.message}`);
      }
      throw e;
    }
    const out = `${file.endsWith(".pub") ? file.slice(0, -4) : file}-cert.pub`;
    writeFile(out, formatPublicKeyLine(cert, pub.comment), { mode: 0o644 });
    if (!c.quiet) {
      c.err(
        `Signed ${cert.certType} key ${out}: id "${keyId}" serial ${cert.serial}${
          principalsText !== undefined ? ` for ${principalsText}` : ""
        } valid ${formatValidity(validAfter, validBefore)}\n`,
      );
    }
    if (first.autoinc) serial++;
  }
}

/** show_options: one certificate option or extension per line, as `ssh-keygen -L`. */
function showOptions(m: ReadonlyMap<string, string>, critical: boolean): string {
  if (m.size === 0) return " (none)";
  const known = critical
    ? ["verify-required"]
    : [...Object.values(FLAG_EXTENSIONS), "no-touch-required"];
  let out = " ";
  for (const [name, value] of m) {
    out += `\n                ${name}`;
    if (known.includes(name)) continue;
    if (critical && (name === "force-command" || name === "source-address")) {
      out += ` ${value}`;
    } else if (value === "") {
      // a flag OpenSSH does not know (the data may also be an empty string; it cannot tell)
      out += " UNKNOWN FLAG OPTION";
    } else {
      const bytes = new TextEncoder().encode(value);
      const data = new Uint8Array(4 + bytes.length);
      new DataView(data.buffer).setUint32(0, bytes.length);
      data.set(bytes, 4);
      const hex = Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
      out += ` UNKNOWN OPTION: ${hex} (len ${data.length})`;
    }
  }
  return out;
}

/** do_show_cert: `ssh-keygen -L`, every certificate line of the file. */
function showCertificates(c: Context): void {
  const file = identityFile(c);
  const hash = fingerprintHash(c.o);
  const text = readText(file, `${PROG}: `);
  let ok = false;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].replace(/^[ \t]+/, "").replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const read = tryReadKey(line);
    if (read === undefined) {
      c.err(`${file}:${n + 1}: invalid key\n`);
      continue;
    }
    if (!(read.key instanceof SshCertificate)) {
      c.err(`${file}:${n + 1} is not a certificate\n`);
      continue;
    }
    const cert = read.key;
    const ca = cert.signatureKey;
    const principals = cert.principals.length === 0
      ? " (none)"
      : " " + cert.principals.map((p) => `\n                ${p}`).join("");
    c.out(
      [
        n === 0 ? `${file}:` : `${file}:${n + 1}:`,
        `        Type: ${cert.type} ${cert.certType} certificate`,
        `        Public key: ${keyTypeName(cert)} ${fingerprint(cert, hash)}`,
        `        Signing CA: ${keyTypeName(ca)} ${
          fingerprint(ca, hash)
        } (using ${cert.signatureAlgorithm})`,
        `        Key ID: "${cert.keyId}"`,
        `        Serial: ${cert.serial}`,
        `        Valid: ${formatValidity(cert.validAfter, cert.validBefore)}`,
        `        Principals:${principals}`,
        `        Critical Options:${showOptions(cert.criticalOptions, true)}`,
        `        Extensions:${showOptions(cert.extensions, false)}`,
      ].join("\n") + "\n",
    );
    ok = true;
  }
  if (!ok) throw new KeygenError(`${file}: no certificate found`);
}

/**
 * Runs `rxssh keygen` with `args` (the arguments after `keygen`) and
 * resolves with the exit status: 0 on success, 1 on any error (the error is
 * written to `io.stderr`). See the module notes for the flags; output and
 * files are the ones `ssh-keygen` (OpenSSH 9.2) writes.
 *
 * @example
 * ```ts
 * import { keygenMain } from "./keygen.ts";
 * const dir = Deno.makeTempDirSync();
 * let out = "";
 * const io = { stdout: (t: string) => out += t, stderr: (t: string) => out += t };
 * await keygenMain(["-q", "-t", "ed25519", "-N", "", "-C", "me@host", "-f", `${dir}/id`], io);
 * await keygenMain(["-l", "-f", `${dir}/id.pub`], io);
 * console.log(out); // "256 SHA256:... me@host (ED25519)\n"
 * ```
 */
export async function keygenMain(args: string[], io: KeygenIo = {}): Promise<number> {
  const err = io.stderr ?? ((t: string) => writeStdio(2, t));
  try {
    const o = parseArgs(args);
    const c: Context = {
      o,
      out: io.stdout ?? ((t: string) => writeStdio(1, t)),
      err,
      ask: io.readPassphrase ?? defaultReadPassphrase,
      now: io.now ?? (() => Date.now() / 1000),
      quiet: o.flags.has("q"),
    };
    const ca = o.values.get("s");
    if (ca !== undefined) await signCertificates(c, ca);
    else if (o.flags.has("L")) showCertificates(c);
    else if (o.flags.has("l")) await fingerprintFile(c);
    else if (o.flags.has("p")) await changePassphrase(c);
    else if (o.flags.has("c")) await changeComment(c);
    else if (o.flags.has("e")) await exportKey(c);
    else if (o.flags.has("i")) importKey(c);
    else if (o.flags.has("y")) await printPublic(c);
    else if (o.files.length > 0) throw new KeygenError(KEYGEN_USAGE);
    else await generate(c);
    return 0;
  } catch (e) {
    if (e instanceof KeygenError) {
      err(`${e.message}\n`);
      return 1;
    }
    err(`${PROG}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
