// OpenSSH's sftp and scp against `rxssh serve`'s internal SFTP server: a
// batch file using every sftp command with the results checked on disk,
// scp in SFTP mode and in the legacy mode (-O, run as a command) both ways,
// internal-sftp -R, ForceCommand internal-sftp, and the ChrootDirectory
// escapes (.., absolute path, symlink out, hardlink out, rename out), each
// run against sshd's internal-sftp under ChrootDirectory too (when the test
// runs as root, which sshd's chroot needs) and compared.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import {
  currentUser,
  findOpenSsh,
  openSshTestOptions,
  runProcess,
  runSsh,
  startSshd,
  testSshArgs,
} from "./_openssh.ts";
import { keygen, serve, type Served } from "./_cli.ts";

const openssh = findOpenSsh();
const sftpBin = "/usr/bin/sftp";
const scpBin = "/usr/bin/scp";
const skip = openssh && fs.existsSync(sftpBin) && fs.existsSync(scpBin)
  ? false
  : "OpenSSH's ssh, sftp and scp are not installed";
const user = currentUser();
const isRoot = process.getuid?.() === 0;

const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

/** ssh options for sftp and scp: no config, no known_hosts, no agent. */
function clientArgs(port: number, key: string, portFlag: "-P"): string[] {
  return openSshTestOptions(port, key, { portFlag, logLevel: "ERROR" });
}

/** Runs `sftp -b -` with `batch` as `user` on `port`, in `cwd`. */
function sftpBatch(port: number, key: string, batch: string, cwd: string) {
  return runProcess(sftpBin, [...clientArgs(port, key, "-P"), "-b", "-", `${user}@127.0.0.1`], {
    input: batch,
    cwd,
    timeoutMs: 120_000,
  });
}

const sameBytes = (a: string, b: string) =>
  assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), `${a} and ${b} differ`);

describe("OpenSSH sftp and scp -> rxssh serve (internal-sftp)", { skip }, () => {
  let home: string;
  let work: string;
  let key: string;
  let authorizedKeys: string;
  let server: Served;

  before(async () => {
    home = tempDir("rxssh-sftp-home-");
    work = tempDir("rxssh-sftp-work-");
    key = path.join(work, "id_ed25519");
    authorizedKeys = path.join(work, "authorized_keys");
    fs.writeFileSync(authorizedKeys, (await keygen(key)) + "\n");
    server = await serve(["-o", `AuthorizedKeysFile=${authorizedKeys}`], { HOME: home });
  });
  after(async () => {
    await server?.stop();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("sftp -b: every command, with the results checked on both sides", async () => {
    const local = fs.mkdtempSync(path.join(work, "local-"));
    const remote = fs.mkdtempSync(path.join(work, "remote-"));
    const a = randomBytes(1024 * 1024 + 17);
    const b = randomBytes(700_000);
    const c = randomBytes(900_000);
    fs.writeFileSync(path.join(local, "a.bin"), a, { mode: 0o640 });
    fs.utimesSync(path.join(local, "a.bin"), 1_000_000_000, 1_000_000_000);
    fs.writeFileSync(path.join(local, "b.bin"), b);
    fs.writeFileSync(path.join(remote, "b.bin"), b.subarray(0, 300_000)); // for reput
    fs.writeFileSync(path.join(remote, "c.bin"), c);
    fs.writeFileSync(path.join(local, "c.bin"), c.subarray(0, 100_000)); // for reget
    fs.mkdirSync(path.join(local, "tree/deep"), { recursive: true });
    fs.writeFileSync(path.join(local, "tree/one"), "one\n");
    fs.writeFileSync(path.join(local, "tree/deep/two"), "two\n");
    fs.writeFileSync(path.join(local, "one-appended"), "one"); // get -a resumes it
    const uid = isRoot ? 1 : process.getuid!();
    const gid = isRoot ? 1 : process.getgid!();
    const batch = [
      "version",
      "pwd",
      "lpwd",
      `cd ${remote}`,
      "pwd",
      `lcd ${local}`,
      "progress",
      "put a.bin",
      "put -p a.bin a-p.bin",
      "reput b.bin",
      "reget c.bin",
      "get a.bin a-back.bin",
      "get -p a-p.bin a-p-back.bin",
      "mkdir sub",
      "put a.bin sub/x",
      "rename sub/x sub/y",
      "ln -s y sub/ys",
      "symlink y sub/ys2",
      "ln sub/y sub/yh",
      "cp sub/y sub/yc",
      "get sub/ys ys-back.bin",
      "chmod 600 sub/y",
      `chown ${uid} sub/y`,
      `chgrp ${gid} sub/y`,
      "ls -l sub",
      "ls -n sub",
      "ls",
      "df",
      "df -h",
      "mkdir gone",
      "rmdir gone",
      "put a.bin junk",
      "rm junk",
      "lmkdir ldir",
      "put -r tree",
      "get -r tree tree-back",
      "copy tree/one tree/one-copy",
      "get -a tree/one-copy one-appended",
      "lumask 022",
      "lls",
      "!true",
      "help",
      "?",
      "bye",
    ].join("\n") + "\n";
    const r = await sftpBatch(server.port, key, batch, local);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${server.log()}`);
    // Remote side.
    sameBytes(path.join(local, "a.bin"), path.join(remote, "a.bin"));
    assert.equal(fs.statSync(path.join(remote, "a-p.bin")).mtimeMs, 1_000_000_000_000);
    assert.equal(fs.statSync(path.join(remote, "a-p.bin")).mode & 0o777, 0o640);
    sameBytes(path.join(local, "b.bin"), path.join(remote, "b.bin"));
    const y = fs.statSync(path.join(remote, "sub/y"));
    assert.equal(y.mode & 0o777, 0o600);
    assert.equal(y.uid, uid);
    assert.equal(y.gid, gid);
    assert.equal(y.nlink, 2);
    assert.equal(fs.statSync(path.join(remote, "sub/yh")).ino, y.ino);
    assert.equal(fs.readlinkSync(path.join(remote, "sub/ys")), "y");
    assert.equal(fs.readlinkSync(path.join(remote, "sub/ys2")), "y");
    sameBytes(path.join(local, "a.bin"), path.join(remote, "sub/yc"));
    assert.ok(!fs.existsSync(path.join(remote, "sub/x")));
    assert.ok(!fs.existsSync(path.join(remote, "gone")));
    assert.ok(!fs.existsSync(path.join(remote, "junk")));
    // Local side.
    sameBytes(path.join(remote, "c.bin"), path.join(local, "c.bin"));
    sameBytes(path.join(local, "a.bin"), path.join(local, "a-back.bin"));
    sameBytes(path.join(local, "a.bin"), path.join(local, "ys-back.bin")); // through a link
    assert.equal(fs.statSync(path.join(local, "a-p-back.bin")).mtimeMs, 1_000_000_000_000);
    assert.ok(fs.statSync(path.join(local, "ldir")).isDirectory());
    assert.equal(fs.readFileSync(path.join(remote, "tree/deep/two"), "utf8"), "two\n");
    assert.equal(fs.readFileSync(path.join(local, "tree-back/deep/two"), "utf8"), "two\n");
    assert.equal(fs.readFileSync(path.join(remote, "tree/one-copy"), "utf8"), "one\n");
    assert.equal(fs.readFileSync(path.join(local, "one-appended"), "utf8"), "one\n");
    // What sftp printed.
    assert.match(r.stdout, new RegExp(`Remote working directory: ${remote}\n`));
    assert.match(r.stdout, /SFTP protocol version 3/);
    assert.match(r.stdout, /-rw------- +\? +\S+ +\S+ +1048593 .* sub\/y\n/);
    assert.match(r.stdout, /lrwxrwxrwx .* sub\/ys\n/);
    assert.match(r.stdout, /Size +Used +Avail +\(root\) +%Capacity/);
  });

  it("scp in SFTP mode and scp -O (legacy, run as a command), both directions", async () => {
    const dir = fs.mkdtempSync(path.join(work, "scp-"));
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const src = path.join(dir, "src.bin");
    fs.writeFileSync(src, data);
    fs.mkdirSync(path.join(dir, "tree/deep"), { recursive: true });
    fs.writeFileSync(path.join(dir, "tree/deep/f"), "leaf\n");
    const at = (p: string) => `${user}@127.0.0.1:${p}`;
    for (const legacy of [false, true]) {
      const mode = legacy ? ["-O"] : [];
      const tag = legacy ? "legacy" : "sftp";
      const scp = (args: string[]) =>
        runProcess(scpBin, [...clientArgs(server.port, key, "-P"), ...mode, ...args], {
          timeoutMs: 120_000,
        });
      const up = await scp([src, at(path.join(dir, `up-${tag}.bin`))]);
      assert.equal(up.code, 0, up.stderr);
      sameBytes(src, path.join(dir, `up-${tag}.bin`));
      const down = await scp([
        at(path.join(dir, `up-${tag}.bin`)),
        path.join(dir, `down-${tag}.bin`),
      ]);
      assert.equal(down.code, 0, down.stderr);
      sameBytes(src, path.join(dir, `down-${tag}.bin`));
      const tree = await scp(["-r", path.join(dir, "tree"), at(path.join(dir, `tree-${tag}`))]);
      assert.equal(tree.code, 0, tree.stderr);
      assert.equal(fs.readFileSync(path.join(dir, `tree-${tag}/deep/f`), "utf8"), "leaf\n");
      const missing = await scp([at(path.join(dir, "nope")), path.join(dir, "nope-local")]);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /No such file/);
    }
  });

  it("Subsystem sftp internal-sftp -R -u: read-only, and the umask on created files", async () => {
    const dir = fs.mkdtempSync(path.join(work, "ro-"));
    fs.writeFileSync(path.join(dir, "keep"), "keep\n");
    const ro = await serve([
      "-o",
      `AuthorizedKeysFile=${authorizedKeys}`,
      "-o",
      "Subsystem=sftp internal-sftp -R",
    ], { HOME: home });
    try {
      const r = await sftpBatch(
        ro.port,
        key,
        `cd ${dir}\nget keep got\n-put got up\n-rm keep\n-mkdir d\n-rename keep k2\n`,
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /dest open "\S+\/up": Permission denied/);
      assert.match(r.stderr, /remote delete \S+\/keep: Permission denied/);
      assert.match(r.stderr, /remote mkdir "\S+\/d": Permission denied/);
      assert.match(r.stderr, /remote rename .*: Permission denied/);
      assert.equal(fs.readdirSync(dir).sort().join(" "), "got keep");
    } finally {
      await ro.stop();
    }
    const masked = await serve([
      "-o",
      `AuthorizedKeysFile=${authorizedKeys}`,
      "-o",
      "Subsystem=sftp internal-sftp -u 077",
    ], { HOME: home });
    try {
      fs.chmodSync(path.join(dir, "got"), 0o666);
      const r = await sftpBatch(masked.port, key, `cd ${dir}\nput got put-masked\nmkdir dm\n`, dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.statSync(path.join(dir, "put-masked")).mode & 0o777, 0o600);
      assert.equal(fs.statSync(path.join(dir, "dm")).mode & 0o777, 0o700);
    } finally {
      await masked.stop();
    }
  });

  it("Subsystem sftp /path runs that command instead of the internal server", {
    skip: fs.existsSync("/usr/lib/openssh/sftp-server") ? false : "no OpenSSH sftp-server",
  }, async () => {
    const dir = fs.mkdtempSync(path.join(work, "ext-"));
    const wrapper = path.join(dir, "sftp-server-wrapper");
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\ntouch ${dir}/ran\nexec /usr/lib/openssh/sftp-server "$@"\n`,
      { mode: 0o755 },
    );
    const external = await serve([
      "-o",
      `AuthorizedKeysFile=${authorizedKeys}`,
      "-o",
      `Subsystem=sftp ${wrapper}`,
    ], { HOME: home });
    try {
      const r = await sftpBatch(external.port, key, `cd ${dir}\nls\n`, dir);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(dir, "ran")), "the configured command did not run");
    } finally {
      await external.stop();
    }
  });

  it("ForceCommand internal-sftp -R: sftp works read-only, exec is refused as sshd refuses it", async () => {
    const forced = await serve([
      "-o",
      `AuthorizedKeysFile=${authorizedKeys}`,
      "-o",
      "ForceCommand=internal-sftp -R",
    ], { HOME: home });
    try {
      const ok = await sftpBatch(
        forced.port,
        key,
        `cd ${work}\nls authorized_keys\n-mkdir forced-dir\n`,
        work,
      );
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /authorized_keys/);
      assert.match(ok.stderr, /remote mkdir .*forced-dir": Permission denied/);
      const exec = await runSsh(testSshArgs(forced.port, key, user, ["127.0.0.1", "echo hi"]), {
        timeoutMs: 60_000,
      });
      assert.equal(exec.code, 1);
      assert.equal(exec.stdout, "");
      assert.match(exec.stderr, /This service allows sftp connections only\./);
    } finally {
      await forced.stop();
    }
  });
});

/**
 * The escapes, one batch line each (`-` so that a failure does not end the
 * batch), run from `/pub` inside the jail. BASE is the jail's parent
 * (outside), holding secret.txt.
 */
function escapeBatch(base: string): { name: string; lines: string[] }[] {
  return [
    {
      name: "..",
      lines: [
        "-get ../../secret.txt got-dotdot",
        "-ls ../../..",
        "-put local.txt ../../../planted-dotdot",
      ],
    },
    {
      name: "absolute path",
      lines: [
        `-get ${base}/secret.txt got-abs`,
        `-put local.txt ${base}/planted-abs`,
        `-ls ${base}`,
      ],
    },
    {
      name: "symlink out",
      lines: [
        "-get abs got-link-abs",
        "-get rel got-link-rel",
        "-ls dirout",
        "-put local.txt dirout/planted-link",
        `-symlink ${base}/secret.txt made-link`,
        "-get made-link got-made-link",
      ],
    },
    {
      name: "hardlink out",
      lines: [
        "-ln ../../secret.txt hard1",
        `-ln ${base}/secret.txt hard2`,
        "-ln abs hard3",
        "-get hard3 got-hard3",
      ],
    },
    {
      name: "rename out",
      lines: [
        "-rename inside.txt ../../../moved.txt",
        `-rename ../moved.txt ${base}/moved-abs.txt`,
        "-rename ../moved.txt dirout/moved-link.txt",
      ],
    },
  ];
}

/** The jail, named after the user (ChrootDirectory=BASE/%u). */
const JAIL = user;

/** The jail: BASE/secret.txt outside, BASE/<user>/pub with links pointing out. */
function makeJail(base: string): string {
  fs.rmSync(base, { recursive: true, force: true });
  fs.mkdirSync(path.join(base, JAIL, "pub"), { recursive: true, mode: 0o755 });
  fs.chmodSync(base, 0o755);
  fs.chmodSync(path.join(base, JAIL), 0o755);
  fs.writeFileSync(path.join(base, "secret.txt"), "secret\n");
  fs.writeFileSync(path.join(base, JAIL, "pub/inside.txt"), "inside\n");
  fs.symlinkSync(path.join(base, "secret.txt"), path.join(base, JAIL, "pub/abs"));
  fs.symlinkSync("../../secret.txt", path.join(base, JAIL, "pub/rel"));
  fs.symlinkSync(base, path.join(base, JAIL, "pub/dirout"));
  return path.join(base, JAIL);
}

/** Every path under `dir` with its type and, for files, content; links with their targets. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const p = path.join(rel, name);
      const st = fs.lstatSync(path.join(dir, p));
      if (st.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(path.join(dir, p))}`);
      else if (st.isDirectory()) {
        out.push(`${p}/`);
        walk(p);
      } else out.push(`${p} (${st.nlink}) ${fs.readFileSync(path.join(dir, p), "utf8").trim()}`);
    }
  };
  walk("");
  return out;
}

describe(
  "ChrootDirectory: no escape, as sshd's internal-sftp under ChrootDirectory",
  { skip },
  () => {
    // sshd's chroot needs every component root-owned and not writable by
    // others: not under /tmp. /run is root's (and a tmpfs) where this runs.
    const jailParent = isRoot && fs.existsSync("/run") ? "/run" : undefined;
    let base: string;
    let work: string;
    let key: string;
    let authorizedKeys: string;
    let home: string;

    before(async () => {
      work = tempDir("rxssh-sftp-chroot-work-");
      home = tempDir("rxssh-sftp-chroot-home-");
      key = path.join(work, "id_ed25519");
      authorizedKeys = path.join(work, "authorized_keys");
      fs.writeFileSync(authorizedKeys, (await keygen(key)) + "\n");
      fs.writeFileSync(path.join(work, "local.txt"), "local\n");
      base = jailParent
        ? fs.mkdtempSync(path.join(jailParent, "rxssh-sftp-chroot-"))
        : tempDir("rxssh-sftp-chroot-");
    });
    after(() => {
      fs.rmSync(work, { recursive: true, force: true });
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(base, { recursive: true, force: true });
    });

    /** Runs every escape against `port`; returns the output and the trees afterwards. */
    async function attempt(port: number) {
      const results: {
        name: string;
        stdout: string;
        stderr: string;
        base: string[];
        local: string[];
      }[] = [];
      for (const { name, lines } of escapeBatch(base)) {
        makeJail(base);
        for (const f of fs.readdirSync(work)) {
          if (f.startsWith("got-")) {
            fs.rmSync(path.join(work, f));
          }
        }
        const r = await sftpBatch(
          port,
          key,
          ["pwd", "cd pub", ...lines, "ls -1 /", "ls -1 /pub"].join("\n") + "\n",
          work,
        );
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        results.push({
          name,
          stdout: r.stdout,
          stderr: r.stderr.split("\n").filter((l) => !l.startsWith("Warning: Permanently")).join(
            "\n",
          ),
          base: snapshot(base),
          local: fs.readdirSync(work).filter((f) => f.startsWith("got-")).sort(),
        });
      }
      return results;
    }

    it("rxssh serve: nothing outside the root is read, written, listed, renamed or linked", async () => {
      const ours = await serve([
        "-o",
        `AuthorizedKeysFile=${authorizedKeys}`,
        "-o",
        `ChrootDirectory=${base}/%u`,
      ], { HOME: home });
      let got;
      try {
        got = await attempt(ours.port);
      } finally {
        await ours.stop();
      }
      for (const r of got) {
        // Outside the jail: secret.txt alone, untouched, with one link.
        assert.deepEqual(
          r.base.filter((l) => !l.startsWith(`${JAIL}/`)),
          ["secret.txt (1) secret"],
          r.name,
        );
        // Nothing fetched holds the secret.
        for (const f of r.local) {
          assert.notEqual(
            fs.readFileSync(path.join(work, f), "utf8"),
            "secret\n",
            `${r.name}: ${f}`,
          );
        }
        assert.match(r.stdout, /Remote working directory: \/\n/);
      }
      assert.ok(
        got.find((r) => r.name === "rename out")!.base.includes(`${JAIL}/moved.txt (1) inside`),
      );

      if (!jailParent) return; // sshd's chroot needs root: compared where the test runs as root
      const sshd = await startSshd({
        config: {
          Subsystem: "sftp internal-sftp",
          ChrootDirectory: `${base}/%u`,
          ForceCommand: "internal-sftp",
          PermitRootLogin: "yes",
          LogLevel: "ERROR",
        },
      });
      let theirs;
      try {
        fs.copyFileSync(authorizedKeys, path.join(sshd.dir, "authorized_keys"));
        theirs = await attempt(sshd.port);
      } finally {
        await sshd.stop();
      }
      for (let i = 0; i < got.length; i++) {
        assert.deepEqual(
          { ...got[i], stderr: got[i].stderr.split("\n").sort() },
          { ...theirs[i], stderr: theirs[i].stderr.split("\n").sort() },
          got[i].name,
        );
      }
    });
  },
);
