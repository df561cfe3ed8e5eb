import { createServer } from "node:net";

// Below the ephemeral range Linux (32768–60999) and macOS (49152–65535) give outgoing
// connections. A port the OS picks for listen(0) comes from that range, so between our check
// and the server's bind any client socket of another test (HTTP, NATS) may take it as its local
// port — a full run failed once that way ("bind: address already in use").
const FROM = 20_000;
const TO = 32_767;

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = FROM + Math.floor(Math.random() * (TO - FROM + 1));
    if ((await listenOn(port).catch(() => 0)) === port) return port;
  }
  return listenOn(0); // all 50 taken: let the OS pick
}

/** Listens on `port` (0: the OS picks) and closes again; resolves with the port. */
function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const addr = srv.address();
      const got = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(got));
    });
  });
}
