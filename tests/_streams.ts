// Test helper: read a byte stream as text until a pattern shows up.
const td = new TextDecoder();

/** Reads `stream` as UTF-8 until `pattern` matches (or it ends); throws after `timeoutMs`. */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs = 10_000,
): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!pattern.test(text)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(text)}`);
      }
      const { value, done } = await reader.read();
      if (done) break;
      text += td.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}
