// The operator's HTTP endpoint: /metrics (Prometheus), /healthz (the process works),
// /readyz (caches synced and NATS reachable; a standby that is not leader is ready too, so a
// rollout is not blocked by leader election).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthSource {
  ready(): { ok: boolean; details: Record<string, unknown> };
}

export async function startHttpServer(host: string, port: number, registry: Registry, health: HealthSource): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { "content-type": registry.contentType });
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
