// Desired durable pull consumer configuration from a resolved EventSubscription spec, and the
// comparison with what the server reports. Pure: table-tested.
import type { ResolvedSubscription } from "../api/spec.ts";
import type { ServerFeatures } from "./version.ts";
import type { ConfigDiff } from "./stream-config.ts";

export interface DesiredConsumerConfig {
  durable_name: string;
  ack_policy: "explicit";
  deliver_policy: "new" | "all" | "by_start_time";
  opt_start_time?: string;
  ack_wait: number;
  max_deliver: number;
  backoff?: number[];
  max_ack_pending: number;
  filter_subject?: string;
  filter_subjects?: string[];
}

/**
 * One type → filter_subject. Several → filter_subjects on ≥ 2.10; on 2.9 no server-side filter
 * (the runtime acks and skips other subjects, docs/contracts.md).
 */
export function desiredConsumerConfig(name: string, s: ResolvedSubscription, f: ServerFeatures): DesiredConsumerConfig {
  const cfg: DesiredConsumerConfig = {
    durable_name: name,
    ack_policy: "explicit",
    deliver_policy: s.startFrom.kind === "time" ? "by_start_time" : s.startFrom.kind,
    ack_wait: s.ackWaitNs,
    max_deliver: s.maxDeliver,
    max_ack_pending: s.maxAckPending,
  };
  if (s.startFrom.kind === "time") cfg.opt_start_time = s.startFrom.time;
  if (s.backoffNs.length > 0) cfg.backoff = [...s.backoffNs];
  if (s.types.length === 1) cfg.filter_subject = s.types[0] as string;
  else if (s.types.length > 1 && f.multiFilter) cfg.filter_subjects = [...s.types];
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

export function diffConsumerConfig(desired: DesiredConsumerConfig, actual: Record<string, unknown>, f: ServerFeatures): ConfigDiff {
  const diff: ConfigDiff = { updatable: [], immutable: [] };
  if (desired.deliver_policy !== actual.deliver_policy || !sameTime(desired.opt_start_time, actual.opt_start_time)) {
    diff.immutable.push("delivery.startFrom");
  }
  if (actual.ack_policy !== "explicit") diff.immutable.push("ackPolicy");
  if (typeof actual.deliver_subject === "string" && actual.deliver_subject !== "") diff.immutable.push("pull (was push)");
  const fd = filters(desired);
  const fa = filters(actual);
  if (fd.length !== fa.length || fd.some((v, i) => v !== fa[i])) (f.filterUpdatable ? diff.updatable : diff.immutable).push("types");
  const backoffD = desired.backoff ?? [];
  const backoffA = Array.isArray(actual.backoff) ? (actual.backoff as number[]) : [];
  if (backoffD.length !== backoffA.length || backoffD.some((v, i) => v !== backoffA[i])) diff.updatable.push("delivery.backoff");
  // With a backoff list the server reports its first entry as ack_wait.
  const ackWait = backoffD.length > 0 ? backoffD[0] : desired.ack_wait;
  if (actual.ack_wait !== ackWait && actual.ack_wait !== desired.ack_wait) diff.updatable.push("delivery.ackWait");
  if (actual.max_deliver !== desired.max_deliver) diff.updatable.push("delivery.maxDeliver");
  if (actual.max_ack_pending !== desired.max_ack_pending) diff.updatable.push("delivery.maxAckPending");
  return diff;
}
