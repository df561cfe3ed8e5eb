// The dev stack's CloudEvents HTTP ingress: one producer, `dev`, allowed the shop's types, with
// a bearer token made once and kept in .dev/ingress-tokens.json (0600) across restarts.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const INGRESS_DEPLOYMENT = "jetmesh-ingress";

export function ensureIngressTokens(stateDir: string): { file: string; token: string } {
  const file = join(stateDir, "ingress-tokens.json");
  if (existsSync(file)) {
    const doc = JSON.parse(readFileSync(file, "utf8")) as { producers: { token: string }[] };
    const token = doc.producers[0]?.token;
    if (token) return { file, token };
  }
  const token = randomBytes(24).toString("base64url");
  writeFileSync(file, JSON.stringify({ producers: [{ name: "dev", token, types: ["shop.>"] }] }, null, 2) + "\n", { mode: 0o600 });
  return { file, token };
}
