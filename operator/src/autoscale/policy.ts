// The `spec.scaling` block of an EventSubscription, parsed and validated once into a typed
// policy. Everything downstream (decide, autoscaler, render) takes a ScalingPolicy and never
// looks at the raw object again.

export type ScalingMode = "native" | "keda" | "hpa";

export interface ScalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  /** Lag one replica may carry before another is wanted (KEDA's lagThreshold). */
  targetLagPerReplica: number;
  /** Time-to-drain objective: the backlog should be gone within this many seconds. */
  maxDrainSeconds: number;
  /** Scale-down waits for the highest recommendation of this many seconds (HPA-style). */
  scaleDownStabilizationSeconds: number;
  mode: ScalingMode;
  /** Seconds between two reads of the consumer (native mode). */
  pollIntervalSeconds: number;
}

/** Defaults and why: see docs/autoscaling.md ("Defaults"). */
export const SCALING_DEFAULTS = {
  minReplicas: 1,
  maxReplicas: 10,
  targetLagPerReplica: 100,
  maxDrainSeconds: 30,
  scaleDownStabilizationSeconds: 60,
  mode: "native" as ScalingMode,
  pollIntervalSeconds: 2,
} as const;

/** A spec the user must fix; the message says which field and why. */
export class ScalingSpecError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`spec.scaling.${field}: ${message}`);
    this.name = "ScalingSpecError";
    this.field = field;
  }
}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * Parses a Kubernetes/Go-style duration ("60s", "2m", "1m30s", "500ms") into seconds.
 * A bare number is taken as seconds. Returns undefined when the text is not a duration.
 */
export function parseDurationSeconds(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? text : undefined;
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = part.exec(s); m !== null; m = part.exec(s)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2] as string]!;
    consumed = part.lastIndex;
  }
  return consumed === s.length && s.length > 0 ? total : undefined;
}

function intField(raw: Record<string, unknown>, field: string, dflt: number, min: number): number {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new ScalingSpecError(field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function durationField(raw: Record<string, unknown>, field: string, dflt: number, minSeconds: number): number {
  const v = raw[field];
  if (v === undefined || v === null) return dflt;
  const secs = typeof v === "string" || typeof v === "number" ? parseDurationSeconds(v) : undefined;
  if (secs === undefined || secs < minSeconds) {
    throw new ScalingSpecError(field, `must be a duration like "60s" or "2m" of at least ${minSeconds}s, got ${JSON.stringify(v)}`);
  }
  return secs;
}

/**
 * Parses `spec.scaling` (undefined → all defaults). Throws ScalingSpecError with a message a
 * person can act on; the reconciler turns it into `Scaling=False reason InvalidSpec`.
 */
export function parseScalingPolicy(raw: unknown): ScalingPolicy {
  if (raw === undefined || raw === null) return { ...SCALING_DEFAULTS };
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ScalingSpecError("", "must be an object");
  const r = raw as Record<string, unknown>;
  const minReplicas = intField(r, "minReplicas", SCALING_DEFAULTS.minReplicas, 0);
  const maxReplicas = intField(r, "maxReplicas", Math.max(SCALING_DEFAULTS.maxReplicas, minReplicas), 1);
  if (maxReplicas < minReplicas) {
    throw new ScalingSpecError("maxReplicas", `must be ≥ minReplicas (${minReplicas}), got ${maxReplicas}`);
  }
  const targetLagPerReplica = intField(r, "targetLagPerReplica", SCALING_DEFAULTS.targetLagPerReplica, 1);
  // maxDrainSeconds may be written as a number of seconds or a duration string.
  const maxDrainSeconds = durationField(r, "maxDrainSeconds", SCALING_DEFAULTS.maxDrainSeconds, 1);
  const scaleDownStabilizationSeconds = durationField(r, "scaleDownStabilization", SCALING_DEFAULTS.scaleDownStabilizationSeconds, 0);
  const pollIntervalSeconds = durationField(r, "pollInterval", SCALING_DEFAULTS.pollIntervalSeconds, 0.1);
  const mode = r["mode"] ?? SCALING_DEFAULTS.mode;
  if (mode !== "native" && mode !== "keda" && mode !== "hpa") {
    throw new ScalingSpecError("mode", `must be one of native, keda, hpa, got ${JSON.stringify(mode)}`);
  }
  return {
    minReplicas,
    maxReplicas,
    targetLagPerReplica,
    maxDrainSeconds,
    scaleDownStabilizationSeconds,
    mode,
    pollIntervalSeconds,
  };
}
