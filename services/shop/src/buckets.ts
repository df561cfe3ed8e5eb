// The KV buckets that hold the shop's state: one place that reads their settings from env and
// opens them, so every service stores its state the same way.
import { StorageType, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { traceKv, type Tracer } from "@jetmesh/mesh";

export interface BucketSettings {
  /** file survives a server restart; memory is for tests and benches. */
  storage: "file" | "memory";
  /**
   * Copies of the bucket in a JetStream cluster (1, 3 or 5). On a 3-node cluster use 3: an
   * R1 bucket loses acknowledged state when its one node goes away.
   */
  replicas: number;
}

/** Reads SHOP_KV_STORAGE and SHOP_KV_REPLICAS; problems are appended for one ConfigError. */
export function bucketSettings(env: Record<string, string | undefined>, problems: string[]): BucketSettings {
  const storage = env.SHOP_KV_STORAGE ?? "file";
  if (storage !== "file" && storage !== "memory") problems.push(`SHOP_KV_STORAGE must be file or memory, not "${storage}"`);
  const rawReplicas = env.SHOP_KV_REPLICAS ?? "1";
  const replicas = Number(rawReplicas);
  if (![1, 3, 5].includes(replicas)) problems.push(`SHOP_KV_REPLICAS must be 1, 3 or 5, not "${rawReplicas}"`);
  return { storage: storage === "memory" ? "memory" : "file", replicas: [1, 3, 5].includes(replicas) ? replicas : 1 };
}

/**
 * Creates the bucket if it is missing (history 1: state, not an audit log) and opens it;
 * with a tracer, its reads and writes are spans (traceKv).
 */
export async function openBucket(js: JetStreamClient, name: string, settings: BucketSettings, tracer?: Tracer): Promise<KV> {
  const kv = await new Kvm(js).create(name, {
    history: 1,
    storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
    replicas: settings.replicas,
  });
  return traceKv(kv, name, tracer);
}
