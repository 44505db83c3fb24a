import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HASHES, SHA256, SHA384, SHA512 } from "./hash.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const ascii = (s: string) => new TextEncoder().encode(s);

// FIPS 180-4 / NIST "Examples with intermediate values": SHA-*("abc").
const ABC = {
  sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  sha384: "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed" +
    "8086072ba1e7cc2358baeca134c825a7",
  sha512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
};

describe("hash", () => {
  for (const h of [SHA256, SHA384, SHA512]) {
    it(`${h.name}("abc") matches FIPS 180-4`, () => {
      assert.equal(hex(h.digest(ascii("abc"))), ABC[h.name]);
      assert.equal(h.digest(ascii("abc")).length, h.outputLength);
    });
    it(`${h.name} digests parts as their concatenation`, () => {
      assert.equal(hex(h.digest(ascii("a"), new Uint8Array(0), ascii("bc"))), ABC[h.name]);
    });
    it(`${h.name} honours byteOffset of views`, () => {
      const big = ascii("xxabcyy");
      assert.equal(hex(h.digest(big.subarray(2, 5))), ABC[h.name]);
    });
  }
  it("lengths and registry", () => {
    assert.equal(SHA256.outputLength, 32);
    assert.equal(SHA384.outputLength, 48);
    assert.equal(SHA512.outputLength, 64);
    assert.equal(HASHES.get("sha512"), SHA512);
    assert.equal(HASHES.size, 3);
  });
  it("empty input", () => {
    assert.equal(
      hex(SHA256.digest()),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });
});
