// `rxssh scp` against a real sshd (`Subsystem sftp internal-sftp`), side
// by side with OpenSSH's scp (9.2, SFTP mode): local to remote and remote
// to local with -r -p (modes and times kept), remote to remote through
// this host, several sources to a directory, and the messages and exit
// statuses of a missing remote file, a missing local file, a directory
// without -r and an unwritable target.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { cliCommand, keygen, ROOT } from "./_cli.ts";
import {
  currentUser,
  findOpenSsh,
  openSshTestOptions,
  runProcess,
  type RunResult,
  type Sshd,
  startSshd,
} from "./_openssh.ts";

const openssh = findOpenSsh();
const scpBinary = "/usr/bin/scp";
const skip = openssh && fs.existsSync(scpBinary)
  ? false
  : "OpenSSH (sshd, scp) is not installed (.ci/run installs it; apt-get install openssh-server openssh-client)";
const user = currentUser();
const FIXED = 1577934245; // 2020-01-02 03:04:05 UTC

describe("rxssh scp -> OpenSSH sshd, compared with OpenSSH scp", { skip }, () => {
  let sshd: Sshd;
  let home: string;
  let keyFile: string;
  let remote: string;
  let local: string;

  before(async () => {
    home = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-scpcli-")));
    keyFile = path.join(home, "key");
    const pub = await keygen(keyFile);
    sshd = await startSshd({
      config: { PermitRootLogin: "yes", LogLevel: "INFO", Subsystem: "sftp internal-sftp" },
    });
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), pub + "\n");
    remote = path.join(home, "remote");
    local = path.join(home, "local");
  });
  after(async () => {
    await sshd?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const common = () =>
    openSshTestOptions(sshd.port, keyFile, { portFlag: "-P", batch: false, logLevel: "ERROR" });
  const at = (p: string) => `${user}@127.0.0.1:${p}`;

  /** local/src: f1 (0640), sub/ (0700) with f2, all at a fixed time; remote/ holds r.txt (0600). */
  function freshTree(): void {
    for (const d of [remote, local]) fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(path.join(local, "src", "sub"), { recursive: true });
    fs.mkdirSync(path.join(local, "out"));
    fs.mkdirSync(path.join(remote, "rdir"), { recursive: true });
    const files: [string, string, number][] = [
      [path.join(local, "src", "f1"), "one\n", 0o640],
      [path.join(local, "src", "sub", "f2"), "two two\n", 0o604],
      [path.join(remote, "r.txt"), "remote text\n", 0o600],
      [path.join(remote, "rdir", "x.txt"), "x\n", 0o640],
    ];
    for (const [f, text, mode] of files) {
      fs.writeFileSync(f, text);
      fs.chmodSync(f, mode);
      fs.utimesSync(f, FIXED, FIXED);
    }
    fs.chmodSync(path.join(local, "src", "sub"), 0o700);
    fs.utimesSync(path.join(local, "src", "sub"), FIXED, FIXED);
    fs.utimesSync(path.join(local, "src"), FIXED, FIXED);
    fs.chmodSync(path.join(remote, "rdir"), 0o750);
    fs.utimesSync(path.join(remote, "rdir"), FIXED, FIXED);
  }

  function snapshot(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const name of fs.readdirSync(dir).sort()) {
        const p = path.join(dir, name);
        const st = fs.lstatSync(p);
        const kept = Math.floor(st.mtimeMs / 1000) === FIXED ? " fixed-mtime" : "";
        const mode = (st.mode & 0o7777).toString(8);
        const rel = path.relative(home, p);
        if (st.isDirectory()) {
          out.push(`${rel}/ ${mode}${kept}`);
          walk(p);
        } else out.push(`${rel} ${mode} ${st.size}${kept} ${fs.readFileSync(p, "utf8").trim()}`);
      }
    };
    walk(remote);
    walk(local);
    return out;
  }

  function run(file: string, args: string[]): Promise<RunResult> {
    return runProcess(file, args, {
      timeoutMs: 60_000,
      cwd: local,
      env: { ...process.env, HOME: home },
    });
  }

  /** OpenSSH's scp, run by the name `scp` (it names itself with argv[0] in its messages). */
  function openSshScp(args: string[]): Promise<RunResult> {
    return run("/bin/sh", [
      "-c",
      `PATH=${path.dirname(scpBinary)}:$PATH exec scp "$@"`,
      "sh",
      ...args,
    ]);
  }

  function rxssh(args: string[]): Promise<RunResult> {
    const [file, argv] = cliCommand(args);
    const i = argv.indexOf("cli.ts");
    return run(file, argv.map((a, j) => (j === i ? path.join(ROOT, "cli.ts") : a)));
  }

  /** Runs `args` with OpenSSH's scp then ours on the same fresh tree; both results and trees. */
  async function both(args: string[]) {
    freshTree();
    const theirs = await openSshScp([...common(), ...args]);
    const theirTree = snapshot();
    freshTree();
    const ours = await rxssh(["scp", ...common(), ...args]);
    const ourTree = snapshot();
    assert.equal(ours.code, theirs.code, `ours: ${ours.stderr}\ntheirs: ${theirs.stderr}`);
    assert.equal(ours.stdout, theirs.stdout);
    assert.equal(ours.stderr, theirs.stderr);
    assert.deepEqual(ourTree, theirTree);
    return { theirs, ours, ourTree };
  }

  it("local to remote with -r -p keeps modes and times", async () => {
    const { ours, ourTree } = await both(["-r", "-p", "src", at(remote)]);
    assert.equal(ours.code, 0);
    assert.ok(ourTree.includes("remote/src/f1 640 4 fixed-mtime one"), ourTree.join("\n"));
    assert.ok(ourTree.includes("remote/src/sub/ 700 fixed-mtime"), ourTree.join("\n"));
  });

  it("remote to local with -r -p keeps modes and times", async () => {
    freshTree();
    // Put the tree on the server first (with our scp), then fetch it back with both.
    const up = await rxssh(["scp", ...common(), "-rp", "src", at(remote + "/")]);
    assert.equal(up.code, 0, up.stderr);
    const theirs = await openSshScp([...common(), "-r", "-p", at(remote + "/src"), "out"]);
    const theirTree = snapshot();
    fs.rmSync(path.join(local, "out"), { recursive: true });
    fs.mkdirSync(path.join(local, "out"));
    const ours = await rxssh(["scp", ...common(), "-r", "-p", at(remote + "/src"), "out"]);
    assert.equal(ours.code, theirs.code, ours.stderr);
    assert.equal(ours.stderr, theirs.stderr);
    const tree = snapshot();
    assert.deepEqual(tree, theirTree);
    assert.ok(tree.includes("local/out/src/sub/f2 604 8 fixed-mtime two two"), tree.join("\n"));
  });

  it("single files both ways, and several sources into a directory", async () => {
    await both([at(`${remote}/r.txt`), "copy.txt"]);
    await both(["src/f1", at(`${remote}/f1-copy`)]);
    await both(["-p", "src/f1", "src/sub/f2", at(remote)]);
    await both([at(`${remote}/r*`), "out"]);
  });

  it("remote to remote goes through this host", async () => {
    const { ourTree } = await both([at(`${remote}/r.txt`), at(`${remote}/r-copy.txt`)]);
    assert.ok(ourTree.some((l) => l.startsWith("remote/r-copy.txt 600 12 ")), ourTree.join("\n"));
    const tree = await both(["-r", "-p", at(`${remote}/rdir`), at(`${remote}/rdir-copy`)]);
    assert.ok(tree.ourTree.includes("remote/rdir-copy/ 750 fixed-mtime"), tree.ourTree.join("\n"));
    assert.ok(tree.ourTree.includes("remote/rdir-copy/x.txt 640 2 fixed-mtime x"));
  });

  it("a missing remote file: scp's message, exit status 1", async () => {
    const { ours } = await both([at(`${remote}/nope`), "out/"]);
    assert.equal(ours.code, 1);
    assert.equal(ours.stderr, `scp: ${remote}/nope: No such file or directory\r\n`);
  });

  it("a missing local file, a directory without -r, an unwritable target: scp's messages", async () => {
    const missing = await both(["nope", at(remote)]);
    assert.equal(missing.ours.code, 255);
    await both([at(remote), "out"]);
    await both(["src/f1", at(`${remote}/no/such/dir`)]);
  });
});
