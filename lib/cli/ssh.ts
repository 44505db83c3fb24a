/**
 * `rxssh [options] [user@]host [command]`: an ssh(1)-compatible client.
 *
 * ```sh
 * rxssh [-46CNTVnqtv] [-c cipher_spec] [-F configfile] [-i identity_file]... [-l login_name]
 *       [-m mac_spec] [-o Option=value]... [-p port] destination [command [argument ...]]
 * ```
 *
 * `destination` is `[user@]host` or `ssh://[user@]host[:port]`. Options may
 * also follow the destination, as with ssh. Configuration is read as
 * OpenSSH reads it (see `lib/config/ssh_config.ts`): `~/.ssh/config` then
 * `/etc/ssh/ssh_config`, or only the `-F` file (`-F none`: none); the first
 * value obtained wins, command-line options first. `-G` prints the resolved
 * configuration, as `ssh -G` does, and exits.
 *
 * Options (`-o` or a configuration file): `StrictHostKeyChecking` (yes, accept-new, no
 * or off, ask — the default; ask is treated as yes without a terminal or
 * with BatchMode), `UserKnownHostsFile` (default `~/.ssh/known_hosts
 * ~/.ssh/known_hosts2`), `GlobalKnownHostsFile`, `HashKnownHosts`,
 * `HostKeyAlias`, `BatchMode`, `LogLevel`, `ConnectTimeout`, `IdentityFile`
 * (default `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa` when present;
 * encrypted keys ask for their passphrase unless BatchMode), `Port`,
 * `User`, `HostName`, `Ciphers`, `KexAlgorithms`, `MACs`,
 * `HostKeyAlgorithms`, `ServerAliveInterval`, `ServerAliveCountMax`,
 * `PasswordAuthentication`, `PubkeyAuthentication`,
 * `KbdInteractiveAuthentication`, `NumberOfPasswordPrompts`, `RequestTTY`,
 * `SendEnv`, `SetEnv`. A changed host key is always refused, whatever
 * StrictHostKeyChecking says.
 *
 * Passwords and passphrases are read from `/dev/tty` without echo, or from
 * the program in `SSH_ASKPASS` (always with `SSH_ASKPASS_REQUIRE=force`,
 * otherwise when there is no terminal; never with
 * `SSH_ASKPASS_REQUIRE=never`); BatchMode never asks.
 *
 * Standard input goes to the remote command (`-n`: none); its standard
 * output and error go to ours; the exit code is the remote command's, 255
 * on connection, host key or authentication errors (and when the command
 * was killed by a signal), as with ssh. `-t` asks for a pty when standard
 * input is a terminal, `-tt` always; without a command a shell starts, with
 * a pty when standard input is a terminal. With a pty the local terminal is
 * put in raw mode and SIGWINCH sends window-change.
 *
 * Forwarding as ssh: `-L`, `-R`, `-D` (and LocalForward, RemoteForward,
 * DynamicForward; `-L` and `-R` with Unix-socket paths on either side,
 * `-D` TCP only), `-W host:port`, `-N`, `-J` / ProxyJump (each
 * hop with its own configuration and host-key check), ProxyCommand (`%h
 * %p %r %n %k`; `ProxyCommand rxssh -W %h:%p bastion` works), `-C` /
 * Compression, ExitOnForwardFailure.
 *
 * X11 forwarding as ssh: `-X` (ForwardX11), `-Y` (and ForwardX11Trusted),
 * `-x` (off); untrusted unless ForwardX11Trusted (a cookie from
 * `xauth generate ... untrusted`, XAuthLocation), channels refused after
 * ForwardX11Timeout; a refusal prints "X11 forwarding request failed on
 * channel N" and the session goes on.
 *
 * The agent at `SSH_AUTH_SOCK` (or IdentityAgent; `none`: none) is used
 * for public-key authentication after the identity files, as ssh does;
 * with IdentitiesOnly only its keys that are IdentityFiles (or their
 * `.pub`) or CertificateFiles.
 *
 * Read (and printed by `-G`) but not acted on yet: certificates. Not supported:
 * multiplexing (-M, -S), escape
 * characters.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import process from "node:process";
import { AuthenticationError } from "../auth/client.ts";
import { defaultSshConfigSources, fileSystemReader } from "../config/files.ts";
import { connectOptionsFromConfig } from "../client_config.ts";
import { startForwards, stdioForward } from "./forwards.ts";
import { forwardX11ForConnection } from "../x11/connection.ts";
import { keepalive } from "../connection/keepalive.ts";
import {
  expandSshConfigValue,
  formatSshConfig,
  type ForwardSpec,
  parseForward,
  type ResolvedSshConfig,
  resolveSshConfig,
  SshConfigError,
} from "../config/ssh_config.ts";
import { connect, type ConnectOptions, type SshClient } from "../client.ts";
import type { PtyRequest, Session } from "../connection/session.ts";
import { HostKeyError, verifyKnownHost } from "../host_keys.ts";
import { findHostEntries, knownHostsName, parseKnownHosts } from "../keys/known_hosts.ts";
import { signatureAlgorithmsForKeyType } from "../keys/host_key_algorithms.ts";
import { matchPatternList } from "../keys/patterns.ts";
import {
  parsePrivateKeyFile,
  PassphraseRequiredError,
  WrongPassphraseError,
} from "../keys/private_key_file.ts";
import type { PrivateKey, PublicKey } from "../keys/types.ts";
import { ProxyCommandError } from "../proxy_command.ts";
import { readTextFileIfExists } from "../runtime/fs.ts";
import { DisconnectError } from "../wire/errors.ts";
import {
  homeDirectory,
  localUserName,
  Logger,
  type LogLevel,
  OptionError,
  parseLogLevel,
} from "./options.ts";

/**
 * The usage text of the `rxssh` client.
 *
 * @example
 * ```ts
 * import { SSH_USAGE } from "./ssh.ts";
 * console.error(SSH_USAGE);
 * ```
 */
export const SSH_USAGE =
  `usage: rxssh [-46ACGNTVXYanqtvx] [-c cipher_spec] [-D port] [-F configfile] [-i identity_file]
             [-J destination] [-L address] [-R address] [-W host:port]
             [-l login_name] [-m mac_spec] [-o option] [-p port]
             destination [command [argument ...]]
       rxssh serve [-p port] [-h host_key_file]... [-o Option=value]... [-D]
       rxssh probe [-p port] [-o Option=value]... host
       rxssh -Q kex|cipher|mac|key|table`;

/**
 * The parsed command line of the client.
 *
 * @example
 * ```ts
 * import { parseSshArgs } from "./ssh.ts";
 * const a = parseSshArgs(["-p", "2222", "alice@example.com", "uname", "-a"]);
 * console.log(a.host, a.user, a.directives, a.command); // "example.com" "alice" ["Port=2222"] "uname -a"
 * ```
 */
export interface SshArgs {
  /** The host as given (before HostName). */
  host: string;
  /** The user from `user@host` or `-l` (undefined: User option, else the local user). */
  user?: string;
  /** The remote command, its words joined with spaces (undefined: a shell). */
  command?: string;
  /**
   * `-o` arguments and the `-p`, `-i`, `-c`, `-m` values (as `Port=`,
   * `IdentityFile=`, `Ciphers=`, `MACs=`), in command-line order: they are
   * read before the configuration files, so they win.
   */
  directives: string[];
  /** Number of `-t` flags. */
  tty: number;
  /** `-T` was given. */
  noTty: boolean;
  /** `-n`: standard input from /dev/null. */
  stdinNull: boolean;
  /** `-N`: no command. */
  noCommand: boolean;
  /** Net effect of `-v` (positive) and `-q` (QUIET). */
  verbosity: number;
  /** `-q` was given. */
  quiet: boolean;
  /** `-F` files (ssh uses the last one). */
  configFiles: string[];
  /** `-G`: print the resolved configuration and exit. */
  printConfig: boolean;
  /** `-L` forwards, in order (before the configuration's LocalForward). */
  localForwards: ForwardSpec[];
  /** `-R` forwards. */
  remoteForwards: ForwardSpec[];
  /** `-D` forwards. */
  dynamicForwards: ForwardSpec[];
  /** `-W host:port`: standard input and output to that destination instead of a session. */
  stdioForward?: { host: string; port: number };
}

const WITH_ARG = new Set(["c", "D", "F", "i", "J", "L", "l", "m", "o", "p", "R", "W"]);
const NO_ARG = new Set([..."46AaCGNTnqtvXYx"]);
const UNSUPPORTED = new Set([..."BEIMObeKkgfswPQS1"]);

/**
 * Parses the client's arguments (getopt-style: `-tt`, `-p2222`, options
 * after the destination). Throws {@link OptionError} on bad arguments.
 *
 * @example
 * ```ts
 * import { parseSshArgs } from "./ssh.ts";
 * const a = parseSshArgs(["-tt", "-o", "BatchMode=yes", "host"]);
 * console.log(a.tty, a.directives, a.command); // 2 ["BatchMode=yes"] undefined
 * ```
 */
export function parseSshArgs(args: readonly string[]): SshArgs {
  const directives: string[] = [];
  const r: Omit<SshArgs, "host"> & { host?: string } = {
    directives,
    tty: 0,
    noTty: false,
    stdinNull: false,
    noCommand: false,
    verbosity: 0,
    quiet: false,
    configFiles: [],
    printConfig: false,
    localForwards: [],
    remoteForwards: [],
    dynamicForwards: [],
  };
  let i = 0;
  const setDestination = (d: string) => {
    const { host, user, port } = splitDestination(d);
    if (port) directives.push(`Port=${port}`);
    r.host = host;
    if (user) r.user ??= user;
  };
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      i++;
      if (r.host === undefined) {
        if (i >= args.length) break;
        setDestination(args[i++]);
      }
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      if (r.host !== undefined) break; // the command
      setDestination(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const f = a[j];
      if (WITH_ARG.has(f)) {
        let v = a.slice(j + 1);
        if (v === "") {
          if (++i >= args.length) throw new OptionError(`option requires an argument -- ${f}`);
          v = args[i];
        }
        setValueFlag(r, { flag: f, value: v });
        break;
      }
      if (NO_ARG.has(f)) {
        setFlag(r, f);
        continue;
      }
      if (UNSUPPORTED.has(f)) throw new OptionError(`-${f} is not supported by rxssh`);
      throw new OptionError(`unknown option -- ${f}\n${SSH_USAGE}`);
    }
  }
  if (r.host === undefined) throw new OptionError(SSH_USAGE);
  if (i < args.length) r.command = args.slice(i).join(" ");
  return r as SshArgs;
}

/** `[user@]host` or `ssh://[user@]host[:port]`; throws OptionError without a host. */
function splitDestination(d: string): { host: string; user?: string; port?: string } {
  const url = /^ssh:\/\/(?:([^@/]*)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(d);
  let host = d;
  let user: string | undefined;
  let port: string | undefined;
  if (url) {
    user = url[1];
    host = url[2].replace(/^\[|\]$/g, "");
    port = url[3];
  } else {
    const at = d.lastIndexOf("@");
    if (at >= 0) {
      user = d.slice(0, at);
      host = d.slice(at + 1);
    }
  }
  if (!host) throw new OptionError(`bad destination ${JSON.stringify(d)}`);
  return { host, user, port };
}

/** A flag that takes a value (WITH_ARG): a directive, a -F file or the -l user. */
function setValueFlag(r: Omit<SshArgs, "host">, given: { flag: string; value: string }): void {
  const { directives } = r;
  const v = given.value;
  switch (given.flag) {
    case "c":
      directives.push(`Ciphers=${v}`);
      break;
    case "F":
      r.configFiles.push(v);
      break;
    case "i":
      directives.push(`IdentityFile=${v}`);
      break;
    case "l":
      r.user ??= v;
      break;
    case "m":
      directives.push(`MACs=${v}`);
      break;
    case "o":
      directives.push(v);
      break;
    case "p":
      directives.push(`Port=${v}`);
      break;
    case "J":
      directives.push(`ProxyJump=${v}`);
      break;
    case "L":
    case "R":
    case "D":
      addForward(r, { flag: given.flag, spec: v });
      break;
    case "W": {
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
      if (!m) throw new OptionError(`Bad stdio forwarding specification '${v}'`);
      r.stdioForward = { host: m[1] ?? m[2], port: Number(m[3]) };
      r.noCommand = true;
      break;
    }
  }
}

/** -L, -R, -D as ssh.c reads them (readconf.c parse_forward); ssh's message when bad. */
function addForward(r: Omit<SshArgs, "host">, given: { flag: string; spec: string }): void {
  const remote = given.flag === "R";
  const dynamic = given.flag === "D";
  const f = parseForward(given.spec, { dynamic, remote });
  const kind = remote ? "remote" : dynamic ? "dynamic" : "local";
  if (!f) throw new OptionError(`Bad ${kind} forwarding specification '${given.spec}'`);
  if (remote && f.connectHost === undefined) {
    throw new OptionError("remote dynamic (SOCKS) forwarding is not supported by rxssh");
  }
  (remote ? r.remoteForwards : dynamic ? r.dynamicForwards : r.localForwards).push(f);
}

/** A flag without a value (NO_ARG; -4 and -6 are accepted and ignored). */
function setFlag(r: Omit<SshArgs, "host">, f: string): void {
  if (f === "t") r.tty++;
  else if (f === "T") r.noTty = true;
  else if (f === "n") r.stdinNull = true;
  else if (f === "N") r.noCommand = true;
  else if (f === "v") r.verbosity++;
  else if (f === "q") r.quiet = true;
  else if (f === "G") r.printConfig = true;
  // ssh sets these outright (the last flag wins, over -o too): first in line, as first wins.
  else if (f === "C") r.directives.unshift("Compression=yes");
  else if (f === "A") r.directives.unshift("ForwardAgent=yes");
  else if (f === "a") r.directives.unshift("ForwardAgent=no");
  else if (f === "X") r.directives.unshift("ForwardX11=yes");
  else if (f === "Y") r.directives.unshift("ForwardX11=yes", "ForwardX11Trusted=yes");
  else if (f === "x") r.directives.unshift("ForwardX11=no");
}

// ---------------------------------------------------------------------------
// Prompts: /dev/tty without echo, or SSH_ASKPASS.

function ttyAvailable(): boolean {
  try {
    fs.closeSync(fs.openSync("/dev/tty", "r+"));
    return true;
  } catch {
    return false;
  }
}

function askpassProgram(): string | undefined {
  const p = process.env.SSH_ASKPASS;
  return p && process.env.SSH_ASKPASS_REQUIRE !== "never" ? p : undefined;
}

/** How a secret would be asked for, or undefined when it cannot be. */
function promptMethod(): "askpass" | "tty" | undefined {
  const askpass = askpassProgram();
  if (askpass && process.env.SSH_ASKPASS_REQUIRE === "force") return "askpass";
  if (ttyAvailable()) return "tty";
  return askpass ? "askpass" : undefined;
}

function runAskpass(prompt: string, confirm = false): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(askpassProgram()!, [prompt], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...(confirm ? { SSH_ASKPASS_PROMPT: "confirm" } : {}) },
    });
    const chunks: Uint8Array[] = [];
    child.stdout!.on("data", (c: Uint8Array) => chunks.push(c));
    child.once("error", () => resolve(undefined));
    child.once("close", (code) => {
      if (code !== 0) return resolve(undefined);
      const text = new TextDecoder().decode(
        new Uint8Array(chunks.flatMap((c) => [...c])),
      );
      resolve(text.replace(/\r?\n$/, ""));
    });
  });
}

interface DenoTtyFile {
  readSync(p: Uint8Array): number | null;
  writeSync(p: Uint8Array): number;
  setRaw(mode: boolean): void;
  close(): void;
}

/**
 * Deno: raw mode on /dev/tty itself (stty(1) run from Deno would sit in
 * another process group and be stopped by SIGTTOU). Handles Enter, erase,
 * kill-line, ^C and ^D, as readpassphrase(3) does.
 */
function readTtyLineDeno(prompt: string): string | undefined {
  const open = (globalThis as {
    Deno?: { openSync(path: string, o: { read: boolean; write: boolean }): DenoTtyFile };
  }).Deno!.openSync;
  let f: DenoTtyFile;
  try {
    f = open("/dev/tty", { read: true, write: true });
  } catch {
    return undefined;
  }
  const out = (t: string) => f.writeSync(new TextEncoder().encode(t));
  try {
    out(prompt);
    f.setRaw(true);
    const bytes: number[] = [];
    const buf = new Uint8Array(64);
    for (;;) {
      const n = f.readSync(buf);
      if (n === null || n === 0) {
        return bytes.length ? new TextDecoder().decode(new Uint8Array(bytes)) : undefined;
      }
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
        if (b === 0x03) return undefined; // ^C
        if (b === 0x04 && bytes.length === 0) return undefined; // ^D
        if (b === 0x7f || b === 0x08) bytes.pop();
        else if (b === 0x15) bytes.length = 0; // ^U
        else bytes.push(b);
      }
    }
  } finally {
    try {
      f.setRaw(false);
    } catch {
      // not a terminal
    }
    out("\r\n");
    f.close();
  }
}

function readTtyLine(prompt: string, echo: boolean): string | undefined {
  if (!echo && "Deno" in globalThis) return readTtyLineDeno(prompt);
  let fd: number;
  try {
    fd = fs.openSync("/dev/tty", "r+");
  } catch {
    return undefined;
  }
  const stty = (arg: string) =>
    spawnSync("sh", ["-c", `stty ${arg} < /dev/tty`], { timeout: 5000 });
  try {
    fs.writeSync(fd, prompt);
    if (!echo) stty("-echo");
    const bytes: number[] = [];
    const buf = new Uint8Array(1);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, 1, null);
      } catch {
        return undefined;
      }
      if (n === 0) {
        if (bytes.length === 0) return undefined;
        break;
      }
      if (buf[0] === 0x0a || buf[0] === 0x0d) break;
      bytes.push(buf[0]);
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  } finally {
    if (!echo) {
      stty("echo");
      fs.writeSync(fd, "\n");
    }
    fs.closeSync(fd);
  }
}

/** Asks for a secret (or, with `echo`, an answer); undefined when it cannot or the user cancels. */
async function ask(prompt: string, echo = false): Promise<string | undefined> {
  const how = promptMethod();
  if (how === "askpass") return await runAskpass(prompt, echo);
  if (how === "tty") return readTtyLine(prompt, echo);
  return undefined;
}

// ---------------------------------------------------------------------------
// Host keys.

const KEY_LABEL: Record<string, string> = {
  "ssh-ed25519": "ED25519",
  "ecdsa-sha2-nistp256": "ECDSA",
  "ecdsa-sha2-nistp384": "ECDSA",
  "ecdsa-sha2-nistp521": "ECDSA",
  "ssh-rsa": "RSA",
};
const label = (type: string) => KEY_LABEL[type] ?? type;

/** Key types already known for the host, to prefer them in HostKeyAlgorithms (as ssh does). */
function knownKeyTypes(files: string[], at: { host: string; port: number }): string[] {
  const types = new Set<string>();
  for (const file of files) {
    let text: string | undefined;
    try {
      text = readTextFileIfExists(file);
    } catch {
      continue;
    }
    if (text === undefined) continue;
    for (const e of findHostEntries(parseKnownHosts(text).entries, at)) {
      if (e.marker === undefined) types.add(e.keyType);
    }
  }
  return [...types];
}

/** ssh's messages for a refused host key (sshconnect.c), before "Host key verification failed.". */
function hostKeyRefusal(e: HostKeyError, addTo: string | undefined): string[] {
  const kl = label(e.keyType);
  if (e.kind === "revoked") {
    return [
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "@       WARNING: REVOKED HOST KEY DETECTED!               @",
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      `The ${kl} host key for ${e.host} is marked as revoked.`,
      "This could mean that a stolen key is being used to",
      "impersonate this host.",
    ];
  }
  if (e.kind === "changed") {
    return [
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
      "Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
      "It is also possible that a host key has just been changed.",
      `The fingerprint for the ${kl} key sent by the remote host is`,
      `${e.fingerprint}.`,
      "Please contact your system administrator.",
      `Add correct host key in ${addTo ?? e.file} to get rid of this message.`,
      `Offending ${label(e.knownKeyType ?? "")} key in ${e.file}:${e.line}`,
      `Host key for ${e.host} has changed and you have requested strict checking.`,
    ];
  }
  return [
    `No ${kl} host key is known for ${e.host} and you have requested strict checking.`,
  ];
}

type StrictMode = ResolvedSshConfig["strictHostKeyChecking"];

// ---------------------------------------------------------------------------
// Identities.

async function loadIdentities(
  files: { path: string; explicit: boolean }[],
  how: { batch: boolean; log: Logger },
): Promise<PrivateKey[]> {
  const { batch, log } = how;
  const keys: PrivateKey[] = [];
  for (const { path: file, explicit } of files) {
    let data: Uint8Array;
    try {
      data = fs.readFileSync(file);
    } catch (e) {
      if (explicit) {
        log.error(
          `Warning: Identity file ${file} not accessible: ${
            (e as { code?: string }).code === "ENOENT"
              ? "No such file or directory"
              : String((e as Error).message)
          }.`,
        );
      }
      continue;
    }
    const mode = fs.statSync(file).mode;
    if ((mode & 0o077) !== 0 && process.getuid?.() !== 0) {
      log.error(
        `WARNING: UNPROTECTED PRIVATE KEY FILE! Permissions 0${
          (mode & 0o777).toString(8)
        } for '${file}' are too open; this private key will be ignored.`,
      );
      continue;
    }
    try {
      keys.push((await parsePrivateKeyFile(data)).key);
      log.debug(`identity file ${file} loaded`);
      continue;
    } catch (e) {
      if (!(e instanceof PassphraseRequiredError)) {
        log.error(`Load key "${file}": ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
    }
    if (batch) {
      log.debug(`identity file ${file} is encrypted; BatchMode: not asking for its passphrase`);
      continue;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const passphrase = await ask(`Enter passphrase for key '${file}': `);
      if (passphrase === undefined || passphrase === "") break;
      try {
        keys.push((await parsePrivateKeyFile(data, { passphrase })).key);
        break;
      } catch (e) {
        if (e instanceof WrongPassphraseError) {
          log.error(`Bad passphrase, try again for ${file}`);
          continue;
        }
        log.error(`Load key "${file}": ${e instanceof Error ? e.message : String(e)}`);
        break;
      }
    }
  }
  return keys;
}

// ---------------------------------------------------------------------------
// Local terminal and standard streams.

interface DenoLike {
  stdin: {
    readable: ReadableStream<Uint8Array>;
    isTerminal(): boolean;
    setRaw(mode: boolean): void;
  };
  stdout: { writable: WritableStream<Uint8Array>; isTerminal(): boolean };
  stderr: { writable: WritableStream<Uint8Array> };
  consoleSize(): { columns: number; rows: number };
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
}

const deno = (globalThis as { Deno?: DenoLike }).Deno;

function stdinIsTty(): boolean {
  return deno ? deno.stdin.isTerminal() : Boolean(process.stdin.isTTY);
}

function terminalSize(): { cols: number; rows: number } {
  try {
    if (deno) {
      const s = deno.consoleSize();
      return { cols: s.columns, rows: s.rows };
    }
    if (process.stdout.columns) {
      return { cols: process.stdout.columns, rows: process.stdout.rows };
    }
  } catch {
    // not a terminal
  }
  return { cols: 80, rows: 24 };
}

function setRaw(on: boolean): void {
  try {
    if (deno) deno.stdin.setRaw(on);
    else process.stdin.setRawMode?.(on);
  } catch {
    // not a terminal
  }
}

function onWindowChange(handler: () => void): () => void {
  try {
    if (deno) {
      deno.addSignalListener("SIGWINCH", handler);
      return () => deno.removeSignalListener("SIGWINCH", handler);
    }
    process.on("SIGWINCH", handler);
    return () => process.off("SIGWINCH", handler);
  } catch {
    return () => {}; // no SIGWINCH on this platform
  }
}

function stdinStream(): ReadableStream<Uint8Array> {
  if (deno) return deno.stdin.readable;
  const s = process.stdin;
  return new ReadableStream<Uint8Array>({
    start(c) {
      s.on("data", (chunk: Uint8Array) => {
        c.enqueue(new Uint8Array(chunk));
        if ((c.desiredSize ?? 1) <= 0) s.pause();
      });
      s.on("end", () => c.close());
      s.on("error", (e: Error) => c.error(e));
    },
    pull() {
      s.resume();
    },
    cancel() {
      s.pause();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
}

function outputStream(which: "stdout" | "stderr"): WritableStream<Uint8Array> {
  if (deno) return deno[which].writable;
  const s = process[which];
  return new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise<void>((resolve, reject) => s.write(chunk, (e) => (e ? reject(e) : resolve()))),
  });
}

// ---------------------------------------------------------------------------

function describeConnectError(e: unknown): string {
  const err = e as { code?: string; message?: string; name?: string };
  const msg = String(err?.message ?? e);
  if (err?.code === "ECONNREFUSED" || /refused/i.test(msg)) return "Connection refused";
  if (err?.name === "TimeoutError" || /timed? ?out/i.test(msg)) return "Connection timed out";
  if (err?.code === "ENOTFOUND" || /not known|ENOTFOUND|lookup|resolve/i.test(msg)) {
    return "Name or service not known";
  }
  return msg;
}

/**
 * Runs the client with `args` (the command line without the program name)
 * and returns the exit code: the remote command's, or 255 on errors.
 *
 * @example
 * ```ts
 * import { sshMain } from "./ssh.ts";
 * async function run() {
 *   const code = await sshMain(["-p", "2222", "-o", "BatchMode=yes", "me@127.0.0.1", "true"]);
 *   console.log(code);
 * }
 * ```
 */
export async function sshMain(args: readonly string[]): Promise<number> {
  const errLine = (s: string) => process.stderr.write(s + "\n");
  const connected = await connectRun(args, errLine);
  if (typeof connected === "number") return connected;
  const { r, client } = connected;
  const alive = startKeepalive(client, r);
  const forwards = await startForwards(client, {
    plan: {
      local: [...r.args.localForwards, ...r.c.localForwards],
      remote: [...r.args.remoteForwards, ...r.c.remoteForwards],
      dynamic: [...r.args.dynamicForwards, ...r.c.dynamicForwards],
      exitOnFailure: r.c.exitOnForwardFailure,
    },
    log: r.log,
  });
  try {
    if (!forwards.ok) return 255;
    if (r.args.stdioForward) {
      return await stdioForward(client, { target: r.args.stdioForward, log: r.log });
    }
    if (r.args.noCommand) {
      await client.transport.closed;
      return alive.timedOut ? 255 : 0;
    }
    startX11(client, r);
    return await runSession(client, r) ?? 255;
  } finally {
    forwards.stop();
    alive.stop();
    await client.close().catch(() => {});
    if (alive.timedOut) process.exitCode = 255;
  }
}

/**
 * Reads the settings, connects (jumps first) and authenticates, as the
 * client does before it starts anything; on failure prints ssh's message
 * and returns the exit code (0 after -G, else 255).
 */
async function connectRun(
  args: readonly string[],
  errLine: (s: string) => void,
): Promise<{ r: Run; client: SshClient } | number> {
  let settings: Settings;
  try {
    const read = readSettings(args);
    if (read === "printed") return 0;
    settings = read;
  } catch (e) {
    errLine(`rxssh: ${e instanceof Error ? e.message : String(e)}`);
    return 255;
  }
  const r = resolveRun(settings, errLine);
  const via = await connectJumps(r);
  if (typeof via === "number") return via;
  const keys = r.c.pubkeyAuthentication ? await loadIdentities(r.identityFiles, r) : [];
  const client = await connectClient(r, { keys, via });
  if (typeof client === "number") return client;
  const k = await client.transport.ready;
  r.log.debug(
    `kex: ${k.algorithms.kex}, host key ${k.algorithms.hostKey}, cipher ${k.algorithms.cipherClientToServer}, MAC ${k.algorithms.macClientToServer}`,
  );
  r.log.debug(`Authenticated to ${r.hostname} ([${r.hostname}]:${r.port}).`);
  return { r, client };
}

/**
 * A connection made exactly as `rxssh` makes one ({@link connectAsSsh}),
 * for the commands built on it (`rxssh sftp`, `rxssh scp`).
 *
 * @example
 * ```ts
 * import type { SshConnection } from "./ssh.ts";
 * const done = (c: SshConnection) => c.close();
 * ```
 */
export interface SshConnection {
  /** The authenticated client. */
  client: SshClient;
  /** The log at the level -v, -q and LogLevel give (to standard error). */
  log: Logger;
  /** The host as given on the command line. */
  host: string;
  /** Stops the keepalive and closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects as `rxssh sshArgs...` would (configuration files, `-F`, `-o`,
 * `-i`, `-J`, `-p`, known_hosts, prompts, the agent, keepalives) and
 * returns the authenticated connection without starting a session; on
 * failure prints ssh's messages through `errLine` (default: standard
 * error) and returns the exit code (255; 0 after `-G`). `sshArgs` is an
 * ssh command line without a command, e.g. `["-p", "2222", "host"]`.
 *
 * @example
 * ```ts
 * import { connectAsSsh } from "./ssh.ts";
 * async function run() {
 *   const c = await connectAsSsh(["-o", "BatchMode=yes", "me@127.0.0.1"]);
 *   if (typeof c === "number") return c;
 *   await c.close();
 *   return 0;
 * }
 * ```
 */
export async function connectAsSsh(
  sshArgs: readonly string[],
  errLine: (s: string) => void = (s) => process.stderr.write(s + "\n"),
): Promise<SshConnection | number> {
  const connected = await connectRun(sshArgs, errLine);
  if (typeof connected === "number") return connected;
  const { r, client } = connected;
  const alive = startKeepalive(client, r);
  return {
    client,
    log: r.log,
    host: r.args.host,
    close: async () => {
      alive.stop();
      await client.close().catch(() => {});
    },
  };
}

/**
 * ForwardX11 (-X, -Y) for the session about to start, as ssh's
 * ssh_session2_setup: XAuthLocation must exist ("No xauth program."
 * otherwise), and ssh's messages go to the log.
 */
function startX11(client: SshClient, r: Run): void {
  const { c, log } = r;
  if (!c.forwardX11) return;
  const xauth = fs.existsSync(c.xauthLocation) ? c.xauthLocation : false;
  if (!xauth) log.debug("No xauth program.");
  forwardX11ForConnection(client, {
    trusted: c.forwardX11Trusted,
    timeout: c.forwardX11Timeout,
    xauth,
    onLog: (level, message) =>
      log.log(
        level === "error"
          ? "ERROR"
          : level === "info"
          ? "INFO"
          : level === "verbose"
          ? "VERBOSE"
          : "DEBUG1",
        message,
      ),
  });
}

/** The command line, the configuration it resolves to, and the identity files. */
interface Settings {
  args: SshArgs;
  c: ResolvedSshConfig;
  identityFiles: { path: string; explicit: boolean }[];
}

/** Everything one run needs: the settings, the log, the destination and the known_hosts files. */
interface Run extends Settings {
  log: Logger;
  /** BatchMode: never ask. */
  batch: boolean;
  strict: StrictMode;
  hostname: string;
  port: number;
  user: string;
  /** The name and port known_hosts lines are looked up and written under (HostKeyAlias). */
  keyHost: string;
  keyPort: number;
  /** `keyHost` as known_hosts writes it (`[host]:port` for another port). */
  displayName: string;
  userFiles: string[];
  knownFiles: string[];
  /** Questions can be asked (a terminal or askpass, and no BatchMode). */
  canPrompt: boolean;
  /** A host key was refused (its messages are printed already). */
  hostKeyFailure: boolean;
}

/**
 * Parses `args` and resolves the configuration as ssh does; with -G prints
 * it and returns "printed". Throws OptionError (or a file's error) on bad input.
 */
function readSettings(args: readonly string[]): Settings | "printed" {
  const home = homeDirectory();
  const a = parseSshArgs(args);
  const c = resolveSshConfig(a.host, {
    sources: defaultSshConfigSources({ home, configFile: a.configFiles.at(-1) }),
    reader: fileSystemReader(),
    commandLine: a.directives,
    user: a.user,
    localUser: localUserName(),
    home,
    uid: process.getuid?.() ?? 0,
    localHostname: os.hostname(),
    env: process.env,
  });
  if (a.printConfig) {
    process.stdout.write(formatSshConfig(c));
    return "printed";
  }
  const identityFiles = c.identityFiles.map((f) => ({
    path: expandSshConfigValue(f, { keyword: "IdentityFile", tokens: c.tokens, home }),
    explicit: !c.identityFilesDefaulted,
  }));
  return { args: a, c, identityFiles };
}

/** The log level (-v, -q, LogLevel), the destination and the known_hosts files. */
function resolveRun(s: Settings, errLine: (s: string) => void): Run {
  const { args: a, c } = s;
  let level: LogLevel = parseLogLevel(c.logLevel);
  if (a.quiet) level = "QUIET";
  else if (a.verbosity > 0 && !c.logLevelSet) {
    level = (["DEBUG1", "DEBUG2", "DEBUG3"] as const)[Math.min(a.verbosity, 3) - 1];
  }
  const keyHost = c.hostKeyAlias ?? c.hostname;
  const keyPort = c.hostKeyAlias !== undefined ? 22 : c.port;
  return {
    ...s,
    log: new Logger(level, errLine),
    batch: c.batchMode,
    strict: c.strictHostKeyChecking,
    hostname: c.hostname,
    port: c.port,
    user: c.user,
    keyHost,
    keyPort,
    displayName: knownHostsName(keyHost, keyPort),
    userFiles: c.userKnownHostsFiles,
    knownFiles: [...c.userKnownHostsFiles, ...c.globalKnownHostsFiles],
    canPrompt: !c.batchMode && promptMethod() !== undefined,
    hostKeyFailure: false,
  };
}

/**
 * ProxyJump (`-J`): each hop connected over the one before, with its own
 * configuration (as ssh runs `ssh -W` per hop, with the same -F), host-key
 * check and identities. Resolves with the last hop, undefined without
 * jumps, or 255 after printing why a hop failed.
 */
async function connectJumps(r: Run): Promise<SshClient | number | undefined> {
  if (r.c.proxyJump === undefined) return undefined;
  let via: SshClient | undefined;
  for (const hop of r.c.proxyJump.split(",")) {
    const m = /^(?:([^@]*)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.replace(/^ssh:\/\//, ""));
    if (!m) {
      r.log.error(`rxssh: bad jump host "${hop}"`);
      return 255;
    }
    const hopArgs = [
      ...r.args.configFiles.flatMap((f) => ["-F", f]),
      ...(m[1] ? ["-l", m[1]] : []),
      ...(m[3] ? ["-p", m[3]] : []),
      ...(r.args.quiet ? ["-q"] : []),
      m[2].replace(/^\[|\]$/g, ""),
    ];
    const settings = readSettings(hopArgs);
    if (settings === "printed") return 0;
    const hopRun = resolveRun(
      { ...settings, c: { ...settings.c, proxyJump: undefined } },
      (l) => r.log.error(l),
    );
    const keys = hopRun.c.pubkeyAuthentication
      ? await loadIdentities(hopRun.identityFiles, hopRun)
      : [];
    const client = await connectClient(hopRun, { keys, via });
    if (typeof client === "number") return client;
    via = client;
  }
  return via;
}

/**
 * Connects and authenticates; on failure prints ssh's message and returns
 * the exit code (255).
 */
async function connectClient(
  r: Run,
  on: { keys: PrivateKey[]; via?: SshClient },
): Promise<SshClient | number> {
  const { keys, via } = on;
  const { c, log, hostname, port } = r;
  try {
    // The library's mapping, with the CLI's own hops (connectJumps), keys
    // (loadIdentities), prompts, host-key check and keepalive (startKeepalive).
    const fromConfig = await connectOptionsFromConfig({ ...c, proxyJump: undefined }, {
      identityKeys: keys,
    });
    log.debug(
      c.proxyCommand !== undefined
        ? `Executing proxy command: exec ${c.proxyCommand}`
        : `Connecting to ${hostname} port ${port}.`,
    );
    return await connect({
      ...fromConfig,
      ...promptedAuth(r),
      hostKey: { verify: hostKeyVerifier(r) },
      hostKeyAlgorithms: preferredHostKeyAlgorithms(r),
      onBanner: (m) => log.info(m.replace(/\n$/, "")),
      keepaliveInterval: 0,
      forwardX11: undefined, // startX11, once a session runs
      ...(via ? { via, proxyCommand: undefined } : {}),
    });
  } catch (e) {
    if (r.hostKeyFailure) return 255;
    if (e instanceof ProxyCommandError) {
      // What ssh prints when the proxy closes before the server's identification.
      log.debug(e.message);
      log.error("kex_exchange_identification: Connection closed by remote host");
      log.error("Connection closed by UNKNOWN port 65535");
    } else if (e instanceof AuthenticationError) {
      log.error(`${r.user}@${hostname}: Permission denied (${e.allowed.join(",")}).`);
    } else if (e instanceof DisconnectError) {
      log.error(`rxssh: ${hostname} port ${port}: ${e.message}`);
    } else if (e instanceof OptionError || e instanceof SshConfigError) {
      log.error(`rxssh: ${e.message}`);
    } else {
      log.error(`rxssh: connect to host ${hostname} port ${port}: ${describeConnectError(e)}`);
    }
    return 255;
  }
}

/**
 * Checks the server's host key against the known_hosts files (accepting
 * or asking about a new one as StrictHostKeyChecking says) and prints what
 * ssh prints; a refusal sets `r.hostKeyFailure`.
 */
function hostKeyVerifier(
  r: Run,
): (key: PublicKey, info: { fingerprint: string }) => Promise<boolean> {
  const { log } = r;
  const addTo = r.userFiles[0];
  return async (key, info) => {
    const kl = label(key.type);
    /** What to print when an unknown host's key is not accepted (undefined: ssh's strict-checking line). */
    let declined: string[] | undefined;
    let verdict;
    try {
      verdict = await verifyKnownHost(key, {
        host: r.keyHost,
        port: r.keyPort,
        files: r.knownFiles,
        acceptNew: async () => {
          const answer = await acceptNewKey(r, { kl, fingerprint: info.fingerprint });
          if (typeof answer === "boolean") return answer;
          declined = answer.declined;
          return false;
        },
        addTo,
        hashNew: r.c.hashKnownHosts,
        fileMode: 0o644, // as ssh creates it (fopen "a")
        onDiagnostic: (file, d) => log.debug(`${file}:${d.line}: ${d.problem}`),
      });
    } catch (e) {
      if (!(e instanceof HostKeyError)) throw e;
      const lines = e.kind === "unknown" && declined ? declined : hostKeyRefusal(e, addTo);
      for (const l of lines) log.error(l);
      log.error("Host key verification failed.");
      r.hostKeyFailure = true;
      return false;
    }
    if (verdict.status === "known") {
      log.debug(`Host '${r.displayName}' is known and matches the ${kl} host key.`);
      log.debug(`Found key in ${verdict.file}:${verdict.line}`);
    } else if (verdict.status === "added") {
      // logit(): INFO, as sshconnect.c (LogLevel=ERROR or -q hide it).
      log.info(
        `Warning: Permanently added '${r.displayName}' (${kl}) to the list of known hosts.`,
      );
    } else if (verdict.error !== undefined) {
      log.error(
        `Failed to add the host to the list of known hosts (${verdict.file}): ${
          (verdict.error as Error).message
        }`,
      );
    }
    return true;
  };
}

/**
 * Whether to accept an unknown host's key (StrictHostKeyChecking; "ask"
 * asks, as ssh does, unless it cannot). `declined` carries what to print
 * when the user said no.
 */
async function acceptNewKey(
  r: Run,
  key: { kl: string; fingerprint: string },
): Promise<boolean | { declined: string[] }> {
  let mode = r.strict;
  if (mode === "ask" && (r.batch || !r.canPrompt)) mode = "yes";
  if (mode === "yes") return false;
  if (mode !== "ask") return true;
  for (;;) {
    const answer = await ask(
      `The authenticity of host '${r.displayName}' can't be established.\n` +
        `${key.kl} key fingerprint is ${key.fingerprint}.\n` +
        `This key is not known by any other names.\n` +
        `Are you sure you want to continue connecting (yes/no/[fingerprint])? `,
      true,
    );
    const v = answer?.trim();
    if (v === undefined || v.toLowerCase() === "no") return { declined: [] };
    if (v.toLowerCase() === "yes") return true;
    if (v === key.fingerprint) return true;
    if (v.startsWith("SHA256:")) {
      return { declined: ["The fingerprint you entered does not match."] };
    }
    r.log.error("Please type 'yes', 'no' or the fingerprint: ");
  }
}

/** HostKeyAlgorithms, or (as ssh) the key types already known for the host first. */
function preferredHostKeyAlgorithms(r: Run): string | undefined {
  const given = r.c.algorithmSpecs.hostKeyAlgorithms;
  if (given !== undefined) return given;
  const known = knownKeyTypes(r.knownFiles, { host: r.keyHost, port: r.keyPort }).flatMap((t) =>
    signatureAlgorithmsForKeyType(t)
  );
  return known.length ? "^" + [...new Set(known)].join(",") : undefined;
}

/** The password prompts (NumberOfPasswordPrompts) and keyboard-interactive answers, when questions can be asked. */
function promptedAuth(r: Run): Pick<ConnectOptions, "authMethods" | "keyboardInteractive"> {
  const { c, log } = r;
  const askPassword = async () => {
    const p = await ask(`${r.user}@${r.hostname}'s password: `);
    if (p === undefined) {
      r.canPrompt = false;
      return "";
    }
    return p;
  };
  const authMethods = r.canPrompt && c.passwordAuthentication
    ? Array.from({ length: c.numberOfPasswordPrompts }, () => ({
      type: "password" as const,
      password: askPassword,
    }))
    : [];
  const keyboardInteractive = r.canPrompt && c.kbdInteractiveAuthentication
    ? async (
      k: { name: string; instruction: string; prompts: { prompt: string; echo: boolean }[] },
    ) => {
      if (k.name) log.error(k.name);
      if (k.instruction) log.error(k.instruction);
      const answers: string[] = [];
      for (const p of k.prompts) answers.push((await ask(p.prompt, p.echo)) ?? "");
      return answers;
    }
    : undefined;
  return { authMethods, keyboardInteractive };
}

/**
 * Keepalives (ServerAliveInterval / ServerAliveCountMax): after that many
 * unanswered ones the connection is closed and `timedOut` set.
 */
function startKeepalive(client: SshClient, r: Run): { timedOut: boolean; stop(): void } {
  const alive = { timedOut: false, stop: () => {} };
  const sub = keepalive({
    globalRequest: (name) => client.connection.globalRequest(name),
    disconnect: (reason, description) => {
      alive.timedOut = true;
      r.log.error(`Timeout, server ${r.hostname} not responding.`);
      return client.transport.disconnect(reason, description);
    },
    closed: client.transport.closed,
  }, {
    interval: r.c.serverAliveInterval,
    countMax: r.c.serverAliveCountMax,
    peer: `server ${r.hostname}`,
  });
  alive.stop = () => sub.unsubscribe();
  return alive;
}

/** The remote command or shell, its streams joined to ours; its exit code (undefined: none). */
async function runSession(client: SshClient, r: Run): Promise<number | undefined> {
  const { args: a, log } = r;
  const interactive = stdinIsTty();
  const { requestTty, pty } = ptyRequest(r, interactive);
  const session = await openSession(client, { command: a.command, pty, c: r.c, requestTty, log });
  if (typeof session === "number") return session;
  const raw = pty !== undefined && interactive;
  if (raw) setRaw(true);
  const stopWinch = pty
    ? onWindowChange(() => {
      const s = terminalSize();
      session.resize({ cols: s.cols, rows: s.rows }).catch(() => {});
    })
    : () => {};
  try {
    if (a.stdinNull) {
      session.stdin.close().catch(() => {});
    } else {
      stdinStream().pipeTo(session.stdin).catch(() => {});
    }
    await Promise.all([
      session.stdout.pipeTo(outputStream("stdout"), { preventClose: true }).catch(() => {}),
      session.stderr.pipeTo(outputStream("stderr"), { preventClose: true }).catch(() => {}),
    ]);
    const exit = await session.exit.catch(() => ({ code: undefined, signal: undefined }));
    if (raw) {
      setRaw(false);
      log.info(`Connection to ${r.hostname} closed.`);
    }
    if (exit.code !== undefined) return exit.code;
    if (exit.signal !== undefined) log.debug(`remote command killed by signal ${exit.signal}`);
    return 255;
  } finally {
    stopWinch();
    if (raw) setRaw(false);
  }
}

type RequestTty = ResolvedSshConfig["requestTty"];

/** Whether to ask for a pty (-t, -tt, -T, RequestTTY, as ssh decides), and the request. */
function ptyRequest(
  r: Run,
  interactive: boolean,
): { requestTty: RequestTty; pty: PtyRequest | undefined } {
  const a = r.args;
  const requestTty: RequestTty = a.noTty
    ? "no"
    : a.tty >= 2
    ? "force"
    : a.tty === 1
    ? "yes"
    : r.c.requestTty;
  let wantPty = requestTty === "force" ||
    (requestTty === "yes" && interactive) ||
    (requestTty === "auto" && a.command === undefined && interactive);
  if (requestTty === "yes" && !interactive) {
    r.log.error("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    wantPty = false;
  }
  if (!wantPty) return { requestTty, pty: undefined };
  const size = terminalSize();
  const pty = {
    term: process.env.TERM ?? "vt220",
    cols: size.cols,
    rows: size.rows,
    widthPx: 0,
    heightPx: 0,
    modes: {},
  };
  return { requestTty, pty };
}

/** The variables to send: SendEnv patterns over our environment, then SetEnv. */
function sessionEnvironment(c: ResolvedSshConfig): Record<string, string> {
  const env: Record<string, string> = {};
  const sendEnv = c.sendEnv;
  if (sendEnv.length) {
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && matchPatternList(name, sendEnv.join(",")) === 1) env[name] = value;
    }
  }
  for (const s of c.setEnv) {
    const eq = s.indexOf("=");
    env[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return env;
}

/**
 * Starts the command (or a shell) with the environment and the pty; when
 * the pty was only wanted by default (RequestTTY auto) and the server
 * refuses it, starts without one, as ssh does. On failure prints ssh's
 * message and returns the exit code (255).
 */
async function openSession(
  client: SshClient,
  s: {
    command: string | undefined;
    pty: PtyRequest | undefined;
    c: ResolvedSshConfig;
    requestTty: RequestTty;
    log: Logger;
  },
): Promise<Session | number> {
  const { log } = s;
  const env = sessionEnvironment(s.c);
  const start = (pty: PtyRequest | undefined) =>
    s.command === undefined ? client.shell({ env, pty }) : client.spawn(s.command, { env, pty });
  try {
    return await start(s.pty);
  } catch (e) {
    const ptyRefused = s.pty !== undefined && /pty-req/.test(String((e as Error).message));
    if (ptyRefused) log.error("PTY allocation request failed on channel 0");
    if (ptyRefused && s.requestTty === "auto") return await start(undefined);
    // As ssh: a terminal asked for explicitly (-t, RequestTTY) is required.
    if (!ptyRefused) log.error(`rxssh: ${e instanceof Error ? e.message : String(e)}`);
    return 255;
  }
}
