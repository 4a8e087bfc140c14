import { checkResult, DEFAULT_LIMITS, type ObservedCall, type ResultLimits, type ResultRule } from "../inspection/index.js";
import { fail, pass, type Check, type CheckName } from "./report.js";

/** What validate saw of one call: the answer the rules read, and what the algorithm wrote to stdout. */
export interface ObservedSmokeCall extends ObservedCall {
  error_code: string | null;
  stdout_bytes: number;
}

export interface ObservedStep {
  step_index: number;
  /** Absent for execute-only algorithms (G2/G3): their pre_execute checks are left out, not failed. */
  pre_execute?: ObservedSmokeCall;
  execute: ObservedSmokeCall;
}

/**
 * Collects, per check, the problems found across every step; a check becomes FAIL with the first problems named,
 * PASS when it ran and found none, and is left out when no step could run it (an earlier check failed).
 */
class Tally {
  private readonly problems = new Map<string, string[]>();
  private readonly ran = new Set<string>();

  note(name: CheckName, problem?: string): void {
    this.ran.add(name);
    if (problem === undefined) return;
    const list = this.problems.get(name) ?? [];
    list.push(problem);
    this.problems.set(name, list);
  }

  check(name: CheckName, okMessage: string): Check[] {
    if (!this.ran.has(name)) return [];
    const problems = this.problems.get(name);
    if (!problems) return [pass(name, okMessage)];
    const more = problems.length > 3 ? ` (+${problems.length - 3} more)` : "";
    return [fail(name, problems.slice(0, 3).join("; ") + more)];
  }
}

const RULE_PASSES: Record<ResultRule, (limits: ResultLimits) => string> = {
  pre_execute_return_dict: () => "pre_execute returns a dict",
  pre_status_valid: () => "pre_execute status is OK/ERROR, no result_status",
  pre_message_present: () => "OK pre_execute carries a message",
  execute_return_dict: () => "execute returns a dict",
  execute_status_valid: () => "execute status is OK/ERROR",
  execute_result_status_valid: () => "data.result_status is OK/NG",
  ng_reason_present: () => "NG results carry ng_reason",
  defect_rects_type: () => "defect_rects is a list of rects",
  defect_rects_count_limit: (limits) => `at most ${limits.maxDefects} defect rects`,
  rects_within_image: () => "every rect lies inside the image",
};

/**
 * The rulebook's result rules over validate's smoke calls, as checks (contract §2), with the runner's default
 * limits. Execute-only algorithms (G2/G3) get the execute rules; rects are checked against the current image.
 */
export function resultChecks(steps: readonly ObservedStep[], image: { width: number; height: number }, limits: ResultLimits = DEFAULT_LIMITS): Check[] {
  const t = new Tally();
  let stdoutBytes = 0;
  for (const { step_index: step, pre_execute: pre, execute: exec } of steps) {
    const calls: [method: "pre_execute" | "execute", call: ObservedSmokeCall][] = pre ? [["pre_execute", pre], ["execute", exec]] : [["execute", exec]];
    for (const [method, call] of calls) {
      stdoutBytes += call.stdout_bytes;
      const { rules, problems } = checkResult(method, call, image, limits);
      for (const rule of rules) t.note(rule);
      for (const problem of problems) t.note(problem.rule, `step ${step}: ${problem.message}`);
    }
    // A call that did not return a dict already failed its return check; smoke_execute names the algorithm's errors.
    const failed = calls.find(([, call]) => call.status === "ERROR" && call.invalid_return === undefined);
    t.note("smoke_execute", failed && `step ${step}: ${failed[0]} returned ${failed[1].status}${failed[1].error_code ? ` ${failed[1].error_code}` : ""}: ${failed[1].message || "(no message)"}`);
  }
  t.note("stdout_clean", stdoutBytes > 0 ? `the algorithm wrote ${stdoutBytes} bytes to stdout; the adapter kept the protocol intact, but use self.logger (stderr) instead of print()` : undefined);
  return [
    ...(Object.keys(RULE_PASSES) as ResultRule[]).flatMap((rule) => t.check(rule, RULE_PASSES[rule](limits))),
    ...t.check("smoke_execute", `${steps.every((s) => s.pre_execute) ? "pre_execute and execute" : "execute"} ran OK for ${steps.length} step(s)`),
    ...t.check("stdout_clean", "nothing written to stdout"),
  ];
}
