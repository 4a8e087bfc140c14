import { fail, pass, type Check } from "./report.js";

/** The part of a call result the rules look at (a worker CallResult or a recorded one). */
export interface ObservedCall {
  status: string;
  message: string;
  error_code: string | null;
  data: Record<string, unknown>;
  stdout_bytes: number;
  invalid_return?: string;
}

export interface ObservedStep {
  step_index: number;
  /** Absent for execute-only algorithms (G2/G3): their pre_execute checks are left out, not failed. */
  pre_execute?: ObservedCall;
  execute: ObservedCall;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const MAX_DEFECT_RECTS = 20;
const STATUSES = new Set(["OK", "ERROR"]);
const RECT_LISTS = ["calibration_rects", "position_rects", "defect_rects"] as const;

export function isRect(value: unknown): value is Rect {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return ["x", "y", "width", "height"].every((k) => typeof r[k] === "number" && Number.isFinite(r[k]));
}

/** Why a rect does not lie inside a width×height image, or undefined when it does. */
export function rectOutside(rect: Rect, width: number, height: number): string | undefined {
  if (rect.width <= 0 || rect.height <= 0) return `has a non-positive size ${rect.width}×${rect.height}`;
  if (rect.x < 0 || rect.y < 0 || rect.x + rect.width > width || rect.y + rect.height > height) {
    return `(${rect.x},${rect.y} ${rect.width}×${rect.height}) leaves the ${width}×${height} image`;
  }
  return undefined;
}

/**
 * Collects, per check, the problems found across every step; a check becomes FAIL with the first problems named,
 * PASS when it ran and found none, and is left out when no step could run it (an earlier check failed).
 */
class Tally {
  private readonly problems = new Map<string, string[]>();
  private readonly ran = new Set<string>();

  note(name: string, problem?: string): void {
    this.ran.add(name);
    if (problem === undefined) return;
    const list = this.problems.get(name) ?? [];
    list.push(problem);
    this.problems.set(name, list);
  }

  check(name: Check["name"], okMessage: string): Check[] {
    if (!this.ran.has(name)) return [];
    const problems = this.problems.get(name);
    if (!problems) return [pass(name, okMessage)];
    const more = problems.length > 3 ? ` (+${problems.length - 3} more)` : "";
    return [fail(name, problems.slice(0, 3).join("; ") + more)];
  }
}

function rectLists(data: Record<string, unknown>): [string, unknown][] {
  return RECT_LISTS.filter((k) => data[k] !== undefined && data[k] !== null).map((k) => [k, data[k]]);
}

/**
 * Applies the contract's result rules to the smoke calls of validate. Execute-only algorithms (G3) get the same
 * execute rules; rects are checked against the current image.
 */
export function resultChecks(steps: readonly ObservedStep[], image: { width: number; height: number }): Check[] {
  const t = new Tally();
  let stdoutBytes = 0;
  for (const { step_index: step, pre_execute: pre, execute: exec } of steps) {
    const at = `step ${step}`;
    stdoutBytes += (pre?.stdout_bytes ?? 0) + exec.stdout_bytes;
    if (pre) t.note("pre_execute_return_dict", pre.invalid_return && `${at}: pre_execute returned ${pre.invalid_return}, expected a dict`);
    if (pre && !pre.invalid_return) {
      t.note("pre_status_valid", !STATUSES.has(pre.status)
        ? `${at}: pre_execute status "${pre.status}" is not OK or ERROR`
        : pre.data.result_status !== undefined ? `${at}: pre_execute must not return data.result_status (the verdict belongs to execute)` : undefined);
      if (pre.status === "OK") t.note("pre_message_present", pre.message.trim() === "" ? `${at}: an OK pre_execute needs a message` : undefined);
    }
    t.note("execute_return_dict", exec.invalid_return && `${at}: execute returned ${exec.invalid_return}, expected a dict`);
    if (!exec.invalid_return) {
      t.note("execute_status_valid", STATUSES.has(exec.status) ? undefined : `${at}: execute status "${exec.status}" is not OK or ERROR`);
      if (exec.status === "OK") {
        const verdict = exec.data.result_status;
        t.note("execute_result_status_valid", verdict === "OK" || verdict === "NG" ? undefined : `${at}: data.result_status is ${JSON.stringify(verdict)}, expected "OK" or "NG"`);
        if (verdict === "NG") {
          const reason = exec.data.ng_reason;
          t.note("ng_reason_present", typeof reason === "string" && reason.trim() !== "" ? undefined : `${at}: an NG result needs a non-empty ng_reason`);
        } else {
          t.note("ng_reason_present");
        }
        const defects = exec.data.defect_rects;
        if (defects !== undefined && defects !== null) {
          const typeProblem = !Array.isArray(defects) ? `${at}: defect_rects is ${typeof defects}, expected a list`
            : defects.some((r) => !isRect(r)) ? `${at}: every defect rect needs numeric x, y, width, height` : undefined;
          t.note("defect_rects_type", typeProblem);
          if (Array.isArray(defects)) {
            t.note("defect_rects_count_limit", defects.length > MAX_DEFECT_RECTS ? `${at}: ${defects.length} defect rects, at most ${MAX_DEFECT_RECTS} allowed` : undefined);
          }
        } else {
          t.note("defect_rects_type");
          t.note("defect_rects_count_limit");
        }
      }
    }
    t.note("rects_within_image");
    for (const [call, data] of [["pre_execute", pre?.data ?? {}], ["execute", exec.data]] as const) {
      for (const [key, list] of rectLists(data)) {
        if (!Array.isArray(list)) continue;
        for (const rect of list.filter(isRect)) {
          const outside = rectOutside(rect, image.width, image.height);
          t.note("rects_within_image", outside && `${at}: ${call} ${key} ${outside}`);
        }
      }
    }
    const calls: [string, ObservedCall][] = pre ? [["pre_execute", pre], ["execute", exec]] : [["execute", exec]];
    const failed = calls.find(([, call]) => call.status === "ERROR" && !call.invalid_return);
    t.note("smoke_execute", failed && `${at}: ${failed[0]} returned ${failed[1].status}${failed[1].error_code ? ` ${failed[1].error_code}` : ""}: ${failed[1].message || "(no message)"}`);
  }
  t.note("stdout_clean", stdoutBytes > 0 ? `the algorithm wrote ${stdoutBytes} bytes to stdout; the adapter kept the protocol intact, but use self.logger (stderr) instead of print()` : undefined);
  return [
    ...t.check("pre_execute_return_dict", "pre_execute returns a dict"),
    ...t.check("pre_status_valid", "pre_execute status is OK/ERROR, no result_status"),
    ...t.check("pre_message_present", "OK pre_execute carries a message"),
    ...t.check("execute_return_dict", "execute returns a dict"),
    ...t.check("execute_status_valid", "execute status is OK/ERROR"),
    ...t.check("execute_result_status_valid", "data.result_status is OK/NG"),
    ...t.check("ng_reason_present", "NG results carry ng_reason"),
    ...t.check("defect_rects_type", "defect_rects is a list of rects"),
    ...t.check("defect_rects_count_limit", `at most ${MAX_DEFECT_RECTS} defect rects`),
    ...t.check("rects_within_image", "every rect lies inside the image"),
    ...t.check("smoke_execute", `${steps.every((s) => s.pre_execute) ? "pre_execute and execute" : "execute"} ran OK for ${steps.length} step(s)`),
    ...t.check("stdout_clean", "nothing written to stdout"),
  ];
}
