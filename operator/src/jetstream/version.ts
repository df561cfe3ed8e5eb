// The nats-server versions JetMesh supports (docs/runtime.md): 2.11 and later, so every server
// has filter_subjects, consumer metadata and consumer pause, and nothing here branches on it.

export const OLDEST_SUPPORTED_NATS = "2.11.0";

export function parseVersion(v: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) return [0, 0, 0];
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function atLeast(v: string, major: number, minor: number): boolean {
  const [a, b] = parseVersion(v);
  return a > major || (a === major && b >= minor);
}

/** A sentence for the log when the server is older than supported; undefined when it is fine. */
export function unsupportedServer(version: string): string | undefined {
  const [major, minor] = parseVersion(OLDEST_SUPPORTED_NATS);
  if (atLeast(version, major, minor)) return undefined;
  return `nats-server ${version} is older than the oldest supported ${OLDEST_SUPPORTED_NATS}: JetStream will refuse multi-type subscriptions (filter_subjects), and spec.paused does nothing; upgrade the server`;
}
