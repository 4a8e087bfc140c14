import { createReadStream } from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ErrorCode } from "../../errors/codes.js";
import { ProcVisionError } from "../../errors/procvision-error.js";
import { route, type RouteDoc } from "../route.js";
import type { RunnerPort } from "../runner-port.js";
import * as responses from "../responses.js";

const recordId = (value: string | undefined): number => {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) {
    throw new ProcVisionError(ErrorCode.invalid_params, `record id must be a positive integer, got ${JSON.stringify(value)}`, { hint: "take the id from GET /records" });
  }
  return id;
};

/** Telemetry status and control, and the images kept for NG records (contract §8). */
export function telemetryRoutes(app: FastifyInstance, docs: RouteDoc[], runner: RunnerPort): void {
  route(app, docs, { method: "GET", url: "/telemetry", summary: "telemetry: outbox depth by kind, oldest pending age, last success and error, bytes sent, dropped by quota", mutation: false, response: responses.telemetryStatus },
    () => runner.telemetry());
  for (const action of ["pause", "resume"] as const) {
    route(app, docs, { method: "POST", url: `/telemetry/${action}`, summary: `${action} uploads (inspections and the outbox go on)`, mutation: true, response: responses.telemetryStatus },
      ({ operator }) => runner.setTelemetryPaused(action === "pause", { operator }));
  }
  route(app, docs, { method: "GET", url: "/records/{id}/images", summary: "the images kept for a record: the current image and an annotated copy with the rects drawn", mutation: false, response: responses.recordImages },
    async ({ params }) => {
      const id = recordId(params.id);
      const images = await runner.recordImages(id);
      return {
        record_id: id,
        images: images.map((a) => ({ kind: a.kind, url: `/records/${id}/images/${a.kind}`, bytes: a.bytes, width: a.width, height: a.height, uploaded: a.uploaded, created: new Date(a.created_ms).toISOString() })),
      };
    });
  route(app, docs, { method: "GET", url: "/records/{id}/images/{kind}", summary: "one kept image of a record as JPEG (kind: image or annotated)", mutation: false, responseType: "image/jpeg" },
    async ({ params, reply }) => {
      const kind = z.enum(["image", "annotated"]).safeParse(params.kind);
      if (!kind.success) {
        throw new ProcVisionError(ErrorCode.invalid_params, `image kind must be image or annotated, got ${JSON.stringify(params.kind)}`, { hint: "GET /records/{id}/images lists them" });
      }
      const id = recordId(params.id);
      const found = (await runner.recordImages(id)).find((a) => a.kind === kind.data);
      if (found === undefined) throw new ProcVisionError(ErrorCode.not_found, `record ${id} has no ${kind.data} image`, { hint: "GET /records/{id}/images lists them" });
      return reply.type("image/jpeg").header("cache-control", "private, max-age=3600").send(createReadStream(path.join(runner.root, found.path)));
    });
}
