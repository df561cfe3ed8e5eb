// nats-server version features that change what the operator may ask of JetStream.

export interface ServerFeatures {
  version: string;
  /** ≥ 2.10: consumers may filter on several subjects (filter_subjects). */
  multiFilter: boolean;
  /** ≥ 2.10: a consumer's filter can be edited in place. */
  filterUpdatable: boolean;
  /** ≥ 2.10: consumers carry metadata (used for the retry schedule next to the description). */
  consumerMetadata: boolean;
}

export function parseVersion(v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function atLeast(v: string, major: number, minor: number): boolean {
  const [a, b] = parseVersion(v);
  return a > major || (a === major && b >= minor);
}

export function featuresOf(version: string): ServerFeatures {
  const modern = atLeast(version, 2, 10);
  return { version, multiFilter: modern, filterUpdatable: modern, consumerMetadata: modern };
}
