import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";

/** The HTTP status that fits each contract code; the body always carries the code itself. */
const STATUS: Record<string, number> = {
  [ErrorCode.invalid_pid]: 400,
  [ErrorCode.image_load_failed]: 400,
  [ErrorCode.invalid_params]: 400,
  [ErrorCode.coordinate_invalid]: 422,
  [ErrorCode.timeout]: 504,
  [ErrorCode.invalid_zip]: 400,
  [ErrorCode.manifest_missing]: 400,
  [ErrorCode.incompatible_python]: 422,
  [ErrorCode.wheels_missing]: 422,
  [ErrorCode.install_failed]: 409,
  [ErrorCode.activation_conflict]: 409,
  [ErrorCode.unsafe_uninstall]: 409,
  [ErrorCode.integrity_failed]: 422,
  [ErrorCode.worker_crashed]: 502,
  [ErrorCode.protocol_error]: 502,
  [ErrorCode.circuit_open]: 503,
  [ErrorCode.no_active_package]: 404,
  [ErrorCode.busy]: 429,
  [ErrorCode.not_found]: 404,
  [ErrorCode.unauthorized]: 401,
};

export function httpStatus(code: string): number {
  return STATUS[code] ?? 500;
}

/**
 * A registry's refusal or outage (marked `upstream` by the OCI client) is a bad gateway, whatever its code: a 401
 * would tell the client its own runner token was wrong. What the registry sent that fails its digest stays 2008/422.
 */
function statusOf(err: ProcVisionError): number {
  return err.details?.upstream !== undefined && err.code !== ErrorCode.integrity_failed && err.code !== ErrorCode.not_found ? 502 : httpStatus(err.code);
}

export interface ErrorBody {
  error_code: string;
  message: string;
  hint?: string;
}

/** Anything thrown by a route, as the `{error_code, message}` body and status a client gets. */
export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ProcVisionError) return { status: statusOf(err), body: err.toJSON() };
  const e = err as { statusCode?: number; validation?: unknown; message?: string; code?: string };
  // Fastify's own errors: malformed JSON, too large a body, unsupported content type.
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    const tooLarge = e.statusCode === 413;
    return {
      status: e.statusCode,
      body: {
        error_code: ErrorCode.invalid_params,
        message: e.message ?? "bad request",
        hint: tooLarge ? "the body is larger than the server accepts" : "check the request against GET /openapi.json",
      },
    };
  }
  return { status: 500, body: { error_code: ErrorCode.unknown_error, message: e.message ?? String(err), hint: "see the runner log" } };
}
