// The pure parts of the OCI client: references, challenges, Docker config credentials, the package artifact's manifest.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { usesPlainHttp } from "../../src/oci/access.js";
import { dockerConfigCredentials, parseChallenge } from "../../src/oci/credentials.js";
import { packageLayer, packageManifest, PACKAGE_ARTIFACT_TYPE, PACKAGE_LAYER_TYPE } from "../../src/oci/package-artifact.js";
import { formatOciReference, isLoopbackRegistry, parseOciReference } from "../../src/oci/reference.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("OCI references", () => {
  it("parses registry, repository, tag and digest, and formats them back", () => {
    expect(parseOciReference("oci://registry.plant:5000/vision/screw-check:1.2.0")).toEqual({ registry: "registry.plant:5000", repository: "vision/screw-check", tag: "1.2.0" });
    expect(parseOciReference(`oci://127.0.0.1:5000/lines/line-a@${DIGEST}`)).toEqual({ registry: "127.0.0.1:5000", repository: "lines/line-a", digest: DIGEST });
    expect(parseOciReference(`oci://reg/a/b:t@${DIGEST}`)).toEqual({ registry: "reg", repository: "a/b", tag: "t", digest: DIGEST });
    expect(parseOciReference("oci://reg/a")).toEqual({ registry: "reg", repository: "a" });
    for (const text of ["oci://registry.plant:5000/vision/screw-check:1.2.0", `oci://reg/a/b:t@${DIGEST}`]) expect(formatOciReference(parseOciReference(text))).toBe(text);
  });

  it("refuses what is not a reference with 1006 and a hint", () => {
    for (const bad of ["http://reg/a:1", "oci://reg", "oci:///a:1", "oci://reg/A/B:1", "oci://reg/a:bad tag", "oci://reg/a@sha256:short", "oci://reg/a@md5:ab", "oci://re g/a:1"]) {
      expect(() => parseOciReference(bad), bad).toThrow(expect.objectContaining({ code: "1006", hint: expect.stringContaining("oci://") }));
    }
  });

  it("refuses a login pasted into a reference without repeating it", () => {
    let message = "";
    try {
      parseOciReference("oci://station:LeakyPass99@127.0.0.1:5000/vision/x:1.0");
    } catch (err) {
      message = (err as Error).message;
      expect(err).toMatchObject({ code: "1006" });
    }
    expect(message).toMatch(/^"oci:\/\/\*\*\*@127\.0\.0\.1:5000\/vision\/x:1\.0" is not an OCI reference: credentials do not go into a reference/);
    expect(message).not.toContain("LeakyPass99");
    for (const pasted of ["oci://ghp_SECRETTOKEN123@127.0.0.1:5000/vision/x:1.0", "oci://station:SEC/RETpw@127.0.0.1/vision/x:1.0", "oci://u:SEC@RET@127.0.0.1/vision/x:1.0"]) {
      const refused = (() => {
        try {
          parseOciReference(pasted);
          return "";
        } catch (err) {
          return (err as Error).message;
        }
      })();
      expect(refused, pasted).toMatch(/^"oci:\/\/\*\*\*@127\.0\.0\.1.*credentials do not go into a reference/);
      expect(refused, pasted).not.toMatch(/SECRET|SEC|RET/);
    }
    expect(() => parseOciReference("oci://127.0.0.1:5000/vision/x@sha512:ab")).toThrow(/the digest "sha512:ab" must be sha256/);
    expect(parseOciReference(`oci://127.0.0.1:5000/vision/x@${DIGEST}`)).toMatchObject({ registry: "127.0.0.1:5000", digest: DIGEST });
  });

  it("plain HTTP only on loopback, or when asked for explicitly", () => {
    expect(isLoopbackRegistry("127.0.0.1:5000")).toBe(true);
    expect(isLoopbackRegistry("localhost")).toBe(true);
    expect(isLoopbackRegistry("[::1]:5000")).toBe(true);
    expect(isLoopbackRegistry("registry.plant:5000")).toBe(false);
    expect(isLoopbackRegistry("10.0.0.5:5000")).toBe(false);
    expect(usesPlainHttp("registry.plant:5000", {})).toBe(false);
    expect(usesPlainHttp("registry.plant:5000", { plainHttp: true })).toBe(true);
    expect(usesPlainHttp("127.0.0.1:5000", {})).toBe(true);
  });
});

describe("registry authentication", () => {
  it("reads Basic and Bearer challenges", () => {
    expect(parseChallenge('Bearer realm="https://auth.plant/token",service="registry.plant",scope="repository:a/b:pull"')).toEqual({
      scheme: "bearer", params: { realm: "https://auth.plant/token", service: "registry.plant", scope: "repository:a/b:pull" },
    });
    expect(parseChallenge('Basic realm="plant"')).toEqual({ scheme: "basic", params: { realm: "plant" } });
    expect(parseChallenge(null)).toBeUndefined();
    expect(parseChallenge("Negotiate abc")).toBeUndefined();
  });

  it("takes credentials from the Docker config file by registry host, as docker login wrote them", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "pv-docker-config-"));
    try {
      const file = path.join(dir, "config.json");
      writeFileSync(file, JSON.stringify({ auths: {
        "registry.plant:5000": { auth: Buffer.from("ci:s3cr:et").toString("base64") },
        "https://other.plant/v1/": { auth: Buffer.from("bob:pw").toString("base64") },
      } }));
      expect(dockerConfigCredentials("registry.plant:5000", file)).toEqual({ username: "ci", password: "s3cr:et" });
      expect(dockerConfigCredentials("other.plant", file)).toEqual({ username: "bob", password: "pw" });
      expect(dockerConfigCredentials("unknown:5000", file)).toBeUndefined();
      expect(dockerConfigCredentials("registry.plant:5000", path.join(dir, "missing.json"))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the package artifact", () => {
  const facts = { fileName: "screw-v1.0-offline.zip", name: "screw", version: "1.0", target: "manylinux_2_17_x86_64 3.11 cp311", sums: "cd".repeat(32) };

  it("is an OCI image manifest of artifact type procvision.package.v1 with the zip as its one layer, byte-stable", () => {
    const bytes = packageManifest({ digest: DIGEST, size: 1234 }, facts);
    expect(packageManifest({ digest: DIGEST, size: 1234 }, facts).equals(bytes)).toBe(true);
    const m = JSON.parse(bytes.toString()) as { artifactType: string; layers: { mediaType: string; digest: string }[]; annotations: Record<string, string> };
    expect(m.artifactType).toBe(PACKAGE_ARTIFACT_TYPE);
    expect(m.layers).toEqual([expect.objectContaining({ mediaType: PACKAGE_LAYER_TYPE, digest: DIGEST, size: 1234 })]);
    expect(m.annotations).toMatchObject({ "org.procvision.package.name": "screw", "org.procvision.package.version": "1.0", "org.procvision.package.sha256sums": facts.sums });
    expect(packageLayer(bytes, "here")).toMatchObject({ digest: DIGEST, size: 1234, fileName: "screw-v1.0-offline.zip" });
  });

  it("anything else is 2001, and a hostile layer title does not name the staging file", () => {
    const image = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: "application/vnd.oci.image.config.v1+json" }, layers: [] }));
    expect(() => packageLayer(image, "oci://reg/a:1")).toThrow(expect.objectContaining({ code: "2001", message: expect.stringContaining("not a ProcVision package") }));
    expect(() => packageLayer(Buffer.from("not json"), "x")).toThrow(expect.objectContaining({ code: "2001" }));
    const bytes = packageManifest({ digest: DIGEST, size: 1 }, { ...facts, fileName: "../../etc/passwd" });
    expect(packageLayer(bytes, "x").fileName).toBe("package.zip");
  });
});
