// HTTP helpers for the services built on the runtime (the shop's APIs, the edge's ingress): an
// error that becomes an RFC 9457 problem answer, and a size- and time-limited body reader. How a
// problem is written (its `type` URI, extra members) stays with each service.
import type { IncomingMessage } from "node:http";

/** An answer other than success: status, title, detail (the message), extra problem members. */
export class HttpError extends Error {
  readonly status: number;
  readonly title: string;
  readonly extra: Record<string, unknown>;
  /** A short name of the problem (e.g. `too-large`), for services that give each its own type URI. */
  readonly slug: string | undefined;
  constructor(status: number, title: string, detail: string, extra: Record<string, unknown> = {}, slug?: string) {
    super(detail);
    this.status = status;
    this.title = title;
    this.extra = extra;
    this.slug = slug;
  }
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
 * Reads the request body, refusing more than `limit` bytes (413, slug `too-large`) — by
 * Content-Length before reading anything, and while reading for chunked bodies — and a body that
 * takes longer than `timeoutMs` (408, slug `body-timeout`). The caller answers such a request
 * with `Connection: close`: the rest of the body is not worth waiting for. A connection that
 * breaks off mid-body rejects with ClientAbortError.
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
    const timer = setTimeout(() => finish(new HttpError(408, "Request Timeout", `the body must arrive within ${timeoutMs} ms`, {}, "body-timeout")), timeoutMs);
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
  return new HttpError(413, "Payload Too Large", `the body must be at most ${limit} bytes`, {}, "too-large");
}
