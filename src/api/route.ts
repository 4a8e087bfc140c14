import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { parseWithIssues } from "../manifest/issues.js";

export type Method = "GET" | "POST" | "DELETE";

/** A route as documented in /openapi.json. */
export interface RouteDoc {
  method: Method;
  url: string;
  summary: string;
  mutation: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  /** Non-JSON request bodies, e.g. application/zip. */
  contentTypes?: string[];
  /** What some of those bodies hold, for OpenAPI (e.g. the parts of a multipart form). */
  contentSchemas?: Record<string, z.ZodType>;
  /** The success body (JSON), for the OpenAPI document and the API tests. */
  response?: z.ZodType;
  /** Non-JSON success bodies, e.g. text/event-stream. */
  responseType?: string;
  /** The success status when it is not 200: 201 for what the request created. */
  status?: 201;
}

export interface RouteContext<B, Q> {
  request: FastifyRequest;
  reply: FastifyReply;
  body: B;
  query: Q;
  params: Record<string, string>;
  operator: string;
}

/** Checks `value` against `schema`; failures are 1006 naming the field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const parsed = parseWithIssues(schema, value ?? {}, where);
  if (!parsed.ok) {
    throw new ProcVisionError(ErrorCode.invalid_params, `${where}: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`, {
      hint: "see GET /openapi.json for the request format",
    });
  }
  return parsed.data as z.output<T>;
}

/**
 * Registers one route: input validated with zod at the boundary, the doc kept for OpenAPI, the handler's return
 * value sent as JSON. Errors go to the server's error handler, which answers `{error_code, message}`.
 */
export function route<B extends z.ZodType | undefined, Q extends z.ZodType | undefined>(
  app: FastifyInstance,
  docs: RouteDoc[],
  def: Omit<RouteDoc, "body" | "query"> & { body?: B; query?: Q },
  handler: (ctx: RouteContext<B extends z.ZodType ? z.output<B> : undefined, Q extends z.ZodType ? z.output<Q> : undefined>) => Promise<unknown> | unknown,
): void {
  docs.push(def as RouteDoc);
  app.route({
    method: def.method,
    url: def.url.replace(/\{(\w+)\}/g, ":$1"),
    config: { mutation: def.mutation },
    handler: async (request, reply) => {
      type Body = B extends z.ZodType ? z.output<B> : undefined;
      type Query = Q extends z.ZodType ? z.output<Q> : undefined;
      const body = (def.body ? parseInput(def.body, request.body, "body") : undefined) as Body;
      const query = (def.query ? parseInput(def.query, request.query, "query") : undefined) as Query;
      const operator = (request as FastifyRequest & { operator?: string }).operator ?? "anonymous";
      const result = await handler({ request, reply, body, query, params: request.params as Record<string, string>, operator });
      if (reply.sent) return reply;
      if (def.status !== undefined) reply.code(def.status);
      return result ?? { ok: true };
    },
  });
}
