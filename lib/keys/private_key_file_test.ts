// Private key files against the real OpenSSH (ssh-keygen 9.2 with OpenSSL 3):
// every file ssh-keygen writes loads, and every file we write is accepted by
// `ssh-keygen -y` (and `openssl pkey` for Ed25519 PKCS#8, which OpenSSH 9.2
// cannot read). Skipped without ssh-keygen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha512 } from "@noble/hashes/sha2.js";
import { SshWriter } from "../wire/writer.ts";
import { fromBase64, toBase64 } from "./_bytes.ts";
import { utf8 } from "./_test_util.ts";
import { generateEd25519 } from "./ed25519.ts";
import { KeyError } from "./errors.ts";
import {
  parsePrivateKeyFile,
  PassphraseRequiredError,
  type PrivateKeyFileFormat,
  writePrivateKeyFile,
  WrongPassphraseError,
} from "./private_key_file.ts";
import type { PrivateKey } from "./types.ts";

const SSH_KEYGEN = "/usr/bin/ssh-keygen";
const OPENSSL = "/usr/bin/openssl";
const skip = existsSync(SSH_KEYGEN) ? false : "ssh-keygen not installed";
const skipOpenssl = existsSync(OPENSSL) ? false : "openssl not installed";
/** OpenSSL formats need >= 5 characters; the space checks quoting and encoding. */
const PASS = "correct horse";

function run(cmd: string, args: string[], input?: Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: "buffer" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${stderr.toString()}`));
      else resolve(stdout.toString());
    });
    child.stdin!.end(input ?? new Uint8Array(0));
  });
}

const TYPES = [
  { name: "ed25519", args: ["-t", "ed25519"], type: "ssh-ed25519" },
  { name: "ecdsa256", args: ["-t", "ecdsa", "-b", "256"], type: "ecdsa-sha2-nistp256" },
  { name: "ecdsa384", args: ["-t", "ecdsa", "-b", "384"], type: "ecdsa-sha2-nistp384" },
  { name: "ecdsa521", args: ["-t", "ecdsa", "-b", "521"], type: "ecdsa-sha2-nistp521" },
  { name: "rsa2048", args: ["-t", "rsa", "-b", "2048"], type: "ssh-rsa" },
  { name: "rsa3072", args: ["-t", "rsa", "-b", "3072"], type: "ssh-rsa" },
] as const;

const VARIANTS = [
  { name: "openssh", args: [], pass: "" },
  { name: "openssh-aes256-ctr", args: [], pass: PASS },
  { name: "openssh-aes256-gcm", args: ["-Z", "aes256-gcm@openssh.com"], pass: PASS },
  { name: "openssh-chacha20", args: ["-Z", "chacha20-poly1305@openssh.com"], pass: PASS },
  { name: "pem", args: ["-m", "PEM"], pass: "" },
  { name: "pem-encrypted", args: ["-m", "PEM"], pass: PASS },
  { name: "pkcs8", args: ["-m", "PKCS8"], pass: "" },
  { name: "pkcs8-encrypted", args: ["-m", "PKCS8"], pass: PASS },
] as const;

/** The format ssh-keygen 9.2 actually writes (Ed25519 is always openssh-key-v1 there). */
function expectedFormat(typeName: string, variant: string): PrivateKeyFileFormat {
  if (variant.startsWith("openssh") || typeName === "ed25519") return "openssh";
  if (variant.startsWith("pkcs8")) return "pkcs8";
  return typeName.startsWith("rsa") ? "pkcs1" : "sec1";
}

interface Generated {
  dir: string;
  /** type name -> variant name -> { private key text, .pub line } */
  files: Map<string, Map<string, { text: string; pub: string; path: string }>>;
}

let generated: Promise<Generated> | undefined;

/** Generates every type × variant once (in parallel), shared by the tests. */
function generate(): Promise<Generated> {
  generated ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "rxssh-keyfiles-"));
    const files: Generated["files"] = new Map();
    const jobs: Promise<void>[] = [];
    for (const t of TYPES) {
      const m = new Map<string, { text: string; pub: string; path: string }>();
      files.set(t.name, m);
      for (const v of VARIANTS) {
        const path = join(dir, `${t.name}-${v.name}`);
        jobs.push(
          run(SSH_KEYGEN, [
            "-q",
            ...t.args,
            ...v.args,
            "-N",
            v.pass,
            "-C",
            `${t.name} ${v.name}`,
            "-f",
            path,
          ]).then(() => {
            m.set(v.name, {
              text: readFileSync(path, "utf8"),
              pub: readFileSync(`${path}.pub`, "utf8"),
              path,
            });
          }),
        );
      }
    }
    await Promise.all(jobs);
    return { dir, files };
  })();
  return generated;
}

function pubFields(line: string): [string, string] {
  const [type, b64] = line.trim().split(/\s+/);
  return [type, b64];
}

/** PROTOCOL.sshsig: signs `message` with `key` and returns the armored signature. */
async function sshsig(key: PrivateKey, message: Uint8Array): Promise<string> {
  const namespace = "file";
  const signed = new SshWriter().raw(utf8("SSHSIG")).string(namespace).string("").string("sha512")
    .string(sha512(message)).finish();
  const signature = await key.sign(key.algorithms[0], signed);
  const blob = new SshWriter().raw(utf8("SSHSIG")).uint32(1).string(key.publicKey.blob)
    .string(namespace).string("").string("sha512").string(signature).finish();
  const b64 = toBase64(blob).replace(/.{76}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN SSH SIGNATURE-----\n${b64}\n-----END SSH SIGNATURE-----\n`;
}

async function rejects(p: Promise<unknown>, cls: typeof KeyError): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    return true;
  });
}

test("interop: every private key file ssh-keygen writes loads, signs, and ssh-keygen verifies", {
  skip,
}, async () => {
  const { dir, files } = await generate();
  let loaded = 0;
  let verified = 0;
  for (const t of TYPES) {
    for (const v of VARIANTS) {
      const f = files.get(t.name)!.get(v.name)!;
      const label = `${t.name}/${v.name}`;
      const r = await parsePrivateKeyFile(f.text, { passphrase: v.pass || undefined });
      loaded++;
      assert.equal(r.format, expectedFormat(t.name, v.name), label);
      assert.equal(r.encrypted, v.pass !== "", label);
      assert.equal(r.key.type, t.type, label);
      assert.equal(r.comment, r.format === "openssh" ? `${t.name} ${v.name}` : "", label);
      assert.deepEqual(r.key.publicKey.blob, fromBase64(pubFields(f.pub)[1]), label);
      // A signature by the loaded key, checked by ssh-keygen.
      const message = utf8(`message for ${label}`);
      const sigPath = join(dir, `${t.name}-${v.name}.sig`);
      writeFileSync(sigPath, await sshsig(r.key, message));
      await run(SSH_KEYGEN, ["-Y", "check-novalidate", "-n", "file", "-s", sigPath], message);
      verified++;
      if (v.pass) {
        await rejects(parsePrivateKeyFile(f.text), PassphraseRequiredError);
        await rejects(
          parsePrivateKeyFile(f.text, { passphrase: "wrong horse" }),
          WrongPassphraseError,
        );
      }
    }
  }
  assert.equal(loaded, TYPES.length * VARIANTS.length);
  assert.equal(verified, loaded);
});

test(
  "interop: a non-ASCII passphrase typed into ssh-keygen is the UTF-8 string",
  { skip },
  async () => {
    const { dir } = await generate();
    const path = join(dir, "utf8-pass");
    await run(SSH_KEYGEN, ["-q", "-t", "ed25519", "-N", "pässwörd ☃", "-f", path]);
    const r = await parsePrivateKeyFile(readFileSync(path), { passphrase: "pässwörd ☃" });
    assert.deepEqual(
      r.key.publicKey.blob,
      fromBase64(pubFields(readFileSync(`${path}.pub`, "utf8"))[1]),
    );
  },
);

/** What we write for each key type: format, passphrase and (openssh) cipher. */
function writeVariants(typeName: string) {
  const out: {
    name: string;
    format: PrivateKeyFileFormat;
    passphrase?: string;
    cipher?: "aes256-ctr" | "aes256-gcm@openssh.com" | "chacha20-poly1305@openssh.com";
  }[] = [
    { name: "openssh", format: "openssh" },
    { name: "openssh-aes256-ctr", format: "openssh", passphrase: PASS, cipher: "aes256-ctr" },
    {
      name: "openssh-aes256-gcm",
      format: "openssh",
      passphrase: PASS,
      cipher: "aes256-gcm@openssh.com",
    },
    {
      name: "openssh-chacha20",
      format: "openssh",
      passphrase: PASS,
      cipher: "chacha20-poly1305@openssh.com",
    },
    { name: "pkcs8", format: "pkcs8" },
    { name: "pkcs8-encrypted", format: "pkcs8", passphrase: PASS },
  ];
  if (typeName !== "ed25519") {
    const pem = typeName.startsWith("rsa") ? "pkcs1" : "sec1";
    out.push({ name: pem, format: pem }, {
      name: `${pem}-encrypted`,
      format: pem,
      passphrase: PASS,
    });
  }
  return out;
}

test("interop: every file we write is read by ssh-keygen -y with the identical public key", {
  skip,
}, async () => {
  const { dir, files } = await generate();
  let accepted = 0;
  for (const t of TYPES) {
    const source = files.get(t.name)!.get("openssh")!;
    const { key } = await parsePrivateKeyFile(source.text);
    const [type, b64] = pubFields(source.pub);
    for (const w of writeVariants(t.name)) {
      const label = `${t.name}/${w.name}`;
      const text = await writePrivateKeyFile(key, {
        format: w.format,
        passphrase: w.passphrase,
        cipher: w.cipher,
        comment: w.format === "openssh" ? "written by rxssh" : undefined,
      });
      // Our own reader agrees first.
      const back = await parsePrivateKeyFile(text, { passphrase: w.passphrase });
      assert.equal(back.format, w.format, label);
      assert.equal(back.encrypted, w.passphrase !== undefined, label);
      assert.deepEqual(back.key.publicKey.blob, key.publicKey.blob, label);
      const path = join(dir, `ours-${t.name}-${w.name}`);
      writeFileSync(path, text, { mode: 0o600 });
      if (t.name === "ed25519" && w.format === "pkcs8") {
        if (skipOpenssl) continue;
        // OpenSSH 9.2 cannot load Ed25519 PKCS#8; OpenSSL must.
        const der = execFileSync(OPENSSL, [
          "pkey",
          "-in",
          path,
          "-passin",
          `pass:${w.passphrase ?? ""}`,
          "-pubout",
          "-outform",
          "DER",
        ]);
        assert.deepEqual(
          new Uint8Array(der).subarray(-32),
          key.publicKey.blob.subarray(-32),
          label,
        );
        accepted++;
        continue;
      }
      const line = await run(SSH_KEYGEN, ["-y", "-f", path, "-P", w.passphrase ?? ""]);
      assert.deepEqual(pubFields(line), [type, b64], label);
      if (w.format === "openssh") {
        assert.equal(line.trim(), `${type} ${b64} written by rxssh`, label);
      }
      accepted++;
      // ssh-keygen refuses a wrong passphrase on our files, too.
      if (w.passphrase) {
        await assert.rejects(run(SSH_KEYGEN, ["-y", "-f", path, "-P", "wrong horse"]), label);
      }
    }
  }
  assert.equal(accepted, TYPES.reduce((n, t) => n + writeVariants(t.name).length, 0));
});

test("interop: ssh-keygen re-encrypts our file and we read its result", { skip }, async () => {
  const { dir } = await generate();
  const key = generateEd25519();
  const path = join(dir, "reencrypt");
  writeFileSync(path, await writePrivateKeyFile(key, { passphrase: "first pass", rounds: 4 }), {
    mode: 0o600,
  });
  await run(SSH_KEYGEN, [
    "-q",
    "-p",
    "-f",
    path,
    "-P",
    "first pass",
    "-N",
    "second pass",
    "-a",
    "4",
  ]);
  const r = await parsePrivateKeyFile(readFileSync(path, "utf8"), { passphrase: "second pass" });
  assert.deepEqual(r.key.publicKey.blob, key.publicKey.blob);
});

test("parsePrivateKeyFile: truncations of ssh-keygen files of every format are KeyErrors only", {
  skip,
}, async () => {
  const { files } = await generate();
  const isKeyError = (e: unknown) => e instanceof KeyError;
  for (
    const [type, v] of [
      ["ecdsa256", "openssh"],
      ["ed25519", "openssh-aes256-gcm"],
      ["ecdsa256", "pem"],
      ["ecdsa256", "pem-encrypted"],
      ["ecdsa256", "pkcs8-encrypted"],
      ["rsa2048", "pkcs8"],
    ]
  ) {
    const text = files.get(type)!.get(v)!.text;
    // Cut the text anywhere...
    for (let n = 0; n < text.length - 1; n++) {
      await assert.rejects(parsePrivateKeyFile(text.slice(0, n), { passphrase: PASS }), isKeyError);
    }
    // ...or cut the decoded bytes anywhere and armor them again.
    const lines = text.trimEnd().split("\n");
    const headers = lines.slice(1).filter((l) => l.includes(":") || l === "");
    const b64 = lines.slice(1, -1).filter((l) => !headers.includes(l)).join("");
    const bytes = fromBase64(b64);
    const rearmor = (b: Uint8Array) =>
      [
        lines[0],
        ...headers,
        toBase64(b).replace(/.{64}/g, "$&\n").replace(/\n$/, ""),
        lines[lines.length - 1],
        "",
      ].join("\n");
    // The whole, re-armored, still loads: the cuts below test the contents.
    assert.equal(
      (await parsePrivateKeyFile(rearmor(bytes), { passphrase: PASS })).key.type,
      files
        .get(type)!.get(v)!.pub.split(" ")[0],
    );
    for (let n = 0; n < bytes.length; n++) {
      await assert.rejects(
        parsePrivateKeyFile(rearmor(bytes.subarray(0, n)), { passphrase: PASS }),
        isKeyError,
      );
    }
  }
});

test("parsePrivateKeyFile / writePrivateKeyFile: formats and options", async () => {
  const key = generateEd25519();
  await assert.rejects(parsePrivateKeyFile("no key here"), /no private key found/);
  await assert.rejects(
    parsePrivateKeyFile("-----BEGIN DSA PRIVATE KEY-----\nAA==\n-----END DSA PRIVATE KEY-----\n"),
    /unsupported block "DSA PRIVATE KEY"/,
  );
  await assert.rejects(
    parsePrivateKeyFile("-----BEGIN SSH2 ENCRYPTED PRIVATE KEY-----\n"),
    (e: unknown) => e instanceof KeyError,
  );
  await assert.rejects(
    writePrivateKeyFile(key, { format: "pkcs8", cipher: "aes256-ctr" }),
    /option "cipher" applies to the openssh format only/,
  );
  await assert.rejects(
    writePrivateKeyFile(key, { format: "pkcs1" }),
    (e: unknown) => e instanceof KeyError,
  );
  await assert.rejects(
    writePrivateKeyFile(key, { format: "ppk" as PrivateKeyFileFormat }),
    /unknown format "ppk"/,
  );
  // Bytes in, and a PEM block after other text.
  const pem = await writePrivateKeyFile(key, { format: "pkcs8", comment: "dropped" });
  const r = await parsePrivateKeyFile(utf8(`garbage before\n${pem}`));
  assert.equal(r.format, "pkcs8");
  assert.equal(r.comment, "");
  // The first block wins when a file holds two.
  const openssh = await writePrivateKeyFile(key, { comment: "first" });
  const both = await parsePrivateKeyFile(openssh + pem);
  assert.equal(both.format, "openssh");
  assert.equal(both.comment, "first");
});

test("interop: clean up the temporary directory", { skip }, async () => {
  const { dir } = await generate();
  rmSync(dir, { recursive: true, force: true });
});
