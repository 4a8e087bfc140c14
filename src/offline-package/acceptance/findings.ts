import type { ProcVisionError } from "../../errors/index.js";

// Each finding names the check of the validate report it belongs to (src/checks/report.ts, ACCEPTANCE_CHECKS).
import type { AcceptanceCheck } from "../../checks/report.js";

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
