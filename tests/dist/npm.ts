// The npm package (issue 14, part 4): `npm pack` builds it (prepack), its
// tarball holds the compiled library and nothing else, and installed into a
// scratch project it runs an exec in memory and against sshd under the
// machine's Node, Node 22 (npm's `node` package), Bun, and Deno through an
// `npm:` specifier; `npx rxssh -V` works, and its .d.ts type-check a user's
// TypeScript.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { libraryFiles, ROOT, tool } from "../../scripts/build.ts";
import { runProcess, type RunResult } from "../_openssh.ts";
import {
  assertProbe,
  noSshd,
  probeSource,
  type ProbeSshd,
  scratchDir,
  startProbeSshd,
} from "./_probe.ts";

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
/** PATH without node_modules/.bin, where npm's `node` (22) would shadow the machine's. */
const SYSTEM_PATH = (process.env.PATH ?? "").split(":").filter((d) => !d.includes("node_modules"))
  .join(":");
const SYSTEM_NODE = spawnSync("sh", ["-c", "command -v node"], {
  encoding: "utf8",
  env: { ...process.env, PATH: SYSTEM_PATH },
}).stdout.trim();
const NODE_22 = path.join(ROOT, "node_modules/node/bin/node");
const version = (node: string) =>
  spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();

describe("npm: the packed tarball, installed", () => {
  let dir: string;
  let tarball: string;
  let files: string[];
  let probe: ProbeSshd | undefined;
  /** The probe's runs, started together once the package is installed (the machine has 2 cores). */
  let probes: Record<"node" | "node22" | "bun" | "deno", Promise<RunResult>>;
  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    ...probe?.env,
    NO_COLOR: "1",
    ...extra,
  });
  const run = (file: string, args: string[], extra: Record<string, string> = {}) =>
    runProcess(file, args, { cwd: path.join(dir, "app"), timeoutMs: 60_000, env: env(extra) });

  before(async () => {
    dir = scratchDir("npm");
    const packed = await runProcess("npm", ["pack", "--pack-destination", dir], {
      cwd: ROOT,
      timeoutMs: 120_000,
    });
    assert.equal(packed.code, 0, `npm pack failed:\n${packed.stdout}${packed.stderr}`);
    tarball = path.join(dir, `${pkg.name}-${pkg.version}.tgz`);
    const list = spawnSync("tar", ["tzf", tarball], { encoding: "utf8" });
    files = list.stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
    const app = path.join(dir, "app");
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    const installed = await runProcess(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball],
      { cwd: app, timeoutMs: 120_000 },
    );
    assert.equal(installed.code, 0, `npm install failed:\n${installed.stdout}${installed.stderr}`);
    fs.writeFileSync(path.join(app, "probe.mjs"), probeSource("rxssh"));
    fs.writeFileSync(path.join(app, "probe_deno.ts"), probeSource("npm:rxssh"));
    if (!noSshd) probe = await startProbeSshd();
    probes = {
      node: run(SYSTEM_NODE, ["probe.mjs"]),
      node22: run(NODE_22, ["probe.mjs"]),
      bun: run(tool(ROOT, "bun"), ["probe.mjs"]),
      // --cached-only: npm:rxssh comes from the project's node_modules, not from a registry.
      deno: run(tool(ROOT, "deno"), ["run", "-A", "--cached-only", "probe_deno.ts"]),
    };
  });
  after(async () => {
    await probe?.sshd.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("holds the compiled library, its types, README and LICENSE, and nothing else", () => {
    const compiled = libraryFiles().flatMap((f) => {
      const base = `dist/npm/${f.replace(/\.ts$/, "")}`;
      return [`${base}.js`, `${base}.d.ts`];
    });
    const expected = [...compiled, "dist/npm/bin/rxssh.js", "LICENSE", "README.md", "package.json"];
    assert.deepEqual([...files].sort(), expected.sort());
    assert.deepEqual(
      files.filter((f) => /(^|\/)(tests?|bench|\.ci|scripts|examples)\/|_test\./.test(f)),
      [],
    );
    const manifest = JSON.parse(
      spawnSync("tar", ["xzOf", tarball, "package/package.json"], { encoding: "utf8" }).stdout,
    );
    assert.equal(manifest.main, "./dist/npm/mod.js");
    assert.equal(manifest.bin.rxssh, "./dist/npm/bin/rxssh.js");
  });

  it(`runs under the machine's Node (${SYSTEM_NODE} ${version(SYSTEM_NODE)})`, async () => {
    assertProbe("system node", await probes.node, probe !== undefined);
  });

  it("starts the key exchange's worker from the compiled files (Node)", async () => {
    const app = path.join(dir, "app");
    // Not an entry point: the compiled module by its path, as the library loads it.
    const pool = path.join(app, "node_modules/rxssh/dist/npm/lib/crypto/_kex_pool.js");
    fs.writeFileSync(
      path.join(app, "pool.mjs"),
      `const { powAll, kexPoolState } = await import(${JSON.stringify(pool)});
const [r] = await powAll([{ base: 2n, exponent: 10n, modulus: 1000n }]);
console.log(String(r), JSON.stringify(kexPoolState()));
process.exit(0);
`,
    );
    const r = await run(SYSTEM_NODE, ["pool.mjs"]);
    assert.equal(r.code, 0, r.stderr);
    const [value, state] = r.stdout.trim().split(" ");
    assert.equal(value, "24");
    assert.equal(JSON.parse(state).jobsInWorkers, 1, r.stdout);
  });

  it(`runs under Node 22 from npm's node package (${version(NODE_22)})`, async () => {
    assert.match(version(NODE_22), /^v22\./);
    assertProbe("node 22", await probes.node22, probe !== undefined);
  });

  it("runs under Bun", async () => {
    assertProbe("bun", await probes.bun, probe !== undefined);
  });

  it("runs under Deno through an npm: specifier", async () => {
    assertProbe("deno npm:rxssh", await probes.deno, probe !== undefined);
  });

  it("npx rxssh -V (the machine's Node), and the bin under Node 22", async () => {
    const bin = path.join(dir, "app/node_modules/.bin/rxssh");
    const runs = [
      await run("npx", ["--no-install", "rxssh", "-V"], { PATH: SYSTEM_PATH }),
      await run(bin, ["-V"], { PATH: `${path.dirname(NODE_22)}:${SYSTEM_PATH}` }),
    ];
    for (const r of runs) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `rxssh ${pkg.version} (SSH-2.0-rxssh_${pkg.version})\n`);
    }
  });

  it("its .d.ts type-check a user's TypeScript (tsc, strict, no skipLibCheck)", async () => {
    const app = path.join(dir, "app");
    fs.writeFileSync(
      path.join(app, "user.ts"),
      `import { connect, type SshClient } from "rxssh";
import { parsePublicKey } from "rxssh/keys";
const c: Promise<SshClient> = connect({ host: "h", username: "u", password: "p" });
// @ts-expect-error: port is a number
connect({ host: "h", port: "22", username: "u" });
export { c, parsePublicKey };
`,
    );
    const r = await run(tool(ROOT, "tsc"), [
      "--noEmit",
      "--strict",
      "--module",
      "nodenext",
      "--target",
      "es2022",
      "--lib",
      "es2023,dom",
      "--types",
      "node",
      "--typeRoots",
      path.join(ROOT, "node_modules/@types"),
      "user.ts",
    ]);
    assert.equal(r.code, 0, `tsc:\n${r.stdout}${r.stderr}`);
  });
});
