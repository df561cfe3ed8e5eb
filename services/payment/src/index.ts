export { paymentService } from "./service.ts";
export { paymentConfig, type PaymentConfig } from "./config.ts";
export { decide, transientFailure, DEFAULT_RULES, type ProcessorRules } from "./processor.ts";
