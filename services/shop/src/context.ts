// What a shop service's setup needs from the runtime's service shell (a subset of the
// shell's context, so the services stay testable with anything that provides it).
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { CloudEvent, Tracer } from "@jetmesh/mesh";

export interface ShopSetupContext<C> {
  config: C;
  nc: NatsConnection;
  js: JetStreamClient;
  publisher: { publish(event: CloudEvent): Promise<unknown> };
  log: Logger;
  registry: Registry;
  /** Set when tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT): KV operations become spans. */
  tracer?: Tracer | undefined;
}
