// Compression against the real OpenSSH (RFC 4253 §6.2, PROTOCOL §2.1), over
// loopback: our client with zlib@openssh.com against sshd (data both ways
// through cat, SHA-256 equal, across a re-key), and OpenSSH's `ssh -C` /
// `-o Compression=yes` against our server with zlib@openssh.com and zlib.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  currentUser,
  findOpenSsh,
  pinnedHostKey,
  runProcess,
  type Sshd,
  startSshd,
} from "./_openssh.ts";
import { connect, type SshClient } from "../lib/client.ts";
import { listen, runLocalCommand, type SshServer } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { hostKey } from "./_transport_pair.ts";
import { connectTcp } from "../lib/runtime/tcp.ts";
import type { ByteStreamPair } from "../lib/runtime/types.ts";

const openssh = findOpenSsh();
const skip = openssh
  ? false
  : "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-server)";
const user = currentUser();
const MiB = 1024 * 1024;
const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** `size` bytes of log-like text with random parts: compressible, never repetitive. */
function textData(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const words = ["accept", "deny", "GET", "/index.html", "200", "404", "bytes", "ms"];
  const rnd = new Uint32Array(4);
  let line = "";
  const enc = new TextEncoder();
  for (let at = 0; at < size;) {
    crypto.getRandomValues(rnd);
    line = `${rnd[0]} ${words[rnd[1] % 8]} ${words[rnd[2] % 8]} ${rnd[3].toString(16)}\n`;
    const b = enc.encode(line);
    out.set(b.subarray(0, size - at), at);
    at += b.length;
  }
  return out;
}

/** Counts the bytes each way through a socket. */
const counted = {
  bytes: { up: 0, down: 0 },
  wrap(s: ByteStreamPair): ByteStreamPair {
    const tap = (dir: "up" | "down") =>
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, c) => {
          counted.bytes[dir] += chunk.length;
          c.enqueue(chunk);
        },
      });
    const up = tap("up");
    up.readable.pipeTo(s.writable).catch(() => {});
    return { readable: s.readable.pipeThrough(tap("down")), writable: up.writable };
  },
};

describe("our client with compression against OpenSSH sshd", { skip }, () => {
  let sshd: Sshd;
  let key: PrivateKey;
  let client: SshClient;
  before(async () => {
    key = await generatePrivateKey("ssh-ed25519");
    // sshd 9.2's default, spelled out: Compression yes offers none,zlib@openssh.com.
    sshd = await startSshd({ config: { Compression: "yes", LogLevel: "DEBUG1" } });
    fs.writeFileSync(
      path.join(sshd.dir, "authorized_keys"),
      `ssh-ed25519 ${b64(key.publicKey.blob)}\n`,
    );
    const socket = await connectTcp("127.0.0.1", sshd.port);
    client = await connect({
      stream: counted.wrap(socket),
      username: user,
      privateKeys: [key],
      hostKey: pinnedHostKey(sshd),
      compression: ["zlib@openssh.com", "zlib", "none"], // as ssh -C
    });
  });
  after(async () => {
    await client?.close();
    await sshd?.stop();
  });

  it("negotiates zlib@openssh.com both ways", () => {
    const a = client.transport.algorithms!;
    assert.equal(a.compressionClientToServer, "zlib@openssh.com");
    assert.equal(a.compressionServerToClient, "zlib@openssh.com");
  });

  it("16 MiB through cat both ways, SHA-256 equal, before and after a re-key", async () => {
    for (const round of [0, 1]) {
      const data = textData(16 * MiB);
      const r = await client.exec("cat", { stdin: data });
      assert.equal(r.code, 0);
      assert.equal(r.stdout.length, data.length, `round ${round}`);
      assert.equal(sha256(r.stdout), sha256(data), `round ${round}`);
      if (round === 0) await client.transport.rekey();
    }
    assert.equal((await client.transport.rekey()).count, 3);
    const small = await client.exec("head -c 100000 /dev/zero | wc -c");
    assert.equal(new TextDecoder().decode(small.stdout).trim(), "100000");
  });

  it("what crossed the socket is compressed both ways", async () => {
    const a = counted.bytes;
    const before = { ...a };
    const data = textData(4 * MiB);
    const r = await client.exec("cat", { stdin: data });
    assert.equal(sha256(r.stdout), sha256(data));
    const up = a.up - before.up, down = a.down - before.down;
    assert.ok(up < data.length * 0.6, `client to server: ${up} bytes for ${data.length}`);
    assert.ok(down < data.length * 0.6, `server to client: ${down} bytes for ${data.length}`);
  });
});

describe("OpenSSH ssh -C against our server", { skip }, () => {
  const servers: SshServer[] = [];
  let dir: string;
  let keyPath: string;
  let file: string;
  let want: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-zlib-"));
    keyPath = path.join(dir, "id_ed25519");
    spawnSync(openssh!.sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-f", keyPath]);
    file = path.join(dir, "blob");
    const data = textData(16 * MiB);
    fs.writeFileSync(file, data);
    want = sha256(data);
  });
  after(() => {
    for (const s of servers) s.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function server(compression: string[]): Promise<SshServer> {
    const allowed = fs.readFileSync(keyPath + ".pub", "utf8").split(" ")[1];
    const s = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [await hostKey("ssh-ed25519")],
      auth: { handlers: { publicKey: (u, k) => u === user && b64(k.blob) === allowed } },
      exec: runLocalCommand,
      compression,
    });
    servers.push(s);
    return s;
  }

  /** `ssh <flags> cat < blob | sha256sum`, with ssh's -v lines. */
  function catThrough(port: number, flags: string[]) {
    const args = [
      "-v",
      ...flags,
      "-F",
      "/dev/null",
      "-p",
      String(port),
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      keyPath,
    ].map((a) => `'${a}'`).join(" ");
    const cmd = `'${openssh!.ssh}' ${args} ${user}@127.0.0.1 cat < '${file}' | sha256sum`;
    return runProcess("/bin/sh", ["-c", cmd], { timeoutMs: 120_000 });
  }

  it("ssh -C with our server offering none,zlib@openssh.com (sshd's offer): 16 MiB both ways", async () => {
    const s = await server(["none", "zlib@openssh.com"]);
    const r = await catThrough(s.port, ["-C"]);
    assert.equal(r.stdout.split(" ")[0], want, r.stderr);
    assert.match(
      r.stderr,
      /kex: client->server cipher: \S+ MAC: \S+ compression: zlib@openssh\.com/,
    );
    assert.match(
      r.stderr,
      /kex: server->client cipher: \S+ MAC: \S+ compression: zlib@openssh\.com/,
    );
    assert.match(r.stderr, /Enabling compression at level 6/);
  });

  it("ssh -o Compression=yes with our server offering only zlib: 16 MiB both ways", async () => {
    const s = await server(["zlib"]);
    const r = await catThrough(s.port, ["-o", "Compression=yes"]);
    assert.equal(r.stdout.split(" ")[0], want, r.stderr);
    assert.match(r.stderr, /kex: client->server cipher: \S+ MAC: \S+ compression: zlib\r?\n/);
  });

  it("ssh without -C against a server that offers compression: none, as OpenSSH's default", async () => {
    const s = await server(["none", "zlib@openssh.com"]);
    const r = await catThrough(s.port, []);
    assert.equal(r.stdout.split(" ")[0], want, r.stderr);
    assert.match(r.stderr, /compression: none/);
  });
});
