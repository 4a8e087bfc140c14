import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { S3Credentials, TelemetryConfig } from "./config.js";

/** One object to store: bytes in hand, or a kept file (streamed in parts when big). */
export interface PutObject {
  key: string;
  body: Buffer | { file: string; bytes: number };
  contentType: string;
  metadata: Record<string, string>;
}

export interface ObjectTarget {
  put(object: PutObject): Promise<void>;
  close(): void;
}

/** Files above this go up in parts (lib-storage multipart); below it one PUT. */
export const MULTIPART_FROM_BYTES = 16 * 1024 * 1024;
const PART_BYTES = 8 * 1024 * 1024;

/**
 * An S3-compatible target (MinIO, Ceph RGW, versitygw, AWS S3) through @aws-sdk/client-s3, loaded only here, when
 * telemetry is configured. Path-style addressing (on-prem servers have no per-bucket DNS names). The content check is
 * SigV4's: the payload's sha256 is signed (x-amz-content-sha256) and the server recomputes it, refusing a body that
 * changed on the way (XAmzContentSHA256Mismatch), so a Content-MD5 on top would only hash every byte twice. No SDK
 * retries: the outbox owns retry and backoff.
 */
export async function s3Target(t: TelemetryConfig, credentials: S3Credentials): Promise<ObjectTarget> {
  // The SDK warns on every runner start that its releases after January 2027 need Node 22; the lock file pins one
  // that runs on Node 20, so the station's log is spared the notice (package.json must not float past it).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const { S3Client, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const client = new S3Client({
    endpoint: t.endpoint, region: t.region, forcePathStyle: true, credentials, maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
  return {
    async put(o) {
      const metadata = o.metadata;
      if (Buffer.isBuffer(o.body) || o.body.bytes < MULTIPART_FROM_BYTES) {
        const body = Buffer.isBuffer(o.body) ? o.body : await readFile(o.body.file);
        await client.send(new PutObjectCommand({ Bucket: t.bucket, Key: o.key, Body: body, ContentType: o.contentType, Metadata: metadata }));
        return;
      }
      const { Upload } = await import("@aws-sdk/lib-storage");
      await new Upload({
        client, partSize: PART_BYTES, queueSize: 1, leavePartsOnError: false,
        params: { Bucket: t.bucket, Key: o.key, Body: createReadStream(o.body.file), ContentType: o.contentType, Metadata: metadata },
      }).done();
    },
    close: () => client.destroy(),
  };
}

/** S3 metadata travels in HTTP headers: characters outside printable ASCII (and '%') are percent-encoded. */
export function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}
