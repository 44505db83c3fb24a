// connect() with an OpenSSH known_hosts file: accept-new writes the line,
// the next connection matches it, a changed key is refused with reason 9
// (the DisconnectError's cause is the HostKeyError).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connect } from "../lib/client.ts";
import { HostKeyError } from "../lib/host_keys.ts";
import { serveConnection } from "../lib/server.ts";
import { memoryPair } from "../lib/runtime/memory.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import type { DisconnectError } from "../lib/wire/errors.ts";

async function attempt(
  hostKey: PrivateKey,
  knownHosts: { knownHosts: string; acceptNew?: boolean },
) {
  const [a, b] = memoryPair();
  serveConnection(b, {
    hostKeys: [hostKey],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
  }).catch(() => {});
  const c = await connect({
    stream: a,
    host: "build.example",
    port: 2222,
    username: "u",
    password: "p",
    hostKey: knownHosts,
  });
  await c.close();
}

test("known_hosts: unknown refused, accept-new writes the OpenSSH line, match, changed key refused", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-kh-"));
  const file = path.join(dir, "known_hosts");
  try {
    const key = await generatePrivateKey("ssh-ed25519");
    await assert.rejects(attempt(key, { knownHosts: file }), (e: DisconnectError) => {
      assert.equal(e.reason, 9);
      assert.match(e.message, /no host key is known for \[build\.example\]:2222/);
      assert.ok(e.cause instanceof HostKeyError);
      assert.equal(e.cause.kind, "unknown");
      return true;
    });
    await attempt(key, { knownHosts: file, acceptNew: true });
    const line = fs.readFileSync(file, "utf8");
    assert.match(line, /^\[build\.example\]:2222 ssh-ed25519 AAAA\S+\n$/);
    await attempt(key, { knownHosts: file }); // now known: no acceptNew needed
    const other = await generatePrivateKey("ssh-ed25519");
    await assert.rejects(
      attempt(other, { knownHosts: file, acceptNew: true }),
      (e: DisconnectError) => {
        assert.equal(e.reason, 9);
        assert.match(e.message, /REMOTE HOST IDENTIFICATION HAS CHANGED.*known_hosts:1/);
        assert.ok(e.cause instanceof HostKeyError);
        assert.deepEqual(
          [e.cause.kind, e.cause.host, e.cause.file, e.cause.line, e.cause.fingerprint],
          ["changed", "[build.example]:2222", file, 1, other.publicKey.fingerprint()],
        );
        return true;
      },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
