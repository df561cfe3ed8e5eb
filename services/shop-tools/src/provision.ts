// Creates the shop's streams and durable consumers directly with the JetStream API, with the
// settings the operator derives from examples/ — for tests, the bench and `make dev` runs
// without the operator. Idempotent: existing streams and consumers are updated in place.
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECTS, SHOP_STREAM, SHOP_SUBJECTS, SUBSCRIPTIONS, type Subscription } from "@jetmesh/shop";

export interface ProvisionOptions {
  /** Memory storage is faster for benches; file storage (default) survives a server restart. */
  storage?: "file" | "memory";
  maxDeliver?: number;
  /** How long one delivery may take before the server redelivers it (default 30 s). */
  ackWaitMs?: number;
  /** Delays before retry n after a failed attempt (the runtime naks with them), last repeating. */
  backoffMs?: number[];
  maxAckPending?: number;
}

// As in examples/20-subscriptions.yaml (ackWait: 30s, backoff: [1s, 5s, 30s]).
export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_BACKOFF_MS = [1_000, 5_000, 30_000];

/**
 * The durable consumer of one subscription (pure, so the settings are easy to check). As the
 * operator maps it: ack_wait from ackWait, the retry schedule in metadata for the runtime, no
 * JetStream backoff (it would replace ack_wait with its first entry), and the server filtering
 * on the subscription's types.
 */
export function consumerConfig(sub: Subscription, opts: ProvisionOptions = {}): Partial<ConsumerConfig> {
  const backoff = opts.backoffMs ?? DEFAULT_BACKOFF_MS;
  const cfg: Partial<ConsumerConfig> = {
    durable_name: sub.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    max_deliver: opts.maxDeliver ?? 5,
    max_ack_pending: opts.maxAckPending ?? 1000,
    description: `JetMesh shop/${sub.service}`,
    metadata: backoff.length > 0 ? { "jetmesh.io/backoff": backoff.map((ms) => `${ms}ms`).join(",") } : {},
    // Replaces a JetStream backoff an earlier version of this function left on the consumer.
    backoff: [],
  };
  if (sub.types.length === 1) cfg.filter_subject = sub.types[0];
  else cfg.filter_subjects = [...sub.types];
  return cfg;
}

export async function provisionShop(jsm: JetStreamManager, opts: ProvisionOptions = {}): Promise<void> {
  const storage = opts.storage === "memory" ? StorageType.Memory : StorageType.File;
  await upsertStream(jsm, {
    name: SHOP_STREAM,
    subjects: SHOP_SUBJECTS,
    retention: RetentionPolicy.Limits,
    storage,
    max_age: nanos(168 * 3600_000),
    duplicate_window: nanos(120_000),
    discard: DiscardPolicy.Old,
  });
  await upsertStream(jsm, {
    name: DEAD_LETTER_STREAM,
    subjects: DEAD_LETTER_SUBJECTS,
    retention: RetentionPolicy.Limits,
    storage,
    max_age: nanos(168 * 3600_000),
    duplicate_window: nanos(120_000),
  });
  for (const sub of SUBSCRIPTIONS) {
    const cfg = consumerConfig(sub, opts);
    try {
      await jsm.consumers.info(SHOP_STREAM, sub.consumer);
      await jsm.consumers.update(SHOP_STREAM, sub.consumer, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(SHOP_STREAM, cfg);
    }
  }
}

type StreamCfg = Parameters<JetStreamManager["streams"]["add"]>[0];

async function upsertStream(jsm: JetStreamManager, cfg: StreamCfg & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
    await jsm.streams.update(cfg.name, cfg);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add(cfg);
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}
