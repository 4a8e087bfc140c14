import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

/**
 * The same starting state before each timed contender: dirty pages written out, the page cache dropped (when this
 * process may: root), then the inputs read back so every contender reads them from memory. Without it the runs
 * measured their predecessors: on this VM, creating files right after deleting 200+ MB (ext4 with discard), while
 * the files just generated were still being written back, or while page cache grows into never-touched guest memory
 * ran 1.5-3× slower, whoever was being timed.
 */
export function settle(inputs: readonly string[]): void {
  execFileSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "3");
  } catch {
    // not root: sync only
  }
  for (const file of inputs) readFileSync(file);
}
