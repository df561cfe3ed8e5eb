// Seeded, reproducible input generation for the fuzz tests: a small PRNG and mutators that
// turn valid inputs into almost-valid ones (the interesting kind).

export { prng } from "../random.ts";

export function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

const INTERESTING = [
  "",
  "%",
  "%0",
  "%zz",
  "%C3%28",
  "%00",
  "\u0000",
  "\uffff",
  "-1",
  "0",
  "1e309",
  "NaN",
  "null",
  "true",
  "[]",
  "{}",
  '"',
  "\\",
  "💥",
  "a".repeat(300),
  "1.0",
  "0.3",
  "shop.>",
  "*",
];

/** Flips, inserts, deletes or duplicates a few bytes. */
export function mutateBytes(rnd: () => number, input: Uint8Array): Uint8Array {
  const out = Array.from(input);
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rnd() * (out.length + 1));
    switch (Math.floor(rnd() * 4)) {
      case 0:
        if (out.length) out[Math.min(pos, out.length - 1)] = Math.floor(rnd() * 256);
        break;
      case 1:
        out.splice(pos, 0, Math.floor(rnd() * 256));
        break;
      case 2:
        out.splice(pos, 1 + Math.floor(rnd() * 8));
        break;
      default:
        out.splice(pos, 0, ...out.slice(pos, pos + Math.floor(rnd() * 16)));
    }
  }
  return new Uint8Array(out);
}

/** A JSON value with some of its leaves, keys or types replaced by odd ones. */
export function mutateJson(rnd: () => number, value: unknown, depth = 0): unknown {
  if (rnd() < 0.08) return pick(rnd, [null, -1, 0, 1.5, 1e300, "", "x".repeat(70), [], {}, true, INTERESTING[Math.floor(rnd() * INTERESTING.length)]]);
  if (Array.isArray(value)) {
    const arr = value.map((v) => mutateJson(rnd, v, depth + 1));
    if (rnd() < 0.1) arr.push(...Array.from({ length: Math.floor(rnd() * 80) }, () => arr[0]));
    if (rnd() < 0.05) arr.length = 0;
    return arr;
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (rnd() < 0.05) continue;
      out[rnd() < 0.03 ? pick(rnd, ["__proto__", "constructor", "", "Extra", k + "x"]) : k] = mutateJson(rnd, v, depth + 1);
    }
    return out;
  }
  return value;
}

/** A header map with values mutated by the binding's troublemakers. */
export function mutateHeaders(rnd: () => number, headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const r = rnd();
    if (r < 0.08) continue;
    const name = rnd() < 0.05 ? pick(rnd, [k.toUpperCase(), k + "-x", "ce-", "ce-Data", "content-type"]) : k;
    out[name] = r < 0.3 ? pick(rnd, INTERESTING) : r < 0.4 ? v + pick(rnd, INTERESTING) : v;
  }
  if (rnd() < 0.1)
    out["content-type"] = pick(rnd, ["application/cloudevents+json", "application/cloudevents-batch+json", "application/cloudevents", "text/plain"]);
  return out;
}
