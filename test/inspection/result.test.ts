// The rulebook's result rules, one set for validate, `procvision-cli run` and the runner (contract §2, §5a, §7).
// rulebook-parity.test.ts holds the three callers to the same verdicts end to end; here every rule and its edges.
import { describe, expect, it } from "vitest";
import { checkResult, DEFAULT_LIMITS, enforceResult, rectCounts, rejection, type ObservedCall, type ResultMethod } from "../../src/inspection/index.js";

const img = { width: 100, height: 50 };
const rect = (x: number, y: number, width = 10, height = 10) => ({ x, y, width, height });
const ok = (data: Record<string, unknown>, message = "fine"): ObservedCall => ({ status: "OK", message, data });
const check = (method: ResultMethod, call: ObservedCall, maxDefects = 20) => checkResult(method, call, img, { maxDefects });
/** [rule, code, path, authoring] of each problem. */
const problems = (method: ResultMethod, call: ObservedCall, maxDefects = 20) =>
  check(method, call, maxDefects).problems.map((p) => [p.rule, p.code, p.path, p.authoring ?? false]);

describe("result rules", () => {
  it("accept valid answers of both methods", () => {
    expect(problems("pre_execute", ok({ calibration_rects: [rect(0, 0)] }))).toEqual([]);
    expect(problems("execute", ok({ result_status: "OK", defect_rects: [], position_rects: [rect(0, 0, 100, 50)] }))).toEqual([]);
    expect(problems("execute", ok({ result_status: "NG", ng_reason: "scratch", defect_rects: [rect(90, 40)] }))).toEqual([]);
    expect(problems("execute", ok({ result_status: "OK", defect_rects: null, position_rects: null }))).toEqual([]);
  });

  it("hold an ERROR answer to its status only: it carries no verdict, its data is not read", () => {
    const error: ObservedCall = { status: "ERROR", message: "", data: { result_status: "MAYBE", defect_rects: "x" } };
    expect(check("execute", error)).toEqual({ rules: ["execute_return_dict", "rects_within_image", "execute_status_valid"], problems: [] });
  });

  it("name a status that is neither OK nor ERROR (1007), and check nothing else of that answer", () => {
    expect(problems("execute", { status: "WEIRD", message: "", data: { defect_rects: "x" } })).toEqual([["execute_status_valid", "1007", "execute.status", false]]);
    expect(check("pre_execute", { status: "ok", message: "", data: {} }).problems[0]?.message).toBe('pre_execute status "ok" is not OK or ERROR');
  });

  it("name a return that was not a dict with the adapter's code (9999)", () => {
    const call: ObservedCall = { status: "ERROR", message: "TypeError", data: {}, invalid_return: "list" };
    expect(check("execute", call)).toEqual({
      rules: ["execute_return_dict", "rects_within_image"],
      problems: [expect.objectContaining({ rule: "execute_return_dict", code: "9999", message: "execute returned list, expected a dict" })],
    });
  });

  it("refuse a verdict from pre_execute", () => {
    expect(problems("pre_execute", ok({ result_status: "OK" }))).toEqual([["pre_status_valid", "1007", "pre_execute.data.result_status", false]]);
  });

  it("want a message on an OK pre_execute as an authoring rule: validate fails it, the station lets it through", () => {
    const checked = check("pre_execute", ok({}, " "));
    expect(checked.problems.map((p) => [p.rule, p.path, p.authoring])).toEqual([["pre_message_present", "pre_execute.message", true]]);
    expect(rejection(checked)).toBeUndefined();
    expect(problems("pre_execute", { status: "ERROR", message: "", data: {} })).toEqual([]);
  });

  it("want execute's verdict OK or NG", () => {
    expect(problems("execute", ok({}))).toEqual([["execute_result_status_valid", "1007", "execute.data.result_status", false]]);
    expect(check("execute", ok({})).problems[0]?.message).toMatch(/result_status is missing/);
    expect(check("execute", ok({ result_status: "ok" })).problems[0]?.message).toMatch(/result_status is "ok", expected "OK" or "NG"/);
  });

  it("want a non-empty ng_reason for NG", () => {
    for (const ng_reason of [undefined, "", "  ", 3]) {
      expect(problems("execute", ok({ result_status: "NG", ng_reason }))).toEqual([["ng_reason_present", "1007", "execute.data.ng_reason", false]]);
    }
  });

  it("allow at most maxDefects defect rects, the runner's limit", () => {
    const many = (n: number) => ok({ result_status: "NG", ng_reason: "x", defect_rects: Array.from({ length: n }, () => rect(0, 0)) });
    expect(problems("execute", many(20))).toEqual([]);
    expect(problems("execute", many(21))).toEqual([["defect_rects_count_limit", "1007", "execute.data.defect_rects", false]]);
    expect(check("execute", many(21)).problems[0]?.message).toBe("execute returned 21 defect rects, at most 20 allowed");
    expect(problems("execute", many(21), 50)).toEqual([]);
    expect(problems("execute", many(3), 2)).toEqual([["defect_rects_count_limit", "1007", "execute.data.defect_rects", false]]);
    expect(DEFAULT_LIMITS.maxDefects).toBe(20);
  });

  it("want defect_rects a list of rects (defect_rects_type)", () => {
    expect(problems("execute", ok({ result_status: "OK", defect_rects: "none" }))).toEqual([["defect_rects_type", "1007", "execute.data.defect_rects", false]]);
    expect(problems("execute", ok({ result_status: "OK", defect_rects: {} }))).toEqual([["defect_rects_type", "1007", "execute.data.defect_rects", false]]);
    expect(problems("execute", ok({ result_status: "OK", defect_rects: [rect(0, 0), { x: 1 }] }))).toEqual([["defect_rects_type", "1007", "execute.data.defect_rects[1]", false]]);
    expect(check("execute", ok({ result_status: "OK", defect_rects: [{ x: "1", y: 0, width: 1, height: 1 }] })).problems[0]?.message).toMatch(/numeric x, y, width, height/);
  });

  it("want every other rect list a list of rects too: position_rects {} is 1007 everywhere", () => {
    expect(problems("execute", ok({ result_status: "OK", position_rects: {} }))).toEqual([["rects_within_image", "1007", "execute.data.position_rects", false]]);
    expect(check("execute", ok({ result_status: "OK", position_rects: {} })).problems[0]?.message).toBe("execute data.position_rects is an object, expected a list of rects");
    expect(problems("pre_execute", ok({ calibration_rects: [null] }))).toEqual([["rects_within_image", "1007", "pre_execute.data.calibration_rects[0]", false]]);
    expect(problems("pre_execute", ok({ defect_rects: 1 }))).toEqual([["rects_within_image", "1007", "pre_execute.data.defect_rects", false]]);
  });

  it("want every rect inside the current image with a positive size", () => {
    expect(problems("execute", ok({ result_status: "OK", position_rects: [rect(95, 0)] }))).toEqual([["rects_within_image", "1007", "execute.data.position_rects[0]", false]]);
    expect(check("execute", ok({ result_status: "OK", position_rects: [rect(95, 0)] })).problems[0]?.message).toBe("execute data.position_rects[0] (95,0 10×10) leaves the 100×50 image");
    expect(problems("execute", ok({ result_status: "OK", defect_rects: [rect(-1, 0)] }))).toEqual([["rects_within_image", "1007", "execute.data.defect_rects[0]", false]]);
    expect(check("pre_execute", ok({ calibration_rects: [rect(0, 0, 0, 5)] })).problems[0]?.message).toMatch(/non-positive size 0×5/);
    expect(problems("execute", ok({ result_status: "OK", position_rects: [rect(0, 0, 100, 50)] }))).toEqual([]);
  });

  it("report every problem of an answer; the station rejects with the first one that is not an authoring rule", () => {
    const checked = check("execute", ok({ result_status: "NG", defect_rects: [rect(200, 0)], position_rects: "x" }));
    expect(checked.problems.map((p) => [p.rule, p.path])).toEqual([
      ["ng_reason_present", "execute.data.ng_reason"], ["rects_within_image", "execute.data.position_rects"], ["rects_within_image", "execute.data.defect_rects[0]"],
    ]);
    expect(rejection(checked)?.rule).toBe("ng_reason_present");
  });
});

describe("enforceResult (the station's answer)", () => {
  const answer = (call: ObservedCall) => ({ ...call, error_code: null, latency_ms: 3 });
  it("turns a broken rule into ERROR with its code and message, keeping data and the rest of the answer", () => {
    const data = { result_status: "NG", defect_rects: [rect(0, 0)] };
    expect(enforceResult("execute", answer(ok(data)), img, DEFAULT_LIMITS)).toEqual({
      status: "ERROR", message: "execute gave NG: an NG result needs a non-empty ng_reason", error_code: "1007", data, latency_ms: 3,
    });
  });
  it("returns a valid answer, an ERROR answer and one that breaks only an authoring rule unchanged", () => {
    for (const given of [answer(ok({ result_status: "OK" })), { ...answer({ status: "ERROR", message: "dark", data: { defect_rects: "x" } }), error_code: "1003" }]) {
      expect(enforceResult("execute", given, img, DEFAULT_LIMITS)).toBe(given);
    }
    const quiet = answer(ok({}, ""));
    expect(enforceResult("pre_execute", quiet, img, DEFAULT_LIMITS)).toBe(quiet);
  });
  it("gives an ERROR without a code 9999, and one without a message a message: every error a user sees has both", () => {
    expect(enforceResult("execute", answer({ status: "ERROR", message: "dark", data: {} }), img, DEFAULT_LIMITS))
      .toMatchObject({ status: "ERROR", error_code: "9999", message: "dark" });
    expect(enforceResult("execute", { ...answer({ status: "ERROR", message: "", data: {} }), error_code: "1003" }, img, DEFAULT_LIMITS))
      .toMatchObject({ status: "ERROR", error_code: "1003", message: "execute answered ERROR without a message" });
  });
});

describe("rectCounts", () => {
  it("counts the rect lists of a result, 0 for what is not a list", () => {
    expect(rectCounts({ defect_rects: [1, 2], position_rects: [1], calibration_rects: {} })).toEqual({ defect_rects: 2, position_rects: 1, calibration_rects: 0 });
  });
});
