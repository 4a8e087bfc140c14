import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync,
  sign as cryptoSign, verify as cryptoVerify, type KeyObject,
} from "node:crypto";
import { readFileSync } from "node:fs";

/*
 * Ed25519 signatures over SHA256SUMS. A key that cannot be read or is not an ed25519 PEM key is bad user input (a
 * `--sign` flag, a runner's trusted_keys entry), not a broken package: those throw a plain Error whose message names
 * the file and the fix, for the caller to report as a usage/configuration error. Code 2008 belongs to packages whose
 * signature does not verify, which `verify` reports as `false` for the installer to turn into 2008.
 */

export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateKeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

function readKeyFile(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read the ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

function requireEd25519(key: KeyObject, source: string, what: string): KeyObject {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`${source} is a ${key.asymmetricKeyType ?? "non-asymmetric"} key, not an ed25519 ${what}; create one with "procvision-cli keygen"`);
  }
  return key;
}

export function loadPrivateKey(file: string): KeyObject {
  const pem = readKeyFile(file, "private key");
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`${file} is not a PEM private key; create one with "procvision-cli keygen" and pass the .key file`);
  }
  return requireEd25519(key, file, "private key");
}

/** Accepts the PEM text itself or the path of a PEM file (a private key PEM yields its public half). */
export function loadPublicKey(pemOrFile: string): KeyObject {
  const inline = pemOrFile.includes("-----BEGIN");
  const source = inline ? "the given PEM text" : pemOrFile;
  const pem = inline ? pemOrFile : readKeyFile(pemOrFile, "public key");
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error(`${source} is not a PEM public key; use the .pub file written by "procvision-cli keygen"`);
  }
  return requireEd25519(key, source, "public key");
}

/** Base64 ed25519 signature of `data`. */
export function sign(data: Buffer, privateKey: KeyObject): string {
  return cryptoSign(null, data, privateKey).toString("base64");
}

/** True when any of `publicKeys` verifies the signature; a malformed signature is simply not valid. */
export function verify(data: Buffer, signatureBase64: string, publicKeys: readonly KeyObject[]): boolean {
  const text = signatureBase64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return false;
  const signature = Buffer.from(text, "base64");
  return publicKeys.some((key) => {
    try {
      return cryptoVerify(null, data, key, signature);
    } catch {
      return false;
    }
  });
}

/** Short id of a public key for logs and audit: the first 16 hex digits of the sha256 of its raw 32 bytes. */
export function keyFingerprint(publicKey: KeyObject): string {
  const { x } = publicKey.export({ format: "jwk" });
  if (publicKey.asymmetricKeyType !== "ed25519" || x === undefined) throw new Error("keyFingerprint needs an ed25519 key");
  return createHash("sha256").update(Buffer.from(x, "base64url")).digest("hex").slice(0, 16);
}
