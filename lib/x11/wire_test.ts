import { test } from "node:test";
import assert from "node:assert/strict";
import { SshWriter } from "../wire/writer.ts";
import {
  encodeX11Setup,
  fromHex,
  parseDisplay,
  parseX11Setup,
  toHex,
  X11ChannelCodec,
  X11Error,
  X11RequestCodec,
} from "./wire.ts";

/** The same bytes at a non-zero byteOffset inside a larger buffer. */
function offsetView(b: Uint8Array): Uint8Array {
  const big = new Uint8Array(b.length + 7);
  big.set(b, 5);
  return big.subarray(5, 5 + b.length);
}

test("x11-req: RFC 4254 §6.3.1 layout, round trip, offset views", () => {
  const req = {
    singleConnection: true,
    authProtocol: "MIT-MAGIC-COOKIE-1",
    authCookie: "00112233445566778899aabbccddeeff",
    screen: 2,
  };
  const data = X11RequestCodec.encode(req);
  const expected = new SshWriter().boolean(true).string("MIT-MAGIC-COOKIE-1")
    .string("00112233445566778899aabbccddeeff").uint32(2).finish();
  assert.deepEqual(data, expected);
  assert.equal(data[0], 1);
  assert.deepEqual(X11RequestCodec.decode(offsetView(data)), req);
  assert.throws(() => X11RequestCodec.decode(data.subarray(0, data.length - 1)));
  assert.throws(() => X11RequestCodec.decode(new Uint8Array([...data, 0])));
});

test("x11 channel open data: originator address and port (RFC 4254 §6.3.2)", () => {
  const o = { originatorAddress: "127.0.0.1", originatorPort: 54321 };
  const data = X11ChannelCodec.encode(o);
  assert.deepEqual(data, new SshWriter().string("127.0.0.1").uint32(54321).finish());
  assert.deepEqual(X11ChannelCodec.decode(offsetView(data)), o);
  assert.throws(() => X11ChannelCodec.decode(data.subarray(0, 5)));
});

test("X11 setup request: both byte orders, padding, partial input, offset views", () => {
  const cookie = fromHex("0123456789abcdef0123456789abcdef");
  for (const littleEndian of [true, false]) {
    const bytes = encodeX11Setup({
      littleEndian,
      major: 11,
      minor: 0,
      authProtocol: "MIT-MAGIC-COOKIE-1", // 18 bytes, padded to 20
      authData: cookie,
    });
    assert.equal(bytes.length, 12 + 20 + 16);
    assert.equal(bytes[0], littleEndian ? 0x6c : 0x42);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.equal(parseX11Setup(bytes.subarray(0, cut)), undefined, `cut at ${cut}`);
    }
    const s = parseX11Setup(offsetView(new Uint8Array([...bytes, 1, 2, 3])))!;
    assert.equal(s.length, 48);
    assert.equal(s.littleEndian, littleEndian);
    assert.equal(s.major, 11);
    assert.equal(s.authProtocol, "MIT-MAGIC-COOKIE-1");
    assert.deepEqual(s.authData, cookie);
  }
  // What xdpyinfo sends, little-endian, captured from libxcb's layout.
  const xcb = new Uint8Array([
    0x6c,
    0,
    11,
    0,
    0,
    0,
    18,
    0,
    16,
    0,
    0,
    0,
    ...new TextEncoder().encode("MIT-MAGIC-COOKIE-1"),
    0,
    0,
    ...cookie,
  ]);
  assert.deepEqual(parseX11Setup(xcb)?.authData, cookie);
  const none = encodeX11Setup({
    littleEndian: true,
    major: 11,
    minor: 0,
    authProtocol: "",
    authData: new Uint8Array(0),
  });
  assert.deepEqual(parseX11Setup(none)?.length, 12);
  assert.throws(() => parseX11Setup(new Uint8Array(12).fill(0x41)), X11Error);
});

test("DISPLAY values as ssh reads them", () => {
  assert.deepEqual(parseDisplay(":0"), { display: 0, screen: 0, path: "/tmp/.X11-unix/X0" });
  assert.deepEqual(parseDisplay("unix:3.1"), { display: 3, screen: 1, path: "/tmp/.X11-unix/X3" });
  assert.deepEqual(parseDisplay("localhost:10.0"), {
    display: 10,
    screen: 0,
    host: "localhost",
    port: 6010,
  });
  assert.deepEqual(parseDisplay("[::1]:2"), { display: 2, screen: 0, host: "::1", port: 6002 });
  assert.deepEqual(parseDisplay("/private/tmp/com.apple.launchd.x/org.xquartz:0"), {
    display: 0,
    screen: 0,
    path: "/private/tmp/com.apple.launchd.x/org.xquartz",
  });
  for (const bad of ["", "0", ":x", "host", "host:1.x"]) {
    assert.throws(() => parseDisplay(bad), X11Error, bad);
  }
});

test("hex helpers", () => {
  assert.equal(toHex(new Uint8Array([0, 1, 0xab, 0xff])), "0001abff");
  assert.deepEqual(fromHex("0001ABff"), new Uint8Array([0, 1, 0xab, 0xff]));
  assert.throws(() => fromHex("abc"), X11Error);
  assert.throws(() => fromHex("zz"), X11Error);
});
