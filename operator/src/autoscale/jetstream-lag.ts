// The one LagSource: one consumer-info request per poll ($JS.API.CONSUMER.INFO) through the
// operator's JetStream admin (the same connection the reconcilers use; tests hand it their
// own). Unlike KEDA's scaler this asks the consumer's leader through the JetStream API, so a
// clustered consumer never reports a replica's stale numbers. While NATS is unreachable the
// read fails (LagUnavailable), it never reads as "no lag". It also says whether a subscriber
// process reports its circuit open (KV bucket jetmesh-circuits): that lag is no capacity problem.
import { NatsUnavailable, type JetStreamAdmin } from "../jetstream/admin.ts";
import type { ConsumerLag, LagSource } from "./types.ts";

export class JetStreamLagSource implements LagSource {
  readonly #admin: () => JetStreamAdmin | undefined;
  readonly #lastError: () => string;

  /** `admin` is undefined while NATS is unreachable; `lastError` then says why. */
  constructor(admin: () => JetStreamAdmin | undefined, lastError: () => string = () => "not connected") {
    this.#admin = admin;
    this.#lastError = lastError;
  }

  async read(stream: string, consumer: string): Promise<ConsumerLag | null> {
    const admin = this.#admin();
    if (!admin) throw new NatsUnavailable(this.#lastError());
    const c = await admin.consumerInfo(stream, consumer);
    if (!c) return null;
    const open = await admin.circuitReports(consumer);
    return {
      ...(open.length > 0
        ? {
            circuitOpen: `${open.length === 1 ? "a subscriber process reports" : `${open.length} subscriber processes report`} its circuit ${open[0]!.state === "half_open" ? "half-open" : "open"} since ${open[0]!.since}: ${open[0]!.reason}`,
          }
        : {}),
      pending: c.pending,
      ackPending: c.ackPending,
      redelivered: c.redelivered,
      ackFloorConsumerSeq: c.ackFloorConsumerSeq,
      deliveredConsumerSeq: c.deliveredConsumerSeq,
      paused: c.paused,
    };
  }
}
