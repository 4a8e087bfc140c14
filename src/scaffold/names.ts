/** `Screw-Check 2` → `screw_check_2`: a Python package name for the algorithm. */
export function moduleName(name: string): string {
  const snake = name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (snake === "") return "algorithm";
  return /^[0-9]/.test(snake) ? `algo_${snake}` : snake;
}

/** `screw_check_2` → `ScrewCheck2Algorithm`. */
export function className(module: string): string {
  const camel = module.split("_").filter(Boolean).map((part) => part[0]!.toUpperCase() + part.slice(1)).join("");
  return `${camel}Algorithm`;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Why `name` cannot be a manifest name, or undefined when it can. */
export function invalidAlgorithmName(name: string): string | undefined {
  return NAME.test(name) ? undefined : `"${name}" is not a valid algorithm name: use letters, digits, ".", "_" and "-", starting with a letter or digit`;
}
