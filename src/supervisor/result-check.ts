import { isRect, rectOutside } from "../validate/result-rules.js";
import type { StepMethod } from "./types.js";

const STATUSES = new Set(["OK", "ERROR"]);
const RECT_LISTS = ["calibration_rects", "position_rects", "defect_rects"] as const;

export interface CheckedFields {
  status: string;
  data: Record<string, unknown>;
}

/**
 * Why a worker's answer breaks the result rules of contract §7 (→ 1007), or undefined when it is fine: status values,
 * no `result_status` from pre_execute, execute's verdict OK/NG with an `ng_reason` for NG, at most `maxDefects`
 * defect rects, and every rect a rect inside the image. ERROR answers are passed through: only their status is checked.
 */
export function checkResult(method: StepMethod, result: CheckedFields, image: { width: number; height: number }, maxDefects: number): string | undefined {
  if (!STATUSES.has(result.status)) return `${method} returned status ${JSON.stringify(result.status)}, expected "OK" or "ERROR"`;
  if (result.status !== "OK") return undefined;
  const data = result.data;
  if (method === "pre_execute" && data.result_status !== undefined) {
    return "pre_execute must not return data.result_status (the verdict belongs to execute)";
  }
  if (method === "execute") {
    const verdict = data.result_status;
    if (verdict !== "OK" && verdict !== "NG") return `execute data.result_status is ${JSON.stringify(verdict)}, expected "OK" or "NG"`;
    if (verdict === "NG" && (typeof data.ng_reason !== "string" || data.ng_reason.trim() === "")) {
      return "an NG result needs a non-empty data.ng_reason";
    }
    const defects = data.defect_rects;
    if (Array.isArray(defects) && defects.length > maxDefects) {
      return `execute returned ${defects.length} defect rects, at most ${maxDefects} allowed`;
    }
  }
  for (const key of RECT_LISTS) {
    const list = data[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return `${method} data.${key} is ${typeof list}, expected a list of rects`;
    for (const [i, rect] of list.entries()) {
      if (!isRect(rect)) return `${method} data.${key}[${i}] needs numeric x, y, width, height`;
      const outside = rectOutside(rect, image.width, image.height);
      if (outside !== undefined) return `${method} data.${key}[${i}] ${outside}`;
    }
  }
  return undefined;
}

/** Counts of the rect lists of a result, for records and metrics. */
export function rectCounts(data: Record<string, unknown>): { defect_rects: number; position_rects: number; calibration_rects: number } {
  const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  return { defect_rects: count(data.defect_rects), position_rects: count(data.position_rects), calibration_rects: count(data.calibration_rects) };
}
