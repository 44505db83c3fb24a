/**
 * The keys layer: public and private keys, signatures and fingerprints
 * (RFC 4253 §6.6, RFC 5656, RFC 8332, RFC 8709), and the files OpenSSH keeps
 * them in: private key files (openssh-key-v1, PEM), public key lines, RFC 4716
 * and PEM public keys, certificates (PROTOCOL.certkeys), authorized_keys,
 * known_hosts, SSHSIG signatures with allowed_signers, OpenSSH's pattern
 * lists, and its absolute times (`YYYYMMDD[HHMM[SS]][Z]`).
 *
 * @example
 * ```ts
 * import { generatePrivateKey, parsePublicKey } from "./mod.ts";
 * const key = await generatePrivateKey("ssh-ed25519");
 * console.log(parsePublicKey(key.publicKey.blob).fingerprint() === key.publicKey.fingerprint()); // true
 * ```
 *
 * @module
 */
export type { PrivateKey, PublicKey } from "./types.ts";
// Types of the layers below that this layer's API mentions.
export type { RandomSource } from "../crypto/types.ts";
export { SshError } from "../wire/errors.ts";
export { KeyError } from "./errors.ts";
export { parsePublicKey, PUBLIC_KEY_TYPES } from "./public_key.ts";
export { type GenerateKeyOptions, generatePrivateKey } from "./private_key.ts";
export {
  HOST_KEY_ALGORITHMS,
  type HostKeyAlgorithm,
  signatureAlgorithmsForKeyType,
} from "./host_key_algorithms.ts";
export { fingerprintMd5, fingerprintSha256 } from "./fingerprint.ts";
export { decodeSignature, encodeSignature } from "./signature.ts";
export {
  Ed25519PrivateKey,
  ed25519PrivateKey,
  Ed25519PublicKey,
  ed25519PublicKey,
  generateEd25519,
} from "./ed25519.ts";
export {
  type EcdsaCurveName,
  EcdsaPrivateKey,
  ecdsaPrivateKey,
  EcdsaPublicKey,
  ecdsaPublicKey,
  generateEcdsa,
} from "./ecdsa.ts";
export {
  generateRsa,
  RSA_MAX_BITS,
  RSA_MIN_GENERATE_BITS,
  RSA_MIN_PUBLIC_BITS,
  RsaPrivateKey,
  rsaPrivateKey,
  rsaPrivateKeyFromJwk,
  type RsaPrivateParts,
  RsaPublicKey,
  rsaPublicKey,
} from "./rsa.ts";
export {
  type ParsedPrivateKeyFile,
  parsePrivateKeyFile,
  type ParsePrivateKeyFileOptions,
  PassphraseRequiredError,
  type PrivateKeyFileFormat,
  writePrivateKeyFile,
  type WritePrivateKeyFileOptions,
  WrongPassphraseError,
} from "./private_key_file.ts";
export {
  formatPemPublicKey,
  formatPublicKeyLine,
  formatRfc4716PublicKey,
  parsePemPublicKey,
  parsePublicKeyLine,
  parsePublicKeyText,
  parseRfc4716PublicKey,
  type PemPublicKeyFormat,
  type PublicKeyTextFormat,
  type Rfc4716Options,
  type Rfc4716PublicKey,
} from "./public_key_file.ts";
export {
  CERT_FOREVER,
  type CertificateCheck,
  CertificateError,
  type CertificateType,
  formatCertificateLine,
  parseCertificate,
  signCertificate,
  type SignCertificateOptions,
  SshCertificate,
  verifyCertificate,
  type VerifyCertificateOptions,
} from "./certificate.ts";
export {
  type AuthorizedKeyContext,
  type AuthorizedKeyEntry,
  type AuthorizedKeyEvaluation,
  type AuthorizedKeyMatch,
  type AuthorizedKeyOptions,
  type AuthorizedKeyPermissions,
  type AuthorizedKeyRefusal,
  type AuthorizedKeysDiagnostic,
  type AuthorizedKeysFile,
  type AuthorizedKeysProblemKind,
  certificateAuthorities,
  evaluateAuthorizedKey,
  findAuthorizedKey,
  parseAuthorizedKeys,
  type PermitSpec,
} from "./authorized_keys.ts";
export {
  certificateAuthoritiesFor,
  checkHostKey,
  findHostEntries,
  formatKnownHostsLine,
  type FormatKnownHostsOptions,
  hashHostName,
  type HostKeyCheck,
  type KnownHostsDiagnostic,
  type KnownHostsEntry,
  type KnownHostsFile,
  type KnownHostsMarker,
  knownHostsName,
  type KnownHostsProblemKind,
  parseKnownHosts,
} from "./known_hosts.ts";
export {
  parseSshsig,
  signSshsig,
  type SignSshsigOptions,
  type SshsigCheck,
  SshsigError,
  type SshSignature,
  verifySshsig,
  type VerifySshsigOptions,
} from "./sshsig.ts";
export {
  type AllowedSigner,
  AllowedSignersError,
  findAllowedSigners,
  type FindAllowedSignersOptions,
  parseAllowedSigners,
  type ParseAllowedSignersOptions,
} from "./allowed_signers.ts";
export {
  type AddressListMatch,
  addrMatchList,
  type ClientIdentity,
  type IpAddress,
  matchHostAndIp,
  matchHostname,
  matchPattern,
  matchPatternList,
  type MatchPatternListOptions,
  parseAddress,
  type PatternListMatch,
} from "./patterns.ts";
export { formatAbsoluteTime, parseAbsoluteTime } from "./time.ts";
