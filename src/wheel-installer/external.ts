import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { formatRequirement } from "../requirements/index.js";
import type { InstallSource } from "./installer.js";

const run = promisify(execFile);

/** What pip and uv read: a directory holding exactly the source's wheels (`--find-links`) and a requirements file. */
export interface FindLinks {
  wheelsDir: string;
  requirementsFile: string;
}

/**
 * Runs `fn` with the source laid out for pip or uv in a scratch directory inside the venv (removed afterwards): whole
 * wheel files are hard-linked (no privilege needed, unlike symlinks on Windows; copied when on another file system),
 * wheels stored inside the package zip are copied out.
 */
export async function withFindLinks<T>(source: InstallSource, venvPython: string, fn: (links: FindLinks) => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(path.join(path.dirname(path.dirname(venvPython)), ".procvision-install-"));
  try {
    const wheelsDir = path.join(scratch, "wheels");
    await mkdir(wheelsDir);
    for (const { file, slice } of source.wheels) {
      const target = path.join(wheelsDir, file);
      if (slice.start === 0 && statSync(slice.file).size === slice.size) await link(slice.file, target).catch(() => copyFile(slice.file, target));
      else await pipeline(createReadStream(slice.file, { start: slice.start, end: slice.start + slice.size - 1 }), createWriteStream(target));
    }
    const requirementsFile = path.join(scratch, "requirements.txt");
    await writeFile(requirementsFile, source.requirements.map((r) => `${formatRequirement(r)}\n`).join(""));
    return await fn({ wheelsDir, requirementsFile });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** pip's "No matching distribution found for X" (uv's "Because X was not found"): a dependency has no wheel. */
function missingDistribution(message: string): string | undefined {
  return /No matching distribution found for ([^\s]+)/.exec(message)?.[1] ?? /Because ([^\s]+) was not found/.exec(message)?.[1];
}

/** Runs pip or uv; a failure is 2004 when a dependency has no wheel, else 2005 with the tool's last lines. */
export async function runInstallTool(tool: "pip" | "uv", command: string, args: readonly string[], env: Record<string, string>, wheelsDir: string): Promise<void> {
  try {
    await run(command, args, { env, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr || e.message).trim().split("\n").slice(-12).join("\n");
    const missing = missingDistribution(detail);
    if (missing !== undefined) {
      throw new ProcVisionError(ErrorCode.wheels_missing, `the package has no wheel for ${missing}, which a requirement depends on`, {
        hint: "add it to requirements.txt (pinned) and rebuild the package with procvision-cli package", details: { missing: [missing] },
      });
    }
    throw new ProcVisionError(ErrorCode.install_failed, `installing from ${wheelsDir} with ${tool} failed: ${detail}`, {
      hint: tool === "uv" ? "see uv's message above; set installer to \"pip\" in runner_config.json to compare" : "see pip's message above",
    });
  }
}
