// listen({ proxyProtocol }) over real loopback sockets: the header is read
// before the server sends a byte, the carried address is the client's
// (accept$, from= in authorized_keys), untrusted peers and late headers are
// closed without a banner. And SshServer.close({ graceMs }).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect } from "../lib/client.ts";
import { type IncomingConnection, listen, type ServerSession } from "../lib/server.ts";
import { authorizedKeysHandler } from "../lib/auth/authorized_keys_policy.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import { ProxyProtocolError } from "../lib/runtime/proxy_protocol.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { formatPublicKeyLine } from "../lib/keys/public_key_file.ts";
import { DisconnectReason } from "../lib/wire/errors.ts";
import { hostKey } from "./_transport_pair.ts";
import { startServe } from "../lib/cli/serve.ts";
import { OptionError } from "../lib/cli/options.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const td = new TextDecoder();

async function server(trusted: string[], authorizedKeys: string) {
  const key = await hostKey("ssh-ed25519");
  const s = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [key],
    proxyProtocol: { trusted, timeoutMs: 400 },
    auth: {
      handlers: { publicKey: authorizedKeysHandler({ load: () => authorizedKeys }) },
      failureDelay: 1,
    },
    exec: async (session: ServerSession) => {
      const w = session.stdout.getWriter();
      await w.write(enc(`ran ${session.command}`));
      w.releaseLock();
      await session.exit(0);
    },
  });
  return { s, fingerprint: key.publicKey.fingerprint() };
}

/** A raw socket from `localAddress`: what it receives, and when it is closed. */
function rawSocket(port: number, localAddress = "127.0.0.1") {
  const sock = net.connect({ host: "127.0.0.1", port, localAddress });
  const received: Buffer[] = [];
  sock.on("data", (d) => received.push(d));
  sock.on("error", () => {});
  const closed = new Promise<number>((resolve) => sock.on("close", () => resolve(Date.now())));
  return { sock, received, closed };
}

test("PROXY v1 and v2: the carried address is the client's (accept$, from=)", async () => {
  const user = await generatePrivateKey("ssh-ed25519");
  const line = formatPublicKeyLine(user.publicKey);
  const { s, fingerprint } = await server(["127.0.0.0/8"], `from="192.0.2.7" ${line}`);
  const seen: IncomingConnection[] = [];
  s.accept$.subscribe((c) => seen.push(c));
  const login = async (header: Uint8Array) => {
    const conn = await connectTcp("127.0.0.1", s.port);
    const w = conn.writable.getWriter();
    await w.write(header);
    w.releaseLock();
    return connect({
      stream: conn,
      username: "alice",
      privateKeys: [user],
      hostKey: { fingerprint },
    });
  };
  try {
    const c1 = await login(enc("PROXY TCP4 192.0.2.7 198.51.100.1 50123 22\r\n"));
    assert.equal(td.decode((await c1.exec("id")).stdout), "ran id");
    await c1.close();
    assert.equal(seen.length, 1);
    assert.equal(seen[0].remoteAddress, "192.0.2.7");
    assert.equal(seen[0].remotePort, 50123);
    assert.equal((await seen[0].proxied)!.header.version, 1);
    // v2 carrying another client: from="192.0.2.7" refuses it.
    const sig = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
    const v2 = new Uint8Array([
      ...sig,
      0x21,
      0x11,
      0,
      12,
      192,
      0,
      2,
      8,
      127,
      0,
      0,
      1,
      0x30,
      0x39,
      0,
      22,
    ]);
    await assert.rejects(login(v2), /authentication failed|publickey/i);
    assert.equal(seen[1].remoteAddress, "192.0.2.8");
    assert.equal(seen[1].remotePort, 12345);
  } finally {
    await s.close();
  }
});

test("untrusted peer and no header in time: closed, not a byte sent (no SSH banner)", async () => {
  const { s } = await server(["127.0.0.2"], "");
  const rejected: unknown[] = [];
  s.rejected$.subscribe((e) => rejected.push(e));
  try {
    // From 127.0.0.1, not trusted: closed at once, even with a well-formed header.
    const a = rawSocket(s.port);
    a.sock.write("PROXY TCP4 192.0.2.7 198.51.100.1 50123 22\r\n");
    await a.closed;
    assert.equal(Buffer.concat(a.received).length, 0);
    // From 127.0.0.2, trusted, but silent: nothing is sent while the server waits, then it closes.
    const started = Date.now();
    const b = rawSocket(s.port, "127.0.0.2");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(Buffer.concat(b.received).length, 0, "the server spoke before the header");
    const closedAt = await b.closed;
    assert.equal(Buffer.concat(b.received).length, 0);
    assert.ok(closedAt - started >= 350 && closedAt - started < 3000, `${closedAt - started} ms`);
    // An SSH client talking straight to the server is refused at its first bytes.
    const c = rawSocket(s.port, "127.0.0.2");
    c.sock.write("SSH-2.0-OpenSSH_9.2\r\n");
    await c.closed;
    assert.equal(Buffer.concat(c.received).length, 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rejected.length, 3);
    for (const e of rejected) assert.ok(e instanceof ProxyProtocolError);
    assert.match(String(rejected[0]), /from 127\.0\.0\.1: not a trusted proxy address/);
    assert.match(String(rejected[1]), /from 127\.0\.0\.2: no complete PROXY header within 400 ms/);
    assert.match(String(rejected[2]), /expected a PROXY header, got "SSH-2\.0-OpenSSH_"/);
  } finally {
    await s.close();
  }
});

test("close({ graceMs }): refuses new connections, lets a session finish, disconnects the rest", async () => {
  const key = await hostKey("ssh-ed25519");
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  const s = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: async (session: ServerSession) => {
      if (session.command === "slow") await released;
      if (session.command === "forever") await new Promise(() => {});
      await session.exit(0);
    },
  });
  const login = () =>
    connect({
      host: "127.0.0.1",
      port: s.port,
      username: "u",
      password: "p",
      hostKey: { fingerprint: key.publicKey.fingerprint() },
    });
  // A session that finishes within the grace period: close waits for it, nobody is disconnected.
  const a = await login();
  const slow = a.exec("slow");
  await new Promise((r) => setTimeout(r, 50));
  const closing = s.close({ graceMs: 5000 });
  await assert.rejects(login(), /ECONNREFUSED|refused|connect/i);
  setTimeout(release, 200);
  assert.equal((await slow).code, 0);
  await a.close();
  await closing;

  // One that does not: disconnected BY_APPLICATION with the message once the grace is over.
  const s2 = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: () => new Promise(() => {}),
  });
  const b = await connect({
    host: "127.0.0.1",
    port: s2.port,
    username: "u",
    password: "p",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  b.exec("forever").catch(() => {});
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await s2.close({ graceMs: 300, message: "maintenance" });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 290 && elapsed < 3000, `${elapsed} ms`);
  const end = await b.transport.closed;
  assert.equal(end.reason, DisconnectReason.BY_APPLICATION);
  assert.match(end.message, /maintenance/);
});

test("a bad trusted network is refused up front: listen throws, rxssh serve exits 2", async () => {
  const key = await hostKey("ssh-ed25519");
  await assert.rejects(
    listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [key],
      auth: { handlers: {} },
      proxyProtocol: { trusted: ["10.0.0.1/8"] },
    }),
    /proxyProtocol\.trusted: "10\.0\.0\.1\/8" is not an address or a CIDR network/,
  );
  await assert.rejects(
    startServe([
      "-p",
      "0",
      "-o",
      "ListenAddress=127.0.0.1",
      "-o",
      "ProxyProtocol=127.0.0.1,lb.example",
    ]),
    (e) =>
      e instanceof OptionError && /ProxyProtocol: "lb\.example" is not an address/.test(e.message),
  );
});
