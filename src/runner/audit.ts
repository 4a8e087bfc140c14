import { ProcVisionError } from "../errors/index.js";
import type { AuditEntry, AuditOutcome, Repository } from "../store/repository.js";

export type AuditRow = Omit<AuditEntry, "id" | "time">;

/** An audit row (contract §7: every mutation, its operator, action, target and outcome); a failure names its code and message. */
export function auditRow(operator: string, action: string, target: string, outcome: AuditOutcome, err?: unknown, detail?: string): AuditRow {
  const error = err === undefined ? undefined : ProcVisionError.from(err);
  return { operator, action, target, outcome, error_code: error?.code ?? null, detail: error?.message ?? detail ?? null };
}

/**
 * The audit trail: rows into runner.db and an `audit` event each. Mutations either audit their own success inside
 * their transaction (`failures`: only failures are audited here) or leave both outcomes to it (`around`).
 */
export class AuditTrail {
  constructor(
    private readonly repository: Repository,
    /** Audits nothing once closed; operations refuse to start on a closed runner. */
    private readonly state: { readonly closed: boolean; assertOpen(): void },
    private readonly emit: (type: string, fields: Record<string, unknown>) => void,
  ) {}

  record(operator: string, action: string, target: string, outcome: AuditOutcome, err?: unknown, detail?: string): void {
    if (this.state.closed) return;
    const entry = auditRow(operator, action, target, outcome, err, detail);
    this.repository.addAudit(entry);
    this.announce(entry);
  }

  /** The event of a row its mutation wrote inside its own transaction. */
  announce(entry: AuditRow): void {
    this.emit("audit", entry);
  }

  /** Runs a mutation that audits its own success (inside its transaction); failures are audited here. */
  async failures<T>(operator: string, action: string, target: string, fn: () => Promise<T>): Promise<T> {
    this.state.assertOpen();
    try {
      return await fn();
    } catch (err) {
      this.record(operator, action, target, "failed", err);
      throw err;
    }
  }

  /** Runs a mutation and audits it, success or failure. */
  async around<T>(operator: string, action: string, target: string, fn: () => Promise<T>,
    outcomeOf?: (result: T) => AuditOutcome, detailOf?: (result: T) => string | undefined): Promise<T> {
    this.state.assertOpen();
    try {
      const result = await fn();
      this.record(operator, action, target, outcomeOf?.(result) ?? "ok", undefined, detailOf?.(result));
      return result;
    } catch (err) {
      this.record(operator, action, target, "failed", err);
      throw err;
    }
  }
}
