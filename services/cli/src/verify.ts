// `jetmesh verify`: the shop's invariant checker (services/shop/src/verify.ts) against NATS.
import type { NatsConnection } from "@nats-io/transport-node";

export interface VerifyOutcome {
  ok: boolean;
  text: string;
  report: unknown;
}

export async function runVerify(_nc: NatsConnection): Promise<VerifyOutcome> {
  throw new Error("the shop invariant checker (services/shop/src/verify.ts) is not available in this build");
}
