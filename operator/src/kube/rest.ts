// A small REST client for the Kubernetes API: KubeConfig (from @kubernetes/client-node) gives
// the server, TLS material and credentials; requests go over one keep-alive agent, because the
// operator makes thousands of small calls and a fresh TLS handshake per call would dominate.
import http from "node:http";
import https from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { TokenBucket } from "./ratelimit.ts";

export interface ResourceRef {
  group: string; // "" for the core API
  version: string;
  plural: string;
}

export class KubeError extends Error {
  readonly status: number;
  readonly reason: string;
  /** The API server's own message (a Status's `message`), without the request. */
  readonly serverMessage: string;
  constructor(status: number, reason: string, message: string, serverMessage = message) {
    super(message);
    this.name = "KubeError";
    this.status = status;
    this.reason = reason;
    this.serverMessage = serverMessage;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeError && e.status === 409;

export function resourcePath(r: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

export type PatchType = "merge" | "json" | "strategic";
const PATCH_CONTENT: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

/** One finished request, for metrics (client-go's rest_client_requests_total and latency). */
export interface RequestObservation {
  method: string;
  /** Path and query (for tests and logs; metrics leave it out, as client-go's do). */
  path: string;
  /** host:port of the API server. */
  host: string;
  /** HTTP status, undefined when no response came (refused, reset, timed out). */
  status: number | undefined;
  seconds: number;
}

/** How long one request waited for the client-side rate limiter (client-go's rate_limiter_duration). */
export interface RateLimiterWait {
  /** HTTP method; a watch is a GET, as in client-go. */
  verb: string;
  /** host:port of the API server. */
  host: string;
  seconds: number;
}

export interface KubeRestOptions {
  timeoutMs?: number;
  onRequest?: (r: RequestObservation) => void;
  /** client-go's QPS and Burst: every request (and every watch when it opens) takes a token. Unset: no limit. */
  rateLimit?: { qps: number; burst: number };
  onRateLimiterWait?: (w: RateLimiterWait) => void;
  /** Sent as User-Agent, so the API server's audit log and metrics can tell this client apart. */
  userAgent?: string;
}

export class KubeRest {
  readonly kubeConfig: KubeConfig;
  private readonly server: URL;
  private agent: http.Agent | undefined;
  private tls: https.RequestOptions = {};
  private headers: Record<string, string> = {};
  private authAt = 0;
  private readonly timeoutMs: number;
  private readonly onRequest: ((r: RequestObservation) => void) | undefined;
  private readonly limiter: TokenBucket | undefined;
  private readonly onRateLimiterWait: ((w: RateLimiterWait) => void) | undefined;
  private readonly userAgent: string | undefined;

  constructor(kubeConfig: KubeConfig, opts: KubeRestOptions = {}) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    this.server = new URL(cluster.server);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.onRequest = opts.onRequest;
    this.limiter = opts.rateLimit ? new TokenBucket(opts.rateLimit) : undefined;
    this.onRateLimiterWait = opts.onRateLimiterWait;
    this.userAgent = opts.userAgent;
  }

  /** The QPS and burst in effect, undefined when requests are not limited. */
  get rateLimit(): { qps: number; burst: number } | undefined {
    return this.limiter ? { qps: this.limiter.qps, burst: this.limiter.burst } : undefined;
  }

  /**
   * Waits for the rate limiter's go-ahead. Every request calls it; so does the informer before it
   * opens a watch (a watch counts once, when it opens, as in client-go).
   */
  async throttle(verb: string): Promise<void> {
    if (!this.limiter) return;
    const seconds = await this.limiter.take();
    this.onRateLimiterWait?.({ verb, host: this.server.host, seconds });
  }

  static fromFile(path: string | undefined, opts: KubeRestOptions = {}): KubeRest {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    return new KubeRest(kc, opts);
  }

  /** Credentials can rotate (projected service account tokens): refresh them every minute. */
  private async auth(): Promise<void> {
    if (this.agent && Date.now() - this.authAt < 60_000) return;
    const opts: https.RequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    this.headers = { ...(opts.headers as Record<string, string>) };
    if (opts.auth) this.headers.authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
    this.tls = { ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: opts.rejectUnauthorized };
    if (!this.agent) {
      const common = { keepAlive: true, maxSockets: 64 };
      this.agent = this.server.protocol === "https:" ? new https.Agent({ ...common, ...(this.tls as https.AgentOptions) }) : new http.Agent(common);
    }
    this.authAt = Date.now();
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    await this.throttle(method);
    const started = performance.now();
    let status: number | undefined;
    try {
      return await this.send<T>(method, path, body, contentType, (s) => (status = s));
    } finally {
      this.onRequest?.({ method, path, host: this.server.host, status, seconds: (performance.now() - started) / 1000 });
    }
  }

  private async send<T>(method: string, path: string, body: unknown, contentType: string, answered: (status: number) => void): Promise<T> {
    await this.auth();
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            ...this.headers,
            ...(this.userAgent ? { "user-agent": this.userAgent } : {}),
            accept: "application/json",
            ...(payload ? { "content-type": contentType, "content-length": String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            const status = res.statusCode ?? 0;
            answered(status);
            if (status >= 200 && status < 300) return resolve(json as T);
            const st = (json ?? {}) as { reason?: string; message?: string };
            const detail = st.message ?? text.slice(0, 200);
            reject(new KubeError(status, st.reason ?? String(status), `${method} ${path}: ${status} ${detail}`, detail));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out after ${this.timeoutMs} ms`)));
      req.on("error", reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T>(r: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>("GET", resourcePath(r, namespace, name));
  }

  list<T>(r: ResourceRef, namespace?: string, query = ""): Promise<{ metadata: { resourceVersion: string }; items: T[] }> {
    return this.request("GET", resourcePath(r, namespace) + query);
  }

  create<T>(r: ResourceRef, namespace: string | undefined, body: unknown): Promise<T> {
    return this.request<T>("POST", resourcePath(r, namespace), body);
  }

  replace<T>(r: ResourceRef, namespace: string | undefined, name: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", resourcePath(r, namespace, name), body);
  }

  patch<T>(r: ResourceRef, namespace: string | undefined, name: string, body: unknown, type: PatchType = "merge", subresource?: string): Promise<T> {
    return this.request<T>("PATCH", resourcePath(r, namespace, name, subresource), body, PATCH_CONTENT[type]);
  }

  delete(r: ResourceRef, namespace: string | undefined, name: string): Promise<unknown> {
    return this.request("DELETE", resourcePath(r, namespace, name));
  }

  close(): void {
    this.agent?.destroy();
  }
}
