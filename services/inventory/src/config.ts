// Inventory configuration, parsed once at start.
import { ConfigError } from "@jetmesh/mesh";
import { bucketSettings, type BucketSettings } from "@jetmesh/shop";
import { SeedError, parseSeed } from "./seed.ts";

export interface InventoryConfig {
  /** Initial stock per SKU; only SKUs not yet in the bucket are seeded. */
  seed: Map<string, number>;
  buckets: BucketSettings;
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
  const buckets = bucketSettings(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { seed, buckets };
}
