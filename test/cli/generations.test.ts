import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failedChecks, runCli as runBuiltCli, type Report } from "../helpers/cli.js";
import { fixture, repoRoot, testPython } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-cli-gen-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sample = path.join(repoRoot, "examples", "algorithm-example", "sample.png");
const guide = path.join(work, "guide.png");
beforeAll(async () => {
  await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 10, g: 200, b: 30 } } }).png().toFile(guide);
});

/** G3 algorithms get numpy arrays: every run here uses the test venv (numpy and this SDK). */
const runCli = (args: string[]) => runBuiltCli([...args, "--python", testPython()]);

/** A copy of a fixture with one behaviour switched on, and its manifest edited when asked. */
function project(name: "cli-g3-algo" | "cli-algo" | "g2", behaviour: string, editManifest?: (m: Record<string, unknown>) => Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(work, `${behaviour}-`));
  cpSync(fixture(name), dir, { recursive: true });
  writeFileSync(path.join(dir, "behaviour.txt"), behaviour);
  if (editManifest) {
    const file = path.join(dir, "manifest.json");
    writeFileSync(file, JSON.stringify(editManifest(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>)));
  }
  return dir;
}
const g3 = (behaviour: string, edit?: (m: Record<string, unknown>) => Record<string, unknown>) => project("cli-g3-algo", behaviour, edit);

async function validate(dir: string, ...extra: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const run = await runCli(["validate", dir, "--json", ...extra]);
  return { code: run.code, report: run.json as Report, stderr: run.stderr };
}

/** The `g3 execute` log lines the algorithm wrote (reach our stderr only with --tail-logs). */
function executeLogs(stderr: string): { step_index: number; step_desc: string }[] {
  return stderr.split("\n").filter((l) => l.includes('"g3 execute"')).map((l) => JSON.parse(l) as { step_index: number; step_desc: string });
}

describe("validate: a G3 (execute-only) algorithm", () => {
  it("passes with the execute rules only (no get_info/pre_execute checks), step 1, no supported_pids needed", async () => {
    const { code, report, stderr } = await validate(g3("ok"));
    expect(report.checks.map((c) => c.name)).toEqual([
      "manifest_exists", "manifest_load", "manifest_fields", "manifest_schema", "entry_import", "execute_return_dict", "execute_status_valid",
      "execute_result_status_valid", "ng_reason_present", "defect_rects_type", "defect_rects_count_limit", "rects_within_image",
      "smoke_execute", "stdout_clean",
    ]);
    expect(report.summary).toEqual({ status: "PASS", passed: 14, failed: 0 });
    expect(report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/G3, execute\(step_index, step_desc, cur_image, guide_image, guide_info\)/);
    expect(code).toBe(0);
    expect(executeLogs(stderr)).toEqual([]);
  });

  it("runs execute for each manifest step with its name as step_desc; --tail-logs shows the algorithm's log lines as they come", async () => {
    const dir = g3("ok", (m) => ({ ...m, supported_pids: ["X1"], steps: [{ index: 0, name: "locate" }, { index: 3, name: "check screw" }] }));
    const { report, stderr } = await validate(dir, "--tail-logs");
    expect(report.summary.status).toBe("PASS");
    expect(report.checks.find((c) => c.name === "supported_pids_match")).toMatchObject({ result: "PASS", message: expect.stringMatching(/X1/) as unknown });
    expect(executeLogs(stderr).map((l) => [l.step_index, l.step_desc])).toEqual([[0, "locate"], [3, "check screw"]]);
  });

  const broken: [behaviour: string, check: string, message: RegExp][] = [
    ["ng_no_reason", "ng_reason_present", /needs a non-empty ng_reason/],
    ["rects_21", "defect_rects_count_limit", /21 defect rects, at most 20/],
    ["rect_outside", "rects_within_image", /leaves the 640×480 image/],
    ["bad_result_status", "execute_result_status_valid", /"PASS"/],
    ["not_dict", "execute_return_dict", /returned str, expected a dict/],
    ["raises", "smoke_execute", /execute returned ERROR 9999: .*g3 execute exploded/],
    ["error_status", "smoke_execute", /ERROR 1002: no guide image/],
    ["prints", "stdout_clean", /self\.logger/],
  ];
  for (const [behaviour, check, message] of broken) {
    it(`${behaviour} fails exactly ${check}`, async () => {
      const { code, report } = await validate(g3(behaviour));
      expect(failedChecks(report)).toEqual([check]);
      expect(report.checks.find((c) => c.name === check)?.message).toMatch(message);
      expect(code).toBe(1);
    });
  }

  it("checks rects against the current image given with --image", async () => {
    const { report } = await validate(g3("rect_outside"), "--image", guide);
    expect(report.checks.find((c) => c.name === "rects_within_image")?.message).toMatch(/leaves the 320×200 image/);
  });
});

describe("validate: the original CLI's flags", () => {
  it("--entry runs another class than the manifest's; a malformed one is a usage error", async () => {
    const dir = project("cli-algo", "ok");
    const other = await validate(dir, "--entry", "cli_algo.main:NotAnAlgorithm");
    expect(failedChecks(other.report)).toEqual(["entry_import"]);
    expect(other.report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/NotAnAlgorithm imports but is not a BaseAlgorithm/);
    const bad = await runCli(["validate", dir, "--entry", "no-colon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--entry must be module\.path:ClassName/);
  });

  it("--legacy-validate is accepted and takes the same adapter path", async () => {
    const { code, report } = await validate(project("cli-algo", "ok"), "--legacy-validate", "--full");
    expect(report.summary).toEqual({ status: "PASS", passed: 21, failed: 0 });
    expect(code).toBe(0);
  });

  it("a G1 algorithm whose manifest lists no supported_pids fails supported_pids_match and says what to add", async () => {
    const { code, report } = await validate(project("cli-algo", "ok", ({ supported_pids: _, ...m }) => m));
    expect(failedChecks(report)).toEqual(["supported_pids_match"]);
    expect(report.checks.find((c) => c.name === "supported_pids_match")?.message)
      .toMatch(/manifest\.json lists no supported_pids, but .* is a G1 algorithm .*add "supported_pids": \["A01", "A02"\]/);
    expect(code).toBe(1);
  });
});

interface G3Echo {
  execute: { status: string; data: { result_status: string; debug: { step_index: number; step_desc: string; guide_info: unknown; cur_image: number[]; guide_image: number[] | null; cur_writeable: boolean } } };
}

describe("run: a G3 algorithm", () => {
  it("--cur-image and --guide-image through shared memory, --step-desc, --guide-info @file; --json is {execute}; no --pid needed", async () => {
    const info = path.join(work, "guide-info.json");
    writeFileSync(info, JSON.stringify([{ label: "1", posList: [{ x: 10, y: 20, width: 30, height: 40 }] }]));
    const run = await runCli(["run", g3("ok"), "--cur-image", sample, "--guide-image", guide, "--step", "2", "--step-desc", "check screw 3",
      "--guide-info", `@${info}`, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(Object.keys(run.json as object)).toEqual(["execute"]);
    expect((run.json as G3Echo).execute).toMatchObject({ status: "OK", data: { result_status: "OK", debug: {
      step_index: 2, step_desc: "check screw 3", guide_info: [{ label: "1", posList: [{ x: 10, y: 20, width: 30, height: 40 }] }],
      cur_image: [480, 640, 3], guide_image: [200, 320, 3], cur_writeable: true, // its own pages, copied on write, as the original's decoded arrays were
    } } });
  });

  it("--image is --cur-image; without --guide-image the algorithm gets None; inline --guide-info; human output has no pre_execute", async () => {
    const dir = g3("ok");
    const json = await runCli(["run", dir, "--image", sample, "--guide-info", "[]", "--json"]);
    expect((json.json as G3Echo).execute.data.debug).toMatchObject({ cur_image: [480, 640, 3], guide_image: null, guide_info: [], step_desc: "" });
    const human = await runCli(["run", dir, "--cur-image", sample, "--guide-image", guide, "--legacy-run"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/cli-g3-algo 0\.3 \(G3\) · sample\.png 640×480, guide guide\.png 320×200/);
    expect(human.stdout).toMatch(/✓ execute +OK → OK/);
    expect(human.stdout).not.toMatch(/pre_execute/);
  });

  it("--cur-image beside a different --image (and no --guide-image) reads --image as the guide image, as the original 0.3.x CLI did", async () => {
    const run = await runCli(["run", g3("ok"), "--cur-image", sample, "--image", guide, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect((run.json as G3Echo).execute.data.debug).toMatchObject({ cur_image: [480, 640, 3], guide_image: [200, 320, 3] });
  });

  it("--session-steps gives a list of {execute}; --tail-logs prints the algorithm's log lines on stderr", async () => {
    const run = await runCli(["run", g3("ok"), "--cur-image", sample, "--session-steps", "0,1", "--tail-logs", "--json"]);
    expect((run.json as G3Echo[]).map((s) => [Object.keys(s), s.execute.data.debug.step_index])).toEqual([[["execute"], 0], [["execute"], 1]]);
    expect(executeLogs(run.stderr).map((l) => l.step_index)).toEqual([0, 1]);
  });

  it("NG draws the defect rects on the current image; an ERROR execute exits 1", async () => {
    const overlay = path.join(work, "g3-overlay.png");
    const ng = await runCli(["run", g3("ng"), "--cur-image", sample, "--guide-image", guide, "--save-overlay", overlay]);
    expect(ng.code).toBe(0);
    expect(ng.stdout).toMatch(/execute +OK → NG .*ng_reason "scratch" \(1 defect rects\)/);
    const meta = await sharp(overlay).metadata();
    expect([meta.width, meta.height]).toEqual([640, 480]);
    const { data, info } = await sharp(overlay).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (20 + 25 * info.width) * 3;
    expect(data[at]).toBeGreaterThan(180);
    const failed = await runCli(["run", g3("error_status"), "--cur-image", sample, "--json"]);
    expect(failed.code).toBe(1);
    expect(failed.json).toMatchObject({ execute: { status: "ERROR", error_code: "1002" } });
  });

  it("exit 2: no current image, a missing guide image, --guide-info that is not JSON or a missing @file, a bad --entry", async () => {
    const dir = g3("ok");
    const cases: [string[], RegExp][] = [
      [["run", dir], /--cur-image \(or --image\) is required/],
      [["run", dir, "--cur-image", sample, "--image", guide, "--guide-image", guide], /same input/],
      [["run", dir, "--cur-image", sample, "--guide-image", path.join(work, "nope.png")], /--guide-image .*nope\.png not found/],
      [["run", dir, "--cur-image", sample, "--guide-info", "[{label"], /--guide-info is not valid JSON/],
      [["run", dir, "--cur-image", sample, "--guide-info", `@${path.join(work, "nope.json")}`], /--guide-info file .* not found/],
      [["run", dir, "--cur-image", sample, "--entry", "x"], /--entry must be/],
      [["run", dir, "--cur-image", sample, "--step", "-1"], /--step must be a step index/],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      expect(run.code, args.join(" ")).toBe(2);
      expect(run.stderr, args.join(" ")).toMatch(message);
    }
  });
});

describe("a G2 (execute-only with session and shared memory) algorithm", () => {
  it("validates with the execute rules and runs execute alone, its session carried from step to step", async () => {
    const dir = project("g2", "ok");
    const { report } = await validate(dir);
    expect(report.summary).toEqual({ status: "PASS", passed: 14, failed: 0 });
    expect(report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/G2, execute\(step_index, session, user_params, shared_mem_id, image_meta\)/);
    const run = await runCli(["run", dir, "--image", sample, "--session-steps", "1,2", "--params", '{"k": 1}', "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toEqual([1, 2].map((calls) => ({ execute: expect.objectContaining({
      status: "OK", data: { result_status: "OK", shape: [480, 640, 3], calls, params: { k: 1 } },
    }) as unknown })));
  });
});

describe("run: G1 and the original flags", () => {
  it("a manifest without supported_pids needs no --pid; --entry picks the class; step 0 is a step when the manifest declares it", async () => {
    const dir = project("cli-algo", "ok", ({ supported_pids: _, ...m }) => ({ ...m, steps: [{ index: 0, name: "inspect", params: [] }] }));
    const run = await runCli(["run", dir, "--image", sample, "--step", "0", "--entry", "cli_algo.main:CliAlgo", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK", message: "step 0 after pre 0" } });
    // A step the manifest does not declare is refused before the algorithm starts, as the runner refuses it (1006).
    const undeclared = await runCli(["run", dir, "--image", sample, "--step", "1", "--json"]);
    expect(undeclared.code).toBe(2);
    expect(undeclared.json).toEqual({ error_code: "1006", message: "cli-algo 1.0: step_index 1 is not a step (steps: 0)", hint: "use one of the steps manifest.json declares: 0" });
  });

  it("the algorithm finds its project in PROC_ALGO_ROOT, as the original run set it", async () => {
    const dir = project("cli-algo", "algo_root");
    const run = await runCli(["run", dir, "--pid", "A01", "--image", sample, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({ execute: { data: { debug: { algo_root: path.resolve(dir) } } } });
  });

  it("a worker that fails to start shows the end of its stderr (the traceback) under the error, and in --json", async () => {
    const dir = project("cli-algo", "missing_module");
    const human = await runCli(["run", dir, "--pid", "A01", "--image", sample]);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/✗ \[9999\][^\n]*\n {2}the worker's stderr ended with:\n[\s\S]*import procvision_no_such_module[\s\S]*ModuleNotFoundError/);
    const json = await runCli(["run", dir, "--pid", "A01", "--image", sample, "--json"]);
    expect(json.json).toMatchObject({ error_code: "9999", stderr_tail: expect.stringMatching(/Traceback/) as unknown });
  });

  it("--tail-logs passes on what a worker that fails to start wrote, before the error", async () => {
    const run = await runCli(["run", project("cli-algo", "missing_module"), "--pid", "A01", "--image", sample, "--tail-logs"]);
    expect(run.code).toBe(1);
    const logged = run.stderr.indexOf('"cannot load the algorithm"');
    expect(logged).toBeGreaterThanOrEqual(0);
    expect(run.stderr.indexOf("✗ [9999]")).toBeGreaterThan(logged);
  });

  it("--pid stays required when the manifest lists supported_pids, and --cur-image works for G1", async () => {
    const dir = project("cli-algo", "ok");
    const missing = await runCli(["run", dir, "--cur-image", sample]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--pid is required: the manifest lists supported_pids \[A01, A02\]/);
    const ok = await runCli(["run", dir, "--pid", "A01", "--cur-image", sample, "--guide-image", guide, "--legacy-run", "--json"]);
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK" } });
  });
});
