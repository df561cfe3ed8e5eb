// One operator-wide NATS connection that never gives up: the first connect is retried with
// capped backoff for as long as the operator runs, and a lost connection reconnects without
// limit. The reconcilers ask for `admin()` and get undefined while NATS is away, which they
// report as Ready=False reason NatsUnavailable instead of failing.
import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { natsJetStreamAdmin, type JetStreamAdmin } from "./admin.ts";
import { unsupportedServer } from "./version.ts";

export interface NatsSettings {
  servers: string[];
  user?: string;
  password?: string;
  credsFile?: string;
  nkeySeedFile?: string;
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** JetStream API request timeout. */
  requestTimeoutMs: number;
}

export function connectionOptions(s: NatsSettings): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: s.servers,
    name: "jetmesh-operator",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    timeout: 3000,
    pingInterval: 10_000,
    maxPingOut: 2,
    // nats.js otherwise builds two Errors (stack traces) per request for debug output: about 6 %
    // of the operator's busy CPU while 10,000 subscriptions are created (docs/performance.md).
    noAsyncTraces: true,
  };
  if (s.user) {
    opts.user = s.user;
    if (s.password !== undefined) opts.pass = s.password;
  }
  // Files are read at every (re)connect, so a rotated Secret is picked up without a restart.
  if (s.credsFile) {
    const file = s.credsFile;
    opts.authenticator = credsAuthenticator(() => readFileSync(file));
  } else if (s.nkeySeedFile) {
    const file = s.nkeySeedFile;
    opts.authenticator = nkeyAuthenticator(() => new TextEncoder().encode(readFileSync(file, "utf8").trim()));
  }
  if (s.tlsCaFile || s.tlsCertFile) {
    opts.tls = {};
    if (s.tlsCaFile) opts.tls.caFile = s.tlsCaFile;
    if (s.tlsCertFile) opts.tls.certFile = s.tlsCertFile;
    if (s.tlsKeyFile) opts.tls.keyFile = s.tlsKeyFile;
  }
  return opts;
}

export class NatsConnector {
  private readonly settings: NatsSettings;
  private readonly log: Logger;
  private readonly onChange: (connected: boolean) => void;
  private nc: NatsConnection | undefined;
  private current: JetStreamAdmin | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners: { subject: string; handler: (data: Uint8Array) => void }[] = [];
  lastError = "not connected yet";

  constructor(settings: NatsSettings, log: Logger, onChange: (connected: boolean) => void) {
    this.settings = settings;
    this.log = log;
    this.onChange = onChange;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Core NATS messages on `subject` (advisories), on this connection and every later one; the
   * client resubscribes by itself after a reconnect of the same connection.
   */
  listen(subject: string, handler: (data: Uint8Array) => void): void {
    this.listeners.push({ subject, handler });
    if (this.nc && !this.nc.isClosed()) this.subscribe(this.nc, { subject, handler });
  }

  private subscribe(nc: NatsConnection, l: { subject: string; handler: (data: Uint8Array) => void }): void {
    nc.subscribe(l.subject, {
      callback: (err, msg) => {
        if (err) this.log.warn({ subject: l.subject, err: err.message }, "subscription error");
        else l.handler(msg.data);
      },
    });
  }

  /** The JetStream admin while connected; undefined while NATS is unreachable. */
  admin(): JetStreamAdmin | undefined {
    return this.current;
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  private setAdmin(a: JetStreamAdmin | undefined): void {
    const was = this.current !== undefined;
    this.current = a;
    if (was !== (a !== undefined)) this.onChange(a !== undefined);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        const nc = await connect(connectionOptions(this.settings));
        this.nc = nc;
        attempt = 0;
        await this.serve(nc);
      } catch (err) {
        this.lastError = (err as Error).message;
        this.setAdmin(undefined);
        if (this.stopped) break;
        const delay = Math.min(250 * 2 ** attempt, 5000);
        attempt++;
        if (attempt === 1 || attempt % 10 === 0) this.log.warn({ err: this.lastError, retryInMs: delay }, "NATS not reachable, retrying");
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  /** Runs while the connection lives; returns (or throws) when it is closed for good. */
  private async serve(nc: NatsConnection): Promise<void> {
    const attach = async () => {
      const version = nc.info?.version ?? "0.0.0";
      const jsm = await jetstreamManager(nc, { timeout: this.settings.requestTimeoutMs });
      this.setAdmin(natsJetStreamAdmin(jsm));
      this.log.info({ server: nc.getServer(), version }, "connected to NATS");
      const unsupported = unsupportedServer(version);
      if (unsupported) this.log.error({ server: nc.getServer(), version }, unsupported);
    };
    for (const l of this.listeners) this.subscribe(nc, l);
    try {
      await attach();
    } catch (err) {
      // JetStream not (yet) enabled or not answering: try again from scratch.
      await nc.close().catch(() => undefined);
      throw err;
    }
    const statusLoop = (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.lastError = "disconnected from NATS";
          this.setAdmin(undefined);
          this.log.warn({ server: s.server }, "NATS disconnected");
        } else if (s.type === "reconnect") {
          await attach().catch((err: Error) => {
            this.lastError = err.message;
            this.log.warn({ err: err.message }, "reconnected, but JetStream is not answering yet");
          });
        }
      }
    })();
    const closed = await nc.closed();
    await statusLoop.catch(() => undefined);
    this.setAdmin(undefined);
    if (!this.stopped) throw closed ?? new Error("NATS connection closed");
  }

  /**
   * After a reconnect whose JetStream check failed, the reconcilers call this to re-attach.
   * Cheap when already attached.
   */
  async ensureAttached(): Promise<void> {
    const nc = this.nc;
    if (this.current || !nc || nc.isClosed()) return;
    try {
      const jsm = await jetstreamManager(nc, { timeout: this.settings.requestTimeoutMs });
      this.setAdmin(natsJetStreamAdmin(jsm));
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.nc?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    this.setAdmin(undefined);
  }
}
