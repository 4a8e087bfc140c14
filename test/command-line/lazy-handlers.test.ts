// Start-up of both CLIs: a command's definition is light and its handler is loaded only when it runs, so `--help` and
// a light command never load the code of a heavy one. Held in the sources (what each CLI's command list imports
// statically) and in the built bins (what a process loads, watched through a module-loading hook).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, runRunnerCli, type CliRun } from "../helpers/cli.js";
import { repoRoot } from "../helpers/python.js";

const SRC = path.join(repoRoot, "src");
const bin = path.join(repoRoot, "dist", "bin");
const work = mkdtempSync(path.join(tmpdir(), "pv-lazy-handlers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Records every file the process loads as a module, one URL a line, into $PV_LOADED.
const hooks = path.join(work, "record-loads.mjs");
writeFileSync(hooks, `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.PV_LOADED, url + "\\n");
  return next(url, context);
}
`);
const register = path.join(work, "register.mjs");
writeFileSync(register, `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

let runs = 0;
/** Runs a bin and returns the chunks of dist/bin it loaded (file names). */
async function loadedChunks(run: (args: string[], o: { env: NodeJS.ProcessEnv; cwd: string }) => Promise<CliRun>, args: string[], code: number): Promise<string[]> {
  const log = path.join(work, `loaded-${runs++}.txt`);
  const result = await run(args, { cwd: work, env: { ...process.env, NODE_OPTIONS: `--import ${pathToFileURL(register).href}`, PV_LOADED: log } });
  expect(result.code, result.stderr).toBe(code);
  const urls = existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
  return urls.filter((u) => u.includes("/dist/bin/chunks/")).map((u) => path.basename(new URL(u).pathname));
}

/** The chunks a bundle file imports lazily (`import("./chunks/x.js")`). */
const lazyImports = (file: string): string[] =>
  [...readFileSync(path.join(bin, file), "utf8").matchAll(/import\("\.\/(?:chunks\/)?([^"]+\.js)"\)/g)].map((m) => m[1]!);

/** Every file of src/ that `entry` loads at start-up: its static value imports, followed (`import type` and `import()` are not). */
function staticClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(path.join(SRC, file), "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^;"']*?\bfrom\s+)?["'](\.{1,2}\/[^"']+)["']/gm)) {
      visit(path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!)).replace(/\.js$/, ".ts"));
    }
  };
  visit(entry);
  return [...seen].sort();
}

describe("handlers load only when their command runs", () => {
  it("each CLI's command list reaches no handler through static imports", () => {
    const cli = staticClosure("cli/main.ts");
    expect(cli).toContain("cli/definitions/run.ts");
    expect(cli.filter((f) => f.startsWith("cli/commands/"))).toEqual([]);
    const runner = staticClosure("runner-cli/commands.ts");
    expect(runner).toContain("runner-cli/definitions/serve.ts");
    expect(runner.filter((f) => f === "runner-cli/serve.ts" || !/^(command-line|runner-cli|errors|oci)\/|^package-root\.ts$/.test(f))).toEqual([]);
  });

  const cliHandlers = lazyImports("procvision-cli.js");

  it("procvision-cli: --help loads no handler; sdk loads its own and no other", async () => {
    expect(cliHandlers.length).toBeGreaterThanOrEqual(9);
    expect((await loadedChunks(runCli, ["--help"], 0)).filter((c) => cliHandlers.includes(c))).toEqual([]);
    expect((await loadedChunks(runCli, ["validate", "--help"], 0)).filter((c) => cliHandlers.includes(c))).toEqual([]);
    const sdk = (await loadedChunks(runCli, ["sdk", "--json"], 0)).filter((c) => cliHandlers.includes(c));
    expect(sdk).toEqual([expect.stringMatching(/^sdk-/)]);
  });

  it("procvision-runner: --help and a client command never load the server (serve's handler)", async () => {
    const [commands] = lazyImports("procvision-runner.js");
    const serverChunks = lazyImports(`chunks/${commands!}`);
    expect(serverChunks).toEqual([expect.stringMatching(/^serve-/)]);
    expect(await loadedChunks(runRunnerCli, ["--help"], 0)).not.toContain(serverChunks[0]);
    const list = await loadedChunks(runRunnerCli, ["list", "--root", path.join(work, "no-runner")], 1);
    expect(list).toContain(commands);
    expect(list).not.toContain(serverChunks[0]);
  });
});
