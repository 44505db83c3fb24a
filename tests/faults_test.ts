// Faults at every phase (issue 16, part C): our client against our server
// through a relay that cuts (RST-like abort or clean FIN), stalls,
// half-closes or throttles the connection at chosen byte offsets, over
// in-memory pairs and loopback TCP. For every scenario: each observable the
// API exposes ends exactly once, every pending promise and stream settles
// (hang guards), no unhandled rejection, and timers and file descriptors are
// back to where they were. Interop with real OpenSSH killed mid-transfer is
// covered by tests/sftp_client_interop_test.ts ("sshd killed mid-get").
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type ConnectOptions, type SshClient } from "../lib/client.ts";
import {
  acceptConnection,
  type IncomingConnection,
  listen,
  type ServerConnection,
  type ServerOptions,
  type ServerSession,
} from "../lib/server.ts";
import type { Transport } from "../lib/transport/transport.ts";
import { type DisconnectError, DisconnectReason } from "../lib/wire/errors.ts";
import process from "node:process";
import type { ByteStreamPair } from "../lib/runtime/types.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import {
  catchUnhandled,
  endings,
  type FaultPlan,
  type FaultyLink,
  faultyMemory,
  faultyTcp,
  fired,
  handles,
  leftOver,
  settled,
  trackTimers,
  unhandled,
} from "./_faults.ts";
import { hostKey } from "./_transport_pair.ts";
import { settles } from "./_flow.ts";
import { sftp } from "../lib/sftp/client.ts";
import { SftpTransferError } from "../lib/sftp/errors.ts";
import { MemoryBackend } from "../lib/sftp/memory_backend.ts";
import { sftpSubsystem } from "../lib/sftp/subsystem.ts";
import { forwardOut, localForward } from "../lib/forward/client.ts";
import { portForwardingHandler } from "../lib/forward/server.ts";
import { connectTcp, listenTcp, type TcpConnection } from "../lib/runtime/tcp.ts";
import * as fs from "node:fs";
import { spawn } from "node:child_process";
import { parsePublicKeyLine } from "../lib/keys/public_key_file.ts";
import { findOpenSsh, testSshArgs } from "./_openssh.ts";
import { keygen } from "./_cli.ts";
import * as os from "node:os";
import * as path from "node:path";

trackTimers();
catchUnhandled();

/** Bun's default per-test timeout is 5 s; these run a few connections each (hang guards inside). */
const SLOW = { timeout: 30_000 };

let userKey: PrivateKey;
let serverKey: PrivateKey;

before(async () => {
  userKey = await generatePrivateKey("ssh-ed25519");
  serverKey = await hostKey("ssh-ed25519");
});

/** Deterministic bytes: byte i is (i * 7 + i >> 8) & 255. */
function pattern(n: number, from = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = ((from + i) * 7 + ((from + i) >> 8)) & 255;
  return b;
}

/** Records a session's stdin as it arrives (bytes the server received). */
interface Received {
  bytes: number;
  ok: boolean;
}

const received: Received[] = [];
/** Bytes the last `source` command's writes resolved for. */
const sourced = { bytes: 0 };

async function execHandler(s: ServerSession) {
  const cmd = s.command ?? "";
  if (cmd === "sink" || cmd.startsWith("slowsink ")) {
    // Checks stdin against the pattern; "slowsink ms" reads one chunk every `ms`, then
    // whatever is left once the connection failed.
    const r: Received = { bytes: 0, ok: true };
    received.push(r);
    const ms = cmd === "sink" ? 0 : Number(cmd.slice(9));
    const reader = s.stdin.getReader();
    try {
      for (;;) {
        if (ms) await new Promise((t) => setTimeout(t, ms));
        const { value, done } = await reader.read();
        if (done) break;
        const want = pattern(value.length, r.bytes);
        if (!value.every((x, i) => x === want[i])) r.ok = false;
        r.bytes += value.length;
      }
    } catch { /* the connection went away */ }
    return s.exit(0);
  }
  if (cmd.startsWith("source ")) {
    const n = Number(cmd.slice(7));
    const w = s.stdout.getWriter();
    sourced.bytes = 0;
    try {
      for (let i = 0; i < n; i += 32768) {
        await w.write(pattern(Math.min(32768, n - i), i));
        sourced.bytes = i + Math.min(32768, n - i);
      }
    } catch { /* the connection went away */ }
    w.releaseLock();
    return s.exit(0);
  }
  return s.exit(0);
}

function serverOptions(extra: Partial<ServerOptions> = {}): ServerOptions {
  return {
    hostKeys: [serverKey],
    auth: {
      handlers: {
        password: (u, p) => u === "alice" && p === "pw",
        publicKey: (u, k) => u === "alice" && k.fingerprint() === userKey.publicKey.fingerprint(),
      },
      failureDelay: 1,
    },
    exec: execHandler,
    ...extra,
  };
}

function clientOptions(extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    username: "alice",
    password: "pw",
    agent: false,
    hostKey: { fingerprint: serverKey.publicKey.fingerprint() },
    ...extra,
  };
}

const TRANSPORT_EVENTS = [
  "kex$",
  "disconnect$",
  "ignore$",
  "debug$",
  "unimplemented$",
  "macError$",
  "extInfo$",
  "service$",
] as const;

/** Watches every observable of a transport. */
function watchTransport(t: Transport, side: string) {
  const o: Record<string, { subscribe: (o: object) => unknown }> = {};
  for (const k of TRANSPORT_EVENTS) o[`${side}.${k}`] = t[k];
  return endings(o);
}

/** One connection through a faulty link, with everything watched. */
interface World {
  link: FaultyLink;
  connecting: Promise<SshClient>;
  clientTransport: () => Transport | undefined;
  incoming: IncomingConnection;
  watch: ReturnType<typeof endings>[];
  cleanup: () => Promise<void>;
}

/** A connection over a faulty in-memory link. */
function overMemory(
  o: {
    server?: Partial<ServerOptions>;
    client?: Partial<ConnectOptions>;
    arm?: FaultPlan;
    highWaterMark?: number;
  } = {},
): World {
  const { client, server, link } = faultyMemory({ highWaterMark: o.highWaterMark });
  if (o.arm) link.arm(o.arm);
  return world(link, client, acceptConnection(server, serverOptions(o.server)), o.client);
}

function world(
  link: FaultyLink,
  stream: ByteStreamPair | undefined,
  incoming: IncomingConnection,
  client: Partial<ConnectOptions> & { port?: number } = {},
): World {
  let ct: Transport | undefined;
  const watch = [
    watchTransport(incoming.transport, "server"),
    endings({ "server.event$": incoming.event$ }),
  ];
  incoming.authenticated.then((c) => {
    watch.push(endings({
      "conn.session$": c.session$,
      "conn.channelLife$": c.channelLife$,
      "conn.connection.event$": c.connection.event$,
    }));
    c.session$.subscribe((s) =>
      watch.push(endings({
        "session.signal$": s.signal$,
        "session.windowChange$": s.windowChange$,
        "session.channel.requests$": s.channel.requests$,
      }))
    );
  }, () => {});
  const connecting = connect(clientOptions({
    ...(stream ? { stream } : { host: "127.0.0.1" }),
    ...client,
    onTransport: (t) => {
      ct = t;
      watch.push(watchTransport(t, "client"));
    },
  }));
  connecting.then(
    (c) => watch.push(endings({ "client.connection.event$": c.connection.event$ })),
    () => {},
  );
  return {
    link,
    connecting,
    clientTransport: () => ct,
    incoming,
    watch,
    cleanup: async () => {
      link.close();
      await ct?.closed;
      await incoming.transport.closed;
    },
  };
}

/**
 * After a fault: both transports close, `connecting` and `authenticated`
 * settle, every observable ended once, no unhandled rejection, handles back
 * to `base`.
 */
async function settlesCleanly(w: World, base: ReturnType<typeof handles>, what: string) {
  const c = await settled(`${what}: connect()`, w.connecting);
  await settled(`${what}: authenticated`, w.incoming.authenticated);
  const ct = w.clientTransport();
  assert.ok(ct, `${what}: the client made a transport`);
  const cc = await settled(`${what}: client closed`, ct.closed);
  const sc = await settled(`${what}: server closed`, w.incoming.transport.closed);
  assert.equal(cc.status, "fulfilled");
  assert.equal(sc.status, "fulfilled");
  if (c.status === "rejected") {
    assert.ok(c.reason instanceof Error, `${what}: connect() rejects with an Error`);
  }
  // The observables complete on a later tick than `closed`.
  await new Promise((r) => setTimeout(r, 20));
  const wrong = w.watch.flatMap((e) => e.wrong());
  assert.deepEqual(wrong, [], `${what}: every observable ends exactly once`);
  assert.deepEqual(unhandled.map(String), [], `${what}: no unhandled rejection`);
  assert.deepEqual(await leftOver(base), [], `${what}: handles back to the baseline`);
  return { connect: c, client: (cc as PromiseFulfilledResult<DisconnectError>).value };
}

describe("faults: mid-KEX", () => {
  it(
    "a cut at byte offsets through the handshake, both directions, reset and FIN",
    SLOW,
    async () => {
      // Bytes each way until authentication starts, measured on a clean run.
      const probe = overMemory();
      const client = await probe.connecting;
      const full = { ...probe.link.bytes };
      await client.close();
      await probe.cleanup();
      console.log(`handshake+auth bytes: c2s ${full.c2s}, s2c ${full.s2c}`);
      const base = handles();
      let runs = 0;
      for (const direction of ["c2s", "s2c"] as const) {
        const total = full[direction];
        const offsets = [
          0,
          1,
          10,
          40,
          total >> 3,
          total >> 2,
          total >> 1,
          (total * 3) >> 2,
          total - 1,
        ];
        for (const after of offsets) {
          for (const fault of ["reset", "fin"] as const) {
            const w = overMemory({ arm: { direction, after, fault } });
            const what = `${fault} on ${direction} after ${after} of ${total}`;
            const r = await settlesCleanly(w, base, what);
            assert.equal(r.connect.status, "rejected", `${what}: connect() fails`);
            runs++;
          }
        }
      }
      console.log(`mid-KEX/auth cuts: ${runs} runs, all settled`);
    },
  );
});

/** A connection through a faulty link, authenticated; the fault is armed by the caller. */
async function connected(
  o: { server?: Partial<ServerOptions>; client?: Partial<ConnectOptions>; highWaterMark?: number } =
    {},
): Promise<{ w: World; client: SshClient; server: ServerConnection }> {
  const w = overMemory(o);
  const client = await w.connecting;
  const server = await w.incoming.authenticated;
  return { w, client, server };
}

/** Reads `s` to its end or error: bytes read, whether they match {@link pattern}, and how it ended. */
async function drain(s: ReadableStream<Uint8Array>, delayMs = 0) {
  const r = { bytes: 0, ok: true, end: "" };
  const reader = s.getReader();
  try {
    for (;;) {
      if (delayMs) await new Promise((t) => setTimeout(t, delayMs));
      const { value, done } = await reader.read();
      if (done) break;
      const want = pattern(value.length, r.bytes);
      if (!value.every((x, i) => x === want[i])) r.ok = false;
      r.bytes += value.length;
    }
    r.end = "done";
  } catch (e) {
    r.end = `error: ${e instanceof Error ? e.constructor.name : typeof e}`;
  }
  return r;
}

/** Writes `total` pattern bytes to `s` in 32 KiB pieces; how many writes resolved and how it ended. */
async function fill(s: WritableStream<Uint8Array>, total: number) {
  const r = { bytes: 0, end: "" };
  const w = s.getWriter();
  try {
    for (let i = 0; i < total; i += 32768) {
      const n = Math.min(32768, total - i);
      await w.write(pattern(n, i));
      r.bytes += n;
    }
    await w.close();
    r.end = "closed";
  } catch (e) {
    r.end = `error: ${e instanceof Error ? e.constructor.name : typeof e}`;
  }
  return r;
}

describe("faults: mid-auth", () => {
  for (const method of ["password", "publickey"] as const) {
    it(`${method}: cuts after the key exchange, before the user is in`, SLOW, async () => {
      const client = method === "password" ? {} : { password: undefined, privateKeys: [userKey] };
      // Where the key exchange ends and authentication ends, on a clean run.
      const probe = overMemory({ client });
      const kexAt = { c2s: 0, s2c: 0 };
      await probe.incoming.transport.ready;
      Object.assign(kexAt, probe.link.bytes);
      const probeClient = await probe.connecting;
      await probe.incoming.authenticated;
      const full = { ...probe.link.bytes };
      await probeClient.close();
      await probe.cleanup();
      const base = handles();
      let runs = 0;
      for (const direction of ["c2s", "s2c"] as const) {
        const [lo, hi] = [kexAt[direction], full[direction]];
        for (let k = 0; k < 6; k++) {
          const after = lo + Math.floor(((hi - lo) * k) / 6);
          const fault = k % 2 ? "fin" as const : "reset" as const;
          const w = overMemory({ client, arm: { direction, after, fault } });
          const r = await settlesCleanly(w, base, `${method}: ${fault} ${direction} @${after}`);
          assert.ok(w.link.fired, "the fault fired");
          if (after < hi - 100) assert.equal(r.connect.status, "rejected");
          runs++;
        }
      }
      console.log(
        `mid-auth ${method}: kex ends c2s ${kexAt.c2s} s2c ${kexAt.s2c}, auth ends c2s ${full.c2s} s2c ${full.s2c}; ${runs} cuts settled`,
      );
    });
  }
});

describe("faults: mid-transfer (exec)", () => {
  for (const fault of ["reset", "fin"] as const) {
    it(
      `stdin 4 MiB to the server, ${fault} part way: both sides saw a prefix, every stream settles`,
      SLOW,
      async () => {
        const base = handles();
        const { w, client } = await connected();
        w.link.arm({ direction: "c2s", after: w.link.bytes.c2s + 1_000_000, fault });
        const s = await client.spawn("sink");
        w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
        const [sent, out, exit] = await Promise.all([
          settled("stdin", fill(s.stdin, 4 << 20)),
          settled("stdout", drain(s.stdout)),
          settled("exit", s.exit),
        ]);
        const got = received.at(-1)!;
        assert.equal(got.ok, true, "the server received the client's bytes in order, unchanged");
        assert.ok(got.bytes > 0 && got.bytes < 1_000_000, `server got ${got.bytes}`);
        assert.equal(sent.status, "fulfilled");
        const wrote = (sent as PromiseFulfilledResult<{ bytes: number; end: string }>).value;
        assert.match(wrote.end, /^error/, "a write rejects");
        // Channel writes resolve once the transport took the bytes (SSH has no per-byte
        // acknowledgement but the window): the server never has more than that.
        assert.ok(
          got.bytes <= wrote.bytes,
          `server ${got.bytes} <= resolved writes ${wrote.bytes}`,
        );
        assert.equal(out.status, "fulfilled");
        assert.equal(exit.status, "rejected", "no exit status came: exit rejects");
        await settlesCleanly(w, base, `exec stdin ${fault}`);
        console.log(
          `mid-stdin ${fault}: client wrote ${
            (sent as PromiseFulfilledResult<{ bytes: number }>).value.bytes
          } B (resolved writes), server read ${got.bytes} B`,
        );
      },
    );
    it(`stdout 4 MiB to the client, ${fault} part way`, SLOW, async () => {
      const base = handles();
      const { w, client } = await connected();
      w.link.arm({ direction: "s2c", after: w.link.bytes.s2c + 1_000_000, fault });
      const s = await client.spawn(`source ${4 << 20}`);
      w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
      const [out, err, exit] = await Promise.all([
        settled("stdout", drain(s.stdout)),
        settled("stderr", drain(s.stderr)),
        settled("exit", s.exit),
      ]);
      assert.equal(out.status, "fulfilled");
      assert.equal(err.status, "fulfilled");
      const o = (out as PromiseFulfilledResult<{ bytes: number; ok: boolean; end: string }>).value;
      assert.equal(o.ok, true, "the client's bytes are the server's, in order");
      assert.ok(o.bytes < 1_000_000, `client got ${o.bytes}`);
      assert.match(o.end, /^error/, "stdout errors rather than ending as if complete");
      assert.equal(exit.status, "rejected");
      await settlesCleanly(w, base, `exec stdout ${fault}`);
      console.log(`mid-stdout ${fault}: client read ${o.bytes} B of 4 MiB before the cut`);
    });
  }
});

describe("faults: mid-re-key", () => {
  for (const direction of ["c2s", "s2c"] as const) {
    it(
      `cut ${direction} inside a re-key started with rekey() during a download`,
      SLOW,
      async () => {
        const base = handles();
        let runs = 0;
        for (const [i, k] of [0, 200, 700].entries()) {
          const { w, client } = await connected();
          const s = await client.spawn(`source ${8 << 20}`);
          w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
          const out = drain(s.stdout);
          const err = drain(s.stderr);
          // Let data flow, then re-key and cut k bytes into it.
          while (w.link.bytes.s2c < 200_000) await new Promise((r) => setTimeout(r, 5));
          w.link.arm({
            direction,
            after: w.link.bytes[direction] + k,
            fault: i % 2 ? "fin" : "reset",
          });
          const r = await settled("rekey()", client.transport.rekey());
          // Client to server, the re-key's own KEXINIT is the next thing sent: the cut is inside it.
          if (direction === "c2s") assert.equal(r.status, "rejected", "rekey() rejects");
          await settled("stdout", out);
          await settled("stderr", err);
          await settled("exit", s.exit);
          await settlesCleanly(w, base, `re-key cut ${direction} +${k}`);
          runs++;
        }
        console.log(`mid-re-key ${direction}: ${runs} cuts settled`);
      },
    );
  }
  it(
    "rekeyBytes 64 KiB both sides: cuts at offsets through a download re-keying all along",
    SLOW,
    async () => {
      const base = handles();
      const rekeys: number[] = [];
      for (const at of [100_003, 333_333, 777_777, 1_234_567]) {
        const tuning = { rekeyBytes: 64 << 10 };
        const { w, client } = await connected({ client: tuning, server: tuning });
        let n = 0;
        client.transport.kex$.subscribe(() => n++);
        w.link.arm({
          direction: "s2c",
          after: w.link.bytes.s2c + at,
          fault: at % 3 ? "reset" : "fin",
        });
        const s = await client.spawn(`source ${4 << 20}`);
        w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
        const [out] = await Promise.all([drain(s.stdout), drain(s.stderr), s.exit.catch(() => {})]);
        assert.equal(out.ok, true);
        await settlesCleanly(w, base, `rekeyBytes cut s2c @${at}`);
        rekeys.push(n);
      }
      console.log(`re-keys before each cut: ${rekeys.join(", ")}`);
      // kex$ replays the first exchange: n - 1 re-keys before the cut.
      assert.ok(rekeys.at(-1)! > 4, "the later cuts came after several re-keys");
    },
  );
});

/** A MemoryBackend whose file writes are counted (bytes the server wrote). */
function countingBackend() {
  const backend = new MemoryBackend();
  const wrote = { bytes: 0 };
  const open = backend.open.bind(backend);
  backend.open = async (p, flags, attrs) => {
    const f = await open(p, flags, attrs);
    const write = f.write.bind(f);
    f.write = async (offset, data) => {
      await write(offset, data);
      wrote.bytes += data.length;
    };
    return f;
  };
  return { backend, wrote };
}

describe("faults: mid-SFTP-write", () => {
  let dir: string;
  let local: string;
  const SIZE = 8 << 20;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-faults-"));
    local = path.join(dir, "up.bin");
    fs.writeFileSync(local, pattern(SIZE));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function putUntil(plan: (w: World) => Promise<void> | void) {
    const { backend, wrote } = countingBackend();
    const { w, client } = await connected({
      server: { subsystems: { sftp: sftpSubsystem({ backend: () => backend }) } },
    });
    const s = await sftp(client);
    const t = s.put(local, "/up.bin");
    w.watch.push(endings({ "put progress$": t.progress$ }));
    const faulted = plan(w);
    const r = await settled("put", Promise.resolve(t.done));
    await faulted;
    assert.equal(r.status, "rejected", "the put fails");
    const e = (r as PromiseRejectedResult).reason;
    assert.ok(e instanceof SftpTransferError, `a SftpTransferError, got ${e}`);
    await settled("sftp close", s.close().catch(() => {}));
    return { w, e, wrote, file: backend.readFile("/up.bin") };
  }

  it(
    "client stops sending, the server answers what it got, then a reset: acked == written",
    SLOW,
    async () => {
      const base = handles();
      const { w, e, wrote, file } = await putUntil(async (w) => {
        const at = w.link.bytes.c2s + 3_000_000;
        while (w.link.bytes.c2s < at) await new Promise((r) => setTimeout(r, 5));
        w.link.now("c2s", "stall");
        await settles(() => w.link.bytes.s2c, 50, 4); // every answer the server sent has arrived
        w.link.now("s2c", "reset");
      });
      assert.equal(
        e.bytesTransferred,
        wrote.bytes,
        "bytes acked to the client == bytes the server wrote",
      );
      assert.equal(
        file.length,
        wrote.bytes,
        "the file holds exactly those bytes (written in order)",
      );
      assert.deepEqual(file, pattern(file.length), "and they are the right ones");
      assert.match(e.message, new RegExp(`stopped after ${wrote.bytes} bytes written`));
      await settlesCleanly(w, base, "sftp stall+reset");
      console.log(
        `mid-SFTP-write (stall then reset): acked ${e.bytesTransferred} B = server wrote ${wrote.bytes} B of ${SIZE}`,
      );
    },
  );

  for (const fault of ["reset", "fin"] as const) {
    it(
      `${fault} in the middle of the writes: acked <= written, file is a prefix`,
      SLOW,
      async () => {
        const base = handles();
        const { w, e, wrote, file } = await putUntil((w) => {
          w.link.arm({ direction: "c2s", after: w.link.bytes.c2s + 2_500_000, fault });
        });
        assert.ok(
          e.bytesTransferred <= wrote.bytes,
          `acked ${e.bytesTransferred} <= written ${wrote.bytes}`,
        );
        assert.ok(e.bytesTransferred > 0);
        assert.deepEqual(file.subarray(0, e.bytesTransferred), pattern(e.bytesTransferred));
        await settlesCleanly(w, base, `sftp ${fault}`);
        console.log(
          `mid-SFTP-write ${fault}: acked ${e.bytesTransferred} B, server wrote ${wrote.bytes} B`,
        );
      },
    );
  }
});

/** A TCP server on 127.0.0.1 that answers every connection with `pattern` bytes, counting what it reads. */
async function patternServer(total: number) {
  const listener = await listenTcp({ hostname: "127.0.0.1", port: 0 });
  const conns: TcpConnection[] = [];
  const ended: Promise<unknown>[] = [];
  (async () => {
    for await (const c of listener) {
      conns.push(c);
      ended.push(
        Promise.all([fill(c.writable, total), drain(c.readable)]).finally(() => c.close()),
      );
    }
  })().catch(() => {});
  return {
    port: listener.port,
    close: () => listener.close(),
    ended: () => Promise.all(ended),
    conns,
  };
}

describe("faults: mid-forward", () => {
  it(
    "direct-tcpip (forwardOut): cut mid-stream, the forwarded stream and the target socket settle",
    SLOW,
    async () => {
      const base = handles();
      const target = await patternServer(4 << 20);
      const { w, client } = await connected({ server: { handlers: [portForwardingHandler()] } });
      const f = await forwardOut(client, { host: "127.0.0.1", port: target.port });
      w.link.arm({ direction: "s2c", after: w.link.bytes.s2c + 1_000_000, fault: "reset" });
      const [got, sent] = await Promise.all([
        settled("forwarded readable", drain(f.readable)),
        settled("forwarded writable", fill(f.writable, 1 << 20)),
      ]);
      const g = (got as PromiseFulfilledResult<{ bytes: number; ok: boolean; end: string }>).value;
      assert.equal(g.ok, true);
      assert.ok(g.bytes < 1_000_000);
      assert.match(g.end, /^error/, "the forwarded stream errors (not a clean EOF)");
      assert.equal(sent.status, "fulfilled");
      await settled("target sockets", target.ended());
      target.close();
      await settlesCleanly(w, base, "forwardOut reset");
      console.log(`mid-forward direct-tcpip: ${g.bytes} B through before the cut`);
    },
  );

  it(
    "local forward: cut mid-stream, the local socket is closed and the listener released",
    SLOW,
    async () => {
      const base = handles();
      const target = await patternServer(4 << 20);
      const { w, client } = await connected({ server: { handlers: [portForwardingHandler()] } });
      const fwd = await localForward(client, { host: "127.0.0.1", port: target.port }, {
        hostname: "127.0.0.1",
        port: 0,
      });
      const conn = await connectTcp("127.0.0.1", fwd.port);
      w.link.arm({ direction: "s2c", after: w.link.bytes.s2c + 1_000_000, fault: "fin" });
      const got = await settled("local socket", drain(conn.readable));
      const g = (got as PromiseFulfilledResult<{ bytes: number; ok: boolean }>).value;
      assert.equal(g.ok, true);
      assert.ok(g.bytes < 1_000_000);
      conn.close();
      await settled("target sockets", target.ended());
      fwd.unsubscribe();
      target.close();
      await settlesCleanly(w, base, "localForward fin");
      console.log(`mid-forward local: ${g.bytes} B through before the cut`);
    },
  );
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("faults: stalled socket", () => {
  it(
    "both directions stall after login: ClientAlive and ServerAlive end both sides",
    SLOW,
    async () => {
      const base = handles();
      const { w } = await connected({
        server: { clientAliveInterval: 0.2, clientAliveCountMax: 2 },
        client: { keepaliveInterval: 0.2, keepaliveCountMax: 2 },
      });
      w.link.now("c2s", "stall");
      w.link.now("s2c", "stall");
      const r = await settlesCleanly(w, base, "stalled after login");
      const s = await w.incoming.transport.closed;
      assert.equal(s.reason, DisconnectReason.CONNECTION_LOST);
      assert.match(s.message, /Timeout, client .* not responding/);
      assert.equal(r.client.reason, DisconnectReason.CONNECTION_LOST);
      assert.match(r.client.message, /Timeout, server .* not responding/);
      w.link.close();
    },
  );
  it(
    "the client stops reading mid-download: the server's blocked writes do not hold it",
    SLOW,
    async () => {
      const base = handles();
      const { w, client } = await connected({
        highWaterMark: 64 << 10,
        server: { clientAliveInterval: 0.2, clientAliveCountMax: 2 },
        client: { keepaliveInterval: 0.2, keepaliveCountMax: 2 },
      });
      const s = await client.spawn(`source ${16 << 20}`);
      w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
      const out = drain(s.stdout);
      fired.clear();
      w.link.arm({ direction: "s2c", after: w.link.bytes.s2c + 500_000, fault: "stall" });
      const o = await settled("stdout", out);
      await settled("exit", s.exit);
      const r = await settlesCleanly(w, base, "client stopped reading");
      const e = await w.incoming.transport.closed;
      assert.match(e.message, /Timeout, client .* not responding/);
      // Shutdown gives a peer that does not read 2 s in all (flush, then close), not 2 s each:
      // one 2 s guard fired (the server's flush); the client's shutdown was not blocked.
      assert.equal(fired.get("timeout 2000ms"), 1, "one 2 s shutdown guard fired");
      assert.equal(r.client.reason, DisconnectReason.CONNECTION_LOST);
      const got = (o as PromiseFulfilledResult<{ bytes: number; ok: boolean }>).value;
      assert.equal(got.ok, true);
      console.log(
        `stalled reader: client got ${got.bytes} B, server's writes resolved for ${sourced.bytes} B`,
      );
      w.link.close();
    },
  );
  it("the client stops sending during authentication: LoginGraceTime ends it", SLOW, async () => {
    const base = handles();
    const w = overMemory({
      server: { auth: { ...serverOptions().auth, loginGraceTime: 300 } },
      arm: { direction: "c2s", after: 2100, fault: "stall" },
    });
    const r = await settlesCleanly(w, base, "stalled in auth");
    assert.equal(r.connect.status, "rejected");
    assert.match((await w.incoming.transport.closed).message, /login grace time/);
    w.link.close();
  });
  it(
    "both directions stall inside the key exchange: LoginGraceTime and the client's timeout end it",
    SLOW,
    async () => {
      const base = handles();
      const w = overMemory({
        server: { auth: { ...serverOptions().auth, loginGraceTime: 300 } },
        client: { timeout: 400 },
        arm: { direction: "s2c", after: 1000, fault: "stall" },
      });
      w.link.now("c2s", "stall");
      const r = await settlesCleanly(w, base, "stalled in KEX");
      assert.equal(r.connect.status, "rejected");
      w.link.close();
    },
  );
});

describe("faults: half-closed connections", () => {
  it(
    "the client's data, then FIN: the server delivers every byte it got, then both sides close",
    SLOW,
    async () => {
      const base = handles();
      const { w, client } = await connected();
      // The handler reads slowly, so the data is still queued in the channel when the FIN comes.
      const s = await client.spawn("slowsink 30");
      w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
      const sent = await fill(s.stdin, 512 << 10);
      assert.equal(sent.end, "closed");
      await settles(() => w.link.bytes.c2s, 50, 3);
      w.link.now("c2s", "half-close");
      const before = received.at(-1)!.bytes;
      await settled("exit", s.exit);
      await settled("stdout", drain(s.stdout));
      const r = await settlesCleanly(w, base, "half-close c2s");
      const got = received.at(-1)!;
      console.log(
        `half-close: server handler had read ${before} B at the FIN, ${got.bytes} of ${sent.bytes} B in the end`,
      );
      assert.ok(before < sent.bytes, "bytes were still queued at the FIN");
      assert.equal(got.ok, true);
      assert.equal(
        got.bytes,
        sent.bytes,
        "every byte that came before the FIN reached the handler",
      );
      assert.equal(r.client.reason, DisconnectReason.CONNECTION_LOST);
    },
  );
});

describe("faults: slow readers (window backpressure)", () => {
  const WINDOW = 2 << 20; // DEFAULT_WINDOW
  const HWM = 64 << 10;
  it(
    "the client reads stdout slowly: the server's resolved writes stay within a window of it",
    SLOW,
    async () => {
      const base = handles();
      const { w, client } = await connected({ highWaterMark: HWM });
      const s = await client.spawn(`source ${6 << 20}`);
      w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
      let read = 0;
      let ahead = 0;
      const reader = s.stdout.getReader();
      const heap0 = process.memoryUsage().heapUsed;
      let heapMax = heap0;
      for (;;) {
        await sleep(2);
        const { value, done } = await reader.read();
        if (done) break;
        read += value.length;
        ahead = Math.max(ahead, sourced.bytes - read);
        heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
      }
      await s.exit;
      assert.equal(read, 6 << 20);
      console.log(
        `slow client reader: server ahead by at most ${ahead} B (window ${WINDOW}, pipes 2x${HWM}); heap +${
          ((heapMax - heap0) / 1e6).toFixed(1)
        } MB (noisy)`,
      );
      assert.ok(ahead <= WINDOW + 4 * HWM + 65536, `server ran ${ahead} B ahead`);
      await client.close();
      await settlesCleanly(w, base, "slow client reader");
    },
  );
  it(
    "the server reads stdin slowly: the client's resolved writes stay within a window of it",
    SLOW,
    async () => {
      const base = handles();
      const { w, client } = await connected({ highWaterMark: HWM });
      const s = await client.spawn("slowsink 2");
      w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
      const got = () => received.at(-1)!.bytes;
      const wr = s.stdin.getWriter();
      let ahead = 0;
      const total = 6 << 20;
      for (let i = 0; i < total; i += 32768) {
        await wr.write(pattern(32768, i));
        ahead = Math.max(ahead, i + 32768 - got());
      }
      await wr.close();
      await s.exit;
      assert.equal(got(), total);
      console.log(`slow server reader: client ahead by at most ${ahead} B (window ${WINDOW})`);
      assert.ok(ahead <= WINDOW + 4 * HWM + 65536, `client ran ${ahead} B ahead`);
      await client.close();
      await settlesCleanly(w, base, "slow server reader");
    },
  );
});

describe("faults: a slow link (the relay throttled)", () => {
  const WINDOW = 2 << 20;
  const HWM = 64 << 10;
  it(
    "each direction throttled in turn: transfers complete, the sender stays within a window",
    SLOW,
    async () => {
      const base = handles();
      const { w, client } = await connected({ highWaterMark: HWM });
      w.link.throttle("s2c", { chunk: 16 << 10, delayMs: 1 });
      const s = await client.spawn(`source ${3 << 20}`);
      w.watch.push(endings({ "client channel.requests$": s.channel.requests$ }));
      let read = 0;
      let ahead = 0;
      const reader = s.stdout.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        read += value.length;
        ahead = Math.max(ahead, sourced.bytes - read);
      }
      assert.equal(read, 3 << 20);
      await s.exit;
      w.link.throttle("c2s", { chunk: 16 << 10, delayMs: 1 });
      const up = await client.spawn("sink");
      const sent = await fill(up.stdin, 3 << 20);
      await up.exit;
      assert.equal(sent.end, "closed");
      assert.equal(received.at(-1)!.bytes, 3 << 20);
      console.log(`slow link: download, server ahead by at most ${ahead} B (window ${WINDOW})`);
      assert.ok(ahead <= WINDOW + 4 * HWM + 65536, `server ran ${ahead} B ahead`);
      await client.close();
      await settlesCleanly(w, base, "slow link");
    },
  );
});

describe("faults: over loopback TCP", () => {
  it(
    "listen() behind a TCP relay: cuts in the handshake and mid-download",
    { timeout: 60_000 },
    async () => {
      const base = handles();
      const server = await listen({ hostname: "127.0.0.1", port: 0, ...serverOptions() });
      const incoming: IncomingConnection[] = [];
      server.accept$.subscribe((c) => incoming.push(c));
      let plan: FaultPlan | undefined;
      const relay = await faultyTcp(server.port, (l) => plan && l.arm(plan));
      let runs = 0;
      for (
        const p of [
          { direction: "c2s", after: 700, fault: "reset" },
          { direction: "s2c", after: 1500, fault: "fin" },
          { direction: "s2c", after: 600_000, fault: "reset" },
          { direction: "c2s", after: 300_000, fault: "fin" },
        ] as FaultPlan[]
      ) {
        plan = p;
        const n = incoming.length;
        let ct: Transport | undefined;
        const watch: ReturnType<typeof endings>[] = [];
        const c = await settled(
          "connect",
          connect(clientOptions({
            host: "127.0.0.1",
            port: relay.port,
            onTransport: (t) => {
              ct = t;
              watch.push(watchTransport(t, "client"));
            },
          })),
        );
        while (incoming.length === n) await sleep(5);
        const inc = incoming[n];
        watch.push(watchTransport(inc.transport, "server"));
        if (c.status === "fulfilled") {
          const s = await c.value.spawn(`source ${4 << 20}`);
          const wrote = fill(s.stdin, 2 << 20);
          const out = await drain(s.stdout);
          assert.equal(out.ok, true);
          await settled("stdin", wrote);
          await settled("exit", s.exit);
        }
        await settled("client closed", ct!.closed);
        await settled("server closed", inc.transport.closed);
        await settled("relay", relay.links.at(-1)!.done);
        await sleep(20);
        assert.deepEqual(watch.flatMap((e) => e.wrong()), []);
        runs++;
      }
      relay.listener.close();
      await server.close();
      assert.deepEqual(unhandled.map(String), []);
      assert.deepEqual(await leftOver(base), [], "handles back to the baseline");
      console.log(`TCP: ${runs} cuts settled`);
    },
  );
});

describe("the fault helpers can fail", () => {
  it(
    "a leaked timer, a leaked socket and an observable that never ends are reported",
    SLOW,
    async () => {
      const base = handles();
      const t = setTimeout(() => {}, 60_000);
      const l = await listenTcp({ hostname: "127.0.0.1", port: 0 });
      const left = await leftOver(base, 200);
      assert.ok(left.some((x) => x.includes("timeout 60000ms")), `timer reported: ${left}`);
      assert.ok(left.some((x) => x.includes("file descriptor")), `socket reported: ${left}`);
      clearTimeout(t);
      l.close();
      assert.deepEqual(await leftOver(base), []);
      const e = endings({ never: { subscribe: () => {} } });
      assert.deepEqual(e.wrong(), ["never ended 0 times (never)"]);
    },
  );
});

// Our client against sshd killed mid-transfer: tests/sftp_client_interop_test.ts
// ("sshd killed mid-get"). Here, the other way round: OpenSSH's ssh killed.
describe(
  "faults: OpenSSH's ssh killed mid-transfer against our server",
  { skip: !findOpenSsh() },
  () => {
    it("kill -9 while stdin streams: the server ends the connection, every byte it read is right", {
      timeout: 60_000,
    }, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-faults-ssh-"));
      const keyFile = path.join(dir, "id");
      const pub = parsePublicKeyLine(await keygen(keyFile)).key;
      const base = handles();
      const server = await listen({
        hostname: "127.0.0.1",
        port: 0,
        ...serverOptions(),
        auth: {
          handlers: { publicKey: (_u, k) => k.fingerprint() === pub.fingerprint() },
          failureDelay: 1,
        },
      });
      const conns: ServerConnection[] = [];
      const watch: ReturnType<typeof endings>[] = [];
      server.accept$.subscribe((c) => {
        watch.push(watchTransport(c.transport, "server"), endings({ "server.event$": c.event$ }));
        c.authenticated.then((s) => conns.push(s), () => {});
      });
      const n = received.length;
      const child = spawn(
        findOpenSsh()!.ssh,
        testSshArgs(server.port, keyFile, "alice", ["-T", "127.0.0.1", "sink"]),
        {
          stdio: ["pipe", "ignore", "pipe"],
        },
      );
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin!.on("error", () => {});
      let offset = 0;
      const feed = (async () => {
        while (child.exitCode === null && child.signalCode === null) {
          const chunk = pattern(65536, offset);
          offset += chunk.length;
          // Yield after every write: Bun's write() may never ask to wait for "drain".
          const more = child.stdin!.write(chunk);
          await new Promise((r) => {
            if (more) return void setTimeout(r, 1);
            child.stdin!.once("drain", r).once("close", r);
            child.once("exit", r);
          });
        }
      })();
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      const deadline = Date.now() + 20_000; // a hang guard, not a timing claim
      while (received.length === n || received[n].bytes < 1_000_000) {
        assert.ok(
          Date.now() < deadline,
          `ssh sent under 1 MB in 20 s: ${stderr}, fed ${offset}, read ${received[n]?.bytes}`,
        );
        await sleep(10);
      }
      child.kill("SIGKILL");
      await settled("ssh exit", exited);
      await feed;
      assert.equal(conns.length, 1);
      const closed = await settled("server transport closed", conns[0].transport.closed);
      const e = (closed as PromiseFulfilledResult<DisconnectError>).value;
      assert.equal(e.reason, DisconnectReason.CONNECTION_LOST);
      const got = received[n];
      await sleep(50);
      assert.equal(got.ok, true, "every byte the handler read is the one ssh sent, in order");
      assert.ok(got.bytes <= offset, `read ${got.bytes} <= fed ${offset}`);
      await server.close();
      await sleep(20);
      assert.deepEqual(watch.flatMap((w) => w.wrong()), []);
      assert.deepEqual(unhandled.map(String), []);
      assert.deepEqual(await leftOver(base), [], "handles back to the baseline");
      fs.rmSync(dir, { recursive: true, force: true });
      console.log(
        `ssh killed: the server read ${got.bytes} B of ${offset} B fed to ssh; ${e.message}`,
      );
    });
  },
);
