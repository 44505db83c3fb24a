// Authentication limits of the library server, beside OpenSSH's sshd with the
// same inputs: "none" requests count toward MaxAuthTries after the first one
// (auth2.c userauth_finish), and LoginGraceTime is one deadline from the
// accepted connection to the end of authentication (sshd's grace alarm).
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { serveAuthentication } from "../lib/auth/server.ts";
import { serveConnection } from "../lib/server.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import { Transport } from "../lib/transport/transport.ts";
import { encodeSimpleAuthRequest } from "../lib/wire/auth_messages.ts";
import { DisconnectError, DisconnectReason } from "../lib/wire/errors.ts";
import { Msg } from "../lib/wire/message_numbers.ts";
import { findOpenSsh, startSshd } from "./_openssh.ts";
import { hostKey, transportPair } from "./_transport_pair.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Sends "none" requests one at a time (each after the previous reply) until
 * the server disconnects or `max` were sent; counts USERAUTH_FAILURE replies.
 */
async function noneFlood(t: Transport, max: number) {
  await t.ready;
  await t.requestService("ssh-userauth");
  const reader = t.messages.getReader();
  let failures = 0;
  try {
    for (let i = 0; i < max; i++) {
      await t.send(
        encodeSimpleAuthRequest({ user: "flood", service: "ssh-connection", method: "none" }),
      );
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { failures, closed: true };
        if (value[0] === Msg.USERAUTH_FAILURE) break;
      }
      failures++;
    }
    return { failures, closed: false };
  } catch {
    return { failures, closed: true };
  } finally {
    reader.releaseLock();
  }
}

test("MaxAuthTries 3: repeated 'none' requests get 3 failures, the 4th is a disconnect (as sshd)", async () => {
  const { client, server } = await transportPair();
  const serving = serveAuthentication(server, {
    handlers: { password: () => false },
    maxAuthTries: 3,
    failureDelay: 1,
  });
  serving.catch(() => {});
  assert.deepEqual(await noneFlood(client, 20), { failures: 3, closed: true });
  await assert.rejects(
    serving,
    (e: DisconnectError) => e.reason === DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE,
  );
  const end = await client.closed;
  assert.equal(end.local, false);
});

test("a 'none' handler that says no counts too, after the first request", async () => {
  const { client, server } = await transportPair();
  const serving = serveAuthentication(server, {
    handlers: { none: () => false, password: () => false },
    maxAuthTries: 2,
    failureDelay: 1,
  });
  serving.catch(() => {});
  assert.deepEqual(await noneFlood(client, 20), { failures: 2, closed: true });
  await assert.rejects(serving, DisconnectError);
});

test("the DISCONNECT after too many failures quotes and cuts the user name", async () => {
  const { client, server } = await transportPair();
  const serving = serveAuthentication(server, {
    handlers: { password: () => false },
    maxAuthTries: 1,
    failureDelay: 1,
  });
  serving.catch(() => {});
  await client.ready;
  await client.requestService("ssh-userauth");
  const user = "x\nAccepted " + "u".repeat(250_000);
  await client.send(
    encodeSimpleAuthRequest({ user, service: "ssh-connection", method: "password", password: "" }),
  );
  const end = await client.closed;
  assert.equal(end.reason, DisconnectReason.NO_MORE_AUTH_METHODS_AVAILABLE);
  assert.ok(end.message.length < 300, `${end.message.length} characters`);
  // The server escaped the newline; our client quotes the peer's text once more (its backslash).
  assert.match(end.message, /for x\\\\x0aAccepted u+\.\.\.\(250011 bytes\)$/);
});

/** Runs serveConnection on one end of a memory pair; resolves with its outcome and lifetime. */
async function timedServer(grace: number) {
  const [a, b] = memoryPair();
  const key = await hostKey("ssh-ed25519");
  const started = Date.now();
  const serving = serveConnection(b, {
    hostKeys: [key],
    auth: { handlers: { password: () => false }, loginGraceTime: grace, failureDelay: 1 },
  });
  const outcome = serving.then(
    () => ({ error: undefined, lifetime: Date.now() - started }),
    (error: DisconnectError) => ({ error, lifetime: Date.now() - started }),
  );
  return { clientSide: a, started, outcome };
}

/** The outcome, or "still open" after `ms` (so that a missing deadline fails instead of hanging). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "still open"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"still open">((r) => timer = setTimeout(() => r("still open"), ms));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

test("loginGraceTime: a silent client is closed at the deadline", async () => {
  const grace = 2000;
  const { outcome, clientSide } = await timedServer(grace);
  const r = await within(outcome, 3 * grace);
  clientSide.writable.close().catch(() => {});
  assert.notEqual(r, "still open", "a silent client outlived 3 x LoginGraceTime");
  if (r === "still open") return;
  assert.ok(r.error instanceof DisconnectError, String(r.error));
  assert.match(r.error.message, /login grace time \(2000 ms\)/);
  assert.ok(r.lifetime >= grace - 50, `closed after ${r.lifetime} ms, before the deadline`);
  assert.ok(r.lifetime < 1.5 * grace, `closed after ${r.lifetime} ms`);
});

test("loginGraceTime: one deadline from accept, not a second one after a late key exchange", async () => {
  const grace = 2000;
  const { outcome, clientSide, started } = await timedServer(grace);
  // The client starts late (0.6 x grace), finishes its key exchange, then stalls in auth.
  await sleep(0.6 * grace);
  const client = new Transport(clientSide, { role: "client", verifyHostKey: () => true });
  await client.ready;
  const kexDone = Date.now() - started;
  await client.requestService("ssh-userauth");
  const r = await within(outcome, 3 * grace);
  assert.notEqual(r, "still open", "a stalled client outlived 3 x LoginGraceTime");
  if (r === "still open") return;
  assert.ok(kexDone < grace, `key exchange done after ${kexDone} ms`);
  assert.ok(r.error instanceof DisconnectError, String(r.error));
  assert.ok(r.lifetime < 1.5 * grace, `closed after ${r.lifetime} ms (kex done at ${kexDone})`);
  assert.equal((await client.closed).local, false);
});

const skip = findOpenSsh() ? false : "OpenSSH is not installed";

describe("the same inputs against OpenSSH sshd", { skip }, () => {
  it("sshd with MaxAuthTries 3 also answers 3 'none' failures, then disconnects", async () => {
    const sshd = await startSshd({ config: { MaxAuthTries: "3", LogLevel: "VERBOSE" } });
    try {
      const t = new Transport(await connectTcp("127.0.0.1", sshd.port), {
        role: "client",
        verifyHostKey: () => true,
      });
      assert.deepEqual(await noneFlood(t, 20), { failures: 3, closed: true });
      // sshd's log line may reach us a moment after the disconnect.
      for (let i = 0; i < 100 && !/maximum authentication attempts/.test(sshd.log()); i++) {
        await sleep(50);
      }
      assert.match(sshd.log(), /maximum authentication attempts exceeded for invalid user flood/);
    } finally {
      await sshd.stop();
    }
  });
});
