import type { Manifest } from "../manifest/schema.js";
import type { PreparedImage } from "./image.js";

/** One installed package version the supervisor can run; the store resolves it, the supervisor never reads the disk for it. */
/**
 * The settings the supervisor runs by: the runner's config (runner_config.json) satisfies it, and the supervisor needs
 * nothing else of the runner.
 */
export interface SupervisorConfig {
  pre_execute_timeout_ms: number;
  execute_timeout_ms: number;
  startup_timeout_ms: number;
  heartbeat_interval_ms: number;
  heartbeat_grace_ms: number;
  kill_grace_ms: number;
  max_retries: number;
  breaker_max_crashes: number;
  breaker_window_ms: number;
  instances: number;
  queue_limit: number;
  session_ttl_ms: number;
  max_defects: number;
  image_encoding: "raw" | "jpeg" | "png";
  log_level: "debug" | "info" | "warn" | "error";
}

export interface PackageSpec {
  name: string;
  version: string;
  /** Package root: the workers' cwd, first on their sys.path. */
  dir: string;
  /** Absolute path of the venv's interpreter (never a shim). */
  python: string;
  /** `module.path:ClassName`. */
  entryPoint: string;
  manifest: Manifest;
  /** Where worker stderr goes (rotated); none → stderr is only kept in memory (tail). */
  logsDir?: string;
  /** Extra environment for the workers, on top of the allow-listed one (e.g. CUDA_VISIBLE_DEVICES). */
  env?: Readonly<Record<string, string>>;
}

export interface PackageRef {
  name: string;
  version: string;
}

/** `name@version`: the key of a pool, of metrics and of a session's pin. */
export function packageKey(ref: PackageRef): string {
  return `${ref.name}@${ref.version}`;
}

export type InspectMethod = "pre_execute" | "execute" | "both";
export type StepMethod = "pre_execute" | "execute";

export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  /** Default: inferred from data length (1 or 3). */
  channels?: 1 | 3;
  /** Default: RGB for 3 channels, GRAY for 1. */
  color_space?: "RGB" | "BGR" | "GRAY";
}

/**
 * Raw pixels written by the caller straight into the worker's shared memory: `fill` gets the segment's payload
 * (width × height × channels bytes) when the call is dispatched, so a camera frame is copied once, into its final
 * place. It may be called again for a retry on another worker, so it must write the same pixels every time.
 */
export interface FilledPixels {
  fill: (target: Buffer) => void;
  width: number;
  height: number;
  /** Default 3. */
  channels?: 1 | 3;
  color_space?: "RGB" | "BGR" | "GRAY";
}

/** Raw pixels (a buffer, or written in place by `fill`), or a JPEG/PNG file / its bytes (decoded by the runner). */
export type InspectImage = RawPixels | FilledPixels | { path: string } | { bytes: Uint8Array };

export interface InspectRequest {
  pid: string;
  /** Default: the first step the package's manifest declares (step 1 when it declares none). */
  step_index?: number;
  session_id?: string;
  user_params?: Record<string, unknown>;
  /** Default `both`. */
  method?: InspectMethod;
  image: InspectImage;
  /** The guide (reference) image of a G3 inspection; G1 algorithms ignore it. */
  guide_image?: InspectImage;
  /** G3: the step's description text (default ""). */
  step_desc?: string;
  /** G3: the guide annotations, any JSON (default []), e.g. `[{"label": "1", "posList": [{x, y, width, height}]}]`. */
  guide_info?: unknown;
  /** Goes to image_meta.camera_id. */
  camera_id?: string;
}

/** What one call answered (contract §7 "R"). */
export interface CallResponse {
  status: string;
  message: string;
  error_code: string | null;
  data: Record<string, unknown>;
  debug: Record<string, unknown>;
  latency_ms: number;
}

export interface InspectResponse {
  session_id: string;
  name: string;
  version: string;
  pre_execute?: CallResponse;
  execute?: CallResponse;
}

/** One recorded call, as the store keeps it (contract §7 "Every inspection is recorded"). */
export interface InspectionRecord {
  timestamp_ms: number;
  pid: string;
  session_id: string;
  step_index: number;
  method: StepMethod;
  name: string;
  version: string;
  status: string;
  error_code: string | null;
  message: string;
  result_status: string | null;
  ng_reason: string | null;
  defect_rects: number;
  position_rects: number;
  calibration_rects: number;
  latency_ms: number;
  attempts: number;
  worker_pid: number | null;
  /** Whether the inspection carried a guide image (G3 dual-image inspections). */
  guide_image: boolean;
  /** The session context's trace_id (what on_step_start got), or null. */
  trace_id: string | null;
  /** The call's result data (verdict, rects): telemetry draws an NG image's annotated copy from it. */
  data?: Record<string, unknown>;
  /** The current image as the worker got it: telemetry keeps NG ones. Valid only until the call is answered. */
  image?: PreparedImage;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** A runner log line and its level (info when not said): stderr shows it, telemetry uploads it with the level. */
export type LineLog = (line: string, level?: LogLevel) => void;

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** JSON lines on stderr from `min` up: the default when the host gives no logger. */
export function jsonLineLogger(min: LogLevel = "info", write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return {
    log(level, message, fields = {}) {
      if (LEVELS[level] < LEVELS[min]) return;
      write(`${JSON.stringify({ timestamp_ms: Date.now(), level, component: "supervisor", message, ...fields })}\n`);
    },
  };
}

export const silentLogger: Logger = { log() {} };
