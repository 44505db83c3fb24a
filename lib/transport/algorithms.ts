/**
 * Algorithm preference lists: the defaults, OpenSSH-style list editing
 * (`+`, `-`, `^`), and negotiation (RFC 4253 §7.1).
 *
 * The registries in `crypto/` and `keys/` say what exists; this module says
 * what is offered by default and in which order. The README's algorithm
 * table is generated from both (see `tests/readme_algorithms_test.ts`).
 *
 * @module
 */
import { CIPHERS, MACS } from "../crypto/ciphers.ts";
import { KEX_ALGORITHMS } from "../crypto/kex.ts";
import { HOST_KEY_ALGORITHMS } from "../keys/host_key_algorithms.ts";
import { SshError } from "../wire/errors.ts";
import { COMPRESSION_METHODS } from "./compression.ts";

/**
 * The negotiable algorithm kinds, named as in OpenSSH's configuration
 * (`Compression` is a list here, where ssh_config(5) has yes/no).
 *
 * @example
 * ```ts
 * import type { AlgorithmKind } from "./algorithms.ts";
 * const kind: AlgorithmKind = "Ciphers";
 * ```
 */
export type AlgorithmKind =
  | "KexAlgorithms"
  | "HostKeyAlgorithms"
  | "Ciphers"
  | "MACs"
  | "Compression";

/**
 * Every algorithm rxssh implements, by kind, in registry order.
 *
 * @example
 * ```ts
 * import { SUPPORTED_ALGORITHMS } from "./algorithms.ts";
 * console.log(SUPPORTED_ALGORITHMS.Ciphers.includes("aes256-gcm@openssh.com")); // true
 * ```
 */
export const SUPPORTED_ALGORITHMS: Readonly<Record<AlgorithmKind, readonly string[]>> = {
  KexAlgorithms: [...KEX_ALGORITHMS.keys()],
  HostKeyAlgorithms: [...HOST_KEY_ALGORITHMS.keys()],
  Ciphers: [...CIPHERS.keys()],
  MACs: [...MACS.keys()],
  Compression: [...COMPRESSION_METHODS.keys()],
};

/**
 * What is offered when nothing is configured: OpenSSH's current order
 * (post-quantum first), except that the NIST-curve ECDH key exchanges are
 * available but not offered, and nothing using SHA-1 exists. Compression
 * is off unless asked for, as OpenSSH's client (`Compression no`).
 *
 * @example
 * ```ts
 * import { DEFAULT_ALGORITHMS } from "./algorithms.ts";
 * console.log(DEFAULT_ALGORITHMS.KexAlgorithms[0]); // "mlkem768x25519-sha256"
 * ```
 */
export const DEFAULT_ALGORITHMS: Readonly<Record<AlgorithmKind, readonly string[]>> = {
  KexAlgorithms: [
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
  ],
  HostKeyAlgorithms: [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
  ],
  Ciphers: [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
  ],
  MACs: [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
  ],
  // OpenSSH's client default (Compression no); `ssh -C` offers zlib@openssh.com,zlib,none.
  Compression: ["none"],
};

/**
 * What a server offers when nothing is configured: {@link DEFAULT_ALGORITHMS}
 * without the encrypt-and-MAC MACs (`hmac-sha2-256`, `hmac-sha2-512`). RFC
 * 4253 §6.4 MACs the plaintext, so with a CTR cipher the receiver decrypts
 * before it can authenticate; the `-etm@openssh.com` forms (OpenSSH
 * PROTOCOL §1.5) MAC the ciphertext. A server faces every client, so it
 * offers only the latter (as ssh-audit recommends; `MACs +hmac-sha2-256`
 * brings them back for old clients). AEAD ciphers, which every current
 * client prefers, use no MAC at all. A client keeps offering both: it
 * talks to old servers too.
 *
 * @example
 * ```ts
 * import { DEFAULT_SERVER_ALGORITHMS } from "./algorithms.ts";
 * console.log(DEFAULT_SERVER_ALGORITHMS.MACs); // the two -etm@openssh.com MACs
 * ```
 */
export const DEFAULT_SERVER_ALGORITHMS: Readonly<Record<AlgorithmKind, readonly string[]>> = {
  ...DEFAULT_ALGORITHMS,
  MACs: DEFAULT_ALGORITHMS.MACs.filter((n) => n.endsWith("-etm@openssh.com")),
};

/**
 * A configured list is invalid: an unknown name, or nothing left.
 *
 * @example
 * ```ts
 * import { AlgorithmConfigError } from "./algorithms.ts";
 * const e = new AlgorithmConfigError("Ciphers", "unknown cipher \"des\"");
 * console.log(e.kind);
 * ```
 */
export class AlgorithmConfigError extends SshError {
  /** Which list was wrong. */
  readonly kind: AlgorithmKind;
  /** Creates the error. */
  constructor(kind: AlgorithmKind, problem: string) {
    super(`${kind}: ${problem}`);
    this.kind = kind;
  }
}

/** OpenSSH pattern match: `*` any run, `?` any one character. */
function matchPattern(name: string, pattern: string): boolean {
  let re = "^";
  for (const ch of pattern) {
    re += ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(re + "$").test(name);
}

/**
 * Builds a preference list from an OpenSSH-style specification (ssh_config(5)):
 * `"a,b"` replaces the default, `"+a,b"` appends to it, `"-pat,..."` removes
 * matching names (wildcards `*` and `?`), `"^a,b"` moves or adds them to the
 * front. An array replaces the default. Names must be supported by rxssh.
 * The default is `options.defaults`, else rxssh's for `kind`.
 *
 * @example
 * ```ts
 * import { resolveAlgorithms } from "./algorithms.ts";
 * console.log(resolveAlgorithms("Ciphers", "-aes*-ctr")); // chacha20 and the two GCM ciphers
 * console.log(resolveAlgorithms("KexAlgorithms", "^ecdh-sha2-nistp256")[0]); // "ecdh-sha2-nistp256"
 * ```
 */
export function resolveAlgorithms(
  kind: AlgorithmKind,
  spec: string | readonly string[] | undefined,
  options: { defaults?: readonly string[] } = {},
): string[] {
  const defaults = options.defaults ?? DEFAULT_ALGORITHMS[kind];
  if (spec === undefined) return [...defaults];
  const supported = SUPPORTED_ALGORITHMS[kind];
  const known = (names: string[]): string[] => {
    for (const n of names) {
      if (!supported.includes(n)) {
        throw new AlgorithmConfigError(
          kind,
          `unsupported algorithm "${n}" (supported: ${supported.join(",")})`,
        );
      }
    }
    return names;
  };
  const split = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x !== "");
  let out: string[];
  if (typeof spec !== "string") {
    out = known([...spec]);
  } else if (spec.startsWith("+")) {
    const add = known(split(spec.slice(1)));
    out = [...defaults, ...add.filter((n) => !defaults.includes(n))];
  } else if (spec.startsWith("-")) {
    const pats = split(spec.slice(1));
    out = defaults.filter((n) => !pats.some((p) => matchPattern(n, p)));
  } else if (spec.startsWith("^")) {
    const front = known(split(spec.slice(1)));
    out = [...front, ...defaults.filter((n) => !front.includes(n))];
  } else {
    out = known(split(spec));
  }
  out = out.filter((n, i) => out.indexOf(n) === i);
  if (out.length === 0) throw new AlgorithmConfigError(kind, `"${spec}" leaves no algorithm`);
  return out;
}

/**
 * RFC 4253 §7.1: the first algorithm on the client's list that is also on
 * the server's; `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { negotiate } from "./algorithms.ts";
 * console.log(negotiate(["a", "b"], ["b", "a"])); // "a"
 * ```
 */
export function negotiate(
  client: readonly string[],
  server: readonly string[],
): string | undefined {
  return client.find((n) => server.includes(n));
}

/**
 * The algorithm table as Markdown: every supported algorithm by kind, with
 * its place in the default offer. The README embeds exactly this output
 * (a test keeps them equal); `rxssh -Q table` prints it.
 *
 * @example
 * ```ts
 * import { algorithmTableMarkdown } from "./algorithms.ts";
 * console.log(algorithmTableMarkdown().split("\n")[0]); // "| kind | algorithm | offered by default |"
 * ```
 */
export function algorithmTableMarkdown(): string {
  const rows = ["| kind | algorithm | offered by default |", "|---|---|---|"];
  for (const kind of Object.keys(SUPPORTED_ALGORITHMS) as AlgorithmKind[]) {
    const defaults = DEFAULT_ALGORITHMS[kind];
    const names = [...defaults, ...SUPPORTED_ALGORITHMS[kind].filter((n) => !defaults.includes(n))];
    for (const name of names) {
      const i = defaults.indexOf(name);
      const clientOnly = i >= 0 && !DEFAULT_SERVER_ALGORITHMS[kind].includes(name);
      const offered = i < 0
        ? "no (enable with `+`)"
        : clientOnly
        ? `yes (${i + 1}), client only`
        : `yes (${i + 1})`;
      rows.push(`| ${kind} | \`${name}\` | ${offered} |`);
    }
  }
  return rows.join("\n");
}
