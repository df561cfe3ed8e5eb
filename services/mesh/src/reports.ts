// What a subscriber process tells the operator through JetStream KV (docs/contracts.md), each
// under `<consumer>.<instance>`:
//   - a circuit that is not closed (bucket jetmesh-circuits): rewritten every
//     CIRCUIT_REPORT_REFRESH_MS while the circuit stays open or half-open, deleted when it closes;
//   - its recent failed deliveries (bucket jetmesh-failures): rewritten at most every
//     FAILURE_REPORT_INTERVAL_MS while deliveries fail, never deleted — the bucket's TTL ends it a
//     minute after the last failure, which is what "recent" means in the subscription's status.
// A bucket's TTL also drops the entries of a process that died. Best effort: a report that
// cannot be written is logged and written again at the next change or refresh; consuming never
// waits for it. The first process creates a bucket; an existing one is used as it is.
import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { hostname } from "node:os";
import type { Logger } from "pino";
import {
  CIRCUIT_BUCKET,
  CIRCUIT_REPORT_REFRESH_MS,
  CIRCUIT_REPORT_TTL_MS,
  FAILURE_BUCKET,
  FAILURE_REPORT_INTERVAL_MS,
  FAILURE_REPORT_TTL_MS,
  type CircuitReport,
  type DeliveryFailureReport,
} from "./consumer-contract.ts";
import { errorMessage } from "./errors.ts";

/** This process's part of the key: host (the pod's name in Kubernetes) and pid. */
function instanceId(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_=-]/g, "_");
}

/** One process's key in one bucket; writes go out in order, one at a time. */
class ReportKey {
  readonly #js: JetStreamClient;
  readonly #bucketName: string;
  readonly #ttlMs: number;
  readonly #key: string;
  readonly #log: Logger;
  #kv: Promise<KV> | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(js: JetStreamClient, bucket: string, ttlMs: number, consumer: string, log: Logger) {
    this.#js = js;
    this.#bucketName = bucket;
    this.#ttlMs = ttlMs;
    this.#key = `${consumer}.${instanceId()}`;
    this.#log = log;
  }

  #bucket(): Promise<KV> {
    // Same settings from every process: create is idempotent then, and binds to a bucket that exists.
    this.#kv ??= new Kvm(this.#js).create(this.#bucketName, { history: 1, ttl: this.#ttlMs });
    return this.#kv;
  }

  /** Writes the value (undefined: deletes the key) after the writes before it. */
  write(value: () => string | undefined): void {
    this.#writing = this.#writing.then(async () => {
      try {
        const kv = await this.#bucket();
        const v = value();
        if (v === undefined) await kv.delete(this.#key);
        else await kv.put(this.#key, v);
      } catch (err) {
        this.#kv = undefined;
        this.#log.warn({ err: errorMessage(err), bucket: this.#bucketName }, "could not report to the operator; trying again at the next change");
      }
    });
  }

  settled(): Promise<void> {
    return this.#writing;
  }
}

export class CircuitReporter {
  readonly #entry: ReportKey;
  #current: CircuitReport | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(js: JetStreamClient, consumer: string, log: Logger) {
    this.#entry = new ReportKey(js, CIRCUIT_BUCKET, CIRCUIT_REPORT_TTL_MS, consumer, log);
  }

  /** The circuit's state now: a report while open or half-open, undefined once closed. */
  report(r: CircuitReport | undefined): void {
    const had = this.#current !== undefined;
    this.#current = r;
    if (r && !this.#timer) {
      this.#timer = setInterval(() => this.#write(), CIRCUIT_REPORT_REFRESH_MS);
      this.#timer.unref();
    }
    if (!r && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    if (r || had) this.#write();
  }

  #write(): void {
    const r = this.#current;
    this.#entry.write(() => (r ? JSON.stringify(r) : undefined));
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#current) {
      // A process that stops is no longer holding anything back.
      this.#current = undefined;
      this.#write();
    }
    await this.#entry.settled();
  }
}

export class FailureReporter {
  readonly #entry: ReportKey;
  readonly #service: string;
  readonly #ttlMs: number;
  #report: DeliveryFailureReport | undefined;
  /** When the last write went out (ms); a report older than the TTL has expired on the server. */
  #writtenAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(js: JetStreamClient, consumer: string, service: string, log: Logger, ttlMs = FAILURE_REPORT_TTL_MS) {
    this.#entry = new ReportKey(js, FAILURE_BUCKET, ttlMs, consumer, log);
    this.#service = service;
    this.#ttlMs = ttlMs;
  }

  /** A delivery failed: handed back for a retry, or dead-lettered (with the dead letter's reason). */
  failed(outcome: "retried" | "dead_lettered", error: string, reason?: string): void {
    const now = Date.now();
    const time = new Date(now).toISOString();
    // Counts start again once the last report has expired: they describe the current run of failures.
    if (!this.#report || (!this.#timer && now - this.#writtenAt > this.#ttlMs))
      this.#report = { service: this.#service, since: time, retried: 0, deadLettered: 0, last: { time, outcome, error } };
    const r = this.#report;
    if (outcome === "retried") r.retried++;
    else r.deadLettered++;
    r.last = { time, outcome, ...(reason === undefined ? {} : { reason }), error: error.length > 500 ? error.slice(0, 500) + "…" : error };
    if (this.#timer) return;
    const wait = Math.max(0, this.#writtenAt + FAILURE_REPORT_INTERVAL_MS - now);
    this.#timer = setTimeout(() => this.#flush(), wait);
    this.#timer.unref();
  }

  #flush(): void {
    this.#timer = undefined;
    this.#writtenAt = Date.now();
    const snapshot = JSON.stringify(this.#report);
    this.#entry.write(() => snapshot);
  }

  /** Writes what is pending (the entry stays until it expires: the failures were real). */
  async stop(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#flush();
    }
    await this.#entry.settled();
  }
}
