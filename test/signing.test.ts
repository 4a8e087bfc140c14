import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateKeyPair, keyFingerprint, loadPrivateKey, loadPublicKey, sign, verify } from "../src/signing/index.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-signing-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function keyFiles(name: string): { privateFile: string; publicFile: string } {
  const pair = generateKeyPair();
  const privateFile = path.join(work, `${name}.key`);
  const publicFile = path.join(work, `${name}.pub`);
  writeFileSync(privateFile, pair.privateKeyPem);
  writeFileSync(publicFile, pair.publicKeyPem);
  return { privateFile, publicFile };
}

describe("ed25519 signing", () => {
  const sums = Buffer.from(`${"a".repeat(64)}  manifest.json\n`);

  it("signs with a private key file and verifies with the public key (file or PEM text)", () => {
    const { privateFile, publicFile } = keyFiles("one");
    const signature = sign(sums, loadPrivateKey(privateFile));
    expect(Buffer.from(signature, "base64")).toHaveLength(64);
    expect(verify(sums, signature, [loadPublicKey(publicFile)])).toBe(true);
    expect(verify(sums, `${signature}\n`, [loadPublicKey(publicFile)])).toBe(true);
    expect(verify(sums, signature, [loadPublicKey(generateKeyPair().publicKeyPem)])).toBe(false);
  });

  it("accepts a signature from any of the trusted keys", () => {
    const a = keyFiles("a");
    const b = keyFiles("b");
    const signature = sign(sums, loadPrivateKey(b.privateFile));
    expect(verify(sums, signature, [loadPublicKey(a.publicFile), loadPublicKey(b.publicFile)])).toBe(true);
    expect(verify(sums, signature, [])).toBe(false);
  });

  it("rejects tampered data and malformed signatures", () => {
    const { privateFile, publicFile } = keyFiles("two");
    const key = loadPublicKey(publicFile);
    const signature = sign(sums, loadPrivateKey(privateFile));
    const tampered = Buffer.from(sums);
    tampered[0] = "b".charCodeAt(0);
    expect(verify(tampered, signature, [key])).toBe(false);
    expect(verify(sums, "not base64 at all!", [key])).toBe(false);
    expect(verify(sums, Buffer.alloc(10).toString("base64"), [key])).toBe(false);
    expect(verify(sums, "", [key])).toBe(false);
  });

  it("fingerprints the raw public key: 16 hex digits, same from the private key", () => {
    const { privateFile, publicFile } = keyFiles("three");
    const fingerprint = keyFingerprint(loadPublicKey(publicFile));
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(keyFingerprint(loadPublicKey(privateFile))).toBe(fingerprint);
    expect(keyFingerprint(loadPublicKey(generateKeyPair().publicKeyPem))).not.toBe(fingerprint);
  });

  it("explains unreadable, malformed and non-ed25519 key files", () => {
    const garbage = path.join(work, "garbage.key");
    writeFileSync(garbage, "hello");
    const rsa = path.join(work, "rsa.key");
    writeFileSync(rsa, generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }));
    const { publicFile } = keyFiles("four");
    expect(() => loadPrivateKey(path.join(work, "missing.key"))).toThrow(/cannot read the private key .*missing\.key/);
    expect(() => loadPrivateKey(garbage)).toThrow(/garbage\.key is not a PEM private key.*keygen/);
    expect(() => loadPrivateKey(publicFile)).toThrow(/four\.pub is not a PEM private key/);
    expect(() => loadPrivateKey(rsa)).toThrow(/rsa\.key is a rsa key, not an ed25519 private key/);
    expect(() => loadPublicKey(rsa)).toThrow(/rsa\.key is a rsa key, not an ed25519 public key/);
    expect(() => loadPublicKey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")).toThrow(/the given PEM text is not a PEM public key/);
  });
});
