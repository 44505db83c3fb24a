// glob(3) for Include and the default configuration files, on a real
// temporary directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { defaultSshConfigSources, fileSystemReader, globFiles } from "./files.ts";

test("globFiles: *, ?, [...], hidden files, sorted, missing directories", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-glob-"));
  try {
    for (const f of ["b.conf", "a.conf", "c.txt", ".hidden.conf", "x1.conf", "x2.conf"]) {
      fs.writeFileSync(path.join(dir, f), f);
    }
    fs.mkdirSync(path.join(dir, "sub"));
    fs.writeFileSync(path.join(dir, "sub", "s.conf"), "");
    assert.deepEqual(globFiles(`${dir}/*.conf`), [
      `${dir}/a.conf`,
      `${dir}/b.conf`,
      `${dir}/x1.conf`,
      `${dir}/x2.conf`,
    ]);
    assert.deepEqual(globFiles(`${dir}/x?.conf`), [`${dir}/x1.conf`, `${dir}/x2.conf`]);
    assert.deepEqual(globFiles(`${dir}/[ab].conf`), [`${dir}/a.conf`, `${dir}/b.conf`]);
    assert.deepEqual(globFiles(`${dir}/[!ab]*`), [
      `${dir}/c.txt`,
      `${dir}/sub`,
      `${dir}/x1.conf`,
      `${dir}/x2.conf`,
    ]);
    assert.deepEqual(globFiles(`${dir}/.*.conf`), [`${dir}/.hidden.conf`]);
    assert.deepEqual(globFiles(`${dir}/*/s.conf`), [`${dir}/sub/s.conf`]);
    assert.deepEqual(globFiles(`${dir}/a.conf`), [`${dir}/a.conf`]);
    assert.deepEqual(globFiles(`${dir}/none.conf`), []);
    assert.deepEqual(globFiles(`${dir}/missing/*.conf`), []);
    assert.equal(fileSystemReader().readFile(`${dir}/a.conf`), "a.conf");
    assert.equal(fileSystemReader().readFile(`${dir}/none`), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("defaultSshConfigSources: ~/.ssh/config then /etc/ssh/ssh_config; -F replaces; -F none", () => {
  assert.deepEqual(defaultSshConfigSources({ home: "/home/me/" }), [
    { path: "/home/me/.ssh/config", user: true },
    { path: "/etc/ssh/ssh_config" },
  ]);
  assert.deepEqual(defaultSshConfigSources({ home: "/h", configFile: "/tmp/c" }), [
    { path: "/tmp/c", user: true, required: true },
  ]);
  assert.deepEqual(defaultSshConfigSources({ home: "/h", configFile: "none" }), []);
});
