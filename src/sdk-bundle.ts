import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { ProcVisionError } from "./errors/procvision-error.js";
import { packageRoot } from "./package-root.js";

/** Directory to put on PYTHONPATH when an interpreter lacks the SDK: the SDK's own source shipped in the package. */
export function bundledSdkSource(): string {
  return path.join(packageRoot(), "sdk", "python");
}

/** The SDK wheel built by `npm run build` and shipped in dist/sdk/. */
export function bundledSdkWheel(): { path: string; version: string } {
  const dir = path.join(packageRoot(), "dist", "sdk");
  const wheel = existsSync(dir) ? readdirSync(dir).find((f) => /^procvision_algorithm_sdk-.+\.whl$/.test(f)) : undefined;
  if (!wheel) {
    throw new ProcVisionError("2004", `the bundled SDK wheel is missing from ${dir}`, {
      hint: "run `npm run build` in the procvision package",
    });
  }
  return { path: path.join(dir, wheel), version: wheel.split("-")[1] ?? "unknown" };
}
