// Test helpers for tests/secrets_test.ts: everything a run produced, as text
// (process output, events serialized with their bytes spelled out, errors
// with their stacks and causes), and a scanner that looks for a secret in
// every spelling it could leak in.

const te = new TextEncoder();

/** Lower-case hexadecimal. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Standard base64 with padding. */
export function base64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/**
 * The base64 characters that depend on `bytes` alone when they sit at
 * offset `k` (0, 1 or 2) of a larger base64 text: a secret copied inside a
 * packet or a key blob that was then base64-encoded shows as one of these.
 */
function base64Inner(bytes: Uint8Array, k: number): string {
  const padded = new Uint8Array(k + bytes.length);
  padded.set(bytes, k);
  const all = base64(padded);
  const first = Math.ceil((8 * k) / 6);
  const last = Math.floor((8 * (k + bytes.length) - 6) / 6);
  return all.slice(first, last + 1);
}

const url = (s: string) => s.replace(/\+/g, "-").replace(/\//g, "_");

/**
 * The spellings of a secret: as given (strings), hexadecimal in both cases,
 * base64 and base64url at each of the three alignments, and the decimal list
 * `Uint8Array.prototype.toString` writes. Matched against the text with all
 * white space removed as well, so line-wrapped base64 and a runtime's
 * multi-line inspect output are caught too.
 */
export function spellings(secret: string | Uint8Array): { form: string; text: string }[] {
  const bytes = typeof secret === "string" ? te.encode(secret) : secret;
  const out: { form: string; text: string }[] = [];
  if (typeof secret === "string") out.push({ form: "plain", text: secret });
  out.push({ form: "hex", text: hex(bytes) }, { form: "HEX", text: hex(bytes).toUpperCase() });
  for (const k of [0, 1, 2]) {
    const inner = base64Inner(bytes, k);
    out.push({ form: `base64@${k}`, text: inner }, { form: `base64url@${k}`, text: url(inner) });
  }
  out.push({ form: "decimal list", text: Array.from(bytes).join(",") });
  return out;
}

/** A named secret. */
export interface Secret {
  name: string;
  value: string | Uint8Array;
}

/** One piece of what a run produced. */
export interface Produced {
  where: string;
  text: string;
}

/**
 * Every (secret, spelling, place) where a secret shows in what was produced;
 * names only, never the values.
 */
export function findLeaks(secrets: readonly Secret[], produced: readonly Produced[]): string[] {
  const found: string[] = [];
  const squeezed = produced.map((p) => ({ where: p.where, text: p.text.replace(/\s+/g, "") }));
  for (const s of secrets) {
    for (const { form, text } of spellings(s.value)) {
      if (text.length < 8) throw new Error(`secret ${s.name} is too short to look for (${form})`);
      for (const [i, p] of produced.entries()) {
        if (p.text.includes(text) || squeezed[i].text.includes(text.replace(/\s+/g, ""))) {
          found.push(`${s.name} (${form}) in ${p.where}`);
        }
      }
    }
  }
  return found;
}

/**
 * JSON for an event or any value: bytes as hex and base64, bigints as
 * decimal, errors as their message, stack, cause and own properties;
 * functions and repeated objects are left out (events hold channels and
 * transports that refer to each other).
 */
export function serialize(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, function (_key, v) {
    if (v instanceof Uint8Array) return { bytes: hex(v), base64: base64(v) };
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "function") return undefined;
    if (v instanceof Error) return describeError(v);
    if (v !== null && typeof v === "object") {
      if (seen.has(v)) return "[seen]";
      seen.add(v);
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
        return hex(new Uint8Array(v instanceof ArrayBuffer ? v : v.buffer));
      }
    }
    return v;
  }) ?? String(value);
}

/** An error as text: message, stack, every cause down the chain, and enumerable properties. */
export function describeError(e: unknown, depth = 0): string {
  if (!(e instanceof Error)) return `thrown: ${serializeSafe(e)}`;
  const own: Record<string, unknown> = {};
  for (const k of Object.keys(e)) {
    if (k !== "cause") own[k] = (e as unknown as Record<string, unknown>)[k];
  }
  const parts = [
    `${e.name}: ${e.message}`,
    e.stack ?? "",
    `props: ${serializeSafe(own)}`,
    `string: ${String(e)}`,
  ];
  if (e instanceof AggregateError) {
    for (const inner of e.errors) parts.push(`inner: ${describeError(inner, depth + 1)}`);
  }
  if (e.cause !== undefined && depth < 16) {
    parts.push(`cause: ${describeError(e.cause, depth + 1)}`);
  }
  return parts.join("\n");
}

function serializeSafe(v: unknown): string {
  try {
    return serialize(v);
  } catch (e) {
    return `[unserializable: ${(e as Error).message}]`;
  }
}
