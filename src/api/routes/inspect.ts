import type { FastifyInstance, FastifyRequest } from "fastify";
import type { MultipartFile } from "@fastify/multipart";
import { ErrorCode } from "../../errors/codes.js";
import { ProcVisionError } from "../../errors/procvision-error.js";
import { parseInput, route, type RouteDoc } from "../route.js";
import type { RunnerInspectRequest } from "../../runner/runner.js";
import type { RunnerPort } from "../runner-port.js";
import * as responses from "../responses.js";
import { schemas, type InspectFields } from "../schemas.js";

function userParams(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ProcVisionError(ErrorCode.invalid_params, `user_params is not valid JSON: ${(err as Error).message}`, { hint: "send a JSON object string, e.g. {\"threshold\": 0.8}" });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ProcVisionError(ErrorCode.invalid_params, "user_params must be a JSON object", { hint: "e.g. {\"threshold\": 0.8}" });
  }
  return parsed as Record<string, unknown>;
}

/** guide_info text field: any JSON (G3 annotations); absent or empty → the default. */
function guideInfo(text: string | undefined): { guide_info?: unknown } {
  if (text === undefined || text.trim() === "") return {};
  try {
    return { guide_info: JSON.parse(text) as unknown };
  } catch (err) {
    throw new ProcVisionError(ErrorCode.invalid_params, `guide_info is not valid JSON: ${(err as Error).message}`, {
      hint: "send a JSON string, e.g. [{\"label\": \"1\", \"posList\": [{\"x\": 10, \"y\": 20, \"width\": 30, \"height\": 40}]}]",
    });
  }
}

/** File fields of the form: the current image (`image`, or `cur_image` as the original SDK names it) and the guide image. */
const FILE_FIELDS: Readonly<Record<string, "image" | "guide">> = { image: "image", cur_image: "image", guide_image: "guide" };

/** Multipart: file fields `image` (alias `cur_image`) and `guide_image` (JPEG/PNG) plus text fields. */
async function fromMultipart(request: FastifyRequest): Promise<{ fields: Record<string, string>; image?: Buffer; guide?: Buffer }> {
  try {
    return await readParts(request);
  } catch (err) {
    // The form parser's own errors (a body cut short, no boundary) are a bad request, not the runner's failure.
    if (err instanceof ProcVisionError || (typeof (err as { statusCode?: unknown }).statusCode === "number")) throw err;
    throw new ProcVisionError(ErrorCode.invalid_params, `the multipart form cannot be read: ${(err as Error).message}`, {
      hint: "send a complete multipart/form-data body with its boundary (curl -F image=@part.jpg -F pid=…)",
    });
  }
}

async function readParts(request: FastifyRequest): Promise<{ fields: Record<string, string>; image?: Buffer; guide?: Buffer }> {
  const fields: Record<string, string> = {};
  const files: { image?: Buffer; guide?: Buffer } = {};
  for await (const part of request.parts()) {
    if (part.type === "file") {
      const file = part as MultipartFile;
      const slot = FILE_FIELDS[file.fieldname];
      const bytes = await file.toBuffer();
      if (slot === undefined) continue;
      if (files[slot] !== undefined) {
        throw new ProcVisionError(ErrorCode.invalid_params, `the form carries more than one ${slot === "image" ? "current image (image / cur_image)" : "guide_image"}`, {
          hint: "send each image once: image (or cur_image) and optionally guide_image",
        });
      }
      files[slot] = bytes;
    } else {
      fields[part.fieldname] = String(part.value);
    }
  }
  return { fields, ...files };
}

function rawImage(fields: InspectFields, data: Buffer): RunnerInspectRequest["image"] {
  if (fields.width === undefined || fields.height === undefined) {
    throw new ProcVisionError(ErrorCode.image_load_failed, "a raw pixel body needs width and height query parameters", {
      hint: "POST /inspect?pid=…&width=1920&height=1200&channels=3 with Content-Type: application/octet-stream",
    });
  }
  return {
    data, width: fields.width, height: fields.height,
    ...(fields.channels ? { channels: fields.channels } : {}), ...(fields.color_space ? { color_space: fields.color_space } : {}),
  };
}

export function inspectRoutes(app: FastifyInstance, docs: RouteDoc[], runner: RunnerPort): void {
  route(app, docs, { method: "POST", url: "/sessions", summary: "start an inspection flow for a PID", mutation: true, body: schemas.session, response: responses.session, status: 201 },
    ({ body }) => runner.createSession(body.pid, body.context));
  route(app, docs, { method: "POST", url: "/sessions/{id}/reset", summary: "clear a session's state", mutation: true, response: responses.session },
    ({ params }) => runner.resetSession(params.id ?? ""));
  route(app, docs, { method: "DELETE", url: "/sessions/{id}", summary: "end a session", mutation: true, response: responses.session },
    ({ params }) => runner.endSession(params.id ?? ""));

  route(app, docs, {
    method: "POST", url: "/inspect", mutation: true, query: schemas.inspectFields.partial(),
    summary: "pre_execute and/or execute a step: multipart (file fields image or cur_image, and guide_image for G3, + text fields) " +
      "or raw pixels of the current image (application/octet-stream + query; single image only: a guide image needs multipart)",
    contentTypes: ["multipart/form-data", "application/octet-stream"], contentSchemas: { "multipart/form-data": schemas.inspectForm },
    response: responses.inspectResponse,
  }, async ({ request }) => {
    let fields: InspectFields;
    let image: RunnerInspectRequest["image"];
    let guide: RunnerInspectRequest["guide_image"];
    if (request.isMultipart()) {
      const form = await fromMultipart(request);
      fields = parseInput(schemas.inspectFields, { ...(request.query as object), ...form.fields }, "inspect");
      if (!form.image) {
        throw new ProcVisionError(ErrorCode.image_load_failed, "no file field named image (or cur_image) in the form", { hint: "curl -F image=@part.jpg -F pid=p001 ..." });
      }
      image = { bytes: form.image };
      if (form.guide) guide = { bytes: form.guide };
    } else if (Buffer.isBuffer(request.body)) {
      fields = parseInput(schemas.inspectFields, request.query, "inspect");
      image = rawImage(fields, request.body);
    } else {
      throw new ProcVisionError(ErrorCode.image_load_failed, "POST /inspect takes multipart/form-data or application/octet-stream", {
        hint: "send the image as a multipart file field named image, or raw pixels with width/height query parameters",
      });
    }
    return runner.inspect({
      pid: fields.pid, step_index: fields.step_index, method: fields.method, user_params: userParams(fields.user_params), image,
      ...(guide ? { guide_image: guide } : {}),
      ...(fields.step_desc !== undefined ? { step_desc: fields.step_desc } : {}),
      ...guideInfo(fields.guide_info),
      ...(fields.session_id ? { session_id: fields.session_id } : {}),
    });
  });
}
