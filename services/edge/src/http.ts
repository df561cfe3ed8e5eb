// HTTP helpers of the edge: RFC 9457 problem details and a size- and time-limited body reader.
import type { IncomingMessage, ServerResponse } from "node:http";

/** Problem type URIs are `https://jetmesh.io/problems/<slug>` (docs/http.md lists them). */
export const PROBLEM_BASE = "https://jetmesh.io/problems/";

export class HttpProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly extra: Record<string, unknown>;
  constructor(status: number, slug: string, title: string, detail: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.extra = extra;
  }
}

export function sendProblem(res: ServerResponse, p: HttpProblem, headers: Record<string, string> = {}): void {
  const text = JSON.stringify({ type: PROBLEM_BASE + p.slug, title: p.title, status: p.status, detail: p.message, ...p.extra });
  res.writeHead(p.status, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The client went away before its request was complete: nothing to answer. */
export class ClientAbortError extends Error {
  constructor() {
    super("the client closed the connection before sending the whole request");
  }
}

/**
 * Reads the body, refusing more than `limit` bytes (413: by Content-Length before reading, and
 * while reading a chunked body) and a body slower than `timeoutMs` (408).
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined, body?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req.resume();
        reject(err);
      } else resolve(body!);
    };
    const timer = setTimeout(() => finish(new HttpProblem(408, "body-timeout", "Request Timeout", `the body must arrive within ${timeoutMs} ms`)), timeoutMs);
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) return finish(tooLarge(limit));
      chunks.push(c);
    });
    req.on("end", () => finish(undefined, Buffer.concat(chunks)));
    req.on("error", () => finish(new ClientAbortError()));
    req.on("close", () => {
      if (!req.complete) finish(new ClientAbortError());
    });
  });
}

function tooLarge(limit: number): HttpProblem {
  return new HttpProblem(413, "too-large", "Payload Too Large", `the body must be at most ${limit} bytes`);
}
