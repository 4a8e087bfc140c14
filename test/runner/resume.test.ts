// What a runner restart starts again: the versions bound to PIDs, and a clear line for a bound one it will not start.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../src/manifest/index.js";
import { resumeActive } from "../../src/runner/active-packages.js";
import { openDb } from "../../src/store/db.js";
import type { HostedPackage, PackageHost } from "../../src/store/host.js";
import { Repository } from "../../src/store/repository.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-resume-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function installed(repo: Repository, version: string, state: "installed" | "invalid"): void {
  const manifest = { name: "algo", version, entry_point: "m:C", supported_pids: ["p1", "p2"] } as Manifest;
  repo.beginInstall({ name: "algo", version, manifest, dir: path.join(work, version), source_zip: "/z.zip", zip_sha256: "ab", operator: "op" });
  const checks = state === "invalid" ? [{ name: "smoke_execute" as const, result: "FAIL" as const, message: "setup() exited" }] : [];
  repo.finishInstall("algo", version, {
    state, zip_path: "/zips/algo.zip", warnings: [], size_bytes: 1,
    validation: { summary: { status: state === "installed" ? "PASS" : "FAIL", passed: 0, failed: checks.length }, checks },
  });
}

describe("resumeActive", () => {
  it("starts bound installed versions and logs why a bound invalid one is not started", async () => {
    const repo = new Repository(openDb(path.join(work, "runner.db")));
    installed(repo, "1.0", "installed");
    installed(repo, "1.1", "invalid");
    repo.rebind("p1", { name: "algo", version: "1.0" }, "activate", "op");
    repo.rebind("p2", { name: "algo", version: "1.1" }, "activate", "op");
    const started: string[] = [];
    const host = { ensureRunning: async (p: HostedPackage) => void started.push(`${p.name} ${p.version}`) } as unknown as PackageHost;
    const lines: { line: string; level: string | undefined }[] = [];
    await resumeActive(repo, host, (line, level) => void lines.push({ line, level }));
    expect(started).toEqual(["algo 1.0"]);
    expect(lines).toEqual([{
      level: "error",
      line: "algo 1.1 is bound to p2 but invalid: its last validate failed (smoke_execute: setup() exited); not started. " +
        "Run `procvision-runner validate algo 1.1` again once the cause is fixed, or switch the PIDs",
    }]);
  });
});
