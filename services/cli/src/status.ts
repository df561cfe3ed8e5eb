// `jetmesh status`: streams and subscriptions as their custom resources' status reports them.
import * as k8s from "@kubernetes/client-node";
import { renderTable } from "./table.ts";

const GROUP = "jetmesh.io";
const VERSION = "v1alpha1";

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

export interface StreamResource {
  metadata?: { name?: string; namespace?: string };
  spec?: { subjects?: string[] };
  status?: { conditions?: Condition[]; streamName?: string; messages?: number; bytes?: number; lastSequence?: number };
}

export interface SubscriptionResource {
  metadata?: { name?: string; namespace?: string };
  spec?: { stream?: string; subscriber?: { deployment?: string } };
  status?: {
    conditions?: Condition[];
    consumerName?: string;
    lag?: { pending?: number; ackPending?: number; redelivered?: number };
    replicas?: { current?: number; desired?: number };
    lastScaleTime?: string;
    lastScaleReason?: string;
  };
}

export interface StatusReport {
  streams: StreamResource[];
  subscriptions: SubscriptionResource[];
}

/** Reads every EventStream and EventSubscription (one namespace or all). */
export async function readStatus(kc: k8s.KubeConfig, namespace: string | undefined): Promise<StatusReport> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = async (plural: string): Promise<unknown[]> => {
    const res = (
      namespace
        ? await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
        : await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
    ) as { items?: unknown[] };
    return res.items ?? [];
  };
  const [streams, subscriptions] = await Promise.all([list("eventstreams"), list("eventsubscriptions")]);
  const byKey = (a: { metadata?: { namespace?: string; name?: string } }, b: { metadata?: { namespace?: string; name?: string } }) =>
    `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`);
  return {
    streams: (streams as StreamResource[]).sort(byKey),
    subscriptions: (subscriptions as SubscriptionResource[]).sort(byKey),
  };
}

function ready(conditions: Condition[] | undefined): { ready: string; reason: string } {
  const c = conditions?.find((x) => x.type === "Ready");
  if (!c) return { ready: "Unknown", reason: "NotReconciled" };
  return { ready: c.status === "True" ? "True" : c.status === "False" ? "False" : "Unknown", reason: c.reason ?? "" };
}

const num = (n: number | undefined) => (n === undefined ? "-" : String(n));

/** "3m ago" style age of an RFC 3339 time relative to `now`. */
export function age(time: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(time)) / 1000));
  if (!Number.isFinite(s)) return "?";
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

/** The two tables `jetmesh status` prints, then the last scale decisions and what is not ready. */
export function renderStatus(report: StatusReport, now = new Date()): string {
  const streamRows = report.streams.map((s) => {
    const r = ready(s.status?.conditions);
    return [
      s.metadata?.namespace ?? "",
      s.metadata?.name ?? "",
      r.ready,
      r.reason,
      s.status?.streamName ?? "-",
      num(s.status?.messages),
      num(s.status?.lastSequence),
    ];
  });
  const subRows = report.subscriptions.map((s) => {
    const r = ready(s.status?.conditions);
    const lag = s.status?.lag;
    const reps = s.status?.replicas;
    return [
      s.metadata?.namespace ?? "",
      s.metadata?.name ?? "",
      s.spec?.stream ?? "",
      r.ready,
      r.reason,
      num(lag?.pending),
      num(lag?.ackPending),
      num(lag?.redelivered),
      `${num(reps?.current)}/${num(reps?.desired)}`,
      s.spec?.subscriber?.deployment ?? "-",
    ];
  });
  const out: string[] = [];
  out.push("STREAMS");
  out.push(streamRows.length ? renderTable(["NAMESPACE", "NAME", "READY", "REASON", "JETSTREAM", "MESSAGES", "LAST-SEQ"], streamRows) : "(none)");
  out.push("");
  out.push("SUBSCRIPTIONS");
  out.push(
    subRows.length
      ? renderTable(["NAMESPACE", "NAME", "STREAM", "READY", "REASON", "PENDING", "ACK-PENDING", "REDELIVERED", "REPLICAS", "DEPLOYMENT"], subRows)
      : "(none)",
  );
  const scaled = report.subscriptions.filter((s) => s.status?.lastScaleTime);
  if (scaled.length) {
    out.push("");
    out.push("LAST SCALE");
    for (const s of scaled) {
      const st = s.status;
      out.push(`${s.metadata?.namespace}/${s.metadata?.name}: ${age(st?.lastScaleTime as string, now)}${st?.lastScaleReason ? `: ${st.lastScaleReason}` : ""}`);
    }
  }
  const failing = report.subscriptions
    .map((x) => ({ x, c: x.status?.conditions?.find((c) => c.type === "DeliveryFailing" && c.status === "True") }))
    .filter((e) => e.c?.message);
  if (failing.length) {
    out.push("");
    out.push("FAILING DELIVERIES (last minute)");
    for (const { x, c } of failing) out.push(`${x.metadata?.namespace}/${x.metadata?.name}: ${c?.message}`);
  }
  const notReady = [...report.streams, ...report.subscriptions]
    .map((x) => ({ x, c: x.status?.conditions?.find((c) => c.type === "Ready" && c.status === "False") }))
    .filter((e) => e.c?.message);
  if (notReady.length) {
    out.push("");
    for (const { x, c } of notReady) out.push(`${x.metadata?.namespace}/${x.metadata?.name}: ${c?.reason}: ${c?.message}`);
  }
  return out.join("\n");
}
