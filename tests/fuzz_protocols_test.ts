// Property and fuzz tests over the decoders of the protocols beside SSH's
// own: agent messages and framing (draft-ietf-sshm-ssh-agent), SFTP packets
// and framing (draft-ietf-secsh-filexfer-02 and OpenSSH's extensions), the
// PROXY protocol header (haproxy proxy-protocol.txt) and ssh_config.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { assertSame, bytes, check, expectTyped, hostile, name, text, u32 } from "./_fuzz.ts";
import { WireError } from "../lib/wire/errors.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import {
  AGENT_MAX_MESSAGE,
  AgentError,
  AgentFramer,
  type AgentMessage,
  decodeAgentMessage,
  encodeAgentMessage,
  frameAgentMessage,
} from "../lib/agent/protocol.ts";
import {
  decodeHello,
  decodeLimits,
  decodeRequest,
  decodeResponse,
  decodeStatVfs,
  decodeUsersGroups,
  encodeHello,
  encodeLimits,
  encodeRequest,
  encodeResponse,
  encodeStatVfs,
  encodeUsersGroups,
  type FileAttributes,
  SftpFramer,
  type SftpRequest,
  type SftpResponse,
  SftpUnknownRequest,
} from "../lib/sftp/packets.ts";
import { crc32c, decodeProxyHeader, ProxyProtocolError } from "../lib/runtime/proxy_protocol.ts";
import { resolveSshConfig, SshConfigError } from "../lib/config/ssh_config.ts";
import { parseForward } from "../lib/config/_forward.ts";

const RUNS = 300;
const safe = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const handle = fc.uint8Array({ maxLength: 16 });
const path = fc.string({ maxLength: 20 });

// ---------------------------------------------------------------- agent

const agentKey = await generatePrivateKey("ssh-ed25519");

const agentMessage: fc.Arbitrary<AgentMessage> = fc.oneof(
  fc.constant({ type: "failure" as const }),
  fc.constant({ type: "success" as const }),
  fc.constant({ type: "request-identities" as const }),
  fc.record({
    type: fc.constant("identities-answer" as const),
    identities: fc.array(fc.record({ blob: bytes, comment: text }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant("sign-request" as const), blob: bytes, data: bytes, flags: u32 }),
  fc.record({ type: fc.constant("sign-response" as const), signature: bytes }),
  fc.record({ type: fc.constant("remove-identity" as const), blob: bytes }),
  fc.constant({ type: "remove-all-identities" as const }),
  fc.record({ type: fc.constant("extension" as const), name, data: bytes }),
  fc.constant({ type: "extension-failure" as const }),
  fc.record({
    type: fc.constant("add-identity" as const),
    key: fc.constant(agentKey),
    comment: text,
    constraints: fc.option(
      fc.array(
        fc.oneof(
          fc.record({ type: fc.constant("lifetime" as const), seconds: u32 }),
          fc.constant({ type: "confirm" as const }),
        ),
        { maxLength: 3 },
      ),
      { nil: undefined },
    ),
  }),
);

/** Agent messages without the private key object (compared by its public half). */
function comparable(m: AgentMessage): unknown {
  if (m.type !== "add-identity") return m;
  const { key, ...rest } = m;
  return { ...rest, key: key.publicKey.blob };
}

test("fuzz: agent messages round-trip", () => {
  check(agentMessage, RUNS / 3, (m) => {
    assertSame(comparable(decodeAgentMessage(encodeAgentMessage(m))), comparable(m), m.type);
  });
});

test("fuzz: agent messages: hostile bodies decode to a value, a WireError or an AgentError", () => {
  check(hostile(agentMessage.map(encodeAgentMessage)), RUNS * 2, (b) => {
    expectTyped(b, decodeAgentMessage, [WireError, AgentError]);
  });
});

test("fuzz: AgentFramer cuts any chunking of framed messages into the same bodies", () => {
  const stream = fc.array(agentMessage.map(encodeAgentMessage), { minLength: 1, maxLength: 5 });
  check(fc.tuple(stream, fc.array(fc.nat(), { maxLength: 8 })), RUNS / 3, ([bodies, cuts]) => {
    const all = concat(bodies.map(frameAgentMessage));
    const f = new AgentFramer();
    const got: Uint8Array[] = [];
    for (const chunk of split(all, cuts)) got.push(...f.push(chunk));
    assertSame(got, bodies, "framed bodies");
    assert.equal(f.pending, 0);
  });
});

test("fuzz: AgentFramer on hostile streams yields bodies or an AgentError, never holds more than the limit", () => {
  check(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), RUNS, (chunks) => {
    const f = new AgentFramer();
    expectTyped(chunks, (cs) => {
      for (const c of cs) {
        for (const body of f.push(c)) {
          assert.ok(body.length > 0 && body.length <= AGENT_MAX_MESSAGE);
        }
      }
      return f.pending;
    }, [AgentError]);
    assert.ok(f.pending <= AGENT_MAX_MESSAGE + 4);
  });
});

// ---------------------------------------------------------------- SFTP

const attrs: fc.Arbitrary<FileAttributes> = fc.record({
  size: safe,
  uid: u32,
  gid: u32,
  permissions: u32,
  atime: u32,
  mtime: u32,
  // An empty extended list is no extended list on the wire.
  extended: fc.array(fc.tuple(name, bytes), { minLength: 1, maxLength: 2 }),
}, { requiredKeys: [] }).map((a) => {
  // uid/gid and atime/mtime travel in pairs (§5).
  const out: FileAttributes = { ...a };
  if ((a.uid === undefined) !== (a.gid === undefined)) (delete out.uid, delete out.gid);
  if ((a.atime === undefined) !== (a.mtime === undefined)) (delete out.atime, delete out.mtime);
  return out;
});

const sftpRequest: fc.Arbitrary<SftpRequest> = fc.oneof(
  fc.record({ type: fc.constant("open" as const), path, flags: u32, attrs }),
  fc.record({
    type: fc.constantFrom(
      "close" as const,
      "fstat" as const,
      "readdir" as const,
      "fstatvfs@openssh.com" as const,
      "fsync@openssh.com" as const,
    ),
    handle,
  }),
  fc.record({ type: fc.constant("read" as const), handle, offset: safe, length: u32 }),
  fc.record({ type: fc.constant("write" as const), handle, offset: safe, data: bytes }),
  fc.record({
    type: fc.constantFrom(
      "lstat" as const,
      "opendir" as const,
      "remove" as const,
      "rmdir" as const,
      "realpath" as const,
      "stat" as const,
      "readlink" as const,
      "statvfs@openssh.com" as const,
      "expand-path@openssh.com" as const,
    ),
    path,
  }),
  fc.record({
    type: fc.constantFrom("setstat" as const, "mkdir" as const, "lsetstat@openssh.com" as const),
    path,
    attrs,
  }),
  fc.record({ type: fc.constant("fsetstat" as const), handle, attrs }),
  fc.record({
    type: fc.constantFrom(
      "rename" as const,
      "posix-rename@openssh.com" as const,
      "hardlink@openssh.com" as const,
    ),
    oldPath: path,
    newPath: path,
  }),
  fc.record({ type: fc.constant("symlink" as const), target: path, linkPath: path }),
  fc.constant({ type: "limits@openssh.com" as const }),
  fc.record({
    type: fc.constant("copy-data" as const),
    readHandle: handle,
    readOffset: safe,
    length: safe,
    writeHandle: handle,
    writeOffset: safe,
  }),
  fc.record({ type: fc.constant("home-directory" as const), username: path }),
  fc.record({
    type: fc.constant("users-groups-by-id@openssh.com" as const),
    uids: fc.array(u32, { maxLength: 4 }),
    gids: fc.array(u32, { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant("extended" as const),
    name: name.map((n) => `x-${n}@example.com`),
    data: bytes,
  }),
);

const sftpResponse: fc.Arbitrary<SftpResponse> = fc.oneof(
  fc.record({
    type: fc.constant("status" as const),
    code: u32,
    message: text,
    language: fc.constantFrom("", "en"),
  }),
  fc.record({ type: fc.constant("handle" as const), handle }),
  fc.record({ type: fc.constant("data" as const), data: bytes }),
  fc.record({
    type: fc.constant("name" as const),
    entries: fc.array(fc.record({ filename: path, longname: path, attrs }), { maxLength: 3 }),
  }),
  fc.record({ type: fc.constant("attrs" as const), attrs }),
  fc.record({ type: fc.constant("extended-reply" as const), data: bytes }),
);

const withId = <T>(a: fc.Arbitrary<T>) => fc.record({ id: u32, value: a });

test("fuzz: SFTP requests round-trip", () => {
  check(withId(sftpRequest), RUNS, ({ id, value }) => {
    const p = encodeRequest(id, value);
    assert.equal(new DataView(p.buffer, p.byteOffset).getUint32(0), p.length - 4, "length field");
    assertSame(decodeRequest(p.subarray(4)), { id, request: value }, value.type);
  });
});

test("fuzz: SFTP responses round-trip", () => {
  check(withId(sftpResponse), RUNS / 2, ({ id, value }) => {
    assertSame(
      decodeResponse(encodeResponse(id, value).subarray(4)),
      { id, response: value },
      value.type,
    );
  });
});

test("fuzz: SFTP requests: hostile packets decode to a value, a WireError or SftpUnknownRequest", () => {
  check(
    hostile(withId(sftpRequest).map(({ id, value }) => encodeRequest(id, value).subarray(4))),
    RUNS * 2,
    (b) => {
      expectTyped(b, decodeRequest, [WireError, SftpUnknownRequest]);
    },
  );
});

test("fuzz: SFTP responses: hostile packets decode to a value or a WireError", () => {
  check(
    hostile(withId(sftpResponse).map(({ id, value }) => encodeResponse(id, value).subarray(4))),
    RUNS * 2,
    (b) => {
      expectTyped(b, decodeResponse, [WireError]);
    },
  );
});

test("fuzz: SFTP extension payloads (hello, statvfs, limits, users-groups) round-trip and resist hostile bytes", () => {
  const statvfs = fc.record({
    bsize: safe,
    frsize: safe,
    blocks: safe,
    bfree: safe,
    bavail: safe,
    files: safe,
    ffree: safe,
    favail: safe,
    fsid: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    flag: safe,
    namemax: safe,
  });
  const limits = fc.record({
    maxPacketLength: safe,
    maxReadLength: safe,
    maxWriteLength: safe,
    maxOpenHandles: safe,
  });
  const ug = fc.record({
    users: fc.array(text, { maxLength: 4 }),
    groups: fc.array(text, { maxLength: 4 }),
  });
  check(statvfs, RUNS / 3, (s) => assertSame(decodeStatVfs(encodeStatVfs(s)), s, "statvfs"));
  check(limits, RUNS / 3, (l) => assertSame(decodeLimits(encodeLimits(l)), l, "limits"));
  check(
    ug,
    RUNS / 3,
    (u) => assertSame(decodeUsersGroups(encodeUsersGroups(u)), u, "users-groups"),
  );
  check(
    hostile(statvfs.map(encodeStatVfs)),
    RUNS,
    (b) => expectTyped(b, decodeStatVfs, [WireError]),
  );
  check(hostile(limits.map(encodeLimits)), RUNS, (b) => expectTyped(b, decodeLimits, [WireError]));
  check(
    hostile(ug.map(encodeUsersGroups)),
    RUNS,
    (b) => expectTyped(b, decodeUsersGroups, [WireError]),
  );
  const hello = fc.record({
    kind: fc.constantFrom("init" as const, "version" as const),
    version: u32,
    extensions: fc.array(fc.tuple(name, name), { maxLength: 3 }),
  });
  const encHello = (
    h: { kind: "init" | "version"; version: number; extensions: [string, string][] },
  ) => encodeHello(h.kind, h.version, h.extensions).subarray(4);
  check(hostile(hello.map(encHello)), RUNS, (b) => {
    expectTyped(b, decodeHello, [WireError]);
  });
});

test("fuzz: SftpFramer cuts any chunking into the same packets; hostile lengths are a WireError", () => {
  const packets = fc.array(withId(sftpRequest).map(({ id, value }) => encodeRequest(id, value)), {
    minLength: 1,
    maxLength: 5,
  });
  check(fc.tuple(packets, fc.array(fc.nat(), { maxLength: 8 })), RUNS / 3, ([ps, cuts]) => {
    const f = new SftpFramer();
    const got: Uint8Array[] = [];
    for (const chunk of split(concat(ps), cuts)) f.push(chunk, (p) => got.push(p.slice()));
    assertSame(got, ps.map((p) => p.subarray(4)), "framed packets");
    assert.equal(f.buffered, 0);
  });
  check(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), RUNS, (chunks) => {
    const f = new SftpFramer(1024);
    expectTyped(chunks, (cs) => {
      for (const c of cs) f.push(c, (p) => assert.ok(p.length <= 1024));
    }, [WireError]);
    assert.ok(f.buffered <= 1024 + 4);
  });
});

// ---------------------------------------------------------------- PROXY protocol

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const port = fc.nat({ max: 65535 });
const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));

/** Valid version 1 lines and version 2 headers (TCP4/TCP6/UNIX/LOCAL, TLVs, optional CRC32C). */
const proxyHeader: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(v4, v4, port, port).map(([s, d, sp, dp]) =>
    new TextEncoder().encode(`PROXY TCP4 ${s.join(".")} ${d.join(".")} ${sp} ${dp}\r\n`)
  ),
  fc.tuple(fc.ipV6(), fc.ipV6(), port, port).map(([s, d, sp, dp]) =>
    new TextEncoder().encode(`PROXY TCP6 ${s} ${d} ${sp} ${dp}\r\n`)
  ),
  fc.constant(new TextEncoder().encode("PROXY UNKNOWN\r\n")),
  fc.record({
    cmd: fc.constantFrom(0, 1),
    fam: fc.constantFrom(0x11, 0x21, 0x31, 0x00), // streams: SSH runs over TCP
    tlvs: fc.array(
      fc.tuple(fc.integer({ min: 0x04, max: 0xff }), fc.uint8Array({ maxLength: 12 })),
      { maxLength: 3 },
    ),
    crc: fc.boolean(),
    addr: fc.uint8Array({ minLength: 216, maxLength: 216 }),
  }).map(({ cmd, fam, tlvs, crc, addr }) => {
    const blockLen = fam >> 4 === 1 ? 12 : fam >> 4 === 2 ? 36 : fam >> 4 === 3 ? 216 : 0;
    const block = [...addr.subarray(0, blockLen)];
    if (fam >> 4 === 3) block.fill(0, 100, 108).fill(0, 208); // NUL-terminated paths
    const tl = tlvs.flatMap((
      [t, v],
    ) => [t === 0x03 ? 0x04 : t, v.length >> 8, v.length & 0xff, ...v]);
    const crcAt = SIG.length + 4 + block.length + tl.length + 3;
    const tail = crc ? [0x03, 0, 4, 0, 0, 0, 0] : [];
    const len = block.length + tl.length + tail.length;
    const h = new Uint8Array([
      ...SIG,
      0x20 | cmd,
      fam,
      len >> 8,
      len & 0xff,
      ...block,
      ...tl,
      ...tail,
    ]);
    if (crc) new DataView(h.buffer).setUint32(crcAt, crc32c(h));
    return h;
  }),
);

test("fuzz: PROXY headers: valid ones decode, with their length; each prefix is 'need more'", () => {
  check(fc.tuple(proxyHeader, fc.uint8Array({ maxLength: 8 })), RUNS, ([h, after]) => {
    const all = concat([h, after]);
    const got = decodeProxyHeader(all);
    assert.ok(got, "a whole header decodes");
    assert.equal(got.length, h.length);
    for (let i = 0; i < h.length; i++) {
      assert.equal(decodeProxyHeader(h.subarray(0, i)), undefined, `prefix of ${i} bytes`);
    }
  });
});

test("fuzz: PROXY headers: hostile bytes give a header, 'need more' or a ProxyProtocolError", () => {
  check(hostile(proxyHeader), RUNS * 2, (b) => {
    const h = expectTyped(b, decodeProxyHeader, [ProxyProtocolError]);
    if (h) assert.ok(h.length <= b.length);
  });
});

// ---------------------------------------------------------------- ssh_config

const KEYWORDS = [
  "Host",
  "Match",
  "HostName",
  "Port",
  "User",
  "IdentityFile",
  "ProxyJump",
  "ProxyCommand",
  "LocalForward",
  "RemoteForward",
  "DynamicForward",
  "Include",
  "SendEnv",
  "SetEnv",
  "ConnectTimeout",
  "ServerAliveInterval",
  "StrictHostKeyChecking",
  "Ciphers",
  "KexAlgorithms",
  "RekeyLimit",
  "CanonicalizeHostname",
  "CanonicalDomains",
  "IPQoS",
  "AddressFamily",
  "ControlPath",
  "ForwardAgent",
  "UserKnownHostsFile",
  "HostKeyAlias",
  "LogLevel",
  "Compression",
];
const configValue = fc.oneof(
  fc.constantFrom(
    "yes",
    "no",
    "ask",
    "*",
    "%h:%p",
    "~/.ssh/id_ed25519",
    "1G 1h",
    "-1",
    "99999999999",
    "host all",
    "exec true",
    "localhost:22",
    "8080 localhost:80",
    "[::1]:22",
    '"quoted value"',
    "a,b,-c,^d",
    "none",
  ),
  fc.string({ maxLength: 16 }),
);
const configLine = fc.oneof(
  fc.tuple(fc.constantFrom(...KEYWORDS), fc.constantFrom(" ", "=", " = ", "\t"), configValue).map((
    [k, s, v],
  ) => `${k}${s}${v}`),
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    "",
    "# comment",
    "  ",
    "Host *",
    "Match all",
    "Match host a,b user x",
    "Include other",
  ),
);
const configText = fc.array(configLine, { maxLength: 12 }).map((l) => l.join("\n"));

test("fuzz: ssh_config: any file resolves or fails with an SshConfigError", () => {
  check(fc.tuple(configText, configText), RUNS, ([main, other]) => {
    const files: Record<string, string> = {
      "/home/me/.ssh/config": main,
      "/home/me/.ssh/other": other,
    };
    expectTyped(main, () =>
      resolveSshConfig("example.org", {
        sources: [{ path: "/home/me/.ssh/config", user: true }],
        reader: { readFile: (p) => files[p], glob: (p) => (p in files ? [p] : []) },
        localUser: "me",
        home: "/home/me",
        env: {},
      }), [SshConfigError]);
  });
});

test("fuzz: ssh_config: -o command-line options resolve or fail with an SshConfigError", () => {
  check(fc.array(configLine, { maxLength: 4 }), RUNS, (commandLine) => {
    expectTyped(commandLine, () =>
      resolveSshConfig("example.org", {
        sources: [],
        reader: { readFile: () => undefined, glob: () => [] },
        commandLine,
        localUser: "me",
        home: "/home/me",
        env: {},
      }), [SshConfigError]);
  });
});

test("fuzz: forwarding specs (-L/-R/-D, LocalForward) parse to a spec or undefined", () => {
  const spec = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.tuple(
      fc.constantFrom("", "localhost:", "[::1]:", "*:", "/tmp/s:"),
      fc.oneof(port.map(String), fc.string({ maxLength: 4 })),
      fc.constantFrom("", ":host:80", " host:22", ":[::1]:22", ":/tmp/sock"),
    ).map((p) => p.join("")),
  );
  check(fc.tuple(spec, fc.boolean(), fc.boolean()), RUNS, ([s, dynamic, remote]) => {
    expectTyped(s, (v) => parseForward(v, { dynamic, remote }), [SshConfigError]);
  });
});

// ---------------------------------------------------------------- helpers

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), o += p.length);
  return out;
}

function split(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => (b.length ? c % b.length : 0)))].sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, b.length]) {
    if (c > prev) out.push(b.slice(prev, c));
    prev = Math.max(prev, c);
  }
  return out;
}
