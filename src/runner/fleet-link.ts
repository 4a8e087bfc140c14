import { ErrorCode, ProcVisionError } from "../errors/index.js";
import type { FleetAgent, FleetStatus } from "../fleet/agent.js";
import type { Repository } from "../store/repository.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import { bind } from "./bindings.js";
import type { RunnerContext } from "./context.js";
import { install } from "./install-flow.js";
import { registrySettings } from "./registry-settings.js";

/** `GET /fleet` of a station that follows no desired state: only its bindings. */
/** A station that follows no desired state: the same answer, with nothing desired and nothing polled. */
export type UnmanagedFleetStatus = Omit<FleetStatus, "desired"> & { desired: null };

const actualBindings = (repository: Repository): { pid: string; name: string; version: string }[] =>
  repository.bindings().map((b) => ({ pid: b.pid, name: b.name, version: b.version }));

/**
 * fleet.desired: poll the line's desired state and converge to it (loaded only on stations that have one). The
 * agent installs and switches as the operator `fleet`; its status leaves the station with telemetry.
 */
export async function followDesiredState(ctx: RunnerContext, desired: string, telemetry: Telemetry | undefined): Promise<FleetAgent> {
  const { FleetAgent } = await import("../fleet/agent.js");
  const agent = new FleetAgent({ desired, pollMs: ctx.config.fleet.poll_ms, workstationId: ctx.config.workstation_id, settingsFor: (registry) => registrySettings(ctx.config, registry) }, {
    installed: async () => ctx.repository.listPackages({}).map((p) => ({ name: p.name, version: p.version, state: p.state, zip_sha256: p.zip_sha256 })),
    bindings: async () => actualBindings(ctx.repository),
    install: (ref, force) => install(ctx, { ref }, { force, operator: "fleet" }),
    switchTo: (name, version, pids) => bind(ctx, "switch", { name, version }, pids, "fleet"),
    report: async (status) => telemetry?.putStationStatus({ ...status }),
    log: ctx.log,
  });
  agent.start();
  return agent;
}

/** `GET /fleet`: the desired state, the bindings and the last convergence (only the bindings without fleet.desired). */
export function fleetStatus(agent: FleetAgent | undefined, workstationId: string, repository: Repository): Promise<FleetStatus> | UnmanagedFleetStatus {
  if (agent) return agent.status();
  return { workstation_id: workstationId, desired: null, actual: actualBindings(repository), last_poll: null, last_convergence: null, failures: 0 };
}

export function requireFleetAgent(agent: FleetAgent | undefined): FleetAgent {
  if (!agent) {
    throw new ProcVisionError(ErrorCode.not_found, "this station follows no desired state", { hint: "set fleet.desired in runner_config.json to oci://<registry>/<repository>:<tag>" });
  }
  return agent;
}
