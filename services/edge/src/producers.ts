// Who may publish through the ingress: one bearer token per producer, each allowed a set of
// CloudEvents types (NATS subject patterns, as NATS permissions bind a service to subjects).
// Tokens come from INGRESS_TOKENS_FILE (a mounted Secret) or INGRESS_TOKENS (the same JSON);
// INGRESS_AUTH=none turns authentication off explicitly (never by omission).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, type Env } from "@jetmesh/mesh";
import { subjectMatches } from "./http-binding.ts";

export interface Producer {
  name: string;
  /** Types it may publish (NATS patterns: `shop.billing.>`, `shop.*.created.v1`). */
  types: string[];
}

export interface Producers {
  /** The producer a bearer token belongs to; undefined for a missing or unknown token. */
  authenticate(authorization: string | undefined): Producer | undefined | "anonymous";
  readonly required: boolean;
}

const PATTERN = /^((\*|[^\s.*>]+)\.)*(\*|>|[^\s.*>]+)$/;

/**
 * INGRESS_TOKENS_FILE / INGRESS_TOKENS:
 * `{"producers": [{"name": "billing", "token": "…", "types": ["shop.billing.>"]}]}`.
 */
export function parseProducers(env: Env): Producers {
  if (env.INGRESS_AUTH === "none") return { required: false, authenticate: () => "anonymous" };
  if (env.INGRESS_AUTH !== undefined && env.INGRESS_AUTH !== "bearer") {
    throw new ConfigError(`INGRESS_AUTH must be bearer (default) or none, got ${JSON.stringify(env.INGRESS_AUTH)}`);
  }
  let text: string;
  let origin: string;
  if (env.INGRESS_TOKENS_FILE) {
    origin = `INGRESS_TOKENS_FILE ${env.INGRESS_TOKENS_FILE}`;
    try {
      text = readFileSync(env.INGRESS_TOKENS_FILE, "utf8");
    } catch (err) {
      throw new ConfigError(`${origin}: cannot read (${err instanceof Error ? err.message : String(err)})`);
    }
  } else if (env.INGRESS_TOKENS) {
    origin = "INGRESS_TOKENS";
    text = env.INGRESS_TOKENS;
  } else {
    throw new ConfigError("INGRESS_TOKENS_FILE or INGRESS_TOKENS is required (producers and their bearer tokens), or INGRESS_AUTH=none to accept anyone");
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${origin}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const list = (doc as { producers?: unknown }).producers;
  if (!Array.isArray(list) || list.length === 0)
    throw new ConfigError(`${origin}: expected {"producers": [{"name", "token", "types"}, ...]} with at least one producer`);
  const byHash = new Map<string, Producer>();
  const problems: string[] = [];
  list.forEach((p: { name?: unknown; token?: unknown; types?: unknown }, i) => {
    const where = `${origin}: producers[${i}]`;
    if (typeof p.name !== "string" || p.name === "") problems.push(`${where}.name must be a non-empty string`);
    if (typeof p.token !== "string" || p.token.length < 16) problems.push(`${where}.token must be a string of at least 16 characters`);
    if (!Array.isArray(p.types) || p.types.length === 0 || !p.types.every((t) => typeof t === "string" && PATTERN.test(t))) {
      problems.push(`${where}.types must list the CloudEvents types (NATS subject patterns) it may publish`);
    }
    if (typeof p.token === "string") {
      const h = sha256(p.token);
      if (byHash.has(h)) problems.push(`${where}: the same token as producer ${byHash.get(h)!.name}`);
      byHash.set(h, { name: String(p.name), types: (p.types as string[]) ?? [] });
    }
  });
  if (problems.length) throw new ConfigError(problems);
  return {
    required: true,
    authenticate(authorization) {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
      if (!token) return undefined;
      // Looked up by SHA-256 digest: timing reveals nothing usable about the token itself.
      return byHash.get(sha256(token));
    },
  };
}

export function mayPublish(producer: Producer, type: string): boolean {
  return producer.types.some((p) => subjectMatches(p, type));
}

function sha256(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}
