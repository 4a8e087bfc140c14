// Packages through a real OCI registry (Debian's docker-registry, CNCF distribution 2.8): publish, install by tag and
// by digest, a tampered blob, a non-package artifact, Basic auth by flag, Docker config and runner config.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setDesired } from "../../src/fleet/document.js";
import { readDesired, updateDesired } from "../../src/fleet/registry-state.js";
import { registryClient } from "../../src/oci/access.js";
import { manifestReference, parseOciReference } from "../../src/oci/reference.js";
import { RegistryClient, sha256Digest } from "../../src/oci/registry.js";
import { publishPackage } from "../../src/oci/publish.js";
import { Runner } from "../../src/runner/runner.js";
import { runCli, runRunnerCli, serveRunner } from "../helpers/cli.js";
import { stagingLeftovers, startRegistry, type TestRegistry } from "../helpers/oci-registry.js";
import { exampleZip, SDK_VERSION } from "../helpers/store.js";

let work: string;
let zip10: string;
let zip11: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "pv-oci-"));
  zip10 = await exampleZip(work, { version: "1.0" });
  zip11 = await exampleZip(work, { version: "1.1" });
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const quiet = () => undefined;

describe("an anonymous registry", () => {
  let registry: TestRegistry;
  beforeAll(async () => { registry = await startRegistry(); });
  afterAll(async () => { await registry.stop(); });

  it("publish prints the digest; the runner installs by tag and by digest; the audit names the pinned reference", async () => {
    const out = await runCli(["publish", zip10, `oci://${registry.host}/vision/algorithm-example:1.0`, "--json"]);
    expect(out.code, out.stderr).toBe(0);
    const published = out.json as { digest: string; ref: string; name: string; version: string; zip_digest: string; uploaded: boolean };
    expect(published).toMatchObject({ name: "algorithm-example", version: "1.0", uploaded: true });
    expect(published.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(published.zip_digest).toBe(sha256Digest(readFileSync(zip10)));
    // The same zip under another tag uploads nothing and is the same artifact.
    const again = await publishPackage(zip10, `oci://${registry.host}/vision/algorithm-example:stable`);
    expect(again).toMatchObject({ digest: published.digest, uploaded: false });
    await publishPackage(zip11, `oci://${registry.host}/vision/algorithm-example:1.1`);

    const root = path.join(work, "runner-anon");
    const runner = await Runner.open({ root, log: quiet });
    try {
      const byTag = await runner.install(`oci://${registry.host}/vision/algorithm-example:1.1`);
      expect(byTag.state).toBe("installed");
      const byDigest = await runner.install({ ref: `oci://${registry.host}/vision/algorithm-example@${published.digest}` });
      expect(byDigest).toMatchObject({ state: "installed", version: "1.0" });
      expect((await runner.list()).map((p) => p.version).sort()).toEqual(["1.0", "1.1"]);
      const audit = await runner.audit({ action: "install" });
      expect(audit.map((a) => a.detail).join("\n")).toContain(`from oci://${registry.host}/vision/algorithm-example@${published.digest}`);
      expect(stagingLeftovers(root)).toEqual([]);
    } finally {
      await runner.close();
    }
  }, 300_000);

  it("a blob changed in the registry's storage is 2008 and nothing is kept", async () => {
    const published = await publishPackage(zip10, `oci://${registry.host}/vision/tampered:1.0`);
    const blob = registry.blobFile(published.zip_digest);
    const bytes = readFileSync(blob);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(blob, bytes);
    const root = path.join(work, "runner-tampered");
    const runner = await Runner.open({ root, log: quiet });
    try {
      await expect(runner.install({ ref: `oci://${registry.host}/vision/tampered:1.0` })).rejects.toMatchObject({ code: "2008", message: expect.stringContaining(published.zip_digest) });
      expect(await runner.list()).toEqual([]);
      expect(stagingLeftovers(root)).toEqual([]);
      expect((await runner.audit({ action: "install" }))[0]).toMatchObject({ outcome: "failed", error_code: "2008", target: `oci://${registry.host}/vision/tampered:1.0` });
    } finally {
      await runner.close();
    }
  }, 300_000);

  it("a blob that grew or shrank in storage is 2008 and its file is removed (the download is cut off at the size)", async () => {
    const client = new RegistryClient(registry.host, { plainHttp: true });
    for (const [name, change] of [["grown", (b: Buffer) => Buffer.concat([b, Buffer.alloc(3 << 20, 7)])], ["shrunk", (b: Buffer) => b.subarray(0, b.length - 1)]] as const) {
      // Several MiB, so the download spans many chunks and batched writes.
      const bytes = Buffer.alloc(5 << 20, name.length);
      const digest = sha256Digest(bytes);
      await client.pushBlobBytes(`vision/${name}`, bytes, digest);
      writeFileSync(registry.blobFile(digest), change(bytes));
      const dest = path.join(work, `${name}.zip`);
      await expect(client.pullBlobToFile(`vision/${name}`, digest, bytes.length, dest)).rejects.toMatchObject({
        code: "2008", message: expect.stringMatching(name === "grown" ? /longer than the 5242880 bytes/ : /of 5242880 bytes/),
      });
      expect(existsSync(dest)).toBe(false);
    }
  }, 120_000);

  it("a reference to nothing is 3006; an artifact that is not a package is 2001", async () => {
    const runner = await Runner.open({ root: path.join(work, "runner-wrong"), log: quiet });
    const client = new RegistryClient(registry.host, { plainHttp: true });
    try {
      await expect(runner.install({ ref: `oci://${registry.host}/vision/nothing:1.0` })).rejects.toMatchObject({ code: "3006" });
      const config = Buffer.from("{}");
      await client.pushBlobBytes("vision/image", config, sha256Digest(config));
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256Digest(config), size: 2 }, layers: [] }));
      await client.putManifest("vision/image", "1.0", manifest);
      await expect(runner.install({ ref: `oci://${registry.host}/vision/image:1.0` })).rejects.toMatchObject({ code: "2001", message: expect.stringContaining("not a ProcVision package") });
    } finally {
      await runner.close();
    }
  }, 120_000);

  it("publish refuses a package whose requirements no wheel covers (2004), as a station would, and pushes nothing", async () => {
    const zip = await exampleZip(path.join(work), { version: "4.0", fileName: "uncovered.zip", requirements: `numpy==2.2.6\nnonexistent-pkg==1.2.3\nprocvision_algorithm_sdk==${SDK_VERSION}\n` });
    const out = await runCli(["publish", zip, `oci://${registry.host}/vision/uncovered:4.0`, "--json"]);
    expect(out.code).toBe(1);
    expect(out.json).toMatchObject({ error_code: "2004", message: expect.stringContaining("nonexistent-pkg==1.2.3") });
    const client = new RegistryClient(registry.host, { plainHttp: true });
    expect(await client.headManifest("vision/uncovered", "4.0")).toBeUndefined();
  }, 120_000);

  it("desired set from several places at once: no change is lost (the write is checked and made again on what is there)", async () => {
    const published = await publishPackage(zip10, `oci://${registry.host}/vision/concurrent:1.0`);
    const ref = `oci://${registry.host}/lines/concurrent:desired`;
    const pkg = `oci://${registry.host}/vision/concurrent@${published.digest}`;
    await Promise.all(["A01", "A02", "A03", "A04"].map((pid) => updateDesired(ref, (doc) => setDesired(doc, pkg, [pid]), () => ({}))));
    const { doc } = await readDesired(ref, () => ({}));
    expect(doc.packages.flatMap((e) => e.pids).sort()).toEqual(["A01", "A02", "A03", "A04"]);
  }, 120_000);

  it("a station following a reference with nothing published says so once in its log", async () => {
    const lines: string[] = [];
    const desired = `oci://${registry.host}/lines/typo:desired`;
    const runner = await Runner.open({ root: path.join(work, "runner-nothing"), log: (line) => lines.push(line), config: { fleet: { desired, poll_ms: 60_000 } } });
    try {
      await runner.fleetPoll();
      await runner.fleetPoll();
      expect(lines.filter((l) => l.includes(`nothing is published at ${desired} yet`))).toHaveLength(1);
    } finally {
      await runner.close();
    }
  }, 120_000);

  it("big blobs go up in chunks and come back byte for byte", async () => {
    const file = path.join(work, "chunked.bin");
    const data = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    writeFileSync(file, data);
    const client = new RegistryClient(registry.host, { plainHttp: true, chunkBytes: 1024 * 1024 });
    const digest = sha256Digest(data);
    const progress: number[] = [];
    await client.pushBlobFile("vision/chunked", file, digest, data.length, (sent) => progress.push(sent));
    expect(progress.length).toBeGreaterThanOrEqual(6);
    const back = path.join(work, "chunked.back");
    await client.pullBlobToFile("vision/chunked", digest, data.length, back);
    expect(readFileSync(back).equals(data)).toBe(true);
  }, 120_000);

  it("procvision-runner install oci://… asks a running runner to pull (HTTP {ref})", async () => {
    const published = await publishPackage(zip11, `oci://${registry.host}/vision/served:1.1`);
    const root = path.join(work, "runner-served");
    const served = await serveRunner(root);
    try {
      const out = await runRunnerCli(["install", `oci://${registry.host}/vision/served@${published.digest}`, "--root", root, "--json"]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.json).toMatchObject({ state: "installed", version: "1.1" });
      const bad = await served.call("POST", "/algorithms/install", JSON.stringify({ ref: "oci://nope" }), "application/json");
      expect(bad.status).toBe(400);
      expect(bad.json).toMatchObject({ error_code: "1006" });
      // A registry that is not there is the registry's failure (502), not a conflict of the request.
      const down = await served.call("POST", "/algorithms/install", JSON.stringify({ ref: "oci://127.0.0.1:1/vision/none:1.0" }), "application/json");
      expect(down.status).toBe(502);
      expect(down.json).toMatchObject({ error_code: "2005", message: expect.stringContaining("registry 127.0.0.1:1 is unreachable") });
    } finally {
      await served.stop();
    }
  }, 300_000);
});

describe("a registry behind Basic auth", () => {
  let registry: TestRegistry;
  beforeAll(async () => { registry = await startRegistry({ users: { ci: "pa55:word" } }); });
  afterAll(async () => { await registry.stop(); });

  it("publish: anonymous is 3007 with a hint; --password-stdin and the Docker config file get in", async () => {
    const ref = `oci://${registry.host}/vision/auth:1.0`;
    const anonymous = await runCli(["publish", zip10, ref, "--json"], { env: { DOCKER_CONFIG: path.join(work, "no-docker") } });
    expect(anonymous.code).toBe(1);
    expect(anonymous.json).toMatchObject({ error_code: "3007", hint: expect.stringContaining("--password-stdin") });
    const wrong = await runCli(["publish", zip10, ref, "--username", "ci", "--password-stdin", "--json"], { input: "nope\n", env: { DOCKER_CONFIG: path.join(work, "no-docker") } });
    expect(wrong.json).toMatchObject({ error_code: "3007" });
    const byFlag = await runCli(["publish", zip10, ref, "--username", "ci", "--password-stdin", "--json"], { input: "pa55:word\n" });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(byFlag.stdout + byFlag.stderr).not.toContain("pa55");
    const dockerDir = path.join(work, "docker");
    mkdirSync(dockerDir, { recursive: true });
    writeFileSync(path.join(dockerDir, "config.json"), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from("ci:pa55:word").toString("base64") } } }));
    const byConfig = await runCli(["publish", zip11, `oci://${registry.host}/vision/auth:1.1`, "--json"], { env: { DOCKER_CONFIG: dockerDir } });
    expect(byConfig.code, byConfig.stderr).toBe(0);
    const noPassword = await runCli(["publish", zip10, ref, "--username", "ci"]);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain("--password-stdin");
  }, 300_000);

  it("a station polling with the same login pays the Basic challenge once, not at every poll", async () => {
    const credentials = { username: "ci", password: "pa55:word" };
    await publishPackage(zip10, `oci://${registry.host}/vision/poll:1.0`, { credentials });
    const ref = parseOciReference(`oci://${registry.host}/vision/poll:1.0`);
    const answers: number[] = [];
    const real = globalThis.fetch;
    // Counts what really reaches the registry; every request still goes to it.
    globalThis.fetch = (async (...args: Parameters<typeof fetch>) => {
      const res = await real(...args);
      answers.push(res.status);
      return res;
    }) as typeof fetch;
    try {
      for (let i = 0; i < 3; i++) expect(await registryClient(ref, { credentials: { ...credentials } }).headManifest(ref.repository, manifestReference(ref))).toMatch(/^sha256:/);
    } finally {
      globalThis.fetch = real;
    }
    expect(answers.filter((s) => s === 200)).toHaveLength(3);
    expect(answers.filter((s) => s === 401).length).toBeLessThanOrEqual(1);
  }, 300_000);

  it("the runner reads the user and password file of fleet.registries; the password never reaches the audit", async () => {
    const published = await publishPackage(zip10, `oci://${registry.host}/vision/runner-auth:1.0`, { credentials: { username: "ci", password: "pa55:word" } });
    const passwordFile = path.join(work, "registry-password");
    writeFileSync(passwordFile, "pa55:word\n", { mode: 0o600 });
    const root = path.join(work, "runner-auth");
    // Without credentials for the registry: 3007 whose hint names the runner's config (it has no --username), and
    // over HTTP a 502, not the 401 that tells a client (the console) its own token is wrong.
    const anonymousRoot = path.join(work, "runner-anon-auth");
    mkdirSync(anonymousRoot, { recursive: true });
    writeFileSync(path.join(anonymousRoot, "runner_config.json"), JSON.stringify({ fleet: { docker_config: path.join(work, "no-docker", "config.json") } }));
    const served = await serveRunner(anonymousRoot);
    try {
      const refused = await served.call("POST", "/algorithms/install", JSON.stringify({ ref: `oci://${registry.host}/vision/runner-auth@${published.digest}` }), "application/json");
      expect(refused.status).toBe(502);
      expect(refused.json).toMatchObject({ error_code: "3007", message: expect.stringContaining(`registry ${registry.host} refused us`), hint: expect.stringContaining(`fleet.registries["${registry.host}"]`) });
    } finally {
      await served.stop();
    }
    const runner = await Runner.open({ root, log: quiet, config: { fleet: { registries: { [registry.host]: { username: "ci", password_file: passwordFile } } } } });
    try {
      expect((await runner.install({ ref: `oci://${registry.host}/vision/runner-auth@${published.digest}` })).state).toBe("installed");
      expect(JSON.stringify(await runner.audit({}))).not.toContain("pa55");
    } finally {
      await runner.close();
    }
  }, 300_000);
});
