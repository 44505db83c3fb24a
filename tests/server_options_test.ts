// ServerOptions that `rxssh serve` builds on, through serveConnection with our
// client over an in-memory pair: acceptEnv, permitTty, forceCommand (and its
// SSH_ORIGINAL_COMMAND), permitUserEnvironment's precedence, channel-open
// and session-request handlers, event$ (kex, userauth, session,
// channel-request, channel-open), the client address given to the
// publicKey handler, and handshakeTimeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../lib/client.ts";
import type { ChannelOpenError } from "../lib/connection/connection.ts";
import { accept, refuse } from "../lib/connection/handlers.ts";
import { OpenFailure } from "../lib/wire/connection_messages.ts";
import {
  acceptConnection,
  serveConnection,
  type ServerEvent,
  type ServerOptions,
  type ServerSession,
} from "../lib/server.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import type { DisconnectError } from "../lib/wire/errors.ts";
import { hostKey } from "./_transport_pair.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** Reports what the session got: kind, command, env, pty. */
async function report(s: ServerSession) {
  const w = s.stdout.getWriter();
  await w.write(te.encode(JSON.stringify({
    kind: s.kind,
    command: s.command,
    env: s.env,
    pty: s.pty !== undefined,
  })));
  w.releaseLock();
  await s.exit(0);
}

const PTY = { term: "xterm", cols: 80, rows: 24, widthPx: 0, heightPx: 0, modes: {} };

async function pair(
  server: Partial<ServerOptions> = {},
  o: { remoteAddress?: string; key?: PrivateKey; password?: string; events?: ServerEvent[] } = {},
) {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const stream = o.remoteAddress ? { ...b, remoteAddress: o.remoteAddress } as typeof b : b;
  const incoming = acceptConnection(stream, {
    hostKeys: [key],
    auth: {
      handlers: { password: (u, p) => u === "alice" && p === "wonderland" },
      failureDelay: 1,
    },
    exec: report,
    shell: report,
    ...server,
  });
  if (o.events) incoming.event$.subscribe((e) => o.events!.push(e));
  const serving = incoming.authenticated;
  const client = await connect({
    stream: a,
    username: "alice",
    ...(o.key ? { privateKeys: [o.key] } : { password: o.password ?? "wonderland" }),
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  return { client, server: serving };
}

const run = async (r: Promise<{ stdout: Uint8Array }>) => JSON.parse(td.decode((await r).stdout));

test('acceptEnv: only matching variables reach the session; default LANG and LC_*; ["*"] accepts all', async () => {
  const env = { LANG: "C.UTF-8", LC_ALL: "C", SECRET: "x", LC: "no" };
  const events: ServerEvent[] = [];
  const { client } = await pair({ acceptEnv: ["LANG", "LC_*"] }, { events });
  assert.deepEqual((await run(client.exec("x", { env }))).env, { LANG: "C.UTF-8", LC_ALL: "C" });
  assert.deepEqual(
    events.filter((e) => e.type === "channel-request" && !e.accepted)
      .map((e) => e.type === "channel-request" && e.name).sort(),
    ["LC", "SECRET"],
  );
  await client.close();
  const byDefault = await pair();
  assert.deepEqual((await run(byDefault.client.exec("x", { env }))).env, {
    LANG: "C.UTF-8",
    LC_ALL: "C",
  });
  await byDefault.client.close();
  const all = await pair({ acceptEnv: ["*"] });
  assert.deepEqual((await run(all.client.exec("x", { env }))).env, env);
  await all.client.close();
  const none = await pair({ acceptEnv: [] });
  assert.deepEqual((await run(none.client.exec("x", { env }))).env, {});
  await none.client.close();
});

test("permitTty false refuses every pty-req; the default grants it", async () => {
  const { client } = await pair({ permitTty: false });
  await assert.rejects(client.exec("x", { pty: PTY }), /server refused pty-req/);
  assert.equal((await run(client.exec("x"))).pty, false);
  await client.close();
  const ok = await pair();
  assert.equal((await run(ok.client.exec("x", { pty: PTY }))).pty, true);
  await ok.client.close();
});

test("forceCommand replaces exec, shell and subsystem; SSH_ORIGINAL_COMMAND is what was asked", async () => {
  const { client } = await pair({
    forceCommand: "/bin/forced",
    subsystems: { sftp: () => Promise.reject(new Error("not reached")) },
  });
  const e = await run(client.exec("rm -rf /"));
  assert.deepEqual(e, {
    kind: "exec",
    command: "/bin/forced",
    env: { SSH_ORIGINAL_COMMAND: "rm -rf /" },
    pty: false,
  });
  const sh = await client.shell();
  const shell = JSON.parse(await new Response(sh.stdout).text());
  assert.equal(shell.kind, "exec");
  assert.equal(shell.command, "/bin/forced");
  assert.equal(shell.env.SSH_ORIGINAL_COMMAND, undefined);
  const sub = await client.subsystem("sftp");
  const s = JSON.parse(await new Response(sub.stdout).text());
  assert.equal(s.command, "/bin/forced");
  assert.equal(s.env.SSH_ORIGINAL_COMMAND, "sftp");
  await client.close();
});

test("forceCommand wins over a key's command=; the key's environment= overrides the client's", async () => {
  const userKey = await generatePrivateKey("ssh-ed25519");
  const restrictions = { command: "/bin/from-key", environment: { LANG: "key", EXTRA: "1" } };
  const options = (o: Partial<ServerOptions>): Partial<ServerOptions> => ({
    auth: { handlers: { publicKey: () => restrictions }, failureDelay: 1 },
    ...o,
  });
  const forced = await pair(options({ forceCommand: "/bin/admin" }), { key: userKey });
  assert.equal((await run(forced.client.exec("ls"))).command, "/bin/admin");
  await forced.client.close();
  const keyed = await pair(options({ permitUserEnvironment: true }), { key: userKey });
  const r = await run(keyed.client.exec("ls", { env: { LANG: "client", LC_OTHER: "2" } }));
  assert.equal(r.command, "/bin/from-key");
  assert.deepEqual(r.env, { LANG: "key", LC_OTHER: "2", EXTRA: "1", SSH_ORIGINAL_COMMAND: "ls" });
  await keyed.client.close();
  const plain = await pair(options({}), { key: userKey });
  const p = await run(plain.client.exec("ls", { env: { LANG: "client" } }));
  assert.deepEqual(p.env, { LANG: "client", SSH_ORIGINAL_COMMAND: "ls" });
  await plain.client.close();
});

test("channel-open handlers answer other channel types; unclaimed ones are UNKNOWN_CHANNEL_TYPE", async () => {
  const seen: string[] = [];
  const { client } = await pair({
    handlers: {
      channelOpen: {
        "direct-tcpip-ish": (open) => {
          seen.push(open.type);
          return refuse(`${open.type} is not offered`, OpenFailure.ADMINISTRATIVELY_PROHIBITED);
        },
      },
    },
  });
  await assert.rejects(
    client.openChannel("direct-tcpip-ish"),
    (e: ChannelOpenError) => e.reason === 1 && /not offered/.test(e.message),
  );
  assert.deepEqual(seen, ["direct-tcpip-ish"]);
  assert.equal((await run(client.exec("still"))).command, "still");
  await client.close();
  const plain = await pair();
  await assert.rejects(plain.client.openChannel("x"), (e: ChannelOpenError) => e.reason === 3);
  await plain.client.close();
});

test("event$: kex, userauth failure and success, session starts and refusals", async () => {
  const events: ServerEvent[] = [];
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const incoming = acceptConnection(b, {
    hostKeys: [key],
    auth: {
      handlers: {
        publicKey: () => false,
        password: (u, p) => u === "alice" && p === "wonderland",
      },
      failureDelay: 1,
    },
    exec: report,
  });
  incoming.event$.subscribe((e) => events.push(e));
  const serving = incoming.authenticated;
  const userKey = await generatePrivateKey("ssh-ed25519");
  const client = await connect({
    stream: a,
    username: "alice",
    privateKeys: [userKey],
    password: "wonderland",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  await serving;
  const r = await run(client.exec("echo hi", { pty: PTY }));
  assert.equal(r.command, "echo hi");
  await assert.rejects(client.subsystem("nope"), /server refused subsystem/);
  await client.close();
  const kex = events.find((e) => e.type === "kex");
  assert.ok(kex && kex.type === "kex" && kex.kex.algorithms.kex.length > 0);
  assert.match(kex.peerVersion ?? "", /^SSH-2\.0-/);
  const auth = events.filter((e) => e.type === "userauth");
  assert.deepEqual(
    auth.map((e) => e.type === "userauth" && `${e.username} ${e.method} ${e.accepted}`),
    ["alice publickey false", "alice password true"],
  );
  assert.equal(
    auth[0].type === "userauth" && auth[0].publicKey?.fingerprint(),
    userKey.publicKey.fingerprint(),
  );
  const session = events.find((e) => e.type === "session");
  assert.deepEqual(session && { ...session, channelId: 0 }, {
    type: "session",
    channelId: 0,
    request: "exec",
    requested: "echo hi",
    kind: "exec",
    command: "echo hi",
    forced: false,
    pty: true,
  });
  assert.ok(
    events.some((e) =>
      e.type === "channel-request" && !e.accepted && e.request === "subsystem" && e.name === "nope"
    ),
  );
  // A session channel over maxSessions.
  const full: ServerEvent[] = [];
  const other = await pair({ maxSessions: 0 }, { events: full });
  await assert.rejects(other.client.exec("x"), (e: ChannelOpenError) => e.reason === 4);
  await other.client.close();
  assert.deepEqual(full.filter((e) => e.type === "channel-open"), [
    {
      type: "channel-open",
      channelType: "session",
      accepted: false,
      reason: 4,
      description: "too many sessions (MaxSessions 0)",
      error: undefined,
    },
  ]);
});

test("the publicKey handler gets the stream's remoteAddress, IPv4-mapped written as IPv4", async () => {
  const userKey = await generatePrivateKey("ssh-ed25519");
  const addresses: (string | undefined)[] = [];
  const { client } = await pair({
    auth: {
      handlers: {
        publicKey: (_u, _k, context) => {
          addresses.push(context.clientAddress);
          return true;
        },
      },
      failureDelay: 1,
    },
  }, { key: userKey, remoteAddress: "::ffff:192.0.2.7" });
  await client.close();
  assert.ok(addresses.length > 0);
  assert.ok(addresses.every((a) => a === "192.0.2.7"), String(addresses));
});

test("handshakeTimeout ends a connection whose key exchange never finishes", async () => {
  const [, b] = memoryPair();
  const started = Date.now();
  await assert.rejects(
    serveConnection(b, {
      hostKeys: [await hostKey("ssh-ed25519")],
      auth: { handlers: {} },
      handshakeTimeout: 200,
    }),
    (e: DisconnectError) => e instanceof Error,
  );
  assert.ok(Date.now() - started < 10_000);
});

test("session-request handlers: unclaimed types reach them; they can answer and add environment", async () => {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const seen: string[] = [];
  serveConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    handlers: {
      sessionRequest: {
        "auth-agent-req@openssh.com": (r, session) => {
          seen.push(r.type);
          session.setEnv("SSH_AUTH_SOCK", "/tmp/agent.test");
          return accept();
        },
        "made-up@example": (r) => void seen.push(r.type),
      },
    },
    exec: async (s) => {
      const w = s.stdout.getWriter();
      await w.write(new TextEncoder().encode(s.env.SSH_AUTH_SOCK ?? "unset"));
      w.releaseLock();
      await s.exit(0);
    },
  }).catch(() => {});
  const client = await connect({
    stream: a,
    username: "u",
    password: "p",
    hostKey: { fingerprint: key.publicKey.fingerprint() },
  });
  const r = await client.exec("x", {
    requests: [{ type: "auth-agent-req@openssh.com", required: true }, { type: "made-up@example" }],
  });
  assert.equal(new TextDecoder().decode(r.stdout), "/tmp/agent.test");
  assert.deepEqual(seen, ["auth-agent-req@openssh.com", "made-up@example"]);
  await client.close();
});
