// Test helpers for the CLI tests: run cli.ts with the runtime running the
// test, start `rxssh serve` on an OS-picked port, make ssh-keygen keys.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { findOpenSsh, runProcess } from "./_openssh.ts";

/** The repository root. */
export const ROOT: string = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

/** The command line that runs cli.ts with the runtime running this test. */
export function cliCommand(args: string[]): [string, string[]] {
  return "Deno" in globalThis
    ? [process.execPath, ["run", "-A", "cli.ts", ...args]]
    : [process.execPath, ["cli.ts", ...args]];
}

/** A running `rxssh serve`. */
export interface Served {
  port: number;
  /** Its process id (that of the runtime, also under an exec'ing prefix such as prlimit). */
  pid: number;
  log(): string;
  stop(): Promise<void>;
  /** Resolves with its exit code (null when a signal ended it) once it has exited. */
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

/**
 * Starts `rxssh serve` with `args` and waits for "listening on 127.0.0.1:port".
 * `prefix` runs it under another command, e.g. `["prlimit", "--nofile=64:64"]`.
 */
export function serve(
  args: string[],
  env: Record<string, string>,
  prefix: string[] = [],
): Promise<Served> {
  // One process unless the test asks for workers (-W; the default is one per core).
  const workers = args.some((a) => a.startsWith("-W")) ? [] : ["-W", "1"];
  const [cli, cliArgs] = cliCommand([
    "serve",
    "-p",
    "0",
    "-o",
    "ListenAddress=127.0.0.1",
    ...workers,
    ...args,
  ]);
  const [file, ...argv] = [...prefix, cli, ...cliArgs];
  const child = spawn(file, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let text = "";
  child.stdout!.on("data", (c: Uint8Array) => text += new TextDecoder().decode(c));
  child.stderr!.on("data", (c: Uint8Array) => text += new TextDecoder().decode(c));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code))
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
    children.delete(child);
  };
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      stop();
      reject(new Error(`rxssh serve did not start:\n${text}`));
    }, 30_000);
    const poll = setInterval(() => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m || child.exitCode !== null) {
        clearInterval(poll);
        clearTimeout(deadline);
        if (m) resolve({ port: Number(m[1]), pid: child.pid!, log: () => text, stop, exited });
        else reject(new Error(`rxssh serve exited (${child.exitCode}):\n${text}`));
      }
    }, 20);
  });
}

/** Makes an unencrypted ssh-keygen key at `file`; returns its public key line. */
export async function keygen(file: string, type = "ed25519"): Promise<string> {
  const r = await runProcess(
    findOpenSsh()!.sshKeygen,
    ["-q", "-t", type, "-N", "", "-C", "", "-f", file],
    { timeoutMs: 60_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  return fs.readFileSync(file + ".pub", "utf8").trim();
}

/**
 * `rxssh` client arguments for a throwaway login as `user` with `key` on a
 * loopback `port`: no configuration, no known_hosts, no prompts (the
 * counterpart of `testSshArgs` for OpenSSH's ssh). The host and command follow.
 */
export function rxsshTestArgs(port: number, key: string, user: string): string[] {
  return [
    "-F",
    "none",
    "-i",
    key,
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-p",
    String(port),
    "-l",
    user,
  ];
}

/** Waits (up to `ms`, default 20 s) until `server` has logged `re`; fails with the log otherwise. */
export async function waitForLog(
  server: { log(): string },
  re: RegExp,
  ms = 20_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!re.test(server.log())) {
    assert.ok(Date.now() < until, `${re} not in:\n${server.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a transfer of `bytes` through `ssh` (half before SIGTERM to
 * `server`, half a second after it), sends the signal once the login is in,
 * and waits until the server says it waits for that one connection.
 */
export async function sigtermDuringTransfer<R>(
  server: Served,
  ssh: (port: number, command: string) => Promise<R>,
  bytes: number,
): Promise<{ transfer: Promise<R>; signalledAt: number }> {
  const half = `head -c ${bytes / 2} /dev/zero | tr '\\0' x`;
  const transfer = ssh(server.port, `${half}; sleep 1; ${half}`);
  await waitForLog(server, /Accepted publickey/);
  await new Promise((r) => setTimeout(r, 300));
  const signalledAt = Date.now();
  process.kill(server.pid, "SIGTERM");
  await waitForLog(server, /not accepting; waiting up to 20 s for 1 connections/);
  return { transfer, signalledAt };
}
