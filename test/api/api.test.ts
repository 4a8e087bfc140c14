import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import * as responses from "../../src/api/responses.js";
import { buildApi } from "../../src/api/server.js";
import { ensureToken } from "../../src/api/token.js";
import { Runner } from "../../src/runner/runner.js";
import { EXAMPLE, exampleZip, g3Zip } from "../helpers/store.js";

const work = mkdtempSync(path.join(tmpdir(), "pv-api-"));
const root = path.join(work, "root");
let runner: Runner;
let app: FastifyInstance;
let url: string;
let token: string;
let v1: string;
let v2: string;
const sample = path.join(EXAMPLE, "sample.png");

beforeAll(async () => {
  [v1, v2] = await Promise.all([exampleZip(work, { version: "1.0" }), exampleZip(work, { version: "1.1" })]);
  runner = await Runner.open({ root, config: { execute_timeout_ms: 10_000 }, log: () => undefined });
  token = await ensureToken(root);
  app = await buildApi({ runner, token, uploadLimitBytes: 64 * 1024 * 1024 });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
}, 120_000);

afterAll(async () => {
  await app.close();
  await runner.close();
  rmSync(work, { recursive: true, force: true });
});

type BodyInit = NonNullable<RequestInit["body"]>;

interface Answer {
  status: number;
  body: Record<string, unknown> & { error_code?: string; message?: string };
  text: string;
  headers: Headers;
}

async function http(method: string, route: string, init: { json?: unknown; body?: BodyInit; type?: string; auth?: string | null; operator?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const auth = init.auth === undefined ? token : init.auth;
  if (auth !== null) headers.authorization = `Bearer ${auth}`;
  if (init.operator) headers["x-operator"] = init.operator;
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  } else if (init.type) headers["content-type"] = init.type;
  const response = await fetch(`${url}${route}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = {};
  }
  return { status: response.status, body: parsed as Answer["body"], text, headers: response.headers };
}

/** The answer matches the response schema documented in /openapi.json. */
function conforms(schema: z.ZodType, answer: Answer): void {
  const parsed = schema.safeParse(answer.body);
  expect(parsed.success, parsed.success ? "" : `${answer.text.slice(0, 300)}\n${JSON.stringify(parsed.error.issues.slice(0, 3))}`).toBe(true);
}

const upload = async (zip: string, query = "") => http("POST", `/algorithms/install${query}`, { body: await readFile(zip), type: "application/zip" });

function inspectForm(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return form;
}

async function withImage(form: FormData): Promise<FormData> {
  form.set("image", new Blob([await readFile(sample)]), "sample.png");
  return form;
}

describe("HTTP API", { timeout: 120_000 }, () => {
  it("GET /health answers without a token", async () => {
    const health = await http("GET", "/health", { auth: null });
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", packages: 0 });
    conforms(responses.health, health);
  });

  it("GET /fleet of a station that follows no desired state: the whole answer, nothing desired, nothing polled", async () => {
    const answer = await http("GET", "/fleet");
    conforms(responses.fleet, answer);
    expect(answer.body).toMatchObject({ desired: null, last_poll: null, last_convergence: null, failures: 0 });
  });

  it("mutations need the bearer token: 401 with 3007, and nothing happens", async () => {
    for (const auth of [null, "wrong-token"]) {
      const denied = await http("POST", "/algorithms/install", { body: await readFile(v1), type: "application/zip", auth });
      expect(denied.status).toBe(401);
      expect(denied.body).toMatchObject({ error_code: "3007" });
      expect(denied.body.message).toMatch(/token/);
    }
    expect((await http("GET", "/algorithms")).body).toEqual([]);
  });

  it("installs an uploaded zip (201), refuses the same version again (409, 2005) unless force, and leaves no upload behind", async () => {
    const installed = await upload(v1);
    expect(installed.status, installed.text).toBe(201);
    expect(installed.body).toMatchObject({ name: "algorithm-example", version: "1.0", state: "installed" });
    conforms(responses.installResult, installed);
    const again = await upload(v1);
    expect(again.status).toBe(409);
    expect(again.body.error_code).toBe("2005");
    expect((await upload(v1, "?force=true&filename=/home/ops/algorithm-example-v1.0-offline.zip")).status).toBe(201);
    expect(readdirSync(path.join(root, "zips", ".uploads"))).toEqual([]);
    const list = await http("GET", "/algorithms?state=installed");
    conforms(z.array(responses.packageInfo), list);
    expect((list.body as unknown as { name: string; version: string; supported_pids: string[]; source_zip: string }[]).map((p) => [p.name, p.version, p.supported_pids, p.source_zip]))
      .toEqual([["algorithm-example", "1.0", ["p001", "p002"], "upload algorithm-example-v1.0-offline.zip"]]);
    // The upload's temporary file is named nowhere: not in the audit, not in an error.
    expect(((await http("GET", "/audit?action=install&limit=1")).body as unknown as { detail: string }[])[0]?.detail).toMatch(/^from upload algorithm-example-v1\.0-offline\.zip in \d+ ms/);
    const junk = await http("POST", "/algorithms/install?filename=notes.zip", { body: Buffer.from("not a zip at all"), type: "application/zip" });
    expect(junk.status).toBe(400);
    expect(junk.body).toMatchObject({ error_code: "2001", message: expect.stringMatching(/^upload notes\.zip is not a readable zip/) });
    expect(JSON.stringify(await http("GET", "/audit"))).not.toContain(".uploads");
  });

  it("install {path} only inside zips/; 2001 for anything else, 3006 for a missing file", async () => {
    copyFileSync(v2, path.join(root, "zips", "incoming-v1.1.zip"));
    const inside = await http("POST", "/algorithms/install", { json: { path: "incoming-v1.1.zip" } });
    expect(inside.status, inside.text).toBe(201);
    expect(inside.body).toMatchObject({ version: "1.1", state: "installed" });
    symlinkSync(v1, path.join(root, "zips", "link-out.zip"));
    for (const given of [v1, "../zips/../../outside.zip", "link-out.zip"]) {
      const refused = await http("POST", "/algorithms/install", { json: { path: given } });
      expect(refused.status, given).toBeGreaterThanOrEqual(400);
      expect(["2001", "3006"], given).toContain(refused.body.error_code);
    }
    expect((await http("POST", "/algorithms/install", { json: { path: "link-out.zip" } })).body.error_code).toBe("2001");
    expect((await http("POST", "/algorithms/install", { json: { path: "nope.zip" } })).body.error_code).toBe("3006");
    expect((await http("POST", "/algorithms/install", { json: { wrong: 1 } })).body.error_code).toBe("1006");
  });

  it("an upload over the size limit is refused with 2001 and leaves nothing behind", async () => {
    const small = await buildApi({ runner, token, uploadLimitBytes: 1024 });
    const smallUrl = await small.listen({ host: "127.0.0.1", port: 0 });
    try {
      const response = await fetch(`${smallUrl}/algorithms/install`, {
        method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/zip" }, body: await readFile(v1),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error_code: string }).error_code).toBe("2001");
      expect(readdirSync(path.join(root, "zips", ".uploads"))).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it("activate binds PIDs; a second version cannot take them (2006) but switch can; rollback and deactivate; all audited", async () => {
    const activated = await http("POST", "/algorithms/activate", { json: { name: "algorithm-example", version: "1.0", pids: ["p001", "p002"] }, operator: "alice" });
    expect(activated.status, activated.text).toBe(200);
    conforms(z.array(responses.bindingChange), activated);
    const conflict = await http("POST", "/algorithms/activate", { json: { name: "algorithm-example", version: "1.1", pids: ["p001"] } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error_code).toBe("2006");
    const unsupported = await http("POST", "/algorithms/activate", { json: { name: "algorithm-example", version: "1.1", pids: ["zzz"] } });
    expect(unsupported.body.error_code).toBe("2006");
    const missing = await http("POST", "/algorithms/activate", { json: { name: "nope", version: "9", pids: ["p001"] } });
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe("3006");

    const switched = await http("POST", "/algorithms/switch", { json: { name: "algorithm-example", version: "1.1", pids: ["p001"] } });
    expect(switched.status).toBe(200);
    conforms(z.array(responses.bindingChange), switched);
    const active = await http("GET", "/algorithms/active");
    conforms(z.array(responses.binding), active);
    const bindings = active.body as unknown as { pid: string; version: string }[];
    expect(Object.fromEntries(bindings.map((b) => [b.pid, b.version]))).toEqual({ p001: "1.1", p002: "1.0" });
    expect((await http("POST", "/algorithms/rollback", { json: { pids: ["p001"] } })).status).toBe(200);
    const back = (await http("GET", "/algorithms/active")).body as unknown as { pid: string; version: string }[];
    expect(back.find((b) => b.pid === "p001")?.version).toBe("1.0");

    const auditAnswer = await http("GET", "/audit?limit=20");
    conforms(z.array(responses.auditEntry), auditAnswer);
    const audit = auditAnswer.body as unknown as { operator: string; action: string; outcome: string }[];
    expect(audit.find((a) => a.action === "activate" && a.outcome === "ok")?.operator).toBe("alice");
    expect(audit.some((a) => a.action === "activate" && a.outcome === "failed")).toBe(true);
  });

  it("POST /inspect: multipart JPEG/PNG and raw pixels; the answer carries both calls with latency; records kept", async () => {
    const both = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "1" })) });
    expect(both.status, both.text).toBe(200);
    conforms(responses.inspectResponse, both);
    expect(both.body).toMatchObject({ name: "algorithm-example", version: "1.0", pre_execute: { status: "OK" }, execute: { status: "OK" } });
    expect(typeof (both.body.execute as { latency_ms: number }).latency_ms).toBe("number");
    expect(typeof both.body.session_id).toBe("string");

    const { data, info } = await sharp(sample).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const raw = await http("POST", `/inspect?pid=p002&step_index=2&method=execute&width=${info.width}&height=${info.height}&channels=3`, {
      body: data, type: "application/octet-stream",
    });
    expect(raw.status, raw.text).toBe(200);
    expect(raw.body.pre_execute).toBeUndefined();
    expect(raw.body.execute).toMatchObject({ status: "OK" });

    const recordsAnswer = await http("GET", "/records?pid=p001");
    conforms(z.array(responses.inspectionRecord), recordsAnswer);
    const records = recordsAnswer.body as unknown as { pid: string; method: string; latency_ms: number }[];
    expect(records.map((r) => r.method).sort()).toEqual(["execute", "pre_execute"]);
  });

  it("inspect request errors: 3004 unbound PID, 1006 bad params naming them, 1002 no image, 1006 bad fields", async () => {
    const unbound = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p999" })) });
    expect(unbound.status).toBe(404);
    expect(unbound.body.error_code).toBe("3004");
    const badParams = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "2", user_params: JSON.stringify({ threshold: 5 }) })) });
    expect(badParams.status).toBe(400);
    expect(badParams.body.error_code).toBe("1006");
    expect(badParams.body.message).toMatch(/threshold/);
    const notJson = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", user_params: "{oops" })) });
    expect(notJson.body.error_code).toBe("1006");
    const noImage = await http("POST", "/inspect", { body: inspectForm({ pid: "p001" }) });
    expect(noImage.body.error_code).toBe("1002");
    const noSize = await http("POST", "/inspect?pid=p001", { body: Buffer.alloc(30), type: "application/octet-stream" });
    expect(noSize.body.error_code).toBe("1002");
    const badStep = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "zero" })) });
    // The message echoes what was sent (not "NaN"), for form fields and query parameters alike.
    expect(badStep.body).toMatchObject({ error_code: "1006", message: expect.stringContaining('step_index: expected a number, got "zero"') });
    expect((await http("GET", "/records?limit=ten")).body).toMatchObject({ error_code: "1006", message: expect.stringContaining('limit: expected a number, got "ten"') });
    // A filter value no record can have is a mistake to point out, not an empty list that reads as "no NG parts".
    expect((await http("GET", "/records?status=bogus")).body).toMatchObject({ error_code: "1006", message: expect.stringContaining("status") });
    expect((await http("GET", "/records?result_status=ng")).body).toMatchObject({ error_code: "1006", message: expect.stringContaining("result_status") });
    // A form cut short, and one without its boundary: a bad request (400, 1006), not the runner's failure.
    const cut = Buffer.from("--XYZ\r\nContent-Disposition: form-data; name=\"pid\"\r\n\r\np001\r\n--XYZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nabc");
    for (const type of ["multipart/form-data; boundary=XYZ", "multipart/form-data"]) {
      const broken = await http("POST", "/inspect", { body: cut, type });
      expect(broken.status, type).toBe(400);
      expect(broken.body.error_code, type).toBe("1006");
    }
  });

  it("POST /inspect with two images: cur_image (alias of image), guide_image, step_desc, guide_info; records say guide_image", async () => {
    const png = await readFile(sample);
    const form = inspectForm({ pid: "p001", step_index: "1", step_desc: "check screw 3", guide_info: JSON.stringify([{ label: "1", posList: [] }]) });
    form.set("cur_image", new Blob([png]), "cur.png");
    form.set("guide_image", new Blob([png]), "guide.png");
    const dual = await http("POST", "/inspect", { body: form });
    expect(dual.status, dual.text).toBe(200);
    conforms(responses.inspectResponse, dual);
    // The example is a G1 algorithm: it ignores the guide and answers both calls as usual.
    expect(dual.body).toMatchObject({ pre_execute: { status: "OK" }, execute: { status: "OK" } });
    const records = (await http("GET", `/records?session_id=${String(dual.body.session_id)}`));
    conforms(z.array(responses.inspectionRecord), records);
    expect((records.body as unknown as { method: string; guide_image: boolean }[]).map((r) => [r.method, r.guide_image]).sort())
      .toEqual([["execute", true], ["pre_execute", true]]);
    const single = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", method: "execute" })) });
    const singleRecords = await http("GET", `/records?session_id=${String(single.body.session_id)}`);
    expect((singleRecords.body as unknown as { guide_image: boolean }[]).map((r) => r.guide_image)).toEqual([false]);

    const badInfo = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", guide_info: "[{oops" })) });
    expect(badInfo.status).toBe(400);
    expect(badInfo.body).toMatchObject({ error_code: "1006", message: expect.stringContaining("guide_info is not valid JSON") as unknown, hint: expect.stringContaining("posList") as unknown });
    const twice = await withImage(inspectForm({ pid: "p001" }));
    twice.set("cur_image", new Blob([png]), "again.png");
    expect((await http("POST", "/inspect", { body: twice })).body).toMatchObject({ error_code: "1006", message: expect.stringContaining("more than one current image") as unknown });
    // step_index 0 passes the request schema (original projects count from 0); the example has no step 0.
    const zero = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "0" })) });
    expect(zero.body).toMatchObject({ error_code: "1006", message: expect.stringContaining("step_index 0 is not a step") as unknown });
    const negative = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "-1" })) });
    expect(negative.body).toMatchObject({ error_code: "1006", message: expect.stringContaining("step_index") as unknown });
  });

  it("sessions: create, inspect within one, reset, end; an ended session is 3006", async () => {
    const created = await http("POST", "/sessions", { json: { pid: "p001", context: { serial: "SN-1" } } });
    expect(created.status, created.text).toBe(201);
    conforms(responses.session, created);
    const id = String(created.body.session_id);
    expect(created.body).toMatchObject({ pid: "p001", version: "1.0", context: { serial: "SN-1" } });
    const first = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "1", session_id: id })) });
    expect(first.body.session_id).toBe(id);
    expect((await http("POST", `/sessions/${id}/reset`)).status).toBe(200);
    expect((await http("DELETE", `/sessions/${id}`)).status).toBe(200);
    const gone = await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", session_id: id })) });
    expect(gone.body.error_code).toBe("3006");
    expect((await http("POST", "/sessions", { json: { pid: "p999" } })).body.error_code).toBe("3004");
  });

  it("GET /events streams state changes in order as server-sent events", async () => {
    const controller = new AbortController();
    const response = await fetch(`${url}/events`, { signal: controller.signal });
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    const events: { event: string; data: Record<string, unknown> }[] = [];
    let buffer = "";
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += Buffer.from(value).toString();
        let at: number;
        while ((at = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    })().catch(() => undefined);
    await http("POST", "/algorithms/deactivate", { json: { pids: ["p002"] } });
    await http("POST", "/algorithms/activate", { json: { name: "algorithm-example", version: "1.0", pids: ["p002"] } });
    await expect.poll(() => events.filter((e) => e.event === "audit").map((e) => e.data.action), { timeout: 10_000 })
      .toEqual(expect.arrayContaining(["deactivate", "activate"]));
    const actions = events.filter((e) => e.event === "audit").map((e) => e.data.action);
    expect(actions.indexOf("deactivate")).toBeLessThan(actions.indexOf("activate"));
    controller.abort();
    await pump;
  });

  it("uninstall: 2007 while active, 404/3006 for unknown, force deactivates and removes", async () => {
    const refused = await http("DELETE", "/algorithms/algorithm-example/1.0");
    expect(refused.status).toBe(409);
    expect(refused.body.error_code).toBe("2007");
    expect((await http("DELETE", "/algorithms/nope/1")).body.error_code).toBe("3006");
    const forced = await http("DELETE", "/algorithms/algorithm-example/1.0?force=true");
    expect(forced.status, forced.text).toBe(200);
    conforms(responses.uninstalled, forced);
    const left = (await http("GET", "/algorithms")).body as unknown as { version: string }[];
    expect(left.map((p) => p.version)).toEqual(["1.1"]);
  });

  it("start/stop a version's workers; logs and health show them", async () => {
    const started = await http("POST", "/algorithms/algorithm-example/1.1/start");
    expect(started.status).toBe(200);
    conforms(responses.running, started);
    const healthAnswer = await http("GET", "/health");
    conforms(responses.health, healthAnswer);
    const health = healthAnswer.body as { workers: { version: string; pid: number; state: string; inflight: number }[] };
    expect(health.workers).toContainEqual(expect.objectContaining({ version: "1.1", pid: expect.any(Number), inflight: 0 }));
    const running = await http("GET", "/algorithms?state=running");
    conforms(z.array(responses.packageInfo), running);
    expect((running.body as unknown as { version: string; state: string }[]).map((p) => `${p.version} ${p.state}`)).toContain("1.1 running");
    expect((await http("POST", "/algorithms/algorithm-example/1.1/stop")).status).toBe(200);
    const stopped = await http("GET", "/algorithms?state=stopped");
    expect((stopped.body as unknown as { version: string; state: string }[]).map((p) => `${p.version} ${p.state}`)).toEqual(["1.1 stopped"]);
    expect(((await http("GET", "/algorithms?state=running")).body as unknown as { version: string }[]).map((p) => p.version)).not.toContain("1.1");
    // Uninstalled and installed again, it is a new install: `installed`, not the old one's `stopped`.
    expect((await http("DELETE", "/algorithms/algorithm-example/1.1")).status).toBe(200);
    expect((await upload(v2)).status).toBe(201);
    const again = (await http("GET", "/algorithms?name=algorithm-example")).body as unknown as { version: string; state: string }[];
    expect(again.find((p) => p.version === "1.1")?.state).toBe("installed");
    const unknown = await http("GET", "/algorithms?state=runing");
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error_code: "1006", message: expect.stringMatching(/state.*"running".*"stopped"/) });
    const logs = await http("GET", "/algorithms/algorithm-example/1.1/logs");
    conforms(responses.logLines, logs);
    expect((await http("POST", "/algorithms/nope/1/start")).body.error_code).toBe("3006");
  });

  it("serves an OpenAPI document naming every route, Prometheus metrics, and coded 404s", async () => {
    const doc = (await http("GET", "/openapi.json")).body as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    for (const [route, method] of [["/health", "get"], ["/metrics", "get"], ["/algorithms", "get"], ["/algorithms/active", "get"], ["/algorithms/install", "post"],
      ["/algorithms/validate", "post"], ["/algorithms/activate", "post"], ["/algorithms/switch", "post"], ["/algorithms/rollback", "post"],
      ["/algorithms/deactivate", "post"], ["/algorithms/{name}/{version}", "delete"], ["/algorithms/{name}/{version}/start", "post"],
      ["/algorithms/{name}/{version}/stop", "post"], ["/sessions", "post"], ["/sessions/{id}/reset", "post"], ["/sessions/{id}", "delete"],
      ["/inspect", "post"], ["/records", "get"], ["/audit", "get"], ["/algorithms/{name}/{version}/logs", "get"], ["/events", "get"]] as const) {
      expect(doc.paths[route]?.[method], `${method} ${route}`).toBeDefined();
    }
    // Every JSON route documents its answer's schema.
    const documented = doc.paths["/inspect"]?.post as { responses: Record<string, { content: Record<string, { schema: Record<string, unknown> }> }> };
    expect(documented.responses["200"]?.content["application/json"]?.schema.properties).toHaveProperty("session_id");
    // What creates something answers 201, and the document says so.
    for (const route of ["/algorithms/install", "/sessions"]) {
      expect(Object.keys((doc.paths[route]?.post as { responses: object }).responses), route).toEqual(["201", "4XX", "5XX"]);
    }
    // The multipart form is documented part by part, the raw body as single-image.
    const inspectDoc = doc.paths["/inspect"]?.post as { summary: string; requestBody: { content: Record<string, { schema: { properties?: Record<string, { format?: string }> } }> } };
    const parts = inspectDoc.requestBody.content["multipart/form-data"]?.schema.properties ?? {};
    expect(Object.keys(parts)).toEqual(expect.arrayContaining(["pid", "step_index", "method", "image", "cur_image", "guide_image", "step_desc", "guide_info", "user_params"]));
    expect(parts.guide_image?.format).toBe("binary");
    expect(inspectDoc.summary).toMatch(/single image/);
    const recordDoc = (doc.paths["/records"]?.get as { responses: Record<string, { content: Record<string, { schema: { items: { properties: Record<string, unknown> } } }> }> })
      .responses["200"]?.content["application/json"]?.schema.items.properties;
    expect(recordDoc).toHaveProperty("guide_image");
    expect((await http("POST", "/algorithms/activate", { json: { name: "algorithm-example", version: "1.1", pids: ["p001"] } })).status).toBe(200);
    expect((await http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001" })) })).status).toBe(200);
    const metrics = await http("GET", "/metrics");
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const samples = metrics.text.split("\n").filter((l) => l && !l.startsWith("#"));
    for (const line of samples) expect(line).toMatch(/^[a-zA-Z_:][\w:]*(\{[^}]*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|[Nn]a[Nn]|[+-]Inf)( \d+)?$/);
    expect(metrics.text).toMatch(/procvision_calls_total\{name="algorithm-example",version="1.1",method="execute",status="OK",error_code=""\} \d+/);
    // Typed as what they are, so Prometheus's rate() and histogram_quantile() read them without warnings.
    expect(metrics.text).toMatch(/^# TYPE procvision_calls_total counter$/m);
    expect(metrics.text).toMatch(/^# TYPE procvision_worker_restarts_total counter$/m);
    expect(metrics.text).toMatch(/^# TYPE procvision_call_latency_ms histogram$/m);
    expect(metrics.text).toMatch(/^procvision_call_latency_ms_bucket\{name="algorithm-example",version="1.1",method="execute",le="\+Inf"\} [1-9]/m);
    expect(metrics.text).toMatch(/^procvision_call_latency_ms_count\{name="algorithm-example",version="1.1",method="execute"\} [1-9]/m);
    // A scrape sets the totals, it does not add to them.
    const okCalls = (text: string) => Number(/procvision_calls_total\{name="algorithm-example",version="1.1",method="execute",status="OK",error_code=""\} (\d+)/.exec(text)![1]);
    expect(okCalls((await http("GET", "/metrics")).text)).toBe(okCalls(metrics.text));
    const unknown = await http("GET", "/no/such/route");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error_code).toBe("3006");
  });

  it("validate re-runs the smoke checks of an installed version", async () => {
    const report = await http("POST", "/algorithms/validate", { json: { name: "algorithm-example", version: "1.1" } });
    expect(report.status, report.text).toBe(200);
    expect(report.body).toMatchObject({ summary: { status: "PASS" } });
    conforms(responses.validationReport, report);
  });

  it("a G3 package (original SDK 0.3.x API) installs and answers next to the G1 example, each for its own PIDs", async () => {
    const installed = await upload(await g3Zip(work));
    expect(installed.status, installed.text).toBe(201);
    expect(installed.body).toMatchObject({ name: "g3-algo", version: "1.0", state: "installed" });
    // No supported_pids in its manifest: it takes the PIDs it is activated for.
    expect((await http("POST", "/algorithms/activate", { json: { name: "g3-algo", version: "1.0", pids: ["g3-a", "g3-b"] } })).status).toBe(200);
    const png = (v: number, width: number, height: number) =>
      sharp({ create: { width, height, channels: 3, background: { r: v, g: v, b: v } } }).png().toBuffer();
    const form = (pid: string, fields: Record<string, string> = {}) => async () => {
      const f = inspectForm({ pid, step_index: "0", ...fields });
      f.set("cur_image", new Blob([await png(10, 16, 12)]), "cur.png");
      f.set("guide_image", new Blob([await png(200, 20, 10)]), "guide.png");
      return f;
    };
    const guideInfo = [{ label: "1", posList: [{ x: 1, y: 2, width: 3, height: 4 }] }];
    const [g3, g1] = await Promise.all([
      http("POST", "/inspect", { body: await form("g3-a", { step_desc: "check screw 3", guide_info: JSON.stringify(guideInfo) })() }),
      http("POST", "/inspect", { body: await withImage(inspectForm({ pid: "p001", step_index: "1" })) }),
    ]);
    expect(g3.status, g3.text).toBe(200);
    conforms(responses.inspectResponse, g3);
    expect(g3.body.pre_execute).toBeUndefined();
    expect(g3.body).toMatchObject({
      name: "g3-algo", version: "1.0",
      execute: {
        status: "OK", data: {
          result_status: "NG", step_index: 0, step_desc: "check screw 3", guide_info: guideInfo, cur_shape: [12, 16, 3], cur_mean: 10,
          guide_shape: [10, 20, 3], guide_mean: 200, defect_rects: [{ x: 1, y: 2, width: 3, height: 4, label: "missing" }],
        },
      },
    });
    expect(g1.body).toMatchObject({ name: "algorithm-example", pre_execute: { status: "OK" }, execute: { status: "OK" } });
    const records = (await http("GET", "/records?pid=g3-a")).body as unknown as { method: string; result_status: string; guide_image: boolean }[];
    expect(records.map((r) => [r.method, r.result_status, r.guide_image])).toEqual([["execute", "NG", true]]);
    const pre = await http("POST", "/inspect", { body: await form("g3-b", { method: "pre_execute" })() });
    expect(pre.status).toBe(400);
    expect(pre.body).toMatchObject({ error_code: "1006", hint: "G3 algorithms have only execute: use method execute or both" });
  });

  it("the token file is private", () => {
    expect(statSync(path.join(root, "token")).mode & 0o777).toBe(0o600);
    writeFileSync(path.join(work, "unused"), "");
  });
});
