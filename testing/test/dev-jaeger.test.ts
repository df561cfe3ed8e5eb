// `make dev` with Jaeger (issue 20): started before the operator when built, every process
// sends it spans, endpoints.json names it (for make demo's link), and an order posted with a traceparent can be read
// back from Jaeger as one trace through the four services.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { toolPath, waitFor } from "../src/index.ts";
import { devTestEnv } from "./dev-helpers.ts";
import { parseDevConfig } from "../src/dev/config.ts";
import { orderBody } from "../src/dev/orders.ts";
import { startDevStack, type DevStack } from "../src/dev/stack.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
// Jaeger from the tools cache (`make tools` builds it; run alone, this builds it when missing),
// so the stack's "auto" finds it.
toolPath("jaeger");

describe("make dev with Jaeger", () => {
  let dir: string;
  let stack: DevStack;
  const log = new PassThrough();
  log.resume();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetmesh-dev-jaeger-"));
    const config = parseDevConfig(devTestEnv(join(dir, "state"), { JETMESH_DEV_JAEGER: "auto" }), root);
    stack = await startDevStack(config, log, () => {});
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("traces an order through the four services and the operator's reconciles", async () => {
    const jaegerUrl = stack.endpoints.jaegerUrl!;
    expect(jaegerUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // What make demo reads to print its trace link.
    expect(JSON.parse(readFileSync(join(dir, "state", "endpoints.json"), "utf8")).jaegerUrl).toBe(jaegerUrl);

    const traceId = randomBytes(16).toString("hex");
    const posted = await waitFor(
      "the order API to take an order",
      async () => {
        const res = await fetch(`${stack.endpoints.orderUrl}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json", traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` },
          body: JSON.stringify(orderBody(0)),
        });
        return res.status === 202 ? ((await res.json()) as { id: string }) : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(posted.id).toBeTruthy();
    const trace = await waitFor(
      "the order's trace in Jaeger with spans of all four services",
      async () => {
        const res = await fetch(`${jaegerUrl}/api/traces/${traceId}`);
        if (!res.ok) return undefined;
        const t = ((await res.json()) as { data: { spans: { processID: string }[]; processes: Record<string, { serviceName: string }> }[] }).data[0];
        const services = new Set(t?.spans.map((s) => t.processes[s.processID]!.serviceName));
        return ["order", "inventory", "payment", "shipping"].every((s) => services.has(s)) ? t : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(trace.spans.length).toBeGreaterThanOrEqual(10);
    // The operator's reconciles are traces of their own.
    const services = await waitFor(
      "the operator in Jaeger's services",
      async () => {
        const res = await fetch(`${jaegerUrl}/api/services`);
        const s = ((await res.json()) as { data: string[] | null }).data ?? [];
        return s.includes("jetmesh-operator") ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(services).toEqual(expect.arrayContaining(["jetmesh-operator", "order", "inventory", "payment", "shipping"]));
  });
});
