import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  crc32c,
  decodeProxyHeader,
  ProxyProtocolError,
  readProxyHeader,
  trustedProxies,
} from "./proxy_protocol.ts";
import { memoryPair } from "./memory.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A version 2 header: command, family byte, the address block, then TLVs. */
function v2(cmd: number, fam: number, block: number[], tlvs: number[] = []): Uint8Array {
  const len = block.length + tlvs.length;
  return new Uint8Array([...SIG, 0x20 | cmd, fam, len >> 8, len & 0xff, ...block, ...tlvs]);
}

/** Every codec is tested on views at an offset (DESIGN.md). */
function atOffset(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(bytes.length + 7);
  big.set(bytes, 7);
  return big.subarray(7);
}

describe("decodeProxyHeader, version 1 (proxy-protocol.txt §2.1)", () => {
  test("the spec's longest TCP4, TCP6 and UNKNOWN lines", () => {
    const tcp4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    const h4 = decodeProxyHeader(atOffset(enc(tcp4 + "SSH-2.0-x\r\n")))!;
    assert.deepEqual(h4, {
      version: 1,
      command: "proxy",
      family: "tcp4",
      source: { address: "255.255.255.255", port: 65535 },
      destination: { address: "255.255.255.255", port: 65535 },
      tlvs: [],
      length: tcp4.length,
    });
    const f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const tcp6 = `PROXY TCP6 ${f} ${f} 65535 65535\r\n`;
    assert.equal(tcp6.length, 104); // the spec's worst case for TCP6
    const h6 = decodeProxyHeader(enc(tcp6))!;
    assert.equal(h6.family, "tcp6");
    assert.deepEqual(h6.source, { address: f, port: 65535 });
    assert.equal(decodeProxyHeader(enc("PROXY UNKNOWN\r\n"))!.family, "unknown");
    const unknown = `PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`;
    assert.equal(unknown.length, 107); // the spec's 107-byte worst case
    const hu = decodeProxyHeader(enc(unknown))!;
    assert.equal(hu.length, 107);
    assert.equal(hu.source, undefined); // UNKNOWN: the rest of the line is ignored
  });

  test("the spec's example, IPv6 in canonical form, and a split line", () => {
    const line = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
    const h = decodeProxyHeader(enc(line))!;
    assert.deepEqual(h.source, { address: "192.168.0.1", port: 56324 });
    assert.deepEqual(h.destination, { address: "192.168.0.11", port: 443 });
    const h6 = decodeProxyHeader(enc("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 22\r\n"))!;
    assert.equal(h6.source!.address, "2001:db8::1");
    assert.equal(h6.destination!.address, "::1");
    for (let i = 0; i < line.length; i++) {
      assert.equal(decodeProxyHeader(enc(line.slice(0, i))), undefined, `prefix of ${i} bytes`);
    }
  });

  test("refuses bad lines, saying what was wrong", () => {
    const bad: [string, RegExp][] = [
      ["PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", /byte 0xa at 30/],
      ["PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", /byte 0xd at 18/],
      ["PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", /protocol "TCP5"/],
      ["PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", /6 fields/],
      ["PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", /bad TCP4 address "1.2.3.256"/],
      ["PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", /bad TCP4 address/],
      ["PROXY TCP4 ::1 5.6.7.8 1 2\r\n", /bad TCP4 address "::1"/],
      ["PROXY TCP6 1.2.3.4 ::1 1 2\r\n", /bad TCP6 address "1.2.3.4"/],
      ["PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", /bad port "65536"/],
      ["PROXY TCP4 1.2.3.4 5.6.7.8 022 2\r\n", /bad port "022"/],
      ["SSH-2.0-OpenSSH_9.2\r\n", /expected a PROXY header, got "SSH-2.0-OpenSSH_"/],
      ["PROXY " + "x".repeat(120), /no CRLF within 107 bytes/],
    ];
    for (const [line, why] of bad) {
      assert.throws(() => decodeProxyHeader(enc(line)), (e) => {
        assert.ok(e instanceof ProxyProtocolError, line);
        assert.match(e.message, why, line);
        return true;
      });
    }
    // A wrong first byte is refused at once, without waiting for more.
    assert.throws(() => decodeProxyHeader(enc("S")), ProxyProtocolError);
  });
});

describe("decodeProxyHeader, version 2 (proxy-protocol.txt §2.2)", () => {
  const inet = [192, 0, 2, 7, 198, 51, 100, 1, 0xc3, 0xcb, 0, 22]; // 50123 -> 22

  test("PROXY over INET and INET6, a split header, TLVs", () => {
    const bytes = v2(1, 0x11, inet, [0x04, 0, 2, 0xaa, 0xbb]); // PP2_TYPE_NOOP
    const h = decodeProxyHeader(atOffset(bytes))!;
    assert.deepEqual(h, {
      version: 2,
      command: "proxy",
      family: "tcp4",
      source: { address: "192.0.2.7", port: 50123 },
      destination: { address: "198.51.100.1", port: 22 },
      tlvs: [{ type: 4, value: new Uint8Array([0xaa, 0xbb]) }],
      length: 16 + 12 + 5,
    });
    for (let i = 0; i < bytes.length; i++) {
      assert.equal(decodeProxyHeader(bytes.subarray(0, i)), undefined, `prefix of ${i} bytes`);
    }
    const src6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    const dst6 = [...new Array(10).fill(0), 0xff, 0xff, 127, 0, 0, 1];
    const h6 = decodeProxyHeader(v2(1, 0x21, [...src6, ...dst6, 0xff, 0xff, 0, 22]))!;
    assert.equal(h6.family, "tcp6");
    assert.deepEqual(h6.source, { address: "2001:db8::1", port: 65535 });
    assert.equal(h6.destination!.address, "::ffff:127.0.0.1");
  });

  test("LOCAL skips its block; UNSPEC and UNIX carry no IP address", () => {
    const local = decodeProxyHeader(v2(0, 0x11, inet))!;
    assert.equal(local.command, "local");
    assert.equal(local.source, undefined);
    assert.equal(local.length, 28);
    assert.equal(decodeProxyHeader(v2(0, 0x00, []))!.command, "local"); // HAProxy's health checks
    assert.equal(decodeProxyHeader(v2(1, 0x00, []))!.family, "unknown");
    const path = (s: string) => [...enc(s), ...new Array(108 - s.length).fill(0)];
    const unix = decodeProxyHeader(v2(1, 0x31, [...path("/run/a"), ...path("/run/b")]))!;
    assert.equal(unix.family, "unix");
    assert.equal(unix.source!.address, "/run/a");
  });

  test("CRC32C: the check value, and a header's own checksum", () => {
    assert.equal(crc32c(enc("123456789")), 0xe3069283); // the CRC-32C check value
    const withCrc = v2(1, 0x11, inet, [0x03, 0, 4, 0, 0, 0, 0]);
    const crc = crc32c(withCrc);
    new DataView(withCrc.buffer).setUint32(withCrc.length - 4, crc);
    assert.equal(decodeProxyHeader(withCrc)!.tlvs[0].type, 3);
    withCrc[16] ^= 1; // the source address changed on the way
    assert.throws(() => decodeProxyHeader(withCrc), /CRC32C 0x[0-9a-f]+ does not match/);
  });

  test("refuses bad headers, saying what was wrong", () => {
    const bad: [Uint8Array, RegExp][] = [
      [new Uint8Array([...SIG, 0x11, 0x11, 0, 12, ...inet]), /version 1 \(expected 2\)/],
      [v2(2, 0x11, inet), /command 2/],
      [v2(1, 0x12, inet), /transport protocol 2 \(a stream is expected\)/],
      [v2(1, 0x41, inet), /address family 4/],
      [v2(1, 0x21, inet), /too short for the INET6 addresses \(36\)/],
      [v2(1, 0x11, inet, [0x04, 0, 9, 1]), /TLV 0x4 of 9 bytes overruns/],
      [v2(1, 0x11, inet, [0x04, 0]), /2 stray bytes after the last TLV/],
      [v2(1, 0x11, inet, [0x03, 0, 2, 0, 0]), /CRC32C TLV of 2 bytes/],
    ];
    for (const [bytes, why] of bad) {
      assert.throws(() => decodeProxyHeader(bytes), why);
    }
    // The length is checked before waiting for the body: at most maxBytes (default 4096).
    const huge = new Uint8Array([...SIG, 0x21, 0x11, 0xff, 0xff]);
    assert.throws(() => decodeProxyHeader(huge), /length 65551 over the limit of 4096 bytes/);
    assert.equal(decodeProxyHeader(huge, { maxBytes: 1e9 }), undefined); // capped at the spec's 65551
    assert.throws(
      () => decodeProxyHeader(v2(1, 0x11, inet, new Array(300).fill(4)), { maxBytes: 64 }),
      /length 328 over the limit of 64 bytes/,
    );
  });
});

describe("trustedProxies and readProxyHeader", () => {
  test("trusted addresses and networks; a bad entry is a TypeError", () => {
    const t = trustedProxies(["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]);
    assert.equal(t("10.200.0.1"), true);
    assert.equal(t("::ffff:10.0.0.1"), true); // a dual-stack listener's IPv4 peer
    assert.equal(t("2001:db8:1::5"), true);
    assert.equal(t("127.0.0.1"), true);
    assert.equal(t("127.0.0.2"), false);
    assert.equal(t(undefined), false);
    assert.equal(trustedProxies([])("127.0.0.1"), false);
    for (const entry of ["10.0.0.1/8", "*", "example.com", "10.0.0.0/33", ""]) {
      assert.throws(() => trustedProxies([entry]), TypeError, entry);
    }
  });

  /** One end of a memory pair posing as a socket from `peer`, and the other end. */
  function socketFrom(peer: string) {
    const [server, client] = memoryPair();
    let closed = false;
    const conn = {
      ...server,
      remoteAddress: peer,
      remotePort: 40000,
      localAddress: "10.0.0.5",
      localPort: 2222,
      close: () => void (closed = true),
    };
    return { conn, client, closed: () => closed };
  }

  test("the carried address replaces the socket's; the bytes after the header pass", async () => {
    const { conn, client } = socketFrom("::ffff:127.0.0.1");
    const w = client.writable.getWriter();
    const header = v2(1, 0x11, [192, 0, 2, 7, 198, 51, 100, 1, 0xc3, 0xcb, 0, 22]);
    await w.write(header.subarray(0, 5)); // in pieces, the last one with the client's bytes
    await w.write(new Uint8Array([...header.subarray(5), ...enc("SSH-2.0-")]));
    const c = await readProxyHeader(conn, { trusted: ["127.0.0.0/8"] });
    assert.equal(c.remoteAddress, "192.0.2.7");
    assert.equal(c.remotePort, 50123);
    assert.equal(c.localAddress, "198.51.100.1");
    assert.equal(c.localPort, 22);
    assert.equal(c.proxyAddress, "127.0.0.1");
    await w.write(enc("x\r\n"));
    const r = c.readable.getReader();
    let text = "";
    while (text.length < 11) text += new TextDecoder().decode((await r.read()).value);
    assert.equal(text, "SSH-2.0-x\r\n");
  });

  test("LOCAL keeps the socket's addresses", async () => {
    const { conn, client } = socketFrom("127.0.0.1");
    await client.writable.getWriter().write(v2(0, 0x00, []));
    const c = await readProxyHeader(conn, { trusted: ["127.0.0.1"] });
    assert.equal(c.header.command, "local");
    assert.equal(c.remoteAddress, "127.0.0.1");
    assert.equal(c.remotePort, 40000);
    assert.equal(c.localPort, 2222);
  });

  test("untrusted peer, no header in time, not a header, early end: closed, nothing written", async () => {
    const cases: { peer: string; send?: string; end?: boolean; why: RegExp }[] = [
      { peer: "192.0.2.1", send: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", why: /not a trusted proxy/ },
      // A socket that reports no peer address (Bun, once the peer has gone) is not trusted.
      { peer: "", why: /^PROXY protocol from an unknown address: not a trusted proxy/ },
      { peer: "127.0.0.1", why: /no complete PROXY header within 50 ms/ },
      { peer: "127.0.0.1", send: "PROXY TCP4 1.2", why: /within 50 ms/ },
      { peer: "127.0.0.1", send: "SSH-2.0-x\r\n", why: /expected a PROXY header/ },
      { peer: "127.0.0.1", send: "PROXY TCP4", end: true, why: /ended after 10 bytes/ },
    ];
    for (const { peer, send, end, why } of cases) {
      const { conn, client, closed } = socketFrom(peer);
      const w = client.writable.getWriter();
      if (send) await w.write(enc(send));
      if (end) await w.close();
      const started = Date.now();
      await assert.rejects(
        readProxyHeader(conn, { trusted: ["127.0.0.1"], timeoutMs: 50 }),
        (e) => {
          assert.ok(e instanceof ProxyProtocolError);
          assert.match(e.message, why);
          assert.equal(e.peer, peer.replace("::ffff:", ""));
          return true;
        },
      );
      assert.ok(Date.now() - started < 2000);
      assert.equal(closed(), true, `${why} closes the socket`);
      // Nothing reached the client: its readable ends (aborted) without a byte.
      const got = await client.readable.getReader().read().catch(() => ({ value: undefined }));
      assert.equal(got.value, undefined);
    }
  });
});
