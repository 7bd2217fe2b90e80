import { defineConfig } from "vitest/config";

// Two projects: unit tests need nothing; integration tests start a real nats-server per file.
export default defineConfig({
  test: {
    // Under CI, also write the counts as JSON so .ci/run can print "N passed, N failed".
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".tmp/vitest-results.json" }]] : ["default"],
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 10_000 } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: keep nats-server processes and test workers from starving each other.
          maxWorkers: 2,
        },
      },
    ],
  },
});
