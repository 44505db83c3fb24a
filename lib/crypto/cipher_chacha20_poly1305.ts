/**
 * `chacha20-poly1305@openssh.com` (OpenSSH PROTOCOL.chacha20poly1305), with
 * the original 64-bit-nonce ChaCha20 of D. J. Bernstein and Poly1305
 * (RFC 8439 §2.5): the body's keystream and Poly1305 come from our
 * WebAssembly (`_chacha20_wasm.ts`, `_poly1305_wasm.ts`: 27-47 and 18-20 µs
 * of CPU per 32 KiB against noble's 67-98 and 114-148), the length's
 * keystream and the Poly1305 key (one block each) from `@noble/ciphers`,
 * which is also the fallback.
 *
 * - The 64-byte key is two ChaCha20 keys: K_2 = bytes 0..31 (packet body and
 *   Poly1305 key), K_1 = bytes 32..63 (packet length only).
 * - The nonce of packet `seq` is `uint64(seq)`, big-endian.
 * - packet_length is encrypted with K_1 from block counter 0.
 * - The Poly1305 key is the first 32 bytes of K_2's keystream block 0; the
 *   rest of the packet is encrypted with K_2 from block counter 1.
 * - The tag is Poly1305 over the encrypted length followed by the encrypted
 *   body (no padding, no lengths), and is checked before anything but the
 *   length is decrypted.
 *
 * @module
 */
import { chacha20orig } from "@noble/ciphers/chacha.js";
import { poly1305 } from "@noble/ciphers/_poly1305.js";
import { WireError } from "../wire/errors.ts";
import { MacError } from "./errors.ts";
import { constantTimeEqual } from "./constant_time.ts";
import { secretMade, wipe } from "./_secrets.ts";
import type { CipherAlgorithm, PacketOpener, PacketSealer } from "./types.ts";
import { sealTarget } from "./_seal.ts";
import { poly1305Wasm } from "./_poly1305_wasm.ts";
import { type Chacha20, chacha20Wasm } from "./_chacha20_wasm.ts";

/**
 * The backends, chosen on first use (the first sealer or opener, that is the
 * first key exchange that negotiated this cipher), never at import: the
 * payload's keystream is our WebAssembly ChaCha20 (SIMD: 27 µs of CPU per
 * 32 KiB on Deno, 47 on Bun) else noble's (67-98 µs); Poly1305 is ours in
 * WebAssembly (about 7x noble's speed) else noble's. Each WebAssembly module
 * is assembled, compiled and checked on its known answer then, once per
 * process (about 20 ms of CPU together), so a session on AES pays nothing
 * for them.
 */
interface Backends {
  readonly body: Chacha20;
  readonly mac: (msg: Uint8Array, key: Uint8Array) => Uint8Array;
}
let backends: Backends | undefined;
function chosenBackends(): Backends {
  return backends ??= {
    body: chacha20Wasm(chacha20orig) ?? chacha20orig,
    mac: poly1305Wasm() ?? poly1305,
  };
}

const NAME = "chacha20-poly1305@openssh.com";
const BLOCK = 8;
const TAG = 16;
const ZEROS = new Uint8Array(32);

/** The nonce of packet `seq`: uint64(seq) big-endian; the high half is 0. */
function nonceFor(seq: number, out: Uint8Array): Uint8Array {
  const s = seq >>> 0;
  out[4] = s >>> 24;
  out[5] = s >>> 16;
  out[6] = s >>> 8;
  out[7] = s;
  return out;
}

function readUint32(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** The two ChaCha20 keys, a reusable nonce buffer and the backends. */
class Keys {
  readonly main: Uint8Array;
  readonly header: Uint8Array;
  readonly body: Backends["body"];
  readonly mac: Backends["mac"];
  readonly #nonce = new Uint8Array(8);

  constructor(key: Uint8Array) {
    if (key.length !== 64) throw new RangeError(`${NAME}: key is ${key.length} bytes, expected 64`);
    this.main = secretMade("chacha20 K_2 copy", key.slice(0, 32));
    this.header = secretMade("chacha20 K_1 copy", key.slice(32, 64));
    ({ body: this.body, mac: this.mac } = chosenBackends());
  }

  nonce(seq: number): Uint8Array {
    return nonceFor(seq, this.#nonce);
  }

  /** Zeroes both keys (the instance is retired). */
  wipe(): void {
    wipe(this.main, this.header);
  }

  /** K_2 keystream block 0, first 32 bytes: the one-time Poly1305 key. */
  polyKey(nonce: Uint8Array): Uint8Array {
    return chacha20orig(this.main, nonce, ZEROS, new Uint8Array(32), 0);
  }
}

class ChachaSealer implements PacketSealer {
  readonly blockSize = BLOCK;
  readonly lengthApart = true;
  readonly overhead = TAG;
  readonly #keys: Keys;

  constructor(keys: Keys) {
    this.#keys = keys;
  }

  dispose(): void {
    this.#keys.wipe();
  }

  seal(seq: number, packet: Uint8Array, spare?: boolean): Promise<Uint8Array> {
    const k = this.#keys;
    const nonce = k.nonce(seq);
    const end = packet.length;
    const out = sealTarget(packet, TAG, spare);
    const length = out.subarray(0, 4), body = out.subarray(4, end);
    chacha20orig(k.header, nonce, length, length, 0);
    k.body(k.main, nonce, body, body, 1);
    out.set(k.mac(out.subarray(0, end), k.polyKey(nonce)), end);
    return Promise.resolve(out);
  }
}

class ChachaOpener implements PacketOpener {
  readonly blockSize = BLOCK;
  readonly lengthApart = true;
  readonly firstBlockSize = 4;
  readonly macLength = TAG;
  readonly #keys: Keys;
  readonly #length = new Uint8Array(4);
  /** The packet whose length decryptLength already computed, or -1. */
  #pendingSeq = -1;
  #pendingLength = 0;

  constructor(keys: Keys) {
    this.#keys = keys;
  }

  dispose(): void {
    this.#keys.wipe();
  }

  #decryptLength(seq: number, first: Uint8Array): number {
    const k = this.#keys;
    // The encrypted length stays as it is: the tag covers it.
    chacha20orig(k.header, k.nonce(seq), first.subarray(0, 4), this.#length, 0);
    return readUint32(this.#length);
  }

  decryptLength(seq: number, first: Uint8Array): Promise<number> {
    if (first.length < 4) {
      return Promise.reject(
        new WireError(`${NAME}: ${first.length} bytes given, the length needs 4`, {
          field: "packet_length",
          offset: 0,
        }),
      );
    }
    const n = this.#decryptLength(seq, first);
    this.#pendingSeq = seq >>> 0;
    this.#pendingLength = n;
    return Promise.resolve(n);
  }

  open(seq: number, whole: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.#open(seq, whole));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #open(seq: number, whole: Uint8Array): Uint8Array {
    if (whole.length < 4 + TAG) {
      throw new WireError(`${NAME}: packet of ${whole.length} bytes is truncated`, {
        field: "packet",
        offset: 0,
      });
    }
    // Reuse the length decryptLength found; if the encrypted length changed
    // since, the tag (which covers it) will not verify.
    const n = this.#pendingSeq === seq >>> 0
      ? this.#pendingLength
      : this.#decryptLength(seq, whole);
    this.#pendingSeq = -1;
    const end = 4 + n;
    if (whole.length !== end + TAG) {
      throw new WireError(
        `${NAME}: packet is ${whole.length} bytes but packet_length ${n} ` +
          `and a ${TAG}-byte tag make ${end + TAG}`,
        { field: "packet", offset: 0 },
      );
    }
    if (n % BLOCK !== 0 || n < BLOCK) {
      throw new WireError(`${NAME}: packet_length ${n} is not a positive multiple of ${BLOCK}`, {
        field: "packet_length",
        offset: 0,
      });
    }
    const k = this.#keys;
    const nonce = k.nonce(seq);
    const tag = k.mac(whole.subarray(0, end), k.polyKey(nonce));
    if (!constantTimeEqual(tag, whole.subarray(end))) throw new MacError(NAME, seq);
    const body = whole.subarray(4, end);
    k.body(k.main, nonce, body, body, 1);
    return body;
  }
}

/**
 * `chacha20-poly1305@openssh.com`: 64-byte key, no IV, 8-byte blocks, a
 * 16-byte Poly1305 tag, packet length encrypted on its own. No separate MAC.
 *
 * @example
 * ```ts
 * import { CHACHA20_POLY1305 } from "./cipher_chacha20_poly1305.ts";
 * const key = new Uint8Array(64);
 * const sealer = await CHACHA20_POLY1305.sealer(key, new Uint8Array(0));
 * const opener = await CHACHA20_POLY1305.opener(key, new Uint8Array(0));
 * const packet = new Uint8Array(20);
 * packet.set([0, 0, 0, 16, 10, 2]);
 * const wire = await sealer.seal(5, packet);
 * const length = await opener.decryptLength(5, wire.subarray(0, 4)); // 16
 * console.log((await opener.open(5, wire))[1]); // 2
 * ```
 */
export const CHACHA20_POLY1305: CipherAlgorithm = Object.freeze({
  name: NAME,
  keyLength: 64,
  ivLength: 0,
  blockSize: BLOCK,
  aead: true,
  sealer(key: Uint8Array): Promise<PacketSealer> {
    try {
      return Promise.resolve(new ChachaSealer(new Keys(key)));
    } catch (e) {
      return Promise.reject(e);
    }
  },
  opener(key: Uint8Array): Promise<PacketOpener> {
    try {
      return Promise.resolve(new ChachaOpener(new Keys(key)));
    } catch (e) {
      return Promise.reject(e);
    }
  },
});
