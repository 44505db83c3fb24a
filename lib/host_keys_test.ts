import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HostKeyError, type KnownHostsPolicy, verifyKnownHost } from "./host_keys.ts";
import { formatKnownHostsLine } from "./keys/known_hosts.ts";
import { generatePrivateKey } from "./keys/private_key.ts";
import type { PublicKey } from "./keys/types.ts";
import { SshError } from "./wire/errors.ts";

let dir = "";
let n = 0;
let key: PublicKey;
let other: PublicKey;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-host-keys-test-"));
  key = (await generatePrivateKey("ssh-ed25519")).publicKey;
  other = (await generatePrivateKey("ecdsa-sha2-nistp256")).publicKey;
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fresh file path, written with `text` when given. */
function file(text?: string): string {
  const f = path.join(dir, `known_hosts_${n++}`);
  if (text !== undefined) fs.writeFileSync(f, text);
  return f;
}

const line = (k: PublicKey, host = "build.example", port = 2222) =>
  formatKnownHostsLine(k, { host, port });

const policy = (files: string[], more: Partial<KnownHostsPolicy> = {}): KnownHostsPolicy => ({
  host: "build.example",
  port: 2222,
  files,
  ...more,
});

/** Asserts that `p` rejects with a HostKeyError and returns it. */
async function refusal(p: Promise<unknown>): Promise<HostKeyError> {
  let caught: unknown;
  await assert.rejects(p, (e) => {
    caught = e;
    return e instanceof HostKeyError;
  });
  return caught as HostKeyError;
}

describe("verifyKnownHost", () => {
  it("unknown host: a HostKeyError of kind unknown naming the host, key and files", async () => {
    const a = file("");
    const missing = file();
    const e = await refusal(verifyKnownHost(key, policy([a, missing])));
    assert.ok(e instanceof SshError);
    assert.equal(e.name, "HostKeyError");
    assert.equal(e.kind, "unknown");
    assert.equal(e.host, "[build.example]:2222");
    assert.equal(e.keyType, "ssh-ed25519");
    assert.equal(e.fingerprint, key.fingerprint());
    assert.equal(e.file, undefined);
    assert.equal(e.line, undefined);
    assert.deepEqual(e.files, [a, missing]);
    assert.equal(e.message, `no host key is known for [build.example]:2222 in ${a}, ${missing}`);
  });

  it("accept-new adds the OpenSSH line (mode 0600, ~/.ssh-like parent 0700); then it is known", async () => {
    const f = path.join(dir, `ssh-${n++}`, "known_hosts");
    const v = await verifyKnownHost(key, policy([f], { acceptNew: true, addTo: f }));
    assert.deepEqual(v, { status: "added", file: f });
    assert.equal(fs.readFileSync(f, "utf8"), `${line(key)}\n`);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(f)).mode & 0o777, 0o700);
    const again = await verifyKnownHost(key, policy([f]));
    assert.deepEqual(again, { status: "known", file: f, line: 1 });
  });

  it("an added line follows a last line without a newline; hashNew hashes the name", async () => {
    const f = file("# no newline at the end");
    const v = await verifyKnownHost(key, policy([f], { acceptNew: true, addTo: f, hashNew: true }));
    assert.equal(v.status, "added");
    const lines = fs.readFileSync(f, "utf8").split("\n");
    assert.equal(lines[0], "# no newline at the end");
    assert.match(lines[1], /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 AAAA/);
    assert.equal(lines[2], "");
    assert.deepEqual(await verifyKnownHost(key, policy([f])), {
      status: "known",
      file: f,
      line: 2,
    });
  });

  it("fileMode sets the mode of a created file", async () => {
    const f = file();
    await verifyKnownHost(key, policy([f], { acceptNew: true, addTo: f, fileMode: 0o640 }));
    assert.equal(fs.statSync(f).mode & 0o777 & ~0o022, 0o640 & ~0o022);
  });

  it("changed key: kind changed with the offending file, line and key type, even with accept-new", async () => {
    const user = file("");
    const global = file(`# first\n${line(other)}\n`);
    const before = fs.readFileSync(global, "utf8");
    const e = await refusal(
      verifyKnownHost(key, policy([user, global], { acceptNew: true, addTo: user })),
    );
    assert.equal(e.kind, "changed");
    assert.equal(e.file, global);
    assert.equal(e.line, 2);
    assert.equal(e.knownKeyType, "ecdsa-sha2-nistp256");
    assert.equal(e.host, "[build.example]:2222");
    assert.match(
      e.message,
      /^REMOTE HOST IDENTIFICATION HAS CHANGED: \[build\.example\]:2222 offered ssh-ed25519 SHA256:/,
    );
    assert.ok(e.message.endsWith(`which does not match ${global}:2`));
    assert.equal(fs.readFileSync(user, "utf8"), "");
    assert.equal(fs.readFileSync(global, "utf8"), before);
  });

  it("revoked key: a @revoked line in any file wins over a matching line", async () => {
    const user = file(`${line(key)}\n`);
    const global = file(`${line(other)}\n@revoked ${line(key)}\n`);
    const e = await refusal(verifyKnownHost(key, policy([user, global])));
    assert.equal(e.kind, "revoked");
    assert.equal(e.file, global);
    assert.equal(e.line, 2);
    assert.equal(
      e.message,
      `host key ssh-ed25519 ${key.fingerprint()} for [build.example]:2222 is marked as revoked in ${global}:2`,
    );
    // Without the revocation, the user file's line matches.
    assert.deepEqual(await verifyKnownHost(key, policy([user])), {
      status: "known",
      file: user,
      line: 1,
    });
  });

  it("a match in any file wins over a changed key in another", async () => {
    const user = file(`${line(other)}\n`);
    const global = file(`${line(key)}\n`);
    assert.deepEqual(await verifyKnownHost(key, policy([user, global])), {
      status: "known",
      file: global,
      line: 1,
    });
  });

  it("acceptNew as a function: asked with the key and host; false refuses, true adds", async () => {
    const f = file();
    const asked: [string, string][] = [];
    const e = await refusal(verifyKnownHost(
      key,
      policy([f], {
        addTo: f,
        acceptNew: (k, host) => {
          asked.push([k.fingerprint(), host]);
          return false;
        },
      }),
    ));
    assert.equal(e.kind, "unknown");
    assert.deepEqual(asked, [[key.fingerprint(), "[build.example]:2222"]]);
    assert.equal(fs.existsSync(f), false);
    const v = await verifyKnownHost(
      key,
      policy([f], {
        addTo: f,
        acceptNew: () => Promise.resolve(true),
      }),
    );
    assert.equal(v.status, "added");
  });

  it("accepted without addTo: nothing is written", async () => {
    const f = file();
    assert.deepEqual(await verifyKnownHost(key, policy([f], { acceptNew: true })), {
      status: "accepted",
    });
    assert.equal(fs.existsSync(f), false);
  });

  it("accepted, but the line could not be written: the error is returned", async () => {
    const plain = file("not a directory");
    const f = path.join(plain, "known_hosts");
    const v = await verifyKnownHost(key, policy([f], { acceptNew: true, addTo: f }));
    assert.equal(v.status, "accepted");
    assert.equal(v.status === "accepted" && v.file, f);
    const error = (v as { error?: Error & { code?: string } }).error;
    assert.ok(error instanceof Error);
    assert.match(error.code ?? "", /^(ENOTDIR|EEXIST)$/); // mkdir -p meets a file
  });

  it("skips missing and unreadable files; reports malformed lines through onDiagnostic", async () => {
    const seen: string[] = [];
    const bad = file(`@bogus host ssh-ed25519 AAAA\n${line(key, "example.com", 22)}\n`);
    const v = await verifyKnownHost(key, {
      host: "Example.COM",
      files: [file(), dir, bad],
      onDiagnostic: (f, d) => seen.push(`${f}:${d.line}:${d.kind}`),
    });
    assert.deepEqual(v, { status: "known", file: bad, line: 2 });
    assert.deepEqual(seen, [`${bad}:1:bad-marker`]);
  });

  it("port 22 hosts are named plainly", async () => {
    const e = await refusal(verifyKnownHost(key, { host: "Example.com", files: [] }));
    assert.equal(e.host, "example.com");
    assert.equal(e.message, "no host key is known for example.com in (no known_hosts file)");
  });
});
