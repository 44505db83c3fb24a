// Peer-controlled text in DISCONNECT descriptions and error messages is
// escaped and cut (issue 10, item 5): a 208 KB list of unknown KEX names must
// not come back in the DISCONNECT or the log, nor a newline forge a log line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeDisconnect, encodeDisconnect } from "../wire/transport_messages.ts";
import { type DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { Msg } from "../wire/message_numbers.ts";
import { SshWriter } from "../wire/writer.ts";
import { kexInitPayload, rawAgainst } from "../../tests/_transport_pair.ts";

/** Whether `s` holds a C0 or C1 control character or DEL. */
const hasControl = (s: string) =>
  [...s].some((c) =>
    c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f)
  );

const kexInit = (kexAlgorithms: string[]) => kexInitPayload({ kexAlgorithms });

test("a 208 KB list of unknown KEX names is cut in the DISCONNECT and the error, with its length", async () => {
  const names = Array.from({ length: 9_000 }, (_, i) => `unknown-kex-method-${i}`);
  const list = names.join(",");
  assert.ok(list.length > 200_000 && list.length < 256 * 1024 - 1000);
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.line();
  await raw.out.write(kexInit(names));
  const d = decodeDisconnect(await raw.until(Msg.DISCONNECT));
  assert.equal(d.reason, DisconnectReason.KEY_EXCHANGE_FAILED);
  assert.ok(d.description.length < 1024, `DISCONNECT description of ${d.description.length}`);
  assert.match(
    d.description,
    /no matching key exchange method: client offered \[unknown-kex-method-0,/,
  );
  assert.ok(d.description.includes(`...(${list.length} bytes)`), d.description);
  const e = await transport.closed;
  assert.ok(e.message.length < 1024, `error message of ${e.message.length}`);
  assert.equal(e.description, d.description);
});

test("an empty name in a huge name-list: the WireError quotes a bounded part of it", async () => {
  const list = "a,".repeat(100_000) + ",b";
  const w = new SshWriter().byte(Msg.KEXINIT).raw(new Uint8Array(16)).string(list);
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  await raw.out.write(w.finish());
  const e = await transport.closed;
  assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
  assert.match(e.message, /contains an empty name/);
  assert.ok(e.message.length < 1024, `error message of ${e.message.length}`);
});

test("a peer's DISCONNECT description with a newline is escaped in the error message, raw in description", async () => {
  const { raw, transport } = await rawAgainst({ role: "server" });
  await raw.raw("SSH-2.0-raw\r\n");
  const forged = "bye\nAccepted publickey for root from 6.6.6.6 port 1 ssh2" + "x".repeat(5000);
  await raw.out.write(
    encodeDisconnect({
      reason: DisconnectReason.BY_APPLICATION,
      description: forged,
      language: "",
    }),
  );
  const e: DisconnectError = await transport.closed;
  assert.equal(e.local, false);
  assert.equal(e.description, forged, "the description stays as received for applications");
  assert.equal(hasControl(e.message), false, e.message);
  assert.match(e.message, /bye\\x0aAccepted publickey/);
  assert.ok(e.message.length < 600, `error message of ${e.message.length}`);
});

test("identification lines: control characters are escaped in the error and the DISCONNECT", async () => {
  {
    const { raw, transport } = await rawAgainst({ role: "server" });
    await raw.raw("SSH-1.5\x1b[31m-evil\r\n");
    const e = await transport.closed;
    assert.equal(e.reason, DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED);
    assert.equal(hasControl(e.message), false, e.message);
    assert.match(e.message, /"1\.5\\x1b\[31m"/);
  }
  {
    const { raw, transport } = await rawAgainst({ role: "server" });
    await raw.raw("\x1b]0;owned\x07 GET /\r\n");
    const e = await transport.closed;
    assert.equal(e.reason, DisconnectReason.PROTOCOL_ERROR);
    assert.equal(hasControl(e.message), false, e.message);
    assert.match(e.message, /client sent "\\x1b\]0;owned\\x07 GET \/"/);
  }
});
