// Shipping configuration, parsed once at start.
import { ConfigError } from "@jetmesh/mesh";
import { bucketSettings, type BucketSettings } from "@jetmesh/shop";

export interface ShippingConfig {
  carriers: string[];
  buckets: BucketSettings;
}

export function shippingConfig(env: Record<string, string | undefined>): ShippingConfig {
  const problems: string[] = [];
  const carriers = (env.SHIPPING_CARRIERS ?? "dhl,ups,gls")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (carriers.length === 0) problems.push("SHIPPING_CARRIERS must name at least one carrier");
  for (const c of carriers) if (!/^[A-Za-z0-9_-]{1,64}$/.test(c)) problems.push(`SHIPPING_CARRIERS: "${c}" is not a valid carrier name`);
  const buckets = bucketSettings(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { carriers, buckets };
}
