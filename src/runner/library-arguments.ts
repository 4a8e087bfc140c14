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
    throw invalid(`limit must be an integer from 1 to 10000, got ${JSON.stringify(limit)}`, "leave it out for the default");
  }
}

/** A filter or options object: left out, or an object (`null` is not "no filter" to the code behind it). */
export function checkOptional(what: string, value: unknown): void {
  if (value !== undefined) checkObject(what, value);
}

export function checkRecordFilter(filter: unknown): void {
  checkOptional("the records filter", filter);
  const f = (filter ?? {}) as { status?: unknown; result_status?: unknown; limit?: unknown };
  checkLimit(f.limit);
  // Values no record has would answer an empty list that reads as "no NG parts" (HTTP refuses them too).
  if (f.status !== undefined && f.status !== "OK" && f.status !== "ERROR") throw invalid(`status must be OK or ERROR, got ${JSON.stringify(f.status)}`, "leave it out for every status");
  if (f.result_status !== undefined && f.result_status !== "OK" && f.result_status !== "NG") {
    throw invalid(`result_status must be OK or NG, got ${JSON.stringify(f.result_status)}`, "leave it out for every result");
  }
}

export function checkInstallSource(source: unknown): void {
  if (typeof source === "string" && source !== "") return;
  checkObject("the install source", source);
  const s = source as { path?: unknown; ref?: unknown };
  if (!(typeof s.path === "string" && s.path !== "") && !(typeof s.ref === "string" && s.ref !== "")) {
    throw invalid("the install source needs path (a zip) or ref (oci://…) as a string", 'e.g. runner.install({ path: "zips/algo-v1.0-offline.zip" })');
  }
}

export function checkPid(pid: unknown): void {
  if (typeof pid !== "string" || pid === "") throw invalid(`expected a PID as a string, got ${describe(pid)}`, 'e.g. runner.createSession("A01")');
}
