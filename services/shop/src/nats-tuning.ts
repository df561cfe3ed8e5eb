// Local workaround until the runtime's service shell connects with `noAsyncTraces: true`:
// nats.js otherwise builds two Error objects (stack captures) for every request — every KV
// read and write, every JetStream publish — which cost ~20 % of a shop service's CPU in the
// saga bench. The option is read on every request, so setting it on the live connection works.
import type { NatsConnection } from "@nats-io/transport-node";

export function disableAsyncTraces(nc: NatsConnection): void {
  const opts = (nc as unknown as { options?: { noAsyncTraces?: boolean } }).options;
  if (opts) opts.noAsyncTraces = true;
}
