// Made once before any test file runs, so test files running in parallel never build the same cache at once: the
// original ProcVision SDK's wheels and its venvs (test/helpers/original-cli.ts), downloaded and built on a fresh
// machine, reused from .cache afterwards.
import { ORIGINAL_RELEASES, originalVenv } from "./helpers/original-cli.js";

export default async function setup(): Promise<void> {
  for (const release of ORIGINAL_RELEASES) await originalVenv(release);
}
