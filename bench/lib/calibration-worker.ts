// The subscriber of the autoscaler's calibration runs (bench/lib/autoscale-real.ts): a JetMesh
// service whose handler takes WORK_MS per event, one at a time (CONCURRENCY 1), waiting as a
// call to a downstream would — so one replica serves 1000 / WORK_MS events per second, the
// simulation's `serviceRate`, however many replicas share the machine's cores.
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError, main, type Env, type ServiceDefinition } from "@jetmesh/mesh";

const worker: ServiceDefinition<{ workMs: number }> = {
  name: "calibration-worker",
  config(env: Env) {
    const workMs = Number(env.WORK_MS ?? 100);
    if (!Number.isFinite(workMs) || workMs < 0) throw new ConfigError(`WORK_MS must be a number of milliseconds, got ${JSON.stringify(env.WORK_MS)}`);
    return { workMs };
  },
  setup(ctx) {
    const { workMs } = ctx.config;
    return Promise.resolve({ defaultHandler: () => sleep(workMs).then(() => undefined) });
  },
};

await main(worker);
