// Watch streams: newline-delimited JSON events from a resourceVersion, with the real
// server's semantics — synthetic ADDED for "0"/unset, replay from the bounded history,
// an ERROR event with a 410 Status when that history no longer reaches back, selector-aware
// event types, BOOKMARKs, timeoutSeconds — and the hooks fault injection needs.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError, badRequest } from "./errors.ts";
import type { Store, StoreEvent } from "./store.ts";
import { partialOf, toTable, type IncludeObject } from "./table.ts";
import { groupVersion, storageKey, type KubeObject, type ResourceType } from "./types.ts";

export interface OpenWatch {
  res: ServerResponse;
  /** Lines held back while watches are stalled. */
  stalledQueue: string[];
  close(): void;
}

export interface WatchContext {
  store: Store;
  view(rt: ResourceType, obj: KubeObject): KubeObject;
  matcher(rt: ResourceType, ns: string | undefined, q: URLSearchParams): (o: KubeObject) => boolean;
  isStalled(): boolean;
  bookmarkIntervalMs: number;
  /** Open watches, for dropWatches/stallWatches/restart. */
  open: Set<OpenWatch>;
}

export function serveWatch(
  ctx: WatchContext,
  req: IncomingMessage,
  res: ServerResponse,
  rt: ResourceType,
  ns: string | undefined,
  q: URLSearchParams,
  table: IncludeObject | undefined,
  partial: boolean,
): void {
  let match: (o: KubeObject) => boolean;
  try {
    match = ctx.matcher(rt, ns, q);
  } catch (err) {
    const e = err instanceof ApiError ? err : badRequest(String(err));
    res.writeHead(e.code, { "Content-Type": "application/json" });
    res.end(JSON.stringify(e.toStatus()));
    return;
  }
  res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" });
  res.flushHeaders();
  let first = true;
  const encode = (type: string, obj: unknown) => {
    let object = obj;
    if (table && type !== "ERROR" && type !== "BOOKMARK") {
      object = toTable(rt, [ctx.view(rt, obj as KubeObject)], table, {}, first);
      first = false;
    } else if (type !== "ERROR" && type !== "BOOKMARK") object = partial ? partialOf(ctx.view(rt, obj as KubeObject)) : ctx.view(rt, obj as KubeObject);
    return `${JSON.stringify({ type, object })}\n`;
  };
  const w: OpenWatch = {
    res,
    stalledQueue: [],
    close: () => {
      cleanup();
      res.end();
    },
  };
  const write = (type: string, obj: unknown) => {
    const line = encode(type, obj);
    if (ctx.isStalled()) w.stalledQueue.push(line);
    else res.write(line);
  };
  const bookmark = (annotations?: Record<string, string>) => ({
    apiVersion: groupVersion(rt.group, rt.version),
    kind: rt.kind,
    metadata: { resourceVersion: String(ctx.store.rv), ...(annotations ? { annotations } : {}) },
  });
  const deliver = (ev: StoreEvent) => {
    const now = match(ev.obj);
    if (ev.type === "ADDED") {
      if (now) write("ADDED", ev.obj);
    } else if (ev.type === "DELETED") {
      if (now || (ev.prev && match(ev.prev))) write("DELETED", ev.obj);
    } else {
      const before = ev.prev ? match(ev.prev) : false;
      if (before && now) write("MODIFIED", ev.obj);
      else if (now) write("ADDED", ev.obj);
      else if (before) write("DELETED", ev.obj);
    }
  };
  const watcher = { key: storageKey(rt), deliver };
  const timers: NodeJS.Timeout[] = [];
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    ctx.store.watchers.delete(watcher);
    ctx.open.delete(w);
    for (const t of timers) clearTimeout(t);
  };
  req.on("close", cleanup);
  res.on("close", cleanup);
  const rvParam = q.get("resourceVersion") ?? "";
  if (rvParam === "" || rvParam === "0") {
    // "Get state and start at most recent" / "start at any": synthetic ADDED for what exists.
    for (const o of ctx.store.list(storageKey(rt), rt.namespaced ? ns : undefined)) if (match(o)) write("ADDED", o);
    if (q.get("sendInitialEvents") === "true") write("BOOKMARK", bookmark({ "k8s.io/initial-events-end": "true" }));
  } else {
    const since = Number(rvParam);
    if (!Number.isInteger(since) || since < 0) {
      write("ERROR", new ApiError(400, "BadRequest", `invalid resource version: ${rvParam}`).toStatus());
      cleanup();
      res.end();
      return;
    }
    if (since > ctx.store.rv) {
      // A revision this server never reached (e.g. a snapshot older than the client's view
      // after a crash): make the client relist rather than silently skip changes.
      write("ERROR", new ApiError(410, "Expired", `Too large resource version: ${since}, current: ${ctx.store.rv}`).toStatus());
      cleanup();
      res.end();
      return;
    }
    const events = ctx.store.since(storageKey(rt), since);
    if (!events) {
      // As the real server: 200, then an ERROR event carrying a 410 Expired Status, then close.
      write("ERROR", new ApiError(410, "Expired", `too old resource version: ${since} (${ctx.store.compactedRv})`).toStatus());
      cleanup();
      res.end();
      return;
    }
    for (const ev of events) deliver(ev);
  }
  ctx.store.watchers.add(watcher);
  ctx.open.add(w);
  const timeout = Number(q.get("timeoutSeconds") ?? 0);
  if (timeout > 0) timers.push(setTimeout(() => w.close(), timeout * 1000));
  if (q.get("allowWatchBookmarks") === "true") {
    const tick = () => {
      if (done) return;
      if (!ctx.isStalled()) write("BOOKMARK", bookmark());
      timers.push(setTimeout(tick, ctx.bookmarkIntervalMs));
    };
    timers.push(setTimeout(tick, ctx.bookmarkIntervalMs));
  }
}
