// Idempotent state changes: a compare-and-set loop on a JetStream KV key, so concurrent
// or redelivered handlers never apply a change twice or lose one.
import type { KV } from "@nats-io/kv";
import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { errorMessage } from "./errors.ts";
import { withSpan } from "./tracing.ts";

/** What updateKv needs from a KV bucket (the @nats-io/kv `KV` fits). */
export type KvBucket = Pick<KV, "get" | "create" | "update">;

export interface UpdateKvResult<T> {
  /** The value now stored (the new one if changed, else the current one; undefined if absent). */
  value: T | undefined;
  changed: boolean;
  /** Revision of `value` (0 when absent). */
  revision: number;
}

export class KvConflictError extends Error {
  constructor(key: string, attempts: number, cause?: unknown) {
    super(
      `KV key ${key}: gave up after ${attempts} compare-and-set attempts (concurrent writers keep changing it)`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "KvConflictError";
  }
}

/**
 * Reads `key` (JSON), applies `fn` and writes the result only if nobody wrote in between
 * (create when absent, update at the read revision); retries on a conflict with a fresh
 * read. `fn` returns undefined to leave the key as it is; it must be pure, it may run more
 * than once.
 */
export async function updateKv<T>(
  kv: KvBucket,
  key: string,
  fn: (current: T | undefined) => T | undefined,
  opts: { maxAttempts?: number } = {},
): Promise<UpdateKvResult<T>> {
  const maxAttempts = opts.maxAttempts ?? 20;
  let lastError: unknown;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const entry = await kv.get(key);
    const present = entry !== null && entry.operation === "PUT";
    const current = present ? (entry.json() as T) : undefined;
    // A deleted key keeps its revision (delete marker): update at that revision, like create.
    const revision = entry?.revision ?? 0;
    const next = fn(current);
    if (next === undefined) return { value: current, changed: false, revision: present ? revision : 0 };
    const payload = JSON.stringify(next);
    try {
      const rev = present ? await kv.update(key, payload, revision) : await kv.create(key, payload);
      return { value: next, changed: true, revision: rev };
    } catch (err) {
      lastError = err;
      // A conflict means the key moved on since our read; anything else is a real failure.
      const now = await kv.get(key);
      if ((now?.revision ?? 0) === revision) throw err;
      if (attempt < maxAttempts) await new Promise((r) => setTimeout(r, Math.min(50, attempt * attempt)));
    }
  }
  throw new KvConflictError(key, maxAttempts, lastError);
}

const TRACED_KV_OPERATIONS = new Set(["get", "put", "create", "update", "delete", "purge"]);

/**
 * The bucket with a client span per read or write (`get orders`, `update stock`: a child of
 * the handler's consumer span or the request's server span); the bucket itself without a
 * tracer. Watches and listings pass through untraced.
 */
export function traceKv<B extends object>(kv: B, bucket: string, tracer: Tracer | undefined): B {
  if (!tracer) return kv;
  return new Proxy(kv, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      // Called on the bucket itself, not the proxy (private class members need their own `this`).
      if (typeof prop !== "string" || !TRACED_KV_OPERATIONS.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]): unknown => {
        const span = tracer.startSpan(`${prop} ${bucket}`, {
          kind: SpanKind.CLIENT,
          attributes: {
            "db.system.name": "nats",
            "db.namespace": bucket,
            "db.operation.name": prop,
            ...(typeof args[0] === "string" ? { "db.nats.kv.key": args[0] } : {}),
          },
        });
        return withSpan(span, async () => {
          try {
            return (await (value as (...a: unknown[]) => unknown).apply(target, args)) as unknown;
          } catch (err) {
            // A failed compare-and-set is how updateKv learns of a concurrent writer: recorded, not hidden.
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
            throw err;
          } finally {
            span.end();
          }
        });
      };
    },
  });
}
