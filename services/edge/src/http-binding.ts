// CloudEvents HTTP protocol binding (1.0.2) at the edge of the mesh, mapped onto the runtime's
// NATS binding so both read an event exactly the same way.
//
// HTTP binary mode differs from NATS binary mode in one place: the data's media type is the
// `Content-Type` header, not `ce-datacontenttype`. Header values are percent-encoded by the
// same rules in both. So an HTTP request is read by (1) the `cloudevents` SDK's HTTP binding,
// which decides whether it is a CloudEvent and in which mode, then (2) @jetmesh/mesh's
// decodeMessage on the equivalent NATS message, which applies the runtime's checks
// (percent-decoding, required attributes, RFC 3339 time, SDK validation, JSON data). Values
// are taken from the request as sent: the SDK alone would round `time` to milliseconds and
// keep percent-encoded values encoded.
import { HTTP } from "cloudevents";
import { decodeMessage, encodeBinary, InvalidEventError, percentDecode, percentEncode, type CloudEvent } from "@jetmesh/mesh";

/** Request headers as Node gives them in `req.headersDistinct` (lowercase names, every value). */
export type HttpHeaders = Record<string, string[] | undefined>;

export interface HttpMessage {
  headers: HttpHeaders;
  body: Uint8Array;
}

export type ContentMode = "binary" | "structured";

/** NATS subjects a type may not be: wildcards, empty tokens, system and reply subjects. */
const PUBLISHABLE_TYPE = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const RESERVED_TYPE = /^(\$|_INBOX\.|_R_\.|jetmesh\.dlq\.)/;

/**
 * Reads a CloudEvent from an HTTP request or response. Throws InvalidEventError (`invalid_event`,
 * or `too_large` above `maxBytes`) saying what is wrong.
 */
export function eventFromHttp(msg: HttpMessage, opts: { maxBytes?: number } = {}): { event: CloudEvent; mode: ContentMode } {
  if (opts.maxBytes !== undefined && msg.body.length > opts.maxBytes) {
    throw new InvalidEventError("too_large", `body of ${msg.body.length} bytes exceeds the maximum of ${opts.maxBytes} bytes`);
  }
  const single: Record<string, string> = {};
  for (const [name, values] of Object.entries(msg.headers)) {
    if (!values || values.length === 0) continue;
    if (values.length > 1 && (name.startsWith("ce-") || name === "content-type")) {
      throw new InvalidEventError("invalid_event", `header ${name} is sent ${values.length} times; a CloudEvent attribute has one value`);
    }
    single[name] = values[0]!;
  }
  const contentType = single["content-type"];
  const mode = sdkMode(single, contentType, msg.body);
  const natsHeaders: Record<string, string> = {};
  if (mode === "structured") {
    natsHeaders["content-type"] = contentType!;
  } else {
    for (const [name, value] of Object.entries(single)) if (name.startsWith("ce-")) natsHeaders[name] = value;
    if (natsHeaders["ce-datacontenttype"] !== undefined) {
      throw new InvalidEventError(
        "invalid_event",
        "header ce-datacontenttype is not part of HTTP binary mode: the data's media type is the Content-Type header",
      );
    }
    // Content-Type is not percent-encoded in HTTP; the NATS header that takes its place is.
    if (contentType !== undefined) natsHeaders["ce-datacontenttype"] = percentEncode(contentType);
  }
  const event = decodeMessage({ subject: "", headers: natsHeaders, data: msg.body }, opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes });
  return { event: canonicalOrder(event), mode };
}

// The SDK's verdict depends on the media type and on which ce- headers are present (binary
// mode), or on the body being JSON (structured mode), which decodeMessage checks again, more
// strictly. Reading a request costs the SDK ~240 µs, the runtime's decode ~30 µs: so, as the
// runtime does with the SDK's validation, passes are remembered per media type and header set.
const sdkPassed = new Set<string>();

/** The SDK's verdict on mode (and on whether this is a CloudEvent at all). */
function sdkMode(headers: Record<string, string>, contentType: string | undefined, body: Uint8Array): ContentMode {
  // The SDK looks parsers up by the exact media type: parameters (charset) are dropped for it.
  const sdkHeaders = { ...headers };
  if (contentType !== undefined) sdkHeaders["content-type"] = contentType.split(";")[0]!.trim().toLowerCase();
  const structured = sdkHeaders["content-type"]?.startsWith("application/cloudevents") === true;
  if (sdkHeaders["content-type"]?.startsWith("application/cloudevents-batch")) {
    throw new InvalidEventError("invalid_event", "batched mode (application/cloudevents-batch+json) is not accepted: send one event per request");
  }
  const names = structured
    ? ""
    : Object.keys(sdkHeaders)
        .filter((k) => k.startsWith("ce-"))
        .sort()
        .join(",");
  const key = `${structured ? "s" : "b"}\u0000${sdkHeaders["content-type"] ?? ""}\u0000${names}`;
  if (sdkPassed.has(key)) return structured ? "structured" : "binary";
  try {
    HTTP.toEvent({ headers: sdkHeaders, body: structured ? Buffer.from(body).toString("utf8") : Buffer.from(body) });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidEventError(
      "invalid_event",
      why === "no cloud event detected"
        ? "not a CloudEvent: no ce-id header (binary mode) and no Content-Type application/cloudevents+json (structured mode)"
        : `not a readable CloudEvent: ${why}`,
    );
  }
  if (sdkPassed.size >= 10_000) sdkPassed.clear();
  sdkPassed.add(key);
  return structured ? "structured" : "binary";
}

/**
 * Attribute order as the TypeScript runtime's events have it (newEvent/followUpEvent), so an
 * event arriving over HTTP is published with its headers in the same order.
 */
function canonicalOrder(event: CloudEvent): CloudEvent {
  const { specversion, id, source, type, time, datacontenttype, dataschema, subject, data, traceparent, ...extensions } = event;
  const out: CloudEvent = { specversion, id, source, type };
  if (time !== undefined) out.time = time;
  if (datacontenttype !== undefined) out.datacontenttype = datacontenttype;
  if (dataschema !== undefined) out.dataschema = dataschema;
  if (traceparent !== undefined) out.traceparent = traceparent;
  for (const k of Object.keys(extensions).sort()) out[k] = extensions[k];
  if (data !== undefined) out.data = data;
  if (subject !== undefined) out.subject = subject;
  return out;
}

/** A type JetMesh can publish: a concrete subject, not a system, reply or dead-letter one. */
export function checkPublishableType(type: string): void {
  if (!PUBLISHABLE_TYPE.test(type)) {
    throw new InvalidEventError("invalid_event", `type "${type}" cannot be a NATS subject (subject = type): no spaces, no wildcards (* >), no empty tokens`);
  }
  if (RESERVED_TYPE.test(type)) throw new InvalidEventError("invalid_event", `type "${type}" names a reserved subject ($..., _INBOX, jetmesh.dlq.)`);
}

/** An event in HTTP binary mode: `ce-*` headers (percent-encoded), Content-Type, body = data. */
export function httpBinaryFromEvent(event: CloudEvent): { headers: Record<string, string>; body: Uint8Array } {
  const enc = encodeBinary(event);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(enc.headers)) {
    if (k === "ce-datacontenttype") headers["content-type"] = percentDecode(v);
    else headers[k] = v;
  }
  return { headers, body: enc.payload };
}

/** NATS-style subject pattern match (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
