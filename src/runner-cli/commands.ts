import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { ErrorCode } from "../errors/codes.js";
import { ProcVisionError } from "../errors/procvision-error.js";
import { isOciReference } from "../oci/reference.js";
import { packageRoot } from "../package-root.js";
import { endOnParseError } from "../parse-errors.js";
import { call, connection, uploadBody, type Connection } from "./client.js";
import { formatters, summary } from "./format.js";

const version = (JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;

interface ClientOptions {
  root?: string;
  url?: string;
  token?: string;
  operator?: string;
  json?: boolean;
}

interface InspectOptions {
  pid: string;
  image: string;
  step: string;
  method: string;
  params?: string;
  session?: string;
  guideImage?: string;
  stepDesc?: string;
  guideInfo?: string;
}

/** An image file for the form; a missing one is 1002 naming the flag. */
function imageFile(file: string, flag: string): Blob {
  if (!existsSync(file)) throw new ProcVisionError(ErrorCode.image_load_failed, `${flag} ${file} not found`, { hint: "pass the path of a JPEG or PNG file" });
  return new Blob([readFileSync(file)]);
}

/** `--guide-info JSON|@file`, checked here so a typo is named before anything is uploaded (1006). */
function guideInfoText(value: string): string {
  let text = value;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    if (!existsSync(file)) throw new ProcVisionError(ErrorCode.invalid_params, `--guide-info file ${file} not found`, { hint: "pass JSON, or @ and the path of a JSON file" });
    text = readFileSync(file, "utf8");
  }
  try {
    JSON.parse(text);
  } catch (err) {
    throw new ProcVisionError(ErrorCode.invalid_params, `--guide-info is not valid JSON: ${(err as Error).message}`, {
      hint: `e.g. --guide-info '[{"label": "1", "posList": [{"x": 10, "y": 20, "width": 30, "height": 40}]}]' or --guide-info @guide.json`,
    });
  }
  return text;
}

/**
 * An install that lands `invalid` (its smoke checks failed) is a failed install for the operator: exit 1 with 2005 and
 * the failed checks, never ✓. The checks carry no code of their own, so install_failed is the code that fits.
 */
function refuseInvalid(body: unknown): unknown {
  const pkg = body as { name?: string; version?: string; state?: string; validation?: { checks?: { name: string; result: string; message: string }[] } };
  if (pkg.state !== "invalid") return body;
  const failed = (pkg.validation?.checks ?? []).filter((c) => c.result === "FAIL").map((c) => `${c.name}: ${c.message}`);
  throw new ProcVisionError(ErrorCode.install_failed, `${pkg.name ?? "?"} ${pkg.version ?? "?"} installed as invalid: its smoke checks failed${failed.length ? ` (${failed.join("; ")})` : ""}`, {
    hint: `fix the algorithm, rebuild the package and install it again with --force (or, after fixing the station, procvision-runner validate ${pkg.name ?? "NAME"} ${pkg.version ?? "VERSION"})`,
  });
}

const pidList = (value: string): string[] => value.split(",").map((p) => p.trim()).filter(Boolean);

/** Runs one client command: the API's JSON with --json, a table or a summary line otherwise; exit 0 or 1. */
async function client(o: ClientOptions, action: string, run: (conn: Connection) => Promise<unknown>): Promise<void> {
  try {
    const body = await run(connection(o));
    if (o.json) process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    else process.stdout.write(`${(formatters[action]?.(body) ?? summary(action, body)).join("\n")}\n`);
    process.exitCode = 0;
  } catch (err) {
    const error = ProcVisionError.from(err);
    if (o.json) process.stdout.write(`${JSON.stringify(error.toJSON(), null, 2)}\n`);
    else process.stderr.write(`✗ [${error.code}] ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}\n`);
    process.exitCode = 1;
  }
}

function withConnection(cmd: Command): Command {
  return cmd
    .option("--root <dir>", "runner root: finds runner.json and token", "procvision-runtime")
    .option("--url <url>", "runner URL (default: from <root>/runner.json)")
    .option("--token <token>", "API token (default: <root>/token)")
    .option("--operator <name>", "name recorded in the audit log")
    .option("--json", "print the API's JSON body");
}

const program = new Command("procvision-runner")
  .description("Install offline algorithm packages on an air-gapped station, bind them to product ids and run them.")
  .version(version, "--version")
  .showHelpAfterError()
  .exitOverride();

program.command("serve")
  .description("run the runner: HTTP API, web console and workers (prints `listening on <url>`)")
  .option("--root <dir>", "runner root directory", "procvision-runtime")
  .option("--host <host>", "interface to bind (default 127.0.0.1; anything else is exposed to the network)")
  .option("--port <port>", "port (0 picks a free one)", "7431")
  .option("--config <file>", "runner_config.json")
  .addHelpText("after", "\nExample:\n  procvision-runner serve --root /srv/procvision --port 0")
  .action(async (o: { root: string; host?: string; port: string; config?: string }) => {
    // Loaded here: client commands never need the server, the store or the supervisor.
    const { serve } = await import("./serve.js");
    try {
      await serve(o);
    } catch (err) {
      const error = ProcVisionError.from(err);
      process.stderr.write(`✗ [${error.code}] ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ""}\n`);
      process.exit(1);
    }
  });

const get = (route: string) => async (conn: Connection) => (await call(conn, "GET", route)).body;
const post = (route: string, json: unknown, operator?: string) => async (conn: Connection) =>
  (await call(conn, "POST", route, { json, ...(operator ? { operator } : {}) })).body;
const enc = encodeURIComponent;

withConnection(program.command("install <zip>")
  .description("install an offline package: a zip (uploaded to the runner), or oci://<registry>/<repository>:<tag> or @sha256:<digest> (pulled by the runner)")
  .option("--force", "replace the same name+version"))
  .action((zip: string, o: ClientOptions & { force?: boolean }) => client(o, "install", async (conn) => {
    if (isOciReference(zip)) {
      if (!o.json) process.stderr.write(`the runner pulls ${zip}, then installs…\n`);
      const pulled = await call(conn, "POST", `/algorithms/install${o.force ? "?force=true" : ""}`, { json: { ref: zip }, ...(o.operator ? { operator: o.operator } : {}) });
      return refuseInvalid(pulled.body);
    }
    const { body, size } = uploadBody(zip, (sent, total) => {
      if (!o.json && process.stderr.isTTY) process.stderr.write(`\ruploading ${Math.round((100 * sent) / total)}%`);
    });
    if (!o.json) process.stderr.write(`uploading ${path.basename(zip)} (${(size / 1e6).toFixed(1)} MB), then installing…\n`);
    const result = await call(conn, "POST", `/algorithms/install${o.force ? "?force=true" : ""}`, { body, contentType: "application/zip", ...(o.operator ? { operator: o.operator } : {}) });
    if (!o.json && process.stderr.isTTY) process.stderr.write("\n");
    return refuseInvalid(result.body);
  }));
withConnection(program.command("list").description("installed packages").option("--state <state>").option("--name <name>"))
  .action((o: ClientOptions & { state?: string; name?: string }) => client(o, "list", get(`/algorithms?${new URLSearchParams({ ...(o.state ? { state: o.state } : {}), ...(o.name ? { name: o.name } : {}) }).toString()}`)));
withConnection(program.command("status").description("runner health, PID bindings, workers and telemetry"))
  .action((o: ClientOptions) => client(o, "status", async (conn) => ({ ...(await get("/health")(conn) as object), telemetry: await get("/telemetry")(conn) })));
withConnection(program.command("fleet").description("this station in the fleet: desired state, what it runs, the last convergence")
  .option("--poll", "poll the desired state now and converge to it"))
  .action((o: ClientOptions & { poll?: boolean }) => client(o, "fleet", o.poll ? post("/fleet/poll", {}, o.operator) : get("/fleet")));
withConnection(program.command("validate <name> <version>").description("run the smoke checks of an installed version again"))
  .action((name: string, v: string, o: ClientOptions) => client(o, "validate", post("/algorithms/validate", { name, version: v }, o.operator)));
for (const action of ["activate", "switch"] as const) {
  withConnection(program.command(`${action} <name> <version>`).description(action === "activate" ? "bind PIDs to a version" : "rebind PIDs to another version with zero downtime")
    .requiredOption("--pids <list>", "comma-separated PIDs"))
    .action((name: string, v: string, o: ClientOptions & { pids: string }) => client(o, action, post(`/algorithms/${action}`, { name, version: v, pids: pidList(o.pids) }, o.operator)));
}
for (const action of ["rollback", "deactivate"] as const) {
  withConnection(program.command(action).description(action === "rollback" ? "switch PIDs back to their previous version" : "unbind PIDs")
    .requiredOption("--pids <list>", "comma-separated PIDs"))
    .action((o: ClientOptions & { pids: string }) => client(o, action, post(`/algorithms/${action}`, { pids: pidList(o.pids) }, o.operator)));
}
withConnection(program.command("uninstall <name> <version>").description("remove a version (refused while active or in use unless --force)").option("--force"))
  .action((name: string, v: string, o: ClientOptions & { force?: boolean }) => client(o, "uninstall", async (conn) =>
    (await call(conn, "DELETE", `/algorithms/${enc(name)}/${enc(v)}${o.force ? "?force=true" : ""}`, o.operator ? { operator: o.operator } : {})).body));
for (const action of ["start", "stop"] as const) {
  withConnection(program.command(`${action} <name> <version>`).description(`${action} the version's workers`))
    .action((name: string, v: string, o: ClientOptions) => client(o, action, post(`/algorithms/${enc(name)}/${enc(v)}/${action}`, {}, o.operator)));
}
withConnection(program.command("inspect").description("inspect an image (JPEG/PNG), and a guide image for G3 algorithms, with the PID's active package")
  .requiredOption("--pid <pid>").requiredOption("--image <file>", "the current image").option("--step <n>", "step index (0 or more)", "1")
  .option("--method <m>", "pre_execute | execute | both", "both").option("--params <json>", "user_params JSON").option("--session <id>", "session id")
  .option("--guide-image <file>", "the guide (reference) image of a G3 inspection")
  .option("--step-desc <text>", "the step's description (G3)")
  .option("--guide-info <json>", "guide annotations (G3) as JSON, or @file.json"))
  .action((o: ClientOptions & InspectOptions) => client(o, "inspect", async (conn) => {
    const form = new FormData();
    form.set("pid", o.pid);
    form.set("step_index", o.step);
    form.set("method", o.method);
    if (o.params) form.set("user_params", o.params);
    if (o.session) form.set("session_id", o.session);
    if (o.stepDesc !== undefined) form.set("step_desc", o.stepDesc);
    if (o.guideInfo !== undefined) form.set("guide_info", guideInfoText(o.guideInfo));
    form.set("image", imageFile(o.image, "--image"), path.basename(o.image));
    if (o.guideImage !== undefined) form.set("guide_image", imageFile(o.guideImage, "--guide-image"), path.basename(o.guideImage));
    return (await call(conn, "POST", "/inspect", { body: form, ...(o.operator ? { operator: o.operator } : {}) })).body;
  }));
withConnection(program.command("records").description("inspection records, newest first").option("--pid <pid>").option("--limit <n>", "rows", "50"))
  .action((o: ClientOptions & { pid?: string; limit: string }) => client(o, "records", get(`/records?${new URLSearchParams({ limit: o.limit, ...(o.pid ? { pid: o.pid } : {}) }).toString()}`)));
withConnection(program.command("audit").description("audit log, newest first").option("--limit <n>", "rows", "50"))
  .action((o: ClientOptions & { limit: string }) => client(o, "audit", get(`/audit?limit=${enc(o.limit)}`)));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  endOnParseError(err, process.argv);
}
