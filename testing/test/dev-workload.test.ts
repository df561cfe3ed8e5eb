import { describe, expect, it } from "vitest";
import { deploymentStatus, planSlots, restartDelayMs, workloadFromDeployment, type SlotView } from "../src/dev/workload.ts";

const deployment = (over: { replicas?: number; command?: string; env?: { name: string; value?: string; valueFrom?: unknown }[] } = {}) => ({
  metadata: {
    name: "order",
    namespace: "shop",
    generation: 3,
    annotations: over.command === undefined ? { "jetmesh.io/dev-command": "services/order/src/main.ts" } : { "jetmesh.io/dev-command": over.command },
  },
  spec: {
    ...(over.replicas === undefined ? {} : { replicas: over.replicas }),
    template: { spec: { containers: [{ name: "order", env: over.env ?? [{ name: "NATS_URL", value: "nats://127.0.0.1:4222" }] }] } },
  },
});

describe("workloadFromDeployment", () => {
  it("reads command, env and replicas (default 1)", () => {
    const r = workloadFromDeployment(deployment());
    expect(r).toMatchObject({
      ok: true,
      workload: { key: "shop/order", replicas: 1, script: "services/order/src/main.ts", args: [], env: { NATS_URL: "nats://127.0.0.1:4222" }, generation: 3 },
    });
  });

  it.each([
    ["missing command", { command: "" }, /no jetmesh.io\/dev-command/],
    ["absolute path", { command: "/etc/passwd" }, /inside the repository/],
    ["parent path", { command: "../x.ts" }, /inside the repository/],
    ["valueFrom env", { env: [{ name: "X", valueFrom: { secretKeyRef: {} } }] }, /valueFrom/],
  ])("refuses %s with a reason", (_n, over, reason) => {
    const r = workloadFromDeployment(deployment(over));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it("changes the template hash with env but not with replicas", () => {
    const a = workloadFromDeployment(deployment({ replicas: 1 }));
    const b = workloadFromDeployment(deployment({ replicas: 4 }));
    const c = workloadFromDeployment(deployment({ env: [{ name: "NATS_URL", value: "nats://other:4222" }] }));
    if (!a.ok || !b.ok || !c.ok) throw new Error("unexpected refusal");
    expect(a.workload.templateHash).toBe(b.workload.templateHash);
    expect(a.workload.templateHash).not.toBe(c.workload.templateHash);
  });
});

const slot = (index: number, over: Partial<SlotView> = {}): SlotView => ({ index, alive: true, stopping: false, templateHash: "h", notBefore: 0, ...over });

describe("planSlots", () => {
  it.each<[string, number, SlotView[], number[], number[]]>([
    ["starts missing slots", 3, [slot(0)], [1, 2], []],
    ["stops extras highest first", 1, [slot(0), slot(1), slot(2)], [], [2, 1]],
    ["leaves stopping extras alone", 1, [slot(0), slot(1, { stopping: true })], [], []],
    ["restarts a crashed slot after its backoff", 1, [slot(0, { alive: false, notBefore: 100 })], [0], []],
    ["waits for a crashed slot's backoff", 1, [slot(0, { alive: false, notBefore: 5_000 })], [], []],
    ["replaces an outdated template", 2, [slot(0, { templateHash: "old" }), slot(1)], [], [0]],
    ["scales to zero", 0, [slot(0), slot(1)], [], [1, 0]],
  ])("%s", (_n, replicas, slots, start, stop) => {
    expect(planSlots(replicas, "h", slots, 1_000)).toEqual({ start, stop });
  });
});

describe("restartDelayMs", () => {
  it.each([
    [0, 0],
    [1, 500],
    [2, 1_000],
    [4, 4_000],
    [20, 30_000],
  ])("after %i crashes waits %i ms", (crashes, ms) => {
    expect(restartDelayMs(crashes)).toBe(ms);
  });
});

describe("deploymentStatus", () => {
  it("counts alive, updated and ready processes", () => {
    const s = deploymentStatus({ generation: 2, replicas: 3, templateHash: "h" }, [
      { alive: true, ready: true, templateHash: "h" },
      { alive: true, ready: false, templateHash: "old" },
      { alive: false, ready: false, templateHash: "h" },
    ]);
    expect(s).toEqual({ observedGeneration: 2, replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 2 });
  });
});
