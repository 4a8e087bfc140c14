import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";

/** What fetch accepts as a body (the DOM lib type is not in this project's lib). */
type BodyInit = NonNullable<RequestInit["body"]>;

export const RUNNER_JSON = "runner.json";
export const DEFAULT_ROOT = "procvision-runtime";

export interface Connection {
  url: string;
  token: string | undefined;
}

/** `--url`/`--token`, else `<root>/runner.json` and `<root>/token` written by `serve`. */
export function connection(options: { root?: string; url?: string; token?: string }): Connection {
  const root = path.resolve(options.root ?? DEFAULT_ROOT);
  let url = options.url;
  if (url === undefined) {
    const file = path.join(root, RUNNER_JSON);
    if (!existsSync(file)) {
      throw new ProcVisionError(ErrorCode.not_found, `no running runner found: ${file} does not exist`, {
        hint: "start one with procvision-runner serve --root <root>, or pass --url",
      });
    }
    url = (JSON.parse(readFileSync(file, "utf8")) as { url: string }).url;
  }
  const tokenFile = path.join(root, "token");
  const token = options.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
  return { url: url.replace(/\/$/, ""), token };
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** One API call; a `{error_code, message}` answer becomes a thrown ProcVisionError with that code. */
export async function call(conn: Connection, method: string, route: string, init: { json?: unknown; body?: BodyInit; contentType?: string; operator?: string } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  if (init.operator) headers["x-operator"] = init.operator;
  let body: BodyInit | undefined = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.contentType) headers["content-type"] = init.contentType;
  let response: Response;
  try {
    response = await fetch(`${conn.url}${route}`, { method, headers, ...(body !== undefined ? { body, duplex: "half" } : {}) } as RequestInit);
  } catch (err) {
    throw new ProcVisionError(ErrorCode.not_found, `cannot reach the runner at ${conn.url}: ${(err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message}`, {
      hint: "is procvision-runner serve running? check --root or --url",
    });
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // metrics and other text bodies
  }
  if (!response.ok) {
    const error = parsed as { error_code?: string; message?: string; hint?: string };
    throw new ProcVisionError(error.error_code ?? ErrorCode.unknown_error, error.message ?? `HTTP ${response.status}`, error.hint ? { hint: error.hint } : {});
  }
  return { status: response.status, body: parsed };
}

/** A file as a streaming request body, reporting bytes sent. */
export function uploadBody(file: string, onProgress: (sent: number, total: number) => void): { body: BodyInit; size: number } {
  if (!existsSync(file)) throw new ProcVisionError(ErrorCode.not_found, `${file} not found`, { hint: "pass the path of an offline zip" });
  const size = statSync(file).size;
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      onProgress(sent, size);
      done(null, chunk);
    },
  });
  const stream = createReadStream(file).pipe(counter);
  return { body: Readable.toWeb(stream) as unknown as BodyInit, size };
}
