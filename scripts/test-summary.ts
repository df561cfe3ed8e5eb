// Prints vitest's JSON results as one plain closing line ("N passed, N failed, N skipped"),
// the form CI logs and people scan for, plus the names of failed tests.
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: test-summary.ts <vitest-json-results>");
  process.exit(2);
}
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
console.log(`${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped`);
