import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { stationReport, type ValidationReport } from "../checks/report.js";
import { ErrorCode, isProcVisionError, ProcVisionError } from "../errors/index.js";
import { isOciReference } from "../oci/reference.js";
import { resolveInterpreter } from "../python/interpreter.js";
import { notFound, planPrune, refLabel, type PackageRef } from "../store/decisions.js";
import type { InstallResult } from "../store/install/pipeline.js";
import { removeVersion } from "../store/install/remove.js";
import { packageWorkerLaunch } from "../store/layout.js";
import { acquireLock } from "../store/lock.js";
import type { AuditOutcome, PackageRecord } from "../store/repository.js";
import { chooseInstaller, findUv } from "../wheel-installer/index.js";
import type { WheelTarget } from "../wheel-tags/index.js";
import type { RunnerConfig } from "./config.js";
import type { RunnerContext } from "./context.js";
import { hosted } from "./hosted.js";
import { registrySettings } from "./registry-settings.js";
import { ZipWatcher } from "./zip-watcher.js";

export interface OperatorOption {
  operator?: string;
}

export interface InstallOptions extends OperatorOption {
  /** Replace an installed version of the same name and version. */
  force?: boolean;
  /**
   * Where the zip came from, as list (`source_zip`), the audit and error messages name it when its path means nothing
   * to the user: `upload <file name>` for an HTTP upload, the pinned `oci://` reference for a pull. Default: its path.
   */
  origin?: string;
}

/** Where a package comes from: a zip on this machine, or a reference into an OCI registry (contract §9). */
export type InstallSource = { path: string } | { ref: string };

/** How long an install waits for another runner process's install lock. */
export const LOCK_WAIT_MS = 30 * 60_000;

/**
 * Installs an offline package (contract §7 Install): a zip path, `{path}`, or `{ref: "oci://…"}` (also given as the
 * string) pulled from an OCI registry first (§9). Resolves with state `invalid` when the smoke checks fail.
 */
export function install(ctx: RunnerContext, source: string | InstallSource, options: InstallOptions): Promise<InstallResult> {
  if (typeof source === "string") return isOciReference(source) ? installFromRegistry(ctx, source, options) : installZip(ctx, source, options);
  return "ref" in source ? installFromRegistry(ctx, source.ref, options) : installZip(ctx, source.path, options);
}

/**
 * With watch_zips, a zip dropped into zips/ means "install this": once its version is removed (uninstall, keep_versions),
 * the dropped file goes too, or the watcher would install the version again at the next start.
 */
export async function removeDroppedZip(ctx: RunnerContext, pkg: Pick<PackageRecord, "source_zip">): Promise<void> {
  if (!ctx.config.watch_zips || pkg.source_zip === null || path.dirname(path.resolve(pkg.source_zip)) !== path.resolve(ctx.layout.zips)) return;
  await rm(pkg.source_zip, { force: true });
}

/** watch_zips: zips copied into zips/ are installed (the audit names the operator `watch:zips`). */
export function watchZips(ctx: RunnerContext): ZipWatcher {
  const watcher = new ZipWatcher({
    dir: ctx.layout.zips,
    known: () => new Set(ctx.repository.listPackages({}).map((p) => p.zip_sha256).filter((h): h is string => h !== null)),
    install: async (file) => {
      await install(ctx, file, { operator: "watch:zips" });
    },
    log: ctx.log,
  });
  watcher.start();
  return watcher;
}

/**
 * The zip is streamed into staging/ and its digest checked (2008, nothing kept) before the normal pipeline runs;
 * the pull happens outside the packages queue, so a slow registry holds up no other operation.
 */
async function installFromRegistry(ctx: RunnerContext, ref: string, options: InstallOptions): Promise<InstallResult> {
  ctx.state.assertOpen();
  const { parseOciReference, pullPackage } = await import("../oci/index.js");
  const { registry } = parseOciReference(ref);
  await mkdir(ctx.layout.staging, { recursive: true });
  const dir = await mkdtemp(path.join(ctx.layout.staging, "pull-"));
  try {
    let pulled;
    try {
      pulled = await pullPackage(ref, dir, registrySettings(ctx.config, registry));
    } catch (err) {
      ctx.audit.record(options.operator ?? ctx.operator, "install", ref, "failed", err);
      throw err;
    }
    ctx.log(`pulled ${pulled.pinned} (zip ${pulled.zip_digest})`);
    return await installZip(ctx, pulled.zipPath, { ...options, origin: pulled.pinned });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function installZip(ctx: RunnerContext, zipPath: string, options: InstallOptions): Promise<InstallResult> {
  const operator = options.operator ?? ctx.operator;
  const origin = options.origin ?? path.resolve(zipPath);
  return ctx.packagesQueue.run(async () => {
    ctx.state.assertOpen();
    let target = options.origin ?? path.basename(zipPath);
    try {
      const lock = await acquireLock(ctx.layout.lock, LOCK_WAIT_MS);
      let result: InstallResult;
      try {
        // Loaded on first use: the pipeline (zip reading, wheel installer, smoke checks) is not needed while idle.
        const { installPackage } = await import("../store/install/pipeline.js");
        result = await installPackage({
          layout: ctx.layout, repo: ctx.repository,
          integrity: { trustedKeys: ctx.trustedKeys, requireSignature: ctx.config.require_signature },
          interpreter: () => interpreter(ctx.config.python),
          installer: () => chooseInstaller(ctx.config.installer, findUv()),
          releaseForReinstall: (pkg) => releaseForReinstall(ctx, pkg),
          bytecode: ctx.bytecode,
          startupTimeoutMs: ctx.config.startup_timeout_ms,
        }, {
          zipPath, origin, force: options.force === true, operator,
          onIdentified: (ref) => {
            target = refLabel(ref);
          },
        });
        for (const w of result.warnings) ctx.log(`${target}: ${w}`);
        const { outcome, detail } = installAudit(result, origin);
        ctx.audit.record(operator, "install", target, outcome, undefined, detail);
        if (result.state === "installed") await prune(ctx, result, operator);
      } finally {
        await lock.release();
      }
      return result;
    } catch (err) {
      const named = options.origin === undefined ? err : renamed(err, path.resolve(zipPath), options.origin);
      ctx.audit.record(operator, "install", target, "failed", named);
      throw named;
    }
  });
}

/** An error that names a transient file (an upload's, a pull's staging copy) by what the user installed instead. */
function renamed(err: unknown, file: string, origin: string): unknown {
  if (!isProcVisionError(err) || !err.message.includes(file)) return err;
  return new ProcVisionError(err.code, err.message.replaceAll(file, origin), { ...(err.hint ? { hint: err.hint } : {}), ...(err.details ? { details: { ...err.details } } : {}), cause: err });
}

/** The audit row of an install that ran to the end: where from and how long, or which smoke checks failed; its warnings. */
function installAudit(result: InstallResult, origin: string): { outcome: AuditOutcome; detail: string } {
  const warned = result.warnings.length > 0 ? `; warnings: ${result.warnings.join("; ")}` : "";
  return result.state === "installed"
    ? { outcome: "ok", detail: `from ${origin} in ${result.duration_ms} ms${warned}` }
    : { outcome: "invalid", detail: `${failedChecks(result.validation)}${warned}` };
}

function failedChecks(report: ValidationReport): string {
  return `smoke checks failed: ${report.checks.filter((c) => c.result === "FAIL").map((c) => `${c.name}: ${c.message}`).join("; ")}`;
}

/** Both probes are memoized per process: a station's interpreter is asked once. */
async function interpreter(python: RunnerConfig["python"]): Promise<{ executable: string; target: WheelTarget }> {
  const { executable } = await resolveInterpreter(python ?? "python3");
  const { localTarget } = await import("../python/local-target.js");
  return { executable, target: await localTarget(executable) };
}

/** A forced reinstall replaces a version only when no PID is bound to it and no session uses it; its workers drain and stop first. */
async function releaseForReinstall(ctx: RunnerContext, pkg: PackageRecord): Promise<void> {
  const bound = ctx.repository.bindingsOf(pkg.name, pkg.version).map((b) => b.pid);
  if (bound.length > 0) {
    throw new ProcVisionError(ErrorCode.unsafe_uninstall, `${refLabel(pkg)} is active for ${bound.join(", ")}: a forced reinstall would replace it under running inspections`, {
      hint: "switch those PIDs to another version (or deactivate them), then install with force again",
    });
  }
  if (ctx.host.inUse(hosted(pkg))) {
    throw new ProcVisionError(ErrorCode.unsafe_uninstall, `${refLabel(pkg)} is in use by running sessions: a forced reinstall would end them`, {
      hint: "let those sessions finish (or end them), then install with force again",
    });
  }
  await ctx.host.retire(hosted(pkg));
}

/** keep_versions: the oldest inactive versions of the name just installed are removed. */
async function prune(ctx: RunnerContext, installed: PackageRef, operator: string): Promise<void> {
  const { repository, config } = ctx;
  await ctx.bindingsQueue.run(async () => {
    const versions = repository.listPackages({ name: installed.name }).filter((p) => p.state === "installed" || p.state === "invalid");
    const protectedVersions = new Set(versions.filter((p) => repository.bindingsOf(p.name, p.version).length > 0 || ctx.host.inUse(hosted(p))).map((p) => p.version));
    for (const version of planPrune(versions, config.keep_versions, installed.version, protectedVersions)) {
      const pkg = versions.find((p) => p.version === version)!;
      try {
        await ctx.host.retire(hosted(pkg));
        await removeVersion(ctx.layout, repository, ctx.bytecode, pkg);
        await removeDroppedZip(ctx, pkg);
        ctx.log(`removed ${refLabel(pkg)} (keep_versions ${config.keep_versions})`);
        ctx.audit.record(operator, "prune", refLabel(pkg), "ok", undefined, `keep_versions ${config.keep_versions}`);
      } catch (err) {
        ctx.audit.record(operator, "prune", refLabel(pkg), "failed", err);
      }
    }
  });
}

/** Re-runs the smoke checks in the package's venv; the state follows the result (installed ⇄ invalid). */
export function revalidate(ctx: RunnerContext, name: string, version: string, operator: string): Promise<ValidationReport> {
  return ctx.packagesQueue.run(() => ctx.audit.around(operator, "validate", refLabel({ name, version }), async () => {
    const pkg = ctx.repository.getPackage(name, version);
    if (pkg === undefined || (pkg.state !== "installed" && pkg.state !== "invalid")) throw notFound({ name, version });
    const { smokeCheck } = await import("../store/install/smoke.js");
    const report = stationReport(await smokeCheck(packageWorkerLaunch(pkg.dir), ctx.config.startup_timeout_ms));
    ctx.repository.setValidation(name, version, report.summary.status === "PASS" ? "installed" : "invalid", report);
    ctx.active.forget();
    return report;
  }, (report) => (report.summary.status === "PASS" ? "ok" : "invalid")));
}
