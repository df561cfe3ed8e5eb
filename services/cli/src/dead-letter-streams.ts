// Which JetStream streams hold whose dead letters, from the custom resources: an
// EventSubscription's spec.deadLetter.stream names an EventStream in its namespace, whose
// JetStream stream (status.streamName, else "<namespace>_<name>") receives the dead letters on
// "jetmesh.dlq.<namespace>.<subscription>" (docs/runtime.md, "Dead letters").
import * as k8s from "@kubernetes/client-node";
import { deadLetterSubject } from "@jetmesh/mesh/consumer-contract";
import type { StreamResource } from "./status.ts";

const GROUP = "jetmesh.io";
const VERSION = "v1alpha1";

export interface DeadLetterSubscription {
  metadata?: { name?: string; namespace?: string };
  spec?: { deadLetter?: { stream?: string } };
}

/** One subscription's dead letters: where they are and on which subject. */
export interface DeadLetterTarget {
  namespace: string;
  subscription: string;
  /** The EventStream named by spec.deadLetter.stream. */
  eventStream: string;
  /** Its JetStream stream. */
  stream: string;
  subject: string;
}

/** Pure: the dead-letter targets of these subscriptions (those without spec.deadLetter have none). */
export function deadLetterTargets(subscriptions: DeadLetterSubscription[], streams: StreamResource[]): DeadLetterTarget[] {
  const jetStreamName = new Map(streams.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s.status?.streamName]));
  const out: DeadLetterTarget[] = [];
  for (const s of subscriptions) {
    const namespace = s.metadata?.namespace ?? "";
    const subscription = s.metadata?.name ?? "";
    const eventStream = s.spec?.deadLetter?.stream;
    if (!eventStream || !namespace || !subscription) continue;
    const stream = jetStreamName.get(`${namespace}/${eventStream}`) || `${namespace}_${eventStream}`;
    out.push({ namespace, subscription, eventStream, stream, subject: deadLetterSubject(namespace, subscription) });
  }
  return out.sort((a, b) => `${a.namespace}/${a.subscription}`.localeCompare(`${b.namespace}/${b.subscription}`));
}

/** Pure: the targets grouped by JetStream stream, in first-seen order. */
export function byStream(targets: DeadLetterTarget[]): Map<string, DeadLetterTarget[]> {
  const m = new Map<string, DeadLetterTarget[]>();
  for (const t of targets) m.set(t.stream, [...(m.get(t.stream) ?? []), t]);
  return m;
}

/** Reads the EventSubscriptions (one, a namespace's, or every namespace's) and their dead-letter EventStreams. */
export async function readDeadLetterTargets(
  kc: k8s.KubeConfig,
  scope: { namespace: string | undefined; subscription?: string },
): Promise<{ subscriptions: DeadLetterSubscription[]; targets: DeadLetterTarget[] }> {
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = async (plural: string, namespace: string | undefined): Promise<unknown[]> => {
    const res = (
      namespace
        ? await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
        : await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
    ) as { items?: unknown[] };
    return res.items ?? [];
  };
  let subscriptions: DeadLetterSubscription[];
  if (scope.subscription && scope.namespace) {
    const one = (await api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: scope.namespace,
      plural: "eventsubscriptions",
      name: scope.subscription,
    })) as DeadLetterSubscription;
    subscriptions = [one];
  } else {
    subscriptions = (await list("eventsubscriptions", scope.namespace)) as DeadLetterSubscription[];
  }
  const streams = (await list("eventstreams", scope.namespace)) as StreamResource[];
  return { subscriptions, targets: deadLetterTargets(subscriptions, streams) };
}
