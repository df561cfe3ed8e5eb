// The bad input corpus: checked-in cases from testing/corpus/ plus the large ones generated
// here (oversized payloads, huge arrays) so the repository stays small.
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CORPUS_DIR = fileURLToPath(new URL("../../corpus/", import.meta.url));

export interface EventCase {
  name: string;
  subject?: string;
  headers: Record<string, string>;
  payload?: string;
  payloadBase64?: string;
  /** Dead-letter reason the runtime must give. */
  reason: "invalid_event" | "schema" | "too_large" | "unknown_type";
  /** decodeMessage itself refuses it (InvalidEventError with `reason`). */
  decode?: boolean;
}

export interface OrderCase {
  name: string;
  contentType: string;
  body: string;
  status: number;
  /** Label of jetmesh_http_rejected_total. */
  reason: string;
  /** A field the problem's `errors` must name. */
  field?: string;
}

export function payloadOf(c: EventCase): Uint8Array {
  if (c.payloadBase64 !== undefined) return new Uint8Array(Buffer.from(c.payloadBase64, "base64"));
  return new TextEncoder().encode(c.payload ?? "");
}

const VALID_HEADERS = {
  "ce-specversion": "1.0",
  "ce-id": "big",
  "ce-source": "/corpus",
  "ce-type": "shop.order.placed.v1",
  "ce-datacontenttype": "application/json",
};

/** Event cases; `maxEventBytes` sizes the generated oversized payload. */
export function eventCases(maxEventBytes: number): EventCase[] {
  const checked = JSON.parse(readFileSync(CORPUS_DIR + "cloudevents.json", "utf8")) as EventCase[];
  return [
    ...checked,
    {
      name: "generated: payload one byte over the limit",
      headers: VALID_HEADERS,
      payload: `"${"x".repeat(maxEventBytes - 1)}"`,
      reason: "too_large",
      decode: true,
    },
    {
      name: "generated: header value of 8 KiB of escapes",
      headers: { ...VALID_HEADERS, "ce-subject": "%".repeat(8192) },
      payload: "{}",
      reason: "invalid_event",
      decode: true,
    },
  ];
}

const ORDER_OK = { customer: { id: "c1" }, payment: { card: "4242424242424242" } };

/** Order cases; `maxBodyBytes` sizes the generated oversized body. */
export function orderCases(maxBodyBytes: number): OrderCase[] {
  const checked = JSON.parse(readFileSync(CORPUS_DIR + "orders.json", "utf8")) as OrderCase[];
  const hugeArray = { ...ORDER_OK, items: Array.from({ length: 200 }, (_, i) => ({ sku: `k${i}`, quantity: 1 })) };
  const padded = { ...ORDER_OK, items: [{ sku: "k1", quantity: 1 }], customer: { id: "c".repeat(maxBodyBytes) } };
  return [
    ...checked,
    {
      name: "generated: 200 line items (max 50)",
      contentType: "application/json",
      body: JSON.stringify(hugeArray),
      status: 422,
      reason: "invalid",
      field: "/items",
    },
    { name: "generated: body over the size limit", contentType: "application/json", body: JSON.stringify(padded), status: 413, reason: "too_large" },
    { name: "generated: 3000 nested arrays", contentType: "application/json", body: "[".repeat(3000) + "]".repeat(3000), status: 422, reason: "invalid" },
    {
      name: "generated: customer id of 129 chars",
      contentType: "application/json",
      body: JSON.stringify({ ...ORDER_OK, items: [{ sku: "k1", quantity: 1 }], customer: { id: "c".repeat(129) } }),
      status: 422,
      reason: "invalid",
      field: "/customer/id",
    },
  ];
}

export interface ResourceCase {
  file: string;
  /** Text the 422 message must contain (the field at fault). */
  expect: string;
  yaml: string;
}

/** Invalid custom resources: `# expect: <text>` on the first line of each file. */
export function resourceCases(): ResourceCase[] {
  const dir = CORPUS_DIR + "resources/";
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => {
      const yaml = readFileSync(dir + file, "utf8");
      const expect = /^# expect: (.+)$/m.exec(yaml)?.[1]?.trim() ?? "";
      return { file, expect, yaml };
    });
}
