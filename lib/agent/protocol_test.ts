import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AGENT_MAX_MESSAGE,
  AgentError,
  AgentFramer,
  type AgentMessage,
  AgentMsg,
  decodeAgentMessage,
  encodeAgentMessage,
  frameAgentMessage,
  signFlagsFor,
} from "./protocol.ts";
import { generatePrivateKey } from "../keys/private_key.ts";
import { WireError } from "../wire/errors.ts";

/** `bytes` as a view at offset 7 of a larger buffer filled with junk. */
function offsetView(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(bytes.length + 13).fill(0xee);
  big.set(bytes, 7);
  return big.subarray(7, 7 + bytes.length);
}

const blob = new Uint8Array([0, 0, 0, 3, 97, 98, 99, 1, 2]);

const simple: AgentMessage[] = [
  { type: "failure" },
  { type: "success" },
  { type: "request-identities" },
  { type: "identities-answer", identities: [] },
  {
    type: "identities-answer",
    identities: [{ blob, comment: "me@host" }, { blob: new Uint8Array([9]), comment: "ünï" }],
  },
  { type: "sign-request", blob, data: new Uint8Array([1, 2, 3, 4]), flags: 4 },
  { type: "sign-response", signature: new Uint8Array([0, 0, 0, 1, 120, 0, 0, 0, 0]) },
  { type: "remove-identity", blob },
  { type: "remove-all-identities" },
  { type: "extension", name: "session-bind@openssh.com", data: new Uint8Array([1, 2]) },
  { type: "extension-failure" },
  { type: "unknown", code: 99, body: new Uint8Array([5, 6]) },
];

describe("agent protocol codecs", () => {
  it("round-trips every message, decoding offset views", () => {
    for (const m of simple) {
      const body = encodeAgentMessage(m);
      assert.deepEqual(decodeAgentMessage(offsetView(body)), m, m.type);
    }
  });

  it("uses the draft's message numbers", () => {
    assert.equal(encodeAgentMessage({ type: "request-identities" })[0], 11);
    assert.equal(encodeAgentMessage({ type: "identities-answer", identities: [] })[0], 12);
    assert.equal(
      encodeAgentMessage({ type: "sign-request", blob, data: blob, flags: 0 })[0],
      AgentMsg.SIGN_REQUEST,
    );
    assert.equal(encodeAgentMessage({ type: "sign-response", signature: blob })[0], 14);
    assert.equal(encodeAgentMessage({ type: "failure" })[0], 5);
    assert.equal(encodeAgentMessage({ type: "success" })[0], 6);
    assert.equal(encodeAgentMessage({ type: "remove-identity", blob })[0], 18);
    assert.equal(encodeAgentMessage({ type: "remove-all-identities" })[0], 19);
  });

  it("sign flags come from the algorithm", () => {
    assert.equal(signFlagsFor("rsa-sha2-256"), 2);
    assert.equal(signFlagsFor("rsa-sha2-512"), 4);
    assert.equal(signFlagsFor("rsa-sha2-512-cert-v01@openssh.com"), 4);
    assert.equal(signFlagsFor("ssh-ed25519"), 0);
    assert.equal(signFlagsFor("ecdsa-sha2-nistp256"), 0);
  });

  it("round-trips ADD_IDENTITY and ADD_ID_CONSTRAINED for ed25519, ecdsa and rsa", async () => {
    const keys = [
      await generatePrivateKey("ssh-ed25519"),
      await generatePrivateKey("ecdsa-sha2-nistp256"),
      await generatePrivateKey("ecdsa-sha2-nistp521"),
      await generatePrivateKey("ssh-rsa", { bits: 2048 }),
    ];
    for (const key of keys) {
      const body = encodeAgentMessage({ type: "add-identity", key, comment: "c" });
      assert.equal(body[0], AgentMsg.ADD_IDENTITY);
      const m = decodeAgentMessage(offsetView(body));
      assert.equal(m.type, "add-identity");
      if (m.type !== "add-identity") continue;
      assert.equal(m.comment, "c");
      assert.equal(m.constraints, undefined);
      assert.deepEqual(m.key.publicKey.blob, key.publicKey.blob);
      // The decoded key signs what the original verifies.
      const data = new Uint8Array([7, 7, 7]);
      const sig = await m.key.sign(key.algorithms[0], data);
      assert.ok(await key.publicKey.verify(sig, data, { algorithm: key.algorithms[0] }), key.type);

      const constrained = encodeAgentMessage({
        type: "add-identity",
        key,
        comment: "",
        constraints: [
          { type: "lifetime", seconds: 60 },
          { type: "confirm" },
          { type: "extension", name: "x@example.com", data: new Uint8Array([1]) },
        ],
      });
      assert.equal(constrained[0], AgentMsg.ADD_ID_CONSTRAINED);
      const c = decodeAgentMessage(offsetView(constrained));
      assert.ok(c.type === "add-identity");
      assert.deepEqual(c.constraints, [
        { type: "lifetime", seconds: 60 },
        { type: "confirm" },
        { type: "extension", name: "x@example.com", data: new Uint8Array([1]) },
      ]);
    }
  });

  it("refuses to send keys that are not ours", () => {
    const fake = {
      type: "ssh-ed25519",
      algorithms: ["ssh-ed25519"],
      publicKey: {} as never,
      sign: () => Promise.resolve(new Uint8Array(0)),
    };
    assert.throws(
      () => encodeAgentMessage({ type: "add-identity", key: fake, comment: "" }),
      AgentError,
    );
  });

  it("every truncation of every message is a WireError naming a field", async () => {
    const key = await generatePrivateKey("ssh-ed25519");
    const messages = [
      ...simple.filter((m) => m.type !== "unknown" && m.type !== "extension"),
      { type: "add-identity", key, comment: "c" } as AgentMessage,
    ];
    for (const m of messages) {
      const body = encodeAgentMessage(m);
      for (let n = 1; n < body.length; n++) {
        // Messages whose contents may legitimately end early are skipped at those points.
        assert.throws(
          () => decodeAgentMessage(offsetView(body.subarray(0, n))),
          (e: unknown) => e instanceof WireError && typeof e.field === "string",
          `${m.type} cut at ${n}`,
        );
      }
      // Trailing bytes are refused too.
      if (m.type !== "add-identity") {
        const long = new Uint8Array(body.length + 1);
        long.set(body);
        assert.throws(() => decodeAgentMessage(long), WireError, `${m.type} + 1 byte`);
      }
    }
    assert.throws(() => decodeAgentMessage(new Uint8Array(0)), WireError);
  });

  it("an absurd identity count is refused before allocating", () => {
    const body = new Uint8Array([12, 0xff, 0xff, 0xff, 0xff]);
    assert.throws(() => decodeAgentMessage(body), /nkeys/);
  });

  it("a bad private key in ADD_IDENTITY is an AgentError", async () => {
    const key = await generatePrivateKey("ssh-ed25519");
    const body = encodeAgentMessage({ type: "add-identity", key, comment: "" });
    // Flip a byte of the public half stored after the seed (pk string, then sk = seed || pk).
    const bad = body.slice();
    bad[bad.length - 8] ^= 1;
    assert.throws(() => decodeAgentMessage(bad), AgentError);
    const unknownType = encodeAgentMessage({ type: "unknown", code: 17, body: new Uint8Array(0) });
    assert.throws(
      () => decodeAgentMessage(new Uint8Array([...unknownType, 0, 0, 0, 1, 120])),
      AgentError,
    );
  });
});

describe("agent framing", () => {
  it("frames with a uint32 length and cuts streams at any point", () => {
    const bodies = simple.map(encodeAgentMessage);
    const stream = new Uint8Array(bodies.reduce((n, b) => n + 4 + b.length, 0));
    let off = 0;
    for (const b of bodies) {
      const f = frameAgentMessage(b);
      assert.equal(new DataView(f.buffer).getUint32(0), b.length);
      stream.set(f, off);
      off += f.length;
    }
    for (const size of [1, 2, 3, 5, 7, 64, stream.length]) {
      const framer = new AgentFramer();
      const got: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) {
        got.push(...framer.push(offsetView(stream.subarray(i, i + size))));
      }
      assert.equal(framer.pending, 0);
      assert.deepEqual(got, bodies, `chunks of ${size}`);
    }
  });

  it("a zero or oversized length is an AgentError", () => {
    assert.throws(() => new AgentFramer().push(new Uint8Array([0, 0, 0, 0])), AgentError);
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, AGENT_MAX_MESSAGE + 1);
    assert.throws(() => new AgentFramer().push(big), AgentError);
    assert.throws(() => frameAgentMessage(new Uint8Array(AGENT_MAX_MESSAGE + 1)), AgentError);
  });
});
