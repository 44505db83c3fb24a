/**
 * Protocol version exchange (RFC 4253 §4.2).
 *
 * @module
 */
import { DisconnectError, DisconnectReason } from "../wire/errors.ts";
import { quotePeerText } from "../wire/quote.ts";
import type { ByteReader } from "./_byte_reader.ts";

/** RFC 4253 §4.2: at most 255 bytes including CR LF. */
export const MAX_VERSION_LINE = 255;
/** Lines a server may send before its version line (OpenSSH allows 1024). */
export const MAX_PRE_BANNER_LINES = 1024;

/**
 * The peer's identification line, split into its parts.
 *
 * @example
 * ```ts
 * import { parseVersionLine } from "./version.ts";
 * const v = parseVersionLine("SSH-2.0-OpenSSH_9.2p1 Debian-2");
 * console.log(v.software, v.comments); // "OpenSSH_9.2p1" "Debian-2"
 * ```
 */
export interface PeerVersion {
  /** The whole line without CR LF (it enters the exchange hash as V_C or V_S). */
  line: string;
  /** "2.0" (or "1.99", which RFC 4253 §5.1 treats as 2.0). */
  protocol: string;
  /** softwareversion */
  software: string;
  /** comments, or "" */
  comments: string;
}

/**
 * Parses and checks `SSH-protoversion-softwareversion SP comments`. Throws a
 * {@link DisconnectError} (PROTOCOL_VERSION_NOT_SUPPORTED or PROTOCOL_ERROR)
 * that quotes what was wrong.
 *
 * @example
 * ```ts
 * import { parseVersionLine } from "./version.ts";
 * console.log(parseVersionLine("SSH-1.99-legacy").protocol); // "1.99"
 * ```
 */
export function parseVersionLine(line: string): PeerVersion {
  const m = /^SSH-([^-\s]+)-(\S+)(?: (.*))?$/.exec(line);
  if (!m) {
    throw new DisconnectError(
      DisconnectReason.PROTOCOL_ERROR,
      `malformed identification string "${quotePeerText(line, 80)}"`,
      { local: true },
    );
  }
  const [, protocol, software, comments = ""] = m;
  if (protocol !== "2.0" && protocol !== "1.99") {
    throw new DisconnectError(
      DisconnectReason.PROTOCOL_VERSION_NOT_SUPPORTED,
      `peer speaks SSH protocol "${quotePeerText(protocol, 40)}", only 2.0 is supported`,
      { local: true },
    );
  }
  return { line, protocol, software, comments };
}

/**
 * Builds our identification line (without CR LF).
 *
 * @example
 * ```ts
 * import { versionLine } from "./version.ts";
 * console.log(versionLine("rxssh_0.1")); // "SSH-2.0-rxssh_0.1"
 * ```
 */
export function versionLine(software: string, comments?: string): string {
  if (!/^[\x21-\x2c\x2e-\x7e]+$/.test(software)) {
    throw new RangeError(
      `software version ${
        JSON.stringify(software)
      } must be printable US-ASCII without spaces or "-"`,
    );
  }
  const line = `SSH-2.0-${software}${comments ? ` ${comments}` : ""}`;
  if (line.length + 2 > MAX_VERSION_LINE) {
    throw new RangeError("identification string longer than 253 bytes");
  }
  return line;
}

const ascii = new TextDecoder("latin1");

/**
 * Reads the peer's identification line. A client accepts up to
 * {@link MAX_PRE_BANNER_LINES} other lines first (RFC 4253 §4.2); a server
 * accepts none.
 */
export async function readVersion(
  reader: ByteReader,
  role: "client" | "server",
): Promise<PeerVersion> {
  for (let i = 0; i <= MAX_PRE_BANNER_LINES; i++) {
    const bytes = await reader.readLine(MAX_VERSION_LINE);
    if (bytes === undefined) {
      throw new DisconnectError(
        DisconnectReason.PROTOCOL_ERROR,
        `identification line longer than ${MAX_VERSION_LINE} bytes`,
        { local: true },
      );
    }
    const isVersion = bytes.length >= 4 && bytes[0] === 0x53 && bytes[1] === 0x53 &&
      bytes[2] === 0x48 &&
      bytes[3] === 0x2d;
    if (isVersion) {
      if (bytes.includes(0)) {
        throw new DisconnectError(
          DisconnectReason.PROTOCOL_ERROR,
          "identification string contains a NUL byte",
          {
            local: true,
          },
        );
      }
      return parseVersionLine(ascii.decode(bytes));
    }
    if (role === "server") {
      throw new DisconnectError(
        DisconnectReason.PROTOCOL_ERROR,
        `client sent "${quotePeerText(bytes, 40)}" instead of an SSH identification string`,
        { local: true },
      );
    }
  }
  throw new DisconnectError(
    DisconnectReason.PROTOCOL_ERROR,
    `no identification string within ${MAX_PRE_BANNER_LINES} lines`,
    { local: true },
  );
}
