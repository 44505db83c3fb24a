import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sha1 } from "@noble/hashes/legacy.js";
import { deriveKey, deriveKeys, type KeyLetter } from "./kdf.ts";
import { SHA256, SHA384, SHA512 } from "./hash.ts";
import type { Hash } from "./types.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));

// Test-only SHA-1 (rxssh offers no SHA-1 KEX). The SHA-2 CAVS vectors never
// ask for more than one hash block, so the only published vectors that
// exercise the K2 = HASH(K || H || K1) extension of RFC 4253 §7.2 are the
// SHA-1 ones with 24-byte (3DES) keys.
const SHA1_FOR_TEST = {
  name: "sha1",
  outputLength: 20,
  digest(...parts: Uint8Array[]) {
    const h = sha1.create();
    for (const p of parts) h.update(p);
    return h.digest();
  },
} as unknown as Hash;

const HASH: Record<string, Hash> = {
  SHA1: SHA1_FOR_TEST,
  SHA256,
  SHA384,
  SHA512,
};

interface Vector {
  hash: string;
  /** K, already mpint-encoded with its uint32 length prefix, as CAVS gives it. */
  k: string;
  h: string;
  sessionId: string;
  A: string;
  B: string;
  C: string;
  D: string;
  E: string;
  F: string;
}

// NIST CAVS 14.1 "SSH KDF" (SP 800-135 §5.2) vectors, as carried by OpenSSL in
// test/recipes/30-test_evp_data/evpkdf_ssh.txt: the first two 3DES-sized and
// the first two AES-128-sized count groups per hash (one each for SHA-384).
const CAVS: Vector[] = [
  {
    hash: "SHA1",
    k: "0000008055bae931c07fd824bf10add1902b6fbc7c665347383498a686929ff5a25f8e40cb6645ea814fb1a5e0a11f852f86255641e5ed986e83a78bc8269480eac0b0dfd770cab92e7a28dd87ff452466d6ae867cead63b366b1c286e6c4811a9f14c27aea14c5171d49b78c06e3735d36e6a3be321dd5fc82308f34ee1cb17fba94a59",
    h: "a4ebd45934f56792b5112dcd75a1075fdc889245",
    sessionId: "a4ebd45934f56792b5112dcd75a1075fdc889245",
    A: "e2f627c0b43f1ac1",
    B: "58471445f342b181",
    C: "1ca9d310f86d51f6cb8e7007cb2b220d55c5281ce680b533",
    D: "2c60df8603d34cc1dbb03c11f725a44b44008851c73d6844",
    E: "472eb8a26166ae6aa8e06868e45c3b26e6eeed06",
    F: "e3e2fdb9d7bc21165a3dbe47e1eceb7764390bab",
  },
  {
    hash: "SHA1",
    k: "0000008100ec6f2c5f0517fd92f730567bd783138302917c277552b1b3fdf2b67d6edb6fa81bd17f7ebbe339b54b171341e6522b91611f8274cc88652a458f8041261040818a268497e949e12f57271318b2b3194c29760cbb767c0fc8833b272994e18682da807e6c9f235d88ef89c203c6f756d25cc2bea199b02c955b8b40cbc04f9208",
    h: "ee40eef61bea3da8c2b1cec40fc4cdac892a2626",
    sessionId: "ca9aad244e24797fd348d1250387c8aa45a0110a",
    A: "55a1015757de84cb",
    B: "7e57f61d5735f4fb",
    C: "dd1c24bde1af845e82207541e3e173aec822fb904a94ae3c",
    D: "cbbfdc9442af6db7f8c4dcaa4b0b5d0163e0e204476aa2a0",
    E: "e153e04886c0dc446dde9a9b3b13efb77151764d",
    F: "c8e4f61bd6b5abb2c6e06eca7b302349435e4842",
  },
  {
    hash: "SHA256",
    k: "0000008100875c551cef526a4a8be1a7df27e9ed354bac9afb71f53dbae905679d14f9faf2469c53457cf80a366be278965ba6255276ca2d9f4a97d271f71e50d8a9ec46253a6a906ac2c5e4f48b27a63ce08d80390a492aa43bad9d882ccac23dac88bcada4b4d426a362083dab6569c54c224dd2d87643aa227693e141ad1630ce13144e",
    h: "0e683fc8a9ed7c2ff02def23b2745ebc99b267daa86a4aa7697239088253f642",
    sessionId: "0e683fc8a9ed7c2ff02def23b2745ebc99b267daa86a4aa7697239088253f642",
    A: "41ff2ead1683f1e6",
    B: "e619ecfd9edb50cd",
    C: "4a6314d2f7511bf88fad39fb6892f3f218cafd530e72fe43",
    D: "084c15fb7f99c65ff134eeb407cee5d540c341dea45a42a5",
    E: "41ec5a94fecce7707ea156a6ad29239a891621adacbedb8be70675008d6f9274",
    F: "47d3c20aba60981e47b30533623613ff1cacbcf1642fb4ad86ee712f2aed9af8",
  },
  {
    hash: "SHA256",
    k: "000000800faa172b8c287e372bb236ad34c733695c13d77f882adc0f47e5a7f6a3de07efb101207aa5d665b619826f756591f65310bbd2c92c9384e6c6a67b42dec382fdb24c591d79ff5e47737b0f5b8479694c3adc19401704912bbfec2704d4d5bebbfc1a7fc796e277634e40851851a187ec2d37ed3f351c4596a5a0892916b4c55f",
    h: "a347f5f1e191c35f212c9324d5867efdf83026be62c2b16ae006edb3378d4006",
    sessionId: "90befcef3ff8f920674a9fab94198cf3fd9dca24a21d3c9dba394daafbc621ed",
    A: "99bae6531508705f",
    B: "f25786f02f199737",
    C: "97621bf882266f905da78cf193fc31f642acbb60957c41b7",
    D: "ad98a86a2386280912efea50f790e800a7758f7dade5d77e",
    E: "f92d052d3cdf34dfc69bc60a489c3a3553f4356596c191931d08fa20551273b3",
    F: "147a771445123f846d8ae514d7ff9b3c93b2bceb7c7c9500942161b8e2d0110f",
  },
  {
    hash: "SHA256",
    k: "000001006ac382eaaca093e125e25c24bebc84640c11987507344b5c739ceb84a9e0b222b9a8b51c839e5ebe49cfadbfb39599764ed522099dc912751950dc7dc97fbdc06328b68f22781fd315af568009a5509e5b87a11bf527c056daffd82ab6cbc25cca37143459e7bc63bcde52757adeb7df01cf12173f1fef8102ec5ab142c213dd9d30696278a8d8bc32dde9592d28c078c6d92b947d825acaab6494846a49de24b9623f4889e8adc38e8c669effef176040ad945e90a7d3eec15efeee78ae71043c96511103a16ba7caf0acd0642efdbe809934faa1a5f1bd11043649b25ccd1fee2e38815d4d5f5fc6b4102969f21c22ae1b0e7d3603a556a13262ff628de222",
    h: "7b7001185e256d4493445f39a55fb905e6321f4b5dd8bbf3100d51ba0bda3d2d",
    sessionId: "7b7001185e256d4493445f39a55fb905e6321f4b5dd8bbf3100d51ba0bda3d2d",
    A: "81f0330ef6f05361b3823bfded6e1de9",
    B: "3f6fd2065eeb2b0b1d93195a1fed48a5",
    C: "c35471034e6fd6547613178e23435f21",
    D: "7e9d79032090d99f98b015634dd9f462",
    E: "24ee559ad7ce712b685d0b2271e443c17ab1d1dceb5a360569d25d5dc243002f",
    F: "c3419c2b966235869d714ba5ac48ddb7d9e35c8c19aac73422337a373453607e",
  },
  {
    hash: "SHA256",
    k: "0000010044708c76616f700bd31b0c155ef74e36390eeb39bc5c32cdc90e21922b0ed930b5b519c8afebef0f4e4fb5b41b81d649d2127506620b594e9899f7f0d442ecddd68308307b82f00065e9d75220a5a6f5641795772132215a236064ea965c6493c21f89879730ebbc3c20a22d8f5bfd07b525b194323b22d8a49944d1aa58502e756101ef1e8a91c9310e71f6db65a3ad0a542cfa751f83721a99e89f1dbe54971a3620ecffc967aa55eed1a42d6e7a138b853557ac84689889f6d0c8553575fb89b4e13eab5537da72ef16f0d72f5e8505d97f110745193d550fa315fe88f672db90d73843e97ba1f3d087ba8eb39025bbffad37589a6199227303d9d8e7f1e3",
    h: "fe3727fd99a5ac7987c2cfbe062129e3027bf5e10310c6bccde9c916c8329dc2",
    sessionId: "fffa598bc0ad2ae84dc8dc05b1f72c5b0134025ae7edf8a2e8db11472e18e1fc",
    A: "36730bae8de5cb98898d6b4a00b37058",
    B: "5dfe446a83f40e8358d28cb97df8f340",
    C: "495b7afed0872b761437728e9e94e2b8",
    D: "c1474b3925bec36f0b7f6cc698e949c8",
    E: "b730f8df6a0697645be261169486c32a11612229276cbac5d8b3669afb2e4262",
    F: "14a5ea98245fb058978b82a3cb092b1cca7ce0109a4f98c16e1529579d58b819",
  },
  {
    hash: "SHA384",
    k: "0000008100941456bd72267a90690ffc873528f4b76394431aceee1e24a7bed414568d9b97c84ce13d34a2b4a63ef735bac23af0b7fa634a9e56c2d775c741a61d63981332f9027d3f52c4a9a3adb83e96d39f7e6bb72514797da32f2f0edb59accfc58a49fc34b198e0285b31032ac9f06907def196f5748bd32ce22a5383a1bbdbd31f24",
    h: "e0dee80ccc162884393930ad2073d92120c804254162446b7d048f85a1a4dd7b636a09b69252b80952a0581e9490ee5a",
    sessionId:
      "e0dee80ccc162884393930ad2073d92120c804254162446b7d048f85a1a4dd7b636a09b69252b80952a0581e9490ee5a",
    A: "d31c16f67b17bc69",
    B: "675340f27269e7ae",
    C: "2ffed577a90d29872ea59f3782c3b406908d7394ff63c9d7",
    D: "fae751987c1fa8665e4387e410297db58ff69b260a8fe85f",
    E: "ff2db5975edf3824325b257455791869434c6af47fb0c8145253c2695abfd2b8c980565ad20e6b9313ba44ee488bafb0",
    F: "85a9463cd653c7619d4dc85006406d6ed3364220419ca13810301be0f0389d932ddeaebb0e504a0849e2e73a7d087db2",
  },
  {
    hash: "SHA384",
    k: "00000101008174aa2fab9372c253f3b993d723b55a2484430fb338095852b7a5099f9d609ca6afa6bff9d64a55f7ef0963c684f0d17ec6045ce57ce3382870d55fcac0e1341fb47a7f76f0d5d53b67fd5e0658ecb88ae2e2e42aa4b83b8cfcce9faae941450ace059a7f223623d1c8a9924638de7eebad35be9c9f1bf38aea041114351d585a1988ba53cccc6949150f367fd790fc427916afa2cccd1d2f1aa8583b948dfe56cf488b38ec2d2570a0e0441c07ccec8b5b4db5f60250741b1aeb0bf49a85cc779ad7465f0c197735698842be2a39af8591ab91c84b704e67e50cbcdb75c2799aaeba0184341dd520f6db8477f13d5815d37f191ccb20545e4a1eaca316370a",
    h: "09d74bd79b47ceb3ada0d8df640595ba861ccfa3cc0d6c640eaac21d2d5f3f9fe61fb2e585fb6cc90bde11967a563c4e",
    sessionId:
      "09d74bd79b47ceb3ada0d8df640595ba861ccfa3cc0d6c640eaac21d2d5f3f9fe61fb2e585fb6cc90bde11967a563c4e",
    A: "e46fdb8c912658c34b7d509f6acc1111",
    B: "959c339aaff2e2ed46da46c5286ddf3b",
    C: "a1cb0f9c7349d6443494df14b4bd9aad",
    D: "cdcd2c2ccbda238e184058b76757ed5d",
    E: "026ae927b4a5b63a513c02faac55534dae5c219779f08e239f67df78c52be743aab628607e5a103127450ea51833eb84",
    F: "759fd6bd386f4825e644521edfce4187a7104ea7380f2c6c5e283f205c7c025be46c5ee73bc54a956f268c2031026bf6",
  },
  {
    hash: "SHA512",
    k: "00000080575308ca395798bb21ec5438c46a88ffa3f7f7671c06f924abf7c3cfb46c78c025596e4aba50c3271089184a447a571abb7f4a1b1c41f5d5ca8062940d4369778589fde81a71b2228f018c4c836cf389f854f86de71a68b1693fe8ffa1c59ce7e9f9223debada2566d2b0e5678a48bfb530e7bee42bd2ac7304a0a5ae339a2cd",
    h: "a4125aa9898092ca50c3c1631c03dcbc9df95cebb409881e580108b6cc4704b76cc77b8795fd5940561e3224cc75848518992bd8d9b70fe0fc977a476063c8bf",
    sessionId:
      "a4125aa9898092ca50c3c1631c03dcbc9df95cebb409881e580108b6cc4704b76cc77b8795fd5940561e3224cc75848518992bd8d9b70fe0fc977a476063c8bf",
    A: "0e2693ade0524af8",
    B: "b13144de02295bb8",
    C: "7e4a721fb7379ebb423306464d57db46afa3cca10a1d7feb",
    D: "bb84123b1fac400e0df4767d78d011427e1edd4d4c934b95",
    E: "00fb0a45c650dd9c95666b0c7fcea8c98f0562f61b862054ee400aec875dbbc2bdef4806c09217709a5050569312efe3af513e7aa733c72457abe1607ac01c13",
    F: "70a8005e711fb96dea5991cb68831b9e86005821b45ceaf958c13d5c87cbd2953d0877c267796edf8c7fb3d768bb26b74e542f40bf9ac9f6a9d217077e85f511",
  },
  {
    hash: "SHA512",
    k: "000000802b2e6f7545fa66e1078c67c5457dbf5ee03801edef4421d4f0e797b947b79e293ef724253ec4adb53977f027a2d577d7779e96be4e093b0c36be62778c5bd48dbb0bff1335470e10cdec4df88e8feb00d322426baf3035e9fda1aaf819be48dacc640d52eb8750cc6fd8031d0cba0ef0a11973d43138dd2d11d2eef1fc926327",
    h: "4dc005dc6ad5075cf6abbedb53a0407104659cd168b58d014fb2465d6f1d1140d5fef634f345c6c38ac2a8db3771e4b0c71c51faf85a297bbdf7ddf8228c3159",
    sessionId:
      "a674aaced8345324221bbd8356ab8355fd3d3e410ae974c0da196f4cd58cc0236a85900626da696dab8be23aaa529458ac6ccf64058fd2fd140ca1a1a0c57988",
    A: "c75c77791f7b67c2",
    B: "dae1e8bfab1b4b7e",
    C: "0e79f5b685ebe77ae6d62c344a5dd0f53502523a28e2b408",
    D: "c5ec1aae5d26c2c5fe769576eb1b75c53d3dc67d452dca1c",
    E: "6bc4e5d6049c69a8ffbf93c7617b6a168bd0f14d71471d199b81729250117272ad102772761a8c0b5d5240e589e48a4f85ab8c3e1bd030327e7c87428ee44d13",
    F: "ce109babe86778542856e3934be12decd239120a4dcb948a0154c4cb7b8ac0a4a3cbd682698086123e6c0481ee351bd9fedfba58d37f7814ba9c2b584f6cfedf",
  },
  {
    hash: "SHA512",
    k: "0000010100e8d52da494d198252b87189223bffb0bc1b68335ae987df15bf7cf95bd74a951b5eaa87b1739f91efc97f28f5a7f0a206fdbcf33e39003e154b334009563abd62a4169462865ba931ca3f8f4d70611e8bcb46228ee74983d2ec79c690d86329c2daac8dbdafe4573f114313f29c7507bd4aa50d87bb83b1cebb628e37b2501ffc9b1200d8d360e1b46bf6fdecd486fae790352eb79aa3f37e4964963a84dbd80fb3b80491210565d9449599bc9306ee76a932a764070702cd09c87e1f26095b1b78042bcc37d5f097e3f7b2db6cb6f7b3e2a332021f756fe1784edd2a82802c1274b9944dff99fb1c181f41d6d2f4eac5aa33c619c48167dce1eb47ddafbe5eb",
    h: "3e81bd3b4b609955df0deaab293876592122e2d7fdc719ecd503b572c5e98cfaaac1f7e085d4097c76515f5b70413944a464ce346ada6d85d7c39a8009d4b121",
    sessionId:
      "3e81bd3b4b609955df0deaab293876592122e2d7fdc719ecd503b572c5e98cfaaac1f7e085d4097c76515f5b70413944a464ce346ada6d85d7c39a8009d4b121",
    A: "a626c34c0a74b56262110185a34cd810",
    B: "223d6fc57263da9ad61dad9759454e0f",
    C: "7c803e07506969666f446400b2372eee",
    D: "4ad705fbc9e89c03c15f9dbbf34981df",
    E: "36cac32cab8b943cd9d2142559c467593bfaf30d0be71560245c8b38a5671901a858ccc637b0ef6966a2bbfb1a7f51f2cf6d52c4165ca000d52bd908405c305f",
    F: "67d42301ce629c0f2a34b9dfb24ec60c138b4edc71f7123bb0db9447b3c915ebd8c54d3b20af04e30b484be3a2d4136f5d5c46f9c56de189b91fec78ecd53e1c",
  },
  {
    hash: "SHA512",
    k: "0000010034a5d2784c99976fb3b615c5b1bfacc9a749330d22bcf5a7c404c10f886e2a3115660a399d7c721d5dd141f458b0d27e0e6709a8290f9ef6f61681a11d876eb7bd52b930f79fb9516f5d2137c5bfa95a893890d26d7712fc9ecc4dc82a5171341b41a9f2c4a8f0c14efe82ef2a4db60a8a0b8e43d3f92992f8dcc2d6bae3759aea86a4f14f809fe648021fc4aa79936bd687450e801916d7d267dfab66bd86f9424b3460fa75b16af37151918cb2f8ba8ac33df5b0ccf7fb21c3ea9fb0ed2917a4eb9d6ed345c42a5a67a66fca7b7e69c1ad5c45c51866692f058ad537c0f59c83a2788ef9b9610cc06aa155aa1115f23fa36d7734152a0da209244c32d37e3a",
    h: "ab6f9c04514ae3f6591039c9cc6a9919279282d7c95971b4c27957e31cced5ef5b1c59a4418402203ab50a46df7dc03bd67d42a62592708b0581617a42ea6d71",
    sessionId:
      "4e226639facaccf9894367cb1008663e989eb31757b912bd1cb3bd51058c7adf56e9a54eef87b63299a5cc092c047991dc9a380e749c7c5657bb99424bcce6d6",
    A: "8ebbf0e9afd9f108498f1543104ba8e2",
    B: "38bfe6bed75f77675fa36d76b63816a4",
    C: "f759f0ad2d72980f6b12f0fb317222f3",
    D: "39f294ec25afb520f5d7f1064b7078c9",
    E: "ff2ad139997ff26e7f4393e49d57d5fc973ddb6225d8f4b5fe990e46b9943772f0d33aa98d01089ff0aeb5740bd388ada35dc44240180c99e522c817dedfc2cd",
    F: "a670c9583c71f403207a192700d5e4fd7a007b60a4617b7f93708399a0cb771af08b9e5f4237e6975f055d6f0a4d91523fa0805013df6ae4a19f077646f1cd4b",
  },
];

const LETTERS: KeyLetter[] = ["A", "B", "C", "D", "E", "F"];

describe("deriveKey: NIST CAVS SSH KDF vectors", () => {
  CAVS.forEach((v, i) => {
    it(`${v.hash} #${i} (K is ${unhex(v.k).length - 4} bytes, C is ${v.C.length / 2} bytes)`, () => {
      const hash = HASH[v.hash];
      const input = { kEncoded: unhex(v.k), h: unhex(v.h), sessionId: unhex(v.sessionId) };
      for (const letter of LETTERS) {
        const want = v[letter];
        const got = deriveKey(hash, input, { letter, length: want.length / 2 });
        assert.equal(hex(got), want, `key ${letter}`);
      }
    });
  });

  it("deriveKeys maps A..F to ivCs, ivSc, encCs, encSc, macCs, macSc", () => {
    for (const v of CAVS) {
      const keys = deriveKeys(
        HASH[v.hash],
        { kEncoded: unhex(v.k), h: unhex(v.h), sessionId: unhex(v.sessionId) },
        {
          ivCs: v.A.length / 2,
          ivSc: v.B.length / 2,
          encCs: v.C.length / 2,
          encSc: v.D.length / 2,
          macCs: v.E.length / 2,
          macSc: v.F.length / 2,
        },
      );
      assert.deepEqual(
        [keys.ivCs, keys.ivSc, keys.encCs, keys.encSc, keys.macCs, keys.macSc].map(hex),
        [v.A, v.B, v.C, v.D, v.E, v.F],
      );
    }
  });

  it("at least 3 vectors for each of SHA-256 and SHA-512", () => {
    assert.ok(CAVS.filter((v) => v.hash === "SHA256").length >= 3);
    assert.ok(CAVS.filter((v) => v.hash === "SHA512").length >= 3);
  });
});

describe("deriveKey: extension and edge cases", () => {
  const v = CAVS.find((x) => x.hash === "SHA256")!;
  const input = { kEncoded: unhex(v.k), h: unhex(v.h), sessionId: unhex(v.sessionId) };

  it("extends past one block exactly as RFC 4253 §7.2 spells it", () => {
    for (const hash of [SHA256, SHA384, SHA512]) {
      const k1 = hash.digest(input.kEncoded, input.h, new Uint8Array([0x43]), input.sessionId);
      const k2 = hash.digest(input.kEncoded, input.h, k1);
      const k3 = hash.digest(input.kEncoded, input.h, k1, k2);
      const expected = new Uint8Array([...k1, ...k2, ...k3]);
      for (
        const length of [1, hash.outputLength, hash.outputLength + 1, 2 * hash.outputLength + 5]
      ) {
        const got = deriveKey(hash, input, { letter: "C", length });
        assert.equal(hex(got), hex(expected.subarray(0, length)), `${hash.name} length ${length}`);
      }
    }
  });

  it("shorter keys are prefixes of longer ones", () => {
    const long = deriveKey(SHA512, input, { letter: "D", length: 200 });
    const short = deriveKey(SHA512, input, { letter: "D", length: 37 });
    assert.deepEqual(short, long.subarray(0, 37));
  });

  it("zero length gives an empty key; bad lengths throw", () => {
    assert.equal(deriveKey(SHA256, input, { letter: "A", length: 0 }).length, 0);
    assert.throws(() => deriveKey(SHA256, input, { letter: "A", length: -1 }), RangeError);
    assert.throws(() => deriveKey(SHA256, input, { letter: "A", length: 1.5 }), RangeError);
  });

  it("inputs may be views at any byteOffset", () => {
    const pad = (b: Uint8Array) => {
      const big = new Uint8Array(b.length + 7);
      big.set(b, 3);
      return big.subarray(3, 3 + b.length);
    };
    const viewInput = {
      kEncoded: pad(input.kEncoded),
      h: pad(input.h),
      sessionId: pad(input.sessionId),
    };
    assert.equal(hex(deriveKey(SHA256, viewInput, { letter: "E", length: v.E.length / 2 })), v.E);
  });
});
