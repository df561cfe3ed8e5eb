// One arrival trace through the real thing, for calibrating the autoscaling simulation
// (npm run bench:autoscale -- --calibrate): the JetMesh operator (its native autoscaler, in
// this process) on the Kubernetes API test server, a real nats-server, and `make dev`'s
// process runner turning the subscriber Deployment's replica count into real subscriber
// processes (bench/lib/calibration-worker.ts, WORK_MS per event, one at a time). The trace's
// per-second arrivals are published in real time; every SAMPLE_MS the run reads the
// Deployment's spec.replicas and the consumer's ack floor, and measures what the simulation
// predicts: replica-seconds (spec.replicas, starting pods included), seconds during which the
// oldest unprocessed message is older than the objective, reaction to the burst, and the
// world's own parameters (start-up of each added replica, saturated throughput per replica).
import { readdirSync, readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { newEvent, Publisher } from "@jetmesh/mesh";
import { parseConfig, startOperator } from "@jetmesh/operator";
import { devDeployment, ProcessRunner, startKubeApiServer, startNats, waitFor, type RunnerSnapshot } from "@jetmesh/testing";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NS = "calib";
const SUBJECT = "calib.job.v1";
const SAMPLE_MS = 250;

export interface RealRunOptions {
  name: string;
  /** Events to publish in each second of the run (the simulation's arrivals). */
  arrivals: number[];
  /** Start of the burst whose reaction is measured (seconds into the run). */
  burstAt?: number;
  /** The EventSubscription's spec.scaling. */
  scaling: Record<string, unknown>;
  /** The objective: a message older than this is an SLO violation (maxDrainSeconds). */
  sloSeconds: number;
  /** Handler time per event in ms (one replica serves 1000 / workMs events/s). */
  workMs: number;
  log: (line: string) => void;
}

export interface RealRunResult {
  replicaSeconds: number;
  sloViolationSeconds: number;
  reactionSeconds: number | null;
  scaleActions: number;
  reversals: number;
  maxReplicas: number;
  maxAgeSeconds: number;
  arrived: number;
  processed: number;
  /** Seconds from spec.replicas raised to the new replica ready (consuming), per added replica. */
  startupSeconds: number[];
  /** Events per second of one replica while every ready replica had work (none if never saturated). */
  saturatedRatePerReplica: number | null;
}

type Obj = Record<string, any>;

export async function runReal(o: RealRunOptions): Promise<RealRunResult> {
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const kube = await startKubeApiServer();
    cleanups.push(() => kube.stop());
    const nats = await startNats();
    cleanups.push(() => nats.destroy());
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const publisher = new Publisher(jetstream(nc));

    const api = async (method: string, path: string, body?: Obj): Promise<Obj | undefined> => {
      const res = await fetch(`${kube.url}${path}`, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Obj;
    };
    const create = (obj: Obj) => {
      const [group, version] = String(obj.apiVersion).includes("/") ? String(obj.apiVersion).split("/") : ["", String(obj.apiVersion)];
      const plural = (
        {
          Namespace: "namespaces",
          EventStream: "eventstreams",
          EventSubscription: "eventsubscriptions",
          CustomResourceDefinition: "customresourcedefinitions",
          Deployment: "deployments",
        } as Record<string, string>
      )[String(obj.kind)];
      const ns = obj.metadata?.namespace ? `/namespaces/${obj.metadata.namespace}` : "";
      return api("POST", `${group ? `/apis/${group}/${version}` : `/api/${version}`}${ns}/${plural}`, obj);
    };
    for (const f of readdirSync(`${ROOT}crds`).filter((n) => n.endsWith(".yaml"))) {
      for (const d of parseAllDocuments(readFileSync(`${ROOT}crds/${f}`, "utf8"))) if (d.toJS()) await create(d.toJS() as Obj);
    }
    const minReplicas = Number(o.scaling.minReplicas ?? 1);
    await create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
    await create({
      apiVersion: "jetmesh.io/v1alpha1",
      kind: "EventStream",
      metadata: { name: "work", namespace: NS },
      spec: { subjects: ["calib.>"], storage: "memory" },
    });
    await create({
      apiVersion: "jetmesh.io/v1alpha1",
      kind: "EventSubscription",
      metadata: { name: "worker", namespace: NS },
      spec: {
        stream: "work",
        types: [SUBJECT],
        delivery: { startFrom: "all", ackWait: "30s", maxAckPending: 10_000 },
        subscriber: { deployment: "worker" },
        scaling: { ...o.scaling, mode: "native" },
      },
    });
    const deployment = devDeployment(
      NS,
      "worker",
      "bench/lib/calibration-worker.ts",
      {
        NATS_URL: nats.url,
        JETMESH_STREAM: `${NS}_work`,
        JETMESH_CONSUMER: `${NS}_worker`,
        JETMESH_TYPES: SUBJECT,
        JETMESH_DEAD_LETTER_SUBJECT: `jetmesh.dlq.${NS}.worker`,
      },
      { CONCURRENCY: "1", WORK_MS: String(o.workMs) },
      "warn",
    ) as Obj;
    deployment.spec.replicas = minReplicas;
    await create(deployment);

    const operator = await startOperator(
      parseConfig({
        KUBECONFIG: kube.kubeconfigPath,
        NATS_URL: nats.url,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        AUTOSCALE: "true",
        LEASE_DURATION_SECONDS: "2",
        LEASE_RENEW_DEADLINE_SECONDS: "1.5",
        LEASE_RETRY_PERIOD_SECONDS: "0.25",
      }),
    );
    cleanups.push(() => operator.stop());

    // Replica start-ups: from the moment the run saw spec.replicas rise to the replica's ready.
    const raisedAt: number[] = [];
    const readyAt = new Map<string, number>();
    const startupSeconds: number[] = [];
    const onChange = (snap: RunnerSnapshot) => {
      const now = performance.now();
      for (const w of snap.workloads)
        for (const r of w.replicas) {
          if (!r.ready || readyAt.has(`${r.name}/${r.pid}`)) continue;
          readyAt.set(`${r.name}/${r.pid}`, now);
          const since = raisedAt.shift();
          if (since !== undefined) startupSeconds.push(Math.round((now - since) / 100) / 10);
        }
    };
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const runner = new ProcessRunner({ kubeconfigPath: kube.kubeconfigPath, rootDir: ROOT, resyncMs: SAMPLE_MS, graceMs: 5000, log: quiet, onChange });
    await runner.start();
    cleanups.push(() => runner.stop());

    const depPath = `/apis/apps/v1/namespaces/${NS}/deployments/worker`;
    await waitFor(
      "the consumer and the minimum replicas ready",
      async () => {
        const info = await jsm.consumers.info(`${NS}_work`, `${NS}_worker`).catch(() => undefined);
        const d = await api("GET", depPath);
        return info !== undefined && (d?.status?.readyReplicas ?? 0) >= minReplicas;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    o.log(`${o.name}: operator, nats-server and ${minReplicas} replica(s) up; replaying ${o.arrivals.length} s of arrivals`);

    // Publish each second's arrivals spread over that second; remember when each sequence went out.
    const publishedAt = new Map<number, number>();
    const t0 = performance.now();
    let arrived = 0;
    const pubs: Promise<unknown>[] = [];
    const replay = (async () => {
      for (let t = 0; t < o.arrivals.length; t++) {
        const n = o.arrivals[t] ?? 0;
        for (let i = 0; i < n; i++) {
          const due = t0 + (t + (i + 0.5) / n) * 1000;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          const at = performance.now();
          arrived++;
          pubs.push(publisher.publish(newEvent({ type: SUBJECT, source: "/bench/autoscale", data: { t } })).then((ack) => publishedAt.set(ack.seq, at)));
        }
        if (n === 0) {
          const wait = t0 + (t + 1) * 1000 - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        }
      }
      await Promise.all(pubs);
    })();

    // Sample until the trace's end.
    const end = t0 + o.arrivals.length * 1000;
    let replicaSeconds = 0;
    let slo = 0;
    let reaction: number | null = null;
    let actions = 0;
    let reversals = 0;
    let lastDirection = 0;
    let maxReplicas = minReplicas;
    let maxAge = 0;
    let replicas = minReplicas;
    let last = performance.now();
    let processed = 0;
    let lastProgress = 0;
    const saturated: { acked: number; replicaSeconds: number } = { acked: 0, replicaSeconds: 0 };
    let prev: { at: number; ackFloor: number; pending: number; ready: number } | undefined;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      const now = performance.now();
      const dt = (now - last) / 1000;
      last = now;
      const [d, info] = await Promise.all([api("GET", depPath), jsm.consumers.info(`${NS}_work`, `${NS}_worker`)]);
      const next = Number(d?.spec?.replicas ?? replicas);
      const ready = Number(d?.status?.readyReplicas ?? 0);
      replicaSeconds += replicas * dt;
      if (next !== replicas) {
        actions++;
        const dir = Math.sign(next - replicas);
        if (lastDirection !== 0 && dir !== lastDirection) reversals++;
        lastDirection = dir;
        const t = (now - t0) / 1000;
        if (dir > 0 && reaction === null && o.burstAt !== undefined && t >= o.burstAt) reaction = Math.round((t - o.burstAt) * 10) / 10;
        for (let i = replicas; i < next; i++) raisedAt.push(now);
        if (dir < 0) raisedAt.length = Math.max(0, raisedAt.length - (replicas - next));
        replicas = next;
        maxReplicas = Math.max(maxReplicas, replicas);
      }
      // The oldest unprocessed message is the one after the ack floor (one subject, one consumer).
      const floor = info.ack_floor.stream_seq;
      processed = info.ack_floor.consumer_seq;
      const oldest = publishedAt.get(floor + 1);
      const age = oldest !== undefined && info.num_pending + info.num_ack_pending > 0 ? (now - oldest) / 1000 : 0;
      if (age > o.sloSeconds) slo += dt;
      maxAge = Math.max(maxAge, age);
      // Saturated: work waited at the server at both ends and the ready replicas did not change.
      if (prev && prev.pending > 0 && info.num_pending > 0 && prev.ready === ready && ready > 0) {
        saturated.acked += info.ack_floor.consumer_seq - prev.ackFloor;
        saturated.replicaSeconds += ready * ((now - prev.at) / 1000);
      }
      prev = { at: now, ackFloor: info.ack_floor.consumer_seq, pending: info.num_pending, ready };
      if (now - lastProgress > 30_000) {
        lastProgress = now;
        o.log(
          `${o.name}: t=${Math.round((now - t0) / 1000)}s replicas ${replicas} (ready ${ready}) backlog ${info.num_pending + info.num_ack_pending} oldest ${age.toFixed(1)}s`,
        );
      }
    }
    await replay;
    return {
      replicaSeconds: Math.round(replicaSeconds),
      sloViolationSeconds: Math.round(slo * 10) / 10,
      reactionSeconds: reaction,
      scaleActions: actions,
      reversals,
      maxReplicas,
      maxAgeSeconds: Math.round(maxAge * 10) / 10,
      arrived,
      processed,
      startupSeconds,
      saturatedRatePerReplica: saturated.replicaSeconds > 5 ? Math.round((saturated.acked / saturated.replicaSeconds) * 100) / 100 : null,
    };
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}
