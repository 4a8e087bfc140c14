import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, realpath, rm } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ErrorCode } from "../../errors/codes.js";
import { ProcVisionError } from "../../errors/procvision-error.js";
import { UPLOADS_DIR } from "../../store/index.js";
import { route, type RouteDoc } from "../route.js";
import type { RunnerPort } from "../runner-port.js";
import * as responses from "../responses.js";
import { schemas } from "../schemas.js";

const truthy = (v: string | undefined) => v === "true" || v === "1";

/** Streams an upload to disk, failing (and removing the file) past `limit` bytes, so no upload is held in memory. */
async function saveUpload(stream: Readable, file: string, limit: number): Promise<void> {
  let seen = 0;
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) {
        done(new ProcVisionError(ErrorCode.invalid_zip, `upload larger than the ${limit} bytes allowed`, {
          hint: "copy the zip into <root>/zips/ and install it with {\"path\"} instead",
        }));
      } else done(null, chunk);
    },
  });
  try {
    await pipeline(stream, guard, createWriteStream(file, { flags: "wx", mode: 0o600 }));
  } catch (err) {
    await rm(file, { force: true });
    throw err;
  }
}

/** `{"path"}` installs are limited to files inside `<root>/zips/`: the API never reads arbitrary paths. */
async function zipInsideRoot(root: string, given: string): Promise<string> {
  const zips = await realpath(path.join(root, "zips"));
  const candidate = path.resolve(zips, given);
  if (!existsSync(candidate)) throw new ProcVisionError(ErrorCode.not_found, `${given} not found in ${zips}`, { hint: "copy the zip into the runner's zips/ folder first" });
  const real = await realpath(candidate);
  if (!real.startsWith(zips + path.sep)) {
    throw new ProcVisionError(ErrorCode.invalid_zip, `${given} is outside ${zips}`, { hint: "only zips inside the runner's zips/ folder can be installed by path; upload others as application/zip" });
  }
  return real;
}

export function algorithmRoutes(app: FastifyInstance, docs: RouteDoc[], runner: RunnerPort, uploadLimit: number): void {
  route(app, docs, { method: "GET", url: "/algorithms", summary: "installed packages (filter by state, name)", mutation: false, query: schemas.listQuery, response: z.array(responses.packageInfo) },
    ({ query }) => runner.list({ ...(query.state ? { state: query.state } : {}), ...(query.name ? { name: query.name } : {}) }));
  route(app, docs, { method: "GET", url: "/algorithms/active", summary: "PID bindings", mutation: false, response: z.array(responses.binding) }, () => runner.active());

  route(app, docs, {
    method: "POST", url: "/algorithms/install", summary: "install an offline package: body application/zip, JSON {path} inside zips/, or JSON {ref} of an OCI registry (oci://…:tag or @sha256:…)", mutation: true,
    query: schemas.install, contentTypes: ["application/zip", "application/json"], response: responses.installResult, status: 201,
  }, async ({ request, query, operator }) => {
    const force = truthy(query.force);
    const contentType = String(request.headers["content-type"] ?? "").split(";")[0]?.trim();
    let result: unknown;
    if (contentType === "application/zip" || contentType === "application/octet-stream") {
      const uploads = path.join(runner.root, "zips", UPLOADS_DIR);
      await mkdir(uploads, { recursive: true });
      const file = path.join(uploads, `upload-${Date.now()}-${randomBytes(4).toString("hex")}.zip`);
      await saveUpload(request.body as Readable, file, uploadLimit);
      try {
        // The temporary file means nothing to the user: list, the audit and errors name the upload.
        result = await runner.install(file, { force, operator, origin: query.filename === undefined ? "upload" : `upload ${path.basename(query.filename)}` });
      } finally {
        await rm(file, { force: true });
      }
    } else {
      const body = schemas.installPath.safeParse(request.body);
      if (!body.success) {
        throw new ProcVisionError(ErrorCode.invalid_params, "install needs a body of type application/zip, JSON {\"path\": \"<zip inside zips/>\"} or JSON {\"ref\": \"oci://<registry>/<repository>:<tag>\"}", {
          hint: "curl -H 'Content-Type: application/zip' --data-binary @pkg.zip ...",
        });
      }
      result = "ref" in body.data
        ? await runner.install({ ref: body.data.ref }, { force, operator })
        : await runner.install(await zipInsideRoot(runner.root, body.data.path), { force, operator });
    }
    return result;
  });

  route(app, docs, { method: "POST", url: "/algorithms/validate", summary: "run the smoke checks of an installed version again", mutation: true, body: schemas.nameVersion, response: responses.validationReport },
    ({ body, operator }) => runner.validate(body.name, body.version, { operator }));
  route(app, docs, { method: "POST", url: "/algorithms/activate", summary: "bind PIDs to a version (2006 when bound elsewhere)", mutation: true, body: schemas.bind, response: z.array(responses.bindingChange) },
    ({ body, operator }) => runner.activate(body.name, body.version, body.pids, { operator }));
  route(app, docs, { method: "POST", url: "/algorithms/switch", summary: "rebind PIDs to another version with zero downtime", mutation: true, body: schemas.bind, response: z.array(responses.bindingChange) },
    ({ body, operator }) => runner.switch(body.name, body.version, body.pids, { operator }));
  route(app, docs, { method: "POST", url: "/algorithms/rollback", summary: "switch PIDs back to their previous version", mutation: true, body: schemas.pids, response: z.array(responses.bindingChange) },
    ({ body, operator }) => runner.rollback(body.pids, { operator }));
  route(app, docs, { method: "POST", url: "/algorithms/deactivate", summary: "unbind PIDs", mutation: true, body: schemas.pids, response: z.array(responses.bindingChange) },
    ({ body, operator }) => runner.deactivate(body.pids, { operator }));
  route(app, docs, { method: "DELETE", url: "/algorithms/{name}/{version}", summary: "uninstall (2007 when active or in use, unless force)", mutation: true, query: schemas.force, response: responses.uninstalled },
    ({ params, query, operator }) => runner.uninstall(params.name ?? "", params.version ?? "", { force: truthy(query.force), operator }));
  route(app, docs, { method: "POST", url: "/algorithms/{name}/{version}/start", summary: "start the version's workers", mutation: true, response: responses.running },
    ({ params, operator }) => runner.start(params.name ?? "", params.version ?? "", { operator }));
  route(app, docs, { method: "POST", url: "/algorithms/{name}/{version}/stop", summary: "drain and stop the version's workers", mutation: true, response: responses.running },
    ({ params, operator }) => runner.stop(params.name ?? "", params.version ?? "", { operator }));
  route(app, docs, { method: "GET", url: "/algorithms/{name}/{version}/logs", summary: "the tail of the workers' stderr log", mutation: false, query: schemas.logsQuery, response: responses.logLines },
    async ({ params, query }) => ({ lines: await runner.logs(params.name ?? "", params.version ?? "", query.lines ? { lines: query.lines } : {}) }));
}
