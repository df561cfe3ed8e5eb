// Arrival rate and per-replica processing rate from successive consumer-info samples.
//
// JetStream gives counters, not rates: the consumer's ack floor only moves forward as
// messages are acknowledged, and its lag (num_pending + num_ack_pending) is what is left.
// So, between two samples:
//   acked    = Δ ack_floor.consumer_seq            (messages the replicas finished)
//   arrivals = acked + Δ(num_pending + num_ack_pending)   (what had to come in to explain it)
// Arrivals counted this way are exactly the messages matching the consumer's filter, which
// the stream's last sequence is not (other subjects share the stream).
//
// The per-replica rate is a *capacity* estimate: how fast one replica works when it has
// work. Throughput measured while replicas are idle says only how fast work arrives, so a
// sample updates the capacity only when the consumer was saturated for the whole interval
// (messages waited at the server at both ends) and the number of ready replicas did not
// change (pods starting or stopping would blur it). Unsaturated throughput is still a
// lower bound, so (with steady replicas) it can raise a known capacity, smoothed, but
// never create or lower one.

/** One reading of a consumer (plus how many replicas were ready to consume). */
export interface ConsumerSample {
  /** Wall-clock time of the reading, ms. */
  at: number;
  /** num_pending: matching messages not yet delivered. */
  pending: number;
  /** num_ack_pending: delivered, not yet acknowledged. */
  ackPending: number;
  /** ack_floor.consumer_seq: every delivery up to here is acknowledged. */
  ackFloorConsumerSeq: number;
  /** delivered.consumer_seq (used to detect a recreated consumer). */
  deliveredConsumerSeq: number;
  /** Replicas that were ready to consume when the sample was taken. */
  readyReplicas: number;
}

export interface RateTuning {
  /** Time constant of the arrival-rate EWMA the decision uses, seconds (long: ignores noise). */
  arrivalTauSeconds: number;
  /** Time constant of the fast arrival EWMA that detects level shifts, seconds. */
  arrivalFastTauSeconds: number;
  /**
   * When the fast estimate departs from the slow one by more than this many standard
   * deviations of Poisson noise, the load has changed: the slow estimate jumps to the fast.
   */
  shiftSigmas: number;
  /** Time constant of the capacity EWMA, seconds (longer: capacity changes slowly). */
  capacityTauSeconds: number;
  /** Below this the smoothed arrival rate is snapped to 0 after an interval without arrivals. */
  idleArrivalRate: number;
}

export const RATE_DEFAULTS: RateTuning = {
  arrivalTauSeconds: 20,
  arrivalFastTauSeconds: 2,
  shiftSigmas: 3,
  capacityTauSeconds: 10,
  idleArrivalRate: 0.05,
};

export interface RateState {
  last?: ConsumerSample;
  /** Smoothed matching-message arrival rate, msgs/s; undefined until two samples exist. */
  arrivalRate?: number;
  /** Fast EWMA of the same, for level-shift detection. */
  arrivalRateFast?: number;
  /** Smoothed capacity of one replica, msgs/s; undefined until a saturated interval was seen. */
  perReplicaRate?: number;
  /** Total acknowledgements per second in the last interval (not smoothed). */
  processedRate?: number;
}

export const INITIAL_RATE_STATE: RateState = {};

function ewma(prev: number | undefined, value: number, dtSeconds: number, tau: number): number {
  if (prev === undefined) return value;
  const alpha = 1 - Math.exp(-dtSeconds / tau);
  return prev + alpha * (value - prev);
}

/** Folds one sample into the rate state. Pure: returns a new state. */
export function updateRates(state: RateState, sample: ConsumerSample, tuning: RateTuning = RATE_DEFAULTS): RateState {
  const prev = state.last;
  if (prev === undefined) return { ...state, last: sample };
  const dt = (sample.at - prev.at) / 1000;
  if (!(dt > 0)) return { ...state, last: sample };
  // A consumer that was deleted and recreated starts its sequences again: the delta is
  // meaningless, so start over from this sample but keep what we learned about capacity.
  if (sample.ackFloorConsumerSeq < prev.ackFloorConsumerSeq || sample.deliveredConsumerSeq < prev.deliveredConsumerSeq) {
    return { perReplicaRate: state.perReplicaRate, last: sample };
  }
  const acked = sample.ackFloorConsumerSeq - prev.ackFloorConsumerSeq;
  const lagDelta = sample.pending + sample.ackPending - (prev.pending + prev.ackPending);
  const arrivals = Math.max(0, acked + lagDelta);
  // Two estimates: a slow one that does not chase Poisson noise (chasing it costs replicas
  // on a steady load) and a fast one; a departure beyond noise is a real change of load
  // (a burst, or the end of one) and the slow estimate follows at once.
  const fast = ewma(state.arrivalRateFast, arrivals / dt, dt, tuning.arrivalFastTauSeconds);
  let arrivalRate = ewma(state.arrivalRate, arrivals / dt, dt, tuning.arrivalTauSeconds);
  const a = 1 - Math.exp(-dt / tuning.arrivalFastTauSeconds);
  const noiseSigma = Math.sqrt(((a / (2 - a)) * Math.max(arrivalRate, 1)) / dt);
  if (Math.abs(fast - arrivalRate) > tuning.shiftSigmas * noiseSigma) arrivalRate = fast;
  if (arrivals === 0 && arrivalRate < tuning.idleArrivalRate) arrivalRate = 0;

  const processedRate = acked / dt;
  const replicas = Math.min(prev.readyReplicas, sample.readyReplicas);
  let perReplicaRate = state.perReplicaRate;
  if (replicas > 0 && acked > 0) {
    const observed = processedRate / replicas;
    const saturated = prev.pending > 0 && sample.pending > 0;
    const steady = prev.readyReplicas === sample.readyReplicas;
    if (saturated && steady) {
      perReplicaRate = ewma(perReplicaRate, observed, dt, tuning.capacityTauSeconds);
    } else if (steady && perReplicaRate !== undefined && observed > perReplicaRate) {
      // Smoothed, because an ack floor stuck behind one slow message jumps when it moves.
      perReplicaRate = ewma(perReplicaRate, observed, dt, tuning.capacityTauSeconds);
    }
  }
  return { last: sample, arrivalRate, arrivalRateFast: fast, perReplicaRate, processedRate };
}
