// The fleet agent's schedule with the longest poll_ms the config allows: backoff and jitter must not take a delay past
// what a timer can wait (Node fires such a timer after 1 ms: the station polled its registry in a tight loop).
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { FleetAgent, type FleetPort } from "../../src/fleet/agent.js";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("FleetAgent schedule", () => {
  it("with poll_ms at the timer limit and the registry down, it polls once, then waits", async () => {
    const lines: string[] = [];
    const port: FleetPort = {
      installed: async () => [], bindings: async () => [], install: async () => ({ state: "installed" }), switchTo: async () => undefined,
      report: async () => undefined, log: (line) => void lines.push(line),
    };
    const agent = new FleetAgent({ desired: `oci://127.0.0.1:${await closedPort()}/lines/a:desired`, pollMs: 2_147_483_647, workstationId: "st-1", settingsFor: () => ({}) }, port);
    agent.start();
    try {
      await expect.poll(() => lines.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await agent.status()).failures).toBe(1);
    } finally {
      await agent.stop();
    }
  });
});
