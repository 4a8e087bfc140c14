import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcVisionError } from "../../src/errors/index.js";
import { parseRunnerConfig } from "../../src/runner/config.js";
import { publicTelemetryConfig, resolveCredentials } from "../../src/telemetry/config.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-telemetry-config-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
const base = { endpoint: "http://127.0.0.1:9000", bucket: "pv-data", access_key_id: "AKIDEXAMPLE", secret_access_key: SECRET };

function messageOf(value: unknown): string {
  try {
    parseRunnerConfig(value);
  } catch (err) {
    expect(err).toBeInstanceOf(ProcVisionError);
    return (err as ProcVisionError).message;
  }
  throw new Error("expected a ProcVisionError");
}

describe("runner_config.json telemetry and workstation_id (contract §8)", () => {
  it("defaults workstation_id to the host name and fills the telemetry defaults", () => {
    const c = parseRunnerConfig({ telemetry: base });
    expect(c.workstation_id).toBe(os.hostname().replace(/[^A-Za-z0-9._-]/g, "-"));
    expect(c.telemetry).toMatchObject({ region: "us-east-1", prefix: "", upload: { records: true, logs: true, ng_images: true } });
    expect(parseRunnerConfig({}).telemetry).toBeUndefined();
    expect(parseRunnerConfig({ workstation_id: "line3-st07" }).workstation_id).toBe("line3-st07");
  });

  it("rejects unknown keys and bad values naming the key, and never echoes a credential", () => {
    expect(messageOf({ telemetry: { ...base, buckit: "x" } })).toMatch(/telemetry: unknown key "buckit"/);
    expect(messageOf({ telemetry: { ...base, upload: { images: true } } })).toMatch(/telemetry\.upload: unknown key "images"/);
    expect(messageOf({ telemetry: { ...base, endpoint: "s3.local" } })).toMatch(/telemetry\.endpoint/);
    const login = messageOf({ telemetry: { ...base, endpoint: "http://user:UrlSecret9@minio.plant:9000" } });
    expect(login).toMatch(/telemetry\.endpoint: no user or password in the URL/);
    expect(login).not.toContain("UrlSecret9");
    expect(messageOf({ telemetry: { ...base, quota_mb: 0 } })).toMatch(/telemetry\.quota_mb/);
    expect(messageOf({ workstation_id: "line 3/st07" })).toMatch(/workstation_id/);
    const both = messageOf({ telemetry: { ...base, secret_access_key_file: "/run/secrets/s3" } });
    expect(both).toMatch(/telemetry\.secret_access_key_file: give secret_access_key or secret_access_key_file, not both/);
    expect(both).not.toContain(SECRET);
    const { access_key_id: _, ...noKey } = base;
    expect(messageOf({ telemetry: noKey })).toMatch(/telemetry\.access_key_id: required: access_key_id or access_key_id_file/);
    const wrongType = messageOf({ telemetry: { ...base, secret_access_key: 12345678 } });
    expect(wrongType).toMatch(/telemetry\.secret_access_key: expected a string \(the value is not shown\)/);
    expect(wrongType).not.toContain("12345678");
  });

  it("reads credentials from files, and a missing file names the key, not a value", () => {
    const file = path.join(work, "secret");
    writeFileSync(file, `${SECRET}\n`);
    const c = parseRunnerConfig({ telemetry: { endpoint: base.endpoint, bucket: base.bucket, access_key_id: "AKIDEXAMPLE", secret_access_key_file: file } });
    expect(resolveCredentials(c.telemetry!)).toEqual({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: SECRET });
    const missing = parseRunnerConfig({ telemetry: { ...c.telemetry!, secret_access_key_file: path.join(work, "nope") } });
    expect(() => resolveCredentials(missing.telemetry!)).toThrow(/telemetry\.secret_access_key_file: cannot read .*nope: ENOENT/);
    expect(() => resolveCredentials(missing.telemetry!)).toThrow(expect.objectContaining({ code: "1006" }));
  });

  it("shows the settings without any credential", () => {
    const shown = JSON.stringify(publicTelemetryConfig(parseRunnerConfig({ telemetry: base }).telemetry!));
    expect(shown).toContain("pv-data");
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain("AKIDEXAMPLE");
  });
});
