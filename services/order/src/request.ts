// The POST /orders request: its JSON Schema, validation, pricing, and the order it creates.
import { createHash, randomUUID } from "node:crypto";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import type { Customer, LineItem, OrderPlaced, OrderRecord } from "@jetmesh/shop";

export interface OrderRequest {
  items: LineItem[];
  customer: Customer;
  payment: { card: string; amount?: number; currency?: string };
}

export const ORDER_REQUEST_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["items", "customer", "payment"],
  properties: {
    items: {
      type: "array",
      minItems: 1,
      maxItems: 50,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["sku", "quantity"],
        properties: {
          sku: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
          quantity: { type: "integer", minimum: 1, maximum: 1000 },
        },
      },
    },
    customer: {
      type: "object",
      additionalProperties: false,
      required: ["id"],
      properties: {
        id: { type: "string", minLength: 1, maxLength: 128 },
        email: { type: "string", format: "email", maxLength: 254 },
      },
    },
    payment: {
      type: "object",
      additionalProperties: false,
      required: ["card"],
      properties: {
        card: { type: "string", pattern: "^[0-9]{12,19}$" },
        amount: { type: "integer", minimum: 0, maximum: 100_000_000 },
        currency: { type: "string", pattern: "^[A-Z]{3}$" },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
const validateSchema = ajv.compile<OrderRequest>(ORDER_REQUEST_SCHEMA);

export interface FieldError {
  field: string;
  message: string;
}

/** Errors listed in one answer at most; the rest are counted (`moreErrors`), not listed. */
export const MAX_LISTED_ERRORS = 20;

/** The most of one SKU an order may hold: the event schemas cap a line's quantity at this. */
export const MAX_SKU_QUANTITY = 1000;

export type Validation =
  | { ok: true; request: OrderRequest }
  /** `moreErrors`: how many errors were found beyond the listed ones. */
  | { ok: false; errors: FieldError[]; moreErrors: number };

export function validateOrderRequest(body: unknown): Validation {
  if (!validateSchema(body)) return invalid((validateSchema.errors ?? []).map(fieldError));
  // Inventory reserves one line per SKU (repeated SKUs added up) and announces it in an event
  // whose schema caps the quantity: a larger total would leave the order stuck with its
  // stock held, so the API refuses it here.
  const totals = new Map<string, { quantity: number; first: number }>();
  const errors: FieldError[] = [];
  body.items.forEach((it, i) => {
    const t = totals.get(it.sku) ?? { quantity: 0, first: i };
    t.quantity += it.quantity;
    totals.set(it.sku, t);
  });
  for (const [sku, t] of totals) {
    if (t.quantity > MAX_SKU_QUANTITY) {
      errors.push({
        field: `/items/${t.first}/quantity`,
        message: `the lines for SKU ${sku} add up to ${t.quantity}; at most ${MAX_SKU_QUANTITY} of one SKU per order`,
      });
    }
  }
  return errors.length > 0 ? invalid(errors) : { ok: true, request: body };
}

function invalid(all: FieldError[]): Validation {
  return { ok: false, errors: all.slice(0, MAX_LISTED_ERRORS), moreErrors: Math.max(0, all.length - MAX_LISTED_ERRORS) };
}

function fieldError(e: ErrorObject): FieldError {
  const field = e.instancePath === "" ? "(body)" : e.instancePath;
  if (e.keyword === "additionalProperties") {
    return { field, message: `unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"` };
  }
  return { field, message: e.message ?? "invalid" };
}

export interface Pricing {
  /** Price per SKU in minor units. */
  prices: ReadonlyMap<string, number>;
  /** Price of a SKU not in the list. */
  defaultPrice: number;
  currency: string;
}

/** The amount to charge: the client's amount when given, otherwise from the price list. */
export function priceOrder(request: OrderRequest, pricing: Pricing): number {
  if (request.payment.amount !== undefined) return request.payment.amount;
  return request.items.reduce((sum, it) => sum + it.quantity * (pricing.prices.get(it.sku) ?? pricing.defaultPrice), 0);
}

/**
 * Time-ordered order id (sorts by creation time, so listing pages in creation order). The
 * random part comes from randomUUID, which draws from a pooled buffer (cheaper per call).
 */
export function newOrderId(nowMs: number, random: string = randomUUID().replace(/-/g, "").slice(0, 12)): string {
  return `o${nowMs.toString(36).padStart(9, "0")}${random}`;
}

export function bodyHash(raw: Buffer): string {
  return createHash("sha256").update(raw).digest("hex");
}

export function idempotencyHash(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 40);
}

export function newOrder(id: string, request: OrderRequest, pricing: Pricing, now: string): { record: OrderRecord; placed: OrderPlaced } {
  const amount = priceOrder(request, pricing);
  const currency = request.payment.currency ?? pricing.currency;
  const record: OrderRecord = {
    id,
    status: "placed",
    items: request.items,
    customer: request.customer,
    amount,
    currency,
    cardLast4: request.payment.card.slice(-4),
    createdAt: now,
    updatedAt: now,
    history: [{ status: "placed", at: now }],
  };
  const placed: OrderPlaced = {
    orderId: id,
    items: request.items,
    customer: request.customer,
    payment: { card: request.payment.card, amount, currency },
    placedAt: now,
  };
  return { record, placed };
}
