// Shipping configuration, parsed once at start.
import { ConfigError } from "@jetmesh/mesh";

export interface ShippingConfig {
  carriers: string[];
  storage: "file" | "memory";
}

export function shippingConfig(env: Record<string, string | undefined>): ShippingConfig {
  const problems: string[] = [];
  const carriers = (env.SHIPPING_CARRIERS ?? "dhl,ups,gls").split(",").map((s) => s.trim()).filter(Boolean);
  if (carriers.length === 0) problems.push("SHIPPING_CARRIERS must name at least one carrier");
  for (const c of carriers) if (!/^[A-Za-z0-9_-]{1,64}$/.test(c)) problems.push(`SHIPPING_CARRIERS: "${c}" is not a valid carrier name`);
  const storage = env.SHOP_KV_STORAGE ?? "file";
  if (storage !== "file" && storage !== "memory") problems.push(`SHOP_KV_STORAGE must be file or memory, not "${storage}"`);
  if (problems.length > 0) throw new ConfigError(problems);
  return { carriers, storage: storage as "file" | "memory" };
}
