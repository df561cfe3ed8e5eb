// The chart's `helm test`: proves an install works end to end, from inside the cluster. It waits
// until every EventStream and EventSubscription of the release is Ready for its current spec,
// then round-trips one CloudEvent through a stream of the release: published in binary content
// mode with a Nats-Msg-Id, acknowledged by JetStream, read back by sequence and decoded to the
// same id, type, source and data; then the probe message is deleted again (best effort).
// selftest-main.ts runs it as the test Pod's process; tests run it against a real cluster.
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { decodeMessage, encodeBinary, newEvent, toMsgHdrs } from "@jetmesh/mesh";
import type { EventStream, EventSubscription } from "./api/types.ts";
import { EVENTSTREAMS, EVENTSUBSCRIPTIONS } from "./controller/context.ts";
import { connectionOptions, type NatsSettings } from "./jetstream/connection.ts";
import { jetStreamName } from "./api/names.ts";
import type { KubeRest } from "./kube/rest.ts";

export interface SelfTestOptions {
  rest: KubeRest;
  nats: NatsSettings;
  namespace: string;
  /** Only resources with this label selector (the chart: app.kubernetes.io/instance=<release>). */
  labelSelector: string;
  /** The EventStream the probe event goes through; empty: the first one found. */
  stream?: string;
  timeoutMs: number;
  pollMs?: number;
  log: (line: string) => void;
}

type Resource = EventStream | EventSubscription;

/** Why a resource is not Ready for its current spec yet; undefined when it is. */
export function notReady(o: Resource): string | undefined {
  const ready = o.status?.conditions?.find((c) => c.type === "Ready");
  if (!ready) return "no Ready condition yet";
  if (ready.status !== "True") return `Ready=${ready.status} ${ready.reason}: ${ready.message}`;
  if (o.status?.observedGeneration !== o.metadata.generation)
    return `observedGeneration ${o.status?.observedGeneration ?? "unset"} behind generation ${o.metadata.generation ?? "?"}`;
  return undefined;
}

/**
 * A subject the stream captures, for the probe event: its first subject with `>` replaced by
 * `jetmesh.selftest.v1` and each `*` by `selftest`, so no subscriber's type filter for real
 * events matches it.
 */
export function probeSubject(subjects: readonly string[]): string {
  const first = subjects[0];
  if (!first) throw new Error("the stream captures no subject");
  return first
    .split(".")
    .map((t) => (t === ">" ? "jetmesh.selftest.v1" : t === "*" ? "selftest" : t))
    .join(".");
}

async function waitReady(o: SelfTestOptions): Promise<EventStream[]> {
  const query = `?labelSelector=${encodeURIComponent(o.labelSelector)}`;
  const deadline = Date.now() + o.timeoutMs;
  let pending: string[] = [];
  for (;;) {
    const streams = (await o.rest.list<EventStream>(EVENTSTREAMS, o.namespace, query)).items;
    const subscriptions = (await o.rest.list<EventSubscription>(EVENTSUBSCRIPTIONS, o.namespace, query)).items;
    pending = [
      ...streams.flatMap((s) => (notReady(s) ? [`EventStream ${s.metadata.name}: ${notReady(s)}`] : [])),
      ...subscriptions.flatMap((s) => (notReady(s) ? [`EventSubscription ${s.metadata.name}: ${notReady(s)}`] : [])),
    ];
    if (streams.length === 0) pending.push(`no EventStream with ${o.labelSelector} in namespace ${o.namespace}`);
    if (pending.length === 0) {
      o.log(`ready: ${streams.length} EventStreams, ${subscriptions.length} EventSubscriptions in ${o.namespace}`);
      return streams;
    }
    if (Date.now() >= deadline) throw new Error(`not Ready after ${Math.round(o.timeoutMs / 1000)} s:\n  ${pending.join("\n  ")}`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 2000));
  }
}

export async function runSelfTest(o: SelfTestOptions): Promise<{ stream: string; subject: string; sequence: number }> {
  const streams = await waitReady(o);
  const target = o.stream ? streams.find((s) => s.metadata.name === o.stream) : streams[0];
  if (!target) throw new Error(`EventStream ${o.stream ?? ""} not found among ${streams.map((s) => s.metadata.name).join(", ")}`);
  const stream = target.status?.streamName ?? jetStreamName(o.namespace, target.metadata.name);
  const subject = probeSubject(target.spec.subjects);

  const nc = await connect({ ...connectionOptions(o.nats), name: "jetmesh-selftest", maxReconnectAttempts: 0 });
  try {
    const event = newEvent({ type: subject, source: "jetmesh/helm-test", data: { probe: true, at: new Date().toISOString() } });
    const wire = encodeBinary(event);
    const ack = await jetstream(nc, { timeout: o.nats.requestTimeoutMs }).publish(wire.subject, wire.payload, {
      headers: toMsgHdrs(wire.headers),
      msgID: event.id,
      expect: { streamName: stream },
    });
    const jsm = await jetstreamManager(nc, { timeout: o.nats.requestTimeoutMs });
    const stored = await jsm.streams.getMessage(stream, { seq: ack.seq });
    if (!stored) throw new Error(`stream ${stream} has no message at sequence ${ack.seq}, which it acknowledged`);
    const back = decodeMessage({ subject: stored.subject, headers: stored.header, data: stored.data });
    const same = back.id === event.id && back.type === event.type && back.source === event.source && JSON.stringify(back.data) === JSON.stringify(event.data);
    if (!same) throw new Error(`the CloudEvent read back differs: sent ${JSON.stringify(event)}, got ${JSON.stringify(back)}`);
    o.log(`round trip: CloudEvent ${event.id} (${subject}) stored in ${stream} at sequence ${ack.seq} and read back intact`);
    await jsm.streams
      .deleteMessage(stream, ack.seq, false)
      .catch((err: unknown) => o.log(`note: could not delete the probe message: ${(err as Error).message}`));
    return { stream, subject, sequence: ack.seq };
  } finally {
    await nc.close();
  }
}
