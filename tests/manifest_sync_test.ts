// One source of truth (issue 14, part 1): package.json's version and
// dependencies and deno.json's exports; deno.json's imports and version,
// package.json's exports and lib/version.ts are generated from them by
// scripts/build.ts (`deno task sync`), and this keeps them in step.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import {
  BuildError,
  libraryFiles,
  readManifest,
  rewriteImports,
  ROOT,
  sync,
  syncProblems,
} from "../scripts/build.ts";
import { VERSION } from "../lib/version.ts";
import { main } from "../cli.ts";

const readJson = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, name), "utf8"));

test("deno.json, package.json and lib/version.ts are in step (else: deno task sync)", () => {
  assert.deepEqual(syncProblems(), []);
  const pkg = readJson("package.json");
  const deno = readJson("deno.json");
  assert.equal(deno.version, pkg.version);
  assert.equal(VERSION, pkg.version);
  for (const [name, range] of Object.entries(pkg.dependencies)) {
    assert.equal(deno.imports[name], `npm:${name}@${range}`);
  }
  assert.equal(Object.keys(deno.imports).length, 2 * Object.keys(pkg.dependencies).length);
});

test("the CLI reports package.json's version", async () => {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => (lines.push(s), true)) as typeof write;
  try {
    assert.equal(await main(["-V"]), 0);
  } finally {
    process.stdout.write = write;
  }
  assert.deepEqual(lines, [`rxssh ${VERSION} (SSH-2.0-rxssh_${VERSION})\n`]);
});

test("sync rewrites what a version or dependency change makes stale", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-sync-"));
  try {
    for (const f of ["package.json", "deno.json", "lib/version.ts"]) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(root, f));
    }
    assert.deepEqual(syncProblems(root), []);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    pkg.version = "9.8.7";
    pkg.dependencies["left-pad"] = "^1.3.0";
    fs.writeFileSync(path.join(root, "package.json"), JSON.stringify(pkg));
    const deno = JSON.parse(fs.readFileSync(path.join(root, "deno.json"), "utf8"));
    deno.exports["./sftp"] = "./lib/sftp/mod.ts";
    fs.writeFileSync(path.join(root, "deno.json"), JSON.stringify(deno, null, 2) + "\n");
    assert.deepEqual(syncProblems(root).sort(), ["deno.json", "lib/version.ts", "package.json"]);
    sync(root);
    assert.deepEqual(syncProblems(root), []);
    const synced = JSON.parse(fs.readFileSync(path.join(root, "deno.json"), "utf8"));
    assert.equal(synced.version, "9.8.7");
    assert.equal(synced.imports["left-pad/"], "npm:left-pad@^1.3.0/");
    const npm = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    assert.deepEqual(npm.exports["./sftp"], {
      types: "./dist/npm/lib/sftp/mod.d.ts",
      import: "./dist/npm/lib/sftp/mod.js",
    });
    assert.match(fs.readFileSync(path.join(root, "lib/version.ts"), "utf8"), /"9\.8\.7"/);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("rewriteImports qualifies bare imports with package.json's ranges, and only those", () => {
  const deps = { rxjs: "^7.8.2", "@noble/hashes": "^2.0.0" };
  const src = `import { map } from "rxjs";
import { sha256 } from "@noble/hashes/sha2.js";
export * from "./x.ts";
import type { A } from "../a.ts";
const net = await import("node:net");
import "./side.ts";
`;
  assert.equal(
    rewriteImports(src, "f.ts", deps),
    src.replace('"rxjs"', '"npm:rxjs@^7.8.2"')
      .replace('"@noble/hashes/sha2.js"', '"npm:@noble/hashes@^2.0.0/sha2.js"'),
  );
  assert.throws(
    () => rewriteImports(`import "./a.ts";\nimport { x } from "lodash";\n`, "lib/y.ts", deps),
    (e: Error) =>
      e instanceof BuildError &&
      /lib\/y\.ts:2: import "lodash" is not a dependency/.test(e.message),
  );
});

test("the library's files: every entry point and the kex worker, no tests", () => {
  const files = libraryFiles();
  for (const file of Object.values(readManifest().entries)) {
    assert.ok(files.includes(file.slice(2)), file);
  }
  assert.ok(files.includes("lib/crypto/_kex_worker.ts"));
  assert.ok(files.includes("cli.ts"));
  assert.deepEqual(
    files.filter((f) => /_test\.ts$|_test_util\.ts$|^(tests|bench|scripts)\//.test(f)),
    [],
  );
});

test("README's Install section names this version and the commands CI runs", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const install = /^## Install\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(install, "README.md has no ## Install section");
  const { version, scripts } = readJson("package.json");
  assert.match(install, new RegExp(`rxssh@${version.replaceAll(".", "\\.")}/`));
  assert.ok(install.includes(`rxssh-${version}.tgz`), `no rxssh-${version}.tgz`);
  for (const s of ["build", "build:cli", "prepack", "sync"]) assert.ok(scripts[s], `npm run ${s}`);
  for (const s of ["build", "build:cli", "sync"]) assert.ok(readJson("deno.json").tasks[s], s);
  for (
    const line of [
      "deno run -A --no-config",
      "deno add jsr:@rxssh/rxssh",
      'from "npm:rxssh"',
      "npx rxssh -V",
      "bun build --compile cli.ts --outfile dist/rxssh",
    ]
  ) {
    assert.ok(install.includes(line), `README's Install section lacks ${line}`);
  }
});
