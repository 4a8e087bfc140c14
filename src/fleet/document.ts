import { z } from "zod";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { parseWithIssues } from "../manifest/issues.js";

/** Contract §9: the desired state of a line is a JSON document stored as an OCI artifact of this type. */
export const DESIRED_ARTIFACT_TYPE = "application/vnd.procvision.desired.v1+json";

const pidList = z.array(z.string().min(1)).min(1);
const entry = z.strictObject({ ref: z.string().startsWith("oci://"), pids: pidList });

const desiredSchema = z.strictObject({
  packages: z.array(entry),
  /** Per workstation_id: that station runs these packages instead of the line's. */
  stations: z.record(z.string().min(1), z.strictObject({ packages: z.array(entry) })).default({}),
});

export type DesiredEntry = z.infer<typeof entry>;
export type DesiredDocument = z.output<typeof desiredSchema>;

export function parseDesired(value: unknown, where: string): DesiredDocument {
  const parsed = parseWithIssues(desiredSchema, value, "desired state");
  if (!parsed.ok) {
    throw new ProcVisionError(ErrorCode.invalid_params, `the desired state ${where} is invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`, {
      hint: "write it with procvision-cli desired set",
    });
  }
  const doc = parsed.data;
  for (const list of [doc.packages, ...Object.values(doc.stations).map((s) => s.packages)]) {
    const seen = new Set<string>();
    for (const pid of list.flatMap((e) => e.pids)) {
      if (seen.has(pid)) throw new ProcVisionError(ErrorCode.activation_conflict, `the desired state ${where} binds PID ${pid} to two packages`, { hint: "each PID names one package" });
      seen.add(pid);
    }
  }
  return doc;
}

/** What one station should run: the line's packages, with the PIDs its override names taken from the override. */
export function stationPackages(doc: DesiredDocument, workstationId: string): DesiredEntry[] {
  const override = doc.stations[workstationId]?.packages ?? [];
  const overridden = new Set(override.flatMap((e) => e.pids));
  return [...withoutPids(doc.packages, overridden), ...override];
}

function withoutPids(list: readonly DesiredEntry[], pids: ReadonlySet<string>): DesiredEntry[] {
  return list.map((e) => ({ ...e, pids: e.pids.filter((p) => !pids.has(p)) })).filter((e) => e.pids.length > 0);
}

/** `pids` now run `ref` in `list` (taken from whatever ran them there). */
function bind(list: readonly DesiredEntry[], ref: string, pids: readonly string[]): DesiredEntry[] {
  const rest = withoutPids(list, new Set(pids));
  const same = rest.find((e) => e.ref === ref);
  if (same) return rest.map((e) => (e === same ? { ...e, pids: [...e.pids, ...pids] } : e));
  return [...rest, { ref, pids: [...pids] }];
}

/**
 * `desired set`, pure: `pids` now run `ref` on the whole line (which also ends any station's override of those PIDs),
 * or with `stations` on those stations only (an override of just those PIDs; the line's other PIDs still reach them).
 */
export function setDesired(doc: DesiredDocument, ref: string, pids: readonly string[], stations: readonly string[] = []): DesiredDocument {
  if (stations.length === 0) {
    const overrides = Object.fromEntries(Object.entries(doc.stations)
      .map(([id, o]) => [id, { packages: withoutPids(o.packages, new Set(pids)) }] as const)
      .filter(([, o]) => o.packages.length > 0));
    return { packages: bind(doc.packages, ref, pids), stations: overrides };
  }
  const overrides = { ...doc.stations };
  for (const station of stations) overrides[station] = { packages: bind(overrides[station]?.packages ?? [], ref, pids) };
  return { ...doc, stations: overrides };
}

export const EMPTY_DESIRED: DesiredDocument = { packages: [], stations: {} };
