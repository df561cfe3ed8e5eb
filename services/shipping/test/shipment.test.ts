import { describe, expect, it } from "vitest";
import { planShipment } from "../src/shipment.ts";

describe("planShipment", () => {
  it("plans the same shipment for the same order", () => {
    expect(planShipment("o1", ["dhl", "ups"])).toEqual(planShipment("o1", ["dhl", "ups"]));
  });
  it("spreads orders over the carriers", () => {
    const carriers = new Set(Array.from({ length: 50 }, (_, i) => planShipment(`o${i}`, ["dhl", "ups", "gls"]).carrier));
    expect(carriers).toEqual(new Set(["dhl", "ups", "gls"]));
  });
  it("refuses an empty carrier list", () => {
    expect(() => planShipment("o1", [])).toThrow(/no carriers/);
  });
});
