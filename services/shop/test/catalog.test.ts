import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { CATALOG_PATH, renderCatalog } from "../src/catalog.ts";
import { EVENT_TYPES, PRODUCERS, SUBSCRIPTIONS, loadSchemas } from "../src/index.ts";

describe("event catalog", () => {
  it("docs/events.md is the generated catalog (run catalog.ts --write after changing a schema)", () => {
    expect(readFileSync(CATALOG_PATH, "utf8")).toBe(renderCatalog());
  });

  it("every type has a compilable schema titled with its type, a producer and a consumer", () => {
    const ajv = new Ajv({ strict: true });
    (addFormats as unknown as (a: Ajv) => void)(ajv);
    for (const [type, schema] of loadSchemas()) {
      expect(schema.title).toBe(type);
      expect(() => ajv.compile(schema)).not.toThrow();
      expect(PRODUCERS[type]).toBeDefined();
      expect(SUBSCRIPTIONS.some((s) => s.types.includes(type))).toBe(true);
    }
    expect(loadSchemas().size).toBe(EVENT_TYPES.length);
  });
});
