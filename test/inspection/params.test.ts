// The rulebook's params rules (contract §7, 1006): checked against the step's params, defaults filled in. The same
// function answers for the runner and `procvision-cli run` (rulebook-parity.test.ts holds them to it end to end).
import { describe, expect, it } from "vitest";
import { checkParams, userParamsError } from "../../src/inspection/index.js";
import { validateManifest, type ParamSpec } from "../../src/manifest/index.js";

const contract = validateManifest({
  name: "algorithm-example", version: "1.0", entry_point: "algorithm_example.main:AlgorithmExample", supported_pids: ["p001"],
  steps: [
    { index: 1, name: "locate board", params: [
      { key: "roi", type: "rect", required: true },
      { key: "exposure", type: "float", default: 12.5, min: 8.0, max: 16.0 }] },
    { index: 2, name: "check screw", params: [
      { key: "threshold", type: "float", default: 0.7, min: 0.5, max: 0.9 },
      { key: "mode", type: "enum", choices: ["fast", "accurate"], default: "fast" }] },
  ],
});
if (!contract.ok) throw new Error("the contract's example manifest must validate");
const manifest = contract.manifest;
const oneStep = (params: ParamSpec[]) => ({ steps: [{ index: 1, params }] });
const roi = { x: 10, y: 20, width: 100, height: 50 };
const problem = (path: string, message: string) => ({ code: "1006", path, message, hint: expect.any(String) as unknown });

describe("checkParams", () => {
  it("fills defaults and keeps given values", () => {
    expect(checkParams(manifest, 1, { roi })).toEqual({ ok: true, values: { roi, exposure: 12.5 } });
    expect(checkParams(manifest, 2, { threshold: 0.8 })).toEqual({ ok: true, values: { threshold: 0.8, mode: "fast" } });
  });

  it("keeps keys the step does not declare (algorithms may accept extras)", () => {
    expect(checkParams(manifest, 2, { debug_dump: true })).toEqual({ ok: true, values: { debug_dump: true, threshold: 0.7, mode: "fast" } });
  });

  it("passes the values as they are when the manifest declares no steps (a G3 manifest)", () => {
    expect(checkParams({}, 7, { anything: [1] })).toEqual({ ok: true, values: { anything: [1] } });
    expect(checkParams({ steps: [] }, 0, {})).toEqual({ ok: true, values: {} });
  });

  it("does not let callers mutate a default through the result", () => {
    const params: ParamSpec[] = [{ key: "r", type: "rect", default: { x: 0, y: 0, width: 1, height: 1 } }];
    const first = checkParams(oneStep(params), 1, {});
    if (!first.ok) throw new Error("expected ok");
    (first.values.r as { x: number }).x = 99;
    expect(params[0]).toMatchObject({ default: { x: 0 } });
  });

  it("lets an optional param without a default stay absent", () => {
    expect(checkParams(oneStep([{ key: "note", type: "string" }]), 1, {})).toEqual({ ok: true, values: {} });
  });

  it("reports a required param without a default, and every bad value, by path", () => {
    expect(checkParams(manifest, 1, { exposure: 20 })).toEqual({
      ok: false,
      problems: [
        problem("user_params.roi", "required: expected a rect {x, y, width, height}"),
        problem("user_params.exposure", "expected a number ≤ max (16), got 20"),
      ],
    });
    expect(checkParams(manifest, 2, { threshold: "0.8", mode: "slow" })).toEqual({
      ok: false,
      problems: [
        problem("user_params.threshold", 'expected a number, got "0.8"'),
        problem("user_params.mode", 'expected one of "fast", "accurate", got "slow"'),
      ],
    });
  });

  it("treats null as a value (a type error), not as absent", () => {
    expect(checkParams(manifest, 2, { threshold: null })).toEqual({ ok: false, problems: [problem("user_params.threshold", "expected a number, got null")] });
  });

  it("ignores inherited properties such as constructor", () => {
    expect(checkParams(oneStep([{ key: "constructor", type: "int", default: 1 }]), 1, {})).toEqual({ ok: true, values: { constructor: 1 } });
  });

  it("refuses user_params that are not an object, and a step the manifest does not declare, with a hint naming the steps", () => {
    expect(checkParams(manifest, 1, [1])).toEqual({ ok: false, problems: [problem("user_params", "user_params must be a JSON object, got an array")] });
    expect(checkParams(manifest, 1, null)).toMatchObject({ ok: false, problems: [{ path: "user_params" }] });
    expect(checkParams(manifest, 0, {})).toEqual({
      ok: false, problems: [{ code: "1006", path: "step_index", message: "step_index 0 is not a step (steps: 1, 2)", hint: "use one of the steps manifest.json declares: 1, 2" }],
    });
  });
});

describe("userParamsError", () => {
  it("is one 1006 naming every problem, the step and whose it is, with the problems as details", () => {
    const checked = checkParams(manifest, 2, { threshold: 2, mode: "slow" });
    if (checked.ok) throw new Error("expected problems");
    const error = userParamsError(checked.problems, 2, "algorithm-example 1.0");
    expect(error).toMatchObject({
      code: "1006",
      message: 'invalid user_params for step 2 of algorithm-example 1.0: user_params.threshold: expected a number ≤ max (0.9), got 2; user_params.mode: expected one of "fast", "accurate", got "slow"',
      hint: "send user_params that match the step's params in manifest.json",
      details: { errors: checked.problems },
    });
    const step = checkParams(manifest, 5, {});
    if (step.ok) throw new Error("expected a problem");
    expect(userParamsError(step.problems, 5, "x 1")).toMatchObject({ message: "x 1: step_index 5 is not a step (steps: 1, 2)", hint: expect.stringContaining("1, 2") as unknown });
  });
});
