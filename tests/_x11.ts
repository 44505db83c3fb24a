// Test helpers for X11 forwarding: a fake X display (a unix socket that
// speaks just the connection setup) with an X client to match, and a real
// one, Xvfb with its own authority file. Xvfb runs with -noreset: an X
// server resets when its last client leaves, and that drops the untrusted
// cookies `xauth generate` made (what ssh -X uses), as a desktop with a
// window manager never does.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { connect, type ConnectOptions, type SshClient } from "../lib/client.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import { serveConnection, type ServerOptions } from "../lib/server.ts";
import { hostKey } from "./_transport_pair.ts";
import { encodeX11Setup, fromHex, parseDisplay, parseX11Setup, toHex } from "../lib/x11/wire.ts";
import { findOpenSsh } from "./_openssh.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** The executable `name` on PATH (or in /usr/bin, /usr/local/bin). */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/usr/local/bin"])) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A new temporary directory. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------
// A fake X display: a unix socket that reads one X11 connection setup
// request, records its authorization, and answers "OK:<proto>:<hex cookie>\n"
// (not a real X reply; the test's X client only reads it back).

export interface FakeDisplay {
  display: string;
  seen: { proto: string; cookie: string; extra: string }[];
  close(): void;
}

export function fakeDisplay(dir: string): Promise<FakeDisplay> {
  const socketPath = path.join(dir, "fakex");
  const seen: FakeDisplay["seen"] = [];
  const server = net.createServer((socket) => {
    let buf = new Uint8Array(0);
    socket.on("data", (chunk: Uint8Array) => {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      const setup = parseX11Setup(buf);
      if (!setup) return;
      const extra = td.decode(buf.subarray(setup.length));
      if (!extra.endsWith("\n")) return; // the test's client sends a line after the setup
      seen.push({ proto: setup.authProtocol, cookie: toHex(setup.authData), extra });
      socket.end(`OK:${setup.authProtocol}:${toHex(setup.authData)}:${extra}`);
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve) => {
    server.listen(
      socketPath,
      () => resolve({ display: `${socketPath}:0`, seen, close: () => server.close() }),
    );
  });
}

/** An X client in the server's session: connects to DISPLAY, sends a setup and a line, reads all. */
export async function xClient(display: string, proto: string, cookieHex: string): Promise<string> {
  const d = parseDisplay(display);
  const conn = await connectTcp(d.host === "localhost" ? "127.0.0.1" : d.host!, d.port!);
  const w = conn.writable.getWriter();
  await w.write(encodeX11Setup({
    littleEndian: true,
    major: 11,
    minor: 0,
    authProtocol: proto,
    authData: fromHex(cookieHex),
  }));
  await w.write(te.encode("hello X\n"));
  await w.close();
  return await new Response(conn.readable).text();
}

// ---------------------------------------------------------------------------
// Real X: Xvfb, xauth, xdpyinfo.

/** The X programs the real-X tests need, and OpenSSH. */
export const XVFB = which("Xvfb");
export const XAUTH = which("xauth");
export const XDPYINFO = which("xdpyinfo");
export const openssh = findOpenSsh();
const missing = [
  !XVFB && "Xvfb (package xvfb)",
  !XAUTH && "xauth (package xauth)",
  !XDPYINFO && "xdpyinfo (package x11-utils)",
  !openssh && "OpenSSH (packages openssh-client, openssh-server)",
].filter(Boolean);
/**
 * Our client connected to our server over an in-memory pair (password
 * login; a key login gets `x11Forwarding: false`, as no-X11-forwarding).
 */
export async function inMemory(
  server: Partial<ServerOptions>,
  o: { key?: PrivateKey; connect?: Partial<ConnectOptions> } = {},
): Promise<SshClient> {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  serveConnection(b, {
    hostKeys: [key],
    auth: {
      handlers: { password: () => true, publicKey: () => ({ x11Forwarding: false }) },
      failureDelay: 1,
    },
    ...server,
  }).catch(() => {});
  return await connect({
    stream: a,
    username: "alice",
    ...(o.key ? { privateKeys: [o.key] } : { password: "pw" }),
    hostKey: { fingerprint: key.publicKey.fingerprint() },
    ...o.connect,
  });
}

/** Why the real-X tests skip (false: they run). */
export const skipReal = missing.length
  ? `X11 interop not run: ${missing.join(", ")} not installed`
  : false;
if (skipReal) console.warn(`X11 tests: ${skipReal}`);

export interface Xvfb {
  n: number;
  display: string;
  /** Authority file with the display's real cookie. */
  authFile: string;
  cookie: string;
  stop(): Promise<void>;
}

/** Starts Xvfb on a free display with a fresh cookie in `dir`. */
export async function startXvfb(dir: string): Promise<Xvfb> {
  const cookie = toHex(crypto.getRandomValues(new Uint8Array(16)));
  for (let n = 91 + Math.floor(Math.random() * 100);; n++) {
    if (fs.existsSync(`/tmp/.X${n}-lock`) || fs.existsSync(`/tmp/.X11-unix/X${n}`)) continue;
    const authFile = path.join(dir, `xvfb${n}.auth`);
    const add = spawnSync(XAUTH!, ["-q", "-f", authFile, "add", `:${n}`, ".", cookie]);
    assert.equal(add.status, 0, String(add.stderr));
    const child: ChildProcess = spawn(
      XVFB!,
      [`:${n}`, "-auth", authFile, "-nolisten", "tcp", "-noreset", "-screen", "0", "640x480x24"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    child.stderr!.on("data", (c: Uint8Array) => (log += td.decode(c)));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const kill = () => child.kill("SIGKILL");
    process.once("exit", kill);
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(`/tmp/.X11-unix/X${n}`) && child.exitCode === null) {
      if (Date.now() > deadline) {
        kill();
        throw new Error(`Xvfb :${n} did not start: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (child.exitCode !== null) {
      if (/already active|Server is already/i.test(log)) continue;
      throw new Error(`Xvfb :${n} exited: ${log}`);
    }
    return {
      n,
      display: `:${n}`,
      authFile,
      cookie,
      stop: async () => {
        child.kill("SIGTERM");
        await exited;
        process.off("exit", kill);
      },
    };
  }
}
