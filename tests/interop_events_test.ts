// libssh2's callbacks as subscriptions, triggered by a real OpenSSH sshd:
// SSH_MSG_DEBUG from authorized_keys options, and SSH_MSG_DISCONNECT with
// a reason. (IGNORE from keystroke obfuscation needs OpenSSH 9.5+; Debian's
// 9.2 has none, so IGNORE is covered in memory in lib/transport/transport_test.ts.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { firstValueFrom, toArray } from "rxjs";
import { currentUser, findOpenSsh, type Sshd, startSshd } from "./_openssh.ts";
import { connect } from "../lib/client.ts";
import { generatePrivateKey } from "../lib/keys/private_key.ts";
import type { PrivateKey } from "../lib/keys/types.ts";
import { formatPublicKeyLine } from "../lib/keys/public_key_file.ts";
import type { DebugMessage } from "../lib/wire/transport_messages.ts";
import type { DisconnectEvent, Transport } from "../lib/transport/transport.ts";

const openssh = findOpenSsh();
const skip = openssh ? false : "OpenSSH is not installed (.ci/run installs it)";

describe("transport events from OpenSSH sshd", { skip }, () => {
  let sshd: Sshd;
  let key: PrivateKey;
  let other: PrivateKey;
  before(async () => {
    key = await generatePrivateKey("ssh-ed25519");
    other = await generatePrivateKey("ssh-ed25519");
    sshd = await startSshd({
      config: { PermitRootLogin: "yes", LogLevel: "INFO", MaxAuthTries: "2" },
    });
    fs.writeFileSync(
      path.join(sshd.dir, "authorized_keys"),
      `no-pty,no-port-forwarding,command="echo forced" ${formatPublicKeyLine(key.publicKey)}`,
    );
  });
  after(async () => {
    await sshd?.stop();
  });

  const pinned = () => ({ verify: () => true });

  it("debug$ receives sshd's SSH_MSG_DEBUG lines about the key's options", async () => {
    const debug: DebugMessage[] = [];
    let t: Transport | undefined;
    const client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: currentUser(),
      privateKeys: [key],
      hostKey: pinned(),
      onTransport: (transport) => {
        t = transport;
        transport.debug$.subscribe((d) => debug.push(d));
      },
    });
    const r = await client.exec("anything");
    assert.equal(new TextDecoder().decode(r.stdout), "forced\n");
    await client.close();
    assert.ok(t);
    const text = debug.map((d) => d.message).join("\n");
    // sshd 9.2 reports the options in force for the key (auth_log_authopts).
    const line = debug.find((d) => /authorized_keys:1: key options:/.test(d.message));
    assert.ok(line, text);
    assert.match(line.message, /\bcommand\b/);
    assert.doesNotMatch(line.message, /\bpty\b|port-forwarding/);
  });

  it("disconnect$ carries sshd's reason when it gives up on authentication", async () => {
    let events: Promise<DisconnectEvent[]> | undefined;
    await assert.rejects(connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: currentUser(),
      privateKeys: [
        other,
        await generatePrivateKey("ssh-ed25519"),
        await generatePrivateKey("ssh-ed25519"),
      ],
      hostKey: pinned(),
      onTransport: (transport) =>
        void (events = firstValueFrom(transport.disconnect$.pipe(toArray()))),
    }));
    const [d] = await events!;
    assert.equal(d.local, false);
    assert.equal(d.reason, 2);
    assert.match(d.description, /Too many authentication failures/);
  });
});
