/** Which queued call goes to which worker: a pure choice over plain data, unit-tested without processes. */
import { roundCapacity } from "../shm/pool.js";

/**
 * Most calls a worker holds at once: the one it runs and the ones sent behind it. The worker still runs one call at a
 * time; a call waiting in its stdin saves the round trip between two calls (the runner's wake-up, the write, the
 * worker's wake-up), which is most of the cost of a short call.
 */
export const MAX_PIPELINE_DEPTH = 16;
/** Calls are sent behind a running one only while the worker's recent calls take less than this (ms). */
export const PIPELINE_MAX_CALL_MS = 1;
/** Shared memory one worker's held frames may take (each held call has its own segment). */
export const PIPELINE_SHM_BUDGET = 16 * 1024 * 1024;

/**
 * How many calls a worker may hold, from how long its recent calls took and how big its frames are. Short calls are
 * worth queueing at the worker; behind a long call a queued call would wait while another worker may free up first, so
 * long calls go one at a time. Big frames are held fewer at a time so their segments stay within the budget.
 */
export function pipelineDepth(recentCallMs: number, frameBytes: number, maxCallMs = PIPELINE_MAX_CALL_MS): number {
  if (!(recentCallMs < maxCallMs)) return 1;
  const byMemory = Math.floor(PIPELINE_SHM_BUDGET / roundCapacity(frameBytes));
  return Math.max(1, Math.min(MAX_PIPELINE_DEPTH, byMemory));
}

export interface SlotView {
  index: number;
  /** Has a ready worker; false while starting, restarting or stopped. */
  ready: boolean;
  /** Calls sent to it and not answered yet. */
  inflight: number;
  /** How many calls it may hold (see pipelineDepth). */
  depth: number;
  /** When it last took a call (tick); the least recently used idle worker gets the next one. */
  lastUsedAt: number;
}

export interface JobView {
  /** The slot that ran this session's previous call, if any. */
  affinity?: number | undefined;
}

const hasRoom = (s: SlotView): boolean => s.ready && s.inflight < s.depth;

/** Fewest calls held first, then least recently used. */
function leastBusy(slots: readonly SlotView[]): SlotView | undefined {
  let best: SlotView | undefined;
  for (const s of slots) {
    if (!hasRoom(s)) continue;
    if (best === undefined || s.inflight < best.inflight || (s.inflight === best.inflight && s.lastUsedAt < best.lastUsedAt)) best = s;
  }
  return best;
}

/**
 * Picks the first job that can run now and its worker. A session's calls stay on the worker that ran its previous
 * call while that worker lives (so the adapter's on_step_start/on_step_finish pairing stays in one process): such a
 * job waits for room on that worker and lets later jobs pass. Otherwise the least busy worker takes it: an idle one
 * (least recently used first), else one whose short calls let it hold another.
 */
export function chooseDispatch(jobs: readonly JobView[], slots: readonly SlotView[]): { job: number; slot: number } | undefined {
  const free = leastBusy(slots);
  if (free === undefined) return undefined;
  for (let j = 0; j < jobs.length; j++) {
    const affinity = jobs[j]?.affinity;
    const pinned = affinity === undefined ? undefined : slots.find((s) => s.index === affinity);
    if (pinned === undefined || !pinned.ready) return { job: j, slot: free.index };
    if (hasRoom(pinned)) return { job: j, slot: pinned.index };
    // pinned worker full: wait for it
  }
  return undefined;
}
