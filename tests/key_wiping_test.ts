// Issue 16 (D): key wiping. Every secret buffer rxssh owns is reported to
// the test hook (lib/crypto/_secrets.ts `secretMade`) when it is made; after
// a handshake and a re-key (each KEX method family, AEAD and MAC ciphers,
// both sides in this process) and after reading and writing encrypted key
// files, every one of them must be all zeros, and each must have held
// something non-zero when it was made (so the hook sees real secrets).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { watchSecrets } from "../lib/crypto/_secrets.ts";
import { generateEd25519 } from "../lib/keys/ed25519.ts";
import { generateEcdsa } from "../lib/keys/ecdsa.ts";
import {
  encodeOpensshPrivateKey,
  parseOpensshPrivateKey,
} from "../lib/keys/openssh_private_key.ts";
import { encodePemPrivateKey, parsePemPrivateKey } from "../lib/keys/pem_private_key.ts";
import { transportPair } from "./_transport_pair.ts";

/** Records every secret buffer made while `f` runs, with a copy taken when it was made. */
async function recorded(
  f: () => Promise<void>,
): Promise<{ label: string; bytes: Uint8Array; made: Uint8Array }[]> {
  const seen: { label: string; bytes: Uint8Array; made: Uint8Array }[] = [];
  const stop = watchSecrets((label, bytes) => seen.push({ label, bytes, made: bytes.slice() }));
  try {
    await f();
  } finally {
    stop();
  }
  return seen;
}

function assertAllWiped(seen: { label: string; bytes: Uint8Array; made: Uint8Array }[]) {
  for (const s of seen) {
    if (s.made.length > 0) {
      assert.ok(s.made.some((b) => b !== 0), `${s.label} held only zeros when it was made`);
    }
    assert.ok(
      s.bytes.every((b) => b === 0),
      `${s.label} (${s.bytes.length} bytes) was not wiped after use`,
    );
  }
}

// `copy`: the key material each sealer and opener keeps (its own copies), wiped
// when a re-key retires it and, for the last ones, when the connection ends.
const CASES = [
  { kex: "curve25519-sha256", cipher: "chacha20-poly1305@openssh.com", copy: "chacha20 K_2 copy" },
  { kex: "ecdh-sha2-nistp256", cipher: "aes128-gcm@openssh.com", copy: "AES-GCM nonce" },
  {
    kex: "mlkem768x25519-sha256",
    cipher: "aes256-ctr",
    mac: "hmac-sha2-256-etm@openssh.com",
    copy: "HMAC key copy",
  },
  {
    kex: "diffie-hellman-group14-sha256",
    cipher: "aes128-ctr",
    mac: "hmac-sha2-512",
    copy: "AES-CTR counter",
  },
];

describe("key wiping", () => {
  for (const c of CASES) {
    it(`${c.kex} + ${c.cipher}: K, ephemeral and derived keys, and every cipher's key copies (retired by the re-key, then by the close) are zero`, async () => {
      const options = {
        kexAlgorithms: [c.kex],
        ciphers: [c.cipher],
        ...(c.mac ? { macs: [c.mac] } : {}),
      };
      const seen = await recorded(async () => {
        const { client, server } = await transportPair(options, options);
        await Promise.all([client.ready, server.ready]);
        await client.rekey();
        await client.disconnect();
        await Promise.all([client.closed, server.closed]);
      });
      const labels = new Set(seen.map((s) => s.label));
      // Two exchanges, two sides: K and its encoding four times, six derived keys each time.
      assert.equal(seen.filter((s) => s.label === "K").length, 4, [...labels].join(", "));
      assert.equal(seen.filter((s) => s.label === "K encoded").length, 4);
      for (const letter of ["ivCs", "ivSc", "encCs", "encSc", "macCs", "macSc"]) {
        assert.equal(seen.filter((s) => s.label === `derived ${letter}`).length, 4, letter);
      }
      if (!c.kex.startsWith("diffie-hellman")) {
        // Ephemeral private keys of both sides (the DH exponent is a bigint: not wipeable).
        assert.ok(seen.filter((s) => /ephemeral private key/.test(s.label)).length >= 4);
      }
      if (c.kex.startsWith("mlkem")) assert.ok(labels.has("ML-KEM-768 decapsulation key"));
      // Two exchanges, two sides, a sealer and an opener each.
      assert.equal(seen.filter((s) => s.label === c.copy).length, 8, c.copy);
      assertAllWiped(seen);
    });
  }

  it("openssh-key-v1 and PEM files: passphrase bytes, bcrypt_pbkdf output and plaintext are zero after use", async () => {
    const keys = [generateEd25519(), generateEcdsa("nistp256")];
    const seen = await recorded(async () => {
      for (const key of keys) {
        for (
          const cipher of ["aes256-ctr", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]
        ) {
          const text = await encodeOpensshPrivateKey(key, {
            passphrase: "wipe me",
            rounds: 2,
            cipher,
          });
          const back = await parseOpensshPrivateKey(text, { passphrase: "wipe me" });
          assert.deepEqual(back.key.publicKey.blob, key.publicKey.blob);
          await assert.rejects(parseOpensshPrivateKey(text, { passphrase: "wrong one" }));
        }
        const pem = await encodePemPrivateKey(key, { passphrase: "wipe me too" });
        const back = await parsePemPrivateKey(pem, { passphrase: "wipe me too" });
        assert.deepEqual(back.key.publicKey.blob, key.publicKey.blob);
      }
    });
    const count = (label: string) => seen.filter((s) => s.label === label).length;
    // Per key and cipher: encode, parse, wrong parse; then the PEM encode and parse.
    assert.equal(count("passphrase bytes"), keys.length * (3 * 3 + 2));
    assert.equal(count("bcrypt_pbkdf output"), keys.length * 3 * 2);
    // Three good parses per key, and the wrong passphrase under aes256-ctr (no
    // tag: the section is decrypted, and its check integers tell).
    assert.equal(count("openssh-key-v1 private section"), keys.length * 4);
    assertAllWiped(seen);
  });
});
