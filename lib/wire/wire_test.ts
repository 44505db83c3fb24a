import { test } from "node:test";
import assert from "node:assert/strict";
import { SshReader } from "./reader.ts";
import { encodeMpintBytes, SshWriter } from "./writer.ts";
import { WireError } from "./errors.ts";
import {
  decodeDebug,
  decodeDisconnect,
  decodeExtInfo,
  decodeGexGroup,
  decodeGexRequest,
  decodeIgnore,
  decodeKexInit,
  decodeKexInitValue,
  decodeKexReply,
  decodeService,
  decodeUnimplemented,
  encodeDebug,
  encodeDisconnect,
  encodeExtInfo,
  encodeGexGroup,
  encodeGexRequest,
  encodeIgnore,
  encodeKexInit,
  encodeKexInitValue,
  encodeKexReply,
  encodeService,
  encodeUnimplemented,
} from "./transport_messages.ts";
import { Msg } from "./message_numbers.ts";

/** The same bytes at a non-zero byteOffset inside a larger buffer. */
function offsetView(b: Uint8Array, offset = 13): Uint8Array {
  const big = new Uint8Array(b.length + offset + 7).fill(0xee);
  big.set(b, offset);
  return big.subarray(offset, offset + b.length);
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

test("RFC 4251 §5 mpint examples encode and decode exactly", () => {
  const cases: [bigint, string][] = [
    [0n, "00 00 00 00"],
    [0x9a378f9b2e332a7n, "00 00 00 08 09 a3 78 f9 b2 e3 32 a7"],
    [0x80n, "00 00 00 02 00 80"],
    [-0x1234n, "00 00 00 02 ed cc"],
    [-0xdeadbeefn, "00 00 00 05 ff 21 52 41 11"],
  ];
  for (const [v, want] of cases) {
    const bytes = new SshWriter().mpint(v).finish();
    assert.equal(hex(bytes), want, `encode ${v}`);
    assert.equal(new SshReader(offsetView(bytes)).mpint("x"), v, `decode ${v}`);
  }
  assert.equal(hex(encodeMpintBytes(new Uint8Array([0, 0, 0x80]))), "00 00 00 02 00 80");
  assert.equal(
    hex(new SshReader(offsetView(encodeMpintBytes(new Uint8Array([0x80])))).mpintBytes("x")),
    "80",
  );
});

test("mpint with a superfluous leading byte or a negative value where unsigned is required is rejected", () => {
  assert.throws(() => new SshReader(new Uint8Array([0, 0, 0, 2, 0, 0x7f])).mpint("e"), WireError);
  assert.throws(
    () => new SshReader(new Uint8Array([0, 0, 0, 1, 0x80])).mpintBytes("f"),
    /negative/,
  );
});

test("RFC 4251 §5 name-list examples", () => {
  const w = new SshWriter().nameList([]).nameList(["zlib"]).nameList(["zlib", "none"]).finish();
  assert.equal(
    hex(w),
    "00 00 00 00 00 00 00 04 7a 6c 69 62 00 00 00 09 7a 6c 69 62 2c 6e 6f 6e 65",
  );
  const r = new SshReader(offsetView(w));
  assert.deepEqual([r.nameList("a"), r.nameList("b"), r.nameList("c")], [[], ["zlib"], [
    "zlib",
    "none",
  ]]);
  r.end("lists");
  assert.throws(
    () => new SshReader(new SshWriter().string("a,,b").finish()).nameList("kex"),
    /empty name/,
  );
  assert.throws(
    () => new SshReader(new SshWriter().string("a\x01").finish()).nameList("kex"),
    /US-ASCII/,
  );
});

test("every primitive round-trips on offset views, and uint64/uint32 are big-endian", () => {
  const b = new SshWriter(1).byte(7).boolean(true).uint32(0xdeadbeef).uint64(2n ** 63n + 5n).string(
    "héllo",
  )
    .finish();
  const r = new SshReader(offsetView(b));
  assert.equal(r.byte("b"), 7);
  assert.equal(r.boolean("bool"), true);
  assert.equal(r.uint32("u32"), 0xdeadbeef);
  assert.equal(r.uint64("u64"), 2n ** 63n + 5n);
  assert.equal(r.utf8("s"), "héllo");
  r.end("all");
});

test("truncated input throws WireError naming the field and the offset", () => {
  const b = new SshWriter().uint32(1).string("abcdef").finish();
  for (let cut = 5; cut < b.length; cut++) {
    const r = new SshReader(offsetView(b.subarray(0, cut)));
    r.uint32("first");
    assert.throws(() => r.string("host key"), (e: WireError) => {
      assert.ok(e instanceof WireError);
      assert.equal(e.field, "host key");
      assert.equal(e.offset, 4);
      return true;
    });
  }
  assert.throws(
    () => new SshReader(new Uint8Array([0xff, 0xff, 0xff, 0xff])).string("s"),
    /4294967295 exceeds/,
  );
  assert.throws(
    () => new SshReader(new Uint8Array([1, 2])).uint32("n"),
    /needs 4 bytes but only 2/,
  );
  assert.throws(
    () => new SshReader(new SshWriter().string(new Uint8Array([0xc3])).finish()).utf8("msg"),
    /UTF-8/,
  );
});

const kexinit = {
  cookie: Uint8Array.from({ length: 16 }, (_, i) => i),
  kexAlgorithms: ["curve25519-sha256", "ext-info-c"],
  serverHostKeyAlgorithms: ["ssh-ed25519", "rsa-sha2-512"],
  ciphersClientToServer: ["aes128-ctr"],
  ciphersServerToClient: ["aes256-ctr"],
  macsClientToServer: ["hmac-sha2-256"],
  macsServerToClient: ["hmac-sha2-512"],
  compressionClientToServer: ["none"],
  compressionServerToClient: ["none", "zlib"],
  languagesClientToServer: [],
  languagesServerToClient: ["en"],
  firstKexPacketFollows: true,
};

test("each transport message round-trips on an offset view, and fails cleanly on every truncation", () => {
  const cases: [Uint8Array, (p: Uint8Array) => unknown, unknown][] = [
    [encodeKexInit(kexinit), decodeKexInit, kexinit],
    [encodeDisconnect({ reason: 2, description: "bad ∂", language: "en" }), decodeDisconnect, {
      reason: 2,
      description: "bad ∂",
      language: "en",
    }],
    [encodeIgnore("xyz"), decodeIgnore, new TextEncoder().encode("xyz")],
    [encodeDebug({ alwaysDisplay: true, message: "m", language: "" }), decodeDebug, {
      alwaysDisplay: true,
      message: "m",
      language: "",
    }],
    [encodeUnimplemented(0xfffffffe), decodeUnimplemented, 0xfffffffe],
    [
      encodeService(Msg.SERVICE_REQUEST, "ssh-userauth"),
      (p) => decodeService(Msg.SERVICE_REQUEST, p),
      "ssh-userauth",
    ],
    [
      encodeExtInfo(new Map([["server-sig-algs", new Uint8Array([97])]])),
      decodeExtInfo,
      new Map([[
        "server-sig-algs",
        new Uint8Array([97]),
      ]]),
    ],
    [encodeGexRequest({ min: 2048, n: 3072, max: 8192 }), decodeGexRequest, {
      min: 2048,
      n: 3072,
      max: 8192,
    }],
    [encodeGexGroup(0xffffffffffffffc5n, 2n), decodeGexGroup, { p: 0xffffffffffffffc5n, g: 2n }],
  ];
  for (const [bytes, decode, want] of cases) {
    assert.deepEqual(decode(offsetView(bytes)), want);
    // Truncations (DISCONNECT/DEBUG tolerate a missing language tag; IGNORE a missing string).
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        decode(offsetView(bytes.subarray(0, cut)));
      } catch (e) {
        assert.ok(e instanceof WireError, `truncated at ${cut}: ${e}`);
      }
    }
  }
  // KEXINIT truncated anywhere must fail (no optional fields).
  const k = encodeKexInit(kexinit);
  for (let cut = 0; cut < k.length; cut++) {
    assert.throws(() => decodeKexInit(k.subarray(0, cut)), WireError);
  }
  assert.throws(() => decodeKexInit(new Uint8Array([...k, 0])), /trailing/);
});

test("KEX init and reply fields keep their exact wire encoding for the exchange hash", () => {
  const mp = encodeMpintBytes(new Uint8Array([0xff, 1]));
  const [v, field] = decodeKexInitValue(offsetView(encodeKexInitValue(30, mp)), {
    msg: 30,
    encoding: "mpint",
  });
  assert.deepEqual([...v], [0xff, 1]);
  assert.deepEqual([...field], [...mp]);
  const reply = decodeKexReply(
    offsetView(
      encodeKexReply(31, {
        hostKey: new Uint8Array([1, 2]),
        valueField: new SshWriter().string(new Uint8Array([9])).finish(),
        signature: new Uint8Array([3]),
      }),
    ),
    { msg: 31, encoding: "string" },
  );
  assert.deepEqual([...reply.hostKey], [1, 2]);
  assert.deepEqual([...reply.value], [9]);
  assert.deepEqual([...reply.valueField], [0, 0, 0, 1, 9]);
  assert.deepEqual([...reply.signature], [3]);
  assert.throws(
    () => decodeKexReply(new Uint8Array([31, 0, 0, 0, 9]), { msg: 31, encoding: "string" }),
    /K_S/,
  );
});
