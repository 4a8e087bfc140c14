/**
 * Top-level modules an algorithm imports: a project package of the same name would hide them (the project folder comes
 * first on sys.path), so `init numpy` would not find numpy and `init procvision_algorithm_sdk` not the SDK.
 */
const TAKEN_MODULES = new Set([
  "procvision_algorithm_sdk", "numpy", "cv2", "pil", "torch", "torchvision", "onnxruntime", "scipy", "skimage", "sklearn",
  "json", "os", "sys", "re", "time", "math", "random", "logging", "typing", "pathlib", "collections", "threading", "test", "unittest",
]);

/** `Screw-Check 2` → `screw_check_2`: a Python package name for the algorithm (`numpy` → `numpy_algo`, see above). */
export function moduleName(name: string): string {
  const snake = name.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (snake === "") return "algorithm";
  if (TAKEN_MODULES.has(snake)) return `${snake}_algo`;
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
