import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { KEX_ALGORITHMS } from "./kex.ts";
import { chooseGexGroup } from "./dh_groups.ts";
import { KexError } from "./errors.ts";
import { defaultRandom } from "./types.ts";

const ORDER = [
  "mlkem768x25519-sha256",
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521",
  "diffie-hellman-group-exchange-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group14-sha256",
];

const EXPECT: Record<string, [string, string, string, string]> = {
  // name: [hash, kind, publicEncoding, secretEncoding]
  "mlkem768x25519-sha256": ["sha256", "single", "string", "string"],
  "curve25519-sha256": ["sha256", "single", "string", "mpint"],
  "curve25519-sha256@libssh.org": ["sha256", "single", "string", "mpint"],
  "ecdh-sha2-nistp256": ["sha256", "single", "string", "mpint"],
  "ecdh-sha2-nistp384": ["sha384", "single", "string", "mpint"],
  "ecdh-sha2-nistp521": ["sha512", "single", "string", "mpint"],
  "diffie-hellman-group-exchange-sha256": ["sha256", "gex", "mpint", "mpint"],
  "diffie-hellman-group16-sha512": ["sha512", "single", "mpint", "mpint"],
  "diffie-hellman-group18-sha512": ["sha512", "single", "mpint", "mpint"],
  "diffie-hellman-group14-sha256": ["sha256", "single", "mpint", "mpint"],
};

describe("KEX_ALGORITHMS", () => {
  it("lists every method in OpenSSH's default order, keyed by wire name", () => {
    assert.deepEqual([...KEX_ALGORITHMS.keys()], ORDER);
    for (const [name, alg] of KEX_ALGORITHMS) assert.equal(alg.name, name);
  });

  it("has no SHA-1 method", () => {
    for (const [name, alg] of KEX_ALGORITHMS) {
      assert.doesNotMatch(name, /sha1|group1-|group-exchange-sha1/);
      assert.notEqual(alg.hash.name as string, "sha1");
    }
  });

  for (const name of ORDER) {
    it(`${name}: declared shape and a full client/server round trip`, async () => {
      const alg = KEX_ALGORITHMS.get(name)!;
      assert.deepEqual(
        [alg.hash.name, alg.kind, alg.publicEncoding, alg.secretEncoding],
        EXPECT[name],
      );
      const group = alg.kind === "gex" ? chooseGexGroup(2048, 3072, 8192) : undefined;
      const c = await alg.client(defaultRandom, group);
      const s = await alg.server(c.publicValue, defaultRandom, group);
      const k = await c.finish(s.publicValue);
      assert.deepEqual(k, s.secret);
      if (alg.secretEncoding === "mpint") {
        assert.notEqual(k[0], 0, "mpint magnitude has no leading zero");
      }
      // Every invalid peer value is a KexError, never a generic Error.
      await assert.rejects(() => alg.server(new Uint8Array(1), defaultRandom, group), KexError);
      await assert.rejects(() => c.finish(new Uint8Array(1)), KexError);
      await assert.rejects(() => c.finish(new Uint8Array(0)), KexError);
    });
  }
});
