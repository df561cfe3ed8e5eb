// Leader election with a coordination.k8s.io/v1 Lease, the way client-go does it: the holder
// renews every retry period; a candidate takes the Lease once it has not been renewed for the
// lease duration. Writes carry the resourceVersion they read, so two candidates cannot both win.
import type { Logger } from "pino";
import { isConflict, isNotFound, KubeError, type KubeRest } from "./rest.ts";

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const LEASES = { group: "coordination.k8s.io", version: "v1", plural: "leases" };

/** MicroTime as Kubernetes writes it (RFC 3339 with microseconds). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private readonly rest: KubeRest;
  private readonly opts: LeaderOptions;
  private readonly log: Logger;
  private readonly onStart: () => void;
  private readonly onStop: () => void;
  private leading = false;
  private lastRenew = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** When we last saw another holder's renewTime change (our clock, not theirs). */
  private observed: { holder?: string; renewTime?: string; at: number } = { at: 0 };

  constructor(rest: KubeRest, opts: LeaderOptions, log: Logger, onStart: () => void, onStop: () => void) {
    this.rest = rest;
    this.opts = opts;
    this.log = log.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.onStart = onStart;
    this.onStop = onStop;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
  }

  private async tick(): Promise<void> {
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.log.info("became leader");
          this.onStart();
        }
      } else if (this.leading) this.lose("another holder took the lease");
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "lease request failed");
    }
    if (this.leading && Date.now() - this.lastRenew > this.opts.renewDeadlineMs) this.lose("could not renew the lease in time");
    this.schedule();
  }

  private lose(why: string): void {
    this.leading = false;
    this.log.warn({ why }, "lost leadership");
    this.onStop();
  }

  private spec(now: number, prev?: Lease["spec"]): Lease["spec"] {
    const mine = prev?.holderIdentity === this.opts.identity;
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.opts.leaseDurationMs / 1000)),
      acquireTime: mine && prev?.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (mine || !prev?.holderIdentity ? 0 : 1),
    };
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    let lease: Lease;
    try {
      lease = await this.rest.get<Lease>(LEASES, this.opts.namespace, this.opts.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.rest.create(LEASES, this.opts.namespace, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: this.spec(now),
        });
        return true;
      } catch (e) {
        if (isConflict(e) || (e instanceof KubeError && e.status === 409)) return false;
        throw e;
      }
    }
    const holder = lease.spec.holderIdentity;
    if (holder && holder !== this.opts.identity) {
      // Judge expiry by when *we* saw the renewTime last change, so clock skew cannot matter.
      if (this.observed.holder !== holder || this.observed.renewTime !== lease.spec.renewTime) {
        this.observed = { holder, renewTime: lease.spec.renewTime, at: now };
      }
      const duration = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
      if (now - this.observed.at < duration) return false;
      this.log.info({ previous: holder }, "lease expired, taking over");
    }
    try {
      await this.rest.replace(LEASES, this.opts.namespace, this.opts.name, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.opts.name, namespace: this.opts.namespace, resourceVersion: lease.metadata.resourceVersion },
        spec: this.spec(now, lease.spec),
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Gives the lease up (clears the holder) so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    this.onStop();
    try {
      const lease = await this.rest.get<Lease>(LEASES, this.opts.namespace, this.opts.name);
      if (lease.spec.holderIdentity === this.opts.identity) {
        await this.rest.replace(LEASES, this.opts.namespace, this.opts.name, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: "", renewTime: microTime(Date.now()), leaseDurationSeconds: 1 },
        });
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, "could not release the lease");
    }
  }
}
