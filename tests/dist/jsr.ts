// JSR (issue 14, part 3): `deno publish --dry-run` passes and would publish
// the library only (scripts/build.ts's libraryFiles, README, LICENSE,
// deno.json): no tests, bench, examples, scripts or lock file.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { libraryFiles, ROOT, tool } from "../../scripts/build.ts";
import { runProcess } from "../_openssh.ts";

test(
  "deno publish --dry-run publishes exactly the library's files",
  { timeout: 180_000 },
  async () => {
    const r = await runProcess(tool(ROOT, "deno"), ["publish", "--dry-run", "--allow-dirty"], {
      cwd: ROOT,
      timeoutMs: 170_000,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const out = r.stdout + r.stderr;
    assert.equal(r.code, 0, out);
    assert.match(out, /Success Dry run complete/, out);
    const root = new URL(`file://${ROOT}/`).href;
    const published = [...out.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) =>
      m[1].slice(root.length)
    );
    const allowed = [...libraryFiles(), "README.md", "LICENSE", "deno.json"];
    assert.deepEqual(published.sort(), allowed.sort());
  },
);
