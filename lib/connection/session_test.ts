import { test } from "node:test";
import assert from "node:assert/strict";
import { WireError } from "../wire/errors.ts";
import type { Channel } from "./channel.ts";
import { decodeSessionRequest, sendExitStatus, SessionRequest } from "./session.ts";

test("decodeSessionRequest decodes every session request it knows (RFC 4254 §6)", () => {
  const pty = { term: "xterm", cols: 80, rows: 24, widthPx: 1, heightPx: 2, modes: { ECHO: 1 } };
  const cases: [string, Uint8Array, unknown][] = [
    ["exec", SessionRequest.exec.encode("ls -l"), { name: "exec", command: "ls -l" }],
    ["shell", new Uint8Array(0), { name: "shell" }],
    ["subsystem", SessionRequest.subsystem.encode("sftp"), {
      name: "subsystem",
      subsystem: "sftp",
    }],
    ["pty-req", SessionRequest.pty.encode(pty), { name: "pty-req", pty }],
    ["env", SessionRequest.env.encode("LANG", "C"), { name: "env", variable: "LANG", value: "C" }],
    [
      "window-change",
      SessionRequest.windowChange.encode({ cols: 100, rows: 30 }),
      { name: "window-change", cols: 100, rows: 30, widthPx: 0, heightPx: 0 },
    ],
    ["signal", SessionRequest.signal.encode("TERM"), { name: "signal", signal: "TERM" }],
    ["exit-status", SessionRequest.exitStatus.encode(3), { name: "exit-status", code: 3 }],
    [
      "exit-signal",
      SessionRequest.exitSignal.encode({ signal: "KILL", coreDumped: true, message: "oom" }),
      { name: "exit-signal", signal: "KILL", coreDumped: true, message: "oom" },
    ],
    ["x11-req", new Uint8Array([1, 2, 3]), { name: "x11-req" }],
  ];
  for (const [type, data, expected] of cases) {
    assert.deepEqual(decodeSessionRequest(type, data), expected, type);
  }
});

test("decodeSessionRequest: malformed data of a known type throws a WireError naming the field", () => {
  assert.throws(
    () => decodeSessionRequest("exec", new Uint8Array([0, 0, 0, 9, 0x61])),
    (e) => e instanceof WireError && e.field === "command",
  );
  assert.throws(
    () => decodeSessionRequest("exit-status", new Uint8Array([0, 0, 0, 1, 0])),
    (e) => e instanceof WireError && /exit-status/.test(e.message),
  );
});

/** A channel that records what sendExitStatus does to it, in order. */
function recording(): { channel: Channel; calls: string[] } {
  const calls: string[] = [];
  const channel = {
    localId: 7,
    drained: () => (calls.push("drained"), Promise.resolve()),
    request: (type: string, data: Uint8Array, o: { wantReply?: boolean }) => {
      const decoded = decodeSessionRequest(type, data);
      calls.push(`${type} ${JSON.stringify(decoded)} wantReply=${o.wantReply}`);
      return Promise.resolve(true);
    },
    writable: new WritableStream({ close: () => void calls.push("eof") }),
    close: () => (calls.push("close"), Promise.resolve()),
  } as unknown as Channel;
  return { channel, calls };
}

test("sendExitStatus: output drained, then exit-status or exit-signal, then EOF, then CLOSE if asked", async () => {
  const a = recording();
  await sendExitStatus(a.channel, 2);
  assert.deepEqual(a.calls, [
    "drained",
    'exit-status {"name":"exit-status","code":2} wantReply=false',
    "eof",
  ]);
  const b = recording();
  await sendExitStatus(b.channel, { signal: "TERM" }, { close: true });
  assert.deepEqual(b.calls, [
    "drained",
    'exit-signal {"name":"exit-signal","signal":"TERM","coreDumped":false,"message":""} wantReply=false',
    "eof",
    "close",
  ]);
});

test("sendExitStatus: a code that is not a uint32 is refused before anything is sent", async () => {
  for (const code of [-1, 1.5, 2 ** 32, NaN]) {
    const r = recording();
    await assert.rejects(
      sendExitStatus(r.channel, code),
      (e) => e instanceof RangeError && e.message.includes(`exit status ${code} on channel 7`),
    );
    assert.deepEqual(r.calls, []);
  }
});
