import type { ErrorCodeValue } from "../errors/codes.js";

/** One broken rule of an inspection's input or answer: what the station answers (code), where, what, and what to do. */
export interface Problem {
  code: ErrorCodeValue;
  /** Where in the request or answer: `user_params.threshold`, `execute.data.defect_rects[2]`. */
  path: string;
  message: string;
  hint: string;
}
