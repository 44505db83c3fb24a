/**
 * Memory of a server under a request flood from a client that never reads
 * (issue 10, item 3). The server runs `serveConnection()` on TCP in a child
 * process (Deno or Bun) and counts the bytes it reads; this process is the
 * attacker: over TCP it sends N requests of one kind without reading a byte,
 * waits until the server has stopped reading (or read everything), and asks
 * the child for its RSS and heap (after a GC) before and then. Then it reads
 * again and checks that every request was answered.
 *
 * ```sh
 * deno run -A bench/reply_flood.ts [--runtime deno|bun] [--count 100000] [--kind service,keepalive,env]
 * ```
 *
 * One line per kind: bytes of the flood the server read, RSS and heap
 * growth in MiB, and how many replies arrived once the client read again.
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { connect } from "../lib/client.ts";
import { serveConnection } from "../lib/server.ts";
import { connectTcp, listenTcp } from "../lib/runtime/tcp.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { SessionRequest } from "../lib/connection/session.ts";
import { Transport } from "../lib/transport/transport.ts";
import { counted, gated } from "../tests/_flow.ts";

const args = process.argv.slice(Number(process.argv[1]?.endsWith(".ts") ? 2 : 1));
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

/** The child: a server that reports its memory and the bytes it read when asked on stdin. */
async function serverMain(): Promise<void> {
  const key = await generatePrivateKey("ssh-ed25519");
  const listener = await listenTcp({ hostname: "127.0.0.1", port: 0 });
  const counts: { bytes: number }[] = [];
  (async () => {
    for await (const conn of listener) {
      const c = counted(conn.readable);
      counts.push(c.count);
      serveConnection({ readable: c.readable, writable: conn.writable }, {
        hostKeys: [key],
        auth: { handlers: { password: (u, p) => u === "flood" && p === "flood" } },
        exec: (s) => s.exit(0),
      }).catch(() => conn.close());
    }
  })();
  const gc = () => {
    const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
    if (g.Bun) g.Bun.gc(true);
    else g.gc?.();
  };
  console.log(`port ${listener.port} ${key.publicKey.fingerprint()}`);
  let buf = "";
  process.stdin.on("data", (c: Uint8Array) => {
    buf += new TextDecoder().decode(c);
    while (buf.includes("\n")) {
      buf = buf.slice(buf.indexOf("\n") + 1);
      gc();
      const m = process.memoryUsage();
      const read = counts.reduce((n, c) => n + c.bytes, 0);
      console.log(`mem ${m.rss} ${m.heapUsed} ${m.external} ${m.heapTotal} ${read}`);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

/** The child's process.memoryUsage() after a GC, in bytes. */
interface Mem {
  rss: number;
  heap: number;
  external: number;
  heapTotal: number;
  /** Bytes the server has read from all its connections so far. */
  read: number;
}

interface Child {
  port: number;
  fingerprint: string;
  mem(): Promise<Mem>;
  stop(): void;
}

function startChild(runtime: string): Promise<Child> {
  const file = new URL(import.meta.url).pathname;
  const [cmd, argv] = runtime === "bun"
    ? [process.env.BUN ?? "node_modules/.bin/bun", [file, "server"]]
    : [
      process.env.DENO ?? "node_modules/.bin/deno",
      ["run", "-A", "--v8-flags=--expose-gc", file, "server"],
    ];
  const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"] });
  const waiters: ((line: string) => void)[] = [];
  let out = "";
  child.stdout!.on("data", (c: Uint8Array) => {
    out += new TextDecoder().decode(c);
    let i;
    while ((i = out.indexOf("\n")) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      waiters.shift()?.(line);
    }
  });
  const next = () => new Promise<string>((r) => waiters.push(r));
  return next().then((first) => {
    const [, port, fingerprint] = first.split(" ");
    return {
      port: Number(port),
      fingerprint,
      mem: async () => {
        const line = next();
        child.stdin!.write("mem\n");
        const [rss, heap, external, heapTotal, read] = (await line).split(" ").slice(1).map(Number);
        return { rss, heap, external, heapTotal, read };
      },
      stop: () => child.stdin!.end(),
    };
  });
}

/** A TCP connection whose reads can be stopped. */
async function attackerStream(port: number) {
  const tcp = await connectTcp("127.0.0.1", port);
  const gate = gated(tcp.readable);
  return { stream: { readable: gate.readable, writable: tcp.writable }, gate };
}

async function flood(child: Child, kind: string, count: number) {
  const a = await attackerStream(child.port);
  if (kind === "service") {
    const t = new Transport(a.stream, { role: "client", verifyHostKey: () => true });
    await t.ready;
    await t.requestService("ssh-userauth");
    const before = await child.mem();
    a.gate.shut();
    const replies = Array.from({ length: count }, () => t.requestService("ssh-userauth"));
    return measure(child, a, before, replies, () => t.disconnect());
  }
  const client = await connect({
    stream: a.stream,
    username: "flood",
    password: "flood",
    hostKey: { fingerprint: child.fingerprint },
  });
  const channel = kind === "env" ? await client.openChannel("session") : undefined;
  const before = await child.mem();
  a.gate.shut();
  const env = SessionRequest.env.encode("LC_FLOOD", "x");
  const replies = Array.from(
    { length: count },
    () =>
      channel
        ? channel.request("env", env)
        : client.connection.globalRequest("keepalive@openssh.com", undefined, { wantReply: true }),
  );
  return measure(child, a, before, replies, () => client.close());
}

async function measure(
  child: Child,
  a: Awaited<ReturnType<typeof attackerStream>>,
  before: Mem,
  replies: Promise<unknown>[],
  finish: () => Promise<void>,
) {
  // The server has stopped reading (or read it all) when its count stays put.
  let during = await child.mem();
  for (let stable = 0; stable < 3;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await child.mem();
    stable = now.read === during.read ? stable + 1 : 0;
    during = now;
  }
  const taken = during.read - before.read;
  a.gate.open();
  const answered = (await Promise.allSettled(replies)).filter((r) => r.status === "fulfilled");
  const after = await child.mem();
  await finish().catch(() => {});
  return { taken, before, during, after, answered: answered.length };
}

async function main(): Promise<void> {
  const runtime = flag("runtime", "deno");
  const count = Number(flag("count", "100000"));
  const kinds = flag("kind", "service,keepalive,env").split(",");
  const child = await startChild(runtime);
  const mib = (n: number) => (n / 1048576).toFixed(1);
  console.log(
    `server on ${runtime}; ${count} requests per kind, the client never reads until the end`,
  );
  // "read": bytes of the flood the server read; the flood is about 44-60 bytes per request.
  console.log(
    "kind      read(MB)  RSS(MiB) before  +flood  heapUsed before  +flood  +heapTotal  +external  answered",
  );
  for (const kind of kinds) {
    const r = await flood(child, kind, count);
    console.log(
      `${kind.padEnd(9)} ${(r.taken / 1e6).toFixed(1).padStart(8)} ${
        mib(r.before.rss).padStart(16)
      } ${("+" + mib(r.during.rss - r.before.rss)).padStart(7)} ${
        mib(r.before.heap).padStart(16)
      } ${("+" + mib(r.during.heap - r.before.heap)).padStart(7)} ${
        ("+" + mib(r.during.heapTotal - r.before.heapTotal)).padStart(11)
      } ${("+" + mib(r.during.external - r.before.external)).padStart(10)} ${
        String(r.answered).padStart(9)
      }`,
    );
  }
  child.stop();
}

if (args[0] === "server") await serverMain();
else await main();
