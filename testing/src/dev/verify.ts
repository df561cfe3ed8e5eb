// The demo's verdict: the shop's invariant checker, waiting for orders in flight to finish.
import type { NatsConnection } from "@nats-io/transport-node";
import { formatReport, verifyShop } from "@jetmesh/shop";

export async function runShopVerify(nc: NatsConnection, settleMs: number): Promise<{ ok: boolean; text: string }> {
  const report = await verifyShop(nc, { settleMs });
  const ok = report.violations.length === 0 && report.settled;
  return { ok, text: formatReport(report) + (report.settled ? "" : "\nNOT SETTLED: some orders did not reach a terminal state in time") };
}
