// A hostile SFTP server lists a name holding '/' ("../evil") in a directory,
// the CVE-2019-6111 pattern: a recursive download, `ls` and a glob must not
// write or show anything outside what the user asked for. OpenSSH's sftp is
// run against the same server beside `rxssh sftp` and `rxssh scp`: both
// leave the name out with "Server sent suspect path", and nothing is written
// outside the target.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { listen, type SshServer } from "../lib/server.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import { parsePublicKeyLine } from "../lib/keys/public_key_file.ts";
import { FsBackend } from "../lib/sftp/fs_backend.ts";
import { FileType } from "../lib/sftp/packets.ts";
import { sftpSubsystem } from "../lib/sftp/subsystem.ts";
import {
  currentUser,
  findOpenSsh,
  openSshTestOptions,
  runProcess,
  type RunResult,
} from "./_openssh.ts";
import { cliCommand, keygen, ROOT } from "./_cli.ts";

const user = currentUser();
const SFTP = "/usr/bin/sftp";

/** FsBackend whose listing of /dir also names "../evil", a regular file. */
class HostileBackend extends FsBackend {
  override async opendir(p: string) {
    const dir = await super.opendir(p);
    if (!/^\/?dir\/?$/.test(p)) return dir;
    let sent = false;
    return {
      read: async () => {
        const batch = await dir.read();
        if (sent) return batch;
        sent = true;
        const evil = {
          filename: "../evil",
          longname: "-rw-r--r--    1 0        0              5 Jan  1 00:00 ../evil",
          attrs: { permissions: FileType.REGULAR | 0o644, size: 5 },
        };
        return [...(batch ?? []), evil];
      },
      close: () => dir.close(),
    };
  }
}

describe("a hostile SFTP server names ../evil in a listing", () => {
  let work: string;
  let remote: string;
  let keyFile: string;
  let server: SshServer;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-hostile-sftp-"));
    remote = path.join(work, "remote");
    fs.mkdirSync(path.join(remote, "dir"), { recursive: true });
    fs.writeFileSync(path.join(remote, "dir", "ok.txt"), "fine\n");
    fs.writeFileSync(path.join(remote, "evil"), "evil\n"); // what /dir/../evil reads
    keyFile = path.join(work, "id_ed25519");
    const allowed = parsePublicKeyLine(await keygen(keyFile)).key;
    server = await listen({
      hostname: "127.0.0.1",
      port: 0,
      hostKeys: [await generatePrivateKey("ssh-ed25519")],
      auth: { handlers: { publicKey: (_u, k) => k.fingerprint() === allowed.fingerprint() } },
      subsystems: { sftp: sftpSubsystem({ backend: () => new HostileBackend({ root: remote }) }) },
    });
  });
  after(async () => {
    await server?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** A fresh local directory to run in. */
  function localDir(name: string): string {
    const d = path.join(work, name);
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d);
    return d;
  }

  const common = () => openSshTestOptions(server.port, keyFile, { portFlag: "-P" });

  function run(cwd: string, file: string, args: string[], input?: string): Promise<RunResult> {
    return runProcess(file, args, {
      timeoutMs: 60_000,
      cwd,
      input,
      env: { ...process.env, HOME: work, LC_ALL: "C" },
    });
  }

  function rxssh(cwd: string, args: string[], input?: string): Promise<RunResult> {
    const [file, argv] = cliCommand(args);
    const at = argv.indexOf("cli.ts");
    return run(cwd, file, argv.map((a, i) => (i === at ? path.join(ROOT, "cli.ts") : a)), input);
  }

  /** The files under `dir`, relative. */
  function files(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
  }

  const suspect = /Server sent suspect path "\.\.\/evil" during readdir of "\/?dir\/?"/;

  it("rxssh sftp: get -r and ls leave it out and say so; nothing lands beside the target", async () => {
    const cwd = localDir("ours");
    const r = await rxssh(
      cwd,
      ["sftp", ...common(), "-b", "-", `${user}@127.0.0.1`],
      "get -r dir\nls dir\n",
    );
    assert.deepEqual(files(cwd), ["dir", "dir/ok.txt"]);
    assert.match(r.stderr, suspect, r.stderr);
    assert.doesNotMatch(r.stdout, /evil/);
  });

  it("OpenSSH's sftp against the same server does the same", { skip: !findOpenSsh() }, async () => {
    const cwd = localDir("theirs");
    const r = await run(
      cwd,
      SFTP,
      [...common(), "-b", "-", `${user}@127.0.0.1`],
      "get -r dir\nls dir\n",
    );
    assert.deepEqual(files(cwd), ["dir", "dir/ok.txt"]);
    assert.match(r.stderr, suspect, r.stderr);
    assert.doesNotMatch(r.stdout, /evil/);
  });

  it("rxssh scp -r and a glob: the same", async () => {
    const cwd = localDir("scp");
    const r = await rxssh(cwd, ["scp", ...common(), "-r", `${user}@127.0.0.1:dir`, "."]);
    assert.match(r.stderr, suspect, r.stderr);
    const g = await rxssh(cwd, ["scp", ...common(), `${user}@127.0.0.1:dir/*`, "."]);
    assert.match(g.stderr, suspect, g.stderr);
    assert.deepEqual(files(cwd), ["dir", "dir/ok.txt", "ok.txt"]);
  });
});
