// Process entry: `node dist/main.js` (or `node --conditions=source src/main.ts`); config by env.
import { main } from "@jetmesh/mesh";
import { shippingService } from "./service.ts";

await main(shippingService);
