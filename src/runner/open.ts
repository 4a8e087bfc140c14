import type { KeyObject } from "node:crypto";
import os from "node:os";
import { ErrorCode, ProcVisionError } from "../errors/index.js";
import { loadPublicKey } from "../signing/index.js";
import { refLabel } from "../store/decisions.js";
import type { StoreLayout } from "../store/layout.js";
import { lockWithin } from "../store/lock.js";
import { recoverStore, type RecoveryReport } from "../store/recovery.js";
import type { Repository } from "../store/repository.js";
import type { LineLog } from "../supervisor/types.js";

/** Who the audit names when a call does not say: `local:<user>`. */
export function defaultOperator(): string {
  try {
    return `local:${os.userInfo().username}`;
  } catch {
    return "local";
  }
}

/** `trusted_keys` of the config, each a PEM text or a path; a bad one names its index. */
export function loadTrustedKeys(keys: readonly string[]): KeyObject[] {
  return keys.map((k, i) => {
    try {
      return loadPublicKey(k);
    } catch (err) {
      // The config may come from --config, another file or code: the key is named, not a file.
      throw new ProcVisionError(ErrorCode.unknown_error, `runner config trusted_keys[${i}]: ${(err as Error).message}`, {
        hint: "list ed25519 public keys as PEM text or paths to .pub files written by procvision-cli keygen",
      });
    }
  });
}

/** How long a start waits for the install lock of a runner that may still be exiting before it skips recovery. */
const RECOVERY_LOCK_WAIT_MS = 3_000;

/**
 * Recovers the store from a crash (half-done installs and removals cleared, logged and audited as `recover`), unless
 * a live runner is installing into this root: its `installing` row is not debris.
 */

export async function recoverOnOpen(layout: StoreLayout, repo: Repository, log: LineLog): Promise<RecoveryReport> {
  let recovery: RecoveryReport;
  // A runner killed a moment ago may still be exiting: its lock is given a few seconds to become stale.
  const lock = await lockWithin(layout.lock, RECOVERY_LOCK_WAIT_MS);
  if ("release" in lock) {
    try {
      recovery = await recoverStore(layout, repo);
    } finally {
      await lock.release();
    }
  } else {
    recovery = { removed: [], skipped: `recovery skipped: runner process ${lock.heldBy || "?"} holds the install lock` };
    log(recovery.skipped!);
  }
  for (const item of recovery.removed) {
    log(item.message);
    repo.addAudit({ operator: "runner", action: "recover", target: refLabel(item), outcome: "ok", detail: item.message });
  }
  return recovery;
}
