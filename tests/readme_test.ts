// The README's algorithm table is generated from the registries the code
// negotiates with; this keeps the two equal.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import {
  algorithmTableMarkdown,
  DEFAULT_ALGORITHMS,
  SUPPORTED_ALGORITHMS,
} from "../lib/transport/algorithms.ts";

const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8");

test("README algorithm table equals the registries", () => {
  const m = /<!-- algorithms:begin -->([\s\S]*?)<!-- algorithms:end -->/.exec(readme);
  assert.ok(m, "README.md lacks the algorithms:begin/end markers");
  // Compare cells, not column padding (deno fmt aligns Markdown tables).
  const cells = (table: string) =>
    table.trim().split("\n").filter((row) => !/^\|[\s|:-]+\|$/.test(row))
      .map((row) => row.split("|").slice(1, -1).map((c) => c.trim()));
  assert.deepEqual(cells(m[1]), cells(algorithmTableMarkdown()));
});

test("every default is supported, and nothing SHA-1 exists", () => {
  for (const [kind, names] of Object.entries(DEFAULT_ALGORITHMS)) {
    for (const n of names) {
      assert.ok(SUPPORTED_ALGORITHMS[kind as keyof typeof SUPPORTED_ALGORITHMS].includes(n), n);
    }
  }
  const all = Object.values(SUPPORTED_ALGORITHMS).flat();
  assert.deepEqual(all.filter((n) => /sha1|ssh-rsa$|ssh-dss|group1-|cbc|md5/.test(n)), []);
  assert.ok(!DEFAULT_ALGORITHMS.KexAlgorithms.some((n) => n.startsWith("ecdh-sha2-nistp")));
  assert.equal(DEFAULT_ALGORITHMS.KexAlgorithms[0], "mlkem768x25519-sha256");
});
