import { appendFileSync, mkdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";

export interface LogSinkOptions {
  /** Rotate when the file reaches this size. */
  maxBytes?: number;
  /** Rotated files kept: worker.log.1 … worker.log.N. */
  keep?: number;
}

/**
 * Worker stderr of one package version in `<logsDir>/worker.log`, rotated by size. Lines are buffered and written
 * together once per tick, so a chatty algorithm costs one write per burst rather than one per line.
 */
export class LogSink {
  readonly file: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #size: number;
  #buffer: string[] = [];
  #scheduled = false;
  #broken = false;

  constructor(readonly dir: string, options: LogSinkOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.#keep = options.keep ?? 3;
    this.file = path.join(dir, "worker.log");
    mkdirSync(dir, { recursive: true });
    try {
      this.#size = statSync(this.file).size;
    } catch {
      this.#size = 0;
    }
  }

  write(line: string): void {
    if (this.#broken) return;
    this.#buffer.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#buffer.length === 0 || this.#broken) return;
    const text = `${this.#buffer.join("\n")}\n`;
    this.#buffer = [];
    try {
      if (this.#size > 0 && this.#size + text.length > this.#maxBytes) this.#rotate();
      appendFileSync(this.file, text);
      this.#size += Buffer.byteLength(text);
    } catch {
      // A full or read-only disk must not take inspections down; the in-memory stderr tail still works.
      this.#broken = true;
    }
  }

  #rotate(): void {
    for (let i = this.#keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    renameSync(this.file, `${this.file}.1`);
    this.#size = 0;
  }
}
