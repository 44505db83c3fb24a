// Per-connection and server-wide limits on channels (all types) and on
// forwarded listeners (tcpip-forward and streamlocal-forward together):
// refusals carry RESOURCE_SHORTAGE for channel opens (RFC 4254 §5.1) and
// REQUEST_FAILURE for global requests (§4), and the counts come back down
// when channels close, listeners are cancelled and connections end.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connect, type SshClient } from "../lib/client.ts";
import { acceptChannel } from "../lib/connection/handlers.ts";
import { ChannelOpenError } from "../lib/connection/connection.ts";
import { portForwardingHandler } from "../lib/forward/server.ts";
import { ListenAddressCodec, StreamLocalPathCodec } from "../lib/forward/wire.ts";
import { listen, type ListenOptions, type ServerOptions, type SshServer } from "../lib/server.ts";
import { OpenFailure } from "../lib/wire/connection_messages.ts";
import { hostKey } from "./_transport_pair.ts";

const TYPE = "x-test@example.com";

async function server(o: Partial<ServerOptions & ListenOptions>): Promise<SshServer> {
  return await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [await hostKey("ssh-ed25519")],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    handlers: { channelOpen: { [TYPE]: () => acceptChannel(() => {}) } },
    ...o,
  });
}

const login = (s: SshServer): Promise<SshClient> =>
  connect({
    host: "127.0.0.1",
    port: s.port,
    username: "u",
    password: "p",
    hostKey: { verify: () => true },
  });

async function refusedOpen(c: SshClient, description: RegExp) {
  const e = await c.openChannel(TYPE).then(() => undefined, (e) => e);
  assert.ok(e instanceof ChannelOpenError, String(e));
  assert.equal(e.reason, OpenFailure.RESOURCE_SHORTAGE);
  assert.match(e.description, description);
}

/** Retries `f` until it resolves (a close is seen by the server a moment later), at most 2 s. */
async function eventually<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await f();
    } catch (e) {
      if (i >= 100) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

test("per connection: maxChannels bounds every type, RESOURCE_SHORTAGE past it", async () => {
  const small = await server({ maxChannels: 3, maxSessions: 10 });
  const d = await login(small);
  try {
    await d.openChannel("session");
    await d.openChannel(TYPE);
    await d.openChannel(TYPE);
    await refusedOpen(d, /^too many open channels \(3\)$/);
    const e = await d.openChannel("session").then(() => undefined, (e) => e);
    assert.equal(
      (e as ChannelOpenError).reason,
      OpenFailure.RESOURCE_SHORTAGE,
      "sessions count too",
    );
  } finally {
    await d.close();
    await small.close({ graceMs: 0 });
  }
});

test("server-wide: maxServerChannels across connections; counts drop on close and on disconnect", async () => {
  const s = await server({ maxServerChannels: 4 });
  const a = await login(s);
  const b = await login(s);
  try {
    const mine = [await a.openChannel(TYPE), await a.openChannel(TYPE)];
    await b.openChannel(TYPE);
    await b.openChannel(TYPE);
    await refusedOpen(b, /^too many open channels on this server \(4\)$/);
    await refusedOpen(a, /on this server \(4\)/);
    await mine[0].close();
    await eventually(() => b.openChannel(TYPE));
    await refusedOpen(b, /on this server/);
    await a.close(); // its last channel goes with it
    await eventually(() => b.openChannel(TYPE));
    await refusedOpen(b, /on this server/);
  } finally {
    await b.close();
    await s.close({ graceMs: 0 });
  }
});

test("forwarded listeners: maxServerListeners across connections, TCP and Unix together; REQUEST_FAILURE", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-listener-limit-"));
  const s = await server({
    handlers: [portForwardingHandler({ maxServerListeners: 2, maxListeners: 5 })],
  });
  const a = await login(s);
  const b = await login(s);
  const tcp = (c: SshClient) =>
    c.connection.globalRequest(
      "tcpip-forward",
      ListenAddressCodec.encode({ address: "127.0.0.1", port: 0 }),
    );
  const unix = (c: SshClient, name: string) =>
    c.connection.globalRequest(
      "streamlocal-forward@openssh.com",
      StreamLocalPathCodec.encode(path.join(dir, name)),
    );
  try {
    const first = await tcp(a);
    assert.equal(first.ok, true);
    assert.equal((await unix(a, "a.sock")).ok, true);
    assert.equal((await tcp(b)).ok, false, "the server holds 2 listeners: refused");
    assert.equal((await unix(b, "b.sock")).ok, false);
    assert.equal(fs.existsSync(path.join(dir, "b.sock")), false);
    // a cancels its TCP listener: b gets one.
    const port = new DataView(first.data.buffer, first.data.byteOffset).getUint32(0);
    const cancel = await a.connection.globalRequest(
      "cancel-tcpip-forward",
      ListenAddressCodec.encode({ address: "127.0.0.1", port }),
    );
    assert.equal(cancel.ok, true);
    assert.equal((await tcp(b)).ok, true);
    assert.equal((await tcp(b)).ok, false);
    await a.close(); // its Unix listener goes with it
    assert.equal(
      (await eventually(async () => {
        const r = await unix(b, "b2.sock");
        if (!r.ok) throw new Error("still full");
        return r;
      })).ok,
      true,
    );
  } finally {
    await b.close();
    await s.close({ graceMs: 0 });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
