// The S3-compatible server of the telemetry tests and the demo: versitygw (posix backend: every object is a file),
// built from the Go module proxy into ~/.cache/procvision/bin once, then reused. Run it by hand with
//   npx tsx scripts/s3-server.ts [--port 9000] [--dir /tmp/s3] [--bucket procvision]
// which builds it if missing, starts it on 127.0.0.1 with the test credentials and creates the bucket.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw@v1.8.0";
export const S3_BIN_DIR = path.join(os.homedir(), ".cache", "procvision", "bin");
export const VERSITYGW = process.env.PROCVISION_VERSITYGW ?? path.join(S3_BIN_DIR, "versitygw");

/** Builds versitygw with `go install` (about 5 minutes on a fresh machine) unless it is already there. */
export function ensureVersitygw(): string {
  if (existsSync(VERSITYGW)) return VERSITYGW;
  process.stderr.write(`building ${VERSITYGW_MODULE} into ${S3_BIN_DIR} (once)\n`);
  const built = spawnSync("go", ["install", VERSITYGW_MODULE], { stdio: "inherit", env: { ...process.env, GOBIN: S3_BIN_DIR } });
  if (built.error || built.status !== 0) {
    throw new Error(`go install ${VERSITYGW_MODULE} failed (${built.error?.message ?? `exit ${built.status}`}): Go and the module proxy are needed once`);
  }
  return VERSITYGW;
}

async function main(): Promise<void> {
  const { startS3Server } = await import("../test/helpers/s3-server.js");
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const buildOnly = process.argv.includes("--build-only");
  ensureVersitygw();
  if (buildOnly) return;
  const server = await startS3Server({ port: Number(arg("port") ?? 9000), ...(arg("dir") ? { dir: arg("dir") } : {}), bucket: arg("bucket") ?? "procvision" });
  process.stdout.write(`S3 server on ${server.endpoint}, bucket ${server.bucket}, objects under ${server.dir}\naccess key ${server.accessKeyId}, secret ${server.secretAccessKey}\nCtrl-C stops it\n`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
