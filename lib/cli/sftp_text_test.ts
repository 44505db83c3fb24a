// The text helpers of `rxssh sftp`/`rxssh scp` against what OpenSSH 9.2's
// C code gives for the same input (sftp.c makeargv, fmt_scaled(3),
// strmode(3), misc.c parse_uri/colon, progressmeter.c) and glob(3) over a
// local tree.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseRemote } from "./sftp.ts";
import { localGlob } from "./sftp_glob.ts";
import {
  fmtScaled,
  pathAppend,
  pathStrip,
  progressLine,
  splitCommandLine,
  strmode,
  undoGlobEscape,
} from "./sftp_text.ts";

describe("sftp's text helpers", () => {
  it("splits command lines as makeargv: quotes, escapes, comments, glob escapes", () => {
    assert.deepEqual(splitCommandLine(`put "my file" 'x*' # a comment`), [
      "put",
      "my file",
      "x\\*",
    ]);
    assert.deepEqual(splitCommandLine("get a\\ b c\\*d"), ["get", "a b", "c\\*d"]);
    assert.deepEqual(splitCommandLine(`rename "it's" 'say "hi"'`), ["rename", "it's", `say "hi"`]);
    assert.deepEqual(splitCommandLine("  ls   -l  "), ["ls", "-l"]);
    assert.throws(() => splitCommandLine(`get "open`), /Unterminated quoted argument/);
    assert.equal(undoGlobEscape("c\\*d\\x"), "c*d\\x");
  });

  it("fmt_scaled", () => {
    const cases: [number, string][] = [
      [0, "0B"],
      [1, "1B"],
      [1023, "1023B"],
      [1024, "1.0K"],
      [1536, "1.5K"],
      [10 * 1024 - 1, "10.0K"], // the fraction rounds up into the whole part
      [123456789, "118M"],
      [270552473600, "252G"],
    ];
    for (const [n, s] of cases) assert.equal(fmtScaled(n), s, String(n));
  });

  it("strmode, with setuid, setgid and sticky bits", () => {
    assert.equal(strmode(0o100644), "-rw-r--r-- ");
    assert.equal(strmode(0o040755), "drwxr-xr-x ");
    assert.equal(strmode(0o120777), "lrwxrwxrwx ");
    assert.equal(strmode(0o104755), "-rwsr-xr-x ");
    assert.equal(strmode(0o102644), "-rw-r-Sr-- ");
    assert.equal(strmode(0o041777), "drwxrwxrwt ");
  });

  it("path_append and path_strip", () => {
    assert.equal(pathAppend("/a/", "b"), "/a/b");
    assert.equal(pathAppend("/a", "b"), "/a/b");
    assert.equal(pathStrip("/home/me/d/x", "/home/me"), "d/x");
    assert.equal(pathStrip("/home/me/d/x", "/home/me/"), "d/x");
    assert.equal(pathStrip("/other/x", "/home/me"), "/other/x");
    assert.equal(pathStrip("/x", undefined), "/x");
  });

  it("destinations: [user@]host:path, [v6]:path, sftp:// and scp:// URIs, local paths", () => {
    assert.deepEqual(parseRemote("me@host:/tmp/a", "sftp"), {
      user: "me",
      host: "host",
      path: "/tmp/a",
    });
    assert.deepEqual(parseRemote("host:", "scp"), { host: "host", path: "." });
    assert.deepEqual(parseRemote("[::1]:x", "scp"), { host: "::1", path: "x" });
    assert.deepEqual(parseRemote("sftp://me@h:2222/tmp", "sftp"), {
      user: "me",
      host: "h",
      port: 2222,
      path: "tmp",
    });
    assert.deepEqual(parseRemote("scp://h//abs", "scp"), { host: "h", path: "/abs" });
    assert.equal(parseRemote("./a:b", "scp"), undefined);
    assert.equal(parseRemote("plain", "scp"), undefined);
    assert.throws(() => parseRemote("sftp://h:99999/x", "sftp"), /invalid uri/);
  });

  it("the progress meter line is the columns wide, as progressmeter.c draws it", () => {
    const l = progressLine({ name: "f", bytes: 512, total: 1024, rate: 0, elapsed: 1, width: 80 });
    assert.equal(l, "\rf" + " ".repeat(44) + "  50%  512     0.0KB/s   --:-- ETA");
    assert.equal(l.length, 80);
    const done = progressLine({
      name: "f",
      bytes: 1 << 20,
      total: 1 << 20,
      rate: 2 << 20,
      elapsed: 61,
      width: 80,
    });
    assert.equal(done, "\rf" + " ".repeat(44) + " 100% 1024KB   2.0MB/s   01:01    ");
  });

  it("glob(3): *, ?, [...], escapes, dot files, GLOB_MARK and GLOB_NOCHECK", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-glob-"));
    try {
      for (const f of ["a.txt", "b.txt", ".hidden.txt", "c*d", "sub/x.txt"]) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), "");
      }
      const names = async (p: string, flags = {}) =>
        (await localGlob(`${dir}/${p}`, flags)).paths.map((x) => x.slice(dir.length + 1));
      assert.deepEqual(await names("*.txt"), ["a.txt", "b.txt"]);
      assert.deepEqual(await names(".*.txt"), [".hidden.txt"]);
      assert.deepEqual(await names("[ab].txt"), ["a.txt", "b.txt"]);
      assert.deepEqual(await names("[!a].txt"), ["b.txt"]);
      assert.deepEqual(await names("?.txt"), ["a.txt", "b.txt"]);
      assert.deepEqual(await names("c\\*d"), ["c*d"]);
      assert.deepEqual(await names("*/*.txt"), ["sub/x.txt"]);
      assert.deepEqual(await names("s*", { mark: true }), ["sub/"]);
      assert.deepEqual(await names("nope*"), []);
      const g = await localGlob(`${dir}/nope*`, { nocheck: true });
      assert.deepEqual([g.paths, g.matches], [[`${dir}/nope*`], 0]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
