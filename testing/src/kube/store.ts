// Object storage of the test server: one global, monotonic resourceVersion (like etcd's
// revision), a bounded history of changes for watches to resume from, and the watchers.
// Optional persistence: a JSON snapshot written (debounced) on change and loaded at start.
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { clone, type KubeObject } from "./types.ts";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  rv: number;
  /** storage key: `<group>/<plural>` */
  key: string;
  obj: KubeObject;
  prev?: KubeObject;
}

export interface StoreWatcher {
  key: string;
  deliver(ev: StoreEvent): void;
}

const objKey = (ns: string | undefined, name: string): string => `${ns ?? ""}/${name}`;

export class Store {
  rv = 0;
  /** Events after this revision are all in `history`; watches from older revisions get 410. */
  compactedRv = 0;
  private history: StoreEvent[] = [];
  private readonly historyLimit: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly uids = new Map<string, KubeObject>();
  readonly watchers = new Set<StoreWatcher>();
  private readonly persistDir: string | undefined;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(opts: { historyLimit?: number; persistDir?: string } = {}) {
    this.historyLimit = opts.historyLimit ?? 2000;
    this.persistDir = opts.persistDir;
  }

  get(key: string, ns: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(key)?.get(objKey(ns, name));
  }

  hasUid(uid: string): boolean {
    return this.uids.has(uid);
  }

  byUid(uid: string): KubeObject | undefined {
    return this.uids.get(uid);
  }

  /** Objects of one resource, sorted by namespace then name (the real server's list order). */
  list(key: string, ns?: string): KubeObject[] {
    const m = this.objects.get(key);
    if (!m) return [];
    const out = [...m.values()].filter((o) => ns === undefined || o.metadata.namespace === ns);
    return out.sort((a, b) => objKey(a.metadata.namespace, a.metadata.name!).localeCompare(objKey(b.metadata.namespace, b.metadata.name!)));
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  /** Stores a new version of an object under a fresh resourceVersion and notifies watchers. */
  put(key: string, obj: KubeObject, type: "ADDED" | "MODIFIED"): KubeObject {
    const stored = clone(obj);
    const rv = ++this.rv;
    stored.metadata.resourceVersion = String(rv);
    let m = this.objects.get(key);
    if (!m) this.objects.set(key, (m = new Map()));
    const k = objKey(stored.metadata.namespace, stored.metadata.name!);
    const prev = m.get(k);
    m.set(k, stored);
    if (stored.metadata.uid) this.uids.set(stored.metadata.uid, stored);
    this.record({ type, rv, key, obj: stored, ...(prev ? { prev } : {}) });
    return stored;
  }

  remove(key: string, obj: KubeObject): KubeObject {
    const m = this.objects.get(key);
    const k = objKey(obj.metadata.namespace, obj.metadata.name!);
    const prev = m?.get(k);
    if (!m || !prev) return obj;
    m.delete(k);
    if (prev.metadata.uid) this.uids.delete(prev.metadata.uid);
    // The DELETED event carries the final state with a new resourceVersion, as the real server does.
    const gone = clone(prev);
    const rv = ++this.rv;
    gone.metadata.resourceVersion = String(rv);
    this.record({ type: "DELETED", rv, key, obj: gone, prev });
    return gone;
  }

  /** Events of `key` after revision `since`, or undefined when that revision is compacted away. */
  since(key: string, since: number): StoreEvent[] | undefined {
    if (since < this.compactedRv) return undefined;
    return this.history.filter((e) => e.key === key && e.rv > since);
  }

  /** Forget all history: any watch from a revision before now gets 410 Gone. */
  expireHistory(): void {
    this.history = [];
    // Consume a revision so that even a client that is fully up to date must relist.
    this.rv++;
    this.compactedRv = this.rv;
  }

  private record(ev: StoreEvent): void {
    this.history.push(ev);
    if (this.history.length > this.historyLimit) {
      const drop = this.history.length - this.historyLimit;
      this.compactedRv = this.history[drop - 1]!.rv;
      this.history.splice(0, drop);
    }
    for (const w of this.watchers) if (w.key === ev.key) w.deliver(ev);
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (!this.persistDir || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 100);
    this.saveTimer.unref();
  }

  /** Writes the snapshot now (atomic rename), if persistence is on. */
  save(): void {
    if (!this.persistDir) return;
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    mkdirSync(this.persistDir, { recursive: true });
    const objects: { key: string; obj: KubeObject }[] = [];
    for (const [key, m] of this.objects) for (const obj of m.values()) objects.push({ key, obj });
    const file = join(this.persistDir, "kube-state.json");
    writeFileSync(`${file}.tmp`, JSON.stringify({ rv: this.rv, objects }));
    renameSync(`${file}.tmp`, file);
  }

  /** Loads the snapshot (if any): objects keep their resourceVersions; history starts empty. */
  load(): { key: string; obj: KubeObject }[] {
    if (!this.persistDir) return [];
    const file = join(this.persistDir, "kube-state.json");
    if (!existsSync(file)) return [];
    let snap: { rv: number; objects: { key: string; obj: KubeObject }[] };
    try {
      snap = JSON.parse(readFileSync(file, "utf8")) as typeof snap;
    } catch (e) {
      throw new Error(`kube test server: cannot read snapshot ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const { key, obj } of snap.objects) {
      let m = this.objects.get(key);
      if (!m) this.objects.set(key, (m = new Map()));
      m.set(objKey(obj.metadata.namespace, obj.metadata.name!), obj);
      if (obj.metadata.uid) this.uids.set(obj.metadata.uid, obj);
    }
    this.rv = snap.rv;
    this.compactedRv = snap.rv;
    return snap.objects;
  }
}
