import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { LineLog, Logger } from "../supervisor/types.js";
import type { Telemetry } from "../telemetry/telemetry.js";

/** The runner's log by default: stderr, one prefixed line each (warnings and errors say so). */
export const stderrLog: LineLog = (line, level = "info") => {
  process.stderr.write(`procvision-runner: ${level === "info" ? "" : `${level}: `}${line}\n`);
};

/** Runner log lines also leave the station with telemetry (upload.logs), with their level. */
export function withTelemetry(log: LineLog, telemetry: Telemetry | undefined): LineLog {
  return telemetry === undefined ? log : (line, level = "info") => {
    log(line, level);
    telemetry.logLine("runner", level, line);
  };
}

const LOG_LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/** Supervisor log lines through the runner's log, from the configured level up. */
export function lineLogger(log: LineLog, min: keyof typeof LOG_LEVELS): Logger {
  return {
    log(level, message, fields) {
      if (LOG_LEVELS[level] < LOG_LEVELS[min]) return;
      // The message already names the event and the package; the rest of the fields add detail.
      const { event: _event, type: _type, key: _key, ...detail } = fields ?? {};
      log(`${message}${Object.keys(detail).length > 0 ? ` ${JSON.stringify(detail)}` : ""}`, level);
    },
  };
}

/** The tail of a version's worker stderr log (<logsDir>/worker.log); none yet is no lines. */
export async function workerLogTail(logsDir: string, lines = 200): Promise<string[]> {
  const file = path.join(logsDir, "worker.log");
  if (!existsSync(file)) return [];
  const text = await readFile(file, "utf8");
  return text.split("\n").filter((l) => l !== "").slice(-lines);
}
