import { readFileSync } from "node:fs";
import os from "node:os";
import { z } from "zod";
import { durationMs } from "../duration.js";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";

/** A station name that is safe as one segment of an object key (contract §8 `workstation_id`). */
const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const workstationIdSchema = z.string().regex(KEY_SEGMENT, { error: "expected letters, digits, '.', '_' or '-' (one object-key segment, ≤ 128 characters)" });

/** The host name as a workstation id: characters that cannot be in a key segment become '-'. */
export function defaultWorkstationId(): string {
  const name = os.hostname().replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 128);
  return name === "" ? "station" : name;
}

/** Secrets are never echoed: a wrong value's message says what was expected, not what was found. */
const secret = z.string({ error: "expected a string (the value is not shown)" }).min(1, { error: "expected a non-empty string" });
const filePath = z.string().min(1);

/**
 * `telemetry` (contract §8): where records, log lines and NG images go, and how much the station keeps locally.
 * Each credential comes either inline or from a file (`*_file`, read once when the runner opens), never both.
 */
export const telemetryConfigSchema = z.strictObject({
  endpoint: z.url({ protocol: /^https?$/, error: "expected an http(s) URL of the S3-compatible server, e.g. http://minio.plant:9000" })
    // A login in the URL would be shown wherever the endpoint is (GET /telemetry, status): credentials have their own keys.
    .refine((url) => !URL.canParse(url) || (new URL(url).username === "" && new URL(url).password === ""), { error: "no user or password in the URL: use access_key_id and secret_access_key (or their _file keys)" }),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: "expected an S3 bucket name (3–63 lower-case letters, digits, '.', '-')" }),
  region: z.string().min(1).default("us-east-1"),
  access_key_id: secret.optional(),
  access_key_id_file: filePath.optional(),
  secret_access_key: secret.optional(),
  secret_access_key_file: filePath.optional(),
  /** Leading part of every object key; "" puts the kinds at the bucket's top. */
  prefix: z.string().regex(/^([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/, { error: "expected key segments separated by '/', without leading or trailing '/'" }).default(""),
  upload: z.strictObject({
    records: z.boolean().default(true),
    logs: z.boolean().default(true),
    ng_images: z.boolean().default(true),
  }).prefault({}),
  /** Disk bound of `<root>/artifacts/`. */
  quota_mb: z.number().positive().default(2048),
  /** Age bound of kept images (uploaded ones; an un-uploaded image leaves only when the quota forces it). */
  retain_days: z.number().positive().default(30),
  /** Upload bandwidth bound in kilobits per second; none: as fast as the link allows. */
  max_kbps: z.number().positive().optional(),
  /**
   * When an NDJSON batch is closed: whichever comes first (contract §8: e.g. 500 lines / 5 s / 1 MiB). 5000 lines
   * by default, so a busy station's batches close at 1 MiB (~3,000 record lines): each object costs the S3 client
   * ~2 ms of CPU whatever its size. A quiet station's close by age.
   */
  batch: z.strictObject({
    max_lines: z.number().int().min(1).default(5000),
    max_age_ms: durationMs(1).default(5_000),
    max_bytes: z.number().int().min(1024).default(1024 * 1024),
  }).prefault({}),
}).superRefine((t, ctx) => {
  for (const key of ["access_key_id", "secret_access_key"] as const) {
    const inline = t[key] !== undefined;
    const file = t[`${key}_file`] !== undefined;
    if (inline === file) {
      ctx.addIssue({ code: "custom", path: [inline ? `${key}_file` : key], message: inline ? `give ${key} or ${key}_file, not both` : `required: ${key} or ${key}_file` });
    }
  }
});

export type TelemetryConfig = z.output<typeof telemetryConfigSchema>;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The configured credentials, files read now (trailing newline dropped). A missing file names the key, never a value. */
export function resolveCredentials(t: TelemetryConfig): S3Credentials {
  const read = (key: "access_key_id" | "secret_access_key"): string => {
    const inline = t[key];
    if (inline !== undefined) return inline;
    const file = t[`${key}_file`]!;
    let text: string;
    try {
      text = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      throw new ProcVisionError(ErrorCode.invalid_params, `runner_config.json: telemetry.${key}_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        hint: "point the key at a readable file that holds only the credential",
      });
    }
    if (text === "") {
      throw new ProcVisionError(ErrorCode.invalid_params, `runner_config.json: telemetry.${key}_file: ${file} is empty`, { hint: "write the credential into the file" });
    }
    return text;
  };
  return { accessKeyId: read("access_key_id"), secretAccessKey: read("secret_access_key") };
}

/** The telemetry settings as answers and logs may show them: credentials are never included. */
export function publicTelemetryConfig(t: TelemetryConfig): Omit<TelemetryConfig, "access_key_id" | "secret_access_key" | "access_key_id_file" | "secret_access_key_file"> {
  const { access_key_id: _a, secret_access_key: _s, access_key_id_file: _af, secret_access_key_file: _sf, ...rest } = t;
  return rest;
}
