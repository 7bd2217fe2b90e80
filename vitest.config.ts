import { defineConfig } from "vitest/config";

// Three projects: unit tests need nothing; integration tests start a real nats-server per file;
// the real tier runs real Ollama with a real small model, the LiteLLM proxy and the nats CLI
// (`npm run setup` installs them), after the other two and one file at a time, so the model has
// both cores and the timing-sensitive integration tests do not share them with it.
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
      {
        test: {
          name: "real",
          include: ["test/real/**/*.test.ts"],
          sequence: { groupOrder: 1 },
          // Generations are short; the limit only has to outlast a loaded 2-core machine.
          testTimeout: 600_000,
          hookTimeout: 120_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
