import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { KeyObject } from "node:crypto";
import { loadManifest, type Manifest } from "../../manifest/index.js";
import { ErrorCode, isProcVisionError } from "../../errors/index.js";
import {
  buildOfflineZip, collectProjectFiles, collectRuntimeFiles, MANIFEST, packageZipName, REQUIREMENTS, RUNTIME_BOOTSTRAP, RUNTIME_DIR, TARGET_ENV_FILE, WHEELS, WHEELS_DIR,
  type ProjectFile,
} from "../../offline-package/index.js";
import { requireFile, requireProject } from "./inputs.js";
import { noWheelParagraph, parsePipNoMatch, parsePipUnreachable, uncoveredParagraph } from "./no-wheel.js";
import { pipEnv, pipFreeze, runPip } from "../../python/pip.js";
import { localTarget } from "../../python/local-target.js";
import { projectInterpreter } from "../../python/project-python.js";
import { probeRuntime, type ProbedRuntime } from "../../python/runtime.js";
import { decodeRequirementsFile, evaluateMarker, expandIncludes, filterFreezeOutput, IncludeError, formatRequirement, pinRequirement, sanitizeRequirements, unsatisfiableLines, type Requirement } from "../../requirements/index.js";
import { bundledSdkWheel } from "../../sdk-bundle.js";
import { loadPrivateKey } from "../../signing/index.js";
import { parseTargetEnv, pipDownloadArgs, resolveTarget, shippedIndexSettings, withoutSecrets, type TargetEnvFile, type TargetResolution } from "../../target-env/index.js";
import { markerEnvironment, matchRequirementsToWheels, parseWheelFilename, versionNodot } from "../../wheel-tags/index.js";
import { CheckFailure, style, tick, UsageError, type CommandOutput } from "../../command-line/reporter.js";

/** A Python runtime to put into the zip as `python_runtime/` (contract §5a, `--embed-python`). */
export interface EmbedRuntime {
  /** Absolute path of the runtime directory: `--python-runtime`, else PROC_PYTHON_RUNTIME, else `python_runtime` of
   * .procvision_env.json, else the project's own python_runtime/ (as the original tool looks). */
  runtimeDir?: string;
  /** `--runtime-python-version`, e.g. "3.10": overrides what the runtime's interpreter says. */
  pythonVersion?: string;
  /** `--runtime-abi`, e.g. "cp310". */
  abi?: string;
}

export interface PackageOptions {
  output?: string;
  requirements?: string;
  /** Freeze a missing requirements.txt from the project's Python: true/false from -a/--no-auto-freeze, else the env file, else on. */
  autoFreeze?: boolean;
  wheelsPlatform?: string[];
  pythonVersion?: string;
  implementation?: string;
  abi?: string;
  indexUrl?: string;
  extraIndexUrl?: string[];
  findLinks?: string[];
  isolated?: boolean;
  skipDownload?: boolean;
  sign?: string;
  python?: string;
  embed?: EmbedRuntime;
  /** Progress lines for long steps (the reporter sends them to stderr; silent with --json). */
  progress?: (line: string) => void;
}

/** The package flags as commander parses them: the original CLI's runtime flags as given. */
export interface PackageFlags extends Omit<PackageOptions, "embed" | "progress"> {
  embedPython?: boolean;
  pythonRuntime?: string;
  runtimePythonVersion?: string;
  runtimeAbi?: string;
}

/** The runtime flags gathered into `embed` (set only with --embed-python; the others alone do nothing, as in the original). */
export function packageOptions(flags: PackageFlags): PackageOptions {
  const { embedPython, pythonRuntime, runtimePythonVersion, runtimeAbi, ...options } = flags;
  if (embedPython !== true) return options;
  const runtimeDir = pythonRuntime || process.env.PROC_PYTHON_RUNTIME;
  return {
    ...options,
    embed: {
      ...(runtimeDir ? { runtimeDir: path.resolve(runtimeDir) } : {}),
      ...(runtimePythonVersion !== undefined ? { pythonVersion: runtimePythonVersion } : {}),
      ...(runtimeAbi !== undefined ? { abi: runtimeAbi } : {}),
    },
  };
}

const SDK_NAME = "procvision_algorithm_sdk";

async function readEnvFile(projectDir: string): Promise<TargetEnvFile | undefined> {
  const file = path.join(projectDir, TARGET_ENV_FILE);
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = parseTargetEnv(value);
  if (!parsed.ok) throw new UsageError(`${file}: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`);
  return parsed.data;
}

function flagLayer(o: PackageOptions): TargetEnvFile {
  return {
    ...(o.wheelsPlatform?.length ? { wheels_platform: o.wheelsPlatform } : {}),
    ...(o.pythonVersion ? { python_version: o.pythonVersion } : {}),
    ...(o.implementation ? { implementation: o.implementation } : {}),
    ...(o.abi ? { abi: o.abi } : {}),
    ...(o.autoFreeze !== undefined ? { auto_freeze: o.autoFreeze } : {}),
    ...(o.indexUrl ? { index_url: o.indexUrl } : {}),
    ...(o.extraIndexUrl?.length ? { extra_index_urls: o.extraIndexUrl } : {}),
    ...(o.findLinks?.length ? { find_links: o.findLinks.map((d) => path.resolve(d)) } : {}),
  };
}

/** A requirements file with the files its `-r` lines name read in, as pip reads them. */
async function withIncludes(file: string): Promise<string> {
  try {
    return expandIncludes(decodeRequirementsFile(await readFile(file)), file, (included) => decodeRequirementsFile(readFileSync(included)));
  } catch (err) {
    if (err instanceof IncludeError) throw new CheckFailure(ErrorCode.invalid_params, err.message, "fix the -r line, or list those requirements in the file itself");
    throw err;
  }
}

/** The requirements text to sanitize: the given file, the project's, or (auto-freeze) pip freeze of its Python. */
async function requirementsText(projectDir: string, o: PackageOptions, autoFreeze: { on: boolean; source: string }, python: string):
Promise<{ text: string; source: string; frozen?: string[]; frozenDropped: { line: string; reason: string }[] }> {
  if (o.requirements !== undefined) {
    requireFile("requirements file", o.requirements, "pass the path of a requirements.txt, or leave -r out to use the project's");
    return { text: await withIncludes(o.requirements), source: path.resolve(o.requirements), frozenDropped: [] };
  }
  const own = path.join(projectDir, REQUIREMENTS);
  if (existsSync(own)) return { text: await withIncludes(own), source: own, frozenDropped: [] };
  if (!autoFreeze.on) {
    const why = autoFreeze.source === "env-file" ? `${TARGET_ENV_FILE} sets "auto_freeze": false; ` : "";
    throw new CheckFailure(ErrorCode.invalid_params, `${own} not found`,
      `${why}write requirements.txt (every line name==version), or pass --auto-freeze to write it from pip freeze of the project's Python`);
  }
  o.progress?.(`requirements.txt not found: writing it from pip freeze of ${python} (--no-auto-freeze turns this off)`);
  const frozen = filterFreezeOutput(await pipFreeze(python));
  const text = frozen.kept.map((l) => `${l}\n`).join("");
  await writeFile(own, text);
  return { text, source: `${own} (from pip freeze)`, frozen: frozen.kept, frozenDropped: frozen.dropped.map((d) => ({ line: d.line, reason: d.reason })) };
}

/** A fresh wheels/ filled by pip download; the old one is replaced only when the download succeeded. */
async function downloadWheels(projectDir: string, requirements: string, resolution: TargetResolution, python: string, o: PackageOptions):
Promise<void> {
  const wheelsDir = path.join(projectDir, WHEELS_DIR);
  const staging = await mkdtemp(path.join(projectDir, ".procvision-download-"));
  try {
    const reqFile = path.join(staging, "requirements.txt");
    await writeFile(reqFile, requirements);
    const downloadDir = path.join(staging, WHEELS_DIR);
    const sdkDir = path.dirname(bundledSdkWheel().path);
    const args = ["download", ...(o.isolated ? ["--isolated"] : []), "--disable-pip-version-check", "--progress-bar", "off",
      "-r", reqFile, "-d", downloadDir, ...pipDownloadArgs(resolution.target), "--find-links", sdkDir];
    const run = await runPip(python, args, pipEnv(o.isolated === true), (line) => {
      const saved = /^(?:Saved|File was already downloaded) (.+)$/.exec(line.trim());
      const collecting = /^Collecting (\S+)/.exec(line.trim());
      if (saved?.[1]) o.progress?.(`  ${style.dim("saved")} ${path.basename(saved[1])}`);
      else if (collecting?.[1]) o.progress?.(`  ${style.dim("collecting")} ${collecting[1]}`);
    });
    if (run.exitCode !== 0) {
      const noMatch = parsePipNoMatch(run.output);
      // Named without their credentials: this message ends up in CI logs.
      const sources = [resolution.target.indexUrl ?? (o.isolated ? "https://pypi.org/simple" : process.env.PIP_INDEX_URL ?? "your pip configuration's index"),
        ...resolution.target.extraIndexUrls, ...resolution.target.findLinks].map(withoutSecrets);
      const unreachable = parsePipUnreachable(run.output);
      if (unreachable) {
        throw new CheckFailure(ErrorCode.wheels_missing, `pip could not reach the package index: ${withoutSecrets(unreachable)}; looked in: ${sources.join(", ")}`,
          "check the network, the index address (--index-url, the env file, pip.conf, PIP_INDEX_URL) and any proxy; or pass --find-links DIR with the wheels");
      }
      if (noMatch) throw new CheckFailure(ErrorCode.wheels_missing, noWheelParagraph(noMatch, resolution.target, sources));
      throw new CheckFailure(ErrorCode.wheels_missing, `pip download failed (exit ${run.exitCode}):\n${run.output.trim().split("\n").slice(-15).join("\n")}`,
        "check the index options (--index-url, --find-links, pip.conf) and the requirement lines");
    }
    await rm(wheelsDir, { recursive: true, force: true });
    await rename(downloadDir, wheelsDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

interface EmbeddedRuntime extends ProbedRuntime {
  dir: string;
  /** The --runtime-* overrides. */
  overrides: EmbedRuntime;
  files: ProjectFile[];
  links: number;
}

const RUNTIME_HINT = "pass --python-runtime DIR: a whole CPython installation (bin/python3.X, lib/) for the station's platform, e.g. a copy of a pyenv or python.org build";

/** The runtime to embed, probed from its own interpreter. Usage errors exit 2. */
async function embeddedRuntime(projectDir: string, embed: EmbedRuntime, envFile: TargetEnvFile | undefined): Promise<EmbeddedRuntime> {
  const inProject = path.join(projectDir, RUNTIME_DIR);
  const fromEnvFile = envFile?.python_runtime ? path.resolve(projectDir, envFile.python_runtime) : undefined;
  const dir = embed.runtimeDir ?? fromEnvFile ?? (existsSync(inProject) ? inProject : undefined);
  if (dir === undefined) throw new UsageError("--embed-python needs --python-runtime DIR (or PROC_PYTHON_RUNTIME, or python_runtime/ in the project)", RUNTIME_HINT);
  if (!existsSync(dir) || !(await stat(dir)).isDirectory()) throw new UsageError(`python runtime ${dir} is not a directory`, RUNTIME_HINT);
  let probed: ProbedRuntime;
  let collected: Awaited<ReturnType<typeof collectRuntimeFiles>>;
  try {
    probed = await probeRuntime(dir);
    collected = await collectRuntimeFiles(dir);
  } catch (err) {
    if (isProcVisionError(err)) throw new UsageError(`python runtime ${dir} is not usable: ${err.message}`, err.hint ?? RUNTIME_HINT);
    throw new UsageError(`python runtime ${dir} cannot be embedded: ${(err as Error).message}`, RUNTIME_HINT);
  }
  return { ...probed, dir, overrides: embed, files: collected.files, links: collected.links };
}

/**
 * With an embedded runtime the wheels are for that runtime: its interpreter stands where the local one would, the
 * --runtime-* flags override it, and the env file's interpreter fields (they describe another Python) are left out.
 * -p/-i/-b that contradict the runtime are usage errors: the station would get wheels its runtime cannot load.
 */
function runtimeTarget(o: PackageOptions, envFile: TargetEnvFile | undefined, runtime: EmbeddedRuntime): TargetResolution {
  const embed = runtime.overrides;
  const minor = (v: string): string => v.split(".").slice(0, 2).join(".");
  const version = embed.pythonVersion ?? runtime.target.pythonVersion;
  const { implementation } = runtime.target;
  const abi = embed.abi ?? (embed.pythonVersion !== undefined && implementation === "cp" ? `cp${versionNodot(minor(version))}` : runtime.target.abi);
  const conflicts = [
    o.pythonVersion !== undefined && minor(o.pythonVersion) !== minor(version) && `--python-version ${o.pythonVersion}`,
    o.implementation !== undefined && o.implementation !== implementation && `--implementation ${o.implementation}`,
    o.abi !== undefined && o.abi !== abi && `--abi ${o.abi}`,
  ].filter((c): c is string => typeof c === "string");
  if (conflicts.length > 0) {
    throw new UsageError(`${conflicts.join(", ")} contradict the embedded runtime (Python ${minor(version)} ${implementation}/${abi})`,
      "leave them out (the runtime decides the target), or override with --runtime-python-version/--runtime-abi");
  }
  const { python_version: _v, implementation: _i, abi: _a, wheels_platform: _w, python_runtime: _r, ...indexOptions } = envFile ?? {};
  const flags = {
    ...flagLayer(o),
    ...(embed.pythonVersion ? { python_version: embed.pythonVersion } : {}),
    ...(embed.abi ? { abi: embed.abi } : {}),
  };
  return resolveTarget(flags, envFile === undefined ? undefined : indexOptions, runtime.target, "runtime");
}

/**
 * The requirements pip downloads: those whose markers hold for the target, without their markers. pip judges markers
 * by the machine it runs on, whatever --platform says: `pywin32 ; sys_platform == "win32"` was skipped when packaging
 * for Windows on Linux, then found missing.
 */
function downloadList(requirements: readonly Requirement[], resolution: TargetResolution): string {
  const env = markerEnvironment(resolution.target);
  return requirements.filter((r) => r.marker === undefined || evaluateMarker(r.marker, env))
    .map((r) => `${formatRequirement({ ...r, marker: undefined })}\n`).join("");
}

/**
 * The entry point's module is in the project but would not be in the zip (.procvisionignore left it out): the station
 * would install a package whose worker cannot import it. (A module that comes from a wheel is not in the project.)
 */
function refuseExcludedEntry(projectDir: string, entryPoint: string, packed: ReadonlySet<string>): void {
  const modulePath = entryPoint.split(":")[0]!.split(".").join("/");
  for (const file of [`${modulePath}.py`, `${modulePath}/__init__.py`]) {
    if (existsSync(path.join(projectDir, file)) && !packed.has(file)) {
      throw new CheckFailure(ErrorCode.manifest_missing, `the entry point ${entryPoint} is in ${file}, which the package would leave out`,
        "remove the pattern that matches it from .procvisionignore");
    }
  }
}

/** Unpinned requirements pinned to the version of the wheel that satisfies them, so the package reproduces. */
function pinFromWheels(requirements: readonly Requirement[], wheelFiles: readonly string[], resolution: TargetResolution):
{ requirements: Requirement[]; pinned: string[] } {
  const matches = matchRequirementsToWheels(requirements, wheelFiles, resolution.target);
  let out = [...requirements];
  const pinned: string[] = [];
  for (const match of matches) {
    if (match.requirement.pinnedVersion !== undefined || match.wheel === undefined) continue;
    const parsed = parseWheelFilename(match.wheel);
    if (!parsed.ok) continue;
    out = pinRequirement(out, match.requirement.name, parsed.wheel.version).map((r) =>
      r.normalizedName === match.requirement.normalizedName && match.requirement.marker ? { ...r, marker: match.requirement.marker } : r);
    pinned.push(`${formatRequirement(match.requirement)} → ${match.requirement.name}==${parsed.wheel.version}`);
  }
  return { requirements: out, pinned };
}

function humanSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Contract §2 package: manifest, requirements, wheels for the target, the deterministic zip, optional signature. */
export async function packageCommand(project: string, o: PackageOptions): Promise<CommandOutput> {
  const projectDir = path.resolve(project);
  requireProject(projectDir);
  if (o.pythonVersion !== undefined && !/^\d+\.\d+(?:\.\d+)?$/.test(o.pythonVersion)) {
    throw new UsageError(`-p/--python-version must be a Python version like 3.10, got "${o.pythonVersion}"`, "e.g. -p 3.10 -b cp310");
  }
  const manifestPath = path.join(projectDir, MANIFEST);
  if (!existsSync(manifestPath)) throw new UsageError(`${manifestPath} not found`, "run procvision-cli init, or package the folder that holds manifest.json", ErrorCode.manifest_missing);
  const manifest: Manifest = await loadManifest(manifestPath);
  const signingKey: KeyObject | undefined = o.sign === undefined ? undefined : loadKey(o.sign);
  if (o.output !== undefined && existsSync(o.output) && statSync(o.output).isDirectory()) {
    throw new UsageError(`-o ${o.output} is a folder`, `name the zip to write, e.g. -o ${path.join(o.output, packageZipName(manifest.name, manifest.version))}`);
  }
  if (o.wheelsPlatform !== undefined && o.wheelsPlatform.some((p) => p.trim() === "")) {
    throw new UsageError("-w/--wheels-platform must name a platform tag", "e.g. -w manylinux2014_x86_64 or -w win_amd64");
  }

  // pip and the target probe only: the SDK need not be importable by this interpreter.
  const python = (await projectInterpreter(projectDir, o.python)).interpreter.executable;
  const envFile = await readEnvFile(projectDir);
  const runtime = o.embed === undefined ? undefined : await embeddedRuntime(projectDir, o.embed, envFile);
  const resolution = runtime === undefined ? resolveTarget(flagLayer(o), envFile, await localTarget(python)) : runtimeTarget(o, envFile, runtime);
  const { target } = resolution;

  const source = await requirementsText(projectDir, o, { on: target.autoFreeze, source: resolution.sources.auto_freeze }, python);
  const sanitized = sanitizeRequirements(source.text);
  // A constraints file only narrows versions that are pinned here anyway: dropped with the other options, said below.
  const unusable = unsatisfiableLines(sanitized.dropped).filter((d) => !/^(-c|--constraint)\b/.test(d.line));
  if (unusable.length > 0) {
    throw new CheckFailure(ErrorCode.invalid_params,
      `${source.source} has lines that are not requirements a wheel can satisfy: ${unusable.map((d) => `line ${d.lineNumber} "${d.line}" (${d.reason})`).join("; ")}`,
      "write each as name==version; an editable, VCS or local project needs a wheel built from it, put in wheels/ and pinned");
  }
  const sdk = bundledSdkWheel();
  const withSdk = pinRequirement(sanitized.requirements, SDK_NAME, sdk.version);
  const withSdkText = downloadList(withSdk, resolution);

  if (!o.skipDownload) {
    o.progress?.(`downloading wheels for ${target.wheelsPlatform.join(", ")} / ${target.abi}`);
    await downloadWheels(projectDir, withSdkText, resolution, python, o);
  } else if (!existsSync(path.join(projectDir, WHEELS_DIR))) {
    throw new CheckFailure(ErrorCode.wheels_missing, `${path.join(projectDir, WHEELS_DIR)} not found`, "run package without --skip-download to download the wheels");
  }

  const wheelsDir = path.join(projectDir, WHEELS_DIR);
  const wheelNames = (await readdir(wheelsDir)).filter((f) => f.endsWith(".whl")).sort();
  // The bundled SDK wheel is always the one shipped, whatever wheels/ held.
  const wheelFiles = [
    ...wheelNames.filter((f) => !f.startsWith(`${SDK_NAME}-`)).map((f) => ({ path: `${WHEELS}${f}`, absPath: path.join(wheelsDir, f) })),
    { path: `${WHEELS}${path.basename(sdk.path)}`, absPath: sdk.path },
  ].sort((a, b) => (a.path < b.path ? -1 : 1));
  const { requirements, pinned } = pinFromWheels(withSdk, wheelFiles.map((w) => path.basename(w.path)), resolution);
  const uncovered = uncoveredParagraph(matchRequirementsToWheels(requirements, wheelFiles.map((w) => path.basename(w.path)), target), target);
  if (uncovered) throw new CheckFailure(ErrorCode.wheels_missing, uncovered);
  const unpinned = requirements.filter((r) => r.pinnedVersion === undefined);
  if (unpinned.length > 0) {
    throw new CheckFailure(ErrorCode.invalid_params, `requirements not pinned with ==: ${unpinned.map(formatRequirement).join(", ")}`,
      "pin each of them to one version (name==version) so the station installs exactly what was tested");
  }

  const requirementsTxt = requirements.map((r) => `${formatRequirement(r)}\n`).join("");
  const envJson = {
    python_version: target.pythonVersion, implementation: target.implementation, abi: target.abi,
    wheels_platform: target.wheelsPlatform, auto_freeze: target.autoFreeze, ...shippedIndexSettings(target),
  };
  const outPath = path.resolve(o.output ?? path.join(projectDir, packageZipName(manifest.name, manifest.version)));
  // The zip being rebuilt is never packed into itself, whatever -o named it.
  const project_ = await collectProjectFiles(projectDir, [outPath]);
  // python_runtime/ is what a station installs on: it goes in as the runtime probed above, or not at all (packed as
  // plain files it would make the station use a runtime the wheels were not chosen for).
  const inRuntimeDir = (f: ProjectFile): boolean => f.path.startsWith(`${RUNTIME_DIR}/`);
  const projectFiles = [...project_.files.filter((f) => !inRuntimeDir(f)), ...(runtime?.files ?? [])];
  refuseExcludedEntry(projectDir, manifest.entry_point, new Set(projectFiles.map((f) => f.path)));
  const warnings = runtime === undefined && project_.files.some(inRuntimeDir)
    ? [...project_.warnings, `left out ${RUNTIME_DIR}/: pass --embed-python to ship it as the package's Python runtime`] : project_.warnings;
  // What the original tool writes beside an embedded runtime; the runner finds the runtime by its directory.
  const bootstrap = runtime === undefined ? [] : [{
    path: RUNTIME_BOOTSTRAP,
    data: Buffer.from(`${JSON.stringify({ has_embedded_python: true, python_version: target.pythonVersion, abi: target.abi, implementation: target.implementation }, null, 2)}\n`),
  }];
  await mkdir(path.dirname(outPath), { recursive: true });
  o.progress?.(`writing ${outPath}`);
  const zip = await buildOfflineZip({
    outPath,
    projectFiles,
    wheelFiles,
    extraEntries: [
      { path: REQUIREMENTS, data: Buffer.from(requirementsTxt) },
      { path: TARGET_ENV_FILE, data: Buffer.from(`${JSON.stringify(envJson, null, 2)}\n`) },
      ...bootstrap,
    ],
    ...(signingKey ? { signingKey } : {}),
  });

  const dropped = [...sanitized.dropped.map((d) => ({ line: d.line, reason: d.reason })), ...source.frozenDropped];
  const targetLabel = `${target.wheelsPlatform.join(", ")} / Python ${target.pythonVersion} ${target.abi}`;
  return {
    exitCode: 0,
    json: {
      path: zip.path, size: zip.size, entries: zip.entries, wheel_count: zip.wheelCount, signed: signingKey !== undefined,
      target: envJson, target_sources: resolution.sources, requirements_source: source.source,
      requirements: requirementsTxt.trimEnd().split("\n"), pinned, dropped, warnings,
      ...(source.frozen ? { frozen: source.frozen } : {}),
      python_runtime: runtime === undefined ? null : {
        source: runtime.dir, python_version: runtime.target.pythonVersion, abi: runtime.target.abi, files: runtime.files.length, links_copied: runtime.links,
      },
    },
    human: [
      ...(source.frozen ? [`${style.dim("!")} wrote requirements.txt from pip freeze (${source.frozen.length} line(s)): ${source.frozen.join(", ") || "nothing"}`] : []),
      ...warnings.map((w) => `${style.dim("!")} ${w}`),
      ...dropped.map((d) => `${style.dim("!")} dropped from requirements: ${d.line} (${d.reason})`),
      ...pinned.map((p) => `${style.dim("!")} pinned ${p}`),
      `${tick(true)} ${zip.path}`,
      `  ${humanSize(zip.size)}, ${zip.wheelCount} wheel(s), target ${targetLabel} (${describeSources(resolution)})${signingKey ? ", signed" : ""}`,
      ...(runtime === undefined ? [] : [`  embedded Python ${runtime.target.pythonVersion} runtime from ${runtime.dir} (${runtime.files.length} files) as ${RUNTIME_DIR}/`]),
    ],
  };
}

function describeSources(resolution: TargetResolution): string {
  const s = resolution.sources;
  const from = new Set([s.python_version, s.abi, s.wheels_platform]);
  return [...from].map((x) => ({ flag: "flags", "env-file": TARGET_ENV_FILE, local: "local interpreter", runtime: "embedded runtime", derived: "derived", default: "default" })[x]).join(" + ");
}

function loadKey(file: string): KeyObject {
  try {
    return loadPrivateKey(file);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
