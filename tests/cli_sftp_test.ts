// `rxssh sftp` against a real sshd (`Subsystem sftp internal-sftp`),
// side by side with OpenSSH's sftp: the same batch file (every command)
// run by both on the same fresh tree must print the same standard output
// and standard error, leave the same files, and exit the same; a failing
// command aborts the batch unless prefixed with `-`; `sftp host:file
// [local]` fetches one file and exits; `sftp host:dir` starts there.
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
const sftpBinary = "/usr/bin/sftp";
const skip = openssh && fs.existsSync(sftpBinary)
  ? false
  : "OpenSSH (sshd, sftp) is not installed (.ci/run installs it; apt-get install openssh-server openssh-client)";
const user = currentUser();
/** A fixed modification time (2020-01-02 03:04:05 UTC) so `ls -l` lines do not depend on the clock. */
const FIXED = 1577934245;

describe("rxssh sftp -> OpenSSH sshd, compared with OpenSSH sftp", { skip }, () => {
  let sshd: Sshd;
  let home: string;
  let keyFile: string;
  /** Remote and local working directories of the batch (the same paths for both clients). */
  let remote: string;
  let local: string;

  before(async () => {
    home = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sftpcli-")));
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

  /** Options both clients take: no config, the test key, no known_hosts, no agent, no prompts. */
  const common = () =>
    openSshTestOptions(sshd.port, keyFile, { portFlag: "-P", batch: false, logLevel: "ERROR" });

  /** A fresh tree: remote/a.txt, remote/sub/s.txt, local/b.txt, local/tree/x/y.txt, fixed times. */
  function freshTree(): void {
    fs.rmSync(remote, { recursive: true, force: true });
    fs.rmSync(local, { recursive: true, force: true });
    fs.mkdirSync(path.join(remote, "sub"), { recursive: true });
    fs.mkdirSync(path.join(local, "tree", "x"), { recursive: true });
    const files: [string, string, number][] = [
      [path.join(remote, "a.txt"), "hello\n", 0o644],
      [path.join(remote, "sub", "s.txt"), "in sub\n", 0o640],
      [path.join(local, "b.txt"), "world!\n", 0o604],
      [path.join(local, "tree", "t.txt"), "tree top\n", 0o600],
      [path.join(local, "tree", "x", "y.txt"), "deep\n", 0o644],
    ];
    for (const [f, text, mode] of files) {
      fs.writeFileSync(f, text);
      fs.chmodSync(f, mode);
      fs.utimesSync(f, FIXED, FIXED);
    }
    for (
      const d of [path.join(local, "tree", "x"), path.join(local, "tree"), path.join(remote, "sub")]
    ) {
      fs.utimesSync(d, FIXED, FIXED);
    }
  }

  /** Every file under the two directories: path, type, mode, size, mtime, link target. */
  function snapshot(): string[] {
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const name of fs.readdirSync(dir).sort()) {
        const p = path.join(dir, name);
        const st = fs.lstatSync(p);
        const rel = path.relative(home, p);
        if (st.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`);
        else if (st.isDirectory()) {
          out.push(`${rel}/ ${(st.mode & 0o7777).toString(8)}`);
          walk(p);
        } else {
          const preserved = Math.floor(st.mtimeMs / 1000) === FIXED ? " fixed-mtime" : "";
          out.push(
            `${rel} ${(st.mode & 0o7777).toString(8)} ${st.size} ${st.nlink}${preserved} ${
              fs.readFileSync(p, "utf8").trim()
            }`,
          );
        }
      }
    };
    walk(remote);
    walk(local);
    return out;
  }

  function run(file: string, args: string[], input?: string): Promise<RunResult> {
    return runProcess(file, args, {
      timeoutMs: 60_000,
      cwd: local,
      input,
      env: { ...process.env, HOME: home, TZ: "UTC", LC_ALL: "C" },
    });
  }

  function rxssh(args: string[], input?: string): Promise<RunResult> {
    // cli.ts by its absolute path: the commands run in the local working directory.
    const [file, argv] = cliCommand(args);
    const at = argv.indexOf("cli.ts");
    return run(file, argv.map((a, i) => (i === at ? path.join(ROOT, "cli.ts") : a)), input);
  }

  /** `df` figures change between runs: the numbers on the line after each df header are masked. */
  function normalize(text: string): string {
    const lines = text.split("\n");
    for (let i = 1; i < lines.length; i++) {
      if (lines[i - 1].endsWith("%Capacity")) {
        lines[i] = lines[i].replace(/[\d.]+[KMGTPE]?B?/g, "N");
      }
    }
    return lines.join("\n");
  }

  async function both(batch: string, extra: string[] = []) {
    const batchFile = path.join(home, "batch");
    fs.writeFileSync(batchFile, batch);
    freshTree();
    const theirs = await run(sftpBinary, [
      ...common(),
      ...extra,
      "-b",
      batchFile,
      `${user}@127.0.0.1`,
    ]);
    const theirTree = snapshot();
    freshTree();
    const ours = await rxssh(["sftp", ...common(), ...extra, "-b", batchFile, `${user}@127.0.0.1`]);
    const ourTree = snapshot();
    return { theirs, ours, theirTree, ourTree };
  }

  it("a batch file using every command: the same output, messages, files and exit status", async () => {
    const { uid, gid } = os.userInfo();
    const batch = [
      `cd ${remote}`,
      "pwd",
      "lpwd",
      "version",
      "ls",
      "ls -1a",
      "ls -l a.txt",
      "ls -ln sub",
      "ls -lh sub/s.txt",
      `ls ${remote}/*.txt`,
      "-ls nope*",
      "get a.txt",
      "get -p a.txt a-copy.txt",
      "reget a.txt",
      "-get nope.txt",
      "get -r sub",
      "get -rp sub sub-p",
      "put -p b.txt",
      "-reput b.txt",
      "put -r -p tree",
      "-put tree",
      "mkdir d",
      "-mkdir d",
      "rename b.txt d/c.txt",
      "ln -s a.txt link",
      "symlink a.txt link2",
      "ln a.txt hard",
      "cp a.txt copied.txt",
      "chmod 600 a.txt",
      `chown ${uid} a.txt`,
      `chgrp ${gid} a.txt`,
      "ls -l a.txt",
      "ls -l hard",
      "ls -lS tree",
      "ls -lrt tree",
      "df",
      "df -h",
      "df -i",
      "lls",
      "lmkdir made",
      "lcd made",
      "lpwd",
      "lcd ..",
      "lumask 022",
      "!echo from a shell",
      "progress",
      "progress",
      "help",
      "-rm nope",
      "rm link",
      "rm tree/x/*.txt",
      "rmdir tree/x",
      "-rmdir nope",
      "cd sub",
      "pwd",
      "cd",
      "pwd",
      "-cd a.txt",
      "-cd nowhere",
      "-frobnicate",
      "-chmod 9 a.txt",
      "-get",
      "-ls -z",
      "bye",
      "pwd",
      "",
    ].join("\n");
    const { theirs, ours, theirTree, ourTree } = await both(batch);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(normalize(ours.stdout), normalize(theirs.stdout));
    assert.equal(ours.stderr, theirs.stderr);
    assert.equal(ours.code, theirs.code);
    assert.deepEqual(ourTree, theirTree);
    // The batch really did things: a sample of the results.
    assert.ok(ourTree.includes("remote/d/c.txt 604 7 1 fixed-mtime world!"), ourTree.join("\n"));
    assert.ok(ourTree.some((l) => l.startsWith("remote/link2 -> a.txt")));
    assert.ok(ourTree.some((l) => l.startsWith("local/sub-p/s.txt 640 7 1 fixed-mtime")));
  });

  it("a failing command ends the batch with exit status 1, as sftp's does", async () => {
    const batch = [`cd ${remote}`, "get nope", "mkdir never", ""].join("\n");
    const { theirs, ours, theirTree, ourTree } = await both(batch);
    assert.equal(theirs.code, 1);
    assert.equal(ours.code, 1);
    assert.equal(ours.stdout, theirs.stdout);
    assert.equal(ours.stderr, theirs.stderr);
    assert.deepEqual(ourTree, theirTree);
    assert.ok(!ourTree.some((l) => l.includes("never")));
  });

  it("the batch from standard input with -b -, and -q", async () => {
    freshTree();
    const r = await rxssh(
      ["sftp", ...common(), "-q", "-b", "-", `${user}@127.0.0.1`],
      `cd ${remote}\nls\nget a.txt\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `sftp> cd ${remote}\nsftp> ls\na.txt  sub    \nsftp> get a.txt\n`);
    assert.equal(fs.readFileSync(path.join(local, "a.txt"), "utf8"), "hello\n");
  });

  it("sftp host:file [local] fetches it and exits; a missing file is sftp's message and status", async () => {
    for (
      const args of [[`${remote}/a.txt`, "."], [`${remote}/a.txt`, "renamed.txt"], [
        `${remote}/nope`,
      ]]
    ) {
      freshTree();
      const dest = `${user}@127.0.0.1:${args[0]}`;
      const theirs = await run(sftpBinary, [...common(), dest, ...args.slice(1)]);
      const theirTree = snapshot();
      freshTree();
      const ours = await rxssh(["sftp", ...common(), dest, ...args.slice(1)]);
      assert.equal(ours.code, theirs.code, ours.stderr);
      assert.equal(ours.stdout, theirs.stdout);
      assert.equal(ours.stderr, theirs.stderr);
      assert.deepEqual(snapshot(), theirTree);
      if (args[1] === ".") {
        assert.equal(fs.readFileSync(path.join(local, "a.txt"), "utf8"), "hello\n");
      }
    }
  });

  it("sftp host:dir starts in that directory; sftp:// URIs with a port", async () => {
    freshTree();
    const dest = `sftp://${user}@127.0.0.1:${sshd.port}/${remote}/sub`;
    const args = common().filter((a, i, all) => a !== "-P" && all[i - 1] !== "-P");
    const theirs = await run(sftpBinary, [...args, "-b", "-", dest], "pwd\nls\n");
    const ours = await rxssh(["sftp", ...args, "-b", "-", dest], "pwd\nls\n");
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, theirs.stdout);
    assert.match(ours.stdout, /Remote working directory: .*\/remote\/sub\n/);
  });

  // script(1) gives the command a terminal (100 columns), as a user's would be.
  const scriptBinary = ["/usr/bin/script", "/bin/script"].find((f) => fs.existsSync(f));
  const inPty = (command: string, input?: string) =>
    run(scriptBinary!, ["-qec", `stty cols 100; ${command}`, "/dev/null"], input);
  const shellWords = (args: string[]) => args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const rxsshLine = (args: string[]) => {
    const [file, argv] = cliCommand(args);
    const at = argv.indexOf("cli.ts");
    return shellWords([file, ...argv.map((a, i) => (i === at ? path.join(ROOT, "cli.ts") : a))]);
  };

  it("on a terminal: sftp's progress meter, frame for frame but the rate", {
    skip: scriptBinary ? false : "script(1) is not installed",
  }, async () => {
    const big = path.join(remote, "big.bin");
    const fetch = [...common(), `${user}@127.0.0.1:${big}`, "."];
    const meter = async (command: string) => {
      freshTree();
      fs.writeFileSync(big, new Uint8Array(3_000_000).fill(7));
      const r = await inPty(command);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(fs.statSync(path.join(local, "big.bin")).size, 3_000_000);
      // Frames start with \r; the rate and the elapsed time depend on the run.
      return r.stdout.split("\r").filter((f) => f.includes("%")).map((f) =>
        f.replace(/ +\d+\.\d[KMGT]B\/s/, " RATE").replace(/\d\d:\d\d/, "TIME")
      );
    };
    const theirs = await meter(shellWords([sftpBinary, ...fetch]));
    const ours = await meter(rxsshLine(["sftp", ...fetch]));
    assert.deepEqual(ours.at(-1), theirs.at(-1));
    assert.match(ours.at(-1)!, /^big\.bin {59}100% 2930KB RATE {3}TIME {4}$/);
    assert.deepEqual(ours[0], theirs[0]);
  });

  it("on a terminal without -b: the sftp> prompt, commands read line by line", {
    skip: scriptBinary ? false : "script(1) is not installed",
  }, async () => {
    freshTree();
    // The lines go to the terminal, which echoes them as it receives them.
    const r = await inPty(
      rxsshLine(["sftp", ...common(), `${user}@127.0.0.1`]),
      `cd ${remote}\nls\nbye\n`,
    );
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /Connected to 127\.0\.0\.1\./);
    assert.match(r.stdout, /a\.txt {2}sub {4}\r\n/);
    assert.equal(r.stdout.split("sftp> ").length - 1, 3, r.stdout);
    assert.doesNotMatch(r.stdout, /sftp> (cd|ls|bye)\r\nsftp> (cd|ls|bye)/); // no batch-style echo
  });

  it("-J through a jump host (the same sshd), with -F giving both hops their options", async () => {
    freshTree();
    const config = path.join(home, "ssh_config");
    fs.writeFileSync(
      config,
      `Host *\n  IdentityFile ${keyFile}\n  StrictHostKeyChecking no\n` +
        `  UserKnownHostsFile /dev/null\n  IdentityAgent none\n  LogLevel ERROR\n`,
    );
    const args = [
      "-F",
      config,
      "-J",
      `${user}@localhost:${sshd.port}`, // another name: ssh refuses a jump to the host itself
      "-P",
      String(sshd.port),
      "-b",
      "-",
      `${user}@127.0.0.1:${remote}`,
    ];
    const theirs = await run(sftpBinary, args, "pwd\n");
    const ours = await rxssh(["sftp", ...args], "pwd\n");
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, theirs.stdout);
    assert.match(ours.stdout, /Remote working directory: .*\/remote\n/);
  });

  it("a connection that fails exits 255", async () => {
    const r = await rxssh([
      "sftp",
      "-F",
      "/dev/null",
      "-P",
      "1",
      "-o",
      "BatchMode=yes",
      "127.0.0.1",
    ]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /Connection refused/);
  });
});
