import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/ports.ts";

describe("freePort", () => {
  it("gives bindable ports below the ephemeral range, where no client socket takes them", async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(20_000);
      expect(p).toBeLessThanOrEqual(32_767);
    }
    // Each one can be listened on.
    for (const p of ports.slice(0, 5)) {
      await new Promise<void>((resolve, reject) => {
        const srv = createServer();
        srv.once("error", reject);
        srv.listen(p, "127.0.0.1", () => srv.close(() => resolve()));
      });
    }
  });
});
