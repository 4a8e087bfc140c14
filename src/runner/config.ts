import { readFile } from "node:fs/promises";
import { z } from "zod";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { DEFAULT_LIMITS } from "../inspection/index.js";
import { parseWithIssues } from "../manifest/issues.js";
import { durationMs as ms } from "../duration.js";
import { defaultWorkstationId, telemetryConfigSchema, workstationIdSchema } from "../telemetry/config.js";


/**
 * `runner_config.json` (contract §7). Strict: an unknown or misspelt key is an error naming it, because a silently
 * ignored `execute_timout_ms` would leave a station running with the wrong limit.
 */
export const runnerConfigSchema = z.strictObject({
  pre_execute_timeout_ms: ms(1).default(10_000),
  execute_timeout_ms: ms(1).default(30_000),
  /** hello → ready of a worker, including import and setup() (model loading): a slow model needs more. */
  startup_timeout_ms: ms(1).default(60_000),
  heartbeat_interval_ms: ms(10).default(5_000),
  heartbeat_grace_ms: ms(10).default(2_000),
  kill_grace_ms: ms(0).default(3_000),
  max_retries: z.number().int().min(0).max(10).default(2),
  breaker_max_crashes: z.number().int().min(1).default(5),
  breaker_window_ms: ms(1).default(60_000),
  instances: z.number().int().min(1).max(64).default(1),
  queue_limit: z.number().int().min(1).default(64),
  keep_versions: z.number().int().min(1).default(3),
  session_ttl_ms: ms(1).default(10 * 60_000),
  max_defects: z.number().int().min(0).default(DEFAULT_LIMITS.maxDefects),
  /** How frames sit in shared memory: raw pixels (fastest), or re-encoded for algorithms that expect files. */
  image_encoding: z.enum(["raw", "jpeg", "png"]).default("raw"),
  log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Interpreter that creates package venvs; default `python3` resolved to its real path. */
  python: z.string().min(1).nullable().default(null),
  installer: z.enum(["auto", "uv", "pip"]).default("auto"),
  /** ed25519 public keys (PEM text or a path to a PEM file) whose SIGNATURE is accepted. */
  trusted_keys: z.array(z.string().min(1)).default([]),
  require_signature: z.boolean().default(false),
  watch_zips: z.boolean().default(false),
  /** This station's name in the fleet and in telemetry object keys (contract §8, §9); default: the host name. */
  workstation_id: workstationIdSchema.default(defaultWorkstationId),
  /** Records, log lines and NG images to S3-compatible storage (contract §8); none: nothing leaves the station. */
  telemetry: telemetryConfigSchema.optional(),
  /** Packages from OCI registries (contract §9): the desired state to converge to, and how each registry is reached. */
  fleet: z.strictObject({
    /** `oci://host/repo:tag` of the line's desired state; unset: no polling, installs by reference only. */
    desired: z.string().startsWith("oci://", { error: "expected an oci:// reference, e.g. oci://registry.plant:5000/lines/line-a:desired" }).optional(),
    poll_ms: ms(100).default(30_000),
    /** Per `host[:port]`: plain HTTP without TLS (loopback always may), and a user whose password sits in a file. */
    registries: z.record(z.string().min(1), z.strictObject({
      plain_http: z.boolean().default(false),
      username: z.string().min(1).optional(),
      password_file: z.string().min(1).optional(),
    })).default({}),
    /** Docker config file for credentials of registries not listed (default: $DOCKER_CONFIG or ~/.docker/config.json). */
    docker_config: z.string().min(1).optional(),
  }).default({ poll_ms: 30_000, registries: {} }),
});

export type RunnerConfig = z.output<typeof runnerConfigSchema>;
export type RunnerConfigInput = z.input<typeof runnerConfigSchema>;

/** Validates a config object and fills in defaults; every problem names its key. */
export function parseRunnerConfig(value: unknown, source = "runner_config.json"): RunnerConfig {
  const parsed = parseWithIssues(runnerConfigSchema, value ?? {}, source);
  if (!parsed.ok) {
    const problems = parsed.errors.map((e) => (e.path === source ? e.message : `${e.path}: ${e.message}`));
    throw new ProcVisionError(ErrorCode.invalid_params, `${source}: ${problems.join("; ")}`, {
      hint: "fix or remove the named keys; see docs/OPERATOR-GUIDE.md for every key and its default",
      details: { errors: parsed.errors },
    });
  }
  return parsed.data;
}

export async function loadRunnerConfig(file: string): Promise<RunnerConfig> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new ProcVisionError(ErrorCode.invalid_params, `cannot read runner config ${file}: ${(err as Error).message}`, {
      hint: "the config must be a JSON object of runner_config.json keys",
    });
  }
  return parseRunnerConfig(value, file);
}
