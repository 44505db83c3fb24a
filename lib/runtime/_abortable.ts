/**
 * Waits for `pending` unless `signal` aborts first; a connection that
 * completes after the abort is handed to `discard` so it is not leaked.
 */
export async function abortable<T>(
  pending: Promise<T>,
  signal: AbortSignal | undefined,
  discard: (late: T) => void,
): Promise<T> {
  if (!signal) return await pending;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([pending, aborted]);
  } catch (e) {
    pending.then(discard, () => {});
    throw e;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
