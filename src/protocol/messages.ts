import { z } from "zod";
import { protocolError, type FrameObject } from "./frame-codec.js";

export const PROTOCOL_VERSION = 1;

export const CALL_METHODS = ["pre_execute", "execute", "get_info", "reset"] as const;
export type CallMethod = (typeof CALL_METHODS)[number];

const jsonObject = z.record(z.string(), z.unknown());
// Algorithms return codes as strings ("1001") but some write numbers; both mean the same code.
const errorCode = z.union([z.string(), z.number().transform(String)]).nullable().optional().transform((v) => v ?? null);

const workerHello = z.looseObject({
  type: z.literal("hello"),
  sdk_version: z.string(),
  protocol_version: z.number().int(),
  capabilities: z.array(z.string()).default([]),
  pid: z.number().int().optional(),
});

export const GENERATIONS = ["G1", "G2", "G3"] as const;
/** Which algorithm API the entry class implements (contract §5a); adapters older than this field are G1. */
export type Generation = (typeof GENERATIONS)[number];

const ready = z.looseObject({
  type: z.literal("ready"),
  info: jsonObject,
  generation: z.enum(GENERATIONS).default("G1"),
  /** False when the entry point is not a BaseAlgorithm subclass (it may still duck-type). */
  base_algorithm: z.boolean().optional(),
  /** What setup() raised: a hook, so the worker went on without it (contract §3). */
  setup_error: z.string().optional(),
});

const errorFrame = z.looseObject({
  type: z.literal("error"),
  request_id: z.string().nullable().optional().transform((v) => v ?? null),
  error_code: errorCode,
  message: z.string().default(""),
  /** Start-up failures only: where the algorithm failed to come up. */
  phase: z.enum(["import", "setup", "get_info"]).optional(),
});

const pong = z.looseObject({
  type: z.literal("pong"),
  request_id: z.string().nullable().optional(),
});

const result = z.looseObject({
  type: z.literal("result"),
  request_id: z.string(),
  status: z.string(),
  message: z.string().nullable().optional().transform((v) => v ?? ""),
  error_code: errorCode,
  data: jsonObject.nullable().optional().transform((v) => v ?? {}),
  debug: jsonObject.nullable().optional().transform((v) => v ?? {}),
  session_state: jsonObject.nullable().optional().transform((v) => v ?? {}),
  stdout_bytes: z.number().int().nonnegative().default(0),
  retryable: z.boolean().optional(),
  fatal: z.boolean().optional(),
  /** Set when the algorithm returned something other than a dict (its Python type name). */
  invalid_return: z.string().optional(),
  /** Top-level keys of the returned dict outside {status, message, error_code, data, debug} (at most 20). */
  stray_keys: z.array(z.string()).optional(),
  timestamp_ms: z.number().optional(),
});

const shutdownAck = z.looseObject({
  type: z.literal("shutdown"),
  status: z.string().default("OK"),
});

const workerMessage = z.discriminatedUnion("type", [workerHello, ready, errorFrame, pong, result, shutdownAck]);

export type WorkerHello = z.infer<typeof workerHello>;
export type ReadyMessage = z.infer<typeof ready>;
export type ErrorMessage = z.infer<typeof errorFrame>;
export type ResultMessage = z.infer<typeof result>;
export type WorkerMessage = z.infer<typeof workerMessage>;

/** Validates a frame from a worker at the boundary; anything else is a protocol error (3002). */
export function parseWorkerMessage(frame: FrameObject): WorkerMessage {
  const parsed = workerMessage.safeParse(frame);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "frame";
  const type = typeof frame.type === "string" ? `"${frame.type}" ` : "";
  throw protocolError(`invalid ${type}frame from worker at ${where}: ${issue?.message ?? "unknown problem"}`);
}

export interface SessionPayload {
  id: string;
  context: Record<string, unknown>;
  state: Record<string, unknown>;
}

export interface ImageMeta {
  width: number;
  height: number;
  timestamp_ms: number;
  camera_id: string;
  channels?: 1 | 3;
  color_space?: "RGB" | "BGR" | "GRAY";
  encoding?: "raw" | "jpeg" | "png";
  /** Segment sequence number the reader must find, so a stale frame is detected (docs/PROTOCOL.md). */
  sequence?: number;
}

/** The second image of a G3 inspection, in its own segment. */
export interface GuideImageRef {
  shared_mem_id: string;
  image_meta: ImageMeta;
}

export interface StepPayload {
  step_index: number;
  pid: string;
  session: SessionPayload;
  user_params: Record<string, unknown>;
  shared_mem_id: string;
  image_meta: ImageMeta;
  /** G3 inputs (docs/PROTOCOL.md); G1/G2 algorithms ignore them. */
  step_desc?: string;
  guide_info?: unknown;
  guide_image?: GuideImageRef | null;
}

export type CallPayload = StepPayload | { session: SessionPayload } | Record<string, never>;

export const runnerFrames = {
  hello: (runnerVersion: string, heartbeatIntervalMs: number) => ({
    type: "hello",
    runner_version: runnerVersion,
    protocol_version: PROTOCOL_VERSION,
    heartbeat_interval_ms: heartbeatIntervalMs,
  }),
  ping: (requestId: string) => ({ type: "ping", request_id: requestId }),
  call: (requestId: string, method: CallMethod, payload: CallPayload) => ({
    type: "call",
    request_id: requestId,
    method,
    payload,
    timestamp_ms: Date.now(),
  }),
  shutdown: () => ({ type: "shutdown" }),
};
