import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPackageZip } from "../../src/offline-package/index.js";
import { runCli, type Report } from "../helpers/cli.js";
import { serveIndex } from "../helpers/index-server.js";
import { originalCli, originalVenv } from "../helpers/original-cli.js";
import { repoRoot } from "../helpers/python.js";
import { SDK_VERSION } from "../helpers/store.js";

/**
 * Projects made by the original SDK's own `procvision-cli init` (0.0.7: G1 with steps from 0 and PID_TO_FILL; 0.3.2:
 * G3 with the minimal manifest), validated, run and packaged by ours, with the author's venv that still holds the
 * original SDK (numpy, Pillow) as the project's Python.
 */
const work = mkdtempSync(path.join(tmpdir(), "pv-cli-original-"));
const sample = path.join(repoRoot, "examples", "algorithm-example", "sample.png");
let index: { url: string; close: () => Promise<void> };
const made: Record<"0.0.7" | "0.3.2", { dir: string; python: string }> = { "0.0.7": { dir: "", python: "" }, "0.3.2": { dir: "", python: "" } };

beforeAll(async () => {
  for (const [version, name] of [["0.0.7", "legacy-algo"], ["0.3.2", "g3-algo"]] as const) {
    const python = await originalVenv(version);
    await originalCli(version, ["init", name, "-d", path.join(work, name)], work);
    made[version] = { dir: path.join(work, name), python };
  }
  index = await serveIndex([path.join(repoRoot, ".cache", "wheels")]);
}, 300_000);
afterAll(async () => {
  await index?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Packaged {
  path: string;
  requirements: string[];
  frozen?: string[];
}

async function zipText(zip: string, entry: string): Promise<string> {
  const opened = await openPackageZip(zip);
  try {
    return await opened.readText(entry);
  } finally {
    opened.close();
  }
}

/** Package with our CLI: no requirements.txt, so the author's venv is frozen; wheels from the local index. */
async function packageOriginal(dir: string, python: string): Promise<Packaged> {
  const run = await runCli(["package", dir, "--python", python, "--isolated", "--index-url", index.url, "--json"], { timeoutMs: 240_000 });
  expect(run.code, run.stderr + run.stdout).toBe(0);
  return run.json as Packaged;
}

describe("a project made by the original 0.0.7 init (G1, step 0, PID_TO_FILL)", () => {
  it("is what the original init writes", () => {
    const { dir } = made["0.0.7"];
    expect(JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"))).toMatchObject({
      name: "legacy-algo", entry_point: "legacy_algo.main:LegacyAlgoAlgorithm", supported_pids: ["PID_TO_FILL"], steps: [{ index: 0 }],
    });
    expect(JSON.parse(readFileSync(path.join(dir, ".procvision_env.json"), "utf8"))).toMatchObject({ wheels_platform: null, auto_freeze: true });
    expect(existsSync(path.join(dir, "requirements.txt"))).toBe(false);
  });

  it("validates with every G1 check, on the author's venv with the original SDK (ours stands in for it)", async () => {
    const { dir, python } = made["0.0.7"];
    const run = await runCli(["validate", dir, "--python", python, "--json"]);
    const report = run.json as Report;
    expect(report.summary, run.stdout).toEqual({ status: "PASS", passed: 21, failed: 0 });
    expect(report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/G1.*bundled SDK in place of the installed procvision_algorithm_sdk 0\.0\.7/);
    expect(run.code).toBe(0);
  });

  it("runs step 0 for PID_TO_FILL, with --step 0 and, as the original CLI's README runs it, without --step", async () => {
    const { dir, python } = made["0.0.7"];
    for (const step of [["--step", "0"], []]) {
      const run = await runCli(["run", dir, "--pid", "PID_TO_FILL", "--image", sample, ...step, "--python", python, "--json"]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.json).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK", data: { result_status: "OK" } } });
    }
  });

  it("packages: the venv is frozen (original SDK pin replaced by ours), the env file's wheels_platform null is accepted, validate --zip --full passes", async () => {
    const { dir, python } = made["0.0.7"];
    const out = await packageOriginal(dir, python);
    expect(out.frozen).toEqual(expect.arrayContaining(["procvision_algorithm_sdk==0.0.7", expect.stringMatching(/^numpy==/) as unknown]));
    expect(out.requirements.filter((r) => /^procvision[-_]algorithm[-_]sdk==/.test(r))).toEqual([`procvision_algorithm_sdk==${SDK_VERSION}`]);
    expect(await zipText(out.path, "legacy_algo/main.py")).toMatch(/class LegacyAlgoAlgorithm\(BaseAlgorithm\)/);
    const checked = await runCli(["validate", "--zip", out.path, "--full", "--json"], { timeoutMs: 240_000 });
    expect((checked.json as Report).summary.status, checked.stdout).toBe("PASS");
    expect((checked.json as Report).checks.find((c) => c.name === "zip_smoke")?.result).toBe("PASS");
  });
});

describe("a project made by the original 0.3.2 init (G3, minimal manifest)", () => {
  it("is what the original init writes", () => {
    const { dir } = made["0.3.2"];
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(manifest).sort()).toEqual(["description", "entry_point", "name", "version"]);
    expect(readFileSync(path.join(dir, "g3_algo", "main.py"), "utf8")).toMatch(/def execute\(\s*self,\s*step_index: int,\s*step_desc: str,\s*cur_image/);
  });

  it("validates with the G3 checks (execute with both images, step 1)", async () => {
    const { dir, python } = made["0.3.2"];
    const run = await runCli(["validate", dir, "--python", python, "--json"]);
    const report = run.json as Report;
    expect(report.summary, run.stdout).toEqual({ status: "PASS", passed: 14, failed: 0 });
    expect(report.checks.map((c) => c.name)).not.toContain("get_info");
    expect(report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/G3/);
  });

  it("runs with --cur-image and --guide-image and no --pid; without a guide image its own check answers 1002 (exit 1)", async () => {
    const { dir, python } = made["0.3.2"];
    const info = path.join(work, "guide.json");
    writeFileSync(info, JSON.stringify([{ label: "1", posList: [] }, { label: "2", posList: [] }]));
    const run = await runCli(["run", dir, "--cur-image", sample, "--guide-image", sample, "--step-desc", "装配检查", "--guide-info", `@${info}`,
      "--python", python, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toEqual({ execute: expect.objectContaining({
      status: "OK", data: { result_status: "OK", defect_rects: [], debug: { step_index: 1, step_desc: "装配检查", guide_info_count: 2 } },
    }) as unknown });
    const noGuide = await runCli(["run", dir, "--cur-image", sample, "--python", python, "--json"]);
    expect(noGuide.code).toBe(1);
    expect(noGuide.json).toMatchObject({ execute: { status: "ERROR", error_code: "1002" } });
  });

  it("packages from a frozen venv and validate --zip --full passes", async () => {
    const { dir, python } = made["0.3.2"];
    const out = await packageOriginal(dir, python);
    // pip freeze spells the name as the wheel's metadata does: procvision-algorithm-sdk for 0.3.2.
    expect(out.frozen).toEqual(expect.arrayContaining([expect.stringMatching(/^procvision[-_]algorithm[-_]sdk==0\.3\.2$/)]));
    expect(out.requirements.filter((r) => /^procvision[-_]algorithm[-_]sdk==/.test(r))).toEqual([`procvision_algorithm_sdk==${SDK_VERSION}`]);
    const checked = await runCli(["validate", "--zip", out.path, "--full", "--json"], { timeoutMs: 240_000 });
    expect((checked.json as Report).summary.status, checked.stdout).toBe("PASS");
    expect((checked.json as Report).checks.find((c) => c.name === "zip_smoke")?.result).toBe("PASS");
  });
});
