import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { failedChecks, runCli, type Report } from "../helpers/cli.js";
import { fixture } from "../helpers/python.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-cli-validate-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of the cli-algo fixture with one behaviour switched on (and the manifest edited when asked). */
function project(behaviour: string, editManifest?: (m: Record<string, unknown>) => unknown): string {
  const dir = mkdtempSync(path.join(work, `${behaviour}-`));
  cpSync(fixture("cli-algo"), dir, { recursive: true });
  writeFileSync(path.join(dir, "behaviour.txt"), behaviour);
  if (editManifest) {
    const file = path.join(dir, "manifest.json");
    const edited = editManifest(JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>);
    writeFileSync(file, typeof edited === "string" ? edited : JSON.stringify(edited));
  }
  return dir;
}

async function validate(dir: string, ...extra: string[]): Promise<{ code: number | null; report: Report }> {
  const run = await runCli(["validate", dir, "--json", ...extra]);
  return { code: run.code, report: run.json as Report };
}

describe("procvision-cli validate", () => {
  it("passes a well-behaved algorithm with every contract check, through the bundled SDK on a bare python3", async () => {
    const { code, report } = await validate(project("ok"));
    expect(report.summary).toEqual({ status: "PASS", passed: 21, failed: 0 });
    expect(report.checks.map((c) => c.name)).toEqual([
      "manifest_exists", "manifest_load", "manifest_fields", "manifest_schema", "entry_import", "get_info", "step_schema",
      "supported_pids_match", "info_name_version_match", "pre_execute_return_dict", "pre_status_valid", "pre_message_present",
      "execute_return_dict", "execute_status_valid", "execute_result_status_valid", "ng_reason_present", "defect_rects_type",
      "defect_rects_count_limit", "rects_within_image", "smoke_execute", "stdout_clean",
    ]);
    expect(code).toBe(0);
  });

  it("prints ✓/✗ lines and a summary for people", async () => {
    const run = await runCli(["validate", project("rects_21")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/✓ manifest_exists/);
    expect(run.stdout).toMatch(/✗ defect_rects_count_limit .*21 defect rects, at most 20/);
    expect(run.stdout).toMatch(/FAIL: 20 passed, 1 failed/);
  });

  const broken: [behaviour: string, check: string, message: RegExp][] = [
    ["pid_mismatch", "supported_pids_match", /Z99/],
    ["version_mismatch", "info_name_version_match", /version: manifest "1.0", get_info\(\) "2.0"/],
    ["bad_step_schema", "step_schema", /get_info\(\)\.steps\[0\]\.params\[0\]/],
    ["get_info_raises", "get_info", /get_info is broken/],
    ["rects_21", "defect_rects_count_limit", /21 defect rects/],
    ["rect_outside", "rects_within_image", /defect_rects/],
    ["ng_no_reason", "ng_reason_present", /ng_reason/],
    ["pre_no_message", "pre_message_present", /needs a message/],
    ["pre_result_status", "pre_status_valid", /result_status/],
    ["pre_result_status_top", "pre_status_valid", /must not return result_status/],
    ["not_dict", "execute_return_dict", /expected a dict/],
    ["bad_status", "execute_status_valid", /MAYBE/],
    ["bad_result_status", "execute_result_status_valid", /MAYBE/],
    ["defect_rects_not_list", "defect_rects_type", /expected a list/],
    ["raises", "smoke_execute", /execute exploded/],
    ["error_status", "smoke_execute", /ERROR 1002: camera dark/],
    ["prints", "stdout_clean", /self\.logger/],
    ["missing_module", "entry_import", /procvision_no_such_module/],
  ];
  for (const [behaviour, check, message] of broken) {
    it(`${behaviour} fails exactly ${check}`, async () => {
      const { code, report } = await validate(project(behaviour));
      expect(failedChecks(report)).toEqual([check]);
      expect(report.checks.find((c) => c.name === check)?.message).toMatch(message);
      expect(code).toBe(1);
    });
  }

  it("a setup() that raises is named, and passes: the worker goes on, as the original SDK's and a station's do", async () => {
    const { code, report } = await validate(project("setup_raises"));
    expect(code).toBe(0);
    expect(report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/setup\(\) raised RuntimeError: optional warm-up failed: logged/);
  });

  it("a verdict returned beside data fails execute_result_status_valid with a hint to move it into data", async () => {
    const run = await runCli(["validate", project("verdict_beside_data"), "--json"]);
    const report = run.json as Report;
    expect(failedChecks(report)).toEqual(["execute_result_status_valid"]);
    expect(run.stdout).toMatch(/returned beside data: move it into data/);
  });

  it("a class that is not a BaseAlgorithm fails entry_import", async () => {
    const { report } = await validate(project("ok", (m) => ({ ...m, entry_point: "cli_algo.main:NotAnAlgorithm" })));
    expect(failedChecks(report)).toEqual(["entry_import"]);
    expect(report.checks.find((c) => c.name === "entry_import")?.message).toMatch(/not a BaseAlgorithm subclass/);
  });

  it("manifest problems stop before the algorithm runs, and name the JSON path", async () => {
    const missing = project("ok");
    rmSync(path.join(missing, "manifest.json"));
    expect((await validate(missing)).report.checks.map((c) => [c.name, c.result])).toEqual([["manifest_exists", "FAIL"]]);

    const notJson = await validate(project("ok", () => "{ not json"));
    expect(failedChecks(notJson.report)).toEqual(["manifest_load"]);
    expect(notJson.report.checks).toHaveLength(2);
    expect(notJson.report.checks[1]?.message).toMatch(/^manifest\.json is not valid JSON at line 1, column 3: /);

    // A BOM (Windows editors write one) is read past, as package and the runner read it (this fixture's own module
    // reads manifest.json without utf-8-sig: its import is what fails then, not the manifest checks).
    const bom = await validate(project("ok", (m) => `\uFEFF${JSON.stringify(m)}`));
    expect(failedChecks(bom.report).filter((name) => name.startsWith("manifest_"))).toEqual([]);
    expect(bom.report.checks.map((c) => c.name)).toContain("manifest_schema");

    const noPids = await validate(project("ok", (m) => ({ ...m, supported_pids: [] })));
    expect(failedChecks(noPids.report)).toEqual(["manifest_fields"]);

    const badStep = await validate(project("ok", (m) => ({ ...m, steps: [{ index: -1, name: "x", params: [] }] })));
    expect(failedChecks(badStep.report)).toContain("manifest_schema");
    expect(badStep.report.checks.find((c) => c.name === "manifest_schema")?.message).toMatch(/steps\[0\]\.index/);
  });

  it("uses --pid and --image, and rejects a missing image as a usage error", async () => {
    const dir = project("ok");
    const good = await validate(dir, "--pid", "A02", "--image", path.join(fixture("cli-algo"), "..", "..", "..", "examples", "algorithm-example", "sample.png"));
    expect(good.report.summary.status).toBe("PASS");
    const missing = await runCli(["validate", dir, "--image", path.join(work, "nope.png")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.png not found/);
  });

  it("a missing project is a usage error (exit 2)", async () => {
    const run = await runCli(["validate", path.join(work, "no-such-project")]);
    expect(run.code).toBe(2);
  });
});
