// Accepting through transient failures (issue 10, item 2): back-off and
// retry on EMFILE and friends, one warning when a burst starts and one when
// it ends, a ListenerError for anything else; the Deno and node:net
// adapters with injected failures.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { acceptWithBackoff, ListenerError, type ListenerWarning } from "./accept.ts";
import { wrapNodeServer } from "./_node_tcp.ts";
import { dec, readAll } from "./_test_util.ts";

const errno = (code: string, message = `${code} happened`) =>
  Object.assign(new Error(message), { code });

/** An accept that fails with the given errors in order, then yields "conn 1", "conn 2", ... */
function scripted(failures: (Error | undefined)[]) {
  let calls = 0;
  let served = 0;
  return {
    get calls() {
      return calls;
    },
    accept: () => {
      const f = failures[calls++];
      return f ? Promise.reject(f) : Promise.resolve(`conn ${++served}`);
    },
  };
}

/** Records the back-offs asked for instead of waiting them. */
function recordingSleep() {
  const delays: number[] = [];
  return { delays, sleep: (ms: number) => (delays.push(ms), Promise.resolve()) };
}

describe("acceptWithBackoff", () => {
  const where = () => ({ hostname: "127.0.0.1", port: 2222, signal: new AbortController().signal });

  it("retries EMFILE with back-off 5 ms doubling to 1 s; one warning per burst, with the count", async () => {
    const emfile = errno("EMFILE", "Too many open files (os error 24)");
    const a = scripted([...Array(10).fill(emfile), undefined, errno("ENFILE"), undefined]);
    const s = recordingSleep();
    let clock = 0;
    const warnings: ListenerWarning[] = [];
    const next = acceptWithBackoff(a.accept, where(), {
      onWarning: (w) => warnings.push(w),
      sleep: (ms) => (clock += ms, s.sleep(ms)),
      now: () => clock,
    });
    assert.equal(await next(), "conn 1");
    assert.deepEqual(s.delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    assert.deepEqual(warnings, [
      {
        type: "accept-failing",
        code: "EMFILE",
        message: "Too many open files (os error 24)",
        retryInMs: 5,
      },
      { type: "accept-recovered", code: "EMFILE", errors: 10, durationMs: 3275 },
    ]);
    // A success reset the back-off: the next burst starts at 5 ms again.
    assert.equal(await next(), "conn 2");
    assert.deepEqual(s.delays.slice(10), [5]);
    assert.equal(warnings.length, 4);
    assert.deepEqual(warnings[2], {
      type: "accept-failing",
      code: "ENFILE",
      message: "ENFILE happened",
      retryInMs: 5,
    });
    assert.equal(warnings[3].type === "accept-recovered" && warnings[3].errors, 1);
  });

  it("every transient errno is retried", async () => {
    const codes = ["EMFILE", "ENFILE", "ECONNABORTED", "ENOBUFS", "ENOMEM", "EPROTO"];
    const a = scripted(codes.map((c) => errno(c)));
    const next = acceptWithBackoff(a.accept, where(), { sleep: recordingSleep().sleep });
    assert.equal(await next(), "conn 1");
    assert.equal(a.calls, codes.length + 1);
  });

  it("any other failure rejects with a ListenerError that says where and why", async () => {
    const a = scripted([errno("EMFILE"), errno("EBADF", "Bad file descriptor")]);
    const next = acceptWithBackoff(a.accept, where(), { sleep: recordingSleep().sleep });
    const e = await next().then(() => undefined, (e) => e);
    assert.ok(e instanceof ListenerError);
    assert.equal(e.code, "EBADF");
    assert.equal(e.message, "listener on 127.0.0.1:2222 failed: Bad file descriptor (EBADF)");
    // Without an errno at all (an unexpected exception): fatal too.
    const b = scripted([new Error("boom")]);
    const next2 = acceptWithBackoff(b.accept, where(), { sleep: recordingSleep().sleep });
    await assert.rejects(next2(), /listener on 127\.0\.0\.1:2222 failed: boom$/);
  });

  it("closing during a back-off ends it: undefined, no more tries", async () => {
    const closing = new AbortController();
    const a = scripted(Array(100).fill(errno("EMFILE")));
    let tries = 0;
    const next = acceptWithBackoff(a.accept, { ...where(), signal: closing.signal }, {
      // The third back-off is in progress when the listener is closed.
      sleep: (_ms, signal) => {
        if (++tries < 3) return Promise.resolve();
        const waiting = new Promise<void>((r) => signal.addEventListener("abort", () => r()));
        closing.abort();
        return waiting;
      },
    });
    assert.equal(await next(), undefined);
    assert.equal(a.calls, 3);
  });

  it("an observer that throws does not break the listener", async () => {
    const a = scripted([errno("EMFILE")]);
    const next = acceptWithBackoff(a.accept, where(), {
      sleep: recordingSleep().sleep,
      onWarning: () => {
        throw new Error("observer bug");
      },
    });
    assert.equal(await next(), "conn 1");
  });
});

describe("listener adapters with injected accept failures", () => {
  it("node:net: server errors EMFILE are warnings, the listener goes on; EBADF ends it", async () => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
    const warnings: ListenerWarning[] = [];
    const listener = wrapNodeServer(server, { onWarning: (w) => warnings.push(w) });
    try {
      // libuv reports each failed accept as a server "error".
      for (let i = 0; i < 3; i++) server.emit("error", errno("EMFILE", "accept EMFILE"));
      assert.deepEqual(warnings, [{
        type: "accept-failing",
        code: "EMFILE",
        message: "accept EMFILE",
        retryInMs: undefined,
      }]);
      const client = net.createConnection({ host: "127.0.0.1", port: listener.port });
      client.on("error", () => {});
      const conn = await listener.accept();
      client.end("hello");
      assert.equal(dec.decode(await readAll(conn.readable)), "hello");
      conn.close();
      assert.equal(warnings.length, 2);
      assert.equal(warnings[1].type === "accept-recovered" && warnings[1].errors, 3);
      // A fatal one rejects the pending accept and ends iterations.
      const pending = listener.accept();
      server.emit("error", errno("EBADF", "accept EBADF"));
      await assert.rejects(pending, (e) => e instanceof ListenerError && e.code === "EBADF");
      await assert.rejects(
        (async () => {
          for await (const _ of listener) { /* nothing */ }
        })(),
        ListenerError,
      );
    } finally {
      listener.close();
    }
  });

  it(
    "Deno.listen: accept() rejecting EMFILE is retried, the next connection still comes",
    { skip: !("Deno" in globalThis) && "Deno only" },
    async () => {
      const { wrapDenoListener } = await import("./_deno_tcp.ts");
      const real = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      let failuresLeft = 4;
      let fatal = false;
      const fake = {
        addr: real.addr as Deno.NetAddr,
        accept: () =>
          fatal
            ? Promise.reject(errno("EBADF", "Bad file descriptor (os error 9)"))
            : failuresLeft-- > 0
            ? Promise.reject(errno("EMFILE", "Too many open files (os error 24)"))
            : real.accept(),
        close: () => real.close(),
      };
      const warnings: ListenerWarning[] = [];
      const listener = wrapDenoListener(fake, { onWarning: (w) => warnings.push(w) }, {
        initialDelayMs: 1,
        maxDelayMs: 2,
      });
      try {
        const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
        const conn = await listener.accept();
        await client.write(new TextEncoder().encode("hi"));
        client.close();
        assert.equal(dec.decode(await readAll(conn.readable)), "hi");
        conn.close();
        assert.deepEqual(warnings.map((w) => w.type), ["accept-failing", "accept-recovered"]);
        assert.equal(warnings[1].type === "accept-recovered" && warnings[1].errors, 4);
        // A fatal failure ends the iteration with a ListenerError and frees the port.
        fatal = true;
        await assert.rejects(
          (async () => {
            for await (const _ of listener) { /* nothing */ }
          })(),
          /listener on 127\.0\.0\.1:\d+ failed: Bad file descriptor \(os error 9\) \(EBADF\)/,
        );
        Deno.listen({ hostname: "127.0.0.1", port: listener.port }).close();
      } finally {
        listener.close();
      }
    },
  );
});
