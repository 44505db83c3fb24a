// The client's first channel after authentication, against a server that
// sends a request asking nothing of the client (OpenSSH's hostkeys-00) while
// the client waits for its open confirmation (issue 10, item 8). sshd runs
// Nagle's algorithm outside pty sessions: it holds the confirmation until
// that request's segment is acknowledged, so the client must send a packet
// in return (SSH_MSG_IGNORE) rather than leave the ACK to its delayed-ACK
// timer. Checked in messages, not time: the scripted server sends the
// request, then a keepalive@openssh.com probe (want_reply true) that the
// client answers in any case, and withholds the confirmation until that
// answer; what the client sent in between is what is asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../lib/client.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import type { ByteStreamPair } from "../lib/runtime/types.ts";
import { Transport } from "../lib/transport/transport.ts";
import {
  decodeChannelOpen,
  decodeChannelRequest,
  encodeChannelOpenConfirmation,
  encodeChannelRequest,
  encodeChannelSimple,
  encodeGlobalRequest,
} from "../lib/wire/connection_messages.ts";
import { Msg } from "../lib/wire/message_numbers.ts";
import { SshWriter } from "../lib/wire/writer.ts";
import { hostKey } from "./_transport_pair.ts";

/** A server transport whose messages are read one at a time, each checked for its number. */
async function scriptedServer(stream: ByteStreamPair) {
  const key = await hostKey("ssh-ed25519");
  const t = new Transport(stream, { role: "server", hostKeys: [key] });
  let ignores = 0;
  t.ignore$.subscribe(() => ignores++);
  const reader = t.messages.getReader();
  const expect = async (msg: number): Promise<Uint8Array> => {
    const { value, done } = await reader.read();
    if (done) throw new Error(`connection closed while waiting for message ${msg}`);
    assert.equal(value[0], msg, `expected message ${msg} from the client, got ${value[0]}`);
    return value;
  };
  /**
   * Sends a want_reply=false request (as sshd sends hostkeys-00 after
   * authentication), then a keepalive probe, and returns how many IGNOREs
   * the client sent before its answer to the probe. The transport emits
   * ignore$ as it dispatches each packet, in order, so the count is final
   * when the probe's REQUEST_FAILURE is read.
   */
  const unsolicited = async (): Promise<number> => {
    const before = ignores;
    const blob = new SshWriter(64).string(key.publicKey.blob).finish();
    await t.send(
      encodeGlobalRequest({ name: "hostkeys-00@openssh.com", wantReply: false, data: blob }),
    );
    await t.send(
      encodeGlobalRequest({
        name: "keepalive@openssh.com",
        wantReply: true,
        data: new Uint8Array(0),
      }),
    );
    await expect(Msg.REQUEST_FAILURE);
    return ignores - before;
  };
  return { t, expect, unsolicited };
}

test("an unsolicited request while the open waits for its confirmation is answered with an IGNORE", async () => {
  const [a, b] = memoryPair();
  const server = await scriptedServer(b);
  const script = (async () => {
    const { t, expect, unsolicited } = server;
    await expect(Msg.USERAUTH_REQUEST); // "none"
    await t.send(new Uint8Array([Msg.USERAUTH_SUCCESS]));
    const open = decodeChannelOpen(await expect(Msg.CHANNEL_OPEN));
    const whileWaiting = await unsolicited(); // the confirmation is withheld until here
    const peer = open.sender;
    await t.send(encodeChannelOpenConfirmation({
      recipient: peer,
      sender: 0,
      window: 1 << 20,
      maxPacket: 32768,
    }));
    assert.equal(decodeChannelRequest(await expect(Msg.CHANNEL_REQUEST)).type, "exec");
    await t.send(encodeChannelSimple(Msg.CHANNEL_SUCCESS, peer));
    const status = new SshWriter(8).uint32(0).finish();
    await t.send(
      encodeChannelRequest({
        recipient: peer,
        type: "exit-status",
        wantReply: false,
        data: status,
      }),
    );
    await t.send(encodeChannelSimple(Msg.CHANNEL_EOF, peer));
    await t.send(encodeChannelSimple(Msg.CHANNEL_CLOSE, peer));
    await expect(Msg.CHANNEL_EOF);
    await expect(Msg.CHANNEL_CLOSE);
    // Nothing awaited any more: the same request now gets nothing back.
    const whileIdle = await unsolicited();
    return { whileWaiting, whileIdle };
  })().catch(async (e) => {
    await server.t.disconnect(); // the client stops waiting; the script's error is reported
    throw e;
  });
  script.catch(() => {});
  const client = await connect({ stream: a, username: "u", hostKey: { verify: () => true } });
  try {
    const exec = client.exec("true");
    exec.catch(() => {});
    const { whileWaiting, whileIdle } = await script;
    assert.equal((await exec).code, 0);
    assert.equal(
      whileWaiting,
      1,
      "the client must send a packet (one SSH_MSG_IGNORE) after a request that wants no reply " +
        "arrives while it waits for its channel open confirmation",
    );
    assert.equal(whileIdle, 0, "no IGNORE when the client waits for nothing");
  } finally {
    await client.close();
    await server.t.closed;
  }
});
