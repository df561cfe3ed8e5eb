// Small HTTP helpers shared by the shop's APIs: JSON answers, RFC 9457 problem details
// (never with internal details), and a size-limited body reader.
import type { IncomingMessage, ServerResponse } from "node:http";

export class HttpError extends Error {
  readonly status: number;
  readonly title: string;
  readonly extra: Record<string, unknown>;
  constructor(status: number, title: string, detail: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.title = title;
    this.extra = extra;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendProblem(res: ServerResponse, err: HttpError, instance?: string, headers: Record<string, string> = {}): void {
  const body = { type: "about:blank", title: err.title, status: err.status, detail: err.message, ...(instance ? { instance } : {}), ...err.extra };
  const text = JSON.stringify(body);
  res.writeHead(err.status, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The client went away (closed or reset the connection) before its request was complete:
 * nothing to answer, not a failure of the service.
 */
export class ClientAbortError extends Error {
  constructor() {
    super("the client closed the connection before sending the whole request");
  }
}

/**
 * Reads the request body, refusing more than `limit` bytes (413) — by Content-Length before
 * reading anything, and while reading for chunked bodies — and a body that takes longer
 * than `timeoutMs` (408). The caller answers such a request with `Connection: close`: the
 * rest of the body is not worth waiting for. A connection that breaks off mid-body rejects
 * with ClientAbortError.
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
        // Keep draining what still arrives until the answer closes the connection.
        req.resume();
        reject(err);
      } else resolve(body!);
    };
    const timer = setTimeout(() => finish(new HttpError(408, "Request Timeout", `the body must arrive within ${timeoutMs} ms`)), timeoutMs);
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) return finish(tooLarge(limit));
      chunks.push(c);
    });
    req.on("end", () => finish(undefined, Buffer.concat(chunks)));
    // An error on the request stream is the connection's (reset, aborted): the client's side.
    req.on("error", () => finish(new ClientAbortError()));
    req.on("close", () => {
      if (!req.complete) finish(new ClientAbortError());
    });
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "Payload Too Large", `the body must be at most ${limit} bytes`);
}

/** Whether the Content-Type is JSON (`application/json` or a `+json` type). */
export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const mt = value.split(";")[0]!.trim().toLowerCase();
  return mt === "application/json" || (mt.startsWith("application/") && mt.endsWith("+json"));
}
