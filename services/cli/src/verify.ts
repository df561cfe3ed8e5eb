// `jetmesh verify`: the shop's invariant checker (services/shop/src/verify.ts) against NATS.
import type { NatsConnection } from "@nats-io/transport-node";
import { formatReport, verifyShop, type VerifyReport } from "@jetmesh/shop";

export interface VerifyOutcome {
  ok: boolean;
  text: string;
  report: VerifyReport;
}

/** Violations fail the check; orders still in flight after `settleMs` are reported, not failed. */
export async function runVerify(nc: NatsConnection, settleMs = 0): Promise<VerifyOutcome> {
  const report = await verifyShop(nc, { settleMs });
  return { ok: report.violations.length === 0, text: formatReport(report), report };
}
