// The URL tree (issue 14, part 2): scripts/build.ts writes the sources with
// every import fully qualified; served over HTTP as TypeScript, a Deno script
// in a directory outside the repository, with no config file and no import
// map, imports `<url>/mod.ts` and runs an exec in memory and against sshd.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import process from "node:process";
import { buildUrlTree, libraryFiles, ROOT, tool } from "../../scripts/build.ts";
import { runProcess } from "../_openssh.ts";
import {
  assertProbe,
  noSshd,
  probeSource,
  type ProbeSshd,
  scratchDir,
  startProbeSshd,
} from "./_probe.ts";

const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["']([^"'\n]+)["']/g;

describe("dist/url: the URL tree", () => {
  let tree: string;
  let server: http.Server;
  let base: string;
  let probe: ProbeSshd | undefined;
  const requests: string[] = [];

  before(async () => {
    tree = scratchDir("url-tree");
    buildUrlTree(ROOT, tree);
    server = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).slice(1);
      const file = path.join(tree, rel);
      requests.push(rel);
      if (!file.startsWith(tree + path.sep) || !fs.existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/typescript; charset=utf-8" });
      res.end(fs.readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (!noSshd) probe = await startProbeSshd();
  });
  after(async () => {
    await probe?.sshd.stop();
    await new Promise((resolve) => server?.close(resolve));
    if (tree) fs.rmSync(tree, { recursive: true, force: true });
  });

  it("has the library's files, each import relative, node: or npm: with a range", () => {
    for (const rel of libraryFiles()) {
      const text = fs.readFileSync(path.join(tree, rel), "utf8");
      for (const [, spec] of text.matchAll(SPECIFIER)) {
        assert.match(
          spec,
          /^(\.{1,2}\/|node:|npm:(@[a-z0-9-]+\/)?[a-z0-9-]+@[\^~]?\d)/,
          `${rel}: ${spec}`,
        );
      }
    }
    assert.ok(fs.existsSync(path.join(tree, "mod.ts")));
    assert.ok(!fs.readdirSync(path.join(tree, "lib/keys")).some((f) => f.endsWith("_test.ts")));
    assert.match(fs.readFileSync(path.join(tree, "lib/client.ts"), "utf8"), /from "npm:rxjs@\^7/);
  });

  it(
    "runs under Deno with --no-config from outside the repository",
    { timeout: 120_000 },
    async () => {
      const dir = scratchDir("url-user");
      try {
        fs.writeFileSync(path.join(dir, "probe.ts"), probeSource(`${base}/mod.ts`));
        const r = await runProcess(tool(ROOT, "deno"), [
          "run",
          "-A",
          "--no-config",
          "--no-lock",
          "probe.ts",
        ], {
          cwd: dir,
          timeoutMs: 110_000,
          env: { ...process.env, ...probe?.env, NO_COLOR: "1" },
        });
        assertProbe("deno, by URL", r, probe !== undefined);
        console.log(`deno, by URL:\n${r.stdout.trim()}`);
        assert.ok(
          requests.includes("mod.ts") && requests.includes("lib/client.ts"),
          requests.join(),
        );
        assert.ok(
          !fs.existsSync(path.join(dir, "node_modules")),
          "Deno made a node_modules directory",
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
