// `jetmesh verify`: the shop's invariant checker (services/shop-tools/src/verify.ts) against NATS.
import type { NatsConnection } from "@nats-io/transport-node";
import { formatReport, verifyShop, type VerifyOptions, type VerifyReport } from "@jetmesh/shop-tools";

export interface VerifyOutcome {
  ok: boolean;
  text: string;
  report: VerifyReport;
}

/**
 * Violations fail the check — including orders stuck past the settle time or `stuckAfterMs`;
 * orders merely in flight are reported, not failed.
 */
export async function runVerify(nc: NatsConnection, opts: Pick<VerifyOptions, "settleMs" | "stuckAfterMs"> = {}): Promise<VerifyOutcome> {
  const report = await verifyShop(nc, opts);
  return { ok: report.violations.length === 0, text: formatReport(report), report };
}
