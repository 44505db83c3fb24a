// Test helper: "publickey" user authentication (RFC 4252 §7) on a bare
// Transport, so that transport interop tests can get past sshd's pre-auth
// stage (sshd refuses re-keying before authentication).
import type { PrivateKey } from "../lib/keys/types.ts";
import type { Transport } from "../lib/transport/transport.ts";
import {
  decodeAuthFailure,
  encodePublicKeyAuthRequest,
  publicKeySignedData,
} from "../lib/wire/auth_messages.ts";
import { Msg } from "../lib/wire/message_numbers.ts";

/** Authenticates `user` with `key`; resolves on USERAUTH_SUCCESS, rejects on failure. */
export async function authenticateWithKey(
  t: Transport,
  user: string,
  key: PrivateKey,
): Promise<void> {
  await t.requestService("ssh-userauth");
  const algorithm = key.algorithms[0];
  const req = { user, service: "ssh-connection", algorithm, key: key.publicKey.blob };
  const signature = await key.sign(algorithm, publicKeySignedData(t.sessionId!, req));
  await t.send(encodePublicKeyAuthRequest({ ...req, signature }));
  const reader = t.messages.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("connection closed during authentication");
      if (value[0] === Msg.USERAUTH_SUCCESS) return;
      if (value[0] === Msg.USERAUTH_FAILURE) {
        const f = decodeAuthFailure(value);
        throw new Error(`publickey authentication failed; can continue: ${f.methods.join(",")}`);
      }
      // USERAUTH_BANNER and anything else: keep reading.
    }
  } finally {
    reader.releaseLock();
  }
}
