import { createConnection } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { freePort, startNats, waitFor, type NatsCluster } from "@jetmesh/testing";
import { ConfigError, newEvent, Publisher, runService, type ServiceHandle } from "@jetmesh/mesh";
import { tinyService } from "./fixtures/tiny-service.ts";

const fixture = fileURLToPath(new URL("./fixtures/tiny-service.ts", import.meta.url));
const silent = { write() {} };

function runFixture(env: Record<string, string>, timeoutMs = 15_000): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", fixture], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (b) => (stderr += b));
    child.stdout.on("data", (b) => (stdout += b));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fixture did not exit within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

describe("service shell configuration", () => {
  it("exits with code 2 and names every bad variable", async () => {
    const r = await runFixture({ HTTP_PORT: "99999", NATS_URL: "nats://127.0.0.1:1", JETMESH_CONSUMER: "c", NATS_USER: "u" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tiny: invalid configuration/);
    expect(r.stderr).toContain('HTTP_PORT must be an integer from 0 to 65535, got "99999"');
    expect(r.stderr).toContain("JETMESH_STREAM and JETMESH_CONSUMER must be set together");
    expect(r.stderr).toContain("JETMESH_DEAD_LETTER_SUBJECT is required when JETMESH_CONSUMER is set");
    expect(r.stderr).toContain("NATS_USER and NATS_PASSWORD must be set together");
    expect(r.stderr).toContain("TINY_GREETING must be set");
  });

  it("throws ConfigError from runService (in-process use)", async () => {
    await expect(runService(tinyService, { TINY_GREETING: "hi", NATS_CREDS_FILE: "/nonexistent/creds", HTTP_PORT: "0" })).rejects.toThrow(ConfigError);
    await expect(runService(tinyService, { TINY_GREETING: "hi", NATS_CREDS_FILE: "/nonexistent/creds" })).rejects.toThrow(
      /NATS_CREDS_FILE: cannot read \/nonexistent\/creds \(ENOENT\)/,
    );
  });

  it("names a bad NATS_URL without printing its password", async () => {
    const err = await runService(tinyService, { TINY_GREETING: "hi", NATS_URL: "nats://order:hunter2secret@nats:4222/x" }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('NATS_URL: "nats://order:***@nats:4222/x" is not a server URL');
    expect((err as Error).message).not.toContain("hunter2secret");
  });
});

describe("service shell with NATS", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    jsm = await jetstreamManager(nc);
    js = jetstream(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.destroy();
  });

  const env = (extra: Record<string, string> = {}) => ({
    NATS_URL: nats.url,
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    JETMESH_STREAM: "tiny",
    JETMESH_CONSUMER: "tiny_svc",
    JETMESH_TYPES: "tiny.ping.v1",
    JETMESH_DEAD_LETTER_SUBJECT: "jetmesh.dlq.tiny.svc",
    TINY_GREETING: "hello there",
    ...extra,
  });

  it("serves health, readiness, metrics and its own routes; becomes ready once its consumer exists", async () => {
    const svc = await runService(tinyService, env(), { logDestination: silent });
    try {
      const get = (p: string) => fetch(svc.url + p);
      expect((await get("/healthz")).status).toBe(200);
      // The consumer does not exist yet: alive, not ready.
      const notReady = await get("/readyz");
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({ ready: false, natsConnected: true, consuming: false });
      expect(await (await get("/hello")).text()).toBe("hello there");
      expect((await get("/nope")).status).toBe(404);

      await jsm.streams.add({ name: "tiny", subjects: ["tiny.>"] });
      await jsm.streams.add({ name: "dead_letters", subjects: ["jetmesh.dlq.>"] });
      await jsm.consumers.add("tiny", {
        durable_name: "tiny_svc",
        ack_policy: AckPolicy.Explicit,
        max_deliver: 3,
        ack_wait: 5_000_000_000,
        filter_subject: "tiny.ping.v1",
      });
      await waitFor("ready", async () => (await get("/readyz")).status === 200, { timeoutMs: 15_000, intervalMs: 100 });

      const pub = new Publisher(js);
      await pub.publish(newEvent({ type: "tiny.ping.v1", source: "/test", data: { n: 1 } }));
      await waitFor("pong", () => jsm.streams.getMessage("tiny", { last_by_subj: "tiny.pong.v1" }).catch(() => undefined));
      await waitFor("pong seen by the consumer", async () => (await jsm.consumers.info("tiny", "tiny_svc")).num_ack_pending === 0);

      const metrics = await (await get("/metrics")).text();
      expect(metrics).toContain('jetmesh_events_processed_total{service="tiny",type="tiny.ping.v1",outcome="acked"} 1');
      // Its own follow-up is outside its consumer's filter: never delivered to it.
      expect(metrics).not.toMatch(/jetmesh_events_processed_total\{[^}]*type="tiny.pong.v1"/);
      expect(metrics).toContain('jetmesh_events_published_total{service="tiny",type="tiny.pong.v1"} 1');
      expect(metrics).toContain('jetmesh_nats_connected{service="tiny"} 1');
      expect(metrics).toContain('jetmesh_events_in_flight{service="tiny"} 0');
      expect(metrics).toMatch(/jetmesh_event_processing_seconds_bucket\{le="0.1",service="tiny",type="tiny.ping.v1"\} 1/);
      expect(metrics).toContain('jetmesh_http_requests_total{service="tiny",route="/readyz",code="503"}');
      expect(metrics).toContain("# TYPE jetmesh_dead_letters_total counter");
      expect(metrics).toMatch(/process_cpu_user_seconds_total/);
    } finally {
      await svc.stop();
    }
    await expect(fetch(svc.url + "/healthz")).rejects.toThrow();
  });

  it("logs the NATS URL it connects to without the password", async () => {
    // Same as the first test's (creating an identical stream or consumer again is a no-op).
    await jsm.streams.add({ name: "tiny", subjects: ["tiny.>"] });
    await jsm.consumers.add("tiny", {
      durable_name: "tiny_svc",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 3,
      ack_wait: 5_000_000_000,
      filter_subject: "tiny.ping.v1",
    });
    let logged = "";
    const withPassword = nats.url.replace("nats://", "nats://tiny:hunter2secret@");
    const svc = await runService(tinyService, env({ NATS_URL: withPassword, LOG_LEVEL: "info" }), {
      logDestination: { write: (s: string) => void (logged += s) },
    });
    try {
      await waitFor("ready", () => svc.ready && logged.includes("connected to NATS"), { timeoutMs: 15_000 });
    } finally {
      await svc.stop();
    }
    expect(logged).toContain(`"servers":["${withPassword.replace("hunter2secret", "***")}"]`);
    expect(logged).not.toContain("hunter2secret");
  });

  it("closes a connection whose headers trickle in slower than HTTP_HEADERS_TIMEOUT_MS, with 408", async () => {
    const svc = await runService(tinyService, env({ HTTP_HEADERS_TIMEOUT_MS: "500", HTTP_REQUEST_TIMEOUT_MS: "1000" }), { logDestination: silent });
    const socket = createConnection({ host: "127.0.0.1", port: svc.port });
    let answer = "";
    let closed = false;
    socket.on("data", (b: Buffer) => (answer += b.toString()));
    socket.on("close", () => (closed = true));
    socket.on("error", () => undefined);
    try {
      socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      // One header byte every 100 ms: headers never complete. Bounded: at most 200 bytes.
      let sent = 0;
      const drip = setInterval(() => {
        if (closed || sent++ >= 200) return clearInterval(drip);
        socket.write("x");
      }, 100);
      try {
        await waitFor("the server to close the slow connection", () => closed, { timeoutMs: 20_000, intervalMs: 50 });
      } finally {
        clearInterval(drip);
      }
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      // A normal request is still served.
      expect((await fetch(svc.url + "/healthz")).status).toBe(200);
    } finally {
      socket.destroy();
      await svc.stop();
    }
  });

  it("shuts down gracefully on SIGTERM with exit code 0", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ["--conditions=source", fixture], {
      env: { PATH: process.env.PATH ?? "", ...env({ HTTP_PORT: String(port), LOG_LEVEL: "info" }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await waitFor("child ready", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, { timeoutMs: 15_000, intervalMs: 100 });
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const lines = out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; service: string });
      expect(lines.every((l) => l.service === "tiny")).toBe(true);
      expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["consuming", "shutting down", "stopped"]));
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("resumes consuming by itself after nats-server is killed and restarted; nothing acknowledged is lost", async () => {
    await jsm.streams.add({ name: "tiny", subjects: ["tiny.>"] }).catch(() => undefined);
    await jsm.consumers.add("tiny", { durable_name: "tiny_rc", ack_policy: AckPolicy.Explicit, max_deliver: -1, ack_wait: 3_000_000_000 });
    const svc: ServiceHandle<{ greeting: string }> = await runService(tinyService, env({ JETMESH_CONSUMER: "tiny_rc", PUBLISH_TIMEOUT_MS: "1500" }), {
      logDestination: silent,
    });
    const pub = new Publisher(js, { maxInFlight: 16, timeoutMs: 1000 });
    const acked = new Set<string>();
    const total = 300;
    const t0 = Date.now();
    const phase = (what: string) => process.env.TEST_DEBUG && console.log(`${Date.now() - t0} ms: ${what}`);
    try {
      await waitFor("ready", () => svc.ready, { timeoutMs: 10_000 });
      // Publishes keep going while the server is killed and restarted (mid-stream).
      const publishing = (async () => {
        for (let i = 0; i < total; i++) {
          const e = newEvent({ type: "tiny.ping.v1", source: "/test", data: { i }, id: `rc-${i}` });
          // Retried until JetStream acknowledges it: only acknowledged inputs count.
          await waitFor(`publish ${i}`, async () => (await pub.publish(e), true), { timeoutMs: 30_000, intervalMs: 100 });
          acked.add(e.id);
        }
      })();
      await waitFor("a third published", () => acked.size >= total / 3);
      phase("kill");
      await nats.node(0).kill();
      await waitFor("not ready while NATS is down", async () => (await fetch(svc.url + "/readyz")).status === 503, { timeoutMs: 10_000 });
      phase("start");
      await nats.node(0).start();
      await publishing;
      phase("published all");
      await waitFor(
        "all inputs answered",
        async () => {
          const info = await jsm.consumers.info("tiny", "tiny_rc");
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
        { timeoutMs: 40_000, intervalMs: 200 },
      );
      phase("all answered");
      await waitFor("ready again", () => svc.ready, { timeoutMs: 10_000 });
      // Every acknowledged input produced its (deduplicated) follow-up.
      const pongs = new Set<number>();
      const reader = await js.consumers.get("tiny");
      const it = await reader.fetch({ max_messages: 5000, expires: 2000 });
      for await (const m of it) {
        const ping = (m.json() as { ping?: { i?: unknown } }).ping;
        if (m.subject === "tiny.pong.v1" && typeof ping?.i === "number") pongs.add(ping.i);
        if (m.info.pending === 0) break;
      }
      expect(acked.size).toBe(total);
      const missing = [...acked].map((id) => Number(id.slice(3))).filter((i) => !pongs.has(i));
      expect(missing).toEqual([]);
      expect(pongs.size).toBe(total);
    } finally {
      await svc.stop();
    }
  }, 90_000);
});
