import { MAX_TIMER_MS } from "../duration.js";
import { ErrorCode } from "../errors/codes.js";
import { isProcVisionError, ProcVisionError } from "../errors/procvision-error.js";
import type { LogLevel } from "../supervisor/types.js";
import { stationPackages } from "./document.js";
import { planConvergence, type CurrentBinding, type InstalledVersion } from "./plan.js";
import { desiredDigest, readDesired, resolveEntry, unusableDocument, type SettingsFor } from "./registry-state.js";

/** What the agent needs of a runner: the thin seam that keeps it testable and the runner in charge. */
export interface FleetPort {
  installed(): Promise<InstalledVersion[]>;
  bindings(): Promise<CurrentBinding[]>;
  install(ref: string, force: boolean): Promise<{ state: string; name?: string; version?: string }>;
  switchTo(name: string, version: string, pids: readonly string[]): Promise<unknown>;
  /** After every poll: the station's status for the inventory (uploaded with telemetry). */
  report(status: FleetStatus): Promise<void>;
  log(line: string, level?: LogLevel): void;
}

export interface FleetAgentOptions {
  desired: string;
  pollMs: number;
  workstationId: string;
  settingsFor: SettingsFor;
}

/** `GET /fleet`: what this station should run, what it runs, and how the last convergence went (contract §9). */
export interface FleetStatus {
  workstation_id: string;
  desired: { ref: string; digest: string | null };
  actual: CurrentBinding[];
  last_poll: string | null;
  last_convergence: { at: string; ok: boolean; digest: string | null; error: { error_code: string; message: string } | null } | null;
  /** Consecutive failed polls; retries back off while it grows. */
  failures: number;
}

/**
 * Polls the desired state (one HEAD request when unchanged), pulls and installs what is missing, then moves the PIDs
 * with the zero-downtime switch. A failed install leaves every binding as it was; an unreachable registry leaves the
 * station running what it runs and is retried with backoff.
 */
export class FleetAgent {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private appliedDigest: string | undefined;
  /**
   * A desired state this station cannot run (a package refused or invalid here), and the convergence that said so:
   * not tried again until the document changes.
   */
  private refused: { digest: string | undefined; convergence: FleetStatus["last_convergence"] } | undefined;
  /** How the convergence to the applied digest went: what /fleet says again once an outage since is over. */
  private converged: FleetStatus["last_convergence"] = null;
  private lastDigest: string | null = null;
  private lastPoll: string | null = null;
  private lastConvergence: FleetStatus["last_convergence"] = null;
  private failures = 0;
  private reportError: string | undefined;
  /** Said once: a reference with nothing published reads like a typo from the station's side. */
  private saidNothingPublished = false;

  constructor(private readonly options: FleetAgentOptions, private readonly port: FleetPort) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async status(): Promise<FleetStatus> {
    return {
      workstation_id: this.options.workstationId,
      desired: { ref: this.options.desired, digest: this.lastDigest },
      actual: await this.port.bindings(),
      last_poll: this.lastPoll,
      last_convergence: this.lastConvergence,
      failures: this.failures,
    };
  }

  /** One poll now (after any poll in progress); resolves when it is done. */
  async pollNow(): Promise<FleetStatus> {
    await this.running;
    clearTimeout(this.timer);
    await this.tick();
    return this.status();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.running = this.poll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    this.lastPoll = new Date().toISOString();
    let digest: string | undefined;
    try {
      digest = await desiredDigest(this.options.desired, this.options.settingsFor);
      this.lastDigest = digest ?? null;
      if (digest === undefined && !this.saidNothingPublished) {
        this.port.log(`fleet: nothing is published at ${this.options.desired} yet: check the reference (procvision-cli desired show), or write it with procvision-cli desired set`, "warn");
      }
      this.saidNothingPublished = digest === undefined;
      if (digest !== undefined && digest === this.refused?.digest) {
        // Still the document this station refused: that refusal is the news, not an outage it may have seen since.
        this.lastConvergence = this.refused.convergence;
      } else if (digest !== undefined && digest !== this.appliedDigest) {
        await this.converge();
        this.converged = this.lastConvergence;
      } else if (this.converged !== null) {
        // Unchanged and reachable again: the outage a failed poll reported is over.
        this.lastConvergence = this.converged;
      }
      this.appliedDigest = digest;
      this.failures = 0;
    } catch (err) {
      const error = isProcVisionError(err) ? { error_code: err.code, message: err.message } : { error_code: "9999", message: String(err) };
      this.lastConvergence = { at: new Date().toISOString(), ok: false, digest: digest ?? null, error };
      if (isProcVisionError(err) && err.details?.refused === true) {
        this.refused = { digest, convergence: this.lastConvergence };
        this.port.log(`fleet: ${this.options.desired} ${digest ?? ""} cannot run here, bindings kept: ${error.message}`, "error");
      } else {
        this.failures += 1;
        this.port.log(`fleet: ${this.options.desired}: ${error.message} (retry ${this.failures})`, "warn");
      }
    }
    await this.port.report(await this.status()).then(() => {
      this.reportError = undefined;
    }, (err: unknown) => {
      const message = (err as Error).message;
      if (message !== this.reportError) this.port.log(`fleet: reporting the station's status failed (retried at every poll): ${message}`, "warn");
      this.reportError = message;
    });
    this.schedule(this.delay());
  }

  private async converge(): Promise<void> {
    const { doc, digest } = await readDesired(this.options.desired, this.options.settingsFor).catch((err: unknown) => {
      // A document this station cannot use waits for the next one, as a package it cannot run does.
      throw unusableDocument(err) ? refusal(err) : err;
    });
    const entries = await Promise.all(stationPackages(doc, this.options.workstationId).map((e) => resolveEntry(e, this.options.settingsFor)));
    const plan = planConvergence(entries, await this.port.installed(), await this.port.bindings());
    // Everything is installed before any PID moves: a package that fails leaves every binding as it was.
    for (const install of plan.installs) {
      let result: { state: string };
      try {
        result = await this.port.install(install.ref, install.force);
      } catch (err) {
        // The package itself was refused (2001–2004, 2006–2008): trying it again cannot help until the state changes.
        // Bytes that arrived other than their digest (2008 in transfer) may arrive right next time: retried.
        if (isProcVisionError(err) && /^20\d\d$/.test(err.code) && err.code !== ErrorCode.install_failed && err.details?.transfer !== true) throw refusal(err);
        throw err;
      }
      if (result.state !== "installed") {
        throw new ProcVisionError(ErrorCode.install_failed, `${install.ref} installed as ${result.state}: its smoke checks failed on this station`, { details: { refused: true } });
      }
    }
    for (const bind of plan.binds) await this.port.switchTo(bind.name, bind.version, bind.pids);
    this.lastDigest = digest ?? null;
    this.lastConvergence = { at: new Date().toISOString(), ok: true, digest: digest ?? null, error: null };
    if (plan.installs.length > 0 || plan.binds.length > 0) {
      this.port.log(`fleet: converged to ${digest}: ${plan.installs.length} installed, ${plan.binds.map((b) => `${b.pids.join(",")} → ${b.name} ${b.version}`).join("; ") || "bindings unchanged"}`);
    }
  }

  /** The poll interval, or after failures an exponential backoff (capped at 8 intervals) with ±20 % jitter. */
  private delay(): number {
    const base = this.failures === 0 ? this.options.pollMs : Math.min(this.options.pollMs * 2 ** (this.failures - 1), this.options.pollMs * 8);
    // Backoff and jitter may take a long poll_ms past what a timer can wait (it would fire at once, in a loop).
    return Math.min(Math.round(base * (0.8 + 0.4 * Math.random())), MAX_TIMER_MS);
  }
}

/** `err` as a refusal: what this station cannot run until the desired state changes (not retried, not an outage). */
function refusal(err: ProcVisionError): ProcVisionError {
  return new ProcVisionError(err.code, err.message, { ...(err.hint ? { hint: err.hint } : {}), details: { refused: true } });
}
