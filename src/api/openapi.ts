import { z } from "zod";
import type { RouteDoc } from "./route.js";
import { schemas } from "./schemas.js";

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return rest;
}

/** OpenAPI 3.1 document built from the same zod schemas that validate the requests. */
export function openApiDocument(routes: readonly RouteDoc[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponse = { description: "error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
  for (const r of routes) {
    const parameters: unknown[] = [...r.url.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    if (r.query) {
      const props = (jsonSchema(r.query).properties ?? {}) as Record<string, unknown>;
      for (const [name, schema] of Object.entries(props)) parameters.push({ name, in: "query", required: false, schema });
    }
    const content: Record<string, unknown> = {};
    if (r.body) content["application/json"] = { schema: jsonSchema(r.body) };
    for (const type of r.contentTypes ?? []) {
      const schema = r.contentSchemas?.[type];
      content[type] ??= { schema: schema ? jsonSchema(schema) : {} };
    }
    paths[r.url] ??= {};
    paths[r.url]![r.method.toLowerCase()] = {
      summary: r.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(Object.keys(content).length ? { requestBody: { required: true, content } } : {}),
      ...(r.mutation ? { security: [{ bearer: [] }] } : {}),
      responses: {
        [String(r.status ?? 200)]: { description: r.status === 201 ? "created" : "success", content: { [r.responseType ?? "application/json"]: { schema: r.response ? jsonSchema(r.response) : {} } } },
        "4XX": errorResponse, "5XX": errorResponse,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "procvision-runner", version, description: "Install, activate and run inspection algorithms. Mutations need Authorization: Bearer <token from <root>/token>." },
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: jsonSchema(schemas.error) },
    },
  };
}
