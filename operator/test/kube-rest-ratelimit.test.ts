// The client-side rate limit on the real request path: every request and every watch opening
// takes a token from the bucket (operator/src/kube/ratelimit.ts has the bucket's own tests).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { startKubeApiServer, waitFor, type KubeApiServer } from "@jetmesh/testing";
import { Informer, type KubeObject } from "../src/kube/informer.ts";
import { KubeRest, type RateLimiterWait } from "../src/kube/rest.ts";

const NAMESPACES = { group: "", version: "v1", plural: "namespaces" };

describe("Kubernetes API client rate limit", () => {
  let kube: KubeApiServer;
  beforeAll(async () => {
    kube = await startKubeApiServer();
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it("lets a burst of requests go at once and makes the rest wait for a token", async () => {
    const waits: RateLimiterWait[] = [];
    const rest = KubeRest.fromFile(kube.kubeconfigPath, { rateLimit: { qps: 10, burst: 2 }, onRateLimiterWait: (w) => waits.push(w) });
    try {
      expect(rest.rateLimit).toEqual({ qps: 10, burst: 2 });
      const names = ["rl-a", "rl-b", "rl-c", "rl-d"];
      await Promise.all(names.map((name) => rest.create(NAMESPACES, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } })));
      expect(waits).toHaveLength(4);
      expect(waits.every((w) => w.verb === "POST" && w.host === new URL(kube.url).host)).toBe(true);
      const seconds = waits.map((w) => w.seconds).sort((a, b) => a - b);
      // Two from the burst without waiting; the other two had to wait for the refill.
      expect(seconds.slice(0, 2)).toEqual([0, 0]);
      expect(seconds[2]).toBeGreaterThan(0);
      expect(seconds[3]).toBeGreaterThan(seconds[2] as number);
    } finally {
      rest.close();
    }
  });

  it("counts a watch once, when it opens, next to the list before it", async () => {
    const waits: RateLimiterWait[] = [];
    const rest = KubeRest.fromFile(kube.kubeconfigPath, { rateLimit: { qps: 100, burst: 10 }, onRateLimiterWait: (w) => waits.push(w) });
    const informer = new Informer<KubeObject>(
      rest,
      NAMESPACES,
      () => undefined,
      { stallTimeoutMs: 60_000, watchTimeoutSeconds: 300 },
      pino({ level: "silent" }),
    );
    try {
      informer.start();
      await informer.synced;
      await waitFor("the watch opened", () => informer.stats.watches === 1, { timeoutMs: 10_000 });
      // One token for the list, one for the watch; the events it delivers take none.
      await rest.create(NAMESPACES, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name: "rl-watched" } });
      await waitFor("the watch delivered", () => informer.get("/rl-watched") !== undefined, { timeoutMs: 10_000 });
      expect(waits.map((w) => w.verb)).toEqual(["GET", "GET", "POST"]);
    } finally {
      await informer.stop();
      rest.close();
    }
  });

  it("limits nothing when no rate limit is set", async () => {
    const rest = KubeRest.fromFile(kube.kubeconfigPath);
    try {
      expect(rest.rateLimit).toBeUndefined();
      await rest.list(NAMESPACES);
    } finally {
      rest.close();
    }
  });
});
