// Desired JetStream stream configuration from a resolved EventStream spec, and the comparison
// with what the server reports. Pure: table-tested in operator/test/jetstream-config.test.ts.
import type { ResolvedStream } from "../api/spec.ts";

/** The stream fields the operator owns. Names and units are JetStream's (nanoseconds). */
export interface DesiredStreamConfig {
  name: string;
  subjects: string[];
  retention: string;
  storage: string;
  num_replicas: number;
  max_age: number;
  max_bytes: number;
  max_msgs: number;
  max_msg_size: number;
  discard: string;
  duplicate_window: number;
  /** Only when the spec sets maxConsumers (otherwise the server's default, 1,000 since 2.15). */
  max_consumers?: number;
}

export function desiredStreamConfig(name: string, s: ResolvedStream): DesiredStreamConfig {
  return {
    name,
    subjects: [...s.subjects],
    retention: s.retention,
    storage: s.storage,
    num_replicas: s.replicas,
    max_age: s.maxAgeNs,
    max_bytes: s.maxBytes,
    max_msgs: s.maxMsgs,
    max_msg_size: s.maxMsgSize,
    discard: s.discard,
    duplicate_window: s.duplicateWindowNs,
    ...(s.maxConsumers > 0 ? { max_consumers: s.maxConsumers } : {}),
  };
}

/** Fields JetStream refuses to change on an existing stream, and the spec field a user edits. */
export const IMMUTABLE_STREAM_FIELDS: Record<string, string> = {
  retention: "retention",
  storage: "storage",
};

const SPEC_FIELD: Record<keyof Omit<DesiredStreamConfig, "name">, string> = {
  subjects: "subjects",
  retention: "retention",
  storage: "storage",
  num_replicas: "replicas",
  max_age: "maxAge",
  max_bytes: "maxBytes",
  max_msgs: "maxMsgs",
  max_msg_size: "maxMsgSize",
  discard: "discard",
  duplicate_window: "duplicateWindow",
  max_consumers: "maxConsumers",
};

export interface ConfigDiff {
  /** Spec field names whose value differs and can be updated in place. */
  updatable: string[];
  /** Spec field names whose value differs and JetStream cannot change. */
  immutable: string[];
}

function norm(v: unknown): unknown {
  // The server reports "unlimited" as -1 or 0 depending on the field; treat both alike.
  if (typeof v === "number" && v <= 0) return -1;
  if (v === undefined || v === null) return -1;
  return v;
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const x = [...((a as string[]) ?? [])].sort();
    const y = [...((b as string[]) ?? [])].sort();
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  return norm(a) === norm(b);
}

export function diffStreamConfig(desired: DesiredStreamConfig, actual: Record<string, unknown>): ConfigDiff {
  const diff: ConfigDiff = { updatable: [], immutable: [] };
  for (const k of Object.keys(SPEC_FIELD) as (keyof typeof SPEC_FIELD)[]) {
    // An optional field the spec leaves unset is the server's to choose.
    if (desired[k] === undefined) continue;
    if (same(desired[k], actual[k])) continue;
    const specField = SPEC_FIELD[k];
    if (k in IMMUTABLE_STREAM_FIELDS) diff.immutable.push(specField);
    else diff.updatable.push(specField);
  }
  return diff;
}
