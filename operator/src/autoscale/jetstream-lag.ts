// LagSource on JetStream: one consumer-info request per poll ($JS.API.CONSUMER.INFO), on the
// operator's existing connection. Unlike KEDA's scaler this asks the consumer's leader
// through the JetStream API, so a clustered consumer never reports a replica's stale numbers.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import type { ConsumerLag, LagSource } from "./types.ts";

export class JetStreamLagSource implements LagSource {
  readonly #jsm: JetStreamManager;

  constructor(jsm: JetStreamManager) {
    this.#jsm = jsm;
  }

  async read(stream: string, consumer: string): Promise<ConsumerLag | null> {
    try {
      const ci = await this.#jsm.consumers.info(stream, consumer);
      return {
        pending: ci.num_pending,
        ackPending: ci.num_ack_pending,
        redelivered: ci.num_redelivered,
        ackFloorConsumerSeq: ci.ack_floor.consumer_seq,
        deliveredConsumerSeq: ci.delivered.consumer_seq,
        paused: ci.paused === true,
      };
    } catch (err) {
      if (err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.ConsumerNotFound || err.code === JetStreamApiCodes.StreamNotFound)) {
        return null;
      }
      throw err;
    }
  }
}
