import { createHash } from "node:crypto";
import { open, rm, type FileHandle } from "node:fs/promises";
import { ErrorCode, type ErrorCodeValue } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { basicAuthorization, parseChallenge, type RegistryCredentials } from "./credentials.js";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export interface RegistryClientOptions {
  /** HTTP instead of HTTPS (a registry on the plant network without TLS, or on loopback). */
  plainHttp: boolean;
  credentials?: RegistryCredentials;
  /** Blobs larger than this go up in PATCH chunks of this size (default 32 MiB). */
  chunkBytes?: number;
  /** How the user of this client gives it credentials (a command's flags, a runner's config): the hint of a refusal. */
  loginHint?: string;
}

/** What the CLIs tell a user the registry refused: their flags and the Docker config file. */
const CLI_LOGIN_HINT = "log in: --username and --password-stdin, or an entry for it in the Docker config file (docker login)";

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/**
 * A client of the OCI distribution API (https://github.com/opencontainers/distribution-spec) for the few calls
 * ProcVision needs: blobs up (monolithic or chunked) and down (streamed, digest checked), manifests up, down and HEAD.
 * Authentication answers the registry's challenge: Basic with the credentials, or the Bearer token flow (a token for
 * the repository's scope from the realm, with the credentials if any, anonymous otherwise).
 */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private basic = false;

  constructor(readonly registry: string, private readonly options: RegistryClientOptions) {}

  private url(path: string): string {
    return `${this.options.plainHttp ? "http" : "https"}://${this.registry}/v2/${path}`;
  }

  /** One request with the authorization the registry asked for; a 401 is answered once, then retried. */
  private async send(url: string, init: RequestInit, scope: string): Promise<Response> {
    const attempt = () => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...this.authorization(scope) } })
      .catch((err: unknown) => {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new ProcVisionError(ErrorCode.install_failed, `registry ${this.registry} is unreachable: ${cause?.code ?? cause?.message ?? String(err)}`, {
          details: this.upstream(),
          hint: this.options.plainHttp ? "check the address and that the registry runs" : "check the address; a registry without TLS needs plain HTTP (--plain-http, or plain_http for it in the runner's fleet.registries)",
        });
      });
    let res = await attempt();
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    await res.body?.cancel();
    if (!challenge) return res;
    if (challenge.scheme === "basic") {
      if (!this.options.credentials) throw this.unauthorized("the registry wants a user name and password");
      this.basic = true;
    } else {
      this.tokens.set(scope, await this.token(challenge.params, scope));
    }
    res = await attempt();
    return res;
  }

  private authorization(scope: string): Record<string, string> {
    const token = this.tokens.get(scope);
    if (token) return { authorization: `Bearer ${token}` };
    if (this.basic && this.options.credentials) return { authorization: basicAuthorization(this.options.credentials) };
    return {};
  }

  /** The Bearer token flow of the distribution spec: GET realm?service=…&scope=…, Basic credentials when we have them. */
  private async token(params: Record<string, string>, scope: string): Promise<string> {
    if (!params.realm) throw this.unauthorized("its Bearer challenge names no realm");
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", scope);
    const res = await fetch(url, { headers: this.options.credentials ? { authorization: basicAuthorization(this.options.credentials) } : {} })
      .catch((err: unknown) => {
        throw new ProcVisionError(ErrorCode.unauthorized, `the token service ${url.origin} of ${this.registry} is unreachable: ${String(err)}`, { details: this.upstream() });
      });
    if (!res.ok) throw this.unauthorized(`its token service answered ${res.status}`);
    const body = (await res.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" ? body.token : body.access_token;
    if (typeof token !== "string") throw this.unauthorized("its token service answered without a token");
    return token;
  }

  /**
   * Marks an error as the registry's doing, not the caller's: an API answers it 502 (a refused login is not a bad
   * runner token, though both are 3007).
   */
  private upstream(): { upstream: string } {
    return { upstream: this.registry };
  }

  private unauthorized(why: string): ProcVisionError {
    const login = this.options.loginHint ?? CLI_LOGIN_HINT;
    return new ProcVisionError(ErrorCode.unauthorized, `registry ${this.registry} refused us: ${why}`, {
      details: this.upstream(),
      hint: this.options.credentials ? `check the user name and password (or token) given for this registry (${login})` : login,
    });
  }

  /** A non-2xx answer as a coded error: 401/403 → 3007, 404 → 3006, anything else → `otherwise`. */
  private async failure(res: Response, what: string, otherwise: ErrorCodeValue = ErrorCode.install_failed): Promise<ProcVisionError> {
    const text = (await res.text().catch(() => "")).slice(0, 300);
    if (res.status === 401 || res.status === 403) return this.unauthorized(`${what}: HTTP ${res.status} ${text}`);
    if (res.status === 404) return new ProcVisionError(ErrorCode.not_found, `${what}: not found in ${this.registry}`, { hint: "check the repository, tag or digest (procvision-cli publish prints the digest)" });
    return new ProcVisionError(otherwise, `${what}: registry ${this.registry} answered HTTP ${res.status} ${text}`, { details: this.upstream() });
  }

  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.send(this.url(`${repository}/blobs/${digest}`), { method: "HEAD" }, scopeOf(repository, "pull"));
    if (res.status === 404) return false;
    if (!res.ok) throw await this.failure(res, `blob ${digest}`);
    return true;
  }

  /** Uploads a file as the blob `digest` (computed by the caller), in chunks when it is big. */
  async pushBlobFile(repository: string, file: string, digest: string, size: number, onProgress?: (sent: number) => void): Promise<void> {
    const scope = scopeOf(repository, "pull,push");
    const started = await this.send(this.url(`${repository}/blobs/uploads/`), { method: "POST" }, scope);
    if (started.status !== 202) throw await this.failure(started, `starting the upload of ${digest}`);
    let location = this.resolve(started.headers.get("location"));
    const chunk = this.options.chunkBytes ?? 32 * 1024 * 1024;
    const handle = await open(file, "r");
    try {
      const buffer = Buffer.allocUnsafe(Math.min(chunk, Math.max(size, 1)));
      let sent = 0;
      while (size - sent > buffer.length) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, sent);
        const res = await this.send(location, {
          method: "PATCH", body: buffer.subarray(0, bytesRead),
          headers: { "content-type": "application/octet-stream", "content-range": `${sent}-${sent + bytesRead - 1}`, "content-length": String(bytesRead) },
        }, scope);
        if (res.status !== 202) throw await this.failure(res, `uploading ${digest} at byte ${sent}`);
        location = this.resolve(res.headers.get("location"));
        sent += bytesRead;
        onProgress?.(sent);
      }
      const { bytesRead } = await handle.read(buffer, 0, size - sent, sent);
      const res = await this.send(withQuery(location, "digest", digest), {
        method: "PUT", body: buffer.subarray(0, bytesRead), headers: { "content-type": "application/octet-stream", "content-length": String(bytesRead) },
      }, scope);
      if (res.status !== 201) {
        throw await this.failure(res, `finishing the upload of ${digest}`, res.status === 400 ? ErrorCode.integrity_failed : ErrorCode.install_failed);
      }
      onProgress?.(size);
    } finally {
      await handle.close();
    }
  }

  async pushBlobBytes(repository: string, bytes: Buffer, digest: string): Promise<void> {
    const scope = scopeOf(repository, "pull,push");
    const started = await this.send(this.url(`${repository}/blobs/uploads/`), { method: "POST" }, scope);
    if (started.status !== 202) throw await this.failure(started, `starting the upload of ${digest}`);
    const res = await this.send(withQuery(this.resolve(started.headers.get("location")), "digest", digest), {
      method: "PUT", body: bytes, headers: { "content-type": "application/octet-stream" },
    }, scope);
    if (res.status !== 201) throw await this.failure(res, `uploading ${digest}`);
  }

  /** Puts a manifest under a tag (or its digest); returns the digest the registry stored it as. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType = OCI_MANIFEST): Promise<string> {
    const res = await this.send(this.url(`${repository}/manifests/${reference}`), { method: "PUT", body: bytes, headers: { "content-type": mediaType } }, scopeOf(repository, "pull,push"));
    if (res.status !== 201) throw await this.failure(res, `putting the manifest ${repository}:${reference}`);
    await res.body?.cancel();
    return res.headers.get("docker-content-digest") ?? sha256Digest(bytes);
  }

  /** The manifest's digest without its body (an unchanged desired state costs this one request), or undefined if none. */
  async headManifest(repository: string, reference: string): Promise<string | undefined> {
    const res = await this.send(this.url(`${repository}/manifests/${reference}`), { method: "HEAD", headers: { accept: OCI_MANIFEST } }, scopeOf(repository, "pull"));
    if (res.status === 404) return undefined;
    if (!res.ok) throw await this.failure(res, `manifest ${repository}:${reference}`);
    return res.headers.get("docker-content-digest") ?? undefined;
  }

  /** The manifest's bytes; a digest reference is checked against the bytes (a registry cannot substitute another). */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const res = await this.send(this.url(`${repository}/manifests/${reference}`), { headers: { accept: OCI_MANIFEST } }, scopeOf(repository, "pull"));
    if (!res.ok) throw await this.failure(res, `manifest ${repository}:${reference}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = sha256Digest(bytes);
    if (reference.startsWith("sha256:") && reference !== digest) {
      throw transferMismatch(`the manifest ${repository}@${reference} from ${this.registry} hashes to ${digest}`, "the registry's storage is corrupt or tampered with; publish the package again");
    }
    return { bytes, digest, mediaType: res.headers.get("content-type") ?? "" };
  }

  async getBlobBytes(repository: string, digest: string, maxBytes: number): Promise<Buffer> {
    const res = await this.send(this.url(`${repository}/blobs/${digest}`), {}, scopeOf(repository, "pull"));
    if (!res.ok) throw await this.failure(res, `blob ${digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > maxBytes || sha256Digest(bytes) !== digest) {
      throw transferMismatch(`blob ${digest} from ${this.registry} does not match its digest`, "the registry's storage is corrupt or tampered with; publish it again");
    }
    return bytes;
  }

  /**
   * Streams the blob into `dest`, hashing as it goes. A blob that is longer than `size` or does not hash to `digest`
   * is 2008 and `dest` is removed: nothing unverified is ever left for the install pipeline.
   */
  async pullBlobToFile(repository: string, digest: string, size: number, dest: string, onProgress?: (received: number) => void): Promise<void> {
    const res = await this.send(this.url(`${repository}/blobs/${digest}`), {}, scopeOf(repository, "pull"));
    if (!res.ok || !res.body) throw await this.failure(res, `blob ${digest}`);
    const hash = createHash("sha256");
    let received = 0;
    const file = await open(dest, "w");
    const out = new BatchedWrites(file);
    try {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          received += chunk.byteLength;
          if (received > size) throw transferMismatch(`blob ${digest} is longer than the ${size} bytes its manifest says`);
          hash.update(chunk);
          await out.add(chunk);
          onProgress?.(received);
        }
        await out.end();
      } finally {
        await out.settled();
        await file.close();
      }
      const got = `sha256:${hash.digest("hex")}`;
      if (got !== digest || received !== size) {
        throw transferMismatch(`blob ${digest} from ${this.registry} arrived as ${got} (${received} of ${size} bytes)`,
          "the registry's storage is corrupt or tampered with, or a proxy changed it; publish the package again and install by its digest");
      }
    } catch (err) {
      await res.body.cancel().catch(() => undefined);
      await rm(dest, { force: true });
      throw err;
    }
  }

  /** Upload locations may be relative to the registry. */
  private resolve(location: string | null): string {
    if (!location) throw new ProcVisionError(ErrorCode.install_failed, `registry ${this.registry} started an upload without a Location`);
    return new URL(location, `${this.options.plainHttp ? "http" : "https"}://${this.registry}`).toString();
  }
}

/**
 * Writes a download in batches of about 1 MiB, one batch in flight while the next fills. A write per network chunk
 * (64 KiB) made a 300 MB pull spend more time queueing writes on the thread pool than receiving and hashing
 * (1.3 s against 0.7 s batched; bench section `fleet`).
 */
class BatchedWrites {
  static readonly BATCH_BYTES = 1024 * 1024;
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #inFlight: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: FileHandle) {}

  async add(chunk: Uint8Array): Promise<void> {
    this.#parts.push(chunk);
    this.#bytes += chunk.byteLength;
    if (this.#bytes >= BatchedWrites.BATCH_BYTES) await this.#flush();
  }

  async end(): Promise<void> {
    await this.#flush();
    await this.#inFlight;
  }

  /** Waits out a write still running (after a failure elsewhere), so the file is closed only when nothing uses it. */
  async settled(): Promise<void> {
    await this.#inFlight.catch(() => undefined);
  }

  async #flush(): Promise<void> {
    await this.#inFlight;
    if (this.#parts.length === 0) return;
    const parts = this.#parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    this.#parts = [];
    this.#bytes = 0;
    this.#inFlight = this.file.writev(parts);
  }
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function scopeOf(repository: string, actions: string): string {
  return `repository:${repository}:${actions}`;
}

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/**
 * 2008 for bytes that arrived other than their digest says: the content addressed is fine, what came is not (a
 * corrupt store, a proxy, a cut connection), so a later pull may succeed (`details.transfer`: a fleet station retries).
 */
function transferMismatch(message: string, hint?: string): ProcVisionError {
  return new ProcVisionError(ErrorCode.integrity_failed, message, { ...(hint ? { hint } : {}), details: { transfer: true } });
}
