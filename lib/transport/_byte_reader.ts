/**
 * A buffered reader over a byte stream, for the version exchange and the
 * binary packet protocol. Chunks are kept as received; a read that lies
 * within one chunk returns a sub-view (no copy), one that spans chunks is
 * gathered into a fresh buffer.
 *
 * @module
 */

/** Thrown by {@link ByteReader} when the stream ends before the bytes asked for. */
export class EndOfStream extends Error {
  /** Bytes that were buffered when the stream ended. */
  readonly buffered: number;
  constructor(buffered: number) {
    super(`connection closed with ${buffered} unread bytes`);
    this.buffered = buffered;
  }
}

/** Buffered reads of exact byte counts and of lines. */
export class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #head = 0; // offset into chunks[0]
  #size = 0; // buffered bytes
  #done = false;

  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#size;
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#done = true;
      return false;
    }
    if (value.length) {
      this.#chunks.push(value);
      this.#size += value.length;
    }
    return true;
  }

  /**
   * Resolves when bytes arrive (or the stream ends), or `undefined` when
   * some are buffered already. An idle connection waits here, one
   * suspended call deep, rather than inside a chain of pending reads.
   */
  whenReadable(): Promise<unknown> | undefined {
    return this.#size > 0 || this.#done ? undefined : this.#fill();
  }

  /** Waits until at least `n` bytes are buffered; throws {@link EndOfStream} if the stream ends first. */
  async ensure(n: number): Promise<void> {
    while (this.#size < n) {
      if (!(await this.#fill())) throw new EndOfStream(this.#size);
    }
  }

  /** Returns the next `n` buffered bytes without consuming them (call {@link ensure} first). */
  peek(n: number): Uint8Array {
    return this.#gather(n, false);
  }

  /** Takes `n` bytes that are already buffered (see {@link buffered}), synchronously. */
  take(n: number): Uint8Array {
    if (n > this.#size) throw new RangeError(`take(${n}) with only ${this.#size} bytes buffered`);
    return this.#gather(n, true);
  }

  /** Reads exactly `n` bytes. */
  async read(n: number): Promise<Uint8Array> {
    if (this.#size < n) await this.ensure(n);
    return this.#gather(n, true);
  }

  #gather(n: number, consume: boolean): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first.length - this.#head >= n) {
      const v = first.subarray(this.#head, this.#head + n);
      if (consume) this.#advance(n);
      return v;
    }
    const out = new Uint8Array(n);
    let off = 0;
    let head = this.#head;
    for (let i = 0; off < n; i++) {
      const c = this.#chunks[i];
      const take = Math.min(c.length - head, n - off);
      out.set(c.subarray(head, head + take), off);
      off += take;
      head = 0;
    }
    if (consume) this.#advance(n);
    return out;
  }

  #advance(n: number): void {
    this.#size -= n;
    while (n > 0) {
      const c = this.#chunks[0];
      const left = c.length - this.#head;
      if (n < left) {
        this.#head += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#head = 0;
    }
  }

  /**
   * Reads one line ending in LF (the LF and an optional CR before it are
   * stripped). Returns `undefined` when more than `max` bytes (terminator
   * included) arrive without an LF.
   */
  async readLine(max: number): Promise<Uint8Array | undefined> {
    let scanned = 0;
    for (;;) {
      // Scan buffered bytes for LF.
      let pos = 0;
      let head = this.#head;
      for (const c of this.#chunks) {
        for (let j = head; j < c.length; j++, pos++) {
          if (pos < scanned) continue;
          if (c[j] === 0x0a) {
            if (pos + 1 > max) return undefined;
            const line = this.#gather(pos + 1, true);
            const end = pos > 0 && line[pos - 1] === 0x0d ? pos - 1 : pos;
            return line.subarray(0, end);
          }
        }
        head = 0;
      }
      scanned = pos;
      if (scanned >= max) return undefined;
      if (!(await this.#fill())) throw new EndOfStream(this.#size);
    }
  }

  /** Stops reading and releases the stream. */
  async cancel(reason?: unknown): Promise<void> {
    this.#done = true;
    try {
      await this.#reader.cancel(reason);
    } catch {
      // already errored or closed
    }
  }
}
