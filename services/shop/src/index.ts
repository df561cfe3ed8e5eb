export * from "./events.ts";
export * from "./wiring.ts";
export * from "./state.ts";
export { SCHEMAS_DIR, loadSchema, loadSchemas, type JsonSchema } from "./schemas.ts";
