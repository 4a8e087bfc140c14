import { existsSync } from "node:fs";
import path from "node:path";
import { discardHeadStart, headStart } from "../../local/head-start.js";
import { projectPython } from "../../python/project-python.js";
import { ErrorCode, errorCodeName, isProcVisionError } from "../../errors/index.js";
import { loadPublicKey } from "../../signing/index.js";
import { summarize, type ValidationReport } from "../../checks/report.js";
import { style, tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";
import { requireFile, requireProject } from "./inputs.js";
import { checkEntryPoint, tailLogs } from "./worker-flags.js";

export interface ValidateOptions {
  manifest?: string;
  zip?: string;
  python?: string;
  image?: string;
  pid?: string;
  full?: boolean;
  key?: string[];
  entry?: string;
  tailLogs?: boolean;
  /** Accepted for the original CLI's scripts; there is one path, the adapter subprocess. */
  legacyValidate?: boolean;
}

export function reportLines(report: ValidationReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  return [
    ...report.checks.map((c) => `${tick(c.result === "PASS")} ${c.name.padEnd(width)}  ${c.result === "PASS" ? style.dim(c.message) : c.message}`),
    "",
    `${report.summary.status === "PASS" ? style.ok("PASS") : style.bad("FAIL")}: ${report.summary.passed} passed, ${report.summary.failed} failed`
      + (report.error_code ? ` (a runner refuses this package with ${report.error_code} ${errorCodeName(report.error_code) ?? ""})` : ""),
  ];
}

/** Project checks, or with --zip the checks of an offline package (and with --full its install and smoke run). */
export async function validateCommand(project: string, options: ValidateOptions): Promise<CommandOutput> {
  if (options.image !== undefined) requireFile("image", options.image, "pass the path of a JPEG or PNG file, or leave --image out for a synthetic one");
  let checks;
  let errorCode: string | undefined;
  if (options.zip !== undefined) {
    if (!existsSync(options.zip)) throw new UsageError(`zip ${options.zip} not found`, "pass the path of an offline package built by procvision-cli package", ErrorCode.invalid_zip);
    const keys = (options.key ?? []).map((k) => {
      try {
        return loadPublicKey(k);
      } catch (err) {
        throw new UsageError((err as Error).message, "pass the .pub file written by procvision-cli keygen (or its PEM text)");
      }
    });
    // Each half loads only its own modules: the author's validate loop does not pay for the zip checks.
    const { zipChecks } = await import("../../validate/zip-checks.js");
    ({ checks, errorCode } = await zipChecks({ zipPath: path.resolve(options.zip), full: options.full === true, keys, ...pick(options) }));
  } else {
    const projectDir = path.resolve(project);
    requireProject(projectDir);
    const manifestPath = options.manifest ? path.resolve(options.manifest) : undefined;
    const entryPoint = options.entry !== undefined ? checkEntryPoint(options.entry) : undefined;
    // The adapter (Python importing numpy and the algorithm) and the interpreter probe start while the checks' modules load.
    headStart({ projectDir, ...(manifestPath ? { manifestPath } : {}), ...(options.python ? { python: options.python } : {}), ...(entryPoint ? { entryPoint } : {}) });
    try {
      void projectPython(projectDir, options.python).catch(() => undefined);
      const { projectChecks } = await import("../../checks/project-checks.js");
      checks = await projectChecks({
        projectDir, ...(manifestPath ? { manifestPath } : {}), ...pick(options),
        ...(entryPoint ? { entryPoint } : {}),
        ...(options.tailLogs ? { onStderr: tailLogs } : {}),
      }).catch((err: unknown) => {
        // An --image that is no image is bad input (exit 2), as `run` says of the same file.
        if (isProcVisionError(err) && err.code === ErrorCode.image_load_failed) throw new UsageError(err.message, "pass a JPEG or PNG file", ErrorCode.image_load_failed);
        throw err;
      });
    } finally {
      discardHeadStart();
    }
  }
  const report = summarize(checks, errorCode);
  return { exitCode: report.summary.status === "PASS" ? 0 : 1, json: report, human: reportLines(report) };
}

function pick(options: ValidateOptions): { python?: string; imagePath?: string; pid?: string } {
  return {
    ...(options.python ? { python: options.python } : {}),
    ...(options.image ? { imagePath: path.resolve(options.image) } : {}),
    ...(options.pid ? { pid: options.pid } : {}),
  };
}
