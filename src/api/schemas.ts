import { z } from "zod";
import { PACKAGE_STATES } from "../runner/package-state.js";

const pids = z.array(z.string().min(1)).min(1);

/**
 * A number given as text (a query parameter, a form field). Not z.coerce: its Number("abc") is NaN, and the error
 * then says "got NaN" instead of what was sent.
 */
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v), schema);
const nameVersion = { name: z.string().min(1), version: z.string().min(1) };

const inspectFields = z.object({
  pid: z.string().min(1),
  step_index: numeric(z.number().int().min(0)).optional()
    .meta({ description: "default: the first step the package's manifest declares (1 when it declares none)" }),
  method: z.enum(["pre_execute", "execute", "both"]).default("both")
    .meta({ description: "G2/G3 (execute-only) algorithms: both and execute run execute once; pre_execute is refused (1006)" }),
  session_id: z.string().min(1).optional(),
  user_params: z.string().optional().meta({ description: "a JSON object" }),
  step_desc: z.string().optional().meta({ description: "G3: the step's description text (default empty)" }),
  guide_info: z.string().optional().meta({ description: "G3: guide annotations as a JSON string (default []), e.g. [{\"label\": \"1\", \"posList\": [{\"x\": 10, \"y\": 20, \"width\": 30, \"height\": 40}]}]" }),
  width: numeric(z.number().int().min(1)).optional().meta({ description: "raw body only" }),
  height: numeric(z.number().int().min(1)).optional().meta({ description: "raw body only" }),
  channels: numeric(z.number().int().min(1).max(4)).optional().meta({ description: "raw body only" }),
  color_space: z.string().optional().meta({ description: "raw body only" }),
});

const since = () => z.string().optional()
  .meta({ description: "inclusive: an ISO 8601 time (2026-12-03T19:29:18Z, with an offset, or a date; UTC when no zone is given) or epoch ms" });

const file = z.string().meta({ format: "binary" });

export const schemas = {
  nameVersion: z.strictObject(nameVersion),
  bind: z.strictObject({ ...nameVersion, pids }),
  pids: z.strictObject({ pids }),
  installPath: z.union([z.strictObject({ path: z.string().min(1) }), z.strictObject({ ref: z.string().startsWith("oci://") })]),
  force: z.object({ force: z.enum(["true", "false", "1", "0"]).optional() }),
  /** An upload's file name (what list and the audit call its source), beside force. */
  install: z.object({ force: z.enum(["true", "false", "1", "0"]).optional(), filename: z.string().min(1).max(255).optional() }),
  listQuery: z.object({ state: z.enum(PACKAGE_STATES).optional(), name: z.string().optional() }),
  session: z.strictObject({ pid: z.string().min(1), context: z.record(z.string(), z.unknown()).optional() }),
  recordsQuery: z.object({
    pid: z.string().optional(), name: z.string().optional(), version: z.string().optional(), status: z.enum(["OK", "ERROR"]).optional(),
    result_status: z.enum(["OK", "NG"]).optional(), session_id: z.string().optional(), since: since(),
    limit: numeric(z.number().int().min(1).max(10_000)).optional(),
  }),
  auditQuery: z.object({
    action: z.string().optional(), operator: z.string().optional(), target: z.string().optional(),
    outcome: z.enum(["ok", "failed", "invalid"]).optional(), since: since(),
    limit: numeric(z.number().int().min(1).max(10_000)).optional(),
  }),
  logsQuery: z.object({ lines: numeric(z.number().int().min(1).max(10_000)).optional() }),
  /** Fields of POST /inspect, as multipart text fields or query parameters (raw body). */
  inspectFields,
  /** The multipart form of POST /inspect as OpenAPI shows it (the route reads the parts itself). */
  inspectForm: inspectFields.omit({ width: true, height: true, channels: true, color_space: true }).extend({
    image: file.meta({ description: "the current image (JPEG/PNG); required, or send it as cur_image" }).optional(),
    cur_image: file.meta({ description: "alias of image (the original SDK's name)" }).optional(),
    guide_image: file.meta({ description: "the guide (reference) image of a G3 inspection (JPEG/PNG); G1 algorithms ignore it" }).optional(),
  }),
  error: z.object({ error_code: z.string(), message: z.string(), hint: z.string().optional() }),
};

export type InspectFields = z.output<typeof schemas.inspectFields>;
