// Zips made by the ORIGINAL `procvision-cli package` (procvision_algorithm_sdk 0.0.5, 0.0.7, 0.3.2 from PyPI) install
// and run on our runner (contract §5a, §7 Install): the original SDK they pin and ship is replaced by ours (and the
// runner says so), a stale .procvision_env.json is a warning, and the smoke check runs them exactly as their workers.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/runner/runner.js";
import { runCli } from "../helpers/cli.js";
import { originalZip, type OriginalRelease } from "../helpers/original-cli.js";
import { testPython } from "../helpers/python.js";
import { EXAMPLE, exampleZip, SDK_VERSION } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-original-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SAMPLE = path.join(EXAMPLE, "sample.png");

async function withRunner<T>(label: string, fn: (runner: Runner, root: string) => Promise<T>, config: { python?: string; installer?: "pip" } = {}): Promise<T> {
  const root = path.join(work, `root-${label}`);
  const runner = await Runner.open({ root, log: () => undefined, config });
  try {
    return await fn(runner, root);
  } finally {
    await runner.close();
  }
}

/** The SDK version a package's venv imports, asked of its own interpreter. */
function venvSdkVersion(dir: string): string {
  return execFileSync(path.join(dir, "venv", "bin", "python"), ["-c", "import procvision_algorithm_sdk as s; print(s.__version__)"], { encoding: "utf8" }).trim();
}

describe("zips made by the original procvision-cli package", () => {
  it.each<[OriginalRelease, string]>([["0.0.5", "G1"], ["0.0.7", "G1"], ["0.3.2", "G3"]])(
    "%s (%s): installs with the original SDK replaced by ours, activates and answers an inspection", async (release, generation) => {
      const name = `orig-${release.replaceAll(".", "")}`;
      const zip = await originalZip(release, work, { name });
      await withRunner(name, async (runner) => {
        const result = await runner.install(zip);
        expect(result.validation.checks.filter((c) => c.result === "FAIL")).toEqual([]);
        expect(result).toMatchObject({ name, version: "1.0.0", state: "installed", signed: "unsigned" });
        const warnings = result.warnings.join("\n");
        expect(warnings).toMatch(/no SHA256SUMS/);
        expect(warnings).toMatch(new RegExp(`pins procvision_algorithm_sdk==${release.replaceAll(".", "\\.")} and ships procvision_algorithm_sdk-${release.replaceAll(".", "\\.")}-py3-none-any\\.whl.*replaced by the runner's SDK ${SDK_VERSION.replaceAll(".", "\\.")}`));
        expect(venvSdkVersion(result.dir)).toBe(SDK_VERSION);
        const [audit] = await runner.audit({ action: "install" });
        expect(audit).toMatchObject({ outcome: "ok", target: `${name} 1.0.0` });
        expect(audit!.detail).toMatch(/replaced by the runner's SDK/);

        // G1 lists its PIDs; a G3 manifest lists none and takes any PID it is activated for.
        const pid = generation === "G1" ? "A01" : "LINE7-ANY";
        await runner.activate(name, "1.0.0", [pid]);
        const answer = await runner.inspect({ pid, step_index: 0, image: { path: SAMPLE }, ...(generation === "G3" ? { step_desc: "check the board" } : {}) });
        expect(answer.execute?.status).toBe("OK");
        expect(answer.execute?.data).toMatchObject({ result_status: "OK", debug: { width: expect.any(Number), height: expect.any(Number) } });
        if (generation === "G1") expect(answer.pre_execute?.status).toBe("OK");
        else expect(answer.execute?.data).toMatchObject({ debug: { step_desc: "check the board", guide: false } });
      });
    }, 600_000);

  it("a zip whose .procvision_env.json is stale (win_amd64/cp313, copied unchanged by the original packer) installs with a warning", async () => {
    const zip = await originalZip("0.0.7", work, {
      name: "orig-stale-env", envFile: { python_version: "3.13", implementation: "cp", abi: "cp313", wheels_platform: "win_amd64" },
    });
    await withRunner("stale-env", async (runner) => {
      const result = await runner.install(zip);
      expect(result.state).toBe("installed");
      expect(result.warnings.join("\n")).toMatch(/\.procvision_env\.json says python_version 3\.13 .*abi cp313 .*wheels_platform win_amd64 .*judged by the wheels' tags/);
      await runner.activate("orig-stale-env", "1.0.0", ["A01"]);
      expect((await runner.inspect({ pid: "A01", step_index: 0, image: { path: SAMPLE } })).execute?.status).toBe("OK");
    });
  }, 600_000);

  it("a zip whose requirements do not name the SDK gets the runner's (its workers could not start without it)", async () => {
    const zip = await originalZip("0.0.5", work, { name: "orig-no-sdk", requirements: "numpy==2.2.6\n" });
    await withRunner("no-sdk", async (runner) => {
      const result = await runner.install(zip);
      expect(result.state).toBe("installed");
      expect(result.warnings.join("\n")).toMatch(/requirements\.txt does not name procvision_algorithm_sdk: the runner's SDK .* is installed too/);
      expect(venvSdkVersion(result.dir)).toBe(SDK_VERSION);
      await runner.activate("orig-no-sdk", "1.0.0", ["A01"]);
      expect((await runner.inspect({ pid: "A01", step_index: 0, image: { path: SAMPLE } })).execute?.status).toBe("OK");
    });
  }, 600_000);

  it("with installer pip (which reads wheels/ as a directory) the original SDK is replaced the same way", async () => {
    const zip = await originalZip("0.0.7", work, { name: "orig-pip" });
    await withRunner("pip", async (runner) => {
      const result = await runner.install(zip);
      expect(result.state).toBe("installed");
      expect(venvSdkVersion(result.dir)).toBe(SDK_VERSION);
      await runner.activate("orig-pip", "1.0.0", ["A01"]);
      expect((await runner.inspect({ pid: "A01", step_index: 0, image: { path: SAMPLE } })).execute?.status).toBe("OK");
    }, { installer: "pip" });
  }, 600_000);

  it("validate --zip --full warns where the runner warns (SDK replaced, no SHA256SUMS, stale env file) and passes", async () => {
    const zip = await originalZip("0.0.7", work, {
      name: "orig-validate", envFile: { python_version: "3.13", implementation: "cp", abi: "cp313", wheels_platform: "win_amd64" },
    });
    const run = await runCli(["validate", "--zip", zip, "--full", "--python", testPython(), "--json"], { timeoutMs: 300_000 });
    const report = run.json as { summary: { status: string }; checks: { name: string; result: string; message: string }[]; warnings?: string[] };
    expect(report.checks.filter((c) => c.result === "FAIL")).toEqual([]);
    expect(run.code).toBe(0);
    const message = (name: string) => report.checks.find((c) => c.name === name)?.message ?? "";
    expect(message("zip_wheels")).toMatch(/warning: the package pins procvision_algorithm_sdk==0\.0\.7 .*replaced by the runner's SDK/);
    expect(message("checksums_valid")).toMatch(/^warning: the package has no SHA256SUMS/);
    expect(message("wheels_match_target")).toMatch(/warning: \.procvision_env\.json says python_version 3\.13/);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["zip_install", "zip_smoke"]));
    expect(report.warnings).toHaveLength(3);
  }, 600_000);

  const python38 = "/root/.pyenv/versions/3.8.18/bin/python3.8";
  it.runIf(existsSync(python38))("an original SDK that cannot be replaced on this runner's Python → 2003 saying why, nothing left behind", async () => {
    // 0.3.2 runs on Python 3.8; ours needs 3.9. Only the SDK is pinned and shipped, so nothing else can fail first.
    const zip = await originalZip("0.3.2", work, { name: "orig-py38", requirements: "procvision_algorithm_sdk==0.3.2\n", wheels: ["procvision_algorithm_sdk-0.3.2-py3-none-any.whl"] });
    await withRunner("py38", async (runner, root) => {
      const err = await runner.install(zip).then(() => ({ code: "none", message: "installed", hint: undefined }), (e: unknown) => e as { code: string; message: string; hint?: string });
      expect(err).toMatchObject({ code: "2003" });
      expect(err.message).toMatch(/procvision_algorithm_sdk must be replaced by the runner's SDK .* requires Python >=3\.9; this runner's .*python3\.8 is Python 3\.8/);
      expect(err.hint).toBeTruthy();
      expect(await runner.list()).toEqual([]);
      expect(readdirSync(path.join(root, "deployed"))).toEqual([]);
      expect(readdirSync(path.join(root, "zips"))).toEqual([]);
      expect((await runner.audit({ action: "install" }))[0]).toMatchObject({ outcome: "failed", error_code: "2003" });
    }, { python: python38 });
  }, 600_000);
});

describe("the install smoke check runs a package exactly as its workers do", () => {
  it("a venv without the SDK's adapter fails the smoke check (nothing is lent on PYTHONPATH) and the package turns invalid", async () => {
    const zip = await exampleZip(work, { name: "no-adapter" });
    await withRunner("no-adapter", async (runner) => {
      const installed = await runner.install(zip);
      expect(installed.state).toBe("installed");
      // What a worker of this package would import: take the SDK out of the venv.
      const lib = path.join(installed.dir, "venv", "lib");
      const sitePackages = path.join(lib, readdirSync(lib)[0]!, "site-packages");
      rmSync(path.join(sitePackages, "procvision_algorithm_sdk"), { recursive: true });
      const report = await runner.validate("no-adapter", "1.0");
      expect(report.summary.status).toBe("FAIL");
      expect(report.checks.find((c) => c.result === "FAIL")?.message).toMatch(/No module named 'procvision_algorithm_sdk'/);
      expect((await runner.list({ name: "no-adapter" }))[0]?.state).toBe("invalid");
    });
  }, 300_000);
});
