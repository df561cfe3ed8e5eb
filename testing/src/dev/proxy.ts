// A tiny round-robin HTTP proxy: the dev stand-in for a Service in front of the order
// Deployment, so the order API keeps one fixed URL while the runner scales its replicas.
import { createServer, request, type Server } from "node:http";

export interface RoundRobinProxy {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `targets()` returns the ports of the ready replicas at the time of each request. */
export async function startProxy(port: number, targets: () => number[]): Promise<RoundRobinProxy> {
  let next = 0;
  const server: Server = createServer((req, res) => {
    const ports = targets();
    if (!ports.length) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "no ready replica of the order service yet" }) + "\n");
      req.resume();
      return;
    }
    const target = ports[next++ % ports.length] as number;
    const upstream = request({ host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `replica on port ${target} failed: ${err.message}` }) + "\n");
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
