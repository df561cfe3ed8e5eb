export { shippingService } from "./service.ts";
export { shippingConfig, type ShippingConfig } from "./config.ts";
export { planShipment } from "./shipment.ts";
