export { orderService } from "./service.ts";
export { orderConfig, type OrderConfig } from "./config.ts";
export { applyEvent, isTerminal, type Transition } from "./saga.ts";
export { validateOrderRequest, priceOrder, ORDER_REQUEST_SCHEMA, type OrderRequest } from "./request.ts";
