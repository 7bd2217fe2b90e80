// Lint for correctness, not style: the rules that catch real bugs in async code.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "coverage/", "test/bench/results/", "infra/", ".tmp/", "dist/", ".venv/", ".tools/"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/restrict-template-expressions": "off",
    },
  },
  {
    // Named units, not giant closures: a product function (nested functions counted in their parent)
    // stays within 100 lines of code.
    files: ["agents/**/*.ts", "mesh/**/*.ts", "tools/**/*.ts", "schemas/**/*.ts"],
    rules: { "max-lines-per-function": ["error", { max: 100, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
  { files: ["eslint.config.js"], ...tseslint.configs.disableTypeChecked },
  // Prettier wraps code at 140 but not strings, templates or comments: this catches those.
  {
    files: ["**/*.ts", "**/*.js"],
    rules: { "max-len": ["error", { code: 140 }] },
  },
);
