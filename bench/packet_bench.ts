// Micro-benchmarks (`deno bench bench/packet_bench.ts`): sealing and opening
// one 32 KiB packet with each cipher (and MAC), to see where time goes on
// the hot path. Throughput comparisons against OpenSSH and ssh2 belong to
// the bulk harness (issue 6), not here.
import { CIPHERS, MACS } from "../lib/crypto/ciphers.ts";
import { PacketWriter } from "../lib/transport/packets.ts";

const payload = new Uint8Array(32 * 1024);
payload[0] = 94;
const framer = new PacketWriter(new WritableStream<Uint8Array>().getWriter());

for (const [name, cipher] of CIPHERS) {
  const macs = cipher.aead ? [undefined] : ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"];
  for (const macName of macs) {
    const key = new Uint8Array(cipher.keyLength).fill(1);
    const iv = new Uint8Array(cipher.ivLength).fill(2);
    const mac = macName ? MACS.get(macName)! : undefined;
    const macKey = new Uint8Array(mac?.keyLength ?? 0).fill(3);
    const sealer = await cipher.sealer(key, iv, mac?.create(macKey));
    const opener = await cipher.opener(key, iv, mac?.create(macKey));
    let seq = 0;
    const label = macName ? `${name} + ${macName}` : name;
    Deno.bench(`seal+open 32 KiB: ${label}`, { group: "packet" }, async () => {
      const packet = framer.frame(payload, sealer);
      const wire = await sealer.seal(seq, packet);
      await opener.decryptLength(seq, wire.subarray(0, opener.firstBlockSize));
      await opener.open(seq, wire);
      seq = (seq + 1) >>> 0;
    });
  }
}
