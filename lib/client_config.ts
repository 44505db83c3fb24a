/**
 * `connect({ host, config })`: the `ssh_config(5)` settings of a
 * destination as `connect()` options (HostName, User, Port, IdentityFile,
 * IdentitiesOnly, IdentityAgent, the known_hosts files with
 * StrictHostKeyChecking, ProxyJump, ProxyCommand, ForwardAgent,
 * ServerAlive*, ConnectTimeout, Compression and the algorithm lists).
 * Options given to `connect()` win.
 *
 * @module
 */
import * as os from "node:os";
import process from "node:process";
import type { ConnectOptions } from "./client.ts";
import { verifyKnownHost } from "./host_keys.ts";
import { knownHostsName } from "./keys/known_hosts.ts";
import { parsePrivateKeyFile, PassphraseRequiredError } from "./keys/private_key_file.ts";
import { parsePublicKeyLine } from "./keys/public_key_file.ts";
import type { PrivateKey, PublicKey } from "./keys/types.ts";
import { readTextFileIfExists } from "./runtime/fs.ts";
import { defaultSshConfigSources, fileSystemReader } from "./config/files.ts";
import {
  expandSshConfigValue,
  type ResolvedSshConfig,
  resolveSshConfig,
} from "./config/ssh_config.ts";
import { constantTimeEqual } from "./crypto/constant_time.ts";

/**
 * An IdentityFile that cannot be used: missing or unreadable, encrypted
 * with no passphrase given, a wrong passphrase, or not a key.
 *
 * @example
 * ```ts
 * import { IdentityFileError } from "./client_config.ts";
 * const e = new IdentityFileError("/home/me/.ssh/id_ed25519", "no such file");
 * console.log(e.message); // identity file /home/me/.ssh/id_ed25519: no such file
 * ```
 */
export class IdentityFileError extends Error {
  /** The file. */
  readonly file: string;
  /** Creates the error. */
  constructor(file: string, problem: string, options: { cause?: unknown } = {}) {
    super(`identity file ${file}: ${problem}`, options);
    this.name = "IdentityFileError";
    this.file = file;
  }
}

/**
 * The local user name as ssh takes it for the default `User`: `$USER`,
 * `$LOGNAME`, else the account's name.
 *
 * @example
 * ```ts
 * import { localUser } from "./client_config.ts";
 * console.log(localUser());
 * ```
 */
export function localUser(): string {
  const env = process.env;
  if (env.USER) return env.USER;
  if (env.LOGNAME) return env.LOGNAME;
  try {
    return os.userInfo().username;
  } catch {
    return "root"; // no passwd entry (a bare container)
  }
}

const home = () => process.env.HOME || os.homedir();

/**
 * Resolves the configuration for `host` as ssh does: `true` reads
 * `~/.ssh/config` then `/etc/ssh/ssh_config`, a string only that file
 * (`"none"`: no file); `user` and `port`, when given, win over User and
 * Port (and are what `%r` and `%p` expand to).
 *
 * @example
 * ```ts
 * import { resolveConnectConfig } from "./client_config.ts";
 * const c = resolveConnectConfig("db", { config: "none", user: "me" });
 * console.log(c.hostname, c.port, c.user); // "db" 22 "me"
 * ```
 */
export function resolveConnectConfig(
  host: string,
  options: { config: true | string; user?: string; port?: number },
): ResolvedSshConfig {
  const { config, user, port } = options;
  const h = home();
  return resolveSshConfig(host, {
    sources: defaultSshConfigSources({
      home: h,
      configFile: typeof config === "string" ? config : undefined,
    }),
    reader: fileSystemReader(),
    commandLine: port !== undefined ? [`Port=${port}`] : [],
    user,
    localUser: localUser(),
    home: h,
    uid: process.getuid?.() ?? 0,
    localHostname: os.hostname(),
    env: process.env,
  });
}

/**
 * Options of {@link connectOptionsFromConfig}.
 *
 * @example
 * ```ts
 * import type { ConfigConnectOptions } from "./client_config.ts";
 * const o: ConfigConnectOptions = { passphrase: (file) => file.endsWith("id_work") ? "pw" : undefined };
 * ```
 */
export interface ConfigConnectOptions {
  /**
   * The passphrase of encrypted IdentityFiles (a function is asked per
   * file). Without one, an encrypted default identity is skipped; an
   * encrypted IdentityFile named in the configuration is an
   * {@link IdentityFileError}.
   */
  passphrase?: string | ((file: string) => string | undefined | Promise<string | undefined>);
  /** Where ProxyJump hops are resolved from (default: `~/.ssh/config` then `/etc/ssh/ssh_config`). */
  config?: true | string;
  /** Skip loading IdentityFiles (`privateKeys` were given). */
  skipIdentityFiles?: boolean;
  /**
   * Keys the caller loaded itself (the CLI, which asks for passphrases and
   * warns as ssh): used instead of the IdentityFiles. With IdentitiesOnly
   * they, the IdentityFiles' `.pub` files and the CertificateFiles are the
   * keys the agent may offer.
   */
  identityKeys?: readonly PrivateKey[];
}

/**
 * `connect()` options from a resolved configuration: host, port, username,
 * the IdentityFiles' keys (missing default files skipped), IdentitiesOnly
 * and IdentityAgent (`agent`, `agentFilter`), the host-key check
 * (UserKnownHostsFile and GlobalKnownHostsFile, HostKeyAlias,
 * HashKnownHosts; StrictHostKeyChecking `yes` and `ask` refuse an unknown
 * host, `accept-new` and `no` add it to the first UserKnownHostsFile; a
 * changed key is always refused), ProxyJump as `via` (each hop resolved
 * from the same files), ProxyCommand as `proxyCommand` (%n is the host as
 * given, %k HostKeyAlias), ForwardAgent, ServerAliveInterval/CountMax,
 * ConnectTimeout, Compression, Ciphers, KexAlgorithms, MACs and
 * HostKeyAlgorithms. IdentitiesOnly limits the agent's keys to those of
 * the IdentityFiles (their `.pub` files count for keys that were not
 * loaded) and CertificateFiles, as ssh does.
 * Rejects with {@link IdentityFileError} for an IdentityFile named in the
 * configuration that cannot be used.
 *
 * @example
 * ```ts
 * import { connectOptionsFromConfig, resolveConnectConfig } from "./client_config.ts";
 * import { connect } from "./client.ts";
 * async function run() {
 *   const o = await connectOptionsFromConfig(resolveConnectConfig("db", { config: true }));
 *   const c = await connect({ ...o, keepaliveInterval: 30 });
 *   await c.close();
 * }
 * ```
 */
export async function connectOptionsFromConfig(
  resolved: ResolvedSshConfig,
  options: ConfigConnectOptions = {},
): Promise<ConnectOptions> {
  const c = resolved;
  const keys = options.identityKeys !== undefined
    ? [...options.identityKeys]
    : options.skipIdentityFiles || !c.pubkeyAuthentication
    ? []
    : await loadIdentityFiles(c, options);
  const specs = c.algorithmSpecs;
  return {
    host: c.hostname,
    port: c.port,
    username: c.user,
    privateKeys: keys,
    agent: agentFromConfig(c),
    ...(c.identitiesOnly ? { agentFilter: identitiesOnlyFilter(c, keys) } : {}),
    hostKey: { verify: configHostKeyVerifier(c) },
    ...(c.proxyJump !== undefined ? { via: jumpHops(c.proxyJump, options) } : {}),
    ...(c.proxyCommand !== undefined
      ? {
        proxyCommand: {
          command: c.proxyCommand,
          tokens: { n: c.host, k: c.hostKeyAlias ?? c.host },
        },
      }
      : {}),
    ...(c.forwardAgent !== false ? { forwardAgent: c.forwardAgent } : {}),
    ...(c.forwardX11
      ? {
        forwardX11: {
          trusted: c.forwardX11Trusted,
          timeout: c.forwardX11Timeout,
          xauth: c.xauthLocation,
        },
      }
      : {}),
    keepaliveInterval: c.serverAliveInterval,
    keepaliveCountMax: c.serverAliveCountMax,
    ...(c.connectTimeout !== undefined ? { timeout: c.connectTimeout * 1000 } : {}),
    ...(c.compression ? { compression: ["zlib@openssh.com", "zlib", "none"] } : {}),
    ...(specs.ciphers !== undefined ? { ciphers: specs.ciphers } : {}),
    ...(specs.kexAlgorithms !== undefined ? { kexAlgorithms: specs.kexAlgorithms } : {}),
    ...(specs.macs !== undefined ? { macs: specs.macs } : {}),
    ...(specs.hostKeyAlgorithms !== undefined
      ? { hostKeyAlgorithms: specs.hostKeyAlgorithms }
      : {}),
  };
}

/**
 * What `connect()` does with `options.config`: resolves it for
 * `options.host` (with `username` and `port` as `-l` and `-p`), maps it
 * with {@link connectOptionsFromConfig}, and lets every option given win.
 *
 * @example
 * ```ts
 * import { withSshConfig } from "./client_config.ts";
 * async function show() {
 *   const o = await withSshConfig({ host: "db", config: true, port: 2200 });
 *   console.log(o.host, o.port); // HostName, 2200
 * }
 * ```
 */
export async function withSshConfig(options: ConnectOptions): Promise<ConnectOptions> {
  const { config } = options;
  if (config === undefined || config === false) return options;
  const resolved = typeof config === "object" ? config : resolveConnectConfig(
    options.host ?? "localhost",
    { config, user: options.username, port: options.port },
  );
  const fromConfig = await connectOptionsFromConfig(resolved, {
    passphrase: options.passphrase,
    config: typeof config === "object" ? true : config,
    identityKeys: options.privateKeys,
  });
  // How to reach the host is one choice: one given wins over the configuration's.
  if (options.stream ?? options.via ?? options.proxyCommand) {
    delete fromConfig.via;
    delete fromConfig.proxyCommand;
  }
  if (fromConfig.via !== undefined && options.agent !== undefined) {
    fromConfig.via = (fromConfig.via as ConnectOptions[]).map((h) => ({
      ...h,
      agent: options.agent,
    }));
  }
  // `host` is the alias: HostName replaces it.
  const given = Object.fromEntries(
    Object.entries(options).filter(([k, v]) => v !== undefined && k !== "host"),
  ) as Partial<ConnectOptions>;
  return { ...fromConfig, ...given, config: undefined };
}

/**
 * The `agent` option IdentityAgent (and PubkeyAuthentication) ask for:
 * `false` for `none` or no public-key authentication, `true` (the agent at
 * `SSH_AUTH_SOCK`) when unset or `SSH_AUTH_SOCK`, else the socket's path.
 *
 * @example
 * ```ts
 * import { agentFromConfig, resolveConnectConfig } from "./client_config.ts";
 * console.log(agentFromConfig(resolveConnectConfig("db", { config: "none" }))); // true
 * ```
 */
export function agentFromConfig(
  c: Pick<ResolvedSshConfig, "identityAgent" | "pubkeyAuthentication">,
): boolean | string {
  if (!c.pubkeyAuthentication || c.identityAgent === "none") return false;
  return c.identityAgent === undefined || c.identityAgent === "SSH_AUTH_SOCK"
    ? true
    : c.identityAgent;
}

/**
 * IdentitiesOnly (sshconnect2.c pubkey_prepare): the agent's identities
 * that are one of `keys`, of an IdentityFile's `.pub` file or of a
 * CertificateFile.
 */
function identitiesOnlyFilter(
  c: ResolvedSshConfig,
  keys: readonly PrivateKey[],
): (identity: { blob: Uint8Array }) => boolean {
  const expand = (keyword: string, f: string) =>
    expandSshConfigValue(f, { keyword, tokens: c.tokens, home: home() });
  const files = [
    ...c.identityFiles.map((f) => `${expand("IdentityFile", f)}.pub`),
    ...c.certificateFiles.map((f) => expand("CertificateFile", f)),
  ];
  const allowed = [...keys.map((k) => k.publicKey.blob), ...files.flatMap(publicKeyBlob)];
  return (id) => allowed.some((b) => constantTimeEqual(b, id.blob));
}

/** The key in a public key (or certificate) file: none when missing or not one. */
function publicKeyBlob(file: string): Uint8Array[] {
  try {
    const text = readTextFileIfExists(file);
    return text === undefined ? [] : [parsePublicKeyLine(text.trim()).key.blob];
  } catch {
    return []; // unreadable, or not a public key: nothing of the agent's matches it
  }
}

/** ProxyJump `[user@]host[:port],...` as `via` hops, each resolved from the same files without its own ProxyJump. */
function jumpHops(spec: string, options: ConfigConnectOptions): ConnectOptions[] {
  return spec.split(",").map((hop) => {
    const m = /^(?:([^@]*)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.replace(/^ssh:\/\//, ""));
    if (!m) throw new TypeError(`connect: bad ProxyJump hop "${hop}"`);
    const resolved = resolveConnectConfig(m[2].replace(/^\[|\]$/g, ""), {
      config: options.config ?? true,
      user: m[1] || undefined,
      port: m[3] ? Number(m[3]) : undefined,
    });
    return {
      host: resolved.hostname,
      port: resolved.port,
      username: resolved.user,
      config: { ...resolved, proxyJump: undefined },
      passphrase: options.passphrase,
    };
  });
}

/** The known_hosts check StrictHostKeyChecking asks for (see {@link connectOptionsFromConfig}). */
function configHostKeyVerifier(c: ResolvedSshConfig): (key: PublicKey) => Promise<boolean> {
  const host = c.hostKeyAlias ?? c.hostname;
  const port = c.hostKeyAlias !== undefined ? 22 : c.port;
  const addTo = c.userKnownHostsFiles[0];
  return async (key) => {
    const verdict = await verifyKnownHost(key, {
      host,
      port,
      files: [...c.userKnownHostsFiles, ...c.globalKnownHostsFiles],
      acceptNew: c.strictHostKeyChecking === "accept-new" || c.strictHostKeyChecking === "no",
      addTo,
      hashNew: c.hashKnownHosts,
    });
    if (verdict.status === "accepted" && verdict.error !== undefined) {
      const why = verdict.error instanceof Error ? verdict.error.message : String(verdict.error);
      throw new Error(
        `cannot add the host key of ${knownHostsName(host, port)} to ${addTo}: ${why}`,
        { cause: verdict.error },
      );
    }
    return true;
  };
}

/** Loads the IdentityFiles' keys (missing or encrypted default files skipped). */
async function loadIdentityFiles(
  c: ResolvedSshConfig,
  options: ConfigConnectOptions,
): Promise<PrivateKey[]> {
  const explicit = !c.identityFilesDefaulted;
  const keys: PrivateKey[] = [];
  for (const f of c.identityFiles) {
    const file = expandSshConfigValue(f, {
      keyword: "IdentityFile",
      tokens: c.tokens,
      home: home(),
    });
    const key = await loadIdentityFile(file, { explicit, passphrase: options.passphrase });
    if (key) keys.push(key);
  }
  return keys;
}

/** One IdentityFile's key; undefined for a skipped default (missing, or encrypted with no passphrase). */
async function loadIdentityFile(
  file: string,
  how: { explicit: boolean; passphrase: ConfigConnectOptions["passphrase"] },
): Promise<PrivateKey | undefined> {
  let text: string | undefined;
  try {
    text = readTextFileIfExists(file);
  } catch (e) {
    throw new IdentityFileError(file, `cannot read it: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) {
    if (!how.explicit) return undefined;
    throw new IdentityFileError(file, "no such file");
  }
  try {
    return (await parsePrivateKeyFile(text)).key;
  } catch (e) {
    if (!(e instanceof PassphraseRequiredError)) {
      if (!how.explicit) return undefined; // a default file that is no key: as if missing
      throw new IdentityFileError(file, (e as Error).message, { cause: e });
    }
  }
  const p = how.passphrase;
  const passphrase = typeof p === "function" ? await p(file) : p;
  if (passphrase === undefined || passphrase === "") {
    if (!how.explicit) return undefined;
    throw new IdentityFileError(file, "encrypted, and no passphrase was given");
  }
  try {
    return (await parsePrivateKeyFile(text, { passphrase })).key;
  } catch (e) {
    throw new IdentityFileError(file, (e as Error).message, { cause: e });
  }
}
