// Decoding what clients send: request bodies (JSON, YAML; protobuf refused), DeleteOptions
// (body or query parameters), and Go's rendering of a patch for error messages.
import type { IncomingMessage } from "node:http";
import { parse as parseYaml } from "yaml";
import { ApiError, badRequest } from "./errors.ts";
import { isObject, type Json, type JsonObject } from "./types.ts";

/** Go's %+v of a decoded JSON map, as the real server prints a patch in errors. */
export function goFormat(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(goFormat).join(" ")}]`;
  if (isObject(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goFormat(v[k]!)}`)
      .join(" ")}]`;
  return v === null ? "<nil>" : String(v);
}

/** DeleteOptions from the body, with query parameters (as client-node sends them) taking part too. */
export function deleteOptions(body: Buffer | undefined, q: URLSearchParams): JsonObject {
  const opts = (body && body.length ? parseBody(body, "application/json") : {}) as JsonObject;
  const out: JsonObject = isObject(opts) ? { ...opts } : {};
  const policy = q.get("propagationPolicy");
  if (policy) out.propagationPolicy = policy;
  if (q.get("orphanDependents") === "true") out.orphanDependents = true;
  return out;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      // The real server's limit is 3 MiB per request body.
      if (size > 3 * 1024 * 1024) {
        reject(new ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function parseBody(body: Buffer, contentType: string): unknown {
  const ct = contentType.split(";")[0]!.trim();
  if (ct.includes("protobuf") || ct.includes("cbor")) {
    throw new ApiError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
    );
  }
  const text = body.toString("utf8");
  if (text.trim() === "") return {};
  try {
    return ct.includes("yaml") ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw badRequest(`the body of the request could not be decoded: ${e instanceof Error ? e.message : String(e)}`);
  }
}
