// One rulebook, three callers (issue 15): the same answers and params go to `procvision-cli validate` and
// `procvision-cli run` (real CLI processes on a real project) and to the runner library (a real Runner with the
// package installed from a real zip, real workers), and all three must reach the same verdict with the same code.
// The algorithms answer what they are told: the G1 echo reads its answer from user_params.answer (validate sends
// the manifest's default), the G3 echo from step_desc (validate sends the manifest step's name).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcVisionError, Runner } from "../../src/index.js";
import type { InspectResponse } from "../../src/supervisor/types.js";
import { failedChecks, runCli as runBuiltCli, type Report } from "../helpers/cli.js";
import { fixture, testPython } from "../helpers/python.js";
import { exampleZip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-rulebook-"));
const image = path.join(work, "part.png");
const WIDTH = 64;
const HEIGHT = 48;
const runCli = (args: string[]) => runBuiltCli([...args, "--python", testPython()], { timeoutMs: 120_000 });
let runner: Runner;

type Generation = "G1" | "G3";
const PIDS: Record<Generation, string> = { G1: "E01", G3: "G301" };
const FIXTURES: Record<Generation, string> = { G1: "echo", G3: "echo-g3" };

beforeAll(async () => {
  await sharp({ create: { width: WIDTH, height: HEIGHT, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toFile(image);
  const [g1, g3] = await Promise.all((["G1", "G3"] as const).map((g) => exampleZip(work, {
    name: FIXTURES[g], version: "1.0", pids: [PIDS[g]], fileName: `${FIXTURES[g]}-v1.0-offline.zip`,
    mutate: (dir) => cpSync(fixture(FIXTURES[g]), dir, { recursive: true }),
  })));
  runner = await Runner.open({ root: path.join(work, "root"), log: () => undefined });
  for (const zip of [g1!, g3!]) expect((await runner.install(zip)).state).toBe("installed");
  await runner.activate("echo", "1.0", [PIDS.G1]);
  await runner.activate("echo-g3", "1.0", [PIDS.G3]);
}, 300_000);

afterAll(async () => {
  await runner?.close();
  rmSync(work, { recursive: true, force: true });
});

/** A copy of a fixture that answers `answer` when validate runs it (the manifest's default / step name). */
function projectAnswering(generation: Generation, answer: object, edit?: (manifest: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(path.join(work, `${FIXTURES[generation]}-`));
  cpSync(fixture(FIXTURES[generation]), dir, { recursive: true });
  const file = path.join(dir, "manifest.json");
  const manifest = JSON.parse(readFileSync(file, "utf8")) as { steps: { name: string; params: { key: string; default?: unknown }[] }[] };
  for (const step of manifest.steps) {
    if (generation === "G3") step.name = JSON.stringify(answer);
    for (const param of step.params) if (param.key === "answer") param.default = JSON.stringify(answer);
  }
  edit?.(manifest);
  writeFileSync(file, JSON.stringify(manifest));
  return dir;
}

interface Call {
  status: string;
  error_code: string | null;
  data: Record<string, unknown>;
}
type Verdict = [status: string, code: string | null];
const verdict = (call: Call | undefined): Verdict | undefined => (call ? [call.status, call.error_code] : undefined);
type Method = "pre_execute" | "execute";

/** The three callers on one answer: validate's failed checks, run's and the runner's answer to `method`. */
async function judge(generation: Generation, answer: object, method: Method): Promise<{ validate: string[]; run: Call; runner: Call; runExit: number | null }> {
  const dir = projectAnswering(generation, answer);
  const told = JSON.stringify(answer);
  const [validated, ran] = await Promise.all([
    runCli(["validate", dir, "--image", image, "--json"]),
    runCli(["run", dir, "--image", image, "--json", ...(generation === "G1" ? ["--pid", PIDS.G1, "--params", JSON.stringify({ answer: told })] : ["--step-desc", told])]),
  ]);
  const response: InspectResponse = await runner.inspect({
    pid: PIDS[generation], step_index: 1, image: { path: image },
    ...(generation === "G1" ? { user_params: { answer: told } } : { step_desc: told }),
  });
  const runCall = (ran.json as Partial<Record<Method, Call>> | undefined)?.[method];
  const runnerCall = response[method];
  if (!runCall || !runnerCall) throw new Error(`no ${method} answer: run ${ran.stdout} ${ran.stderr}, runner ${JSON.stringify(response)}`);
  return { validate: failedChecks(validated.json as Report), run: runCall, runner: runnerCall, runExit: ran.code };
}

const rect = (x: number, y: number, width = 8, height = 8) => ({ x, y, width, height });
const executeOk = (data: Record<string, unknown>) => ({ execute: { status: "OK", message: "m", data: { result_status: "OK", ...data } } });
const executeNg = (data: Record<string, unknown>) => ({ execute: { status: "OK", message: "m", data: { result_status: "NG", ...data } } });

interface ResultRow {
  name: string;
  generation: Generation;
  answer: object;
  /** The call the verdict is about. */
  method: Method;
  /** validate's failed checks ([] = PASS). */
  validate: string[];
  /** run's and the runner's answer to `method`. */
  station: Verdict;
}

const results: ResultRow[] = [
  { name: "a valid OK with rects inside the image", generation: "G1", method: "execute", validate: [], station: ["OK", null],
    answer: executeOk({ position_rects: [rect(0, 0, WIDTH, HEIGHT)], defect_rects: [] }) },
  { name: "NG with 20 defect rects (the limit)", generation: "G1", method: "execute", validate: [], station: ["OK", null],
    answer: executeNg({ ng_reason: "scratch", defect_rects: Array.from({ length: 20 }, (_, i) => rect(i, i)) }) },
  { name: "NG with 21 defect rects", generation: "G1", method: "execute", validate: ["defect_rects_count_limit"], station: ["ERROR", "1007"],
    answer: executeNg({ ng_reason: "scratch", defect_rects: Array.from({ length: 21 }, (_, i) => rect(i, i)) }) },
  { name: "NG without ng_reason", generation: "G1", method: "execute", validate: ["ng_reason_present"], station: ["ERROR", "1007"],
    answer: executeNg({ ng_reason: " ", defect_rects: [rect(1, 1)] }) },
  { name: "a defect rect leaving the image", generation: "G1", method: "execute", validate: ["rects_within_image"], station: ["ERROR", "1007"],
    answer: executeNg({ ng_reason: "edge", defect_rects: [rect(WIDTH - 4, 0)] }) },
  { name: "position_rects {} (passed validate, was 1007 on a station)", generation: "G1", method: "execute", validate: ["rects_within_image"],
    station: ["ERROR", "1007"], answer: executeOk({ position_rects: {} }) },
  { name: "defect_rects that is not a list", generation: "G1", method: "execute", validate: ["defect_rects_type"], station: ["ERROR", "1007"],
    answer: executeNg({ ng_reason: "x", defect_rects: "top-left" }) },
  { name: "a defect rect without numbers", generation: "G1", method: "execute", validate: ["defect_rects_type"], station: ["ERROR", "1007"],
    answer: executeOk({ defect_rects: [{ x: "1", y: 0, width: 2, height: 2 }] }) },
  { name: "result_status neither OK nor NG", generation: "G1", method: "execute", validate: ["execute_result_status_valid"], station: ["ERROR", "1007"],
    answer: executeOk({ result_status: "PASS" }) },
  { name: "a status neither OK nor ERROR", generation: "G1", method: "execute", validate: ["execute_status_valid"], station: ["ERROR", "1007"],
    answer: { execute: { status: "MAYBE", message: "hm", data: {} } } },
  { name: "an ERROR answer: its code passes through, its data is not read", generation: "G1", method: "execute", validate: ["smoke_execute"],
    station: ["ERROR", "1002"], answer: { execute: { status: "ERROR", message: "camera dark", error_code: "1002", data: { defect_rects: "junk" } } } },
  { name: "execute returning a list", generation: "G1", method: "execute", validate: ["execute_return_dict"], station: ["ERROR", "9999"],
    answer: { execute: [1] } },
  { name: "pre_execute giving a verdict", generation: "G1", method: "pre_execute", validate: ["pre_status_valid"], station: ["ERROR", "1007"],
    answer: { pre_execute: { status: "OK", message: "ready", data: { result_status: "OK" } } } },
  { name: "a calibration rect leaving the image", generation: "G1", method: "pre_execute", validate: ["rects_within_image"], station: ["ERROR", "1007"],
    answer: { pre_execute: { status: "OK", message: "ready", data: { calibration_rects: [rect(0, HEIGHT)] } } } },
  // The one authoring rule: validate holds authors to it (contract §2); the runner's rules (§7) do not include it,
  // and algorithms that ran on the original SDK without a message keep running (§5a).
  { name: "an OK pre_execute without a message (authoring rule)", generation: "G1", method: "pre_execute", validate: ["pre_message_present"],
    station: ["OK", null], answer: { pre_execute: { status: "OK", message: "", data: {} } } },
  { name: "G3: a valid NG", generation: "G3", method: "execute", validate: [], station: ["OK", null],
    answer: executeNg({ ng_reason: "missing", defect_rects: [rect(2, 2)] }) },
  { name: "G3: NG without ng_reason", generation: "G3", method: "execute", validate: ["ng_reason_present"], station: ["ERROR", "1007"],
    answer: executeNg({ defect_rects: [] }) },
  { name: "G3: position_rects {}", generation: "G3", method: "execute", validate: ["rects_within_image"], station: ["ERROR", "1007"],
    answer: executeOk({ position_rects: {} }) },
  { name: "G3: 21 defect rects", generation: "G3", method: "execute", validate: ["defect_rects_count_limit"], station: ["ERROR", "1007"],
    answer: executeNg({ ng_reason: "many", defect_rects: Array.from({ length: 21 }, () => rect(0, 0)) }) },
];

describe("result rules: validate, run and the runner agree", { timeout: 180_000 }, () => {
  for (const row of results) {
    it(`${row.generation} ${row.name}: validate ${row.validate.length === 0 ? "PASS" : `fails ${row.validate.join(", ")}`}, ${row.method} ${row.station.join(" ")}`, async () => {
      const { validate, run, runner: station, runExit } = await judge(row.generation, row.answer, row.method);
      expect(validate).toEqual(row.validate);
      expect(verdict(run)).toEqual(row.station);
      expect(verdict(station)).toEqual(row.station);
      // run exits by execute's status (contract §2); a rejected answer keeps its data for the author to see.
      if (row.method === "execute") expect(runExit).toBe(row.station[0] === "OK" ? 0 : 1);
      if (row.station[1] === "1007") expect(run.data).toEqual(station.data);
    });
  }
});

describe("run's human output names the rejection", { timeout: 120_000 }, () => {
  it("shows the 1007 and the broken rule, not the rejected verdict, and exits 1", async () => {
    const dir = projectAnswering("G1", {});
    const ran = await runCli(["run", dir, "--image", image, "--pid", PIDS.G1, "--params", JSON.stringify({ answer: JSON.stringify(executeOk({ position_rects: {} })) })]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(/✗ execute +ERROR \[1007\] "execute data\.position_rects is an object, expected a list of rects"/);
    expect(ran.stdout).not.toMatch(/→ OK/); // the rejected answer's own verdict does not stand
  });
});

interface ParamsRow {
  name: string;
  step: number;
  params: unknown;
  /** null: accepted; else the 1006 and a text the message names. */
  refused: RegExp | null;
}

const paramsRows: ParamsRow[] = [
  { name: "none: every default filled in", step: 1, params: {}, refused: null },
  { name: "a given value kept, extras kept", step: 1, params: { threshold: 0.9, extra: [1] }, refused: null },
  { name: "above max", step: 1, params: { threshold: 2 }, refused: /user_params\.threshold: expected a number ≤ max \(1\), got 2/ },
  { name: "the wrong type", step: 1, params: { threshold: "0.5" }, refused: /user_params\.threshold: expected a number, got "0\.5"/ },
  { name: "not a choice", step: 1, params: { mode: "slow" }, refused: /user_params\.mode: expected one of "fast", "accurate"/ },
  { name: "a required rect missing", step: 2, params: {}, refused: /user_params\.roi: required/ },
  { name: "a bad rect", step: 2, params: { roi: { x: 0, y: 0, width: 0, height: 5 } }, refused: /user_params\.roi: expected rect\.width/ },
  { name: "a step the manifest does not declare", step: 9, params: {}, refused: /step_index 9 is not a step \(steps: 1, 2\)/ },
  { name: "not an object", step: 1, params: [1], refused: /user_params must be a JSON object, got an array/ },
];

describe("params: run checks them and fills defaults exactly like the runner (1006)", { timeout: 120_000 }, () => {
  for (const row of paramsRows) {
    it(`${row.name}: ${row.refused ? "1006" : "accepted"}`, async () => {
      const dir = projectAnswering("G1", {});
      const ran = await runCli(["run", dir, "--image", image, "--pid", PIDS.G1, "--step", String(row.step), "--params", JSON.stringify(row.params), "--json"]);
      const inspected = runner.inspect({ pid: PIDS.G1, step_index: row.step, image: { path: image }, user_params: row.params as Record<string, unknown> });
      if (row.refused) {
        expect(ran.code).toBe(2);
        expect(ran.json).toMatchObject({ error_code: "1006", message: expect.stringMatching(row.refused) as unknown, hint: expect.any(String) as unknown });
        const error = await inspected.then(() => undefined, (err: unknown) => err);
        expect(error).toBeInstanceOf(ProcVisionError);
        expect(error).toMatchObject({ code: "1006", message: expect.stringMatching(row.refused) as unknown });
        return;
      }
      const station = await inspected;
      expect(ran.code, ran.stderr).toBe(0);
      const echoed = (ran.json as { execute: Call }).execute.data.params;
      expect(echoed).toEqual(station.execute?.data.params);
      expect(echoed).toMatchObject({ answer: "{}", threshold: (row.params as { threshold?: number }).threshold ?? 0.5, mode: "fast" });
    });
  }
});

describe("a manifest whose default breaks its own param (the params rule on defaults)", { timeout: 180_000 }, () => {
  it("fails validate's manifest_schema, is a 2002 usage error of run and a 2002 the runner will not install", async () => {
    const dir = projectAnswering("G1", {}, (manifest) => {
      (manifest.steps as { params: { key: string; default?: unknown }[] }[])[0]!.params.find((p) => p.key === "threshold")!.default = 2;
    });
    const validated = await runCli(["validate", dir, "--image", image, "--json"]);
    // The echo's get_info() declares the manifest's steps: its step_schema fails on the same default.
    expect(failedChecks(validated.json as Report)).toEqual(["manifest_schema", "step_schema"]);
    expect((validated.json as Report).checks.find((c) => c.name === "manifest_schema")?.message).toMatch(/steps\[0\]\.params\[1\]\.default: .*expected a number ≤ max \(1\), got 2/);
    const ran = await runCli(["run", dir, "--image", image, "--pid", PIDS.G1, "--json"]);
    expect(ran.code).toBe(2);
    expect(ran.json).toMatchObject({ error_code: "2002", message: expect.stringMatching(/steps\[0\]\.params\[1\]\.default/) as unknown });
    const zip = await exampleZip(work, { name: "echo", version: "2.0", pids: [PIDS.G1], fileName: "echo-v2.0-offline.zip", mutate: (project) => cpSync(dir, project, { recursive: true }) });
    await expect(runner.install(zip)).rejects.toMatchObject({ code: "2002", message: expect.stringMatching(/default/) as unknown });
  });
});
