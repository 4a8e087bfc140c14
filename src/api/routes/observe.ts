import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { route, type RouteDoc } from "../route.js";
import type { RunnerEvent, RunnerPort } from "../runner-port.js";
import * as responses from "../responses.js";
import { schemas } from "../schemas.js";

const definedOnly = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, string | number>;

export function observeRoutes(app: FastifyInstance, docs: RouteDoc[], runner: RunnerPort): void {
  route(app, docs, { method: "GET", url: "/health", summary: "liveness and a summary of packages and workers", mutation: false, response: responses.health },
    async () => {
      const status = await runner.status() as { problems?: string[] };
      return { status: (status.problems?.length ?? 0) > 0 ? "degraded" : "ok", ...status };
    });
  route(app, docs, { method: "GET", url: "/metrics", summary: "Prometheus metrics", mutation: false, responseType: "text/plain" }, async ({ reply }) => {
    const { contentType, body } = await runner.metrics();
    return reply.type(contentType).send(body);
  });
  route(app, docs, { method: "GET", url: "/records", summary: "inspection records, newest first", mutation: false, query: schemas.recordsQuery, response: z.array(responses.inspectionRecord) },
    ({ query }) => runner.records(definedOnly(query)));
  route(app, docs, { method: "GET", url: "/fleet", summary: "this station in the fleet: desired state, what it runs, the last convergence", mutation: false, response: responses.fleet },
    () => runner.fleet());
  route(app, docs, { method: "POST", url: "/fleet/poll", summary: "poll the desired state now and converge to it", mutation: true, response: responses.fleet },
    () => runner.fleetPoll());
  route(app, docs, { method: "GET", url: "/audit", summary: "audit log of every mutation, newest first", mutation: false, query: schemas.auditQuery, response: z.array(responses.auditEntry) },
    ({ query }) => runner.audit(definedOnly(query)));

  // Open event streams never end by themselves: they are ended when the server closes, so that a graceful close
  // (running requests finish, idle connections go) is not held up by them.
  const streams = new Set<ServerResponse>();
  app.addHook("preClose", (done) => {
    for (const res of streams) res.end();
    done();
  });
  route(app, docs, { method: "GET", url: "/events", summary: "server-sent events: state changes, worker events, installs, inspections", mutation: false, responseType: "text/event-stream" },
    ({ request, reply }) => {
      reply.hijack();
      const res = reply.raw;
      streams.add(res);
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      res.write(": procvision events\n\n");
      let id = 0;
      const send = (event: RunnerEvent) => {
        id += 1;
        res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      };
      // A comment line every 15 s keeps proxies and idle timeouts from closing a quiet stream.
      const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
      keepAlive.unref();
      runner.events.on("event", send);
      request.raw.on("close", () => {
        clearInterval(keepAlive);
        runner.events.off("event", send);
        streams.delete(res);
      });
    });
}
