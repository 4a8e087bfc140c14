// What /health and `procvision-runner status` call degraded: a bound version that cannot take an inspection now.
import { describe, expect, it } from "vitest";
import { healthProblems } from "../../src/runner/status.js";
import type { SupervisorPoolStatus } from "../../src/supervisor/supervisor.js";

const binding = (pid: string, version: string) => ({ pid, name: "algo", version, since: "" });
const pool = (version: string, state: string, circuit: string, workerStates: string[]): SupervisorPoolStatus =>
  ({ name: "algo", version, state, circuit, sessions: 0, workers: workerStates.map((s, slot) => ({ slot, state: s })) }) as unknown as SupervisorPoolStatus;

describe("healthProblems", () => {
  it("is empty while every bound version runs with a closed circuit and a worker up", () => {
    expect(healthProblems([binding("p001", "1.0"), binding("p002", "1.0")], [pool("1.0", "running", "closed", ["idle", "down"])])).toEqual([]);
  });

  it("names the PIDs of a version that is not running, has its circuit open, or has no worker up", () => {
    const bindings = [binding("p001", "1.0"), binding("p002", "1.0"), binding("p003", "2.0"), binding("p004", "3.0")];
    expect(healthProblems(bindings, [pool("2.0", "running", "open", ["down"]), pool("3.0", "running", "closed", ["starting", "down"])])).toEqual([
      "p001, p002: algo 1.0 is not running", "p003: algo 2.0 has its circuit open (workers crash)", "p004: algo 3.0 has no worker up",
    ]);
  });
});
