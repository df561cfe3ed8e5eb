import { describe, expect, it } from "vitest";
import {
  decodeMessage,
  encodeBinary,
  encodeStructured,
  followUpEvent,
  InvalidEventError,
  newEvent,
  percentDecode,
  percentEncode,
  type CloudEvent,
} from "@jetmesh/mesh";

// Expected encodings written by hand from the binding's rules (space, '"', '%' and every
// character outside U+0021..U+007E percent-encoded as UTF-8 bytes), not produced by our encoder.
const vectors: [string, string][] = [
  ["shop.order.placed.v1", "shop.order.placed.v1"],
  ["Hello World", "Hello%20World"],
  ['say "hi"', "say%20%22hi%22"],
  ["100%", "100%25"],
  ["café", "caf%C3%A9"],
  ["Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"],
  ["tab\there", "tab%09here"],
  ["del\x7f", "del%7F"],
  ["!#$&'()*+,/:;<=>?@[\\]^_`{|}~", "!#$&'()*+,/:;<=>?@[\\]^_`{|}~"],
  ["", ""],
];

describe("percent-encoding of header values", () => {
  it.each(vectors)("encodes %j as %j and decodes it back", (plain, encoded) => {
    expect(percentEncode(plain)).toBe(encoded);
    expect(percentDecode(encoded)).toBe(plain);
  });

  it("accepts lowercase hex digits when decoding", () => {
    expect(percentDecode("caf%c3%a9%20ok")).toBe("café ok");
  });

  it.each([
    ["%ZZ", /invalid percent-encoding/],
    ["abc%4", /invalid percent-encoding/],
    ["%", /invalid percent-encoding/],
    ["%C3", /not UTF-8/],
    ["%FF%FE", /not UTF-8/],
  ])("rejects %j", (bad, message) => {
    expect(() => percentDecode(bad)).toThrow(message);
    try {
      percentDecode(bad);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidEventError);
      expect((err as InvalidEventError).reason).toBe("invalid_event");
    }
  });
});

describe("binary content mode encoding", () => {
  it("maps every attribute and extension to a ce- header with encoded values", () => {
    const event: CloudEvent = {
      specversion: "1.0",
      id: "id with space",
      source: "/shop/order",
      type: "shop.order.placed.v1",
      time: "2026-11-23T09:30:00.123Z",
      subject: 'order "42" 100%',
      dataschema: "https://example.com/schemas/order.json",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      comexampleflag: true,
      comexamplecount: 42,
      comexampleunicode: "Zürich",
      data: { orderId: "42", note: "ünïcödé" },
    };
    const enc = encodeBinary(event);
    expect(enc.subject).toBe("shop.order.placed.v1");
    expect(enc.headers).toEqual({
      "ce-specversion": "1.0",
      "ce-id": "id%20with%20space",
      "ce-source": "/shop/order",
      "ce-type": "shop.order.placed.v1",
      "ce-datacontenttype": "application/json",
      "ce-time": "2026-11-23T09:30:00.123Z",
      "ce-subject": "order%20%2242%22%20100%25",
      "ce-dataschema": "https://example.com/schemas/order.json",
      "ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "ce-comexampleflag": "true",
      "ce-comexamplecount": "42",
      "ce-comexampleunicode": "Z%C3%BCrich",
    });
    // datacontenttype is a ce- header, never Content-Type.
    expect(Object.keys(enc.headers).some((k) => k.toLowerCase() === "content-type")).toBe(false);
    expect(Buffer.from(enc.payload).toString("utf8")).toBe('{"orderId":"42","note":"ünïcödé"}');
  });

  it("puts binary data as raw bytes and text as UTF-8", () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const bin = encodeBinary({ specversion: "1.0", id: "1", source: "s", type: "t.v1", datacontenttype: "application/octet-stream", data: bytes });
    expect(bin.payload).toEqual(bytes);
    const text = encodeBinary({ specversion: "1.0", id: "1", source: "s", type: "t.v1", data: "plain ü" });
    expect(text.headers["ce-datacontenttype"]).toBe("text/plain;charset=utf-8");
    expect(Buffer.from(text.payload).toString("utf8")).toBe("plain ü");
  });

  it("refuses events it cannot represent", () => {
    const base = { specversion: "1.0" as const, id: "1", source: "s", type: "t.v1" };
    expect(() => encodeBinary({ ...base, id: "" })).toThrow(/id/);
    expect(() => encodeBinary({ ...base, BadName: "x" })).toThrow(/lowercase/);
    expect(() => encodeBinary({ ...base, datacontenttype: "application/xml", data: { a: 1 } })).toThrow(/string or Uint8Array/);
    expect(() => encodeBinary({ ...base, count: 1.5 })).toThrow(/integer/);
  });
});

describe("decoding", () => {
  const roundTrip = (event: CloudEvent) => {
    const enc = encodeBinary(event);
    return decodeMessage({ subject: enc.subject, headers: enc.headers, data: enc.payload });
  };

  it("round-trips unicode, spaces, %, quotes, extensions and JSON data", () => {
    const event: CloudEvent = {
      specversion: "1.0",
      id: 'ï d "1" 100% ✓',
      source: "urn:jetmesh:test",
      type: "shop.order.placed.v1",
      time: "2026-11-23T09:30:00Z",
      datacontenttype: "application/json; charset=utf-8",
      subject: "a b\tc",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      myext: '😀 % "',
      data: { text: "ünïcödé 😀", n: 1.5, list: [null, true], nested: { q: '"' } },
    };
    expect(roundTrip(event)).toEqual(event);
  });

  it("round-trips binary data and text data", () => {
    const bytes = new Uint8Array(256).map((_, i) => 255 - i);
    const bin: CloudEvent = { specversion: "1.0", id: "b", source: "s", type: "t.v1", datacontenttype: "image/png", data: bytes };
    const got = roundTrip(bin);
    expect(got.data).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(got.data as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
    const text: CloudEvent = { specversion: "1.0", id: "t", source: "s", type: "t.v1", datacontenttype: "text/plain", data: "line 1\nline 2 ✓" };
    expect(roundTrip(text)).toEqual(text);
  });

  it("round-trips events made by newEvent and followUpEvent", () => {
    const placed = newEvent({ type: "shop.order.placed.v1", source: "/order", data: { orderId: "o-1" } });
    expect(roundTrip(placed)).toEqual(placed);
    const reserved = followUpEvent(placed, { type: "shop.inventory.reserved.v1", source: "/inventory", data: { orderId: "o-1" } });
    expect(roundTrip(reserved)).toEqual(reserved);
  });

  it("treats header names case-insensitively", () => {
    const e = decodeMessage({
      subject: "t.v1",
      headers: {
        "CE-SpecVersion": "1.0",
        "Ce-Id": "x%20y",
        "CE-SOURCE": "s",
        "ce-Type": "t.v1",
        "Ce-DataContentType": "application/json",
        "CE-TraceParent": "v",
      },
      data: Buffer.from("[1]"),
    });
    expect(e).toEqual({ specversion: "1.0", id: "x y", source: "s", type: "t.v1", datacontenttype: "application/json", traceparent: "v", data: [1] });
  });

  it("reads structured mode with data and data_base64", () => {
    const json = {
      specversion: "1.0",
      id: "s-1",
      source: "/x",
      type: "shop.order.placed.v1",
      datacontenttype: "application/json",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      data: { a: "ü" },
    };
    const e = decodeMessage({
      subject: "shop.order.placed.v1",
      headers: { "Content-Type": "application/cloudevents+json; charset=utf-8" },
      data: Buffer.from(JSON.stringify(json)),
    });
    expect(e).toEqual(json);
    const b64 = decodeMessage({
      subject: "t.v1",
      headers: { "content-type": "application/cloudevents+json" },
      data: Buffer.from(
        JSON.stringify({ specversion: "1.0", id: "2", source: "/x", type: "t.v1", datacontenttype: "application/octet-stream", data_base64: "AAEC/w==" }),
      ),
    });
    expect(b64.data).toEqual(new Uint8Array([0, 1, 2, 255]));
    // And our own structured encoder produces something the decoder reads back.
    const enc = encodeStructured(b64);
    expect(decodeMessage({ subject: "t.v1", headers: enc.headers, data: enc.payload })).toEqual(b64);
  });

  const good = { "ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t.v1", "ce-datacontenttype": "application/json" };
  const bad: [string, Record<string, string>, string, string, RegExp][] = [
    ["missing id", { ...good, "ce-id": "" }, "{}", "invalid_event", /required attribute id/],
    ["missing source", (({ "ce-source": _, ...r }) => r)(good), "{}", "invalid_event", /source is missing/],
    ["missing type", (({ "ce-type": _, ...r }) => r)(good), "{}", "invalid_event", /type is missing/],
    ["no CloudEvent at all", {}, "{}", "invalid_event", /ce-specversion is missing/],
    ["wrong specversion", { ...good, "ce-specversion": "0.3" }, "{}", "invalid_event", /specversion must be "1.0"/],
    ["invalid percent-encoding", { ...good, "ce-source": "/s%2" }, "{}", "invalid_event", /invalid percent-encoding/],
    ["percent-encoded non-UTF-8", { ...good, "ce-subject": "%E9t%E9" }, "{}", "invalid_event", /not UTF-8/],
    ["non-JSON data declared JSON", good, "{not json", "invalid_event", /not valid JSON/],
    ["bad time", { ...good, "ce-time": "yesterday" }, "{}", "invalid_event", /RFC 3339/],
    ["source not a URI-reference (SDK check)", { ...good, "ce-source": "a%20b" }, "{}", "invalid_event", /source must match format "uri-reference"/],
    ["bad attribute name", { ...good, "ce-my_ext": "x" }, "{}", "invalid_event", /attribute names/],
    ["batch mode", { "content-type": "application/cloudevents-batch+json" }, "[]", "invalid_event", /batch/],
    ["structured non-object", { "content-type": "application/cloudevents+json" }, "[1]", "invalid_event", /JSON object/],
    ["structured bad JSON", { "content-type": "application/cloudevents+json" }, "{", "invalid_event", /not valid JSON/],
    [
      "structured wrong specversion",
      { "content-type": "application/cloudevents+json" },
      '{"specversion":"0.3","id":"1","source":"s","type":"t"}',
      "invalid_event",
      /specversion/,
    ],
  ];
  it.each(bad)("refuses %s with a reason", (_name, headers, body, reason, message) => {
    let caught: unknown;
    try {
      decodeMessage({ subject: "t.v1", headers, data: Buffer.from(body) });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidEventError);
    expect((caught as InvalidEventError).reason).toBe(reason);
    expect((caught as Error).message).toMatch(message);
  });

  it("refuses a payload over the maximum with reason too_large", () => {
    try {
      decodeMessage({ subject: "t.v1", headers: good, data: Buffer.alloc(2048, 0x20) }, { maxBytes: 1024 });
      expect.unreachable();
    } catch (err) {
      expect((err as InvalidEventError).reason).toBe("too_large");
      expect((err as Error).message).toMatch(/2048 bytes exceeds the maximum of 1024/);
    }
  });

  it("refuses duplicate ce- headers in different case", () => {
    expect(() => decodeMessage({ subject: "t.v1", headers: { ...good, "CE-ID": "2" }, data: Buffer.from("{}") })).toThrow(/more than once/);
  });
});

describe("event ids and trace context", () => {
  it("derives follow-up ids and spans deterministically from the cause", () => {
    const cause = newEvent({ type: "shop.order.placed.v1", source: "/order", data: {} });
    const a = followUpEvent(cause, { type: "shop.inventory.reserved.v1", source: "/inventory", data: { x: 1 } });
    const b = followUpEvent(cause, { type: "shop.inventory.reserved.v1", source: "/inventory", data: { x: 1 } });
    expect(encodeBinary(a)).toEqual(encodeBinary(b));
    expect(a.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const other = followUpEvent(cause, { type: "shop.inventory.rejected.v1", source: "/inventory", data: {} });
    const keyed = followUpEvent(cause, { type: "shop.inventory.reserved.v1", source: "/inventory", data: {}, key: "sku-2" });
    expect(new Set([a.id, other.id, keyed.id]).size).toBe(3);
    // Same trace as the cause, a different span.
    const [, causeTrace, causeSpan] = String(cause.traceparent).split("-");
    const [, trace, span] = String(a.traceparent).split("-");
    expect(trace).toBe(causeTrace);
    expect(span).not.toBe(causeSpan);
  });

  it("starts a new W3C trace for a new event, or continues a given one", () => {
    const e = newEvent({ type: "t.v1", source: "/s", data: null });
    expect(e.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.datacontenttype).toBe("application/json");
    const child = newEvent({ type: "t.v1", source: "/s", data: 1, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
    expect(child.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-(?!b7ad6b7169203331)[0-9a-f]{16}-01$/);
  });
});
