import { describe, expect, it } from "vitest";
import { parseDurationNs, parseSizeBytes } from "../src/api/units.ts";
import { resolveStreamSpec, resolveSubscriptionSpec } from "../src/api/spec.ts";
import { subjectCovers, subjectsOverlap } from "../src/api/subjects.ts";
import { setCondition } from "../src/api/conditions.ts";
import { validateName, jetStreamName } from "../src/api/names.ts";
import { statusPatch } from "../src/controller/status.ts";
import { confinementProblem, DEFAULT_SUBJECT_POLICY } from "../src/api/tenancy.ts";
import { needsReconcile } from "../src/controller/manager.ts";

describe("durations and sizes", () => {
  it.each([
    ["30s", 30e9],
    ["1m30s", 90e9],
    ["1.5h", 5400e9],
    ["250ms", 250e6],
    ["168h", 168 * 3600e9],
    ["10us", 10e3],
  ])("duration %s", (text, ns) => expect(parseDurationNs(text)).toBe(ns));

  it.each(["", "30", "1d", "s", "-1s", "1m 30s"])("refuses duration %j", (text) => expect(() => parseDurationNs(text)).toThrow(/invalid duration/));

  it.each([
    ["1Gi", 1024 ** 3],
    ["512Mi", 512 * 1024 ** 2],
    ["10G", 10e9],
    ["1048576", 1048576],
    ["1.5Ki", 1536],
  ])("size %s", (text, bytes) => expect(parseSizeBytes(text)).toBe(bytes));

  it.each(["1GB", "Gi", "-1", "1 Gi"])("refuses size %j", (text) => expect(() => parseSizeBytes(text)).toThrow(/invalid size/));

  it.each([
    // Used to become 0 bytes, which JetStream reads as "unlimited".
    ["0.5", /a byte count is a whole number/],
    ["0", /at least 1 byte/],
    ["0.0001Ki", /at least 1 byte/],
    ["99999999999Ti", /at most 9007199254740991 bytes/],
  ])("refuses size %j", (text, message) => expect(() => parseSizeBytes(text)).toThrow(message));

  it("bounds durations to what JetStream stores (64-bit nanoseconds)", () => {
    expect(parseDurationNs("2562047h")).toBe(2562047 * 3600e9);
    expect(() => parseDurationNs("99999999999h")).toThrow(/duration "99999999999h" is too long: at most 2562047h/);
    expect(() => parseDurationNs("2562048h")).toThrow(/too long/);
  });
});

describe("subjects", () => {
  it.each([
    ["shop.>", "shop.order.placed.v1", true],
    ["shop.>", "shop", false],
    ["shop.*", "shop.order", true],
    ["shop.*", "shop.order.placed", false],
    ["shop.*.placed", "shop.order.*", true],
    ["a.b", "a.c", false],
    [">", "x", true],
    ["jetmesh.dlq.>", "shop.>", false],
  ])("%s overlaps %s: %s", (a, b, want) => {
    expect(subjectsOverlap(a, b)).toBe(want);
    expect(subjectsOverlap(b, a)).toBe(want);
  });

  it.each([
    ["jetmesh.dlq.>", "jetmesh.dlq.shop.inventory", true],
    ["jetmesh.dlq.*", "jetmesh.dlq.shop.inventory", false],
    ["shop.*.x", "shop.a.x", true],
    ["shop.a.x", "shop.*.x", false],
    ["shop.>", "shop.>", true],
    ["shop.*", "shop.>", false],
  ])("%s covers %s: %s", (outer, inner, want) => expect(subjectCovers(outer, inner)).toBe(want));
});

describe("EventStream spec", () => {
  it("fills the CRD's defaults", () => {
    const r = resolveStreamSpec({ subjects: ["shop.>"] });
    expect(r).toEqual({
      ok: true,
      value: {
        subjects: ["shop.>"],
        retention: "limits",
        storage: "file",
        replicas: 1,
        maxAgeNs: 0,
        maxBytes: -1,
        maxMsgs: -1,
        maxMsgSize: -1,
        discard: "old",
        duplicateWindowNs: 120e9,
        maxConsumers: -1,
        deletionPolicy: "Retain",
      },
    });
  });

  it.each([
    [{ subjects: [] }, /at least one subject/],
    [{ subjects: ["shop order"] }, /not a valid subject/],
    [{ subjects: ["a.>.b"] }, /not a valid subject/],
    [{ subjects: ["a", "a"] }, /unique/],
    [{ subjects: ["a"], maxAge: "1m", duplicateWindow: "2m" }, /duplicateWindow \(2m\) must not exceed spec.maxAge \(1m\)/],
    [{ subjects: ["a"], maxBytes: "lots" }, /spec.maxBytes: invalid size/],
    [{ subjects: ["a"], replicas: 7 }, /replicas/],
    [{ subjects: ["a"], maxBytes: "0.5" }, /spec.maxBytes: invalid size "0.5"/],
    [{ subjects: ["a"], maxAge: "99999999999h" }, /spec.maxAge: duration "99999999999h" is too long/],
    [{ subjects: ["a"], duplicateWindow: "99999999999h" }, /spec.duplicateWindow: duration "99999999999h" is too long/],
    [{ subjects: ["a"], maxMsgSize: "4Gi" }, /spec.maxMsgSize \(4Gi\): at most 2147483647 bytes/],
    [{ subjects: ["a"], maxConsumers: 0 }, /spec.maxConsumers \(0\): must be an integer from 1 to 1000000/],
    [{ subjects: ["a"], maxConsumers: 2.5 }, /spec.maxConsumers \(2.5\): must be an integer/],
    // Reserved subjects: replies, JetStream/KV/system subjects, wildcard first tokens.
    [{ subjects: ["_INBOX.>"] }, /"_INBOX.>" is a reply subject/],
    [{ subjects: ["$JS.ACK.>"] }, /"\$JS.ACK.>" is a system subject/],
    [{ subjects: ["$JS.>"] }, /system subject/],
    [{ subjects: ["$KV.shop_orders.>"] }, /system subject/],
    [{ subjects: ["$SYS.>"] }, /system subject/],
    [{ subjects: ["$O.>"] }, /system subject/],
    [{ subjects: [">"] }, /">" starts with a wildcard/],
    [{ subjects: ["*.>"] }, /starts with a wildcard/],
    [{ subjects: ["*.order.placed.v1"] }, /starts with a wildcard/],
  ])("refuses %j", (spec, message) => {
    const r = resolveStreamSpec(spec as never);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join("; ")).toMatch(message);
  });
});

describe("EventSubscription spec", () => {
  it("fills delivery defaults", () => {
    const r = resolveSubscriptionSpec({ stream: "events", types: ["shop.order.placed.v1"] });
    expect(r.ok && r.value).toEqual({
      stream: "events",
      types: ["shop.order.placed.v1"],
      startFrom: { kind: "new" },
      ackWaitNs: 30e9,
      maxDeliver: 5,
      backoffNs: [],
      maxAckPending: 1000,
      circuitBreaker: { failureThreshold: 10, windowNs: 30e9, coolDownNs: 10e9 },
      paused: false,
    });
    const off = resolveSubscriptionSpec({ stream: "events", delivery: { circuitBreaker: { enabled: false } } });
    expect(off.ok && off.value.circuitBreaker).toBeUndefined();
    const bad = resolveSubscriptionSpec({ stream: "events", delivery: { circuitBreaker: { failureThreshold: 0, coolDown: "soon" } } });
    expect(!bad.ok && bad.problems.join("; ")).toMatch(/circuitBreaker.failureThreshold: must be an integer ≥ 1, got 0.*circuitBreaker.coolDown/);
  });

  it("parses startFrom times and backoff", () => {
    const r = resolveSubscriptionSpec({
      stream: "s",
      delivery: { startFrom: "2026-01-02T03:04:05+01:00", backoff: ["1s", "5s"], maxDeliver: 3 },
      deadLetter: { stream: "dl" },
      subscriber: { deployment: "inventory" },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.startFrom).toEqual({ kind: "time", time: "2026-01-02T02:04:05.000Z" });
    expect(r.value.backoffNs).toEqual([1e9, 5e9]);
    expect(r.value.deadLetterStream).toBe("dl");
    expect(r.value.deployment).toBe("inventory");
  });

  it.each([
    [{ stream: "s", delivery: { backoff: ["1s", "2s", "3s"], maxDeliver: 2 } }, /backoff has 3 entries but maxDeliver is 2/],
    [{ stream: "s", delivery: { startFrom: "yesterday" } }, /neither new, all nor an RFC 3339 time/],
    [{ stream: "s", delivery: { ackWait: "soon" } }, /ackWait: invalid duration/],
    [{ stream: "s", scaling: { minReplicas: 5, maxReplicas: 2 } }, /minReplicas must not exceed maxReplicas/],
    [{ stream: "", types: ["a b"] }, /spec.stream.*; spec.types: "a b"/],
    [{ stream: "s", types: ["_INBOX.x"] }, /spec.types: "_INBOX.x" is a reply subject/],
    [{ stream: "s", delivery: { backoff: ["99999999999h"] } }, /spec.delivery.backoff\[0\]: duration "99999999999h" is too long/],
    [{ stream: "s", subscriber: { deployment: "n", http: {} } }, /set either service \(with port and path\) or url/],
    [{ stream: "s", subscriber: { deployment: "n", http: { service: "n", url: "http://x/" } } }, /set either service/],
    [{ stream: "s", subscriber: { deployment: "n", http: { url: "http://x/", port: 80 } } }, /port and path go with service/],
    [{ stream: "s", subscriber: { deployment: "n", http: { url: "ftp://x/" } } }, /must be http or https, got ftp:/],
    [{ stream: "s", subscriber: { deployment: "n", http: { url: "http://u:p@x/" } } }, /must not carry credentials/],
    [{ stream: "s", subscriber: { deployment: "n", http: { service: "Not_A_Name" } } }, /is not a Service name/],
    [{ stream: "s", subscriber: { deployment: "n", http: { service: "n", port: 70000 } } }, /port: must be 1..65535/],
    [{ stream: "s", subscriber: { deployment: "n", http: { service: "n", path: "events" } } }, /path: must start with \//],
    [
      { stream: "s", delivery: { ackWait: "5s" }, subscriber: { deployment: "n", http: { service: "n", timeout: "10s" } } },
      /timeout \(10s\) must be shorter than spec.delivery.ackWait \(5s\)/,
    ],
    [{ stream: "s", subscriber: { deployment: "n", http: { service: "n", replyTypes: ["$JS.API.>"] } } }, /replyTypes: "\$JS.API.>" is a system subject/],
  ])("refuses %j", (spec, message) => {
    const r = resolveSubscriptionSpec(spec as never);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join("; ")).toMatch(message);
  });
});

describe("EventSubscription HTTP target", () => {
  it("resolves a Service target with defaults, and a URL target", () => {
    const svc = resolveSubscriptionSpec({
      stream: "s",
      subscriber: { deployment: "notifications", http: { service: "notifications", replyTypes: ["shop.notification.sent.v1"] } },
    });
    expect(svc.ok && svc.value.http).toEqual({
      target: { kind: "service", service: "notifications", port: 80, path: "/" },
      timeoutMs: 10_000,
      replyTypes: ["shop.notification.sent.v1"],
    });
    const url = resolveSubscriptionSpec({ stream: "s", subscriber: { deployment: "n", http: { url: "https://hooks.example.com/in?x=1", timeout: "2s" } } });
    expect(url.ok && url.value.http).toEqual({ target: { kind: "url", url: "https://hooks.example.com/in?x=1" }, timeoutMs: 2000, replyTypes: [] });
  });
});

describe("subject confinement", () => {
  const allowAll = { confinement: "off" as const, allowed: {} };
  const legacy = { confinement: "namespace" as const, allowed: { legacy: ["orders.>"], "*": ["public.announcements.>"] } };
  it.each([
    [DEFAULT_SUBJECT_POLICY, "shop", ["shop.>", "jetmesh.dlq.shop.>", "shop.order.placed.v1"], undefined],
    [DEFAULT_SUBJECT_POLICY, "shop", ["jetmesh.dlq.>"], /"jetmesh.dlq.>" is outside namespace shop's subjects \(shop.>, jetmesh.dlq.shop.>\)/],
    [DEFAULT_SUBJECT_POLICY, "team-a", ["shop.>"], /"shop.>" is outside namespace team-a's subjects/],
    [DEFAULT_SUBJECT_POLICY, "shop", ["shopping.>"], /outside/],
    [DEFAULT_SUBJECT_POLICY, "shop", ["shop"], /outside/],
    [legacy, "legacy", ["orders.>", "legacy.x", "public.announcements.v1"], undefined],
    [legacy, "other", ["orders.>"], /outside namespace other's subjects \(other.>, jetmesh.dlq.other.>, public.announcements.>\)/],
    [allowAll, "any", ["orders.>", "x"], undefined],
  ])("%j: namespace %s may use %j", (policy, ns, subjects, problem) => {
    const p = confinementProblem(policy, ns, "spec.subjects", subjects);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(problem);
  });
});

describe("names", () => {
  it("maps to JetStream names and refuses dots", () => {
    expect(jetStreamName("shop", "dead-letters")).toBe("shop_dead-letters");
    expect(validateName("inventory")).toBeUndefined();
    expect(validateName("a.b")).toMatch(/no "\."/);
  });
});

describe("conditions and status patches", () => {
  it("moves lastTransitionTime only when the status flips", () => {
    let c = setCondition(undefined, { type: "Ready", status: "False", reason: "NatsUnavailable", message: "x" }, "t1", 1);
    c = setCondition(c, { type: "Ready", status: "False", reason: "StreamNotFound", message: "y" }, "t2", 1);
    expect(c).toEqual([{ type: "Ready", status: "False", reason: "StreamNotFound", message: "y", lastTransitionTime: "t1", observedGeneration: 1 }]);
    c = setCondition(c, { type: "Ready", status: "True", reason: "Ready", message: "z" }, "t3", 2);
    c = setCondition(c, { type: "Scaling", status: "True", reason: "Scaling", message: "s" }, "t4");
    expect(c.map((x) => [x.type, x.lastTransitionTime])).toEqual([
      ["Ready", "t3"],
      ["Scaling", "t4"],
    ]);
  });

  it.each([
    [{ a: 1, b: [1] }, { a: 1, b: [1] }, undefined],
    [{ a: 1 }, { a: 2 }, { a: 2 }],
    [{ a: 1, lastError: "x" }, { a: 1 }, { lastError: null }],
    [undefined, { a: 1 }, { a: 1 }],
    [{ a: 1, replicas: 3 }, { a: 1 }, undefined], // not owned: left alone
  ])("patch from %j to %j is %j", (cur, next, want) => {
    expect(statusPatch(cur as never, next, ["a", "b", "lastError"])).toEqual(want);
  });

  it.each([
    ["added", { g: 1 }, undefined, true],
    ["updated", { g: 2 }, { g: 1 }, true],
    ["updated", { g: 1 }, { g: 1 }, false],
    ["updated", { g: 1, d: "now" }, { g: 1 }, true],
    ["deleted", { g: 1 }, { g: 1 }, true],
  ])("%s gen %j after %j reconciles: %s", (type, o, old, want) => {
    const meta = (x: { g: number; d?: string } | undefined) => x && { metadata: { name: "n", generation: x.g, deletionTimestamp: x.d } };
    expect(needsReconcile(type as never, meta(o)!, meta(old))).toBe(want);
  });
});
