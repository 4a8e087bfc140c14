import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

export interface StderrLine {
  at: number;
  text: string;
  /** Set when the line is a StructuredLogger JSON record. */
  level?: string;
  message?: string;
  fields?: Record<string, unknown>;
}

/** Parses one stderr line; JSON lines from StructuredLogger keep their level and fields. */
export function parseStderrLine(text: string, at = Date.now()): StderrLine {
  if (text.startsWith("{")) {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        const { level, message, ...fields } = value as Record<string, unknown>;
        return {
          at, text,
          ...(typeof level === "string" ? { level } : {}),
          ...(typeof message === "string" ? { message } : {}),
          fields,
        };
      }
    } catch {
      // plain text that happens to start with a brace
    }
  }
  return { at, text };
}

/** Keeps the last N stderr lines of a worker: enough to explain a crash, bounded whatever the worker prints. */
export class StderrTail {
  private readonly lines: StderrLine[] = [];

  constructor(private readonly capacity: number, private readonly maxLineChars = 8_192) {}

  attach(stream: Readable, onLine: (line: StderrLine) => void): void {
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    reader.on("line", (raw) => {
      const line = parseStderrLine(raw.length > this.maxLineChars ? `${raw.slice(0, this.maxLineChars)}…` : raw);
      this.lines.push(line);
      if (this.lines.length > this.capacity) this.lines.shift();
      onLine(line);
    });
  }

  entries(): readonly StderrLine[] {
    return this.lines;
  }

  text(last = this.capacity): string {
    return this.lines.slice(-last).map((l) => l.text).join("\n");
  }
}
