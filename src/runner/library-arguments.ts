import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";

/*
 * The library's boundary (contract §7: failures throw ProcVisionError with a code): JavaScript callers are not held
 * to the types, and a wrong argument must be a 1006 that says what was expected, not a TypeError from deep inside or
 * (for a PID string where a list goes) a binding of each of its letters. HTTP checks the same with its schemas.
 */

const invalid = (message: string, hint: string): ProcVisionError => new ProcVisionError(ErrorCode.invalid_params, message, { hint });
const describe = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "a list" : typeof value);

export function checkRef(name: unknown, version: unknown): void {
  if (typeof name !== "string" || name === "" || typeof version !== "string" || version === "") {
    throw invalid(`expected a package name and version as strings, got ${describe(name)} and ${describe(version)}`, 'e.g. runner.start("algorithm-example", "1.0")');
  }
}

export function checkPids(pids: unknown): void {
  if (!Array.isArray(pids) || !pids.every((p) => typeof p === "string" && p !== "")) {
    throw invalid(`expected the PIDs as a list of strings, got ${typeof pids === "string" ? `the string ${JSON.stringify(pids)}` : describe(pids)}`, 'e.g. ["A01", "A02"]');
  }
}

export function checkObject(what: string, value: unknown): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(`${what} must be an object, got ${describe(value)}`, `pass ${what} as a plain object`);
  }
}

export function checkInspect(request: unknown): void {
  checkObject("the inspect request", request);
  const r = request as { pid?: unknown; image?: unknown };
  if (typeof r.pid !== "string" || r.pid === "") throw invalid(`the inspect request needs pid as a string, got ${describe(r.pid)}`, 'e.g. { pid: "A01", image: { path: "part.png" } }');
  if (r.image === null || typeof r.image !== "object") {
    throw invalid(`the inspect request needs an image, got ${describe(r.image)}`, "pass image as { path }, { bytes } or raw { data, width, height }");
  }
}

export function checkLimit(limit: unknown): void {
  if (limit !== undefined && (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 10_000)) {
    throw invalid(`limit must be an integer from 1 to 10000, got ${String(limit)}`, "leave it out for the default");
  }
}
