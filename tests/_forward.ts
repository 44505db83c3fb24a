// Test helpers the forwarding tests share (tests/forward_test.ts,
// tests/streamlocal_forward_test.ts): our server with a forwarding policy,
// a password login to it, an HTTP GET over a raw byte-stream pair, and
// background processes (OpenSSH's `ssh -N`, our CLI) whose stderr is kept.
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type SshClient } from "../lib/client.ts";
import { portForwardingHandler, type PortForwardingOptions } from "../lib/forward/server.ts";
import { parsePublicKeyLine } from "../lib/keys/public_key_file.ts";
import { listen, type SshServer } from "../lib/server.ts";
import { findOpenSsh, testSshArgs } from "./_openssh.ts";
import { hostKey } from "./_transport_pair.ts";

/** An HTTP/1.0 GET over a raw byte-stream pair; the whole response. */
export async function getOver(
  s: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  url: string,
): Promise<string> {
  const w = s.writable.getWriter();
  await w.write(new TextEncoder().encode(`GET ${url} HTTP/1.0\r\nHost: x\r\n\r\n`));
  w.releaseLock();
  return await new Response(s.readable).text();
}

/**
 * Our server on 127.0.0.1 with `forwarding` as its policy: any password,
 * the public key `publicKey` (an authorized_keys line) when given; exec exits 0.
 */
export async function ourServer(
  forwarding: PortForwardingOptions,
  publicKey?: string,
): Promise<SshServer> {
  const userKey = publicKey ? parsePublicKeyLine(publicKey).key : undefined;
  return await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [await hostKey("ssh-ed25519")],
    auth: {
      handlers: {
        password: () => true,
        publicKey: (_u, k) => userKey !== undefined && k.fingerprint() === userKey.fingerprint(),
      },
      failureDelay: 1,
    },
    exec: (s) => s.exit(0),
    handlers: [portForwardingHandler(forwarding)],
  });
}

/** Our client logged in to {@link ourServer} on `port` with a password. */
export const connectTo = (port: number): Promise<SshClient> =>
  connect({
    host: "127.0.0.1",
    port,
    username: "u",
    password: "p",
    hostKey: { verify: () => true },
  });

/** A process started by {@link background}. */
export interface Background {
  child: ChildProcess;
  /** Its stderr so far. */
  stderr(): string;
  /** Resolves with its exit code. */
  exited: Promise<number | null>;
}

/**
 * Starts `file` with `args` in the background (stdin and stdout ignored,
 * stderr kept), added to `o.children` for the test's `after` to kill.
 */
export function background(
  file: string,
  args: string[],
  o: { children: Set<ChildProcess>; cwd?: string; env?: Record<string, string | undefined> },
): Background {
  const child = spawn(file, args, {
    cwd: o.cwd,
    env: o.env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  o.children.add(child);
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, stderr: () => err, exited };
}

/**
 * OpenSSH's `ssh -N -o ExitOnForwardFailure=yes <extra> 127.0.0.1` logged
 * in as "me" with `to.keyFile` on `to.port`, in the background.
 */
export function sshN(
  extra: string[],
  to: { port: number; keyFile: string; children: Set<ChildProcess> },
): Background {
  return background(
    findOpenSsh()!.ssh,
    testSshArgs(to.port, to.keyFile, "me", [
      "-N",
      "-o",
      "ExitOnForwardFailure=yes",
      ...extra,
      "127.0.0.1",
    ]),
    { children: to.children },
  );
}
