// Durations and sizes as users write them in specs ("1m30s", "1Gi"), parsed once into numbers.

const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/y;
const NS_PER: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

// JetStream keeps durations as 64-bit nanoseconds (Go's time.Duration, at most ~292 years):
// a larger value made the whole request "invalid JSON" without naming the field.
export const MAX_DURATION_HOURS = 2_562_047;
const MAX_DURATION_NS = MAX_DURATION_HOURS * 3600e9;

/** Go-style duration ("1h30m", "250ms") to nanoseconds (JetStream's unit). Throws on bad input. */
export function parseDurationNs(text: string): number {
  if (!/^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/.test(text)) {
    throw new Error(`invalid duration "${text}": use e.g. 30s, 5m, 1h30m`);
  }
  let total = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(text); m; m = DURATION_PART.exec(text)) {
    total += Number(m[1]) * (NS_PER[m[2] as string] as number);
  }
  if (!(total <= MAX_DURATION_NS)) throw new Error(`duration "${text}" is too long: at most ${MAX_DURATION_HOURS}h (about 292 years, JetStream's limit)`);
  return Math.round(total);
}

export function parseDurationMs(text: string): number {
  return parseDurationNs(text) / 1e6;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/**
 * Kubernetes-style quantity of bytes ("512Mi", "1G", "1048576") to bytes. Throws on bad input,
 * including a value that is not a whole number of bytes ≥ 1: "0.5" used to become 0, which
 * JetStream reads as unlimited.
 */
export function parseSizeBytes(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  if (!m) throw new Error(`invalid size "${text}": use bytes or a unit like 512Mi, 1Gi, 10G`);
  const exact = Number(m[1]) * (SIZE_UNITS[m[2] ?? ""] as number);
  if (m[2] === undefined && !Number.isInteger(exact)) throw new Error(`invalid size "${text}": a byte count is a whole number (or use a unit: 0.5Ki)`);
  const bytes = Math.floor(exact);
  if (bytes < 1) throw new Error(`invalid size "${text}": must be at least 1 byte (leave the field unset for no limit)`);
  if (bytes > Number.MAX_SAFE_INTEGER) throw new Error(`invalid size "${text}": at most ${Number.MAX_SAFE_INTEGER} bytes (8 PiB)`);
  return bytes;
}
