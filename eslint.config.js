// The project's lint rules (`npm run lint`, run by .ci/run): ESLint's and typescript-eslint's recommended sets.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "build/", "node_modules/", ".cache/", "procvision-runtime/", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // A variable read by a closure before its one assignment (a callback wired up before the object exists).
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      // Validators match control characters on purpose (names, versions and paths must not contain them).
      "no-control-regex": "off",
    },
  },
  { files: ["src/console/**/*.ts"], languageOptions: { globals: { ...globals.browser } } },
);
