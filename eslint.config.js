// Type-aware lint rules for what the type checker does not catch: promises nobody awaits or
// handles, promises passed where a plain value or void callback is expected, and switches
// over a union that miss a member. Only these rules: the rest is tsc's job (strict mode).
import tseslint from "typescript-eslint";

export default [
  { ignores: ["**/node_modules/**", "**/dist/**", ".tools/**", "coverage/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // A `default:` branch is an explicit answer for the rest of a union.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
    },
  },
];
