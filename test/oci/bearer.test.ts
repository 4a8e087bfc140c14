// The Bearer token flow of the distribution spec against a real registry (CNCF distribution with token auth): the
// client answers the challenge by asking the realm for a token with its credentials, for the repository's scope.
// The token service is the only part written here (a registry delegates it to the plant's identity service); it
// signs JWTs with a key whose self-signed certificate the registry trusts, granting what the user may do.
import { execFileSync } from "node:child_process";
import { createSign, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishPackage } from "../../src/oci/publish.js";
import { pullPackage } from "../../src/oci/pull.js";
import { sha256Digest } from "../../src/oci/registry.js";
import { startRegistry, type TestRegistry } from "../helpers/oci-registry.js";
import { exampleZip } from "../helpers/store.js";

const SERVICE = "procvision-test-registry";
const ISSUER = "procvision-test-tokens";
let work: string;
let zip: string;
let registry: TestRegistry;
let tokens: Server;
const requests: { user: string | null; scope: string | null }[] = [];

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "pv-bearer-"));
  zip = await exampleZip(work);
  const key = path.join(work, "key.pem");
  const cert = path.join(work, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=procvision-tokens", "-days", "1"], { stdio: "ignore" });
  const der = readFileSync(cert, "utf8").replace(/-----[^-]+-----|\s/g, "");
  const privateKey = readFileSync(key, "utf8");
  // ci:secret may pull and push; anyone else gets a token that grants nothing.
  tokens = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const basic = req.headers.authorization?.startsWith("Basic ") ? Buffer.from(req.headers.authorization.slice(6), "base64").toString() : null;
    const scope = url.searchParams.get("scope");
    requests.push({ user: basic?.split(":")[0] ?? null, scope });
    const [, name, actions] = (scope ?? "").split(":");
    const access = basic === "ci:secret" && name ? [{ type: "repository", name, actions: (actions ?? "").split(",") }] : [];
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [der] }));
    const claims = b64url(JSON.stringify({ iss: ISSUER, sub: basic?.split(":")[0] ?? "", aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(privateKey).toString("base64url");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `${header}.${claims}.${signature}` }));
  });
  await new Promise<void>((resolve) => tokens.listen(0, "127.0.0.1", resolve));
  const realm = `http://127.0.0.1:${(tokens.address() as { port: number }).port}/token`;
  registry = await startRegistry({ token: { realm, service: SERVICE, issuer: ISSUER, certFile: cert } });
}, 300_000);

afterAll(async () => {
  await registry?.stop();
  await new Promise((resolve) => tokens?.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

describe("a registry with token auth", () => {
  it("publish and pull get a token for the repository's scope with the credentials, and the bytes come back", async () => {
    const ref = `oci://${registry.host}/vision/bearer:1.0`;
    const published = await publishPackage(zip, ref, { credentials: { username: "ci", password: "secret" } });
    expect(requests).toContainEqual({ user: "ci", scope: "repository:vision/bearer:pull,push" });
    const pulled = await pullPackage(ref, work, { credentials: { username: "ci", password: "secret" } });
    expect(pulled.digest).toBe(published.digest);
    expect(sha256Digest(readFileSync(pulled.zipPath))).toBe(published.zip_digest);
    expect(requests).toContainEqual({ user: "ci", scope: "repository:vision/bearer:pull" });
  }, 120_000);

  it("without credentials the token grants nothing: 3007 with a hint to log in", async () => {
    await expect(pullPackage(`oci://${registry.host}/vision/bearer:1.0`, work, { dockerConfig: path.join(work, "none.json") }))
      .rejects.toMatchObject({ code: "3007", hint: expect.stringContaining("--password-stdin") });
  }, 120_000);
});
