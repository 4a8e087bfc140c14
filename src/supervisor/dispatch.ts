/** Which queued call goes to which worker: a pure choice over plain data, unit-tested without processes. */

export interface SlotView {
  index: number;
  /** idle = ready for a call; busy = running one; down = starting, restarting or stopped. */
  state: "idle" | "busy" | "down";
  /** When it last took a call (ms); the least recently used idle worker gets the next one. */
  lastUsedAt: number;
}

export interface JobView {
  /** The slot that ran this session's previous call, if any. */
  affinity?: number | undefined;
}

/**
 * Picks the first job that can run now and its worker. A session's calls stay on the worker that ran its previous
 * call while that worker lives (so the adapter's on_step_start/on_step_finish pairing stays in one process): such a
 * job waits for its busy worker and lets later jobs pass. Otherwise the least recently used idle worker takes it, which
 * with one call per worker is the least busy one and spreads load evenly.
 */
export function chooseDispatch(jobs: readonly JobView[], slots: readonly SlotView[]): { job: number; slot: number } | undefined {
  const idle = slots.filter((s) => s.state === "idle");
  if (idle.length === 0) return undefined;
  const lru = idle.reduce((a, b) => (b.lastUsedAt < a.lastUsedAt ? b : a));
  for (let j = 0; j < jobs.length; j++) {
    const affinity = jobs[j]?.affinity;
    const pinned = affinity === undefined ? undefined : slots.find((s) => s.index === affinity);
    if (pinned === undefined || pinned.state === "down") return { job: j, slot: lru.index };
    if (pinned.state === "idle") return { job: j, slot: pinned.index };
    // pinned worker busy: wait for it
  }
  return undefined;
}
