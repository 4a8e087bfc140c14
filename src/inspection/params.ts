import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { describeValue } from "../manifest/issues.js";
import { checkParamValue, expectation } from "../manifest/params.js";
import type { ParamSpec } from "../manifest/schema.js";
import type { Problem } from "./problem.js";

/** The part of a manifest the params rules read: its steps and their params. */
export interface ParamsSchema {
  steps?: readonly { index: number; params: readonly ParamSpec[] }[] | undefined;
}

export type ParamsCheck = { ok: true; values: Record<string, unknown> } | { ok: false; problems: Problem[] };

const HINT = "send user_params that match the step's params in manifest.json";

function problem(path: string, message: string, hint = HINT): Problem {
  return { code: ErrorCode.invalid_params, path, message, hint };
}

/**
 * Checks a call's `user_params` against the params of its step and fills in defaults (contract §7, error 1006).
 * A manifest without steps declares no schema: the values pass as they are. Keys a step does not declare are kept,
 * not rejected: algorithms may accept extras the manifest does not list.
 */
export function checkParams(schema: ParamsSchema, stepIndex: number, values: unknown): ParamsCheck {
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    return { ok: false, problems: [problem("user_params", `user_params must be a JSON object, got ${describeValue(values)}`)] };
  }
  const given = values as Readonly<Record<string, unknown>>;
  const steps = schema.steps;
  if (steps === undefined || steps.length === 0) return { ok: true, values: { ...given } };
  const step = steps.find((s) => s.index === stepIndex);
  if (step === undefined) {
    const indices = steps.map((s) => s.index).join(", ");
    return { ok: false, problems: [problem("step_index", `step_index ${stepIndex} is not a step (steps: ${indices})`, `use one of the steps manifest.json declares: ${indices}`)] };
  }
  const filled: Record<string, unknown> = { ...given };
  const problems: Problem[] = [];
  for (const param of step.params) {
    const value = Object.hasOwn(given, param.key) ? given[param.key] : undefined;
    if (value === undefined) {
      if (param.default !== undefined) filled[param.key] = structuredClone(param.default);
      else if (param.required === true) problems.push(problem(`user_params.${param.key}`, `required: expected ${expectation(param)}`));
      continue;
    }
    const wrong = checkParamValue(param, value);
    if (wrong !== undefined) problems.push(problem(`user_params.${param.key}`, wrong));
  }
  return problems.length === 0 ? { ok: true, values: filled } : { ok: false, problems };
}

/** The 1006 request error of failed params checks, every problem named (`of` says whose step: a package, a project). */
export function userParamsError(problems: readonly Problem[], stepIndex: number, of: string): ProcVisionError {
  const list = problems.map((p) => (p.path.startsWith("user_params.") ? `${p.path}: ${p.message}` : p.message)).join("; ");
  const lead = problems.some((p) => p.path.startsWith("user_params")) ? `invalid user_params for step ${stepIndex} of ${of}` : of;
  return new ProcVisionError(ErrorCode.invalid_params, `${lead}: ${list}`, {
    hint: problems[0]?.hint ?? HINT,
    details: { errors: problems },
  });
}
