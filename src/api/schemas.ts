import { z } from "zod";

const pids = z.array(z.string().min(1)).min(1);
const nameVersion = { name: z.string().min(1), version: z.string().min(1) };

export const schemas = {
  nameVersion: z.strictObject(nameVersion),
  bind: z.strictObject({ ...nameVersion, pids }),
  pids: z.strictObject({ pids }),
  installPath: z.strictObject({ path: z.string().min(1) }),
  force: z.object({ force: z.enum(["true", "false", "1", "0"]).optional() }),
  listQuery: z.object({ state: z.string().optional(), name: z.string().optional() }),
  session: z.strictObject({ pid: z.string().min(1), context: z.record(z.string(), z.unknown()).optional() }),
  recordsQuery: z.object({
    pid: z.string().optional(), name: z.string().optional(), version: z.string().optional(), status: z.string().optional(),
    result_status: z.string().optional(), session_id: z.string().optional(), since: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  }),
  auditQuery: z.object({
    action: z.string().optional(), operator: z.string().optional(), since: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(10_000).optional(),
  }),
  logsQuery: z.object({ lines: z.coerce.number().int().min(1).max(10_000).optional() }),
  /** Fields of POST /inspect, as multipart text fields or query parameters (raw body). */
  inspectFields: z.object({
    pid: z.string().min(1),
    step_index: z.coerce.number().int().min(1).default(1),
    method: z.enum(["pre_execute", "execute", "both"]).default("both"),
    session_id: z.string().min(1).optional(),
    user_params: z.string().optional(),
    width: z.coerce.number().int().min(1).optional(),
    height: z.coerce.number().int().min(1).optional(),
    channels: z.coerce.number().int().min(1).max(4).optional(),
    color_space: z.string().optional(),
  }),
  error: z.object({ error_code: z.string(), message: z.string(), hint: z.string().optional() }),
};

export type InspectFields = z.output<typeof schemas.inspectFields>;
