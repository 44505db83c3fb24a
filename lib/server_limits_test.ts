import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  closeDropped,
  parseMaxStartups,
  parseNetBlockSize,
  STARTUP_DROP_NOTICE,
  StartupDroppedError,
  StartupGate,
  type StartupTicket,
} from "./server_limits.ts";
import { memoryPair } from "./runtime/memory.ts";

const peer = (remoteAddress: string, remotePort = 40000) => ({
  remoteAddress,
  remotePort,
  localAddress: "127.0.0.1",
  localPort: 22,
});

/** Admits until the first drop; returns the tickets and the error. */
function fill(gate: StartupGate, address = "192.0.2.1", max = 1000) {
  const tickets: StartupTicket[] = [];
  for (let i = 0; i < max; i++) {
    try {
      tickets.push(gate.admit(peer(address, 1000 + i)));
    } catch (e) {
      return { tickets, error: e as StartupDroppedError };
    }
  }
  return { tickets, error: undefined };
}

describe("parseMaxStartups (servconf.c)", () => {
  it("reads start:rate:full and one number", () => {
    assert.deepEqual(parseMaxStartups("10:30:100"), { start: 10, rate: 30, full: 100 });
    assert.deepEqual(parseMaxStartups("5"), { start: 5, rate: 100, full: 5 });
    assert.deepEqual(parseMaxStartups("1:100:1"), { start: 1, rate: 100, full: 1 });
  });
  it("refuses what sshd refuses, naming the option and the value", () => {
    for (
      const bad of [
        "",
        "10:30",
        "0",
        "0:30:100",
        "20:30:10",
        "10:0:100",
        "10:101:100",
        "x",
        "10:30:100x",
        "-1",
      ]
    ) {
      assert.throws(() => parseMaxStartups(bad), (e: Error) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, /^MaxStartups: invalid spec/);
        assert.ok(e.message.includes(`"${bad}"`), e.message);
        return true;
      });
    }
    assert.throws(() => parseMaxStartups({ start: 1.5, rate: 30, full: 3 }), /MaxStartups/);
  });
});

describe("parseNetBlockSize", () => {
  it("reads v4 and v4:v6 in range", () => {
    assert.deepEqual(parseNetBlockSize("32:128"), { ipv4: 32, ipv6: 128 });
    assert.deepEqual(parseNetBlockSize("24"), { ipv4: 24, ipv6: 0 });
    assert.deepEqual(parseNetBlockSize("0:0"), { ipv4: 0, ipv6: 0 });
  });
  it("refuses out of range and junk", () => {
    for (const bad of ["33", "32:129", "a", "24:", ":64", "-1:64"]) {
      assert.throws(
        () => parseNetBlockSize(bad),
        /^TypeError: PerSourceNetBlockSize: invalid spec/,
      );
    }
  });
});

describe("StartupGate: MaxStartups (should_drop_connection)", () => {
  it("never drops below start, always at full", () => {
    // r = 0 is below every p: dropped from start on.
    const always = new StartupGate({ maxStartups: "10:30:100" }, { random: () => 0 });
    const { tickets, error } = fill(always);
    assert.equal(tickets.length, 10);
    assert.equal(error?.startups, 10);
    const gate = new StartupGate({ maxStartups: "10:30:100" }, { random: () => 0.999 });
    const r = fill(gate);
    // r = 99: p reaches 100 only at full, so every one up to full is admitted, then all dropped.
    assert.equal(r.tickets.length, 100);
    assert.equal(r.error?.limit, "MaxStartups");
    assert.equal(r.error?.startups, 100);
    assert.equal(gate.startups, 100);
  });
  it("drops at start with probability rate%, rising linearly (integer arithmetic as sshd)", () => {
    // r = floor(random * 100); drop when r < p, p = rate + (100-rate)*(n-start)/(full-start).
    const at = (n: number, r: number) => {
      const gate = new StartupGate({ maxStartups: "10:30:100" }, { random: () => r / 100 });
      return gate.shouldDrop(n);
    };
    assert.equal(at(9, 0), false);
    assert.equal(at(10, 29), true);
    assert.equal(at(10, 30), false);
    assert.equal(at(55, 64), true); // p = 30 + 70*45/90 = 65
    assert.equal(at(55, 65), false);
    assert.equal(at(99, 98), true); // p = 30 + trunc(70*89/90) = 99
    assert.equal(at(99, 99), false);
    assert.equal(at(100, 99), true);
  });
  it("with the default and a fair random source, early drops happen between start and full", () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const gate = new StartupGate({}, { random });
    let admitted = 0, early = 0, belowStart = 0;
    for (let i = 0; i < 1000; i++) {
      const before = gate.startups;
      try {
        gate.admit(peer("192.0.2.1"));
        admitted++;
      } catch (e) {
        assert.ok(e instanceof StartupDroppedError);
        if (before < 10) belowStart++;
        if (before < 100) early++;
      }
    }
    assert.equal(belowStart, 0);
    assert.ok(early > 0, "random early drops between start and full");
    assert.equal(admitted, 100, "never more than full");
    assert.equal(gate.startups, admitted);
  });
  it("release makes room; double release counts once", () => {
    const gate = new StartupGate({ maxStartups: "2" });
    const { tickets, error } = fill(gate);
    assert.equal(tickets.length, 2);
    assert.match(
      error!.message,
      /^drop connection #2 from \[192\.0\.2\.1\]:1002 on \[127\.0\.0\.1\]:22 past MaxStartups$/,
    );
    tickets[0].release();
    tickets[0].release();
    assert.equal(gate.startups, 1);
    gate.admit(peer("192.0.2.9"));
    assert.throws(() => gate.admit(peer("192.0.2.9")), StartupDroppedError);
  });
});

describe("StartupGate: PerSourceMaxStartups (srclimit.c)", () => {
  it("limits each source; others still get in", () => {
    const gate = new StartupGate({ maxStartups: "100:30:100", perSourceMaxStartups: 3 });
    const a = fill(gate, "127.0.0.2");
    assert.equal(a.tickets.length, 3);
    assert.equal(a.error?.limit, "PerSourceMaxStartups");
    assert.equal(a.error?.startups, 3, "sshd's #N: the server's count, this one not included");
    assert.match(
      a.error!.message,
      /from \[127\.0\.0\.2\]:\d+ on \[127\.0\.0\.1\]:22 past PerSourceMaxStartups$/,
    );
    assert.equal(gate.startups, 3, "a per-source drop does not count");
    gate.admit(peer("127.0.0.3"));
    a.tickets[0].release();
    gate.admit(peer("127.0.0.2"));
  });
  it("groups addresses by PerSourceNetBlockSize, IPv4-mapped as IPv4", () => {
    const gate = new StartupGate({ perSourceMaxStartups: 2, perSourceNetBlockSize: "24:64" });
    gate.admit(peer("10.1.2.3"));
    gate.admit(peer("::ffff:10.1.2.200"));
    assert.throws(() => gate.admit(peer("10.1.2.99")), /PerSourceMaxStartups/);
    gate.admit(peer("10.1.3.1"));
    gate.admit(peer("2001:db8::1"));
    gate.admit(peer("2001:db8::ffff:1"));
    assert.throws(() => gate.admit(peer("2001:db8:0:0:1::1")), /PerSourceMaxStartups/);
    gate.admit(peer("2001:db8:0:1::1"));
  });
  it("0 drops every connection; none is no limit", () => {
    assert.throws(
      () => new StartupGate({ perSourceMaxStartups: 0 }).admit(peer("192.0.2.1")),
      /PerSource/,
    );
    assert.throws(() => new StartupGate({ perSourceMaxStartups: -1 }), /PerSourceMaxStartups: -1/);
    assert.equal(fill(new StartupGate({ maxStartups: "50" })).tickets.length, 50);
  });
  it("checks a later address (PROXY header) with checkSource", () => {
    const gate = new StartupGate({ perSourceMaxStartups: 1 });
    const t1 = gate.admit(peer("10.0.0.1"), { source: false });
    const t2 = gate.admit(peer("10.0.0.1"), { source: false });
    t1.checkSource(peer("203.0.113.5"));
    assert.throws(() => t2.checkSource(peer("203.0.113.5")), /past PerSourceMaxStartups/);
    assert.equal(gate.startups, 1, "the dropped one was released");
    gate.admit(peer("10.0.0.1"), { source: false }).checkSource(peer("203.0.113.6"));
  });
});

describe("closeDropped", () => {
  it("writes sshd's notice, no SSH banner, and closes", async () => {
    const [a, b] = memoryPair();
    await closeDropped(a);
    const text = await new Response(b.readable).text();
    assert.equal(text, STARTUP_DROP_NOTICE);
    assert.ok(!text.includes("SSH-"));
  });
});
