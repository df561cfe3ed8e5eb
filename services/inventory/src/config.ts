// Inventory configuration, parsed once at start.
import { ConfigError } from "@jetmesh/mesh";
import { SeedError, parseSeed } from "./seed.ts";

export interface InventoryConfig {
  /** Initial stock per SKU; only SKUs not yet in the bucket are seeded. */
  seed: Map<string, number>;
  /** Storage of the stock bucket (file survives a server restart). */
  storage: "file" | "memory";
}

export function inventoryConfig(env: Record<string, string | undefined>): InventoryConfig {
  const problems: string[] = [];
  let seed = new Map<string, number>();
  try {
    seed = parseSeed(env.INVENTORY_SEED ?? "");
  } catch (err) {
    if (err instanceof SeedError) problems.push(err.message);
    else throw err;
  }
  const storage = env.SHOP_KV_STORAGE ?? "file";
  if (storage !== "file" && storage !== "memory") problems.push(`SHOP_KV_STORAGE must be file or memory, not "${storage}"`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { seed, storage: storage as "file" | "memory" };
}
