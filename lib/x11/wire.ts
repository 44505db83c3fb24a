/**
 * X11 forwarding on the wire: the `x11-req` session request (RFC 4254
 * §6.3.1), the `"x11"` channel type's open data (RFC 4254 §6.3.2), the X11
 * connection setup request whose authorization the SSH client checks and
 * rewrites (X Window System Protocol, "Connection Setup"), and X display
 * names.
 *
 * @module
 */
import type { Codec } from "../wire/codec.ts";
import { SshError } from "../wire/errors.ts";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";

/**
 * An `x11-req` (RFC 4254 §6.3.1).
 *
 * @example
 * ```ts
 * import type { X11Request } from "./wire.ts";
 * const r: X11Request = {
 *   singleConnection: false,
 *   authProtocol: "MIT-MAGIC-COOKIE-1",
 *   authCookie: "0123456789abcdef0123456789abcdef",
 *   screen: 0,
 * };
 * ```
 */
export interface X11Request {
  /** Forward only the first X11 connection. */
  singleConnection: boolean;
  /** X11 authentication protocol, e.g. "MIT-MAGIC-COOKIE-1". */
  authProtocol: string;
  /** The (fake) authentication cookie, as hexadecimal text. */
  authCookie: string;
  /** X11 screen number. */
  screen: number;
}

/**
 * Encodes and decodes the `x11-req` request data (RFC 4254 §6.3.1): boolean
 * single connection, string auth protocol, string auth cookie (hex),
 * uint32 screen number.
 *
 * @example
 * ```ts
 * import { X11RequestCodec } from "./wire.ts";
 * const data = X11RequestCodec.encode({
 *   singleConnection: false,
 *   authProtocol: "MIT-MAGIC-COOKIE-1",
 *   authCookie: "00112233445566778899aabbccddeeff",
 *   screen: 0,
 * });
 * console.log(X11RequestCodec.decode(data).authProtocol); // "MIT-MAGIC-COOKIE-1"
 * ```
 */
export const X11RequestCodec: Codec<X11Request> = {
  /** Request data for `x11-req`. */
  encode(r: X11Request): Uint8Array {
    return new SshWriter(64 + r.authProtocol.length + r.authCookie.length)
      .boolean(r.singleConnection).string(r.authProtocol).string(r.authCookie).uint32(r.screen)
      .finish();
  },
  /** Parses `x11-req` data; throws on truncated or trailing bytes. */
  decode(b: Uint8Array): X11Request {
    const r = new SshReader(b);
    const v = {
      singleConnection: r.boolean("single connection"),
      authProtocol: r.ascii("x11 authentication protocol"),
      authCookie: r.ascii("x11 authentication cookie"),
      screen: r.uint32("x11 screen number"),
    };
    r.end("x11-req");
    return v;
  },
} as const;

/**
 * The data of an `"x11"` channel open (RFC 4254 §6.3.2): where the X11
 * client connected from, on the SSH server's side.
 *
 * @example
 * ```ts
 * import type { X11ChannelOrigin } from "./wire.ts";
 * const o: X11ChannelOrigin = { originatorAddress: "127.0.0.1", originatorPort: 41234 };
 * ```
 */
export interface X11ChannelOrigin {
  /** The X11 client's address, e.g. "127.0.0.1". */
  originatorAddress: string;
  /** The X11 client's port. */
  originatorPort: number;
}

/**
 * Encodes and decodes the `"x11"` channel open data (RFC 4254 §6.3.2):
 * string originator address, uint32 originator port.
 *
 * @example
 * ```ts
 * import { X11ChannelCodec } from "./wire.ts";
 * const data = X11ChannelCodec.encode({ originatorAddress: "127.0.0.1", originatorPort: 40000 });
 * console.log(X11ChannelCodec.decode(data)); // { originatorAddress: "127.0.0.1", originatorPort: 40000 }
 * ```
 */
export const X11ChannelCodec: Codec<X11ChannelOrigin> = {
  /** Channel open data for `"x11"`. */
  encode(o: X11ChannelOrigin): Uint8Array {
    return new SshWriter(16 + o.originatorAddress.length).string(o.originatorAddress)
      .uint32(o.originatorPort).finish();
  },
  /** Parses `"x11"` open data; throws on truncated or trailing bytes. */
  decode(b: Uint8Array): X11ChannelOrigin {
    const r = new SshReader(b);
    const v = {
      originatorAddress: r.utf8("originator address"),
      originatorPort: r.uint32("originator port"),
    };
    r.end("x11 channel open");
    return v;
  },
} as const;

/** Thrown for a malformed X11 connection setup request or display name. */
export class X11Error extends SshError {}

/**
 * The fixed part and authorization of an X11 connection setup request
 * (the first bytes an X client sends), as {@link parseX11Setup} reads it.
 *
 * @example
 * ```ts
 * import type { X11Setup } from "./wire.ts";
 * const proto = (s: X11Setup) => s.authProtocol;
 * ```
 */
export interface X11Setup {
  /** True for 'l' (LSB first), false for 'B' (MSB first). */
  littleEndian: boolean;
  /** Protocol major version. */
  major: number;
  /** Protocol minor version. */
  minor: number;
  /** Authorization protocol name, e.g. "MIT-MAGIC-COOKIE-1". */
  authProtocol: string;
  /** Authorization data (the cookie). */
  authData: Uint8Array;
  /** Length of the whole setup request, in bytes. */
  length: number;
}

const pad4 = (n: number) => (n + 3) & ~3;

/**
 * Parses an X11 connection setup request from the start of `bytes`.
 * Returns `undefined` while fewer bytes than the request needs have
 * arrived; throws {@link X11Error} when the byte-order byte is neither 'B'
 * nor 'l'.
 *
 * @example
 * ```ts
 * import { encodeX11Setup, parseX11Setup } from "./wire.ts";
 * const bytes = encodeX11Setup({ littleEndian: true, major: 11, minor: 0, authProtocol: "MIT-MAGIC-COOKIE-1", authData: new Uint8Array(16) });
 * console.log(parseX11Setup(bytes)?.length); // 48
 * console.log(parseX11Setup(bytes.subarray(0, 20))); // undefined
 * ```
 */
export function parseX11Setup(bytes: Uint8Array): X11Setup | undefined {
  if (bytes.length < 12) return undefined;
  const order = bytes[0];
  if (order !== 0x42 && order !== 0x6c) {
    throw new X11Error(
      `X11 connection setup: byte order must be 'B' (0x42) or 'l' (0x6c), got 0x${
        order.toString(16).padStart(2, "0")
      }`,
    );
  }
  const littleEndian = order === 0x6c;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, littleEndian);
  const nameLength = u16(6);
  const dataLength = u16(8);
  const length = 12 + pad4(nameLength) + pad4(dataLength);
  if (bytes.length < length) return undefined;
  return {
    littleEndian,
    major: u16(2),
    minor: u16(4),
    authProtocol: new TextDecoder("latin1").decode(bytes.subarray(12, 12 + nameLength)),
    authData: bytes.slice(12 + pad4(nameLength), 12 + pad4(nameLength) + dataLength),
    length,
  };
}

/**
 * Encodes an X11 connection setup request (what an X client sends first).
 *
 * @example
 * ```ts
 * import { encodeX11Setup } from "./wire.ts";
 * const hello = encodeX11Setup({ littleEndian: true, major: 11, minor: 0, authProtocol: "", authData: new Uint8Array(0) });
 * console.log(hello.length); // 12
 * ```
 */
export function encodeX11Setup(s: Omit<X11Setup, "length">): Uint8Array {
  const name = new TextEncoder().encode(s.authProtocol);
  if (name.length > 0xffff || s.authData.length > 0xffff) {
    throw new X11Error("X11 connection setup: authorization name or data longer than 65535 bytes");
  }
  const out = new Uint8Array(12 + pad4(name.length) + pad4(s.authData.length));
  const view = new DataView(out.buffer);
  out[0] = s.littleEndian ? 0x6c : 0x42;
  view.setUint16(2, s.major, s.littleEndian);
  view.setUint16(4, s.minor, s.littleEndian);
  view.setUint16(6, name.length, s.littleEndian);
  view.setUint16(8, s.authData.length, s.littleEndian);
  out.set(name, 12);
  out.set(s.authData, 12 + pad4(name.length));
  return out;
}

/**
 * Where an X display is, parsed from a `DISPLAY` value as OpenSSH's ssh
 * reads it: `":n"` and `"unix:n"` are the local socket
 * `/tmp/.X11-unix/X<n>`; a value starting with `/` is a socket path up to
 * its last `:` (XQuartz's launchd sockets); `"host:n"` is TCP port 6000+n
 * on host. The screen is what follows the display number's dot (0 if
 * absent).
 *
 * @example
 * ```ts
 * import { parseDisplay } from "./wire.ts";
 * console.log(parseDisplay(":1")); // { display: 1, screen: 0, path: "/tmp/.X11-unix/X1" }
 * console.log(parseDisplay("localhost:10.0")); // { display: 10, screen: 0, host: "localhost", port: 6010 }
 * ```
 */
export type X11Display =
  | { display: number; screen: number; path: string; host?: undefined; port?: undefined }
  | { display: number; screen: number; host: string; port: number; path?: undefined };

/**
 * Parses a `DISPLAY` value (see {@link X11Display}); throws {@link X11Error}
 * when it is not one.
 *
 * @example
 * ```ts
 * import { parseDisplay } from "./wire.ts";
 * console.log(parseDisplay("127.0.0.1:2.1").port); // 6002
 * ```
 */
export function parseDisplay(value: string): X11Display {
  const colon = value.lastIndexOf(":");
  const m = colon < 0 ? null : /^(\d+)(?:\.(\d+))?$/.exec(value.slice(colon + 1));
  if (!m) {
    throw new X11Error(`not an X display: ${JSON.stringify(value)} (expected host:n[.screen])`);
  }
  const display = Number(m[1]);
  const screen = m[2] === undefined ? 0 : Number(m[2]);
  const host = value.slice(0, colon);
  if (host.startsWith("/")) return { display, screen, path: host };
  if (host === "" || host === "unix") {
    return { display, screen, path: `/tmp/.X11-unix/X${display}` };
  }
  if (display > 59535) {
    throw new X11Error(`X display number out of range: ${JSON.stringify(value)}`);
  }
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return { display, screen, host: bare, port: 6000 + display };
}

/**
 * Hex text of bytes (lowercase), as xauth prints cookies and x11-req sends them.
 *
 * @example
 * ```ts
 * import { toHex } from "./wire.ts";
 * console.log(toHex(new Uint8Array([0, 255]))); // "00ff"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Bytes of hex text; throws {@link X11Error} when it is not an even number of hex digits.
 *
 * @example
 * ```ts
 * import { fromHex } from "./wire.ts";
 * console.log(fromHex("00ff")); // Uint8Array [0, 255]
 * ```
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new X11Error(`not hexadecimal bytes: ${JSON.stringify(hex)}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
