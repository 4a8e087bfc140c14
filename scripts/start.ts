// `npm start`, the main job: the runner on an embedded default root (./procvision-runtime) with the bundled example
// packaged, installed and active for its PIDs, and the web console on localhost. Everything goes through the real
// product: procvision-cli package builds the zip, procvision-runner serve runs, and the HTTP API installs and
// activates. Third-party wheels come from .cache/wheels when they are there, else from the package index once.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { localTarget } from "../src/python/local-target.js";
import { resolveInterpreter } from "../src/python/interpreter.js";
import { sanitizeRequirements } from "../src/requirements/index.js";
import { call, connection, uploadBody } from "../src/runner-cli/client.js";
import { matchRequirementsToWheels } from "../src/wheel-tags/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runtime = path.resolve(process.env.PROCVISION_ROOT ?? path.join(root, "procvision-runtime"));
const port = process.env.PORT ?? "7431";
const wheelCache = path.join(root, ".cache", "wheels");
const example = path.join(root, "examples", "algorithm-example");
const build = path.join(root, ".cache", "example-build");
const manifest = JSON.parse(readFileSync(path.join(example, "manifest.json"), "utf8")) as { name: string; version: string; supported_pids: string[] };

function node(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    spawn(process.execPath, args, { stdio: "inherit" }).on("close", (code) => resolve(code ?? 1));
  });
}

// 1. The example's offline package: wheels from the cache when they cover it (offline), else downloaded once.
rmSync(build, { recursive: true, force: true });
cpSync(example, build, { recursive: true, filter: (src) => !src.includes("__pycache__") });
mkdirSync(wheelCache, { recursive: true });
const zip = path.join(build, `${manifest.name}-v${manifest.version}-offline.zip`);
const cli = path.join(root, "dist", "bin", "procvision-cli.js");
const target = await localTarget((await resolveInterpreter("python3")).executable);
const requirements = sanitizeRequirements(readFileSync(path.join(build, "requirements.txt"), "utf8")).requirements
  .filter((r) => r.normalizedName !== "procvision-algorithm-sdk");
const cached = matchRequirementsToWheels(requirements, readdirSync(wheelCache), target);
let code: number;
if (cached.every((m) => !m.applies || m.wheel !== undefined)) {
  mkdirSync(path.join(build, "wheels"));
  for (const m of cached) if (m.wheel) cpSync(path.join(wheelCache, m.wheel), path.join(build, "wheels", m.wheel));
  code = await node([cli, "package", build, "-o", zip, "--skip-download"]);
} else {
  console.log("downloading the example's wheels from the package index once (cached in .cache/wheels)");
  code = await node([cli, "package", build, "-o", zip]);
  if (code === 0) for (const wheel of readdirSync(path.join(build, "wheels"))) cpSync(path.join(build, "wheels", wheel), path.join(wheelCache, wheel));
}
if (code !== 0) process.exit(code);

// 2. The runner, as a user starts it.
const server = spawn(process.execPath, [path.join(root, "dist", "bin", "procvision-runner.js"), "serve", "--root", runtime, "--port", port], {
  stdio: ["ignore", "pipe", "inherit"],
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => server.kill(signal));
server.on("close", (exitCode) => process.exit(exitCode ?? 0));
const url = await new Promise<string>((resolve, reject) => {
  let seen = "";
  server.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    seen += chunk.toString();
    const match = /listening on (\S+)/.exec(seen);
    if (match?.[1]) resolve(match[1]);
  });
  server.on("close", () => reject(new Error("the runner stopped before listening")));
});

// 3. Install (unless this version is already there) and activate for the example's PIDs through the API.
const conn = connection({ root: runtime, url });
const installed = (await call(conn, "GET", `/algorithms?name=${encodeURIComponent(manifest.name)}`)).body as { version: string; state: string }[];
if (!installed.some((p) => p.version === manifest.version && p.state !== "invalid")) {
  const { body } = uploadBody(zip, () => undefined);
  await call(conn, "POST", "/algorithms/install?force=true", { body, contentType: "application/zip", operator: "npm-start" });
}
const bindings = (await call(conn, "GET", "/algorithms/active")).body as { pid: string; name: string; version: string }[];
const unbound = manifest.supported_pids.filter((pid) => !bindings.some((b) => b.pid === pid));
const elsewhere = manifest.supported_pids.filter((pid) => bindings.some((b) => b.pid === pid && (b.name !== manifest.name || b.version !== manifest.version)));
if (unbound.length > 0) await call(conn, "POST", "/algorithms/activate", { json: { name: manifest.name, version: manifest.version, pids: unbound }, operator: "npm-start" });
if (elsewhere.length > 0) await call(conn, "POST", "/algorithms/switch", { json: { name: manifest.name, version: manifest.version, pids: elsewhere }, operator: "npm-start" });

console.log(`\n${manifest.name} ${manifest.version} is active for ${manifest.supported_pids.join(", ")}.`);
console.log(`console:  ${url}/   (token: ${path.join(runtime, "token")})`);
console.log(`try:      node dist/bin/procvision-runner.js inspect --root ${path.relative(process.cwd(), runtime) || "."} --pid ${manifest.supported_pids[0]} --image ${path.relative(process.cwd(), path.join(example, "sample.png"))}`);
console.log("stop with Ctrl-C");
if (!existsSync(path.join(runtime, "token"))) console.log("(the token file appears once the runner has started)");
