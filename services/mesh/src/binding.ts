// CloudEvents NATS protocol binding (spec main, 1.0.3-wip): binary content mode for
// writing, binary and structured content mode for reading.
//
// Binary mode: every context attribute and extension is a header `ce-<name>`, the payload
// is the event data. Header values are percent-encoded: space, `"`, `%` and every character
// outside U+0021..U+007E, the latter as the percent-encoded bytes of its UTF-8 encoding.
// Header names are case-insensitive. Structured mode: a `Content-Type` header starting
// with `application/cloudevents` and the JSON event format as payload.
import { CloudEvent as SdkCloudEvent, ValidationError } from "cloudevents";
import type { MsgHdrs } from "@nats-io/transport-node";
import { InvalidEventError } from "./errors.ts";

/** A CloudEvent (spec version 1.0). Extensions are extra keys with lowercase alphanumeric names. */
export interface CloudEvent<T = unknown> {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  subject?: string;
  data?: T;
  [extension: string]: unknown;
}

/** What goes on the wire: publish `payload` with `headers` on `subject`. */
export interface EncodedEvent {
  /** NATS subject = CloudEvent type. */
  subject: string;
  /** `ce-*` headers with percent-encoded values (lowercase names). */
  headers: Record<string, string>;
  payload: Uint8Array;
}

/** A received NATS message (a JsMsg or Msg fits). */
export interface IncomingMessage {
  subject: string;
  headers?: MsgHdrs | Record<string, string | string[]> | undefined;
  data: Uint8Array;
}

export interface DecodeOptions {
  /** Payload larger than this is refused with reason `too_large`. */
  maxBytes?: number;
  /** Also validate with the `cloudevents` SDK (default true). */
  sdkValidation?: boolean;
}

const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
// Characters that may stay literal in a header value: U+0021..U+007E except `"` and `%`.
const SAFE_VALUE = /^[\x21\x23\x24\x26-\x7e]*$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const te = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);

/** Percent-encodes a header value as the binding requires. */
export function percentEncode(value: string): string {
  if (SAFE_VALUE.test(value)) return value;
  let out = "";
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x21 && cp <= 0x7e && cp !== 0x22 && cp !== 0x25) {
      out += ch;
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      throw new InvalidEventError("invalid_event", "header value contains a lone UTF-16 surrogate (not encodable as UTF-8)");
    }
    for (const b of te.encode(ch)) out += "%" + HEX[b];
  }
  return out;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));

/**
 * Percent-decodes a header value; the decoded bytes must be UTF-8. Throws
 * InvalidEventError on a `%` not followed by two hex digits or on invalid UTF-8.
 */
export function percentDecode(value: string, what = "header value"): string {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25) {
      const h = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) {
        throw new InvalidEventError("invalid_event", `${what} has an invalid percent-encoding at offset ${i}: "${value.slice(i, i + 3)}"`);
      }
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // Tolerated: a sender that did not encode a non-ASCII character.
      const cp = value.codePointAt(i)!;
      for (const b of te.encode(String.fromCodePoint(cp))) bytes.push(b);
      if (cp > 0xffff) i++;
    }
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    throw new InvalidEventError("invalid_event", `${what} percent-decodes to bytes that are not UTF-8`);
  }
}

/** True for media types whose payload is JSON text (application/json, text/json, *+json). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const base = mediaType(contentType);
  return base === "application/json" || base === "text/json" || base.endsWith("+json");
}

function mediaType(contentType: string): string {
  const semi = contentType.indexOf(";");
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function isTextContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && mediaType(contentType).startsWith("text/");
}

/** Canonical string form of an attribute value (CloudEvents type system). */
function attributeString(name: string, value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
        throw new InvalidEventError("invalid_event", `attribute ${name} must be a 32-bit integer, got ${value}`);
      }
      return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
      throw new InvalidEventError("invalid_event", `attribute ${name} has unsupported type ${typeof value}`);
  }
}

/**
 * Encodes an event in binary content mode. A missing datacontenttype is declared from the
 * data written: `application/json` for JSON values, `text/plain;charset=utf-8` for strings.
 */
export function encodeBinary(event: CloudEvent): EncodedEvent {
  checkRequired(event, "event");
  let contentType = event.datacontenttype;
  const data = event.data;
  let payload: Uint8Array;
  if (data === undefined || data === null) {
    payload = data === null && isJsonContentType(contentType ?? "application/json") ? te.encode("null") : EMPTY;
    if (data === null && contentType === undefined) contentType = "application/json";
  } else if (data instanceof Uint8Array) {
    payload = data;
  } else {
    if (contentType === undefined) contentType = typeof data === "string" ? "text/plain;charset=utf-8" : "application/json";
    if (isJsonContentType(contentType)) {
      const json = JSON.stringify(data);
      if (json === undefined) throw new InvalidEventError("invalid_event", `data of ${event.type} is not JSON-serializable`);
      payload = te.encode(json);
    } else if (typeof data === "string") {
      payload = te.encode(data);
    } else {
      throw new InvalidEventError("invalid_event", `data of ${event.type} must be a string or Uint8Array for datacontenttype ${contentType}`);
    }
  }
  const headers: Record<string, string> = {
    "ce-specversion": event.specversion,
    "ce-id": percentEncode(event.id),
    "ce-source": percentEncode(event.source),
    "ce-type": percentEncode(event.type),
  };
  if (contentType !== undefined) headers["ce-datacontenttype"] = percentEncode(contentType);
  for (const name in event) {
    if (name === "specversion" || name === "id" || name === "source" || name === "type" || name === "data" || name === "datacontenttype") continue;
    const value = event[name];
    if (value === undefined || value === null) continue;
    if (name === "data_base64") throw new InvalidEventError("invalid_event", "data_base64 belongs to the JSON format; pass a Uint8Array as data");
    if (!ATTRIBUTE_NAME.test(name)) {
      throw new InvalidEventError("invalid_event", `attribute name "${name}" must consist of lowercase letters a-z and digits 0-9`);
    }
    headers["ce-" + name] = percentEncode(attributeString(name, value));
  }
  return { subject: event.type, headers, payload };
}

/** Decodes a binary- or structured-mode message; throws InvalidEventError (with reason) on bad input. */
export function decodeMessage(msg: IncomingMessage, opts: DecodeOptions = {}): CloudEvent {
  const data = msg.data ?? EMPTY;
  if (opts.maxBytes !== undefined && data.length > opts.maxBytes) {
    throw new InvalidEventError("too_large", `payload of ${data.length} bytes exceeds the maximum of ${opts.maxBytes} bytes`);
  }
  const headers = lowercaseHeaders(msg.headers);
  const contentType = headers.get("content-type");
  const event =
    contentType !== undefined && contentType.toLowerCase().startsWith("application/cloudevents")
      ? decodeStructured(contentType, data)
      : decodeBinary(headers, data);
  if (opts.sdkValidation !== false) validateWithSdk(event);
  return event;
}

function decodeBinary(headers: Map<string, string>, payload: Uint8Array): CloudEvent {
  const attrs: Record<string, unknown> = {};
  for (const [k, v] of headers) {
    if (!k.startsWith("ce-")) continue;
    const name = k.slice(3);
    if (!ATTRIBUTE_NAME.test(name)) {
      throw new InvalidEventError("invalid_event", `header ${k}: attribute names consist of letters a-z and digits 0-9`);
    }
    if (name === "data" || name === "data_base64") throw new InvalidEventError("invalid_event", `header ${k} is not allowed in binary mode`);
    attrs[name] = percentDecode(v, `header ${k}`);
  }
  if (attrs.specversion === undefined) {
    throw new InvalidEventError("invalid_event", "not a CloudEvent: header ce-specversion is missing (and no structured-mode Content-Type)");
  }
  const event = checkRequired(attrs, "binary-mode message");
  const ct = event.datacontenttype;
  if (payload.length > 0 || ct !== undefined) {
    if (isJsonContentType(ct)) {
      event.data = parseJson(payload, `data declared as ${ct}`);
    } else if (isTextContentType(ct)) {
      event.data = utf8(payload, `data declared as ${ct}`);
    } else if (payload.length > 0) {
      // A copy: the received buffer may be a view into the client's read buffer.
      event.data = new Uint8Array(payload);
    }
  }
  return event;
}

function decodeStructured(contentType: string, payload: Uint8Array): CloudEvent {
  const mt = mediaType(contentType);
  if (mt.startsWith("application/cloudevents-batch")) {
    throw new InvalidEventError("invalid_event", "batch content mode is not supported by the NATS binding");
  }
  if (mt !== "application/cloudevents+json" && mt !== "application/cloudevents") {
    throw new InvalidEventError("invalid_event", `unsupported structured event format ${mt} (only application/cloudevents+json)`);
  }
  const body = parseJson(payload, "structured-mode payload");
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidEventError("invalid_event", "structured-mode payload must be a JSON object");
  }
  const obj = body as Record<string, unknown>;
  const attrs: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) {
    if (k === "data" || k === "data_base64") continue;
    if (!ATTRIBUTE_NAME.test(k)) throw new InvalidEventError("invalid_event", `attribute name "${k}" must consist of letters a-z and digits 0-9`);
    const v = obj[k];
    if (v === null) continue;
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new InvalidEventError("invalid_event", `attribute ${k} must be a string, number or boolean`);
    }
    attrs[k] = v;
  }
  const event = checkRequired(attrs, "structured-mode event");
  if ("data" in obj && "data_base64" in obj) throw new InvalidEventError("invalid_event", "structured event has both data and data_base64");
  if (typeof obj.data_base64 === "string") {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(obj.data_base64) || obj.data_base64.length % 4 !== 0) {
      throw new InvalidEventError("invalid_event", "data_base64 is not valid base64");
    }
    event.data = new Uint8Array(Buffer.from(obj.data_base64, "base64"));
  } else if ("data" in obj && obj.data !== undefined) {
    event.data = obj.data;
  }
  return event;
}

/** Checks the required attributes and the known attributes' formats; returns the event. */
function checkRequired(attrs: Record<string, unknown>, what: string): CloudEvent {
  if (attrs.specversion !== "1.0") {
    throw new InvalidEventError(
      "invalid_event",
      attrs.specversion === undefined ? `${what}: specversion is missing` : `${what}: specversion must be "1.0", got ${JSON.stringify(attrs.specversion)}`,
    );
  }
  for (const name of ["id", "source", "type"] as const) {
    const v = attrs[name];
    if (typeof v !== "string" || v.length === 0) {
      throw new InvalidEventError("invalid_event", `${what}: required attribute ${name} is ${v === undefined ? "missing" : "empty or not a string"}`);
    }
  }
  for (const name of ["subject", "datacontenttype", "dataschema"] as const) {
    const v = attrs[name];
    if (v !== undefined && (typeof v !== "string" || v.length === 0)) {
      throw new InvalidEventError("invalid_event", `${what}: ${name} must be a non-empty string when present`);
    }
  }
  if (attrs.time !== undefined && (typeof attrs.time !== "string" || !RFC3339.test(attrs.time) || Number.isNaN(Date.parse(attrs.time)))) {
    throw new InvalidEventError("invalid_event", `${what}: time must be an RFC 3339 timestamp, got ${JSON.stringify(attrs.time)}`);
  }
  return attrs as CloudEvent;
}

// The SDK judges source, dataschema and datacontenttype by format; everything else it checks
// (required, non-empty, time format, attribute names) checkRequired does per event. So an
// SDK verdict holds for every event with the same values of those three: remember passes.
const sdkPassed = new Set<string>();

/** Second opinion from the CloudEvents SDK (URI-reference source, URI dataschema, ...). */
export function validateWithSdk(event: CloudEvent): void {
  const key = `${event.source}\u0000${event.dataschema ?? ""}\u0000${event.datacontenttype ?? ""}`;
  if (sdkPassed.has(key)) return;
  sdkValidate(event);
  if (sdkPassed.size >= 10_000) sdkPassed.clear();
  sdkPassed.add(key);
}

function sdkValidate(event: CloudEvent): void {
  const attrs: Record<string, unknown> = {};
  for (const k in event) if (k !== "data") attrs[k] = event[k];
  try {
    new SdkCloudEvent(attrs, false).validate();
  } catch (err) {
    if (err instanceof ValidationError) {
      const list = Array.isArray(err.errors) ? (err.errors as { instancePath?: string; message?: string }[]) : [];
      const detail =
        list.length > 0 ? list.map((e) => `${(e.instancePath ?? "").replace(/^\//, "") || "event"} ${e.message ?? "is invalid"}`).join("; ") : err.message;
      throw new InvalidEventError("invalid_event", `event ${event.id} fails CloudEvents validation: ${detail}`);
    }
    throw new InvalidEventError("invalid_event", `event ${event.id} fails CloudEvents validation: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseJson(payload: Uint8Array, what: string): unknown {
  const text = utf8(payload, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidEventError("invalid_event", `${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function utf8(payload: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(payload);
  } catch {
    throw new InvalidEventError("invalid_event", `${what} is not valid UTF-8`);
  }
}

/** Header names lowercased (NATS keeps the sender's case; the binding says case-insensitive). */
function lowercaseHeaders(h: IncomingMessage["headers"]): Map<string, string> {
  const out = new Map<string, string>();
  if (!h) return out;
  const put = (k: string, values: string | string[]) => {
    const key = k.toLowerCase();
    const list = Array.isArray(values) ? values : [values];
    if (list.length === 0) return;
    if (out.has(key) || list.length > 1) {
      if (key.startsWith("ce-") || key === "content-type") {
        throw new InvalidEventError("invalid_event", `header ${key} appears more than once`);
      }
    }
    if (!out.has(key)) out.set(key, list[0]!);
  };
  if (typeof (h as MsgHdrs).keys === "function" && typeof (h as MsgHdrs).values === "function") {
    for (const [k, values] of h as MsgHdrs) put(k, values);
  } else {
    for (const [k, v] of Object.entries(h as Record<string, string | string[]>)) put(k, v);
  }
  return out;
}

/** Encodes an event in the JSON event format (structured mode payload). */
export function encodeStructured(event: CloudEvent): { headers: Record<string, string>; payload: Uint8Array } {
  checkRequired(event, "event");
  const out: Record<string, unknown> = {};
  for (const k in event) {
    if (k === "data" || event[k] === undefined) continue;
    out[k] = event[k] instanceof Date ? (event[k] as Date).toISOString() : event[k];
  }
  if (event.data instanceof Uint8Array) out.data_base64 = Buffer.from(event.data).toString("base64");
  else if (event.data !== undefined) out.data = event.data;
  return { headers: { "content-type": "application/cloudevents+json; charset=utf-8" }, payload: te.encode(JSON.stringify(out)) };
}
