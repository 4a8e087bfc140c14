/** Check names of `procvision-cli validate`, in report order (contract §2). */
export const PROJECT_CHECKS = [
  "manifest_exists", "manifest_load", "manifest_fields", "manifest_schema", "entry_import", "get_info", "step_schema",
  "supported_pids_match", "info_name_version_match", "pre_execute_return_dict", "pre_status_valid",
  "pre_message_present", "execute_return_dict", "execute_status_valid", "execute_result_status_valid",
  "ng_reason_present", "defect_rects_type", "defect_rects_count_limit", "rects_within_image", "smoke_execute",
  "stdout_clean",
] as const;

/**
 * What package acceptance judges (src/offline-package/acceptance/acceptance.ts), in the order `validate --zip` reports it (contract
 * §2 check names). Every problem and warning names the aspect it belongs to, so validate renders them as these checks.
 */
export const ACCEPTANCE_CHECKS = [
  "zip_open", "zip_paths_safe", "zip_manifest", "zip_requirements", "zip_wheels", "requirements_pinned",
  "wheels_cover_requirements", "wheels_match_target", "checksums_valid",
] as const;
export type AcceptanceCheck = (typeof ACCEPTANCE_CHECKS)[number];

/** `--zip`: package acceptance (the runner's own, see offline-package/acceptance/acceptance.ts), then with `--full` its install. */
export const ZIP_CHECKS = [...ACCEPTANCE_CHECKS, "zip_install", "zip_smoke"] as const;

export type CheckName = (typeof PROJECT_CHECKS)[number] | (typeof ZIP_CHECKS)[number];

export interface Check {
  name: CheckName;
  result: "PASS" | "FAIL";
  message: string;
  /** A passing check that found what the runner warns about (e.g. the original SDK to be replaced). */
  warnings?: string[];
  /** A failed check of a package: the contract code (§6) the runner refuses it with for this reason. */
  error_code?: string;
}

export interface ValidationReport {
  summary: { status: "PASS" | "FAIL"; passed: number; failed: number };
  checks: Check[];
  /** Every check's warnings, when there are any. */
  warnings?: string[];
  /** `--zip`: the code a runner refuses this package with (its first problem in the order a runner meets them). */
  error_code?: string;
}

export const pass = (name: CheckName, message: string): Check => ({ name, result: "PASS", message });
/** A check that passes with warnings: each is in the message as `warning: …`. */
export const warn = (name: CheckName, warnings: readonly string[], lead?: string): Check =>
  ({ name, result: "PASS", message: [...(lead ? [lead] : []), ...warnings.map((w) => `warning: ${w}`)].join("; "), warnings: [...warnings] });
export const fail = (name: CheckName, message: string, errorCode?: string): Check =>
  ({ name, result: "FAIL", message, ...(errorCode === undefined ? {} : { error_code: errorCode }) });

export function summarize(checks: readonly Check[], errorCode?: string): ValidationReport {
  const failed = checks.filter((c) => c.result === "FAIL").length;
  const warnings = checks.flatMap((c) => c.warnings ?? []);
  return {
    summary: { status: failed === 0 ? "PASS" : "FAIL", passed: checks.length - failed, failed }, checks: [...checks],
    ...(warnings.length > 0 ? { warnings } : {}),
    ...(errorCode !== undefined && failed > 0 ? { error_code: errorCode } : {}),
  };
}

/**
 * Checks that hold an author to a rule a station can do without: the adapter keeps the protocol intact whatever an
 * algorithm prints, so `validate` fails stdout_clean while a runner installs with a warning (contract §3), as the
 * original runtime ran such algorithms.
 */
const AUTHORING_ONLY: ReadonlySet<CheckName> = new Set<CheckName>(["stdout_clean"]);

/** A smoke report as a station judges it: authoring-only failures become warnings. */
export function stationReport(report: ValidationReport): ValidationReport {
  if (!report.checks.some((c) => c.result === "FAIL" && AUTHORING_ONLY.has(c.name))) return report;
  return summarize(report.checks.map((c) => (c.result === "FAIL" && AUTHORING_ONLY.has(c.name) ? warn(c.name, [c.message]) : c)), report.error_code);
}
