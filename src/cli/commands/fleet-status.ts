import { readFileSync } from "node:fs";
import { stationsPrefix } from "../../telemetry/keys.js";
import { UsageError, type CommandOutput } from "../../command-line/reporter.js";
import { ErrorCode, isProcVisionError, ProcVisionError } from "../../errors/index.js";

export interface FleetStatusFlags {
  endpoint?: string;
  bucket: string;
  prefix?: string;
  region?: string;
  accessKeyIdFile?: string;
  secretAccessKeyFile?: string;
}

interface StationStatus {
  workstation_id?: string;
  reported_at?: string;
  desired?: { ref: string; digest: string | null } | null;
  actual?: { pid: string; name: string; version: string }[];
  last_convergence?: { ok: boolean; error: { error_code: string; message: string } | null } | null;
}

/**
 * `fleet status --endpoint … --bucket …`: every station's last reported state (`stations/<id>/status.json`, uploaded by
 * each runner with its telemetry) as a table: station, desired, actual, last seen, error.
 */
export async function fleetStatusCommand(flags: FleetStatusFlags): Promise<CommandOutput> {
  const endpoint = flags.endpoint ?? (process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL);
  if (!endpoint) throw new UsageError("no S3 endpoint: pass --endpoint or set AWS_ENDPOINT_URL", "e.g. --endpoint http://minio.plant:9000");
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  if (url === undefined || !/^https?:$/.test(url.protocol)) throw new UsageError("the S3 endpoint must be an http(s) URL", "e.g. --endpoint http://minio.plant:9000");
  // Said without the URL: what it holds would end up in the terminal and in CI logs.
  if (url.username !== "" || url.password !== "") {
    throw new UsageError("the S3 endpoint URL holds a user or password", "pass the endpoint without it; keys come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the --*-file flags");
  }
  const credentials = {
    accessKeyId: fromFileOrEnv(flags.accessKeyIdFile, "AWS_ACCESS_KEY_ID", "--access-key-id-file"),
    secretAccessKey: fromFileOrEnv(flags.secretAccessKeyFile, "AWS_SECRET_ACCESS_KEY", "--secret-access-key-file"),
  };
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { S3Client, ListObjectsV2Command, GetObjectCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({ endpoint, region: flags.region ?? "us-east-1", forcePathStyle: true, credentials, maxAttempts: 2 });
  try {
    const prefix = stationsPrefix(flags.prefix ?? "");
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: flags.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) if (o.Key?.endsWith("/status.json")) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const stations: StationStatus[] = [];
    for (const key of keys.sort()) {
      const object = await client.send(new GetObjectCommand({ Bucket: flags.bucket, Key: key }));
      try {
        stations.push(JSON.parse((await object.Body?.transformToString()) ?? "{}") as StationStatus);
      } catch {
        stations.push({ workstation_id: key.split("/").at(-2) ?? key, last_convergence: { ok: false, error: { error_code: "9999", message: "status.json is not JSON" } } });
      }
    }
    return { exitCode: 0, json: stations, human: table(stations) };
  } catch (err) {
    throw storageError(err, endpoint, flags.bucket);
  } finally {
    client.destroy();
  }
}

/** What the S3 client threw, as an error that says what to do (its own text names neither the cause nor a fix). */
function storageError(err: unknown, endpoint: string, bucket: string): unknown {
  if (isProcVisionError(err)) return err;
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  const what = `${endpoint}, bucket ${bucket}: ${e.message ?? String(err)}`;
  // XAdminUserNotFound: versitygw's answer to an access key it does not know.
  if (["SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken", "ExpiredToken", "XAdminUserNotFound"].includes(e.name ?? "")) {
    return new ProcVisionError(ErrorCode.unauthorized, `the storage refused these credentials (${what})`, {
      hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the --*-file flags) to a key that may read the bucket",
    });
  }
  if (e.name === "NoSuchBucket") {
    return new ProcVisionError(ErrorCode.not_found, `no such bucket (${what})`, { hint: "pass the bucket the stations' telemetry uploads to (their runner_config.json telemetry.bucket)" });
  }
  return new ProcVisionError(ErrorCode.unknown_error, `cannot read the fleet from ${what}`, {
    hint: "check --endpoint (scheme, host and port of the S3 server) and that it answers from here",
  });
}

function fromFileOrEnv(file: string | undefined, variable: string, flag: string): string {
  if (file !== undefined) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch (err) {
      throw new UsageError(`${flag} ${file} cannot be read: ${(err as Error).message}`, "name a file holding the key, readable by you");
    }
  }
  const value = process.env[variable];
  if (!value) throw new UsageError(`no S3 credentials: set ${variable} or pass ${flag}`, "the same read-only key the plant's dashboards use");
  return value;
}

function table(stations: StationStatus[]): string[] {
  if (stations.length === 0) return ["no station has reported yet (stations report with their telemetry, at every fleet poll)"];
  const rows = stations.map((s) => [
    s.workstation_id ?? "?",
    s.desired?.digest ? s.desired.digest.slice(0, 19) : "(none)",
    (s.actual ?? []).map((b) => `${b.pid}=${b.name}@${b.version}`).join(" ") || "(nothing bound)",
    s.reported_at ?? "?",
    s.last_convergence && !s.last_convergence.ok ? `[${s.last_convergence.error?.error_code ?? "?"}] ${s.last_convergence.error?.message ?? ""}` : "",
  ]);
  const head = ["station", "desired", "actual", "last seen", "error"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)];
}
