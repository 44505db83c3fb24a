// The benchmark runner (bench/run.ts) end to end, in a tiny configuration:
// setup, bulk, micro and forward with rxssh on Deno, ssh2 and OpenSSH, profiled, into
// a temporary --out directory; then sftp alone (32 MiB, 400 files, profiled).
// Asserts that every cell and row was measured (finite, positive; sftp's
// transfers checked by SHA-256), that the setup rows carry the server's CPU
// time per connection, that nothing failed, and that the profile summaries
// name lib/ files. Never asserts on speed. The runner is Deno-only; under Bun this test
// spawns node_modules' deno (or deno on PATH).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { findOpenSsh } from "./_openssh.ts";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const CIPHER = "aes128-gcm@openssh.com";
/** The whole run; on 2 cores it takes ~30-40 s alone (forward adds ~10 s). */
const TIMEOUT_MS = 150_000;

function findDeno(): string | undefined {
  if ("Deno" in globalThis) return process.execPath;
  const local = path.join(ROOT, "node_modules/deno/deno");
  if (fs.existsSync(local)) return local;
  const r = spawnSync("deno", ["--version"], { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? "deno" : undefined;
}

const deno = findDeno();
const node = spawnSync("node", ["--version"], { encoding: "utf8", timeout: 10_000 }).status === 0;
const skip = !findOpenSsh()
  ? "OpenSSH is not installed (.ci/run installs it; apt-get install openssh-server)"
  : !deno
  ? "deno is not installed (npm install)"
  : !node
  ? "node is not installed (the ssh2 reference runs on Node)"
  : !fs.existsSync(path.join(ROOT, "node_modules/ssh2/package.json"))
  ? "ssh2 is not installed (npm install)"
  : false;

/** Runs bench/run.ts to completion, or stops it (SIGTERM: it stops its children) after TIMEOUT_MS. */
function runBench(args: string[]): Promise<{ code: number | null; out: string }> {
  const child: ChildProcess = spawn(deno!, ["run", "-A", "bench/run.ts", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  };
  process.once("exit", stop);
  let out = "";
  child.stdout!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
  child.stderr!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
  return new Promise((resolve, reject) => {
    let killer: ReturnType<typeof setTimeout> | undefined;
    const timer = setTimeout(() => {
      out += `\n[bench_test: still running after ${TIMEOUT_MS} ms: SIGTERM]\n`;
      stop();
      // The runner stops its children and sshd on SIGTERM; if it does not exit, kill it.
      killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    }, TIMEOUT_MS);
    child.once("error", (e) => {
      clearTimeout(timer);
      process.off("exit", stop);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      process.off("exit", stop);
      resolve({ code, out });
    });
  });
}

const finitePositive = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x > 0;

describe("bench/run.ts in a tiny configuration", { skip }, () => {
  it("measures setup (rate and server CPU/conn), bulk, micro and forward, and writes profiles", {
    timeout: TIMEOUT_MS + 30_000,
  }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-bench-test-"));
    try {
      const t0 = Date.now();
      const r = await runBench([
        ...["--only", "setup,bulk,micro,forward", "--runtimes", "deno", "--ciphers", CIPHER],
        // 64M: OpenSSH's `ssh` process costs ~140 ms, and a transfer must outlast 4/3 of it.
        ...["--bytes", "64M", "--reps", "1", "--duration", "1"],
        ...["--setup-procs", "1", "--concurrency", "2", "--profile", "--fresh", "--out", out],
      ]);
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      assert.equal(r.code, 0, `bench/run.ts exited ${r.code} after ${seconds} s:\n${r.out}`);
      const doc = JSON.parse(fs.readFileSync(path.join(out, "latest.json"), "utf8"));
      const why = `\n${r.out}`;
      assert.deepEqual(doc.failures, [], why);
      assert.ok(fs.existsSync(path.join(out, "latest.svg")));

      // bulk: our client, ssh2 and ssh against sshd; ssh against our server and ssh2's.
      const pairs = [
        ...["rxssh-deno", "ssh2-node", "openssh"].map((c) => ({ client: c, server: "sshd" })),
        ...["rxssh-deno", "ssh2-node"].map((s) => ({ client: "openssh", server: s })),
      ];
      for (const p of pairs) {
        for (const dir of ["up", "down"]) {
          // deno-lint-ignore no-explicit-any
          const cell = doc.results.bulk.cells.find((c: any) =>
            c.client === p.client && c.server === p.server && c.cipher === CIPHER && c.dir === dir
          );
          const what = `bulk ${p.client}>${p.server} ${dir}`;
          assert.ok(cell, `${what} is missing${why}`);
          assert.ok(finitePositive(cell.median), `${what}: ${cell.median}${why}`);
        }
      }

      // setup: ssh2 drives every server (rate and CPU per connection); clients against sshd.
      const rows = doc.results.setup.rows;
      assert.equal(doc.results.setup.config.setupProcs, 1);
      for (const server of ["rxssh-deno", "ssh2-node", "sshd"]) {
        // deno-lint-ignore no-explicit-any
        const row = rows.find((x: any) => x.role === "server" && x.server === server);
        assert.ok(row, `setup server ${server} is missing${why}`);
        assert.equal(row.client, "ssh2-node");
        assert.ok(finitePositive(row.rate), `setup server ${server} rate ${row.rate}${why}`);
        assert.ok(finitePositive(row.cpuMsPerConn), `${server} cpuMsPerConn ${row.cpuMsPerConn}`);
        assert.equal(row.errors, 0, `setup server ${server}: ${row.lastError}`);
      }
      for (const client of ["rxssh-deno", "ssh2-node", "openssh"]) {
        // deno-lint-ignore no-explicit-any
        const row = rows.find((x: any) => x.role === "client" && x.client === client);
        assert.ok(row, `setup client ${client} is missing${why}`);
        assert.ok(finitePositive(row.rate), `setup client ${client} rate ${row.rate}${why}`);
        assert.equal(row.errors, 0, `setup client ${client}: ${row.lastError}`);
      }
      assert.match(r.out, /setup server CPU ms\/conn/);

      // micro: deno bench's rows, the bulk cipher among them.
      const micro = doc.results.micro.rows;
      assert.ok(micro.length > 0, why);
      for (const m of micro) assert.ok(finitePositive(m.avgNs), `micro ${m.name}: ${m.avgNs}`);
      // deno-lint-ignore no-explicit-any
      assert.ok(micro.some((m: any) => m.name.includes(CIPHER)), why);

      // forward: our localForward and ssh -L against sshd; ssh -L against our server.
      const forwardPairs = [
        ...["rxssh-deno", "openssh"].map((c) => ({ client: c, server: "sshd" })),
        { client: "openssh", server: "rxssh-deno" },
      ];
      for (const p of forwardPairs) {
        for (const dir of ["up", "down"]) {
          // deno-lint-ignore no-explicit-any
          const cell = doc.results.forward.cells.find((c: any) =>
            c.client === p.client && c.server === p.server && c.cipher === CIPHER && c.dir === dir
          );
          const what = `forward ${p.client}>${p.server} ${dir}`;
          assert.ok(cell, `${what} is missing${why}`);
          assert.ok(finitePositive(cell.median), `${what}: ${cell.median}${why}`);
        }
      }
      assert.ok(finitePositive(doc.results.forward.directMBps.up), why);
      assert.ok(finitePositive(doc.results.forward.directMBps.down), why);
      assert.match(r.out, /^forward MB\/s/m);

      // profiles: one summary per profiled worker, naming library files; no raw profiles.
      assert.equal(doc.sections.setup.profiled, true);
      assert.equal(doc.sections.micro.profiled, undefined);
      const profiles = fs.readdirSync(path.join(out, "profiles")).sort();
      const expected = [
        "bulk-client-rxssh-deno-aes128-gcm-down.txt",
        "bulk-client-rxssh-deno-aes128-gcm-up.txt",
        "bulk-server-rxssh-deno-aes128-gcm-down.txt",
        "bulk-server-rxssh-deno-aes128-gcm-up.txt",
        "forward-client-rxssh-deno-aes128-gcm.txt",
        "forward-server-rxssh-deno-aes128-gcm.txt",
        "setup-client-rxssh-deno.txt",
        "setup-server-rxssh-deno.txt",
      ];
      for (const f of expected) assert.ok(profiles.includes(f), `${f} in ${profiles}`);
      assert.deepEqual(profiles.filter((f) => f.endsWith(".cpuprofile")), []);
      for (const f of expected) {
        const text = fs.readFileSync(path.join(out, "profiles", f), "utf8");
        assert.match(text, /^by file/m, f);
        assert.match(text, /\blib\/[\w/.-]+\.ts\b/, `${f} names no lib/ file:\n${text}`);
      }
      console.log(`bench/run.ts (tiny, profiled) took ${seconds} s`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("bench/run.ts --only sftp in a tiny configuration", { skip }, () => {
  it("measures sftp get and put of a file and of a tree, verified, and writes profiles", {
    timeout: TIMEOUT_MS + 30_000,
  }, async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-bench-test-"));
    try {
      const t0 = Date.now();
      const r = await runBench([
        ...["--only", "sftp", "--runtimes", "deno", "--ciphers", CIPHER, "--reps", "1"],
        // OpenSSH's sftp connects in ~200 ms (more on a loaded machine): at most 3/4 of each run.
        ...["--bytes", "32M", "--tree-files", "400", "--tree-file-size", "4K"],
        ...["--profile", "--fresh", "--out", out],
      ]);
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      assert.equal(r.code, 0, `bench/run.ts exited ${r.code} after ${seconds} s:\n${r.out}`);
      const doc = JSON.parse(fs.readFileSync(path.join(out, "latest.json"), "utf8"));
      const why = `\n${r.out}`;
      assert.deepEqual(doc.failures, [], why);
      const sf = doc.results.sftp;
      assert.equal(sf.config.treeFiles, 400);
      const pairs = [
        ...["rxssh-deno", "ssh2-node", "openssh"].map((c) => ({ client: c, server: "sshd" })),
        { client: "openssh", server: "rxssh-deno" },
      ];
      for (const p of pairs) {
        for (const op of ["get", "put"]) {
          for (const kind of ["file", "tree"]) {
            // deno-lint-ignore no-explicit-any
            const cell = sf.cells.find((c: any) =>
              c.client === p.client && c.server === p.server && c.cipher === CIPHER &&
              c.op === op && c.kind === kind
            );
            const what = `sftp ${p.client}>${p.server} ${op} ${kind}`;
            assert.ok(cell, `${what} is missing${why}`);
            assert.ok(finitePositive(cell.median), `${what}: ${cell.median}${why}`);
            assert.match(cell.verified, /sha256/, what);
            if (kind === "tree") assert.ok(finitePositive(cell.filesPerSecond), what);
            if (p.client === "rxssh-deno") {
              assert.ok(finitePositive(cell.blocks?.read), `${what}: ${JSON.stringify(cell)}`);
            }
          }
        }
      }
      assert.ok(finitePositive(sf.overheadMs[`openssh>sshd ${CIPHER}`]), why);
      assert.match(r.out, /^sftp MB\/s/m);
      assert.match(r.out, /^sftp files\/s/m);
      assert.equal(doc.sections.sftp.profiled, true);
      for (
        const f of [
          "sftp-client-rxssh-deno-aes128-gcm-get-file.txt",
          "sftp-server-rxssh-deno-aes128-gcm-put-tree.txt",
        ]
      ) {
        const text = fs.readFileSync(path.join(out, "profiles", f), "utf8");
        assert.match(text, /\blib\/sftp\/[\w/.-]+\.ts\b/, `${f} names no lib/sftp file:\n${text}`);
      }
      console.log(`bench/run.ts --only sftp (tiny, profiled) took ${seconds} s`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
