// listen({ workers: 2 }): the program runs again in two worker processes
// sharing the port (SO_REUSEPORT). Connections land on both workers, every
// worker serves with the primary's host key (each process generated one of
// its own), and close({ graceMs }) in the primary lets a running exec
// finish, refuses new connections and ends the workers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { connect } from "../mod.ts";
import { ROOT } from "./_cli.ts";

/** The child program under this runtime. */
function childCommand(): [string, string[]] {
  return "Deno" in globalThis
    ? [process.execPath, ["run", "-A", "--unstable-net", "tests/_listen_workers_child.ts"]]
    : [process.execPath, ["tests/_listen_workers_child.ts"]];
}

describe("listen({ workers: 2 })", () => {
  it("connections land on both workers, with the primary's host key; close is graceful", {
    timeout: 90_000,
  }, async () => {
    const [cmd, args] = childCommand();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    child.stderr!.on("data", (c: Uint8Array) => err += new TextDecoder().decode(c));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const kill = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const until = Date.now() + 30_000;
      while (!out.includes("\n")) {
        assert.ok(Date.now() < until && child.exitCode === null, `no start line:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const info = JSON.parse(out.split("\n")[0]) as {
        port: number;
        fingerprint: string;
        workers: number[];
        pid: number;
      };
      assert.equal(info.workers.length, 2);
      const dial = () =>
        connect({
          host: "127.0.0.1",
          port: info.port,
          username: "demo",
          password: "demo",
          // Pinned to the primary's key: a worker serving its own would fail here.
          hostKey: { fingerprint: info.fingerprint },
        });
      const seen = new Set<number>();
      for (let round = 0; round < 4 && seen.size < 2; round++) {
        const pids = await Promise.all([0, 1, 2, 3, 4].map(async () => {
          const c = await dial();
          try {
            const r = await c.exec("pid");
            return Number(new TextDecoder().decode(r.stdout).trim());
          } finally {
            await c.close();
          }
        }));
        for (const p of pids) seen.add(p);
      }
      assert.deepEqual([...seen].sort(), [...info.workers].sort(), "served by both workers");
      // A long exec, then SIGTERM to the primary: close({ graceMs: 10_000 }).
      const c = await dial();
      const running = c.exec("sleep 2");
      await new Promise((r) => setTimeout(r, 500));
      process.kill(child.pid!, "SIGTERM"); // (Deno's child.kill reports a signal death whatever the exit)
      await new Promise((r) => setTimeout(r, 500));
      await assert.rejects(dial(), "new connections are refused");
      const r = await running;
      assert.ok(info.workers.includes(Number(new TextDecoder().decode(r.stdout).trim())));
      await c.close();
      assert.equal(await exited, 0, err);
      assert.match(err, /primary: closed/);
      for (const pid of info.workers) {
        assert.throws(() => process.kill(pid, 0), "every worker has exited");
      }
    } finally {
      clearTimeout(kill);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
