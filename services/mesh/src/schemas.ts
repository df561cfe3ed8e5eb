// JSON Schema validation of event data, one schema per CloudEvent type, compiled once.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { isJsonContentType, type CloudEvent } from "./binding.ts";
import { InvalidEventError } from "./errors.ts";

// ajv-formats is CommonJS; its default export arrives as module.exports (with .default).
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv | Ajv2020) => void;

export class SchemaRegistry {
  private readonly validators = new Map<string, ValidateFunction>();
  private draft07: Ajv | undefined;
  private draft2020: Ajv2020 | undefined;

  /** Loads every `<type>.json` of `dir` (file name without .json = CloudEvent type). */
  static fromDir(dir: string): SchemaRegistry {
    const reg = new SchemaRegistry();
    reg.loadDir(dir);
    return reg;
  }

  loadDir(dir: string): this {
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith(".json")) continue;
      const path = join(dir, file);
      let schema: unknown;
      try {
        schema = JSON.parse(readFileSync(path, "utf8"));
      } catch (err) {
        throw new Error(`schema file ${path} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.add(file.slice(0, -".json".length), schema as AnySchemaObject, path);
    }
    return this;
  }

  /** Compiles and registers the schema of `type` (draft-07 or 2020-12, by `$schema`). */
  add(type: string, schema: AnySchemaObject, origin = type): this {
    const ajv = /draft-0[4-7]/.test(String(schema.$schema ?? "")) ? this.ajv07() : this.ajv2020();
    try {
      // Keyed by type, not $id, so two registries or re-adds never clash inside ajv.
      const { $id: _ignored, ...body } = schema;
      this.validators.set(type, ajv.compile(body));
    } catch (err) {
      throw new Error(`schema ${origin} does not compile: ${err instanceof Error ? err.message : String(err)}`);
    }
    return this;
  }

  has(type: string): boolean {
    return this.validators.has(type);
  }

  get types(): string[] {
    return [...this.validators.keys()];
  }

  /**
   * Throws InvalidEventError (reason `schema`) naming the failing paths when `data` does not
   * match the schema of `type`. Types without a schema pass.
   */
  validate(type: string, data: unknown): void {
    const v = this.validators.get(type);
    if (!v || v(data)) return;
    throw new InvalidEventError("schema", `data of ${type} fails its schema: ${describeErrors(v.errors)}`);
  }

  /**
   * validate() for a decoded event, saying so when its data is not JSON at all: bytes (binary
   * mode without a JSON datacontenttype, or structured mode with data_base64) or text. A JSON
   * schema applied to those would report missing properties that the payload may well have.
   */
  validateEvent(event: CloudEvent): void {
    if (!this.validators.has(event.type)) return;
    const data = event.data;
    const ct = event.datacontenttype;
    if (data instanceof Uint8Array) {
      const why =
        ct === undefined
          ? "the event has no datacontenttype, so its data is bytes"
          : isJsonContentType(ct)
            ? `it carries data_base64 (bytes) although its datacontenttype is ${ct}`
            : `its datacontenttype ${ct} is not JSON, so its data is bytes`;
      throw new InvalidEventError(
        "invalid_event",
        `data of ${event.type} is not JSON: ${why}. Its schema applies to JSON data: send datacontenttype application/json ` +
          `(structured mode: the data as "data", not "data_base64")`,
      );
    }
    if (typeof data === "string" && ct !== undefined && !isJsonContentType(ct)) {
      throw new InvalidEventError(
        "invalid_event",
        `data of ${event.type} is text (datacontenttype ${ct}), not JSON; its schema applies to JSON data: send datacontenttype application/json`,
      );
    }
    this.validate(event.type, data);
  }

  private ajv07(): Ajv {
    if (!this.draft07) {
      this.draft07 = new Ajv({ allErrors: true, strict: false });
      addFormats(this.draft07);
    }
    return this.draft07;
  }

  private ajv2020(): Ajv2020 {
    if (!this.draft2020) {
      this.draft2020 = new Ajv2020({ allErrors: true, strict: false });
      addFormats(this.draft2020);
    }
    return this.draft2020;
  }
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "invalid";
  return errors
    .slice(0, 5)
    .map((e) => {
      const path = e.instancePath || "/";
      if (e.keyword === "additionalProperties") return `${path} has unexpected property "${String(e.params.additionalProperty)}"`;
      if (e.keyword === "required") return `${path} must have property "${String(e.params.missingProperty)}"`;
      return `${path} ${e.message ?? "is invalid"}`;
    })
    .join("; ");
}
