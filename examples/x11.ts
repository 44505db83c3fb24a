/**
 * libssh2's X11 callback ("called when an X11 connection has been
 * accepted"), as a subscription: `enableX11Forwarding(client).x11$` emits
 * once per accepted X11 channel, with the X client's address and port on
 * the server's side.
 *
 * Everything in one process, no X server needed: our server
 * (`x11ForwardingHandler`) and our client (`enableX11Forwarding`) over
 * `memoryPair()`, and a fake X display, a unix socket that answers the X11
 * connection setup with a minimal success reply (no screens). The
 * server's command plays an X client: it connects to `$DISPLAY` (a
 * listener on 127.0.0.1:6000+n) with the fake cookie the client sent in
 * x11-req; the client swaps in the real cookie before the bytes reach the
 * display, as `ssh -X` does.
 *
 * Run: `deno run -A examples/x11.ts` or `bun examples/x11.ts`.
 *
 * @module
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import {
  connect,
  connectTcp,
  enableX11Forwarding,
  encodeX11Setup,
  fromHex,
  generatePrivateKey,
  memoryPair,
  parseDisplay,
  parseX11Setup,
  serveConnection,
  type ServerSession,
  toHex,
  type X11ForwardedDisplay,
  x11ForwardingHandler,
} from "../mod.ts";

const td = new TextDecoder();
const te = new TextEncoder();
const REAL_COOKIE = "0123456789abcdef0123456789abcdef";
const VENDOR = "rxssh fake display";

/** A minimal X11 connection setup success reply (little-endian, no formats, no screens). */
function setupReply(): Uint8Array {
  const vendor = te.encode(VENDOR);
  const padded = (vendor.length + 3) & ~3;
  const extra = 32 + padded; // bytes after the 8-byte header
  const b = new Uint8Array(8 + extra);
  const v = new DataView(b.buffer);
  b[0] = 1; // Success
  v.setUint16(2, 11, true); // protocol 11.0
  v.setUint16(6, extra / 4, true);
  v.setUint32(8, 12345, true); // release number
  v.setUint32(16, 0x1fffff, true); // resource-id-mask
  v.setUint16(24, vendor.length, true);
  v.setUint16(26, 0xffff, true); // maximum request length
  b.set(vendor, 40);
  return b;
}

/** The fake display: a unix socket that checks the cookie of each setup and answers it. */
function fakeDisplay(dir: string): Promise<{ display: string; cookies: string[]; close(): void }> {
  const socketPath = path.join(dir, "X0");
  const cookies: string[] = [];
  const server = net.createServer((socket) => {
    let buf = new Uint8Array(0);
    socket.on("data", (chunk: Uint8Array) => {
      buf = new Uint8Array([...buf, ...chunk]);
      const setup = parseX11Setup(buf);
      if (!setup) return;
      cookies.push(toHex(setup.authData));
      if (toHex(setup.authData) === REAL_COOKIE) socket.end(setupReply());
      else socket.end(new Uint8Array([0, 0, 11, 0, 0, 0, 0, 0])); // Failed
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve) =>
    server.listen(
      socketPath,
      () => resolve({ display: `${socketPath}:0`, cookies, close: () => server.close() }),
    )
  );
}

/** An X client, as a program on the server would be: connects to DISPLAY and reads the reply. */
async function xClient(display: string, cookieHex: string): Promise<string> {
  const d = parseDisplay(display);
  const conn = await connectTcp(d.host === "localhost" ? "127.0.0.1" : d.host!, d.port!);
  const w = conn.writable.getWriter();
  await w.write(encodeX11Setup({
    littleEndian: true,
    major: 11,
    minor: 0,
    authProtocol: "MIT-MAGIC-COOKIE-1",
    authData: fromHex(cookieHex),
  }));
  await w.close();
  const reply = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  if (reply[0] !== 1) return `X server refused the connection (status ${reply[0]})`;
  const v = new DataView(reply.buffer);
  const vendor = td.decode(reply.subarray(40, 40 + v.getUint16(24, true)));
  return `X11 ${v.getUint16(2, true)}.${v.getUint16(4, true)}, vendor "${vendor}"`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rxssh-x11-example-"));
const fake = await fakeDisplay(dir);
console.log(`fake X display at ${fake.display} (real cookie ${REAL_COOKIE})`);

// The server: sshd's X11Forwarding yes; xauth is not needed (the command gets the cookie below).
const x11 = x11ForwardingHandler({ xauth: false, displayOffset: 40 });
let forwarded: X11ForwardedDisplay | undefined;
x11.display$.subscribe((d) => {
  forwarded = d;
  console.log(`server: x11-req accepted, DISPLAY=${d.displayName} for ${d.username}`);
});
x11.x11$.subscribe((c) =>
  console.log(
    `server: opened an x11 channel for the X client at ${c.originatorAddress}:${c.originatorPort}`,
  )
);
const hostKey = await generatePrivateKey("ssh-ed25519");
const [clientEnd, serverEnd] = memoryPair();
serveConnection(serverEnd, {
  hostKeys: [hostKey],
  auth: { handlers: { password: (u, p) => u === "demo" && p === "demo" } },
  handlers: [x11],
  exec: async (s: ServerSession) => {
    // Play the X client with the cookie sshd's xauth would hold for the session: the fake one.
    const reply = await xClient(s.env.DISPLAY!, forwarded!.request.authCookie);
    const w = s.stdout.getWriter();
    await w.write(te.encode(`DISPLAY=${s.env.DISPLAY}: ${reply}\n`));
    w.releaseLock();
    await s.exit(0);
  },
}).catch((e) => console.error("server:", e));

const client = await connect({
  stream: clientEnd,
  username: "demo",
  password: "demo",
  hostKey: { fingerprint: hostKey.publicKey.fingerprint() },
});
// The local display is the fake one; its real cookie is given (instead of `xauth list`).
const fwd = enableX11Forwarding(client, { display: fake.display, cookie: REAL_COOKIE });
fwd.x11$.subscribe((c) =>
  console.log(
    `client: x11$ emitted: X client at ${c.originatorAddress}:${c.originatorPort} -> ${c.display}`,
  )
);
fwd.refused$.subscribe((r) => console.log(`client: refused$: ${r.reason}`));
console.log(`client: fake cookie ${fwd.fakeCookie} sent in x11-req (source: ${fwd.cookieSource})`);

const r = await client.exec("xdpyinfo", { requests: [fwd.request] });
console.log(`client: command output: ${td.decode(r.stdout).trim()} (exit ${r.code})`);
console.log(
  `fake display saw cookies: ${fake.cookies.join(", ")} (real: ${
    fake.cookies.every((c) => c === REAL_COOKIE)
  })`,
);
fwd.close();
await client.close();
fake.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log("x11 example done");
