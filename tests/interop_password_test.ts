// Password authentication of our client against the real sshd (which checks
// system passwords): needs the local account `rxssh-test` that CI creates
// (.ci/run → scripts/test_user.sh) and the path of its password file in
// RXSSH_TEST_PASSWORD_FILE. Elsewhere the test is skipped and says why.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import process from "node:process";
import { findOpenSsh, type Sshd, startSshd } from "./_openssh.ts";
import { connect } from "../lib/client.ts";
import { AuthenticationError } from "../lib/auth/client.ts";

const file = process.env.RXSSH_TEST_PASSWORD_FILE;
const password = file && fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : undefined;
const skip = !findOpenSsh()
  ? "OpenSSH is not installed"
  : !password
  ? "no test account: set RXSSH_TEST_PASSWORD_FILE (CI runs scripts/test_user.sh as root)"
  : false;

describe("our client's password authentication against OpenSSH sshd", { skip }, () => {
  let sshd: Sshd;
  before(async () => {
    sshd = await startSshd({
      config: { PasswordAuthentication: "yes", LogLevel: "INFO", MaxAuthTries: "3" },
    });
  });
  after(async () => {
    await sshd?.stop();
  });

  it("the right password logs in and runs a command as that user; a wrong one fails cleanly", async () => {
    const client = await connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: "rxssh-test",
      password: password!,
      hostKey: { verify: () => true },
    });
    const r = await client.exec("id -un; exit 42");
    assert.equal(new TextDecoder().decode(r.stdout), "rxssh-test\n");
    assert.equal(r.code, 42);
    await client.close();
    await assert.rejects(
      connect({
        host: "127.0.0.1",
        port: sshd.port,
        username: "rxssh-test",
        password: "not the password",
        hostKey: { verify: () => true },
      }),
      (e: Error) => e instanceof AuthenticationError && /password/.test(e.message),
    );
  });
});
