import { z } from "zod";

/** One schema problem: where (`steps[1].params[0].min`) and what was expected. */
export interface SchemaIssue {
  path: string;
  message: string;
}

export type SchemaResult<T> = { ok: true; data: T } | { ok: false; errors: SchemaIssue[] };

/** `["steps", 1, "params", 0, "min"]` → `steps[1].params[0].min`; the empty path names the document itself. */
export function formatPath(path: readonly PropertyKey[], root: string): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out === "" ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out === "" ? root : out;
}

/** A value as a message shows it: short, and typed where JSON would hide the type. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const nouns: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "an array",
  object: "an object",
  record: "an object",
  null: "null",
};

function bound(kind: "≥" | "≤", inclusive: boolean | undefined): string {
  if (inclusive !== false) return kind;
  return kind === "≥" ? ">" : "<";
}

function sizeMessage(origin: string, limit: number | bigint, atLeast: boolean, inclusive: boolean | undefined, input: unknown): string {
  const unit = origin === "string" ? "characters" : origin === "array" ? "items" : undefined;
  if (unit === undefined) return `expected a number ${bound(atLeast ? "≥" : "≤", inclusive)} ${limit}, got ${describeValue(input)}`;
  if (atLeast && limit === 1) return `expected a non-empty ${origin}`;
  return `expected ${atLeast ? "at least" : "at most"} ${limit} ${unit}`;
}

/**
 * Per-parse error map: zod's defaults ("Invalid input: expected string, received undefined") become contract-style
 * messages that say what was expected and what was found. Schema-level messages (custom checks) take precedence.
 */
const messages: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type": {
      const noun = nouns[issue.expected] ?? issue.expected;
      return issue.input === undefined ? `required: expected ${noun}` : `expected ${noun}, got ${describeValue(issue.input)}`;
    }
    case "too_small":
      return sizeMessage(issue.origin, issue.minimum, true, issue.inclusive, issue.input);
    case "too_big":
      return sizeMessage(issue.origin, issue.maximum, false, issue.inclusive, issue.input);
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    case "invalid_union": {
      // A discriminated union reports the whole object; the message is about its discriminator.
      const { discriminator, options, input } = issue;
      if (typeof discriminator !== "string" || !Array.isArray(options)) return undefined;
      const value = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[discriminator] : undefined;
      return `expected one of ${options.join(", ")}, got ${describeValue(value)}`;
    }
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, got ${describeValue(issue.input)}`;
    default:
      return undefined;
  }
};

/** Parses `value` with `schema`, reporting every issue with a contract-style path rooted at `root`. */
export function parseWithIssues<T>(schema: z.ZodType<T>, value: unknown, root: string): SchemaResult<T> {
  const parsed = schema.safeParse(value, { error: messages });
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, errors: parsed.error.issues.map((i) => ({ path: formatPath(i.path, root), message: i.message })) };
}
