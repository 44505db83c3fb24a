// Issue 12: keepalives and dead-peer detection on both sides. A TCP relay
// between our client and our server stops forwarding (both sockets stay
// open, as when a NAT forgets the flow); each side ends its connection
// with CONNECTION_LOST within interval × (countMax + 1), and reports it on
// disconnect$. A live peer that answers is never timed out.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect } from "../lib/client.ts";
import { listen, type ServerConnection } from "../lib/server.ts";
import type { DisconnectEvent } from "../lib/transport/transport.ts";
import { DisconnectError, DisconnectReason } from "../lib/wire/errors.ts";
import { hostKey } from "./_transport_pair.ts";

/** A loopback relay to `port` that can stop forwarding without closing anything. */
function relay(port: number): Promise<{ port: number; freeze(): void; close(): void }> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => {});
    }
    inbound.on("data", (d) => frozen || outbound.write(d));
    outbound.on("data", (d) => frozen || inbound.write(d));
    // A frozen relay forwards no FIN either: the side that times out first
    // closes its socket, and the other side must still find out by itself.
    inbound.on("end", () => frozen || outbound.end());
    outbound.on("end", () => frozen || inbound.end());
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        freeze: () => void (frozen = true),
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }))
  );
}

test("a peer that goes silent is detected on both sides within interval × (countMax + 1)", async () => {
  const server = await listen({
    hostname: "127.0.0.1",
    port: 0,
    hostKeys: [await hostKey("ssh-ed25519")],
    auth: { handlers: { password: () => true }, failureDelay: 1 },
    exec: (s) => s.exit(0),
    clientAliveInterval: 0.2,
    clientAliveCountMax: 2,
  });
  const serverSide = new Promise<ServerConnection>((r) => server.connection$.subscribe(r));
  const r = await relay(server.port);
  try {
    const client = await connect({
      host: "127.0.0.1",
      port: r.port,
      username: "u",
      password: "p",
      hostKey: { verify: () => true },
      keepaliveInterval: 0.2,
      keepaliveCountMax: 2,
    });
    const s = await serverSide;
    // Alive: a second of keepalives answered both ways changes nothing.
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal((await client.exec("true")).code, 0);
    const clientEvents: DisconnectEvent[] = [];
    client.transport.disconnect$.subscribe((e) => clientEvents.push(e));
    r.freeze();
    const frozenAt = Date.now();
    const [clientEnd, serverEnd] = await Promise.all([client.transport.closed, s.transport.closed]);
    const took = Date.now() - frozenAt;
    for (const [end, who] of [[clientEnd, "server"], [serverEnd, "client"]] as const) {
      assert.ok(end instanceof DisconnectError);
      assert.equal(end.reason, DisconnectReason.CONNECTION_LOST);
      assert.equal(end.local, true);
      assert.match(end.description, new RegExp(`^Timeout, ${who} .* not responding$`));
    }
    // The bound is (countMax + 1) × interval = 600 ms; the slack is for a loaded machine.
    assert.ok(took <= 3 * 200 + 2000, `detected after ${took} ms`);
    assert.equal(clientEvents.length, 1);
    assert.equal(clientEvents[0].reasonName, "CONNECTION_LOST");
  } finally {
    r.close();
    server.close();
  }
});
