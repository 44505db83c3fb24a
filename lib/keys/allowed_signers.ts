/**
 * The `allowed_signers` file of `ssh-keygen -Y verify` (ssh-keygen(1),
 * "ALLOWED SIGNERS"), as git's `gpg.ssh.allowedSignersFile` uses it: one
 * entry per line, `principals [options] keytype base64 [comment]`, with the
 * options `cert-authority`, `namespaces="..."`, `valid-after="..."` and
 * `valid-before="..."`. Matching follows OpenSSH 9.x sshsig.c.
 *
 * @module
 */
import { describeName, fromBase64 } from "./_bytes.ts";
import { KeyError } from "./errors.ts";
import { matchPatternList } from "./patterns.ts";
import { constantTimeEqual } from "../crypto/constant_time.ts";
import { parsePublicKey, PUBLIC_KEY_TYPES } from "./public_key.ts";
import { parseAbsoluteTime } from "./time.ts";
import type { PublicKey } from "./types.ts";

export type { PublicKey } from "./types.ts";

/**
 * A line of an allowed signers file could not be parsed. `line` is its
 * 1-based number.
 *
 * @example
 * ```ts
 * import { AllowedSignersError, parseAllowedSigners } from "./allowed_signers.ts";
 * try {
 *   parseAllowedSigners("alice bogus-option ssh-ed25519 AAAA\n");
 * } catch (e) {
 *   if (e instanceof AllowedSignersError) console.log(e.line); // 1
 * }
 * ```
 */
export class AllowedSignersError extends KeyError {
  /** 1-based line number of the offending line. */
  readonly line: number;
  /** Creates the error. */
  constructor(line: number, problem: string, options?: ErrorOptions) {
    super("allowed signers", problem, { ...options, where: `line ${line}` });
    this.line = line;
  }
}

/**
 * One entry of an allowed signers file.
 *
 * @example
 * ```ts
 * import { parseAllowedSigners, type AllowedSigner } from "./allowed_signers.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * import { toBase64 } from "./_bytes.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const [entry]: AllowedSigner[] = parseAllowedSigners(
 *   `*@example.com namespaces="git" ssh-ed25519 ${toBase64(key.publicKey.blob)} laptop\n`,
 * );
 * console.log(entry.principals, entry.namespaces); // ["*@example.com"] ["git"]
 * ```
 */
export interface AllowedSigner {
  /** Principal patterns (`*`, `?`, `!negation`), as the comma-separated first field lists them. */
  readonly principals: readonly string[];
  /** `cert-authority`: the key is a CA whose certificates are trusted, not a signing key itself. */
  readonly certAuthority: boolean;
  /** `namespaces="..."` patterns, or undefined when any namespace is allowed. */
  readonly namespaces?: readonly string[];
  /** `valid-after`: the key is not valid before this time (seconds resolution). */
  readonly validAfter?: Date;
  /** `valid-before`: the key is not valid after this time (seconds resolution). */
  readonly validBefore?: Date;
  /** The key (for `cert-authority`, the CA key). */
  readonly publicKey: PublicKey;
  /** Text after the key, if any. */
  readonly comment?: string;
  /** 1-based line number in the parsed text. */
  readonly line: number;
}

/**
 * Options of {@link parseAllowedSigners}.
 *
 * @example
 * ```ts
 * import type { ParseAllowedSignersOptions } from "./allowed_signers.ts";
 * const skipped: Error[] = [];
 * const options: ParseAllowedSignersOptions = { onError: (e) => skipped.push(e) };
 * ```
 */
export interface ParseAllowedSignersOptions {
  /**
   * Called for each unparseable line, which is then skipped (as ssh-keygen
   * skips them). Without it, the first such line throws.
   */
  onError?: (error: AllowedSignersError) => void;
}

/**
 * The query of {@link findAllowedSigners}.
 *
 * @example
 * ```ts
 * import type { FindAllowedSignersOptions } from "./allowed_signers.ts";
 * import type { PublicKey } from "./types.ts";
 * declare const key: PublicKey;
 * const query: FindAllowedSignersOptions = { identity: "alice@example.com", namespace: "git", key };
 * ```
 */
export interface FindAllowedSignersOptions {
  /** The key that made the signature. */
  key: PublicKey;
  /**
   * The signer identity to check (`ssh-keygen -Y verify -I`). When absent,
   * the principals of the first matching entry are returned
   * (`ssh-keygen -Y find-principals`).
   */
  identity?: string;
  /** The signature namespace, checked against `namespaces="..."`; unchecked when absent. */
  namespace?: string;
  /** Verification time for valid-after/valid-before: a Date or ms since the epoch; default now. */
  now?: Date | number;
}

const WS = " \t\r\n";
const OTHER_KEY_TYPES =
  /^(ssh-dss|sk-.*@openssh\.com|.*-cert-v0[01]@openssh\.com|ssh-xmss@openssh\.com)$/;

function isKeyType(token: string): boolean {
  return PUBLIC_KEY_TYPES.includes(token) || OTHER_KEY_TYPES.test(token);
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && WS.includes(s[i])) i++;
  return i;
}

/** OpenSSH strdelimw: a token ending at whitespace, or a "quoted" token. */
function principalsToken(s: string, i: number): { token: string; next: number } | undefined {
  let j = i;
  while (j < s.length && !WS.includes(s[j]) && s[j] !== '"') j++;
  if (j < s.length && s[j] === '"') {
    const close = s.indexOf('"', j + 1);
    if (close < 0) return undefined;
    return { token: s.slice(i, j) + s.slice(j + 1, close), next: skipSpace(s, close + 1) };
  }
  return { token: s.slice(i, j), next: skipSpace(s, j) };
}

interface Options {
  certAuthority: boolean;
  namespaces?: string[];
  validAfter?: Date;
  validBefore?: Date;
}

/** OpenSSH opt_dequote: a "quoted" value at `from.at`, \" standing for a quote. */
function dequote(
  s: string,
  from: { at: number; fail: (p: string) => never },
): { value: string; next: number } {
  const { at: i, fail } = from;
  if (s[i] !== '"') fail("missing start quote");
  let value = "";
  let j = i + 1;
  while (j < s.length && s[j] !== '"') {
    if (s[j] === "\\" && s[j + 1] === '"') j++;
    value += s[j++];
  }
  if (j >= s.length) fail("missing end quote");
  return { value, next: j + 1 };
}

/** OpenSSH sshsigopt_parse. */
function parseOptions(opts: string, fail: (p: string) => never): Options {
  const out: Options = { certAuthority: false };
  let i = 0;
  const match = (name: string) => opts.slice(i, i + name.length).toLowerCase() === name;
  const time = (name: string, seen: Date | undefined): Date => {
    if (seen !== undefined) fail(`multiple "${name}" clauses`);
    const { value, next } = dequote(opts, { at: i, fail });
    i = next;
    // sshsig.c sshsigopt_parse: 0 (the epoch) is refused too.
    const t = parseAbsoluteTime(value);
    if (t === undefined || t === 0) fail(`invalid "${name}" time ${describeName(value)}`);
    return new Date(t * 1000);
  };
  while (i < opts.length) {
    if (match("cert-authority")) {
      i += "cert-authority".length;
      out.certAuthority = true;
    } else if (match("namespaces=")) {
      if (out.namespaces !== undefined) fail('multiple "namespaces" clauses');
      i += "namespaces=".length;
      const { value, next } = dequote(opts, { at: i, fail });
      i = next;
      out.namespaces = value.split(",");
    } else if (match("valid-after=")) {
      i += "valid-after=".length;
      out.validAfter = time("valid-after", out.validAfter);
    } else if (match("valid-before=")) {
      i += "valid-before=".length;
      out.validBefore = time("valid-before", out.validBefore);
    }
    if (i >= opts.length) break;
    if (opts[i] !== ",") fail(`unknown key option at ${describeName(opts.slice(i))}`);
    i++;
    if (i >= opts.length) fail("unexpected end of options");
  }
  if (
    out.validAfter !== undefined && out.validBefore !== undefined &&
    out.validBefore.getTime() <= out.validAfter.getTime()
  ) fail('"valid-before" time is not after "valid-after"');
  return out;
}

function parseLine(text: string, line: number): AllowedSigner | undefined {
  const fail = (problem: string): never => {
    throw new AllowedSignersError(line, problem);
  };
  let i = skipSpace(text, 0);
  if (i >= text.length || text[i] === "#") return undefined;
  const p = principalsToken(text, i);
  if (p === undefined) fail("unterminated quote in the principals");
  const { token: principals, next } = p!;
  i = next;
  if (i >= text.length) fail("missing key");
  let options: Options = { certAuthority: false };
  let end = i;
  while (end < text.length && !WS.includes(text[end])) end++;
  if (!isKeyType(text.slice(i, end))) {
    // OpenSSH sshkey_advance_past_options: up to unquoted whitespace.
    let quoted = false;
    for (end = i; end < text.length && (quoted || !WS.includes(text[end])); end++) {
      if (text[end] === "\\" && text[end + 1] === '"') end++;
      else if (text[end] === '"') quoted = !quoted;
    }
    if (quoted) fail("unterminated quote in the options");
    options = parseOptions(text.slice(i, end), fail);
    i = skipSpace(text, end);
    if (i >= text.length) fail("missing key");
  }
  const fields = text.slice(i).trim().split(/[ \t]+/);
  const [type, b64] = fields;
  if (!isKeyType(type)) fail(`invalid key type ${describeName(type)}`);
  if (b64 === undefined) fail("missing base64 key blob");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 === 1) fail("key blob is not base64");
  let publicKey: PublicKey;
  try {
    publicKey = parsePublicKey(fromBase64(b64));
  } catch (e) {
    throw new AllowedSignersError(line, e instanceof Error ? e.message : String(e), { cause: e });
  }
  if (publicKey.type !== type) {
    fail(`the line says ${describeName(type)} but the key blob is ${publicKey.type}`);
  }
  const comment = fields.slice(2).join(" ");
  return {
    principals: principals.split(","),
    certAuthority: options.certAuthority,
    ...(options.namespaces ? { namespaces: options.namespaces } : {}),
    ...(options.validAfter ? { validAfter: options.validAfter } : {}),
    ...(options.validBefore ? { validBefore: options.validBefore } : {}),
    publicKey,
    ...(comment ? { comment } : {}),
    line,
  };
}

/**
 * Parses an allowed signers file (ssh-keygen(1) "ALLOWED SIGNERS"). Blank
 * lines and `#` comments are skipped. Keys are `type base64` with the types
 * `parsePublicKey` supports; lines with other key types (certificates,
 * security keys) are errors. Throws {@link AllowedSignersError} for the
 * first bad line unless `onError` is given, which then receives each bad
 * line's error while the line is skipped.
 *
 * @example
 * ```ts
 * import { parseAllowedSigners } from "./allowed_signers.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * import { toBase64 } from "./_bytes.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const text = `# team\nalice@example.com,bob@example.com valid-before="20300101Z" ssh-ed25519 ${
 *   toBase64(key.publicKey.blob)
 * }\n`;
 * console.log(parseAllowedSigners(text)[0].principals); // ["alice@example.com", "bob@example.com"]
 * ```
 */
export function parseAllowedSigners(
  text: string,
  options: ParseAllowedSignersOptions = {},
): AllowedSigner[] {
  const out: AllowedSigner[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    try {
      const entry = parseLine(lines[n], n + 1);
      if (entry) out.push(entry);
    } catch (e) {
      if (!(e instanceof AllowedSignersError) || !options.onError) throw e;
      options.onError(e);
    }
  }
  return out;
}

/** OpenSSH match_pattern_list over a list of patterns: a positive match and no negated one. */
function matches(s: string, patterns: readonly string[]): boolean {
  return matchPatternList(s, patterns.join(",")) === 1;
}

function sameKey(a: PublicKey, b: PublicKey): boolean {
  return constantTimeEqual(a.blob, b.blob);
}

/**
 * Finds who may have made a signature with `key`, as `ssh-keygen -Y verify`
 * (with `identity`) and `-Y find-principals` (without) decide it: the first
 * entry whose principals match `identity` (when given) and whose key is
 * `key`, with `namespace` allowed by its `namespaces` option (when both are
 * given) and `now` inside its valid-after/valid-before window. Returns
 * `[identity]` or that entry's principals, or `[]` when nothing matches.
 * `cert-authority` entries only vouch for certificates, which this function
 * does not handle: they never match a plain key.
 *
 * @example
 * ```ts
 * import { findAllowedSigners, parseAllowedSigners } from "./allowed_signers.ts";
 * import { generatePrivateKey } from "./private_key.ts";
 * import { toBase64 } from "./_bytes.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * const entries = parseAllowedSigners(
 *   `*@example.com namespaces="git" ssh-ed25519 ${toBase64(key.publicKey.blob)}\n`,
 * );
 * const who = findAllowedSigners(entries, { identity: "alice@example.com", namespace: "git", key: key.publicKey });
 * console.log(who); // ["alice@example.com"]
 * ```
 */
export function findAllowedSigners(
  entries: readonly AllowedSigner[],
  options: FindAllowedSignersOptions,
): string[] {
  const { identity, namespace, key } = options;
  const nowMs = options.now === undefined
    ? Date.now()
    : typeof options.now === "number"
    ? options.now
    : options.now.getTime();
  const now = Math.floor(nowMs / 1000);
  for (const e of entries) {
    if (identity !== undefined && !matches(identity, e.principals)) continue;
    if (e.certAuthority || !sameKey(e.publicKey, key)) continue;
    if (
      namespace !== undefined && e.namespaces !== undefined &&
      !matches(namespace, e.namespaces)
    ) continue;
    if (e.validAfter !== undefined && now < Math.floor(e.validAfter.getTime() / 1000)) continue;
    if (e.validBefore !== undefined && now > Math.floor(e.validBefore.getTime() / 1000)) continue;
    if (identity !== undefined) return [identity];
    const empty = e.principals.indexOf(""); // ssh-keygen stops listing at an empty one
    return e.principals.slice(0, empty < 0 ? undefined : empty);
  }
  return [];
}
