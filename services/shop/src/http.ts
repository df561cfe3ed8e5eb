// Small HTTP helpers shared by the shop's APIs: JSON answers and RFC 9457 problem details
// (never with internal details); HttpError and the body reader are the runtime's (@jetmesh/mesh).
import type { ServerResponse } from "node:http";
import type { HttpError } from "@jetmesh/mesh";

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

/** Whether the Content-Type is JSON (`application/json` or a `+json` type). */
export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const mt = value.split(";")[0]!.trim().toLowerCase();
  return mt === "application/json" || (mt.startsWith("application/") && mt.endsWith("+json"));
}
