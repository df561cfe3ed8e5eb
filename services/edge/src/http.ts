// HTTP helpers of the edge: RFC 9457 problem details with jetmesh.io type URIs; the body reader
// and HttpError are the runtime's (@jetmesh/mesh).
import type { ServerResponse } from "node:http";
import { HttpError } from "@jetmesh/mesh";

export { ClientAbortError, readBody } from "@jetmesh/mesh";

/** Problem type URIs are `https://jetmesh.io/problems/<slug>` (docs/http.md lists them). */
export const PROBLEM_BASE = "https://jetmesh.io/problems/";

/** A problem with its own type URI (PROBLEM_BASE + slug). */
export class HttpProblem extends HttpError {
  constructor(status: number, slug: string, title: string, detail: string, extra: Record<string, unknown> = {}) {
    super(status, title, detail, extra, slug);
  }
}

export function sendProblem(res: ServerResponse, p: HttpError, headers: Record<string, string> = {}): void {
  const text = JSON.stringify({ type: p.slug ? PROBLEM_BASE + p.slug : "about:blank", title: p.title, status: p.status, detail: p.message, ...p.extra });
  res.writeHead(p.status, { "content-type": "application/problem+json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}
