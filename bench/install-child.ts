// One timed wheel install in a process of its own (spawned by bench/installers.ts, which samples the memory of this
// process and everything it starts): a fresh `--without-pip` venv, then installWheels with the chosen installer.
// Argument: JSON {choice, wheels, requirements, venv}. Prints JSON {install_ms, rss_before_kb}.
import { statSync } from "node:fs";
import path from "node:path";
import { createVenv } from "../src/python/venv.js";
import { localTarget } from "../src/python/local-target.js";
import { resolveInterpreter } from "../src/python/interpreter.js";
import { parseRequirementLine } from "../src/requirements/index.js";
import { installWheels, type InstallerChoice } from "../src/wheel-installer/index.js";
import { wheelMetadata } from "../test/helpers/wheel-set.js";

interface Job { choice: InstallerChoice; wheels: string[]; requirements: string[]; venv: string }

const job = JSON.parse(process.argv[2] ?? "{}") as Job;
const basePython = (await resolveInterpreter("python3")).executable;
const source = {
  requirements: job.requirements.map((line) => {
    const parsed = parseRequirementLine(line);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.requirement;
  }),
  wheels: job.wheels.map((file) => ({ file: path.basename(file), slice: { file, start: 0, size: statSync(file).size } })),
  metadata: new Map(await Promise.all(job.wheels.map(async (f) => [path.basename(f), await wheelMetadata(f)] as const))),
  target: await localTarget(basePython),
};
const venvPython = await createVenv(basePython, job.venv);
const rssBefore = Math.round(process.memoryUsage.rss() / 1024);
const t0 = performance.now();
await installWheels(job.choice, source, { venvPython, basePython });
process.stdout.write(JSON.stringify({ install_ms: performance.now() - t0, rss_before_kb: rssBefore }) + "\n");
