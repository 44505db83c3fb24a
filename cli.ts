/**
 * The rxssh command line.
 *
 * - `rxssh [-p port] [-i identity] [-l user] [-c cipher] [-o Option=value]... [-t|-T] [user@]host [command]`:
 *   an ssh(1)-compatible client (known_hosts checking, identities,
 *   password prompts, pty, the remote exit code); see `lib/cli/ssh.ts`
 * - `rxssh serve [-p port] [-h host_key_file]... [-o Option=value]... [-D]`:
 *   an sshd-like server running commands as the current user (authorized_keys
 *   with its options, optional password from `RXSSH_PASSWORD` or a
 *   `PasswordFile`, a host key generated on the first run); see
 *   `lib/cli/serve.ts`
 * - `rxssh keygen [-t type] [-b bits] [-f file] [-N pass] [-C comment] | -l | -y | -p | -e | -i | -s ca -I id ...`:
 *   ssh-keygen's common flags (generation, fingerprints, conversions,
 *   certificates); see `lib/cli/keygen.ts`
 * - `rxssh sftp [-b batchfile] [-P port] [-i id] [-J jump] [-r] [-p] [-B size] [-R n] ... destination [local]`:
 *   OpenSSH's sftp (batch files, the interactive prompt, `host:file`
 *   fetches); see `lib/cli/sftp.ts`
 * - `rxssh scp [-3rpq] [-P port] [-i id] [-J jump] [-F cfg] [-o opt] source... target`:
 *   OpenSSH 9's scp over SFTP, remote to remote through this host; see `lib/cli/scp.ts`
 * - `rxssh -Q kex|cipher|mac|key|table`: list supported algorithms, like `ssh -Q`
 * - `rxssh probe [-p port] [-o Option=value]... host`: key exchange with a
 *   server, then print its identification, host key fingerprint and the
 *   negotiated algorithms (like `ssh-keyscan` plus `ssh -v`'s kex lines)
 * - `rxssh --version`
 *
 * Run it as `deno run -A cli.ts ...`, `deno task rxssh ...` or `bun cli.ts ...`.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * await main(["-Q", "cipher"]);
 * ```
 *
 * @module
 */
// Each command loads its own modules when it runs (start-up is part of every
// `rxssh host command`): only `node:process` and the version are static.
import process from "node:process";
import { VERSION } from "./lib/version.ts";
import type { PublicKey, TransportOptions } from "./mod.ts";

const USAGE =
  `usage: rxssh [-46CGNTVnqtv] [-c cipher_spec] [-D port] [-F configfile] [-i identity_file]
             [-J destination] [-L address] [-R address] [-W host:port]
             [-l login_name] [-m mac_spec] [-o option] [-p port]
             destination [command [argument ...]]
       rxssh serve [-p port] [-h host_key_file]... [-f config_file] [-o Option=value]... [-D]
       rxssh keygen [-t ed25519|ecdsa|rsa] [-b bits] [-f file] [-N new_passphrase] [-C comment]
       rxssh keygen -l [-v] [-E sha256|md5] -f file | -y [-P pass] -f file | -p -f file
       rxssh keygen -s ca_key -I key_id [-h] [-n principals] [-V validity] [-O option] file...
       rxssh probe [-p port] [-o KexAlgorithms|Ciphers|MACs|HostKeyAlgorithms=list]... host
       rxssh sftp [-46ACNafpqrv] [-B buffer_size] [-b batchfile] [-c cipher] [-F ssh_config]
                  [-i identity_file] [-J destination] [-o ssh_option] [-P port]
                  [-R num_requests] destination [local]
       rxssh scp [-346ACpqrv] [-c cipher] [-F ssh_config] [-i identity_file] [-J destination]
                 [-o ssh_option] [-P port] source ... target
       rxssh -Q kex|cipher|mac|key|table
       rxssh --version`;

/** Options of `probe` that map to transport options, with OpenSSH's names. */
const PROBE_OPTIONS: Record<string, keyof TransportOptions> = {
  kexalgorithms: "kexAlgorithms",
  ciphers: "ciphers",
  macs: "macs",
  hostkeyalgorithms: "hostKeyAlgorithms",
};

/**
 * Runs the CLI with `args` (without the program name); returns the exit code.
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const code = await main(["--version"]);
 * console.log(code); // 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s + "\n");
  const err = (s: string) => process.stderr.write(s + "\n");
  if (args[0] === "--version" || args[0] === "-V") {
    out(`rxssh ${VERSION} (SSH-2.0-rxssh_${VERSION})`);
    return 0;
  }
  if (args[0] === "-Q") {
    const { algorithmTableMarkdown, SUPPORTED_ALGORITHMS } = await import(
      "./lib/transport/algorithms.ts"
    );
    const lists: Record<string, readonly string[]> = {
      kex: SUPPORTED_ALGORITHMS.KexAlgorithms,
      cipher: SUPPORTED_ALGORITHMS.Ciphers,
      mac: SUPPORTED_ALGORITHMS.MACs,
      key: SUPPORTED_ALGORITHMS.HostKeyAlgorithms,
    };
    if (args[1] === "table") {
      out(algorithmTableMarkdown());
      return 0;
    }
    const list = lists[args[1] ?? ""];
    if (!list) {
      err(`rxssh: -Q needs one of: ${Object.keys(lists).join(", ")}, table`);
      return 2;
    }
    out(list.join("\n"));
    return 0;
  }
  if (args[0] === "probe") return await probe(args.slice(1), out, err);
  const rest = args.slice(1);
  if (args[0] === "serve") return await (await import("./lib/cli/serve.ts")).serveMain(rest);
  if (args[0] === "keygen") return await (await import("./lib/cli/keygen.ts")).keygenMain(rest);
  if (args[0] === "sftp") return await (await import("./lib/cli/sftp.ts")).sftpMain(rest);
  if (args[0] === "scp") return await (await import("./lib/cli/scp.ts")).scpMain(rest);
  if (args.length === 0) {
    err(USAGE);
    return 2;
  }
  return await (await import("./lib/cli/ssh.ts")).sshMain(args);
}

async function probe(
  args: string[],
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let port = 22;
  let host: string | undefined;
  const options: Partial<TransportOptions> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-p") {
      port = Number(args[++i]);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        err(`rxssh: bad port ${JSON.stringify(args[i])}`);
        return 2;
      }
    } else if (a === "-o") {
      const [k, v] = (args[++i] ?? "").split("=", 2);
      const key = PROBE_OPTIONS[k.toLowerCase()];
      if (!key || v === undefined) {
        err(
          `rxssh: unsupported option ${JSON.stringify(args[i])} (probe takes ${
            Object.keys(PROBE_OPTIONS).join(", ")
          })`,
        );
        return 2;
      }
      (options as Record<string, string>)[key] = v;
    } else if (!a.startsWith("-") && host === undefined) {
      host = a;
    } else {
      err(USAGE);
      return 2;
    }
  }
  if (!host) {
    err(USAGE);
    return 2;
  }
  let seen: PublicKey | undefined;
  const { firstValueFrom } = await import("rxjs");
  const { connectTcp, Transport } = await import("./mod.ts");
  try {
    const conn = await connectTcp(host, port);
    const t = new Transport(conn, {
      role: "client",
      ...options,
      // A probe reports the key; it authenticates nothing, so nothing is trusted.
      verifyHostKey: (key) => {
        seen = key;
        return true;
      },
      handshakeTimeout: 20_000,
    });
    const k = await t.ready;
    out(`server: ${t.peerVersion?.line}`);
    out(`host key: ${k.algorithms.hostKey} ${seen?.fingerprint()}`);
    out(`kex: ${k.algorithms.kex} (strict: ${k.strict})`);
    out(`cipher: ${k.algorithms.cipherClientToServer} MAC: ${k.algorithms.macClientToServer}`);
    // EXT_INFO follows the server's NEWKEYS (RFC 8308 §2.4); give it a moment.
    await Promise.race([
      firstValueFrom(t.extInfo$).catch(() => {}),
      new Promise((r) => setTimeout(r, 500)),
    ]);
    const sigs = t.peerExtensions.get("server-sig-algs");
    if (sigs) out(`server-sig-algs: ${new TextDecoder().decode(sigs)}`);
    await t.disconnect();
    return 0;
  } catch (e) {
    err(`rxssh: ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`);
    return 255;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
