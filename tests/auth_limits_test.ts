// Authentication limits of the library server, beside OpenSSH's sshd with the
// same inputs: "none" requests count toward MaxAuthTries after the first one
// (auth2.c userauth_finish).
import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { serveAuthentication } from "../lib/auth/server.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import { Transport } from "../lib/transport/transport.ts";
import { encodeSimpleAuthRequest } from "../lib/wire/auth_messages.ts";
import { DisconnectError, DisconnectReason } from "../lib/wire/errors.ts";
import { Msg } from "../lib/wire/message_numbers.ts";
import { findOpenSsh, startSshd } from "./_openssh.ts";
import { transportPair } from "./_transport_pair.ts";

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
