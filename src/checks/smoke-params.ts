/** The shape of a step param this module needs (a subset of the manifest's ParamSpec). */
interface ParamLike {
  key: string;
  type: string;
  default?: unknown;
  min?: number;
  max?: number;
  choices?: readonly unknown[];
  min_length?: number;
}

/**
 * user_params for a smoke run: every default, and a plausible value for each param without one, so an algorithm
 * that requires its ROI still gets a call it can answer.
 */
export function smokeParams(params: readonly ParamLike[], image: { width: number; height: number }): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const p of params) {
    if (p.default !== undefined) {
      values[p.key] = p.default;
      continue;
    }
    switch (p.type) {
      case "rect":
        values[p.key] = { x: Math.floor(image.width / 4), y: Math.floor(image.height / 4), width: Math.floor(image.width / 2), height: Math.floor(image.height / 2) };
        break;
      case "int":
      case "float":
        values[p.key] = p.min ?? (p.max !== undefined && p.max < 0 ? p.max : 0);
        break;
      case "enum":
        if (p.choices && p.choices.length > 0) values[p.key] = p.choices[0];
        break;
      case "bool":
        values[p.key] = false;
        break;
      case "string":
        values[p.key] = "a".repeat(p.min_length ?? 0);
        break;
    }
  }
  return values;
}
