// INVENTORY_SEED: either `sku-1=100,sku-2=5` or a path to a JSON file `{"sku-1": 100, ...}`.
import { readFileSync } from "node:fs";

const SKU = /^[A-Za-z0-9_-]{1,64}$/;

export class SeedError extends Error {}

export function parseSeed(text: string, readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): Map<string, number> {
  const trimmed = text.trim();
  if (trimmed === "") return new Map();
  let entries: [string, unknown][];
  if (trimmed.startsWith("{") || trimmed.endsWith(".json")) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed.startsWith("{") ? trimmed : readFile(trimmed));
    } catch (err) {
      throw new SeedError(`INVENTORY_SEED: cannot read JSON seed (${(err as Error).message})`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SeedError("INVENTORY_SEED: JSON seed must be an object {sku: quantity}");
    entries = Object.entries(raw);
  } else {
    entries = trimmed.split(",").map((part) => {
      const eq = part.indexOf("=");
      if (eq < 0) throw new SeedError(`INVENTORY_SEED: "${part.trim()}" is not sku=quantity`);
      return [part.slice(0, eq).trim(), Number(part.slice(eq + 1).trim())];
    });
  }
  const seed = new Map<string, number>();
  for (const [sku, qty] of entries) {
    if (!SKU.test(sku)) throw new SeedError(`INVENTORY_SEED: invalid SKU "${sku}" (letters, digits, _ and -, at most 64)`);
    if (typeof qty !== "number" || !Number.isInteger(qty) || qty < 0) throw new SeedError(`INVENTORY_SEED: quantity of ${sku} must be a non-negative integer`);
    if (seed.has(sku)) throw new SeedError(`INVENTORY_SEED: ${sku} appears twice`);
    seed.set(sku, qty);
  }
  return seed;
}
