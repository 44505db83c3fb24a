/**
 * The data of port forwarding's channel opens and global requests: RFC
 * 4254 §7 (TCP/IP) and OpenSSH PROTOCOL §2.4 (Unix-domain sockets,
 * "streamlocal").
 *
 * @module
 */
import type { Codec } from "../wire/codec.ts";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";

/**
 * A TCP endpoint and who connected to it: the data of `direct-tcpip`
 * (the host and port to connect to, the originator) and of
 * `forwarded-tcpip` (the address and port that were connected, the
 * originator), RFC 4254 §7.2.
 *
 * @example
 * ```ts
 * import type { TcpChannelData } from "./wire.ts";
 * const d: TcpChannelData = { host: "db.internal", port: 5432, originatorAddress: "127.0.0.1", originatorPort: 50000 };
 * ```
 */
export interface TcpChannelData {
  /** direct-tcpip: the host to connect to; forwarded-tcpip: the address that was connected. */
  readonly host: string;
  /** The port to connect to, or that was connected. */
  readonly port: number;
  /** Where the connection came from. */
  readonly originatorAddress: string;
  /** Its port. */
  readonly originatorPort: number;
}

/**
 * Encodes and decodes `direct-tcpip` / `forwarded-tcpip` channel data:
 * string host, uint32 port, string originator address, uint32 originator
 * port (RFC 4254 §7.2).
 *
 * @example
 * ```ts
 * import { TcpChannelCodec } from "./wire.ts";
 * const data = TcpChannelCodec.encode({ host: "localhost", port: 80, originatorAddress: "127.0.0.1", originatorPort: 4000 });
 * console.log(TcpChannelCodec.decode(data).port); // 80
 * ```
 */
export const TcpChannelCodec: Codec<TcpChannelData> = {
  /** Channel open data. */
  encode(d: TcpChannelData): Uint8Array {
    return new SshWriter(32 + d.host.length + d.originatorAddress.length)
      .string(d.host).uint32(d.port).string(d.originatorAddress).uint32(d.originatorPort)
      .finish();
  },
  /** Parses channel open data; throws on truncated or trailing bytes. */
  decode(b: Uint8Array): TcpChannelData {
    const r = new SshReader(b);
    const v = {
      host: r.utf8("host to connect"),
      port: r.uint32("port to connect"),
      originatorAddress: r.utf8("originator IP address"),
      originatorPort: r.uint32("originator port"),
    };
    r.end("direct-tcpip/forwarded-tcpip data");
    return v;
  },
} as const;

/**
 * An address and port to listen on: `tcpip-forward` and
 * `cancel-tcpip-forward` request data (RFC 4254 §7.1). Address "" means
 * all addresses, "localhost" loopback only; port 0 lets the server choose.
 *
 * @example
 * ```ts
 * import type { ListenAddress } from "./wire.ts";
 * const a: ListenAddress = { address: "localhost", port: 0 };
 * ```
 */
export interface ListenAddress {
  /** The address to bind. */
  readonly address: string;
  /** The port to bind (0: the server chooses and replies with it). */
  readonly port: number;
}

/**
 * Encodes and decodes `tcpip-forward` / `cancel-tcpip-forward` data:
 * string address to bind, uint32 port to bind (RFC 4254 §7.1).
 *
 * @example
 * ```ts
 * import { ListenAddressCodec } from "./wire.ts";
 * console.log(ListenAddressCodec.decode(ListenAddressCodec.encode({ address: "", port: 8080 }))); // { address: "", port: 8080 }
 * ```
 */
export const ListenAddressCodec: Codec<ListenAddress> = {
  /** Request data. */
  encode(a: ListenAddress): Uint8Array {
    return new SshWriter(16 + a.address.length).string(a.address).uint32(a.port).finish();
  },
  /** Parses request data; throws on truncated or trailing bytes. */
  decode(b: Uint8Array): ListenAddress {
    const r = new SshReader(b);
    const v = { address: r.utf8("address to bind"), port: r.uint32("port number to bind") };
    r.end("tcpip-forward data");
    return v;
  },
} as const;

/**
 * Encodes and decodes the REQUEST_SUCCESS data of a `tcpip-forward` with
 * port 0: uint32 the port that was bound (RFC 4254 §7.1).
 *
 * @example
 * ```ts
 * import { BoundPortCodec } from "./wire.ts";
 * console.log(BoundPortCodec.decode(BoundPortCodec.encode(40123))); // 40123
 * ```
 */
export const BoundPortCodec: Codec<number> = {
  /** Reply data. */
  encode(port: number): Uint8Array {
    return new SshWriter(4).uint32(port).finish();
  },
  /** Parses reply data. */
  decode(b: Uint8Array): number {
    const r = new SshReader(b);
    const port = r.uint32("port that was bound");
    r.end("tcpip-forward reply");
    return port;
  },
} as const;

/**
 * Encodes and decodes `direct-streamlocal@openssh.com` channel data:
 * string socket path, string reserved, uint32 reserved (OpenSSH PROTOCOL
 * §2.4); and `forwarded-streamlocal@openssh.com`'s: string socket path,
 * string reserved. Decoding accepts both shapes and returns the path.
 *
 * @example
 * ```ts
 * import { StreamLocalChannelCodec } from "./wire.ts";
 * console.log(StreamLocalChannelCodec.decode(StreamLocalChannelCodec.encode("/run/app.sock"))); // "/run/app.sock"
 * ```
 */
export const StreamLocalChannelCodec: Codec<string> = {
  /** `direct-streamlocal@openssh.com` data for `path`. */
  encode(path: string): Uint8Array {
    return new SshWriter(16 + path.length).string(path).string("").uint32(0).finish();
  },
  /** The socket path. */
  decode(b: Uint8Array): string {
    const r = new SshReader(b);
    const path = r.utf8("socket path");
    r.string("reserved");
    if (r.remaining > 0) r.uint32("reserved");
    r.end("streamlocal channel data");
    return path;
  },
} as const;

/**
 * Encodes and decodes `streamlocal-forward@openssh.com` /
 * `cancel-streamlocal-forward@openssh.com` data: string socket path
 * (OpenSSH PROTOCOL §2.4).
 *
 * @example
 * ```ts
 * import { StreamLocalPathCodec } from "./wire.ts";
 * console.log(StreamLocalPathCodec.decode(StreamLocalPathCodec.encode("/tmp/s"))); // "/tmp/s"
 * ```
 */
export const StreamLocalPathCodec: Codec<string> = {
  /** Request data. */
  encode(path: string): Uint8Array {
    return new SshWriter(8 + path.length).string(path).finish();
  },
  /** The socket path. */
  decode(b: Uint8Array): string {
    const r = new SshReader(b);
    const path = r.utf8("socket path");
    r.end("streamlocal-forward data");
    return path;
  },
} as const;

/**
 * Encodes `forwarded-streamlocal@openssh.com` channel data: string socket
 * path (the one `streamlocal-forward@openssh.com` asked for), string
 * reserved (OpenSSH PROTOCOL §2.4). OpenSSH's client refuses the
 * `direct-streamlocal` shape here (it checks for the end of the packet),
 * hence a codec of its own; decoding accepts only this shape.
 *
 * @example
 * ```ts
 * import { ForwardedStreamLocalCodec } from "./wire.ts";
 * console.log(ForwardedStreamLocalCodec.encode("/tmp/s").length); // 14
 * ```
 */
export const ForwardedStreamLocalCodec: Codec<string> = {
  /** `forwarded-streamlocal@openssh.com` data for `path`. */
  encode(path: string): Uint8Array {
    return new SshWriter(12 + path.length).string(path).string("").finish();
  },
  /** The socket path; throws on truncated or trailing bytes. */
  decode(b: Uint8Array): string {
    const r = new SshReader(b);
    const path = r.utf8("socket path");
    r.string("reserved");
    r.end("forwarded-streamlocal data");
    return path;
  },
} as const;
