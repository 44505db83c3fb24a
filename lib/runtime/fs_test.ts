import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { appendTextFile, makePrivateTempDir, readTextFileIfExists, removeTree } from "./fs.ts";

let dir = "";
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-fs-test-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The permission bits of `p`. */
const modeOf = (p: string) => fs.statSync(p).mode & 0o777;

/** Runs `body` with the process umask set to `mask`. */
function withUmask<T>(mask: number, body: () => T): T {
  const old = process.umask(mask);
  try {
    return body();
  } finally {
    process.umask(old);
  }
}

describe("readTextFileIfExists", () => {
  it("reads UTF-8 text", () => {
    const f = path.join(dir, "text");
    fs.writeFileSync(f, "héllo\n");
    assert.equal(readTextFileIfExists(f), "héllo\n");
  });

  it("undefined for a missing file and for a path through a regular file (ENOTDIR)", () => {
    assert.equal(readTextFileIfExists(path.join(dir, "missing")), undefined);
    const f = path.join(dir, "plain");
    fs.writeFileSync(f, "x");
    assert.equal(readTextFileIfExists(path.join(f, "below")), undefined);
  });

  it("throws for a directory (EISDIR), naming the problem", () => {
    assert.throws(() => readTextFileIfExists(dir), (e: Error & { code?: string }) => {
      assert.equal(e.code, "EISDIR");
      return true;
    });
  });
});

describe("appendTextFile", () => {
  it("creates the file with mode 0600 by default, then appends", () => {
    const f = path.join(dir, "append-default");
    withUmask(0o022, () => {
      appendTextFile(f, "one\n");
      appendTextFile(f, "two\n");
    });
    assert.equal(fs.readFileSync(f, "utf8"), "one\ntwo\n");
    assert.equal(modeOf(f), 0o600);
  });

  it("options.mode applies to a new file only; an existing file keeps its mode", () => {
    const f = path.join(dir, "append-mode");
    withUmask(0o022, () => appendTextFile(f, "a", { mode: 0o644 }));
    assert.equal(modeOf(f), 0o644);
    fs.chmodSync(f, 0o640);
    appendTextFile(f, "b", { mode: 0o600 });
    assert.equal(modeOf(f), 0o640);
    assert.equal(fs.readFileSync(f, "utf8"), "ab");
  });

  it("dirMode creates missing parents with that mode; without it a missing parent throws", () => {
    const f = path.join(dir, "new-a", "new-b", "known_hosts");
    assert.throws(() => appendTextFile(f, "x\n"), (e: Error & { code?: string }) => {
      assert.equal(e.code, "ENOENT");
      return true;
    });
    withUmask(0o022, () => appendTextFile(f, "x\n", { dirMode: 0o700 }));
    assert.equal(fs.readFileSync(f, "utf8"), "x\n");
    assert.equal(modeOf(path.join(dir, "new-a")), 0o700);
    assert.equal(modeOf(path.join(dir, "new-a", "new-b")), 0o700);
  });
});

describe("makePrivateTempDir and removeTree", () => {
  it("makes a fresh 0700 directory with the prefix, even under umask 0", () => {
    const made = withUmask(
      0,
      () => [
        makePrivateTempDir("ssh-", { parent: dir }),
        makePrivateTempDir("ssh-", { parent: dir }),
      ],
    );
    for (const d of made) {
      assert.equal(path.dirname(d), dir);
      assert.match(path.basename(d), /^ssh-.{6}$/);
      assert.ok(fs.statSync(d).isDirectory());
      assert.equal(modeOf(d), 0o700);
    }
    assert.notEqual(made[0], made[1]);
  });

  it("defaults to the OS temp directory", () => {
    const d = makePrivateTempDir("rxssh-fs-test-");
    try {
      assert.equal(path.dirname(d), os.tmpdir());
    } finally {
      removeTree(d);
    }
  });

  it("removeTree removes a tree, and is quiet for a missing path", () => {
    const d = makePrivateTempDir("tree-", { parent: dir });
    fs.mkdirSync(path.join(d, "sub"));
    fs.writeFileSync(path.join(d, "sub", "file"), "x");
    removeTree(d);
    assert.equal(fs.existsSync(d), false);
    removeTree(d);
  });

  it("a parent that does not exist throws", () => {
    assert.throws(() => makePrivateTempDir("x-", { parent: path.join(dir, "missing") }));
  });
});
