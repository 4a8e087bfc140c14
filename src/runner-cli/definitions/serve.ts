import type { CommandDefinition } from "../../command-line/definition.js";

export const serve: CommandDefinition<{ root: string; host?: string; port: string; config?: string }, []> = {
  name: "serve",
  summary: "run the runner: HTTP API, web console and workers (prints `listening on <url>`)",
  options: [
    { flags: "--root <dir>", description: "runner root directory", default: "procvision-runtime" },
    { flags: "--host <host>", description: "interface to bind (default 127.0.0.1; anything else is exposed to the network)" },
    { flags: "--port <port>", description: "port (0 picks a free one)", default: "7431" },
    { flags: "--config <file>", description: "runner_config.json" },
  ],
  examples: ["procvision-runner serve --root /srv/procvision --port 0"],
  server: true,
  handler: async ({ options }) => {
    // Loaded here: client commands never need the server, the store or the supervisor.
    await (await import("../serve.js")).serve(options);
    return { exitCode: 0, json: null, human: [] };
  },
};
