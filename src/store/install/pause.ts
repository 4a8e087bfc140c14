/**
 * Install phases at which a crash test can stop the process (env PROCVISION_TEST_PAUSE=<phase>): it prints
 * `paused <phase>` and waits forever for the test's SIGKILL. A no-op otherwise.
 */
export const INSTALL_PHASES = ["registered-installing", "extracted", "venv", "wheels", "smoked", "archived", "finished", "removing"] as const;
export type InstallPhase = (typeof INSTALL_PHASES)[number];

/** Binding changes: workers started but PIDs not yet rebound; rebound (and audited, in one transaction). */
export const BINDING_PHASES = ["binding-started", "bound"] as const;
export type BindingPhase = (typeof BINDING_PHASES)[number];

export async function pausePoint(phase: InstallPhase | BindingPhase): Promise<void> {
  if (process.env.PROCVISION_TEST_PAUSE !== phase) return;
  process.stdout.write(`paused ${phase}\n`);
  setInterval(() => undefined, 1 << 30); // keeps the event loop alive
  await new Promise<never>(() => undefined);
}
