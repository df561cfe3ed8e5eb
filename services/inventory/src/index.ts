export { inventoryService } from "./service.ts";
export { inventoryConfig, type InventoryConfig } from "./config.ts";
export { Inventory } from "./inventory.ts";
export { holdStock, releaseHold, shipHold, normalizeItems } from "./stock.ts";
export { parseSeed } from "./seed.ts";
