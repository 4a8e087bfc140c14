import { ErrorCode } from "../errors/codes.js";
import type { Problem } from "./problem.js";

export type ResultMethod = "pre_execute" | "execute";

/** The part of an answer the rules read (a worker's CallResult, or a recorded one). */
export interface ObservedCall {
  status: string;
  message: string;
  data: Record<string, unknown>;
  /** Set by the adapter when the method returned something other than a dict (its answer is then ERROR 9999). */
  invalid_return?: string;
  /** Top-level keys of the returned dict outside {status, message, error_code, data, debug}. */
  stray_keys?: readonly string[];
}

/** The runner's configurable limits on results (runner_config.json). */
export interface ResultLimits {
  maxDefects: number;
}

/** The runner's defaults (contract §7 `max_defects` 20), which validate and `run` hold results to as well. */
export const DEFAULT_LIMITS: Readonly<ResultLimits> = { maxDefects: 20 };

/** The rules, by the names `validate` reports them under (contract §2). */
export const RESULT_RULES = [
  "pre_execute_return_dict", "pre_status_valid", "pre_message_present", "execute_return_dict", "execute_status_valid",
  "execute_result_status_valid", "ng_reason_present", "defect_rects_type", "defect_rects_count_limit", "rects_within_image",
] as const;
export type ResultRule = (typeof RESULT_RULES)[number];

export interface ResultProblem extends Problem {
  rule: ResultRule;
  /**
   * An authoring rule: `validate` fails it (contract §2), while the station and `run` let the answer through — the
   * runner's rules (§7) do not include it, and algorithms that ran on the original SDK must keep running (§5a).
   */
  authoring?: true;
}

export interface ResultCheck {
  /** The rules that applied to this answer (an ERROR answer is held to fewer): validate reports those that ran. */
  rules: ResultRule[];
  problems: ResultProblem[];
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const STATUSES = new Set(["OK", "ERROR"]);
const RECT_LISTS = ["calibration_rects", "position_rects", "defect_rects"] as const;
const RECT_HINT = "rects are {x, y, width, height} in pixels of the current image, origin top-left, inside it";

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

function kind(value: unknown): string {
  return Array.isArray(value) ? "a list" : value === null ? "null" : typeof value === "object" ? "an object" : typeof value;
}

/**
 * The result rules of the contract (§2 validate, §5a G3, §7 runner → 1007), one set for every caller: status OK or
 * ERROR; pre_execute gives no `result_status` (and, for validate, a message when OK); an OK execute's
 * `result_status` is OK or NG, NG with a non-empty `ng_reason`; `defect_rects` a list of at most `maxDefects`; every
 * rect list (absent or null means none) a list of rects inside the current image. An ERROR answer is held to its
 * status only: it carries no verdict.
 */
export function checkResult(method: ResultMethod, call: ObservedCall, image: { width: number; height: number }, limits: ResultLimits): ResultCheck {
  const pre = method === "pre_execute";
  const rules: ResultRule[] = [pre ? "pre_execute_return_dict" : "execute_return_dict", "rects_within_image"];
  const problems: ResultProblem[] = [];
  const add = (rule: ResultRule, path: string, message: string, hint: string, code: Problem["code"] = ErrorCode.coordinate_invalid) =>
    problems.push({ rule, code, path: `${method}${path}`, message: `${method} ${message}`, hint });

  if (call.invalid_return !== undefined) {
    // The adapter already answered ERROR 9999 for it; the rule names why.
    add(rules[0]!, "", `returned ${call.invalid_return}, expected a dict`, "return a dict {\"status\", \"message\", \"data\"}", ErrorCode.unknown_error);
    return { rules, problems };
  }
  rules.push(pre ? "pre_status_valid" : "execute_status_valid");
  if (!STATUSES.has(call.status)) {
    add(rules[2]!, ".status", `status ${JSON.stringify(call.status)} is not OK or ERROR`, "return status \"OK\", or \"ERROR\" with an error_code");
    return { rules, problems };
  }
  if (call.status !== "OK") return { rules, problems };
  const data = call.data;
  if (pre) {
    rules.push("pre_message_present");
    if (data.result_status !== undefined) {
      add("pre_status_valid", ".data.result_status", "must not return data.result_status (the verdict belongs to execute)", "return result_status from execute only");
    }
    if (call.stray_keys?.includes("result_status")) {
      // Held by validate only: a runner has always ignored keys beside data, so released packages keep running.
      problems.push({ rule: "pre_status_valid", code: ErrorCode.coordinate_invalid, path: "pre_execute.result_status",
        message: "pre_execute must not return result_status (the verdict belongs to execute)", hint: "return result_status from execute only, in its data", authoring: true });
    }
    if (call.message.trim() === "") {
      problems.push({ rule: "pre_message_present", code: ErrorCode.coordinate_invalid, path: "pre_execute.message", message: "an OK pre_execute needs a message",
        hint: "say what pre_execute found, e.g. \"board located\"", authoring: true });
    }
  } else {
    rules.push("execute_result_status_valid", "ng_reason_present", "defect_rects_type", "defect_rects_count_limit");
    const verdict = data.result_status;
    if (verdict !== "OK" && verdict !== "NG") {
      const beside = verdict === undefined && call.stray_keys?.includes("result_status") === true;
      add("execute_result_status_valid", ".data.result_status",
        `data.result_status is ${JSON.stringify(verdict) ?? "missing"}, expected "OK" or "NG"${beside ? " (result_status was returned beside data: move it into data)" : ""}`,
        "an OK execute gives its verdict in data.result_status");
    }
    if (verdict === "NG" && (typeof data.ng_reason !== "string" || data.ng_reason.trim() === "")) {
      add("ng_reason_present", ".data.ng_reason", "gave NG: an NG result needs a non-empty ng_reason", "say why the part is NG, e.g. \"scratch\"");
    }
    const defects = data.defect_rects;
    if (Array.isArray(defects) && defects.length > limits.maxDefects) {
      add("defect_rects_count_limit", ".data.defect_rects", `returned ${defects.length} defect rects, at most ${limits.maxDefects} allowed`,
        `return the ${limits.maxDefects} most important defects`);
    }
  }
  for (const key of RECT_LISTS) {
    const list = data[key];
    if (list === undefined || list === null) continue;
    // Malformed defect rects are reported as the type of defect_rects, all others as rects that are not in the image.
    const typeRule: ResultRule = key === "defect_rects" && !pre ? "defect_rects_type" : "rects_within_image";
    if (!Array.isArray(list)) {
      add(typeRule, `.data.${key}`, `data.${key} is ${kind(list)}, expected a list of rects`, RECT_HINT);
      continue;
    }
    for (const [i, rect] of list.entries()) {
      if (!isRect(rect)) {
        add(typeRule, `.data.${key}[${i}]`, `data.${key}[${i}] needs numeric x, y, width, height`, RECT_HINT);
        continue;
      }
      const outside = rectOutside(rect, image.width, image.height);
      if (outside !== undefined) add("rects_within_image", `.data.${key}[${i}]`, `data.${key}[${i}] ${outside}`, RECT_HINT);
    }
  }
  return { rules, problems };
}

/** The problem that makes the station answer ERROR with its code (authoring rules let an answer through), if any. */
export function rejection(check: ResultCheck): ResultProblem | undefined {
  return check.problems.find((p) => p.authoring !== true);
}

/**
 * The answer as the station gives it: unchanged when it keeps the rules (authoring rules aside), else ERROR with the
 * broken rule's code (1007) and message, its data kept for inspection. An ERROR the algorithm gave without a code or
 * a message gets 9999 and a message that says so: every error a user sees carries both (contract §6).
 */
export function enforceResult<T extends ObservedCall & { error_code: string | null }>(method: ResultMethod, call: T,
  image: { width: number; height: number }, limits: ResultLimits): T {
  const problem = rejection(checkResult(method, call, image, limits));
  if (problem !== undefined) return { ...call, status: "ERROR", message: problem.message, error_code: problem.code };
  if (call.status !== "ERROR" || (call.error_code && call.message)) return call;
  return { ...call, error_code: call.error_code || ErrorCode.unknown_error, message: call.message || `${method} answered ERROR without a message` };
}

/** Counts of the rect lists of a result, for records and metrics. */
export function rectCounts(data: Record<string, unknown>): { defect_rects: number; position_rects: number; calibration_rects: number } {
  const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  return { defect_rects: count(data.defect_rects), position_rects: count(data.position_rects), calibration_rects: count(data.calibration_rects) };
}
