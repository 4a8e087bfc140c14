import { configDefaults, defineConfig } from "vitest/config";

// The soak loads both cores for minutes: it runs on its own (PROCVISION_SOAK=1, see `npm test`), so it cannot skew
// the timing bounds of the fault tests.
const soak = process.env.PROCVISION_SOAK === "1";

export default defineConfig({
  test: {
    include: soak ? ["test/soak/**/*.test.ts"] : ["test/**/*.test.ts"],
    exclude: soak ? configDefaults.exclude : [...configDefaults.exclude, "test/soak/**"],
    // Worker tests spawn real Python processes; two cores do not like many at once.
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
