// Interoperability with the real OpenSSH (ssh-keygen): fingerprints of keys
// it generates, SSHSIG signatures (OpenSSH PROTOCOL.sshsig) it makes that we
// verify, and signatures we make that it verifies. Skipped without ssh-keygen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha512 } from "@noble/hashes/sha2.js";
import { SshReader } from "../wire/reader.ts";
import { SshWriter } from "../wire/writer.ts";
import { fromBase64, toBase64 } from "./_bytes.ts";
import { generatePrivateKey } from "./private_key.ts";
import { parsePublicKey } from "./public_key.ts";
import { decodeSignature } from "./signature.ts";
import type { PrivateKey } from "./types.ts";
import { utf8 } from "./_test_util.ts";

const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const skip = existsSync(SSH_KEYGEN) ? false : "ssh-keygen not installed";
const NAMESPACE = "file";

function keygen(args: string[], input?: Uint8Array): string {
  return execFileSync(SSH_KEYGEN, args, { input, stdio: ["pipe", "pipe", "pipe"] }).toString();
}

function withTempDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "rxssh-keys-"));
  return f(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** The blob of an OpenSSH .pub line ("type base64 comment"). */
function pubBlob(line: string): Uint8Array {
  return fromBase64(line.trim().split(/\s+/)[1]);
}

/** PROTOCOL.sshsig: the bytes that are signed. */
function sshsigSignedData(message: Uint8Array, hashAlg: string): Uint8Array {
  return new SshWriter().raw(utf8("SSHSIG")).string(NAMESPACE).string("").string(hashAlg)
    .string(sha512(message)).finish();
}

function parseSshsig(armored: string) {
  const b64 = armored.replace(/-----(BEGIN|END) SSH SIGNATURE-----/g, "").replace(/\s+/g, "");
  const r = new SshReader(fromBase64(b64));
  assert.equal(new TextDecoder().decode(r.raw(6, "magic")), "SSHSIG");
  assert.equal(r.uint32("version"), 1);
  const publicKey = r.string("publickey");
  assert.equal(r.utf8("namespace"), NAMESPACE);
  r.string("reserved");
  const hashAlg = r.ascii("hash_algorithm");
  const signature = r.string("signature");
  r.end("sshsig");
  return { publicKey, hashAlg, signature };
}

function armorSshsig(key: PrivateKey, signature: Uint8Array): string {
  const blob = new SshWriter().raw(utf8("SSHSIG")).uint32(1).string(key.publicKey.blob)
    .string(NAMESPACE).string("").string("sha512").string(signature).finish();
  const b64 = toBase64(blob).match(/.{1,70}/g)!.join("\n");
  return `-----BEGIN SSH SIGNATURE-----\n${b64}\n-----END SSH SIGNATURE-----\n`;
}

const OPENSSH_KEYS: { t: string; bits?: number; type: string }[] = [
  { t: "ed25519", type: "ssh-ed25519" },
  { t: "ecdsa", bits: 256, type: "ecdsa-sha2-nistp256" },
  { t: "ecdsa", bits: 384, type: "ecdsa-sha2-nistp384" },
  { t: "ecdsa", bits: 521, type: "ecdsa-sha2-nistp521" },
  { t: "rsa", bits: 2048, type: "ssh-rsa" },
  { t: "rsa", bits: 3072, type: "ssh-rsa" },
];

for (const spec of OPENSSH_KEYS) {
  const label = `${spec.t}${spec.bits ? `-${spec.bits}` : ""}`;
  test(`interop: ssh-keygen ${label} key: same fingerprint, its SSHSIG verifies with us`, {
    skip,
    timeout: 60_000,
  }, () =>
    withTempDir(async (dir) => {
      const k = join(dir, "k");
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
        "t",
      ]);
      const key = parsePublicKey(pubBlob(readFileSync(`${k}.pub`, "utf8")));
      assert.equal(key.type, spec.type);
      const printed = keygen(["-l", "-E", "sha256", "-f", `${k}.pub`]).split(/\s+/)[1];
      assert.equal(key.fingerprint(), printed);

      const message = utf8(`message for ${label}\n`);
      writeFileSync(join(dir, "msg"), message);
      keygen(["-Y", "sign", "-f", k, "-n", NAMESPACE, join(dir, "msg")]);
      const sig = parseSshsig(readFileSync(join(dir, "msg.sig"), "utf8"));
      assert.deepEqual(sig.publicKey, key.blob);
      const alg = decodeSignature(sig.signature).algorithm;
      if (spec.type === "ssh-rsa") assert.equal(alg, "rsa-sha2-512");
      else assert.equal(alg, spec.type);
      const signed = sshsigSignedData(message, sig.hashAlg);
      assert.equal(await key.verify(sig.signature, signed, { algorithm: alg }), true);
      assert.equal(
        await key.verify(sig.signature, sshsigSignedData(utf8("other"), sig.hashAlg), {
          algorithm: alg,
        }),
        false,
      );
      if (spec.type === "ssh-rsa") {
        assert.equal(await key.verify(sig.signature, signed, { algorithm: "rsa-sha2-256" }), false);
        assert.equal(await key.verify(sig.signature, signed, { algorithm: "ssh-rsa" }), false);
      }
    }));
}

const OUR_KEYS: { type: string; alg: string }[] = [
  { type: "ssh-ed25519", alg: "ssh-ed25519" },
  { type: "ecdsa-sha2-nistp256", alg: "ecdsa-sha2-nistp256" },
  { type: "ecdsa-sha2-nistp384", alg: "ecdsa-sha2-nistp384" },
  { type: "ecdsa-sha2-nistp521", alg: "ecdsa-sha2-nistp521" },
  { type: "ssh-rsa", alg: "rsa-sha2-512" },
  { type: "ssh-rsa", alg: "rsa-sha2-256" },
];

for (const { type, alg } of OUR_KEYS) {
  test(`interop: our ${type} key: ssh-keygen reads it and verifies our ${alg} signature`, {
    skip,
    timeout: 60_000,
  }, () =>
    withTempDir(async (dir) => {
      const key = await generatePrivateKey(type, type === "ssh-rsa" ? { bits: 2048 } : {});
      const pubFile = join(dir, "ours.pub");
      writeFileSync(pubFile, `${type} ${toBase64(key.publicKey.blob)} ours\n`);
      const printed = keygen(["-l", "-E", "sha256", "-f", pubFile]).split(/\s+/)[1];
      assert.equal(printed, key.publicKey.fingerprint());

      const message = utf8(`our message signed with ${alg}\n`);
      const signature = await key.sign(alg, sshsigSignedData(message, "sha512"));
      const sigFile = join(dir, "msg.sig");
      writeFileSync(sigFile, armorSshsig(key, signature));
      const out = keygen(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", sigFile], message);
      assert.match(out, /Good "file" signature/);
      assert.throws(() =>
        keygen(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", sigFile], utf8("tampered"))
      );
    }));
}
