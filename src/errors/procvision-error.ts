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

  /**
   * Anything thrown, as the error users see: a ProcVisionError as it is, anything else under `code` (default 9999) with
   * its message and the original as the cause.
   */
  static from(err: unknown, code = "9999"): ProcVisionError {
    if (err instanceof ProcVisionError) return err;
    return new ProcVisionError(code, err instanceof Error ? err.message : String(err), { cause: err });
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
