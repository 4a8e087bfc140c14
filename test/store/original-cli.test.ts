// Zips made by the ORIGINAL `procvision-cli package` (procvision_algorithm_sdk 0.0.5, 0.0.7, 0.3.2 from PyPI) install
// and run on our runner (contract §5a, §7 Install): the original SDK they pin and ship is replaced by ours (and the
// runner says so), a stale .procvision_env.json is a warning, and the smoke check runs them exactly as their workers.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Runner } from "../../src/runner/runner.js";
import { originalZip, type OriginalRelease } from "../helpers/original-cli.js";
import { EXAMPLE, SDK_VERSION } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-original-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SAMPLE = path.join(EXAMPLE, "sample.png");

async function withRunner<T>(label: string, fn: (runner: Runner, root: string) => Promise<T>, config: { python?: string } = {}): Promise<T> {
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
        const answer = await runner.inspect({ pid, step_index: 1, image: { path: SAMPLE }, ...(generation === "G3" ? { step_desc: "check the board" } : {}) });
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
      expect((await runner.inspect({ pid: "A01", step_index: 1, image: { path: SAMPLE } })).execute?.status).toBe("OK");
    });
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
