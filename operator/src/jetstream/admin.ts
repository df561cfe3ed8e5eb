// The JetStream operations the reconcilers need, behind a small interface so the reconcilers do
// not see nats.js, and errors arrive classified: not found, refused by JetStream (the request
// was understood and rejected: a configuration problem), or unavailable (NATS down, timeouts).
import { JetStreamApiError, type ConsumerConfig, type ConsumerInfo, type JetStreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import { PAUSED_UNTIL, type DesiredConsumerConfig } from "./consumer-config.ts";
import { CIRCUIT_BUCKET, FAILURE_BUCKET, type CircuitReport, type DeliveryFailureReport } from "@jetmesh/mesh/consumer-contract";
import type { DesiredStreamConfig } from "./stream-config.ts";
import type { MsgHdrs } from "@nats-io/transport-node";

export interface StreamState {
  config: Record<string, unknown>;
  messages: number;
  bytes: number;
  lastSequence: number;
  consumers: number;
}

export interface ConsumerState {
  config: Record<string, unknown>;
  pending: number;
  ackPending: number;
  redelivered: number;
  deliveredStreamSeq: number;
  deliveredConsumerSeq: number;
  ackFloorConsumerSeq: number;
  /** Paused through the pause API (or created with pause_until), until a time not yet reached. */
  paused: boolean;
}

export interface JetStreamAdmin {
  streamInfo(name: string): Promise<StreamState | undefined>;
  addStream(cfg: DesiredStreamConfig): Promise<StreamState>;
  updateStream(cfg: DesiredStreamConfig): Promise<StreamState>;
  deleteStream(name: string): Promise<void>;
  consumerInfo(stream: string, name: string): Promise<ConsumerState | undefined>;
  addConsumer(stream: string, cfg: DesiredConsumerConfig): Promise<ConsumerState>;
  updateConsumer(stream: string, cfg: DesiredConsumerConfig): Promise<ConsumerState>;
  deleteConsumer(stream: string, name: string): Promise<void>;
  /** Pauses the consumer until resumed (PAUSED_UNTIL), or resumes it; returns the state after. */
  setPaused(stream: string, name: string, paused: boolean): Promise<ConsumerState>;
  /** A stored message by stream sequence; undefined when it is gone (removed, aged out). */
  getMessage(stream: string, seq: number): Promise<StoredEvent | undefined>;
  /**
   * The circuit reports the subscriber processes of `consumer` keep in the KV bucket
   * jetmesh-circuits (one per process whose circuit is not closed); [] when none or no bucket.
   */
  circuitReports(consumer: string): Promise<CircuitReport[]>;
  /**
   * The recent failed deliveries the subscriber processes of `consumer` report in the KV bucket
   * jetmesh-failures (one per process that failed a delivery within the bucket's TTL); [] when none.
   */
  failureReports(consumer: string): Promise<DeliveryFailureReport[]>;
  /** JetStream publish with a dedupe id (Nats-Msg-Id); duplicate when the stream had it already. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, msgID: string): Promise<{ duplicate: boolean }>;
}

export interface StoredEvent {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

/** JetStream understood the request and said no (bad or conflicting configuration). */
export class JetStreamRefused extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.name = "JetStreamRefused";
    this.code = code;
  }
}

/** NATS could not be asked (disconnected, timed out): retry later. */
export class NatsUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NatsUnavailable";
  }
}

export const STREAM_NOT_FOUND = 10059;
/** JSStreamSubjectOverlapErr: the subjects overlap with an existing stream's. */
export const SUBJECTS_OVERLAP = 10065;
/** JSMaximumConsumersLimitErr: the stream holds its max_consumers (nats-server 2.15's default is 1,000). */
export const MAX_CONSUMERS_REACHED = 10026;
const NO_MESSAGE_FOUND = 10037;
const CONSUMER_NOT_FOUND = 10014;
/** How long one listing of a report bucket's keys serves every subscription's reconcile. */
const REPORT_LIST_MS = 1000;

function classify(err: unknown): Error {
  if (err instanceof JetStreamApiError) return new JetStreamRefused(err.message, err.code);
  const msg = err instanceof Error ? err.message : String(err);
  // Argument checks inside nats.js (e.g. a feature the server lacks) are configuration problems.
  if (err instanceof Error && /requires server|invalid|cannot contain/i.test(msg) && !/timeout/i.test(msg)) {
    return new JetStreamRefused(msg, 0);
  }
  return new NatsUnavailable(msg);
}

function isNotFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && (err.code === code || err.status === 404);
}

function streamState(si: StreamInfo): StreamState {
  return {
    config: si.config as unknown as Record<string, unknown>,
    messages: si.state.messages,
    bytes: si.state.bytes,
    lastSequence: si.state.last_seq,
    consumers: si.state.consumer_count,
  };
}

function consumerState(ci: ConsumerInfo): ConsumerState {
  return {
    config: ci.config as unknown as Record<string, unknown>,
    pending: ci.num_pending,
    ackPending: ci.num_ack_pending,
    redelivered: ci.num_redelivered,
    deliveredStreamSeq: ci.delivered.stream_seq,
    deliveredConsumerSeq: ci.delivered.consumer_seq,
    ackFloorConsumerSeq: ci.ack_floor.consumer_seq,
    paused: ci.paused === true,
  };
}

export function natsJetStreamAdmin(jsm: JetStreamManager): JetStreamAdmin {
  // Which keys of a report bucket exist (STREAM.INFO with a subjects filter), asked once per
  // REPORT_LIST_MS for every subscription (reconciles of many subscriptions share it), then each
  // entry of the consumer's processes (STREAM.MSG.GET last_by_subj): requests the operator may
  // make anyway, no consumer needed. History 1 keeps the latest entry per process; the bucket's
  // TTL drops stale ones.
  const listings = new Map<string, { at: number; subjects: Promise<string[]> }>();
  function listReports(bucket: string): Promise<string[]> {
    const cached = listings.get(bucket);
    if (cached && Date.now() - cached.at < REPORT_LIST_MS) return cached.subjects;
    const subjects = jsm.streams.info(`KV_${bucket}`, { subjects_filter: `$KV.${bucket}.>` }).then(
      (info) => Object.keys(info.state.subjects ?? {}),
      (err: unknown) => {
        listings.delete(bucket);
        if (isNotFound(err, STREAM_NOT_FOUND)) return [];
        throw classify(err);
      },
    );
    listings.set(bucket, { at: Date.now(), subjects });
    return subjects;
  }
  async function reports<T>(bucket: string, consumer: string): Promise<T[]> {
    const prefix = `$KV.${bucket}.${consumer}.`;
    const mine = (await listReports(bucket)).filter((s) => s.startsWith(prefix) && !s.slice(prefix.length).includes("."));
    const out: T[] = [];
    for (const subject of mine.slice(0, 64)) {
      let m;
      try {
        m = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: subject });
      } catch (err) {
        if (isNotFound(err, NO_MESSAGE_FOUND) || isNotFound(err, STREAM_NOT_FOUND)) continue;
        throw classify(err);
      }
      // A delete or purge marker: that process has nothing to report any more.
      if (!m || m.header?.get("KV-Operation")) continue;
      try {
        out.push(m.json<T>());
      } catch {
        // not a report: ignored
      }
    }
    return out;
  }
  return {
    async streamInfo(name) {
      try {
        return streamState(await jsm.streams.info(name));
      } catch (err) {
        if (isNotFound(err, STREAM_NOT_FOUND)) return undefined;
        throw classify(err);
      }
    },
    async addStream(cfg) {
      return streamState(await jsm.streams.add(cfg as unknown as StreamConfig).catch((e) => Promise.reject(classify(e))));
    },
    async updateStream(cfg) {
      const { name, ...rest } = cfg;
      return streamState(await jsm.streams.update(name, rest as unknown as StreamConfig).catch((e) => Promise.reject(classify(e))));
    },
    async deleteStream(name) {
      try {
        await jsm.streams.delete(name);
      } catch (err) {
        if (!isNotFound(err, STREAM_NOT_FOUND)) throw classify(err);
      }
    },
    async consumerInfo(stream, name) {
      try {
        return consumerState(await jsm.consumers.info(stream, name));
      } catch (err) {
        if (isNotFound(err, CONSUMER_NOT_FOUND) || isNotFound(err, STREAM_NOT_FOUND)) return undefined;
        throw classify(err);
      }
    },
    async addConsumer(stream, cfg) {
      return consumerState(await jsm.consumers.add(stream, cfg as unknown as ConsumerConfig).catch((e) => Promise.reject(classify(e))));
    },
    async updateConsumer(stream, cfg) {
      // Explicit clears (nats.js merges the update into the current config), so a removed filter
      // is removed on the server too, and so is a JetStream backoff, which JetMesh never sets
      // (it would override ack_wait; consumer-config.ts).
      const update: Record<string, unknown> = {
        ack_wait: cfg.ack_wait,
        max_deliver: cfg.max_deliver,
        max_ack_pending: cfg.max_ack_pending,
        backoff: [],
        description: cfg.description,
        metadata: cfg.metadata,
        filter_subject: cfg.filter_subject ?? "",
        filter_subjects: cfg.filter_subjects ?? [],
      };
      return consumerState(await jsm.consumers.update(stream, cfg.durable_name, update).catch((e) => Promise.reject(classify(e))));
    },
    async setPaused(stream, name, paused) {
      try {
        if (paused) await jsm.consumers.pause(stream, name, new Date(PAUSED_UNTIL));
        else await jsm.consumers.resume(stream, name);
        return consumerState(await jsm.consumers.info(stream, name));
      } catch (err) {
        throw classify(err);
      }
    },
    async getMessage(stream, seq) {
      try {
        const m = await jsm.streams.getMessage(stream, { seq });
        return m ? { subject: m.subject, data: m.data, headers: m.header } : undefined;
      } catch (err) {
        if (isNotFound(err, NO_MESSAGE_FOUND) || isNotFound(err, STREAM_NOT_FOUND)) return undefined;
        throw classify(err);
      }
    },
    circuitReports(consumer) {
      return reports<CircuitReport>(CIRCUIT_BUCKET, consumer);
    },
    failureReports(consumer) {
      return reports<DeliveryFailureReport>(FAILURE_BUCKET, consumer);
    },
    async publish(subject, data, headers, msgID) {
      try {
        const ack = await jsm.jetstream().publish(subject, data, { headers, msgID });
        return { duplicate: ack.duplicate };
      } catch (err) {
        throw classify(err);
      }
    },
    async deleteConsumer(stream, name) {
      try {
        await jsm.consumers.delete(stream, name);
      } catch (err) {
        if (!isNotFound(err, CONSUMER_NOT_FOUND) && !isNotFound(err, STREAM_NOT_FOUND)) throw classify(err);
      }
    },
  };
}
