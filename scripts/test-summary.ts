// Prints vitest's JSON results as one plain closing line ("N passed, N failed, N skipped"),
// the form CI logs and people scan for, plus the names of failed tests. With a V8 coverage
// summary (vitest's json-summary reporter, COVERAGE=1) the line before it gives the totals.
import { existsSync, readFileSync } from "node:fs";

const [file, coverageFile] = process.argv.slice(2);
if (!file) {
  console.error("usage: test-summary.ts <vitest-json-results> [coverage-summary.json]");
  process.exit(2);
}
interface Pct {
  pct: number;
  covered: number;
  total: number;
}
type CoverageSummary = Record<string, Record<"lines" | "statements" | "branches" | "functions", Pct>>;
interface Results {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; assertionResults: { status: string; fullName: string }[] }[];
}
let results: Results;
try {
  results = JSON.parse(readFileSync(file, "utf8")) as Results;
} catch (err) {
  console.error(`test-summary: no readable results in ${file}: ${(err as Error).message}`);
  process.exit(1);
}
for (const f of results.testResults) {
  for (const a of f.assertionResults) if (a.status === "failed") console.log(`FAILED ${f.name}: ${a.fullName}`);
}
if (coverageFile && existsSync(coverageFile)) {
  try {
    const total = (JSON.parse(readFileSync(coverageFile, "utf8")) as CoverageSummary).total;
    if (total) {
      const pct = (k: keyof typeof total) => `${k} ${total[k].pct.toFixed(1)}%`;
      console.log(`coverage (V8, code run in the test processes): ${pct("lines")}, ${pct("branches")}, ${pct("functions")}; per file: ${coverageFile}`);
    }
  } catch (err) {
    console.error(`test-summary: unreadable coverage summary ${coverageFile}: ${(err as Error).message}`);
  }
}
console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`);
