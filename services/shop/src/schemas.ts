// Where the shop's event schemas live, and a loader for them. `src/` and `dist/` both sit
// beside `schemas/`, so the same relative path works from source and from a build.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { EVENT_TYPES, type ShopEventType } from "./events.ts";

export const SCHEMAS_DIR = fileURLToPath(new URL("../schemas/", import.meta.url));

export interface JsonSchema {
  $id?: string;
  title?: string;
  description?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: boolean;
}

export function loadSchema(type: ShopEventType, dir = SCHEMAS_DIR): JsonSchema {
  return JSON.parse(readFileSync(join(dir, `${type}.json`), "utf8")) as JsonSchema;
}

export function loadSchemas(dir = SCHEMAS_DIR): Map<ShopEventType, JsonSchema> {
  return new Map(EVENT_TYPES.map((t) => [t, loadSchema(t, dir)]));
}
