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
 * Reads the request body, refusing more than `limit` bytes (413) — by Content-Length before
 * reading anything, and while reading for chunked bodies.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, "Payload Too Large", `the body must be at most ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        req.resume();
        reject(new HttpError(413, "Payload Too Large", `the body must be at most ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      if (!done) reject(err);
    });
  });
}

/** Whether the Content-Type is JSON (`application/json` or a `+json` type). */
export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const mt = value.split(";")[0]!.trim().toLowerCase();
  return mt === "application/json" || (mt.startsWith("application/") && mt.endsWith("+json"));
}
