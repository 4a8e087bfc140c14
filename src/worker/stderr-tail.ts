import { StringDecoder } from "node:string_decoder";
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

  /**
   * Splits the stream into lines itself (not readline, which buffers a line without a newline however long it gets:
   * a worker writing gigabytes without "\n" would exhaust the runner's memory). At most maxLineChars of a line are
   * kept; the rest of it is dropped as it arrives.
   */
  attach(stream: Readable, onLine: (line: StderrLine) => void): void {
    const decoder = new StringDecoder("utf8");
    let pending = "";
    let truncated = false;
    const emit = (raw: string): void => {
      const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      const line = parseStderrLine(truncated ? `${text}…` : text);
      truncated = false;
      this.lines.push(line);
      if (this.lines.length > this.capacity) this.lines.shift();
      onLine(line);
    };
    const append = (piece: string): void => {
      if (truncated) return;
      pending += piece;
      if (pending.length > this.maxLineChars) {
        pending = pending.slice(0, this.maxLineChars);
        truncated = true;
      }
    };
    const feed = (text: string): void => {
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        append(text.slice(start, nl));
        emit(pending);
        pending = "";
        start = nl + 1;
      }
      append(text.slice(start));
    };
    stream.on("data", (chunk: Buffer) => feed(decoder.write(chunk)));
    stream.on("end", () => {
      feed(decoder.end());
      if (pending !== "" || truncated) emit(pending);
      pending = "";
    });
  }

  entries(): readonly StderrLine[] {
    return this.lines;
  }

  text(last = this.capacity): string {
    return this.lines.slice(-last).map((l) => l.text).join("\n");
  }
}
