// Vectors from OpenSSH regress/unittests/match/tests.c (match_pattern,
// match_pattern_list, lowercase, addr_match_list), its exhaustive comparison
// with the original recursive match_pattern, plus CIDR and host-and-IP cases
// from addrmatch.c / match.c behaviour.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addrMatchList,
  matchHostAndIp,
  matchHostname,
  matchPattern,
  matchPatternList,
  parseAddress,
} from "./patterns.ts";

const PATTERN_VECTORS: [string, string, boolean][] = [
  ["", "", true],
  ["", "aaa", false],
  ["aaa", "", false],
  ["aaa", "aaaa", false],
  ["aaaa", "aaa", false],
  ["abc", "abc", true],
  ["abc", "abd", false],
  ["abc", "abcd", false],
  ["abcd", "abc", false],
  ["", "*", true],
  ["", "**", true],
  ["", "***", true],
  ["", "?", false],
  ["", "*?", false],
  ["", "?*", false],
  ["", "**a*", false],
  ["a", "?", true],
  ["aa", "a?", true],
  ["a", "*", true],
  ["aa", "a*", true],
  ["aa", "?*", true],
  ["aa", "?a", true],
  ["aa", "*a", true],
  ["ba", "a?", false],
  ["ba", "a*", false],
  ["ab", "?a", false],
  ["ab", "*a", false],
  ["aa", "**", true],
  ["ab", "a***b", true],
  ["axb", "a***b", true],
  ["axxb", "a***b", true],
  ["ax", "a***b", false],
  ["abbb", "a*b*b", true],
  ["abbb", "a*b*c", false],
  ["aaaaaaaaac", "a*a*a*a*b", false],
  ["aaaaaaaaab", "a*a*a*a*b", true],
  ["ab", "*b", true],
  ["ab", "*a*", true],
  ["ab", "*a*b", true],
  ["ab", "*a*c", false],
  ["abc", "a?c", true],
  ["abc", "??c", true],
  ["abc", "???", true],
  ["abc", "a?d", false],
  ["ab", "???", false],
  ["abc", "ab*", true],
  ["ab", "ab*", true],
  ["a", "ab*", false],
  ["abc", "ab?", true],
  ["ab", "ab?", false],
  ["abcd", "ab?", false],
  ["abc", "?bc", true],
  ["abc", "?b*", true],
  ["abc", "?c", false],
  ["abc", "a*?c", true],
  ["ac", "a*?c", false],
  ["abbc", "a*?c", true],
  ["abc", "a?*c", true],
  ["ac", "a?*c", false],
  ["abbc", "a?*c", true],
  ["abc", "a*?*c", true],
  ["ac", "a*?*c", false],
  ["abc", "?*c", true],
  ["ac", "?*c", true],
  ["c", "?*c", false],
  ["abc", "*?c", true],
  ["ac", "*?c", true],
  ["c", "*?c", false],
  ["abc", "a?*", true],
  ["ab", "a?*", true],
  ["a", "a?*", false],
  ["abc", "a*?", true],
  ["ab", "a*?", true],
  ["a", "a*?", false],
  ["abb", "a*b", true],
  ["abbc", "a*b", false],
];

test("matchPattern: OpenSSH regress vectors", () => {
  for (const [s, p, want] of PATTERN_VECTORS) {
    assert.equal(matchPattern(s, p), want, `match_pattern(${JSON.stringify(s)}, ${p})`);
  }
});

/** The original recursive match_pattern of OpenSSH (kept in its regress tests as the oracle). */
function original(s: string, p: string): boolean {
  let si = 0;
  let pi = 0;
  for (;;) {
    if (pi === p.length) return si === s.length;
    if (p[pi] === "*") {
      while (p[pi] === "*") pi++;
      if (pi === p.length) return true;
      if (p[pi] !== "?" && p[pi] !== "*") {
        for (; si < s.length; si++) {
          if (s[si] === p[pi] && original(s.slice(si + 1), p.slice(pi + 1))) return true;
        }
        return false;
      }
      for (; si < s.length; si++) if (original(s.slice(si), p.slice(pi))) return true;
      return false;
    }
    if (si === s.length) return false;
    if (p[pi] !== "?" && p[pi] !== s[si]) return false;
    si++;
    pi++;
  }
}

function words(alphabet: string, maxLen: number): string[] {
  const out = [""];
  let level = [""];
  for (let len = 1; len <= maxLen; len++) {
    level = level.flatMap((w) => [...alphabet].map((c) => w + c));
    out.push(...level);
  }
  return out;
}

test("matchPattern agrees with the original recursive matcher (exhaustive, as in match/tests.c)", () => {
  // The regress test uses inputs up to 6 and patterns up to 7 characters; a
  // smaller bound keeps this quick while covering every combination shape.
  const inputs = words("abc", 4);
  const patterns = words("abx?*", 5);
  let n = 0;
  for (const s of inputs) {
    for (const p of patterns) {
      assert.equal(matchPattern(s, p), original(s, p), `input=${s} pattern=${p}`);
      n++;
    }
  }
  assert.ok(n > 100_000);
});

test("matchPattern: bytes, not UTF-16 units; no worst-case blow-up", () => {
  assert.equal(matchPattern("é", "?"), false); // two UTF-8 bytes
  assert.equal(matchPattern("é", "??"), true);
  assert.equal(matchPattern("a".repeat(5000) + "c", "*a*a*a*a*a*a*a*a*a*a*b"), false);
});

test("matchPatternList: OpenSSH regress vectors", () => {
  const cases: [string, string, number][] = [
    ["", "", 0],
    ["", "*", 1],
    ["", "!*", -1],
    ["", "!a,*", 1],
    ["", "*,!a", 1],
    ["", "a,!*", -1],
    ["", "!*,a", -1],
    ["a", "", 0],
    ["a", "*", 1],
    ["a", "!*", -1],
    ["a", "!a", -1],
    ["a", "!b", 0], // negation alone never matches positively
    ["a", "!a,*", -1],
    ["b", "!a,*", 1],
    ["a", "*,!a", -1],
    ["b", "*,!a", 1],
    ["a", "a,!*", -1],
    ["b", "a,!*", -1],
    ["a", "a,!a", -1],
    ["b", "a,!a", 0],
    ["a", "!*,a", -1],
    ["b", "!*,a", -1],
    ["a", "a,", 1], // a trailing comma ends the list
    ["", ",a", 1], // an empty subpattern matches the empty string
  ];
  for (const [s, p, want] of cases) {
    assert.equal(matchPatternList(s, p), want, `match_pattern_list(${JSON.stringify(s)}, ${p})`);
  }
  // Subpatterns of 1023 bytes or more fail the whole list.
  assert.equal(matchPatternList("a", "a," + "*".repeat(1023)), 0);
  assert.equal(matchPatternList("a", "a," + "*".repeat(1022)), 1);
});

test("matchPatternList / matchHostname: case rules", () => {
  assert.equal(matchPatternList("abc", "ABC"), 0);
  assert.equal(matchPatternList("ABC", "abc"), 0);
  assert.equal(matchPatternList("abc", "ABC", { lowercasePatterns: true }), 1);
  assert.equal(matchPatternList("ABC", "abc", { lowercasePatterns: true }), 0);
  assert.equal(matchHostname("ABC", "abc"), 1);
  assert.equal(matchHostname("Web1.Example.COM", "*.EXAMPLE.com,!web2.*"), 1);
  assert.equal(matchHostname("WEB2.example.com", "*.EXAMPLE.com,!web2.*"), -1);
});

test("addrMatchList: OpenSSH regress vectors", () => {
  const cases: [string | undefined, string, number][] = [
    ["127.0.0.1", "127.0.0.1/44", -2],
    [undefined, "127.0.0.1/44", -2],
    ["a", "*", 0],
    ["127.0.0.1", "*", 1],
    [undefined, "*", 0],
    ["127.0.0.1", "127.0.0.1", 1],
    ["127.0.0.1", "127.0.0.2", 0],
    ["127.0.0.1", "!127.0.0.1", -1],
    ["127.0.0.1", "!127.0.0.2", 0],
    ["127.0.0.255", "127.0.0.0/24", 1],
    ["127.0.1.1", "127.0.0.0/24", 0],
    ["127.0.0.1", "127.0.0.0/24", 1],
    ["127.0.0.1", "127.0.1.0/24", 0],
    ["127.0.0.1", "!127.0.0.0/24", -1],
    ["127.0.0.1", "!127.0.1.0/24", 0],
    ["127.0.0.1", "10.0.0.1,!127.0.0.1", -1],
    ["127.0.0.1", "!127.0.0.1,10.0.0.1", -1],
    ["127.0.0.1", "10.0.0.1,127.0.0.2", 0],
    ["127.0.0.1", "127.0.0.2,10.0.0.1", 0],
    ["127.0.0.1", "10.0.0.1,!127.0.0.2", 0],
    ["127.0.0.1", "!127.0.0.2,10.0.0.1", 0],
  ];
  for (const [a, list, want] of cases) assert.equal(addrMatchList(a, list), want, `${a} ${list}`);
});

test("addrMatchList: CIDR edges, IPv6, wildcards, malformed entries", () => {
  const cases: [string | undefined, string, number][] = [
    ["10.1.2.3", "10.0.0.0/8", 1],
    ["11.1.2.3", "10.0.0.0/8", 0],
    ["10.0.0.1", "10.0.0.1/8", -2], // host bits set under the mask
    ["10.0.0.1", "0.0.0.0/0", 1],
    ["10.0.0.1", "10.0.0.1/32", 1],
    ["10.0.0.1", "10.0.0.0/33", -2],
    ["10.0.0.1", "10.0.0.0/31", 1],
    ["10.0.0.2", "10.0.0.0/31", 0],
    ["192.168.7.9", "192.168.*", 1], // not an address: wildcard on the text
    ["192.168.7.9", "192.168.?.9", 1],
    ["10.0.0.1", "10.0.0.1,", -2], // empty entry
    ["10.0.0.1", "!", -2],
    ["10.0.0.1", "10.0.0.0/", 0], // bad mask: a (non-matching) wildcard
    ["2001:db8::1", "2001:db8::/32", 1],
    ["2001:db9::1", "2001:db8::/32", 0],
    ["2001:db8::1", "2001:db8::1", 1],
    ["2001:0db8:0000::0001", "2001:db8::1", 1],
    ["2001:db8::1", "2001:db8::1/64", -2],
    ["2001:db8::1", "2001:db8::/129", -2],
    ["::1", "::/0", 1],
    ["::1", "0.0.0.0/0", 0], // families never match each other
    ["127.0.0.1", "::/0", 0],
    ["::ffff:10.1.2.3", "::ffff:10.0.0.0/104", 1],
    ["2001:db8::5", "!2001:db8::/32,*", -1],
    ["127.0.0.1", "127.1", 1], // inet_aton short form
    ["not-an-address", "*", 0],
  ];
  for (const [a, list, want] of cases) assert.equal(addrMatchList(a, list), want, `${a} ${list}`);
});

test("parseAddress", () => {
  assert.deepEqual(parseAddress("1.2.3.4")?.bytes, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(parseAddress("10.1")?.bytes, new Uint8Array([10, 0, 0, 1]));
  assert.deepEqual(parseAddress("0x7f.1")?.bytes, new Uint8Array([127, 0, 0, 1]));
  assert.deepEqual(parseAddress("010.0.0.1")?.bytes, new Uint8Array([8, 0, 0, 1]));
  assert.equal(parseAddress("256.0.0.1"), undefined);
  assert.equal(parseAddress("1.2.3.4.5"), undefined);
  assert.equal(parseAddress("08.0.0.1"), undefined);
  assert.equal(parseAddress(""), undefined);
  assert.equal(parseAddress("host"), undefined);
  assert.equal(parseAddress("::")?.family, 6);
  assert.deepEqual(parseAddress("::1")?.bytes, new Uint8Array([...new Array(15).fill(0), 1]));
  assert.deepEqual(
    parseAddress("::ffff:1.2.3.4")?.bytes,
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]),
  );
  assert.equal(parseAddress("1:2:3:4:5:6:7::")?.family, 6);
  assert.equal(parseAddress("1::2::3"), undefined);
  assert.equal(parseAddress("1:2:3:4:5:6:7:8:9"), undefined);
  assert.equal(parseAddress("12345::"), undefined);
  assert.equal(parseAddress("fe80::1%eth0"), undefined);
  assert.equal(parseAddress("::1.2.3"), undefined);
});

test("matchHostAndIp: OpenSSH match_host_and_ip", () => {
  const c = (hostname: string | undefined, address: string | undefined) => ({ hostname, address });
  assert.equal(matchHostAndIp("127.0.0.1", c("127.0.0.1", "127.0.0.1")), 1);
  assert.equal(matchHostAndIp("127.0.0.2", c("127.0.0.1", "127.0.0.1")), 0);
  assert.equal(matchHostAndIp("*.example.com", c("gw.EXAMPLE.com", "10.0.0.7")), 1);
  assert.equal(matchHostAndIp("*.example.com,!10.0.0.0/24", c("gw.example.com", "10.0.0.7")), 0);
  assert.equal(matchHostAndIp("*.example.com,!gw.*", c("gw.example.com", "10.0.0.7")), 0);
  assert.equal(matchHostAndIp("10.0.0.0/24", c("gw.example.com", "10.0.0.7")), 1);
  assert.equal(matchHostAndIp("10.0.0.1/24", c("gw.example.com", "10.0.0.7")), -1);
  assert.equal(matchHostAndIp("!10.0.0.9", c("10.0.0.7", "10.0.0.7")), 0);
  assert.equal(matchHostAndIp("*", c(undefined, "10.0.0.7")), 0);
});
