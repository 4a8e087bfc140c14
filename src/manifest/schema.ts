import { z } from "zod";
import { describeValue } from "./issues.js";
import { ENTRY_POINT } from "./entry-point.js";
import { checkParamValue, compilePattern } from "./params.js";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function matching(pattern: RegExp, expected: string) {
  return z.string().regex(pattern, { error: (issue) => `expected ${expected}, got ${describeValue(issue.input)}` });
}

/** Reports every repeated key after its first occurrence, at the repeated element. */
function unique<T>(keyOf: (item: T) => unknown, what: string, field?: string) {
  return (items: T[], ctx: z.RefinementCtx) => {
    const first = new Map<unknown, number>();
    items.forEach((item, index) => {
      const key = keyOf(item);
      const at = first.get(key);
      if (at === undefined) first.set(key, index);
      else ctx.addIssue({ code: "custom", path: field === undefined ? [index] : [index, field], message: `duplicate ${what} ${describeValue(key)} (first at index ${at})` });
    });
  };
}

// The version names directories in the runner's store (deployed/<name>/<version>/) and the zip file name.
const version = z.string().refine((v) => v !== "" && v === v.trim() && v !== "." && v !== ".." && !/[/\\\u0000-\u001f]/.test(v), {
  error: (issue) => `expected a non-empty version usable in a file name (no /, \\, control characters or surrounding spaces), got ${describeValue(issue.input)}`,
});

// Assets are looked up inside the extracted package: a path that leaves it is a packaging mistake or an attack.
const relativePath = z.string().refine((p) => p !== "" && !p.startsWith("/") && !p.includes("\\") && !/^[A-Za-z]:/.test(p) && !p.split("/").includes(".."), {
  error: (issue) => `expected a relative path inside the package using / (no leading /, drive letter, \\ or ..), got ${describeValue(issue.input)}`,
});

const common = {
  key: z.string().min(1),
  required: z.boolean().optional(),
  description: z.string().optional(),
};

function numeric(type: "int" | "float") {
  const number = type === "int" ? z.number().int() : z.number();
  return z.object({ ...common, type: z.literal(type), default: number.optional(), min: number.optional(), max: number.optional(), unit: z.string().optional() });
}

export const rectSchema = z.looseObject({ x: z.number(), y: z.number(), width: z.number(), height: z.number() });

const enumChoice = z.union([z.string(), z.number()]);
const length = z.number().int().min(0).optional();

const pattern = z.string().superRefine((source, ctx) => {
  try {
    compilePattern(source);
  } catch (err) {
    // continue: false keeps the param-level checks (which test the default against the pattern) from running.
    ctx.addIssue({ code: "custom", message: `expected a JavaScript regular expression: ${(err as Error).message}`, continue: false });
  }
});

/** Structure only: what each param `type` carries. Cross-field rules are in `paramSchema`. */
const paramShape = z.discriminatedUnion("type", [
  numeric("int"),
  numeric("float"),
  z.object({ ...common, type: z.literal("rect"), default: rectSchema.optional() }),
  z.object({ ...common, type: z.literal("enum"), choices: z.array(enumChoice).min(1).superRefine(unique((c) => c, "choice")), default: enumChoice.optional() }),
  z.object({ ...common, type: z.literal("bool"), default: z.boolean().optional() }),
  z.object({ ...common, type: z.literal("string"), default: z.string().optional(), min_length: length, max_length: length, pattern: pattern.optional() }),
]);

export type ParamSpec = z.infer<typeof paramShape>;
export type ParamType = ParamSpec["type"];
export type Rect = z.infer<typeof rectSchema>;

function ordered(low: string, lowValue: number | undefined, high: string, highValue: number | undefined) {
  return lowValue !== undefined && highValue !== undefined && lowValue > highValue
    ? { path: [low], message: `expected ${low} (${lowValue}) ≤ ${high} (${highValue})` }
    : undefined;
}

function rangeIssue(param: ParamSpec) {
  if (param.type === "int" || param.type === "float") return ordered("min", param.min, "max", param.max);
  if (param.type === "string") return ordered("min_length", param.min_length, "max_length", param.max_length);
  return undefined;
}

export const paramSchema = paramShape.superRefine((param, ctx) => {
  const range = rangeIssue(param);
  if (range) ctx.addIssue({ code: "custom", ...range });
  if (param.default !== undefined) {
    const problem = checkParamValue(param, param.default);
    if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["default"], message: `default does not satisfy its own constraints: ${problem}` });
  }
});

export const stepSchema = z.object({
  // Projects made by the original `init` count from 0 (contract §5a).
  index: z.number().int().min(0),
  name: z.string().min(1),
  params: z.array(paramSchema).superRefine(unique((p: ParamSpec) => p.key, "key", "key")).default([]),
});

export type Step = z.infer<typeof stepSchema>;

/** manifest.json (contract §1). Unknown top-level keys are kept: newer tools may add fields older runners ignore. */
export const manifestSchema = z.looseObject({
  name: matching(NAME, "a name of letters, digits, '.', '_' or '-' that starts with a letter or digit"),
  version,
  entry_point: matching(ENTRY_POINT, 'an entry point "module.path:ClassName"'),
  /** Absent: the package accepts whatever PIDs it is activated for (G3 manifests, contract §5a). */
  supported_pids: z.array(z.string().min(1)).min(1).superRefine(unique((p: string) => p, "PID")).optional(),
  description: z.string().optional(),
  steps: z.array(stepSchema).superRefine(unique((s: Step) => s.index, "step index", "index")).optional(),
  required_assets: z.array(relativePath).optional(),
  default_config: z.record(z.string(), z.unknown()).optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
