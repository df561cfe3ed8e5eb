// `jetmesh shop verify`: the demo shop's invariant checker (services/shop-tools/src/verify.ts) against
// NATS. It knows the shop's KV buckets and events, so it lives under `shop`, not at the top.
import type { NatsConnection } from "@nats-io/transport-node";
import { formatReport, verifyShop, type SettleProgress, type VerifyOptions, type VerifyReport } from "@jetmesh/shop-tools";

export interface VerifyOutcome {
  ok: boolean;
  text: string;
  report: VerifyReport;
}

/**
 * Violations fail the check — including orders stuck past the settle time or `stuckAfterMs`;
 * orders merely in flight are reported, not failed. `progress` hears about the settle wait.
 */
export async function runVerify(nc: NatsConnection, opts: Pick<VerifyOptions, "settleMs" | "stuckAfterMs" | "onProgress"> = {}): Promise<VerifyOutcome> {
  const report = await verifyShop(nc, opts);
  return { ok: report.violations.length === 0, text: formatReport(report), report };
}

/** Pure: one progress line for stderr while `--settle` waits. */
export function progressLine(p: SettleProgress): string {
  const waited = Math.floor(p.waitedMs / 1000);
  return `waiting for the shop to settle (${waited}s of ${Math.round(p.settleMs / 1000)}s): ${p.inFlight} order${p.inFlight === 1 ? "" : "s"} in flight, ${p.backlog} event${p.backlog === 1 ? "" : "s"} not yet processed`;
}
