// Event ids and W3C trace context. Follow-up ids are derived, not random, so that a
// redelivered input republishes byte-identical follow-ups and JetStream drops the copy.
import { createHash, hash, randomBytes, randomUUID } from "node:crypto";

/** Namespace of JetMesh's name-based (UUIDv5-style) event ids. */
const ID_NAMESPACE = Buffer.from("6f1c0c4e8a6b4d0e9f3a2b7c5d1e8f90", "hex");

export function newEventId(): string {
  return randomUUID();
}

/**
 * UUIDv5 (SHA-1, RFC 9562 §5.5) of `cause id + type (+ key)` in JetMesh's namespace:
 * the same cause and type always give the same id.
 */
export function deriveEventId(causeId: string, type: string, key?: string): string {
  return deriveIds(causeId, type, key).id;
}

/**
 * The follow-up's event id (UUIDv5) and a span id, from one SHA-1 digest: the span id is
 * digest bytes 12..19, so it is as deterministic as the id.
 */
export function deriveIds(causeId: string, type: string, key?: string): { id: string; spanId: string } {
  const name = key === undefined ? `${causeId}\n${type}` : `${causeId}\n${type}\n${key}`;
  // One-shot hash of namespace + name (cheaper than a Hash object on the hot path).
  const input = Buffer.allocUnsafe(16 + Buffer.byteLength(name, "utf8"));
  ID_NAMESPACE.copy(input, 0);
  input.write(name, 16, "utf8");
  const h = hash("sha1", input, "buffer");
  const spanId = nonZeroHex(h.subarray(12, 20));
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.toString("hex", 0, 16);
  return { id: `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`, spanId };
}

export interface TraceContext {
  traceId: string;
  spanId: string;
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** Parses a W3C traceparent (version 00 or later); undefined when it is not valid. */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== "string") return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (version === "ff" || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  // Version 00 has exactly four fields.
  if (version === "00" && value.trim().length !== 55) return undefined;
  return { traceId, spanId, flags };
}

export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.flags}`;
}

/** A new trace with a random trace id and span id, sampled. */
export function newTraceparent(): string {
  const b = randomBytes(24);
  return formatTraceparent({ traceId: nonZeroHex(b.subarray(0, 16)), spanId: nonZeroHex(b.subarray(16, 24)), flags: "01" });
}

/** A child span of `parent` with the given span id (a new trace if `parent` is invalid). */
export function traceparentWithSpan(parent: unknown, spanId: string, seed: string): string {
  const p = parseTraceparent(parent);
  if (p) return `00-${p.traceId}-${spanId}-${p.flags}`;
  return childTraceparent(undefined, seed);
}

/**
 * A child span of `parent` whose span id is derived from `seed` (deterministic), or a new
 * trace when `parent` is missing or invalid.
 */
export function childTraceparent(parent: unknown, seed: string): string {
  const p = parseTraceparent(parent);
  const span = nonZeroHex(createHash("sha256").update(seed, "utf8").digest().subarray(0, 8));
  if (!p) {
    const trace = nonZeroHex(createHash("sha256").update(`trace\n${seed}`, "utf8").digest().subarray(0, 16));
    return formatTraceparent({ traceId: trace, spanId: span, flags: "01" });
  }
  return formatTraceparent({ traceId: p.traceId, spanId: span, flags: p.flags });
}

/** Trace id of an event's traceparent, for logs. */
export function traceIdOf(traceparent: unknown): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}

function nonZeroHex(b: Uint8Array): string {
  const hex = Buffer.from(b).toString("hex");
  // An all-zero id is invalid in W3C trace context; astronomically unlikely, still handled.
  return /^0+$/.test(hex) ? hex.slice(0, -1) + "1" : hex;
}
