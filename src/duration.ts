import { z } from "zod";

/** The longest delay a Node timer keeps (2^31 − 1 ms, ~24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A duration setting in ms: an integer from `min` up to what a timer can wait. */
export const durationMs = (min: number) =>
  z.number().int().min(min).max(MAX_TIMER_MS, { error: `at most ${MAX_TIMER_MS} ms (~24.8 days): a longer timer would fire at once` });
