// Per-service NATS permissions, as data: what each JetMesh subscriber may publish and
// subscribe to. Pure, so the chart (or any NATS account setup) can reuse the same rules;
// the security test proves the shop runs under exactly these and nothing more.
//
// What a service does on NATS (services/mesh + its KV bucket):
// - publishes its own event types (JetStream publish = plain publish + reply on _INBOX);
// - pulls from its durable consumer ($JS.API.CONSUMER.MSG.NEXT) and acks/naks/terms
//   ($JS.ACK.<stream>.<consumer>.>), reads its consumer's info at start;
// - publishes dead letters to its own DLQ subject;
// - owns one KV bucket: creates/inspects its stream KV_<bucket>, reads (direct get and
//   msg get), writes ($KV.<bucket>.>), and lists keys (an ordered consumer on it).

import { CIRCUIT_BUCKET, FAILURE_BUCKET } from "@jetmesh/mesh/consumer-contract";

export interface ServiceNatsIdentity {
  service: string;
  /** Event types it publishes (= subjects). */
  produces: readonly string[];
  stream: string;
  consumer: string;
  deadLetterSubject: string;
  /** KV buckets it owns. */
  buckets: readonly string[];
}

export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** Replies to requests (JetStream API answers come back on the caller's inbox). */
  allow_responses?: boolean;
}

export function servicePermissions(id: ServiceNatsIdentity): NatsPermissions {
  const pub = new Set<string>([
    ...id.produces,
    id.deadLetterSubject,
    // JetStream account info: the client asks once when it creates a JetStream context.
    "$JS.API.INFO",
    `$JS.API.CONSUMER.INFO.${id.stream}.${id.consumer}`,
    `$JS.API.CONSUMER.MSG.NEXT.${id.stream}.${id.consumer}`,
    `$JS.ACK.${id.stream}.${id.consumer}.>`,
  ]);
  // Its reports to the operator (@jetmesh/mesh: KV buckets jetmesh-circuits for its circuit
  // breaker, jetmesh-failures for failed deliveries; keys <consumer>.<instance>): a bucket is
  // created if missing, only its own keys written.
  for (const b of [CIRCUIT_BUCKET, FAILURE_BUCKET]) {
    pub.add(`$JS.API.STREAM.INFO.KV_${b}`);
    pub.add(`$JS.API.STREAM.CREATE.KV_${b}`);
    pub.add(`$KV.${b}.${id.consumer}.>`);
  }
  for (const b of id.buckets) {
    const s = `KV_${b}`;
    for (const api of ["STREAM.INFO", "STREAM.CREATE", "STREAM.UPDATE", "STREAM.MSG.GET"]) pub.add(`$JS.API.${api}.${s}`);
    pub.add(`$JS.API.DIRECT.GET.${s}.>`);
    pub.add(`$JS.API.DIRECT.GET.${s}`);
    // Key listing and watches: ordered (ephemeral) consumers on the bucket's stream.
    pub.add(`$JS.API.CONSUMER.CREATE.${s}.>`);
    pub.add(`$JS.API.CONSUMER.CREATE.${s}`);
    pub.add(`$JS.API.CONSUMER.DELETE.${s}.>`);
    pub.add(`$KV.${b}.>`);
  }
  return {
    publish: { allow: [...pub].sort() },
    // Inboxes only: replies to its requests, pull batches, and ordered-consumer deliveries.
    subscribe: { allow: ["_INBOX.>"] },
  };
}

/**
 * The jetmesh-ingress (services/edge, docs/http.md): it publishes the event types it accepts
 * (JetStream publish: the PubAck comes back on its inbox), asks for the account info once, and
 * lists the stream names only when a publish fails (to answer "no stream captures the type"
 * rather than "NATS unavailable"). A dispatcher is a mesh subscriber: servicePermissions with
 * its reply types as `produces` and no bucket.
 */
export function ingressPermissions(types: readonly string[]): NatsPermissions {
  return {
    publish: { allow: [...new Set([...types, "$JS.API.INFO", "$JS.API.STREAM.NAMES"])].sort() },
    subscribe: { allow: ["_INBOX.>"] },
  };
}

/** A nats-server `authorization { users: [...] }` block (user/password per service). */
export function natsAuthorizationConfig(users: { user: string; password: string; permissions?: NatsPermissions }[]): string {
  const items = users.map(
    (u) =>
      `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)}${u.permissions ? `, permissions: ${JSON.stringify(u.permissions)}` : ""} }`,
  );
  return `authorization { users: [\n  ${items.join(",\n  ")}\n] }`;
}
