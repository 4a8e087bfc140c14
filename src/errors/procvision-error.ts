import { errorCodeName } from "./codes.js";

/**
 * The one error type users of the library see. `code` is a contract code ("3001"), `message` says what went wrong
 * and `hint` what to do about it.
 */
export class ProcVisionError extends Error {
  override readonly name = "ProcVisionError";
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** Short symbolic name of the code, e.g. `worker_crashed`. */
  get codeName(): string {
    return errorCodeName(this.code) ?? "unknown_error";
  }

  toJSON(): { error_code: string; message: string; hint?: string } {
    return this.hint === undefined
      ? { error_code: this.code, message: this.message }
      : { error_code: this.code, message: this.message, hint: this.hint };
  }
}

export function isProcVisionError(value: unknown): value is ProcVisionError {
  return value instanceof ProcVisionError;
}
