import { configDefaults, defineConfig } from "vitest/config";

// Heavy suites (the soak loads both cores for minutes; the 4 GiB ZIP64 package) run in a phase of their own
// (PROCVISION_HEAVY=1, see `npm test`), so they cannot skew the timing bounds of the fault tests.
const heavy = process.env.PROCVISION_HEAVY === "1";

export default defineConfig({
  test: {
    include: heavy ? ["test/heavy/**/*.test.ts"] : ["test/**/*.test.ts"],
    exclude: heavy ? configDefaults.exclude : [...configDefaults.exclude, "test/heavy/**"],
    globalSetup: heavy ? [] : ["test/global-setup.ts"],
    // Worker tests spawn real Python processes; two cores do not like many at once.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
