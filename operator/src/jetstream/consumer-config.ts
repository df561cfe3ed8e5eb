// Desired durable pull consumer configuration from a resolved EventSubscription spec, and the
// comparison with what the server reports. Pure: table-tested.
//
// delivery.backoff is NOT JetStream's `backoff`: JetStream takes backoff[0] as the ack wait of
// the first delivery (overriding ack_wait), so a handler slower than the first retry delay would
// be redelivered while still running. JetMesh means "delay before retry N after a failed
// attempt" (the runtime naks with it), so the schedule travels to the runtime in the consumer's
// metadata, and ack_wait stays the spec's.
//
// spec.paused is not part of the config diff: the pause API sets and clears it
// (JetStreamAdmin.setPaused); a consumer created paused starts paused (pause_until).
import type { ResolvedSubscription } from "../api/spec.ts";
import type { ConfigDiff } from "./stream-config.ts";
import { BACKOFF_METADATA_KEY, CIRCUIT_BREAKER_METADATA_KEY } from "@jetmesh/mesh/consumer-contract";

export interface DesiredConsumerConfig {
  durable_name: string;
  ack_policy: "explicit";
  deliver_policy: "new" | "all" | "by_start_time";
  opt_start_time?: string;
  ack_wait: number;
  max_deliver: number;
  max_ack_pending: number;
  /** "JetMesh <namespace>/<name>": whose consumer this is, for a person reading `nats consumer info`. */
  description: string;
  metadata: Record<string, string>;
  filter_subject?: string;
  filter_subjects?: string[];
  /** Only when created paused (spec.paused): PAUSED_UNTIL. */
  pause_until?: string;
}

/**
 * spec.paused means "until resumed"; JetStream pauses until a time. Far enough to be never, and
 * within what Go's time.Duration (±292 years) turns into a timer without saturating oddly.
 */
export const PAUSED_UNTIL = "2200-01-01T00:00:00Z";

const NS_UNITS: [string, number][] = [
  ["h", 3600e9],
  ["m", 60e9],
  ["s", 1e9],
  ["ms", 1e6],
  ["us", 1e3],
];

/** Nanoseconds as the shortest exact Go-style duration ("1s", "1500ms", "90s" stays "90s"). */
export function formatDurationNs(ns: number): string {
  for (const [unit, size] of NS_UNITS) if (ns >= size && ns % size === 0) return `${ns / size}${unit}`;
  return `${ns}ns`;
}

/** "1s,5s,30s" ("" for no schedule: the runtime's default applies). */
export function backoffText(backoffNs: readonly number[]): string {
  return backoffNs.map(formatDurationNs).join(",");
}

/** "failureThreshold=10,window=30s,coolDown=10s", as the runtime parses it (parseCircuitBreaker). */
export function circuitBreakerText(c: { failureThreshold: number; windowNs: number; coolDownNs: number }): string {
  return `failureThreshold=${c.failureThreshold},window=${formatDurationNs(c.windowNs)},coolDown=${formatDurationNs(c.coolDownNs)}`;
}

export function consumerDescription(owner: string): string {
  return `JetMesh ${owner}`;
}

/**
 * `owner` names the EventSubscription (namespace/name) in the description.
 * One type → filter_subject; several → filter_subjects (the server delivers only those, so the
 * consumer's lag counts only the subscription's own events).
 */
export function desiredConsumerConfig(name: string, s: ResolvedSubscription, owner: string = name): DesiredConsumerConfig {
  const cfg: DesiredConsumerConfig = {
    durable_name: name,
    ack_policy: "explicit",
    deliver_policy: s.startFrom.kind === "time" ? "by_start_time" : s.startFrom.kind,
    ack_wait: s.ackWaitNs,
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
    description: consumerDescription(owner),
    // Only our keys: the server adds its own (_nats.*), which the diff ignores.
    metadata: {
      ...(s.backoffNs.length > 0 ? { [BACKOFF_METADATA_KEY]: backoffText(s.backoffNs) } : {}),
      ...(s.circuitBreaker ? { [CIRCUIT_BREAKER_METADATA_KEY]: circuitBreakerText(s.circuitBreaker) } : {}),
    },
  };
  if (s.startFrom.kind === "time") cfg.opt_start_time = s.startFrom.time;
  if (s.types.length === 1) cfg.filter_subject = s.types[0] as string;
  else if (s.types.length > 1) cfg.filter_subjects = [...s.types];
  if (s.paused) cfg.pause_until = PAUSED_UNTIL;
  return cfg;
}

/** A single list of the subjects a config filters on ([] = everything). */
function filters(c: { filter_subject?: unknown; filter_subjects?: unknown }): string[] {
  const list = Array.isArray(c.filter_subjects) ? (c.filter_subjects as string[]) : [];
  const one = typeof c.filter_subject === "string" && c.filter_subject !== "" ? [c.filter_subject] : [];
  return [...list, ...one].sort();
}

function sameTime(a: unknown, b: unknown): boolean {
  if (!a && !b) return true;
  return typeof a === "string" && typeof b === "string" && Date.parse(a) === Date.parse(b);
}

export function diffConsumerConfig(desired: DesiredConsumerConfig, actual: Record<string, unknown>): ConfigDiff {
  const diff: ConfigDiff = { updatable: [], immutable: [] };
  if (desired.deliver_policy !== actual.deliver_policy || !sameTime(desired.opt_start_time, actual.opt_start_time)) {
    diff.immutable.push("delivery.startFrom");
  }
  if (actual.ack_policy !== "explicit") diff.immutable.push("ackPolicy");
  if (typeof actual.deliver_subject === "string" && actual.deliver_subject !== "") diff.immutable.push("pull (was push)");
  const fd = filters(desired);
  const fa = filters(actual);
  if (fd.length !== fa.length || fd.some((v, i) => v !== fa[i])) diff.updatable.push("types");
  // A JetStream backoff (set by hand, or by operators before JetMesh carried the schedule in
  // metadata) would override ack_wait: removed in place.
  const nativeBackoff = Array.isArray(actual.backoff) && actual.backoff.length > 0;
  const actualMeta = (actual.metadata ?? {}) as Record<string, unknown>;
  const metaDiffers = (desired.metadata[BACKOFF_METADATA_KEY] ?? "") !== (actualMeta[BACKOFF_METADATA_KEY] ?? "");
  const descA = typeof actual.description === "string" ? actual.description : "";
  if (nativeBackoff || metaDiffers) diff.updatable.push("delivery.backoff");
  if ((desired.metadata[CIRCUIT_BREAKER_METADATA_KEY] ?? "") !== (actualMeta[CIRCUIT_BREAKER_METADATA_KEY] ?? ""))
    diff.updatable.push("delivery.circuitBreaker");
  // Also clears the "; backoff=..." item operators before the metadata-only schedule wrote.
  if (descA !== desired.description) diff.updatable.push("description");
  if (actual.ack_wait !== desired.ack_wait) diff.updatable.push("delivery.ackWait");
  if (actual.max_deliver !== desired.max_deliver) diff.updatable.push("delivery.maxDeliver");
  if (actual.max_ack_pending !== desired.max_ack_pending) diff.updatable.push("delivery.maxAckPending");
  return diff;
}
