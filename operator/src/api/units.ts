// Durations and sizes as users write them in specs ("1m30s", "1Gi"), parsed once into numbers.

const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)/y;
const NS_PER: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

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

/** Kubernetes-style quantity of bytes ("512Mi", "1G", "1048576") to bytes. Throws on bad input. */
export function parseSizeBytes(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  if (!m) throw new Error(`invalid size "${text}": use bytes or a unit like 512Mi, 1Gi, 10G`);
  return Math.floor(Number(m[1]) * (SIZE_UNITS[m[2] ?? ""] as number));
}
