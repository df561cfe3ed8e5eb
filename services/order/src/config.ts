// Order service configuration, parsed once at start.
import { ConfigError } from "@jetmesh/mesh";
import { bucketSettings, type BucketSettings } from "@jetmesh/shop";
import type { Pricing } from "./request.ts";

export interface OrderConfig {
  /**
   * When set, POST/GET /orders require `Authorization: Bearer <token>`; without it the API
   * is open (for `make dev` on loopback) and customer emails are masked.
   */
  apiToken: string | undefined;
  maxBodyBytes: number;
  /** A request body must arrive within this (408 and the connection closed otherwise). */
  bodyTimeoutMs: number;
  pricing: Pricing;
  buckets: BucketSettings;
}

export function orderConfig(env: Record<string, string | undefined>): OrderConfig {
  const problems: string[] = [];
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return def;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      problems.push(`${name} must be an integer in ${min}..${max}, not "${raw}"`);
      return def;
    }
    return v;
  };
  const prices = new Map<string, number>();
  for (const part of (env.ORDER_PRICES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [sku, price] = part.split("=").map((s) => s.trim());
    const v = Number(price);
    if (!sku || !/^[A-Za-z0-9_-]{1,64}$/.test(sku) || !Number.isInteger(v) || v < 0)
      problems.push(`ORDER_PRICES: "${part}" is not sku=price (price in minor units)`);
    else prices.set(sku, v);
  }
  const currency = env.ORDER_CURRENCY ?? "EUR";
  if (!/^[A-Z]{3}$/.test(currency)) problems.push(`ORDER_CURRENCY must be an ISO 4217 code like EUR, not "${currency}"`);
  const apiToken = env.ORDER_API_TOKEN?.trim() || undefined;
  if (apiToken !== undefined && apiToken.length < 16) problems.push("ORDER_API_TOKEN must be at least 16 characters");
  const buckets = bucketSettings(env, problems);
  const cfg: OrderConfig = {
    apiToken,
    maxBodyBytes: int("ORDER_MAX_BODY_BYTES", 64 * 1024, 256, 1024 * 1024),
    bodyTimeoutMs: int("ORDER_BODY_TIMEOUT_MS", 10_000, 100, 600_000),
    pricing: { prices, defaultPrice: int("ORDER_DEFAULT_PRICE", 1000, 0, 100_000_000), currency },
    buckets,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return cfg;
}
