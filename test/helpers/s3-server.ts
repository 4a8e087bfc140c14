// A real S3-compatible server for the telemetry tests: versitygw's posix backend on 127.0.0.1 (every object is a
// file under `dir`), started and stopped per test file. Built once by scripts/s3-server.ts (CI: .ci/run).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { ensureVersitygw } from "../../scripts/s3-server.js";

export interface S3Server {
  endpoint: string;
  port: number;
  bucket: string;
  dir: string;
  accessKeyId: string;
  secretAccessKey: string;
  client: S3Client;
  /** The server's process id while it runs (benchmarks read its CPU time). */
  readonly pid: number | undefined;
  /** The `telemetry` keys of runner_config.json that point a runner at this server and bucket. */
  target: { endpoint: string; bucket: string; access_key_id: string; secret_access_key: string };
  /** Every key in the bucket. */
  keys(prefix?: string): Promise<string[]>;
  get(key: string): Promise<{ body: Buffer; metadata: Record<string, string>; contentType: string | undefined }>;
  head(key: string): Promise<{ metadata: Record<string, string>; size: number }>;
  /** Kills the server (SIGKILL: an outage, not a shutdown); objects stay in `dir`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops it and deletes its directory (when the helper made it). */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once the server prints its listening banner (versitygw binds before it prints it); rejects if it exits. */
function waitForBanner(child: ChildProcess, endpoint: string, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      log.push(chunk.toString());
      if (text.includes(endpoint)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`versitygw exited (${code}) before listening on ${endpoint}:\n${log.join("")}`));
    };
    const cleanup = () => {
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (c: Buffer) => log.push(c.toString()));
    child.once("exit", onExit);
  });
}

export async function startS3Server(o: { dir?: string; port?: number; bucket?: string } = {}): Promise<S3Server> {
  const binary = ensureVersitygw();
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? mkdtempSync(path.join(tmpdir(), "pv-s3-"));
  const port = o.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const bucket = o.bucket ?? "procvision";
  const accessKeyId = "procvision-test";
  const secretAccessKey = "procvision-test-secret-key";
  let child: ChildProcess | undefined;

  const start = async () => {
    const log: string[] = [];
    // --keep-alive: as MinIO, Ceph RGW and AWS S3 do. versitygw closes every connection by default, which made each
    // uploaded object pay a TCP connect and a fresh socket in the runner (~1 ms of CPU per object in the bench).
    child = spawn(binary, ["--access", accessKeyId, "--secret", secretAccessKey, "--port", `127.0.0.1:${port}`, "--keep-alive", "posix", dir], { stdio: ["ignore", "pipe", "pipe"] });
    await waitForBanner(child, endpoint, log);
  };
  await start();
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as { name?: string }).name !== "BucketAlreadyOwnedByYou") throw err;
  }

  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGKILL");
    await exited;
  };
  return {
    endpoint, port, bucket, dir, accessKeyId, secretAccessKey, client,
    get pid() {
      return child?.pid;
    },
    target: { endpoint, bucket, access_key_id: accessKeyId, secret_access_key: secretAccessKey },
    async keys(prefix) {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, ...(prefix ? { Prefix: prefix } : {}) }));
        for (const item of page.Contents ?? []) if (item.Key) out.push(item.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort();
    },
    async get(key) {
      const answer = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { body: Buffer.from(await answer.Body!.transformToByteArray()), metadata: answer.Metadata ?? {}, contentType: answer.ContentType };
    },
    async head(key) {
      const answer = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { metadata: answer.Metadata ?? {}, size: answer.ContentLength ?? 0 };
    },
    stop,
    restart: start,
    async close() {
      await stop();
      client.destroy();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
