import type { ProcVisionError } from "../../errors/index.js";

/**
 * What package acceptance judges, in the order `validate --zip` reports it (contract §2 check names). Every problem
 * and warning names the aspect it belongs to, so validate renders them as these checks and the store needs none.
 */
export const ACCEPTANCE_CHECKS = [
  "zip_open", "zip_paths_safe", "zip_manifest", "zip_requirements", "zip_wheels", "requirements_pinned",
  "wheels_cover_requirements", "wheels_match_target", "checksums_valid",
] as const;
export type AcceptanceCheck = (typeof ACCEPTANCE_CHECKS)[number];

/** A reason to refuse the package: the error the store throws (code, message, hint) and the check validate fails. */
export interface Problem {
  check: AcceptanceCheck;
  error: ProcVisionError;
}

/** Accepted, but said: the store logs and audits it, validate shows it as `warning: …` on the check. */
export interface Warning {
  check: AcceptanceCheck;
  message: string;
}

/** Findings of one judgement: problems in acceptance order (the store refuses with the first), warnings. */
export interface Findings {
  problems: Problem[];
  warnings: Warning[];
}
