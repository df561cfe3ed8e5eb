// The pure parts of the chart's `helm test` (operator/src/selftest.ts); the whole of it runs
// against the real control plane in real-cluster.test.ts.
import { describe, expect, it } from "vitest";
import { notReady, probeSubject } from "../src/selftest.ts";
import type { EventStream } from "../src/api/types.ts";

describe("probeSubject", () => {
  it.each([
    [["shop.>"], "shop.jetmesh.selftest.v1"],
    [["team-a.orders.*"], "team-a.orders.selftest"],
    [["billing.invoice.created.v1", "billing.>"], "billing.invoice.created.v1"],
    [["a.*.>"], "a.selftest.jetmesh.selftest.v1"],
  ])("%j → %s", (subjects, subject) => {
    expect(probeSubject(subjects)).toBe(subject);
  });
  it("refuses a stream without subjects", () => {
    expect(() => probeSubject([])).toThrow(/no subject/);
  });
});

describe("notReady", () => {
  const stream = (status: EventStream["status"], generation = 2): EventStream => ({
    apiVersion: "jetmesh.io/v1alpha1",
    kind: "EventStream",
    metadata: { name: "s", namespace: "n", generation },
    spec: { subjects: ["x.>"] },
    status,
  });
  const ready = { type: "Ready", status: "True" as const, reason: "StreamReady", message: "ok", lastTransitionTime: "2026-01-01T00:00:00Z" };
  it.each([
    ["no status", stream(undefined), "no Ready condition yet"],
    [
      "Ready=False",
      stream({ conditions: [{ ...ready, status: "False", reason: "NatsUnavailable", message: "down" }], observedGeneration: 2 }),
      "Ready=False NatsUnavailable: down",
    ],
    ["an older spec", stream({ conditions: [ready], observedGeneration: 1 }), "observedGeneration 1 behind generation 2"],
    ["ready", stream({ conditions: [ready], observedGeneration: 2 }), undefined],
  ])("%s", (_what, s, why) => {
    expect(notReady(s)).toBe(why);
  });
});
