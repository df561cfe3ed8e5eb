// The operator's HTTP endpoint: /metrics (Prometheus), /healthz (the process works),
// /readyz (caches synced and NATS reachable; a standby that is not leader is ready too, so a
// rollout is not blocked by leader election).
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface HealthSource {
  ready(): { ok: boolean; details: Record<string, unknown> };
}

/** The /metrics text and its content type (the operator's depends on whether it leads). */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export async function startHttpServer(
  host: string,
  port: number,
  metrics: MetricsSource,
  health: HealthSource,
): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      metrics
        .text()
        .then((text) => {
          res.writeHead(200, { "content-type": metrics.contentType });
          res.end(text);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const r = health.ready();
      res.writeHead(r.ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify(r.details) + "\n");
      return;
    }
    res.writeHead(404);
    res.end("not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
