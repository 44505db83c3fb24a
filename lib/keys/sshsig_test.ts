// SSHSIG (OpenSSH PROTOCOL.sshsig): round trips for every key type, every
// failed check as a typed SshsigError, truncations, a streamed 64 MiB
// message, and interop with the real ssh-keygen (-Y sign, -Y verify,
// -Y check-novalidate), including byte-identical output for the
// deterministic ssh-ed25519 and ssh-rsa. The interop tests are skipped
// without /usr/bin/ssh-keygen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { fromBase64, toBase64 } from "./_bytes.ts";
import { atOffset, utf8 } from "./_test_util.ts";
import { ecdsaPrivateKey } from "./ecdsa.ts";
import { ed25519PrivateKey } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import { generatePrivateKey } from "./private_key.ts";
import { parsePublicKey } from "./public_key.ts";
import { rsaPrivateKey } from "./rsa.ts";
import { encodeSignature } from "./signature.ts";
import { parseSshsig, signSshsig, type SshsigCheck, SshsigError, verifySshsig } from "./sshsig.ts";
import type { PrivateKey } from "./types.ts";

const TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
];
const keys = new Map<string, Promise<PrivateKey>>();
function keyOf(type: string, n = 0): Promise<PrivateKey> {
  const id = `${type}/${n}`;
  if (!keys.has(id)) {
    keys.set(id, generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {}));
  }
  return keys.get(id)!;
}

async function rejectsWith(p: Promise<unknown>, check: SshsigCheck): Promise<SshsigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SshsigError, `expected SshsigError, got ${e}`);
    assert.ok(e instanceof KeyError);
    assert.equal(e.check, check, e.message);
    return e;
  }
  assert.fail(`expected SshsigError(${check})`);
}

function blobOf(armored: string): Uint8Array {
  return fromBase64(armored.split("\n").slice(1, -2).join(""));
}

function armor(blob: Uint8Array): string {
  const b64 = (toBase64(blob).match(/.{1,70}/g) ?? []).join("\n");
  return `-----BEGIN SSH SIGNATURE-----\n${b64}\n-----END SSH SIGNATURE-----\n`;
}

/** Rebuilds an SSHSIG blob with fields replaced. */
function rebuild(
  armored: string,
  change: {
    magic?: string;
    version?: number;
    key?: Uint8Array;
    namespace?: string;
    reserved?: Uint8Array;
    hash?: string;
    signature?: Uint8Array;
    trailing?: Uint8Array;
  },
): Uint8Array {
  const s = parseSshsig(armored);
  const w = new SshWriter().raw(utf8(change.magic ?? "SSHSIG")).uint32(change.version ?? 1)
    .string(change.key ?? s.publicKey.blob).string(change.namespace ?? s.namespace)
    .string(change.reserved ?? s.reserved).string(change.hash ?? s.hashAlgorithm)
    .string(change.signature ?? s.signature);
  if (change.trailing) w.raw(change.trailing);
  return w.finish();
}

function streamOf(bytes: Uint8Array, chunk = 7): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

for (const type of TYPES) {
  test(`sshsig: ${type} signs and verifies (sha512, sha256, bytes, stream, offset views)`, async () => {
    const key = await keyOf(type);
    const message = utf8(`a message for ${type}\n`.repeat(10));
    for (const hashAlgorithm of ["sha512", "sha256"] as const) {
      const armored = await signSshsig(key, atOffset(message), {
        namespace: "file",
        hashAlgorithm,
      });
      const sig = parseSshsig(armored);
      assert.equal(sig.version, 1);
      assert.equal(sig.namespace, "file");
      assert.equal(sig.hashAlgorithm, hashAlgorithm);
      assert.deepEqual(sig.reserved, new Uint8Array(0));
      assert.deepEqual(sig.publicKey.blob, key.publicKey.blob);
      const alg = new SshReader(sig.signature).ascii("alg");
      assert.equal(alg, type === "ssh-rsa" ? "rsa-sha2-512" : type);
      // The signed data is MAGIC || namespace || reserved || hash alg || H(message).
      const h = hashAlgorithm === "sha512" ? sha512(message) : sha256(message);
      const signed = new SshWriter().raw(utf8("SSHSIG")).string("file").string("")
        .string(hashAlgorithm).string(h).finish();
      assert.equal(await key.publicKey.verify(sig.signature, signed, { algorithm: alg }), true);

      const opts = { namespace: "file", publicKey: key.publicKey };
      await verifySshsig(armored, message, opts);
      await verifySshsig(armored, streamOf(message), opts);
      await verifySshsig(utf8(armored), message, opts);
      await verifySshsig(atOffset(blobOf(armored)), atOffset(message), opts);
      await verifySshsig(armored.replaceAll("\n", "\r\n"), message, opts);
      const streamed = await signSshsig(key, streamOf(message, 3), {
        namespace: "file",
        hashAlgorithm,
      });
      await verifySshsig(streamed, message, opts);
    }
  });
}

test("sshsig: armor is ssh-keygen's: 70-column base64 lines, BEGIN/END lines, final newline", async () => {
  const key = await keyOf("ssh-rsa");
  const armored = await signSshsig(key, utf8("x"), { namespace: "git" });
  const lines = armored.split("\n");
  assert.equal(lines[0], "-----BEGIN SSH SIGNATURE-----");
  assert.equal(lines.at(-2), "-----END SSH SIGNATURE-----");
  assert.equal(lines.at(-1), "");
  const body = lines.slice(1, -2);
  assert.ok(body.length > 2);
  for (const l of body.slice(0, -1)) assert.equal(l.length, 70);
  assert.ok(body.at(-1)!.length <= 70 && body.at(-1)!.length > 0);
});

test("sshsig: rsa-sha2-256 on request; ssh-rsa (SHA-1) and foreign algorithms refused", async () => {
  const rsa = await keyOf("ssh-rsa");
  const armored = await signSshsig(rsa, utf8("m"), {
    namespace: "file",
    signatureAlgorithm: "rsa-sha2-256",
  });
  assert.equal(new SshReader(parseSshsig(armored).signature).ascii("a"), "rsa-sha2-256");
  await verifySshsig(armored, utf8("m"), { namespace: "file" });
  await rejectsWith(
    signSshsig(rsa, utf8("m"), { namespace: "file", signatureAlgorithm: "ssh-rsa" }),
    "signature-algorithm",
  );
  const ed = await keyOf("ssh-ed25519");
  await rejectsWith(
    signSshsig(ed, utf8("m"), { namespace: "file", signatureAlgorithm: "rsa-sha2-512" }),
    "signature-algorithm",
  );
  // An "ssh-rsa" (SHA-1) signature blob in an SSHSIG: refused before verification.
  const sha1ish = rebuild(armored, {
    signature: encodeSignature("ssh-rsa", new Uint8Array(256)),
  });
  await rejectsWith(verifySshsig(sha1ish, utf8("m"), { namespace: "file" }), "signature-algorithm");
  // An ed25519 signature claiming to be from an ECDSA key.
  const edSig = parseSshsig(await signSshsig(ed, utf8("m"), { namespace: "file" }));
  const ec = await keyOf("ecdsa-sha2-nistp256");
  const mixed = rebuild(armored, { key: ec.publicKey.blob, signature: edSig.signature });
  await rejectsWith(verifySshsig(mixed, utf8("m"), { namespace: "file" }), "signature-algorithm");
});

test("sshsig: every failed check is a typed SshsigError naming it", async () => {
  const key = await keyOf("ssh-ed25519");
  const other = await keyOf("ssh-ed25519", 1);
  const message = utf8("the message\n");
  const armored = await signSshsig(key, message, { namespace: "file" });
  const ns = { namespace: "file" };

  let e = await rejectsWith(verifySshsig(armored, message, { namespace: "git" }), "namespace");
  assert.match(e.message, /"file".*"git"/);
  await rejectsWith(verifySshsig(armored, utf8("the message!\n"), ns), "signature");
  await rejectsWith(verifySshsig(armored, streamOf(utf8("the messagE\n")), ns), "signature");
  e = await rejectsWith(
    verifySshsig(armored, message, { namespace: "file", publicKey: other.publicKey }),
    "key",
  );
  assert.ok(e.message.includes(other.publicKey.fingerprint()));
  // The signature of another key, swapped in.
  const otherSig = parseSshsig(await signSshsig(other, message, ns)).signature;
  await rejectsWith(
    verifySshsig(rebuild(armored, { signature: otherSig }), message, ns),
    "signature",
  );
  // Another key swapped in for ours.
  await rejectsWith(
    verifySshsig(rebuild(armored, { key: other.publicKey.blob }), message, ns),
    "signature",
  );
  // Namespace rewritten in the blob: the signature no longer verifies.
  await rejectsWith(
    verifySshsig(rebuild(armored, { namespace: "git" }), message, { namespace: "git" }),
    "signature",
  );
  // Hash algorithm rewritten to the other supported one.
  await rejectsWith(verifySshsig(rebuild(armored, { hash: "sha256" }), message, ns), "signature");
  // Non-empty reserved is ignored (as by OpenSSH: it is signed empty).
  await verifySshsig(rebuild(armored, { reserved: utf8("future") }), message, ns);
  await rejectsWith(verifySshsig(rebuild(armored, { hash: "md5" }), message, ns), "hash-algorithm");
  await rejectsWith(verifySshsig(rebuild(armored, { version: 2 }), message, ns), "version");
  await rejectsWith(verifySshsig(rebuild(armored, { version: 0 }), message, ns), "version");
  await rejectsWith(
    verifySshsig(rebuild(armored, { trailing: new Uint8Array(1) }), message, ns),
    "format",
  );
  await rejectsWith(
    verifySshsig(rebuild(armored, { key: utf8("garbage") }), message, ns),
    "format",
  );
  await rejectsWith(
    verifySshsig(rebuild(armored, { signature: utf8("garbage") }), message, ns),
    "format",
  );
  await rejectsWith(verifySshsig(rebuild(armored, { magic: "SSHSIH" }), message, ns), "armor");
  await rejectsWith(
    verifySshsig(armor(rebuild(armored, { magic: "SSHSIH" })), message, ns),
    "format",
  );

  // Tampered armor: every base64 character of the body changed in turn
  // fails some check (never verifies, never an untyped error).
  const lines = armored.split("\n");
  const checks = new Set<string>();
  for (let l = 1; l < lines.length - 2; l++) {
    for (let c = 0; c < lines[l].length; c++) {
      const ch = lines[l][c];
      const repl = ch === "A" ? "B" : "A";
      const t = [...lines];
      t[l] = t[l].slice(0, c) + repl + t[l].slice(c + 1);
      try {
        await verifySshsig(t.join("\n"), message, { namespace: "file", publicKey: key.publicKey });
        // A change confined to base64 padding bits decodes to the same blob.
        assert.deepEqual(blobOf(t.join("\n")), blobOf(armored));
      } catch (err) {
        assert.ok(err instanceof SshsigError, String(err));
        checks.add(err.check);
      }
    }
  }
  for (const c of ["format", "namespace", "key", "signature"]) assert.ok(checks.has(c), c);
  for (
    const bad of [
      "",
      "hello",
      armored.replace("BEGIN", "BEGINN"),
      armored.replace("-----END SSH SIGNATURE-----", ""),
      armored.replace("-----BEGIN SSH SIGNATURE-----\n", "-----BEGIN SSH SIGNATURE-----"),
      armored.replace(/\n([A-Za-z])/, "\n*$1"),
      armored + "trailing text",
      "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
      armored.replace("-----BEGIN SSH SIGNATURE-----", "-----BEGIN PGP SIGNATURE-----"),
      // Found by tests/fuzz_keys_test.ts: padding that does not end a multiple of 4
      // characters passed the pattern and atob threw a bare InvalidCharacterError.
      "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAA=\n-----END SSH SIGNATURE-----\n",
    ]
  ) {
    await rejectsWith(verifySshsig(bad, message, ns), "armor");
  }
  assert.throws(() => parseSshsig(42 as unknown as string), SshsigError);

  // Signing-side checks.
  await rejectsWith(signSshsig(key, message, { namespace: "" }), "namespace");
  await rejectsWith(signSshsig(key, message, { namespace: "a\0b" }), "namespace");
  await rejectsWith(
    signSshsig(key, message, { namespace: "file", hashAlgorithm: "md5" as "sha512" }),
    "hash-algorithm",
  );
});

test("sshsig: a stream is cancelled when a check fails before it is read (verify and sign)", async () => {
  const key = await keyOf("ssh-ed25519");
  const armored = await signSshsig(key, utf8("m"), { namespace: "file" });
  let cancelled: unknown;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(utf8("m"));
    },
    cancel(reason) {
      cancelled = reason;
    },
  }, { highWaterMark: 0 });
  await rejectsWith(verifySshsig(armored, stream, { namespace: "git" }), "namespace");
  assert.ok(cancelled instanceof SshsigError);
  cancelled = undefined;
  const stream2 = new ReadableStream<Uint8Array>({
    cancel(reason) {
      cancelled = reason;
    },
  }, { highWaterMark: 0 });
  await rejectsWith(signSshsig(key, stream2, { namespace: "" }), "namespace");
  assert.ok(cancelled instanceof SshsigError);
});

test("sshsig: every truncation of the blob or the armor is a typed error", async () => {
  for (const type of ["ssh-ed25519", "ecdsa-sha2-nistp384", "ssh-rsa"]) {
    const key = await keyOf(type);
    const armored = await signSshsig(key, utf8("m"), { namespace: "file" });
    const blob = blobOf(armored);
    for (let n = 0; n < blob.length; n++) {
      const cut = atOffset(blob.subarray(0, n));
      assert.throws(() => parseSshsig(cut), SshsigError, `blob cut at ${n}`);
      assert.throws(() => parseSshsig(armor(cut)), SshsigError, `armored blob cut at ${n}`);
      await rejectsWith(
        verifySshsig(cut, utf8("m"), { namespace: "file" }),
        n < 6 ? "armor" : "format",
      );
    }
    for (let n = 0; n < armored.length - 1; n++) {
      const cut = armored.slice(0, n);
      try {
        parseSshsig(cut);
        // Only dropping the final newline leaves a valid signature.
        assert.equal(cut, armored.slice(0, -1), `armor cut at ${n} parsed`);
      } catch (e) {
        assert.ok(e instanceof SshsigError, `armor cut at ${n}: ${e}`);
      }
    }
  }
});

test("sshsig: a streamed 64 MiB message signs and verifies without being buffered", async () => {
  const key = await keyOf("ssh-ed25519");
  const CHUNK = 64 * 1024;
  const TOTAL = 64 * 1024 * 1024;
  // One buffer, rewritten on every pull. With highWaterMark 0 the next pull
  // only happens when the consumer asks for the next chunk, so a consumer
  // that kept chunks to hash later would hash the last contents many times
  // (wrong signature), and one that copied them would grow by 64 MiB.
  const buffer = new Uint8Array(CHUNK);
  const view = new DataView(buffer.buffer);
  const rss = () => process.memoryUsage().rss;
  let peak = 0;
  let pulls = 0;
  function bigStream(reference?: ReturnType<typeof sha512.create>): ReadableStream<Uint8Array> {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= TOTAL) return c.close();
        for (let i = 0; i < CHUNK; i += 4) view.setUint32(i, Math.imul(sent + i, 2654435761));
        reference?.update(buffer);
        sent += CHUNK;
        pulls++;
        if ((sent & 0xfffff) === 0) peak = Math.max(peak, rss());
        c.enqueue(buffer);
      },
    }, { highWaterMark: 0 });
  }
  const reference = sha512.create();
  const before = rss();
  const armored = await signSshsig(key, bigStream(reference), { namespace: "file" });
  const sig = await verifySshsig(armored, bigStream(), {
    namespace: "file",
    publicKey: key.publicKey,
  });
  assert.equal(pulls, 2 * TOTAL / CHUNK);
  const signed = new SshWriter().raw(utf8("SSHSIG")).string("file").string("").string("sha512")
    .string(reference.digest()).finish();
  assert.equal(
    await key.publicKey.verify(sig.signature, signed, { algorithm: "ssh-ed25519" }),
    true,
  );
  const growth = (peak - before) / 1024 / 1024;
  assert.ok(
    growth < 24,
    `resident memory grew by ${growth.toFixed(1)} MiB while hashing 2 x 64 MiB`,
  );
});

// ---------------------------------------------------------------- interop

const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const skip = existsSync(SSH_KEYGEN) ? false : "ssh-keygen not installed at /usr/bin/ssh-keygen";

function keygen(args: string[], input?: Uint8Array): string {
  return execFileSync(SSH_KEYGEN, args, { input, stdio: ["pipe", "pipe", "pipe"] }).toString();
}

/** Exit status and output of ssh-keygen (no throw). */
function keygenStatus(args: string[], input: Uint8Array): { status: number | null; out: string } {
  const r = spawnSync(SSH_KEYGEN, args, { input });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-sshsig-"));
  try {
    return await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The private key of an unencrypted "openssh-key-v1" file (OpenSSH
 * PROTOCOL.key), read here only to sign with the very key ssh-keygen used.
 */
function loadOpensshPrivateKey(text: string): PrivateKey {
  const b64 = text.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  const r = new SshReader(fromBase64(b64));
  assert.equal(new TextDecoder().decode(r.raw(15, "auth magic")), "openssh-key-v1\0");
  assert.equal(r.ascii("cipher"), "none");
  assert.equal(r.ascii("kdf"), "none");
  r.string("kdf options");
  assert.equal(r.uint32("n"), 1);
  r.string("public key");
  const p = new SshReader(r.string("private"));
  assert.equal(p.uint32("check1"), p.uint32("check2"));
  const type = p.ascii("type");
  switch (type) {
    case "ssh-ed25519":
      p.string("pk");
      return ed25519PrivateKey(Uint8Array.from(p.string("sk")));
    case "ssh-rsa": {
      const [n, e, d, iqmp, pp, q] = ["n", "e", "d", "iqmp", "p", "q"].map((f) => p.mpint(f));
      return rsaPrivateKey({ n, e, d, iqmp, p: pp, q });
    }
    default: {
      const curve = p.ascii("curve");
      p.string("Q");
      return ecdsaPrivateKey(curve, Uint8Array.from(p.mpintBytes("d")));
    }
  }
}

const INTEROP: { t: string; bits?: number; type: string }[] = [
  { t: "ed25519", type: "ssh-ed25519" },
  { t: "ecdsa", bits: 256, type: "ecdsa-sha2-nistp256" },
  { t: "ecdsa", bits: 384, type: "ecdsa-sha2-nistp384" },
  { t: "ecdsa", bits: 521, type: "ecdsa-sha2-nistp521" },
  { t: "rsa", bits: 2048, type: "ssh-rsa" },
];

for (const spec of INTEROP) {
  const label = `${spec.t}${spec.bits ? `-${spec.bits}` : ""}`;
  test(
    `interop: ssh-keygen -Y sign with ${label} verifies with us; same armor from us where deterministic`,
    {
      skip,
      timeout: 120_000,
    },
    () =>
      withTempDir(async (dir) => {
        const k = join(dir, "id");
        keygen([
          "-q",
          "-t",
          spec.t,
          ...(spec.bits ? ["-b", String(spec.bits)] : []),
          "-f",
          k,
          "-N",
          "",
          "-C",
          "c",
        ]);
        const pub = parsePublicKey(fromBase64(readFileSync(`${k}.pub`, "utf8").split(" ")[1]));
        assert.equal(pub.type, spec.type);
        const message = utf8(`a file signed by ssh-keygen (${label})\n`.repeat(50));
        const msgFile = join(dir, "msg");
        writeFileSync(msgFile, message);
        for (const [ns, hash] of [["file", "sha512"], ["git", "sha256"]]) {
          keygen(["-Y", "sign", "-f", k, "-n", ns, "-O", `hashalg=${hash}`, msgFile]);
          const theirs = readFileSync(`${msgFile}.sig`, "utf8");
          rmSync(`${msgFile}.sig`);
          const sig = await verifySshsig(theirs, message, { namespace: ns, publicKey: pub });
          assert.equal(sig.hashAlgorithm, hash);
          await verifySshsig(theirs, streamOf(message, 1000), { namespace: ns });
          await rejectsWith(verifySshsig(theirs, message, { namespace: "other" }), "namespace");
          await rejectsWith(verifySshsig(theirs, utf8("tampered"), { namespace: ns }), "signature");

          // Same key, message and namespace from our side: ed25519 and RSA
          // PKCS#1 v1.5 are deterministic, so the armor must be identical.
          const priv = loadOpensshPrivateKey(readFileSync(k, "utf8"));
          const ours = await signSshsig(priv, message, {
            namespace: ns,
            hashAlgorithm: hash as "sha512" | "sha256",
          });
          if (spec.t === "ecdsa") {
            assert.equal(ours.length > 0, true); // ECDSA signatures are randomised by OpenSSL
          } else {
            assert.equal(ours, theirs);
          }
        }
      }),
  );
}

const OURS: { type: string; signatureAlgorithm?: string }[] = [
  { type: "ssh-ed25519" },
  { type: "ecdsa-sha2-nistp256" },
  { type: "ecdsa-sha2-nistp384" },
  { type: "ecdsa-sha2-nistp521" },
  { type: "ssh-rsa" },
  { type: "ssh-rsa", signatureAlgorithm: "rsa-sha2-256" },
];

for (const { type, signatureAlgorithm } of OURS) {
  test(
    `interop: our ${
      signatureAlgorithm ?? type
    } SSHSIG verifies with ssh-keygen -Y verify and check-novalidate`,
    {
      skip,
      timeout: 120_000,
    },
    () =>
      withTempDir(async (dir) => {
        const key = await keyOf(type);
        const allowed = join(dir, "allowed_signers");
        writeFileSync(
          allowed,
          `alice@example.com namespaces="file,git" ${type} ${toBase64(key.publicKey.blob)} ours\n`,
        );
        const message = utf8(`our message (${type})\n`.repeat(30));
        for (const hashAlgorithm of ["sha512", "sha256"] as const) {
          const sigFile = join(dir, `msg.${hashAlgorithm}.sig`);
          writeFileSync(
            sigFile,
            await signSshsig(key, streamOf(message, 100), {
              namespace: "file",
              hashAlgorithm,
              ...(signatureAlgorithm ? { signatureAlgorithm } : {}),
            }),
          );
          const verify = (id: string, ns: string, m: Uint8Array) =>
            keygenStatus(["-Y", "verify", "-f", allowed, "-I", id, "-n", ns, "-s", sigFile], m);
          let r = verify("alice@example.com", "file", message);
          assert.equal(r.status, 0, r.out);
          assert.match(r.out, /Good "file" signature for alice@example.com/);
          assert.notEqual(verify("alice@example.com", "file", utf8("tampered")).status, 0);
          assert.notEqual(verify("alice@example.com", "git", message).status, 0);
          assert.notEqual(verify("bob@example.com", "file", message).status, 0);
          r = keygenStatus(["-Y", "check-novalidate", "-n", "file", "-s", sigFile], message);
          assert.equal(r.status, 0, r.out);
          assert.match(r.out, /Good "file" signature with/);
          const principals = keygen(["-Y", "find-principals", "-f", allowed, "-s", sigFile]);
          assert.equal(principals.trim(), "alice@example.com");
        }
      }),
  );
}

test("interop: a streamed 64 MiB file: ssh-keygen verifies our signature, we verify its", {
  skip,
  timeout: 300_000,
}, () =>
  withTempDir(async (dir) => {
    const key = await keyOf("ssh-ed25519");
    const file = join(dir, "big");
    const fd = openSync(file, "w");
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 64; i++) {
      chunk.fill(i * 37);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    let i = 0;
    const stream = () =>
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (i === 64) return c.close();
          c.enqueue(new Uint8Array(1024 * 1024).fill(i++ * 37));
        },
      }, { highWaterMark: 0 });
    const sigFile = join(dir, "big.sig");
    writeFileSync(sigFile, await signSshsig(key, stream(), { namespace: "file" }));
    // stdin redirected by the shell: ssh-keygen reads the file itself.
    const out = execFileSync("sh", [
      "-c",
      '"$0" -Y check-novalidate -n file -s "$1" < "$2"',
      SSH_KEYGEN,
      sigFile,
      file,
    ]).toString();
    assert.match(out, /Good "file" signature/);
    const k = join(dir, "id");
    keygen(["-q", "-t", "ed25519", "-f", k, "-N", ""]);
    keygen(["-Y", "sign", "-f", k, "-n", "file", file]);
    i = 0;
    await verifySshsig(readFileSync(`${file}.sig`, "utf8"), stream(), { namespace: "file" });
  }));
