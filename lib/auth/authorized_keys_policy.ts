/**
 * sshd's AuthorizedKeysFile policy as a `publicKey` handler: keys and
 * `cert-authority` lines from the user's authorized_keys, with from=,
 * expiry-time and principals= checked at login, and the remaining options
 * (no-pty, command=, environment=, forwarding flags) returned as
 * restrictions that the server enforces for the rest of the connection.
 *
 * @module
 */
import { SshCertificate, verifyCertificate } from "../keys/certificate.ts";
import {
  type AuthorizedKeyPermissions,
  certificateAuthorities,
  evaluateAuthorizedKey,
  findAuthorizedKey,
  parseAuthorizedKeys,
} from "../keys/authorized_keys.ts";
import type { PublicKey } from "../keys/types.ts";
import { readTextFileIfExists } from "../runtime/fs.ts";

/**
 * Where to find a user's authorized_keys text: a function, or a path
 * template with OpenSSH's tokens `%u` (user), `%h` (home directory, from
 * `homeOf`) and `%%`.
 *
 * @example
 * ```ts
 * import type { AuthorizedKeysSource } from "./authorized_keys_policy.ts";
 * const source: AuthorizedKeysSource = { path: "/srv/keys/%u" };
 * ```
 */
export type AuthorizedKeysSource =
  | { path: string; homeOf?: (user: string) => string | undefined }
  | { load: (user: string) => string | undefined | Promise<string | undefined> };

/**
 * The handler's decision context (the server fills it in).
 *
 * @example
 * ```ts
 * import type { PublicKeyContext } from "./authorized_keys_policy.ts";
 * const ctx: PublicKeyContext = { clientAddress: "192.0.2.7" };
 * ```
 */
export interface PublicKeyContext {
  /** The client's IP address (for from=). */
  clientAddress?: string;
}

/** `%u` the user, `%h` the home directory (default /home/user), `%%` a percent sign. */
function expand(template: string, account: { user: string; home: string | undefined }): string {
  const { user, home } = account;
  return template.replace(
    /%([%uh])/g,
    (_, t) => (t === "%" ? "%" : t === "u" ? user : home ?? `/home/${user}`),
  );
}

/**
 * Builds a `publicKey` handler from authorized_keys. It returns the entry's
 * permissions (truthy: accepted with these restrictions) or false.
 *
 * @example
 * ```ts
 * import { authorizedKeysHandler } from "./authorized_keys_policy.ts";
 * const publicKey = authorizedKeysHandler({ path: "%h/.ssh/authorized_keys" });
 * ```
 */
export function authorizedKeysHandler(
  source: AuthorizedKeysSource,
): (user: string, key: PublicKey, context?: PublicKeyContext) => Promise<
  AuthorizedKeyPermissions | false
> {
  return async (user, key, context = {}) => {
    let text: string | undefined;
    if ("load" in source) {
      text = await source.load(user);
    } else {
      const file = expand(source.path, {
        user,
        home: source.homeOf?.(user) ?? (user === "root" ? "/root" : undefined),
      });
      try {
        text = readTextFileIfExists(file);
      } catch {
        text = undefined; // an unreadable file allows nothing, as a missing one, as in sshd
      }
    }
    if (text === undefined) return false;
    const { entries } = parseAuthorizedKeys(text);
    const evalContext = { clientAddress: context.clientAddress ?? "", now: Date.now() };
    if (key instanceof SshCertificate) {
      // A user certificate: a cert-authority line must trust its CA (sshd's user_cert_trusted_ca).
      for (const entry of certificateAuthorities(entries)) {
        try {
          await verifyCertificate(key, {
            type: "user",
            principal: entry.options.principals ? undefined : user,
            requirePrincipal: !entry.options.principals,
            trustedCa: (ca) => ca.fingerprint() === entry.key.fingerprint(),
          });
        } catch {
          continue;
        }
        if (
          entry.options.principals &&
          !key.principals.some((p) => entry.options.principals!.includes(p))
        ) {
          continue;
        }
        const r = evaluateAuthorizedKey(entry, evalContext);
        if (!r.ok) continue;
        const forced = key.criticalOptions.get("force-command");
        return forced !== undefined
          ? { ...r.permissions, command: r.permissions.command ?? forced }
          : r.permissions;
      }
      return false;
    }
    const m = findAuthorizedKey(entries, key, evalContext);
    return m.ok ? m.permissions : false;
  };
}
