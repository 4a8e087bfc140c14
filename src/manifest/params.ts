import { describeValue } from "./issues.js";
import type { ParamSpec } from "./schema.js";

const patterns = new Map<string, RegExp>();

/** Params patterns are JavaScript regular expressions (unicode mode), searched like JSON Schema's `pattern`. */
export function compilePattern(source: string): RegExp {
  let compiled = patterns.get(source);
  if (!compiled) {
    compiled = new RegExp(source, "u");
    patterns.set(source, compiled);
  }
  return compiled;
}

const RECT_FIELDS = ["x", "y", "width", "height"] as const;

/** What a value of this param looks like, as messages say it after "expected". */
export function expectation(param: ParamSpec): string {
  switch (param.type) {
    case "int":
      return "an integer";
    case "float":
      return "a number";
    case "rect":
      return "a rect {x, y, width, height}";
    case "enum":
      return `one of ${param.choices.map((c) => JSON.stringify(c)).join(", ")}`;
    case "bool":
      return "true or false";
    case "string":
      return "a string";
  }
}

function checkNumber(param: ParamSpec & { type: "int" | "float" }, value: number): string | undefined {
  const noun = expectation(param);
  if (param.min !== undefined && value < param.min) return `expected ${noun} ≥ min (${param.min}), got ${value}`;
  if (param.max !== undefined && value > param.max) return `expected ${noun} ≤ max (${param.max}), got ${value}`;
  return undefined;
}

function checkRect(value: Record<string, unknown>): string | undefined {
  for (const field of RECT_FIELDS) {
    const size = field === "width" || field === "height";
    const v = value[field];
    if (typeof v !== "number" || !Number.isFinite(v) || (size ? v <= 0 : v < 0)) {
      return `expected rect.${field} to be a number ${size ? "> 0" : "≥ 0"}, got ${describeValue(v)}`;
    }
  }
  return undefined;
}

function checkString(param: ParamSpec & { type: "string" }, value: string): string | undefined {
  // Code points, not UTF-16 units: the same length Python's len() gives the algorithm.
  const length = [...value].length;
  if (param.min_length !== undefined && length < param.min_length) return `expected at least ${param.min_length} characters, got ${length}`;
  if (param.max_length !== undefined && length > param.max_length) return `expected at most ${param.max_length} characters, got ${length}`;
  if (param.pattern !== undefined && !compilePattern(param.pattern).test(value)) {
    return `expected a string matching /${param.pattern}/, got ${describeValue(value)}`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Why `value` does not fit `param`, or undefined when it does. The one rule book for both a manifest's defaults and
 * the `user_params` of a call, so a default the manifest accepts is never rejected at run time.
 */
export function checkParamValue(param: ParamSpec, value: unknown): string | undefined {
  const mismatch = `expected ${expectation(param)}, got ${describeValue(value)}`;
  switch (param.type) {
    case "int":
    case "float":
      return typeof value === "number" && Number.isFinite(value) && (param.type === "float" || Number.isInteger(value))
        ? checkNumber(param, value)
        : mismatch;
    case "rect":
      return isRecord(value) ? checkRect(value) : mismatch;
    case "enum":
      return param.choices.some((choice) => choice === value) ? undefined : mismatch;
    case "bool":
      return typeof value === "boolean" ? undefined : mismatch;
    case "string":
      return typeof value === "string" ? checkString(param, value) : mismatch;
  }
}
