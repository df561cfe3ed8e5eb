// Payment configuration, parsed once at start.
import { ConfigError } from "@jetmesh/mesh";
import { bucketSettings, type BucketSettings } from "@jetmesh/shop";
import { DEFAULT_RULES, type ProcessorRules } from "./processor.ts";

export interface PaymentConfig {
  rules: ProcessorRules;
  /** Simulated processor latency per authorization, ms. */
  latencyMs: number;
  /** Share of attempts that fail transiently (0..1); the event is retried with backoff. */
  failureRate: number;
  /** Retry delay after a simulated transient failure, ms. */
  retryDelayMs: number;
  buckets: BucketSettings;
}

export function paymentConfig(env: Record<string, string | undefined>): PaymentConfig {
  const problems: string[] = [];
  const num = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return def;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) {
      problems.push(`${name} must be a number in ${min}..${max}, not "${raw}"`);
      return def;
    }
    return v;
  };
  const cards = (name: string, def: ReadonlySet<string>): ReadonlySet<string> => {
    const raw = env[name];
    if (raw === undefined) return def;
    const list = raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const c of list) if (!/^[0-9]{12,19}$/.test(c)) problems.push(`${name}: "${c}" is not a card number (12-19 digits)`);
    return new Set(list);
  };
  const rules: ProcessorRules = {
    amountLimit: Math.floor(num("PAYMENT_AMOUNT_LIMIT", DEFAULT_RULES.amountLimit, 0, Number.MAX_SAFE_INTEGER)),
    declinedCards: cards("PAYMENT_DECLINED_CARDS", DEFAULT_RULES.declinedCards),
    insufficientFundsCards: cards("PAYMENT_INSUFFICIENT_FUNDS_CARDS", DEFAULT_RULES.insufficientFundsCards),
  };
  const latencyMs = num("PAYMENT_LATENCY_MS", 0, 0, 60_000);
  const failureRate = num("PAYMENT_FAILURE_RATE", 0, 0, 1);
  const retryDelayMs = num("PAYMENT_RETRY_DELAY_MS", 200, 0, 600_000);
  const buckets = bucketSettings(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { rules, latencyMs, failureRate, retryDelayMs, buckets };
}
