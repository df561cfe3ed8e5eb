// `jetmesh dlq`: inspect and replay the dead-letter stream.
//
// A dead letter is the original CloudEvent (binary mode: ce-* headers + data) republished by
// the runtime to jetmesh.dlq.<ns>.<subscription> with headers saying why (docs/runtime.md).
// Replay republishes the original event to its original subject as a fresh delivery: a new
// Nats-Msg-Id (the original's would be dropped by JetStream's duplicate window) derived from
// the dead letter's stream and sequence — so replaying the same entry twice inside the window
// still publishes once — while ce-id stays the same, so handlers' idempotency keys still hold.
// After the publish is acknowledged the dead letter is deleted (unless --keep), so
// `dlq list` shows what still needs attention; a failed publish deletes nothing.
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";

/** Header names the runtime writes on a dead letter (services/mesh consumer.ts DLQ_HEADERS, lower-cased). */
export const DLQ_HEADERS = {
  originalSubject: ["jetmesh-dlq-original-subject"],
  reason: ["jetmesh-dlq-reason"],
  deliveries: ["jetmesh-dlq-delivery-count"],
  error: ["jetmesh-dlq-error"],
  consumer: ["jetmesh-dlq-consumer"],
  time: ["jetmesh-dlq-time"],
} as const;

export const REPLAYED_FROM_HEADER = "jetmesh-replayed-from";
export const REPLAYED_AT_HEADER = "jetmesh-replayed-at";

/** Headers as a plain list (lower-case names), in the order the message carried them. */
export type HeaderList = [string, string][];

export function headerList(h: MsgHdrs | undefined): HeaderList {
  const out: HeaderList = [];
  if (!h) return out;
  for (const k of h.keys()) for (const v of h.values(k)) out.push([k.toLowerCase(), v]);
  return out;
}

function pick(list: HeaderList, names: readonly string[]): string | undefined {
  for (const n of names) {
    const hit = list.find(([k]) => k === n);
    if (hit) return hit[1];
  }
  return undefined;
}

export interface DeadLetterSummary {
  seq: number;
  time: string;
  subject: string;
  originalSubject: string;
  reason: string;
  deliveries: string;
  error: string;
  ceId: string;
  ceType: string;
}

/**
 * The CloudEvent's id and type: from `ce-*` headers (binary mode) or, for a structured-mode
 * event (`Content-Type: application/cloudevents+json`), from the JSON envelope in the data.
 */
function eventIdentity(h: HeaderList, data: Uint8Array | undefined): { id?: string; type?: string } {
  const id = pick(h, ["ce-id"]);
  const type = pick(h, ["ce-type"]);
  if (id || !data || !(pick(h, ["content-type"]) ?? "").startsWith("application/cloudevents")) return { id, type };
  try {
    const env = JSON.parse(new TextDecoder().decode(data)) as { id?: unknown; type?: unknown };
    return { id: typeof env.id === "string" ? env.id : undefined, type: typeof env.type === "string" ? env.type : undefined };
  } catch {
    return {};
  }
}

export function summarize(seq: number, time: string, subject: string, h: HeaderList, data?: Uint8Array): DeadLetterSummary {
  const ev = eventIdentity(h, data);
  const ceType = ev.type ?? "";
  return {
    seq,
    time,
    subject,
    originalSubject: pick(h, DLQ_HEADERS.originalSubject) ?? ceType,
    reason: pick(h, DLQ_HEADERS.reason) ?? "",
    deliveries: pick(h, DLQ_HEADERS.deliveries) ?? "",
    error: pick(h, DLQ_HEADERS.error) ?? "",
    ceId: ev.id ?? "",
    ceType,
  };
}

export interface ReplayMessage {
  subject: string;
  msgId: string;
  headers: HeaderList;
}

/**
 * What to publish for a replay of dead letter `seq` of `stream`: the CloudEvent's own headers
 * (ce-*, content-type) without the dead-letter diagnostics, marked as replayed.
 */
export function replayMessage(stream: string, seq: number, h: HeaderList, now: Date, data?: Uint8Array): ReplayMessage {
  const s = summarize(seq, "", "", h, data);
  if (!s.ceId) throw new Error(`dead letter ${seq} carries no CloudEvent id (no ce-id header, no structured envelope): cannot replay`);
  if (!s.originalSubject) throw new Error(`dead letter ${seq} names no original subject (no ce-type): cannot replay`);
  const headers: HeaderList = h.filter(([k]) => k.startsWith("ce-") || k === "content-type");
  headers.push([REPLAYED_FROM_HEADER, `${stream}/${seq}`], [REPLAYED_AT_HEADER, now.toISOString()]);
  return { subject: s.originalSubject, msgId: `${s.ceId}:replay:${stream}:${seq}`, headers };
}

/**
 * The dead letters, oldest first, at most `limit`: read with an ordered consumer (one pass,
 * no per-sequence requests, skipping the gaps replayed entries leave behind). With `subjects`,
 * only those on them (one subscription's, when several share a dead-letter stream).
 */
export async function listDeadLetters(nc: NatsConnection, stream: string, limit: number, subjects?: string[]): Promise<DeadLetterSummary[]> {
  const jsm = await jetstreamManager(nc);
  const out: DeadLetterSummary[] = [];
  let count: number;
  if (subjects) {
    if (!subjects.length) return out;
    // Per-subject counts (nats-server answers a subjects filter with them), so the read below
    // knows when it has them all instead of waiting for an empty fetch.
    count = 0;
    for (const filter of subjects) {
      const info = await jsm.streams.info(stream, { subjects_filter: filter });
      for (const n of Object.values(info.state.subjects ?? {})) count += n;
    }
  } else {
    count = (await jsm.streams.info(stream)).state.messages;
  }
  if (count === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All, ...(subjects ? { filter_subjects: subjects } : {}) });
  const want = Math.min(limit, count);
  while (out.length < want) {
    const batch = await consumer.fetch({ max_messages: Math.min(want - out.length, 256), expires: 2_000 });
    let got = 0;
    let last = false;
    for await (const m of batch) {
      got++;
      out.push(summarize(m.seq, m.time.toISOString(), m.subject, headerList(m.headers), m.data));
      if (m.info.pending === 0) last = true;
    }
    if (got === 0 || last) break;
  }
  return out;
}

export async function getMessage(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(stream, { seq });
  } catch (err) {
    if (/no message found|not found/i.test((err as Error).message)) return null;
    throw err;
  }
}

export interface ReplayResult {
  seq: number;
  subject: string;
  ceId: string;
  msgId: string;
  publishedSeq: number;
  duplicate: boolean;
  deleted: boolean;
}

/** With `subjects`, a dead letter on another subject (another subscription's) is refused. */
export async function replayDeadLetter(nc: NatsConnection, stream: string, seq: number, keep: boolean, subjects?: string[]): Promise<ReplayResult> {
  const jsm = await jetstreamManager(nc);
  const m = await getMessage(jsm, stream, seq);
  if (!m) throw new Error(`no dead letter with sequence ${seq} in stream ${stream}`);
  if (subjects && !subjects.includes(m.subject))
    throw new Error(`dead letter ${seq} of stream ${stream} is on ${m.subject}, not of the subscription asked for (${subjects.join(", ")})`);
  const h = headerList(m.header);
  const r = replayMessage(stream, seq, h, new Date(), m.data);
  const hdrs = natsHeaders();
  for (const [k, v] of r.headers) hdrs.append(k, v);
  const ack = await jetstream(nc).publish(r.subject, m.data, { msgID: r.msgId, headers: hdrs });
  let deleted = false;
  if (!keep) deleted = await jsm.streams.deleteMessage(stream, seq, false);
  return { seq, subject: r.subject, ceId: summarize(seq, "", "", h, m.data).ceId, msgId: r.msgId, publishedSeq: ack.seq, duplicate: ack.duplicate, deleted };
}

/** Every dead letter's sequence (for replay --all), oldest first; with `subjects`, only those on them. */
export async function allSequences(nc: NatsConnection, stream: string, subjects?: string[]): Promise<number[]> {
  return (await listDeadLetters(nc, stream, Number.MAX_SAFE_INTEGER, subjects)).map((d) => d.seq);
}

/** Text for `dlq show`: headers, then the event data (pretty JSON when it parses). */
export function renderShow(m: { seq: number; subject: string; time: string; headers: HeaderList; data: Uint8Array }): string {
  const lines = [`sequence: ${m.seq}`, `subject:  ${m.subject}`, `time:     ${m.time}`, "headers:"];
  for (const [k, v] of m.headers) lines.push(`  ${k}: ${v}`);
  const text = new TextDecoder().decode(m.data);
  let body = text;
  try {
    body = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: print as is
  }
  lines.push("data:", body);
  return lines.join("\n");
}
