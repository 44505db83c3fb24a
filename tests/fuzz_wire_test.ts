// Property and fuzz tests over the wire decoders of every layer: transport
// (RFC 4253), authentication (RFC 4252, 4256), connection (RFC 4254), the
// session requests and terminal modes, the forwarding channel data and X11
// setup. Round trip where an encoder exists; for arbitrary and mutated
// bytes, a value or a WireError, quickly, with bounded allocation.
import { test } from "node:test";
import fc from "fast-check";
import {
  assertSame,
  bytes,
  check,
  type ErrorClass,
  expectTyped,
  hostile,
  name,
  text,
  u32,
  unhex,
} from "./_fuzz.ts";
import { WireError } from "../lib/wire/errors.ts";
import { Msg } from "../lib/wire/message_numbers.ts";
import { SshReader } from "../lib/wire/reader.ts";
import { SshWriter } from "../lib/wire/writer.ts";
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
} from "../lib/wire/transport_messages.ts";
import {
  decodeAuthBanner,
  decodeAuthFailure,
  decodeAuthRequestHead,
  decodeInfoRequest,
  decodeInfoResponse,
  encodeAuthBanner,
  encodeAuthFailure,
  encodeInfoRequest,
  encodeInfoResponse,
  encodePublicKeyAuthRequest,
} from "../lib/wire/auth_messages.ts";
import {
  decodeChannelOpen,
  decodeChannelOpenConfirmation,
  decodeChannelOpenFailure,
  decodeChannelRequest,
  decodeGlobalRequest,
  encodeChannelOpen,
  encodeChannelOpenConfirmation,
  encodeChannelOpenFailure,
  encodeChannelRequest,
  encodeGlobalRequest,
} from "../lib/wire/connection_messages.ts";
import {
  decodeSessionRequest,
  decodeTerminalModes,
  encodeTerminalModes,
  SessionRequest,
  TerminalMode,
} from "../lib/connection/session.ts";
import {
  BoundPortCodec,
  ForwardedStreamLocalCodec,
  ListenAddressCodec,
  StreamLocalChannelCodec,
  StreamLocalPathCodec,
  TcpChannelCodec,
} from "../lib/forward/wire.ts";
import { encodeX11Setup, parseDisplay, parseX11Setup, X11Error } from "../lib/x11/wire.ts";

const RUNS = 300;
const ascii = fc.stringMatching(/^[\x20-\x7e]{0,20}$/);
const nameList = fc.array(name, { maxLength: 6 });

/**
 * One decoder under test: `valid` arbitrary encodings, `decode`, and for the
 * round trip the values and their encoder.
 */
interface Case<T> {
  what: string;
  value: fc.Arbitrary<T>;
  encode: (v: T) => Uint8Array;
  decode: (b: Uint8Array) => unknown;
  /** What decode(encode(v)) must equal (default v). */
  expect?: (v: T) => unknown;
  /** Error classes the decoder may throw (default WireError). */
  errors?: ErrorClass[];
}

// deno-lint-ignore no-explicit-any
function cases(): Case<any>[] {
  // deno-lint-ignore no-explicit-any
  const list: Case<any>[] = [
    {
      what: "KEXINIT",
      value: fc.record({
        cookie: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        kexAlgorithms: nameList,
        serverHostKeyAlgorithms: nameList,
        ciphersClientToServer: nameList,
        ciphersServerToClient: nameList,
        macsClientToServer: nameList,
        macsServerToClient: nameList,
        compressionClientToServer: nameList,
        compressionServerToClient: nameList,
        languagesClientToServer: nameList,
        languagesServerToClient: nameList,
        firstKexPacketFollows: fc.boolean(),
      }),
      encode: encodeKexInit,
      decode: decodeKexInit,
    },
    {
      what: "DISCONNECT",
      value: fc.record({ reason: u32, description: text, language: ascii }),
      encode: encodeDisconnect,
      decode: decodeDisconnect,
    },
    { what: "IGNORE", value: bytes, encode: encodeIgnore, decode: decodeIgnore },
    {
      what: "DEBUG",
      value: fc.record({ alwaysDisplay: fc.boolean(), message: text, language: ascii }),
      encode: encodeDebug,
      decode: decodeDebug,
    },
    { what: "UNIMPLEMENTED", value: u32, encode: encodeUnimplemented, decode: decodeUnimplemented },
    {
      what: "SERVICE_REQUEST",
      value: name,
      encode: (n: string) => encodeService(Msg.SERVICE_REQUEST, n),
      decode: (b) => decodeService(Msg.SERVICE_REQUEST, b),
    },
    {
      what: "EXT_INFO",
      value: fc.uniqueArray(fc.tuple(name, bytes), { selector: ([k]) => k, maxLength: 5 })
        .map((e) => new Map(e)),
      encode: encodeExtInfo,
      decode: decodeExtInfo,
    },
    {
      what: "KEX_ECDH_INIT (string)",
      value: bytes,
      encode: (q: Uint8Array) =>
        encodeKexInitValue(Msg.KEXDH_INIT, new SshWriter().string(q).finish()),
      decode: (b) => decodeKexInitValue(b, { msg: Msg.KEXDH_INIT, encoding: "string" })[0],
    },
    {
      what: "KEXDH_INIT (mpint)",
      value: fc.bigInt({ min: 1n, max: (1n << 512n) - 1n }),
      encode: (e: bigint) => encodeKexInitValue(Msg.KEXDH_INIT, new SshWriter().mpint(e).finish()),
      decode: (b) => decodeKexInitValue(b, { msg: Msg.KEXDH_INIT, encoding: "mpint" })[1],
      expect: (e: bigint) => new SshWriter().mpint(e).finish(),
    },
    {
      what: "KEX_ECDH_REPLY (string)",
      value: fc.record({ hostKey: bytes, q: bytes, signature: bytes }),
      encode: (v: { hostKey: Uint8Array; q: Uint8Array; signature: Uint8Array }) =>
        encodeKexReply(Msg.KEXDH_REPLY, {
          hostKey: v.hostKey,
          valueField: new SshWriter().string(v.q).finish(),
          signature: v.signature,
        }),
      decode: (b) => {
        const r = decodeKexReply(b, { msg: Msg.KEXDH_REPLY, encoding: "string" });
        return { hostKey: r.hostKey, q: r.value, signature: r.signature };
      },
    },
    {
      what: "KEX_DH_GEX_REQUEST",
      value: fc.record({ min: u32, n: u32, max: u32 }),
      encode: encodeGexRequest,
      decode: decodeGexRequest,
    },
    {
      what: "KEX_DH_GEX_GROUP",
      value: fc.record({
        p: fc.bigInt({ min: 0n, max: 1n << 1100n }),
        g: fc.bigInt({ min: 0n, max: 255n }),
      }),
      encode: (v: { p: bigint; g: bigint }) => encodeGexGroup(v.p, v.g),
      decode: decodeGexGroup,
    },
    {
      what: "USERAUTH_REQUEST (publickey)",
      value: fc.record({
        user: text,
        service: name,
        algorithm: name,
        key: bytes,
        signature: fc.option(bytes, { nil: undefined }),
      }),
      encode: encodePublicKeyAuthRequest,
      decode: (b) => {
        const h = decodeAuthRequestHead(b);
        const signed = h.reader.boolean("has signature");
        const out = {
          user: h.user,
          service: h.service,
          algorithm: h.reader.ascii("algorithm"),
          key: h.reader.string("key"),
          signature: signed ? h.reader.string("signature") : undefined,
        };
        h.reader.end("USERAUTH_REQUEST");
        return out;
      },
    },
    {
      what: "USERAUTH_FAILURE",
      value: fc.record({ methods: nameList, partialSuccess: fc.boolean() }),
      encode: (v: { methods: string[]; partialSuccess: boolean }) =>
        encodeAuthFailure(v.methods, v.partialSuccess),
      decode: decodeAuthFailure,
    },
    {
      what: "USERAUTH_BANNER",
      value: text,
      encode: encodeAuthBanner,
      decode: decodeAuthBanner,
      expect: (m: string) => ({ message: m, language: "" }),
    },
    {
      what: "USERAUTH_INFO_REQUEST",
      value: fc.record({
        name: text,
        instruction: text,
        prompts: fc.array(fc.record({ prompt: text, echo: fc.boolean() }), { maxLength: 4 }),
      }),
      encode: encodeInfoRequest,
      decode: decodeInfoRequest,
    },
    {
      what: "USERAUTH_INFO_RESPONSE",
      value: fc.array(text, { maxLength: 5 }),
      encode: encodeInfoResponse,
      decode: decodeInfoResponse,
    },
    {
      what: "GLOBAL_REQUEST",
      value: fc.record({ name, wantReply: fc.boolean(), data: bytes }),
      encode: encodeGlobalRequest,
      decode: decodeGlobalRequest,
    },
    {
      what: "CHANNEL_OPEN",
      value: fc.record({ type: name, sender: u32, window: u32, maxPacket: u32, data: bytes }),
      encode: encodeChannelOpen,
      decode: decodeChannelOpen,
    },
    {
      what: "CHANNEL_OPEN_CONFIRMATION",
      value: fc.record({ recipient: u32, sender: u32, window: u32, maxPacket: u32, data: bytes }),
      encode: encodeChannelOpenConfirmation,
      decode: decodeChannelOpenConfirmation,
    },
    {
      what: "CHANNEL_OPEN_FAILURE",
      value: fc.record({ recipient: u32, reason: u32, description: text, language: ascii }),
      encode: encodeChannelOpenFailure,
      decode: decodeChannelOpenFailure,
    },
    {
      what: "CHANNEL_REQUEST",
      value: fc.record({ recipient: u32, type: name, wantReply: fc.boolean(), data: bytes }),
      encode: encodeChannelRequest,
      decode: decodeChannelRequest,
    },
    {
      what: "terminal modes",
      value: fc.dictionary(fc.constantFrom(...Object.keys(TerminalMode)), u32, { maxKeys: 8 }),
      encode: encodeTerminalModes,
      decode: decodeTerminalModes,
    },
    {
      what: "pty-req",
      value: fc.record({
        term: ascii,
        cols: u32,
        rows: u32,
        widthPx: u32,
        heightPx: u32,
        modes: fc.dictionary(fc.constantFrom(...Object.keys(TerminalMode)), u32, { maxKeys: 4 }),
      }),
      encode: (p) => SessionRequest.pty.encode(p),
      decode: (b) => decodeSessionRequest("pty-req", b),
      expect: (pty) => ({ name: "pty-req", pty }),
    },
    {
      what: "exit-signal",
      value: fc.record({ signal: name, coreDumped: fc.boolean(), message: text }),
      encode: (v) => SessionRequest.exitSignal.encode(v),
      decode: (b) => decodeSessionRequest("exit-signal", b),
      expect: (v) => ({ name: "exit-signal", ...v }),
    },
    {
      what: "env",
      value: fc.record({ variable: ascii, value: text }),
      encode: (v) => SessionRequest.env.encode(v.variable, v.value),
      decode: (b) => decodeSessionRequest("env", b),
      expect: (v) => ({ name: "env", ...v }),
    },
    {
      what: "window-change",
      value: fc.record({ cols: u32, rows: u32, widthPx: u32, heightPx: u32 }),
      encode: (v) => SessionRequest.windowChange.encode(v),
      decode: (b) => decodeSessionRequest("window-change", b),
      expect: (v) => ({ name: "window-change", ...v }),
    },
    {
      what: "exec",
      value: text,
      encode: (c) => SessionRequest.exec.encode(c),
      decode: (b) => decodeSessionRequest("exec", b),
      expect: (command) => ({ name: "exec", command }),
    },
    {
      what: "direct-tcpip data",
      value: fc.record({ host: text, port: u32, originatorAddress: text, originatorPort: u32 }),
      encode: TcpChannelCodec.encode,
      decode: TcpChannelCodec.decode,
    },
    {
      what: "tcpip-forward data",
      value: fc.record({ address: text, port: u32 }),
      encode: ListenAddressCodec.encode,
      decode: ListenAddressCodec.decode,
    },
    {
      what: "bound port",
      value: u32,
      encode: BoundPortCodec.encode,
      decode: BoundPortCodec.decode,
    },
    {
      what: "direct-streamlocal data",
      value: text,
      encode: StreamLocalChannelCodec.encode,
      decode: StreamLocalChannelCodec.decode,
    },
    {
      what: "streamlocal-forward data",
      value: text,
      encode: StreamLocalPathCodec.encode,
      decode: StreamLocalPathCodec.decode,
    },
    {
      what: "forwarded-streamlocal data",
      value: text,
      encode: ForwardedStreamLocalCodec.encode,
      decode: ForwardedStreamLocalCodec.decode,
    },
    {
      what: "X11 connection setup",
      value: fc.record({
        littleEndian: fc.boolean(),
        major: fc.nat({ max: 0xffff }),
        minor: fc.nat({ max: 0xffff }),
        authProtocol: ascii,
        authData: bytes,
      }),
      encode: (s) => encodeX11Setup(s),
      decode: (b) => {
        const s = parseX11Setup(b);
        if (!s) return s;
        const { length: _, ...rest } = s;
        return rest;
      },
      errors: [X11Error],
    },
  ];
  return list;
}

for (const c of cases()) {
  test(`fuzz: ${c.what} round-trips`, () => {
    check(c.value, RUNS / 3, (v) => {
      assertSame(c.decode(c.encode(v)), c.expect ? c.expect(v) : v, c.what);
    });
  });
  test(`fuzz: ${c.what} decodes hostile bytes to a value or a typed error`, () => {
    check(hostile(c.value.map(c.encode)), RUNS, (b) => {
      expectTyped(b, c.decode, c.errors ?? [WireError]);
    });
  });
}

test("fuzz: every session request type decodes hostile data to a value or a WireError", () => {
  const types = [
    "exec",
    "shell",
    "subsystem",
    "pty-req",
    "env",
    "window-change",
    "signal",
    "exit-status",
    "exit-signal",
    "xon-xoff",
    "x11-req",
    "auth-agent-req@openssh.com",
    "break",
  ];
  check(fc.tuple(fc.constantFrom(...types), fc.uint8Array({ maxLength: 64 })), RUNS, ([t, b]) => {
    expectTyped(b, (d) => decodeSessionRequest(t, d), [WireError]);
  });
});

test("fuzz: SshReader's primitives on arbitrary bytes give a value or a WireError", () => {
  const ops = [
    "byte",
    "boolean",
    "uint32",
    "uint64",
    "string",
    "utf8",
    "ascii",
    "mpint",
    "mpintBytes",
    "nameList",
    "rest",
  ] as const;
  check(
    fc.tuple(
      fc.array(fc.constantFrom(...ops), { minLength: 1, maxLength: 6 }),
      fc.uint8Array({ maxLength: 48 }),
    ),
    RUNS,
    ([seq, b]) => {
      expectTyped(b, (d) => {
        const r = new SshReader(d);
        return seq.map((op) => (r[op] as (f: string) => unknown).call(r, op));
      }, [WireError]);
    },
  );
});

test("fuzz: X11 display names parse to a value or undefined", () => {
  check(
    fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.stringMatching(/^[a-z0-9./:]{0,8}:\d{0,12}(\.\d{0,12})?$/),
    ),
    RUNS,
    (s) => {
      expectTyped(s, parseDisplay, [X11Error]);
    },
  );
});

// Regression cases: inputs the properties above found or that pin a limit.
test("fuzz regression: length fields of 2^32-1 are refused without allocating", () => {
  for (
    const hex of [
      "14 0000000000000000 0000000000000000 ffffffff", // KEXINIT with a huge name-list
      "07 ffffffff", // EXT_INFO with 2^32-1 extensions
      "3c 00000000 00000000 00000000 ffffffff", // INFO_REQUEST: 2^32-1 prompts
    ]
  ) {
    const b = unhex(hex);
    const decode: (b: Uint8Array) => unknown = b[0] === 0x14
      ? decodeKexInit
      : b[0] === 0x07
      ? decodeExtInfo
      : decodeInfoRequest;
    expectTyped(b, decode, [WireError]);
  }
});
