// Child process of first_use_test.ts (run fresh, by the same runtime): counts
// the crypto set-up a process does, phase by phase, through the runtime's own
// entry points (WebAssembly modules compiled, WebCrypto calls). Prints one
// JSON object: counters after each phase. Library code is imported only after
// the counters are installed. With the argument "broken-verify", WebCrypto's
// verify accepts everything: the known answer must catch it (noble takes over).
import process from "node:process";

const counts = { wasmModules: 0, importKey: 0, sign: 0, verify: 0, deriveBits: 0 };
const wasm = WebAssembly as unknown as Record<string, unknown>;
wasm.Module = new Proxy(WebAssembly.Module, {
  construct(target, args) {
    counts.wasmModules++;
    return Reflect.construct(target, args);
  },
});
const broken = process.argv[3] === "broken-verify";
const subtle = crypto.subtle as unknown as Record<string, (...a: unknown[]) => unknown>;
for (const name of ["importKey", "sign", "verify", "deriveBits"] as const) {
  const real = subtle[name].bind(crypto.subtle);
  subtle[name] = (...a: unknown[]) => {
    counts[name]++;
    return broken && name === "verify" ? Promise.resolve(true) : real(...a);
  };
}
const phases: Record<string, typeof counts> = {};
const snapshot = (phase: string) => void (phases[phase] = { ...counts });

const mod = await import("../mod.ts");
snapshot("import");

// A client's only Ed25519 operation during a key exchange: verifying the
// server's signature (RFC 8032 §7.1 TEST 1, as an ssh-ed25519 key and blob).
const { SshWriter } = await import("../lib/wire/writer.ts");
const unhex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const pub = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const sig = unhex(
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
);
const key = mod.parsePublicKey(new SshWriter(64).string("ssh-ed25519").string(pub).finish());
const blob = (s: Uint8Array) => new SshWriter(96).string("ssh-ed25519").string(s).finish();
if (!(await key.verify(blob(sig), new Uint8Array(0), { algorithm: "ssh-ed25519" }))) {
  throw new Error("RFC 8032 TEST 1 does not verify");
}
snapshot("verify");
const forged = sig.slice();
forged[10] ^= 4;
if (await key.verify(blob(forged), new Uint8Array(0), { algorithm: "ssh-ed25519" })) {
  throw new Error("a forged signature verifies");
}

// In-memory sessions: key exchange, one message each way, per cipher.
const { transportPair } = await import("./_transport_pair.ts");
for (const cipher of (process.argv[2] ?? "").split(",").filter(Boolean)) {
  const { client, server } = await transportPair({ ciphers: cipher }, { ciphers: cipher });
  await Promise.all([client.ready, server.ready]);
  await client.send(new Uint8Array([100, 1]));
  await server.messages.getReader().read();
  await client.disconnect();
  await server.closed;
  snapshot(cipher);
}
process.stdout.write(JSON.stringify(phases) + "\n");
