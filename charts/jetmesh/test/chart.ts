// Shared helpers for the chart tests: where things are, YAML loading, Helm-style merging.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, parse as parseYaml } from "yaml";

export const chartDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = join(chartDir, "..", "..");

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}

export function loadYaml(path: string): unknown {
  return parseYaml(readText(path));
}

/** Every non-empty document of a multi-document YAML file; a syntax error throws. */
export function loadYamlDocuments(path: string): unknown[] {
  const docs = parseAllDocuments(readText(path));
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS() as unknown;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function listFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Helm's coalescing of a values overlay onto the chart defaults: maps merge, the rest replaces. */
export function mergeValues(base: unknown, overlay: unknown): unknown {
  if (isRecord(base) && isRecord(overlay)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(overlay)) out[k] = k in base ? mergeValues(base[k], v) : v;
    return out;
  }
  return overlay === undefined ? base : overlay;
}

/** Path of a binary on PATH, or null. */
export function which(binary: string): string | null {
  try {
    return execFileSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}
