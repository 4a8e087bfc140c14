import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import multipart from "@fastify/multipart";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { packageRoot } from "../package-root.js";
import type { LineLog } from "../supervisor/types.js";
import { toErrorBody } from "./http-errors.js";
import { openApiDocument } from "./openapi.js";
import type { RouteDoc } from "./route.js";
import { algorithmRoutes } from "./routes/algorithms.js";
import { inspectRoutes } from "./routes/inspect.js";
import { observeRoutes } from "./routes/observe.js";
import { telemetryRoutes } from "./routes/telemetry.js";
import type { RunnerPort } from "./runner-port.js";
import { bearerMatches } from "./token.js";

export interface ApiOptions {
  runner: RunnerPort;
  token: string;
  /** Largest zip upload streamed to disk (default 4 GiB). */
  uploadLimitBytes?: number;
  /** Largest image (multipart file or raw pixels) held in memory (default 128 MiB). */
  imageLimitBytes?: number;
  log?: LineLog;
}

declare module "fastify" {
  interface FastifyContextConfig {
    mutation?: boolean;
  }
}

const version = (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
const OPERATOR = /^[\w .@-]{1,64}$/;

/** Who the audit log names: the X-Operator header when it is a plain name, else "api". */
function operatorOf(request: FastifyRequest): string {
  const header = request.headers["x-operator"];
  const value = Array.isArray(header) ? header[0] : header;
  return value && OPERATOR.test(value) ? value : "api";
}

const CONSOLE_FILES: Record<string, string> = {
  "/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/style.css": "style.css",
};
const CONTENT_TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

/** The HTTP API (contract §7 Interfaces) and the web console, over a runner. Not listening yet: call `listen`. */
function noSchemaCompiler(): () => never {
  return () => {
    throw new Error("fastify route schemas are not used here: declare request schemas with zod in the route (src/api/route.ts)");
  };
}

export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const imageLimit = options.imageLimitBytes ?? 128 * 1024 * 1024;
  const app = Fastify({
    // close() ends idle keep-alive connections and lets running requests finish (a stopping station answers what it
    // started); event streams are ended by their route.
    logger: false, bodyLimit: imageLimit, forceCloseConnections: "idle",
    // Requests are checked with zod (route.ts) and replies are plain JSON: fastify's own schema compilers (ajv and
    // fast-json-stringify, ~130 modules and ~2 MB resident in an idle runner) would never run, so they never load.
    schemaController: { compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler } },
  });
  const docs: RouteDoc[] = [];
  // While closing, a keep-alive connection whose last request has just been answered is closed at once, not after
  // its idle timeout (close() ends only the connections idle when it starts).
  let idleSweep: NodeJS.Timeout | undefined;
  app.addHook("preClose", (done) => {
    idleSweep = setInterval(() => app.server.closeIdleConnections(), 100);
    done();
  });
  app.addHook("onClose", (_instance, done) => {
    clearInterval(idleSweep);
    done();
  });

  await app.register(multipart, { limits: { fileSize: imageLimit, files: 2, fields: 20 }, throwFileSizeLimit: true });
  // Zip uploads stay a stream (written to disk by the route); raw pixels arrive as one Buffer.
  app.addContentTypeParser("application/zip", (_request, payload, done) => done(null, payload));
  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer", bodyLimit: imageLimit }, (_request, body, done) => done(null, body));

  app.addHook("onRequest", async (request, reply) => {
    (request as FastifyRequest & { operator?: string }).operator = operatorOf(request);
    if (request.routeOptions.config?.mutation && !bearerMatches(request.headers.authorization, options.token)) {
      const { status, body } = toErrorBody(new ProcVisionError(ErrorCode.unauthorized, `${request.method} ${request.url.split("?")[0]} needs the runner's token`, {
        hint: "send Authorization: Bearer <token>; the token is in <root>/token on the station",
      }));
      options.log?.(`denied ${request.method} ${request.url.split("?")[0]} (no valid token)`, "warn");
      return reply.code(status).send(body);
    }
    return undefined;
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toErrorBody(err);
    if (status >= 500) options.log?.(`${request.method} ${request.url.split("?")[0]} failed: ${body.message}`, "error");
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({
    error_code: ErrorCode.not_found, message: `no route ${request.method} ${request.url.split("?")[0]}`, hint: "see GET /openapi.json",
  }));

  algorithmRoutes(app, docs, options.runner, options.uploadLimitBytes ?? 4 * 1024 ** 3);
  inspectRoutes(app, docs, options.runner);
  observeRoutes(app, docs, options.runner);
  telemetryRoutes(app, docs, options.runner);
  app.get("/openapi.json", async () => openApiDocument(docs, version));

  const consoleDir = path.join(packageRoot(), "dist", "console");
  for (const [url, file] of Object.entries(CONSOLE_FILES)) {
    app.get(url, async (_request, reply) => {
      const full = path.join(consoleDir, file);
      if (!existsSync(full)) return reply.code(404).type("text/plain").send("console not built: run npm run build");
      return reply.type(CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream").header("cache-control", "no-cache").send(await readFile(full));
    });
  }
  return app;
}
