// The Kubernetes API test server: HTTP routing, content negotiation (JSON, Table), the
// REST verbs with the real server's object semantics, watches, and fault injection.
// A test and dev harness, not a cluster: no controllers beyond garbage collection,
// namespace and CRD cleanup; no authentication or authorization.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { randomUUID, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordUpdate, serverSideApply } from "./apply.ts";
import { BUILTIN_TYPES, defaultBuiltin, validateBuiltin } from "./builtins.ts";
import { BUILTIN_SCHEMAS } from "./builtin-schemas.ts";
import { crdTypes, prepareCrd, validateCrd } from "./crd.ts";
import { aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, groupVersions, openApiV3Doc, openApiV3Root, serverVersion } from "./discovery.ts";
import { ApiError, alreadyExists, badRequest, conflict, invalid, methodNotAllowed, notFound, pathNotFound, type StatusCause } from "./errors.ts";
import { evalJsonPath, setSimplePath } from "./jsonpath.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.ts";
import { applyDefaults, prune, validate } from "./schema.ts";
import { validateMetadata } from "./metadata.ts";
import { labelSelectorToString, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { Store } from "./store.ts";
import { partialOf, toTable, type IncludeObject } from "./table.ts";
import { deleteOptions, goFormat, parseBody, readBody } from "./request.ts";
import { Reaper } from "./lifecycle.ts";
import { serveWatch, type OpenWatch, type WatchContext } from "./watch.ts";
import { clone, groupVersion, isObject, storageKey, type Json, type JsonObject, type KubeObject, type ResourceType } from "./types.ts";

export interface RecordedRequest {
  /** RBAC verb: get, list, watch, create, update, patch, delete, deletecollection */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
}

export interface KubeApiServerOptions {
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Directory for the JSON snapshot; data survives stop/start when set. */
  persistDir?: string;
  /** Watch history length (events) before resourceVersions expire with 410 (default 2000). */
  historyLimit?: number;
  /** Where to write the kubeconfig (default: a temp file). */
  kubeconfigPath?: string;
  /** Interval of BOOKMARK events for watches that allow them (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** Called once per request after its status is known (standalone `--log`). */
  onRequest?: (r: { method: string; path: string; code: number; ms: number; userAgent: string | undefined }) => void;
}

export interface KubeFaults {
  /** Ends every open watch (as the server does on its own timeout); clients re-watch. */
  dropWatches(opts?: { abrupt?: boolean }): void;
  /** Forgets watch history: the next watch from any earlier resourceVersion gets 410 Gone. */
  expireHistory(): void;
  /** While on, open watches receive nothing (events are held back, not lost) and stay open. */
  stallWatches(on: boolean): void;
  /** While on, answers every request with 503 (switched off explicitly, like stallWatches). */
  refuseRequests(on: boolean): void;
}

export interface KubeApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  requests: RecordedRequest[];
  faults: KubeFaults;
  /** Same port, same data; drops all connections. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_RECORDED = 100_000;

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isObject(x as Json)
      ? Object.fromEntries(
          Object.keys(x as object)
            .sort()
            .map((k) => [k, (x as Record<string, unknown>)[k]]),
        )
      : x,
  );
}

interface ReqInfo {
  rt: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
}

interface WriteOpts {
  dryRun: boolean;
  fieldValidation: "Strict" | "Warn" | "Ignore";
  fieldManager: string;
  warnings: string[];
  /** Set for PATCH requests: strict unknown-field errors then name the patch (apiserver patch.go). */
  patch?: Json;
  /** Server-side apply: managedFields come from the apply, no Update entry is recorded. */
  applying?: boolean;
  /** Subresource the write came through, for managedFields (status, scale). */
  subresource?: string;
}

class ApiServer implements KubeApiServer {
  url = "";
  port = 0;
  kubeconfigPath: string;
  requests: RecordedRequest[] = [];
  readonly store: Store;
  private types = new Map<string, ResourceType>();
  private http: Server | undefined;
  private sockets = new Set<Socket>();
  private watches = new Set<OpenWatch>();
  private stalled = false;
  private refusing = false;
  private readonly bookmarkIntervalMs: number;
  private readonly onRequest: KubeApiServerOptions["onRequest"];
  readonly faults: KubeFaults;
  private readonly reaper: Reaper;
  private readonly watchContext: WatchContext;

  constructor(opts: KubeApiServerOptions) {
    this.store = new Store({
      ...(opts.historyLimit !== undefined ? { historyLimit: opts.historyLimit } : {}),
      ...(opts.persistDir ? { persistDir: opts.persistDir } : {}),
    });
    this.kubeconfigPath = opts.kubeconfigPath ?? join(mkdtempSync(join(tmpdir(), "jetmesh-kube-")), "kubeconfig");
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    this.onRequest = opts.onRequest;
    this.watchContext = {
      store: this.store,
      view: (rt, o) => this.view(rt, o),
      matcher: (rt, ns, q) => this.matcher(rt, ns, q),
      isStalled: () => this.stalled,
      bookmarkIntervalMs: this.bookmarkIntervalMs,
      open: this.watches,
    };
    this.port = opts.port ?? 0;
    this.reaper = new Reaper({
      store: this.store,
      typeOfKey: (key) => this.typeOfKey(key),
      type: (g, v, p) => this.type(g, v, p),
      unregisterCrd: (name) => this.unregisterCrd(name),
    });
    for (const t of BUILTIN_TYPES) this.types.set(`${t.group}/${t.version}/${t.plural}`, t);
    for (const { key, obj } of this.store.load()) {
      if (key === "apiextensions.k8s.io/customresourcedefinitions") this.registerCrd(obj);
    }
    for (const ns of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      if (!this.store.get("/namespaces", undefined, ns))
        this.createInternal(this.type("", "v1", "namespaces")!, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    }
    this.faults = {
      dropWatches: (o) => {
        for (const w of [...this.watches]) {
          if (o?.abrupt) w.res.destroy();
          else w.close();
        }
      },
      expireHistory: () => this.store.expireHistory(),
      stallWatches: (on) => {
        this.stalled = on;
        if (!on) {
          for (const w of this.watches) {
            for (const line of w.stalledQueue.splice(0)) w.res.write(line);
          }
        }
      },
      refuseRequests: (on) => {
        this.refusing = on;
      },
    };
  }

  // ---- type registry -------------------------------------------------------------------

  private type(group: string, version: string, plural: string): ResourceType | undefined {
    return this.types.get(`${group}/${version}/${plural}`);
  }

  private allTypes(): ResourceType[] {
    return [...this.types.values()];
  }

  private registerCrd(crd: KubeObject): void {
    for (const [k, t] of this.types) if (t.crd === crd.metadata.name) this.types.delete(k);
    for (const t of crdTypes(crd)) this.types.set(`${t.group}/${t.version}/${t.plural}`, t);
  }

  private unregisterCrd(name: string): void {
    for (const [k, t] of this.types) if (t.crd === name) this.types.delete(k);
  }

  /** Any served version of a storage key (for internal operations such as GC). */
  private typeOfKey(key: string): ResourceType | undefined {
    return this.allTypes().find((t) => storageKey(t) === key);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  async listen(): Promise<void> {
    const srv = createServer({ keepAlive: true }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { "Content-Type": "application/json" });
          res.end(JSON.stringify(new ApiError(500, "InternalError", String(err)).toStatus()));
          process.stderr.write(`kube test server: ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}\n`);
        } else res.destroy();
      });
    });
    srv.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(this.port, "127.0.0.1", () => {
        srv.off("error", reject);
        resolve();
      });
    });
    const addr = srv.address();
    this.port = typeof addr === "object" && addr ? addr.port : this.port;
    this.url = `http://127.0.0.1:${this.port}`;
    this.http = srv;
    writeKubeconfig(this.kubeconfigPath, this.url);
  }

  private async close(): Promise<void> {
    const srv = this.http;
    this.http = undefined;
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
    for (const s of this.sockets) s.destroy();
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  async restart(): Promise<void> {
    await this.close();
    this.store.save();
    await this.listen();
  }

  async stop(): Promise<void> {
    this.reaper.stop();
    await this.close();
    this.store.save();
  }

  // ---- HTTP ----------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const accept = String(req.headers.accept ?? "");
    let record: RecordedRequest | undefined;
    const started = Date.now();
    const logged = (code: number) => this.onRequest?.({ method, path: req.url ?? path, code, ms: Date.now() - started, userAgent: req.headers["user-agent"] });
    const send = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      logged(code);
      if (record) {
        record.code = code;
        this.requests.push(record);
        if (this.requests.length > MAX_RECORDED) this.requests.splice(0, this.requests.length - MAX_RECORDED);
      }
      res.writeHead(code, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", ...headers });
      res.end(JSON.stringify(body));
    };
    if (this.refusing) {
      send(503, new ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request (fault injected)").toStatus(), {
        "Retry-After": "1",
      });
      return;
    }
    try {
      // `kubectl auth can-i`: this server authorizes nothing away (no authn/authz), so every
      // review answers allowed, and says why. Reviews are not stored, as on a real server.
      if (path === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" && method === "POST") {
        // kubectl sends the review as protobuf; the answer does not depend on it, so a body
        // this server cannot read is answered all the same (in JSON, which kubectl accepts).
        const raw = (await readBody(req)).toString("utf8");
        let spec: unknown = {};
        try {
          spec = (JSON.parse(raw) as { spec?: unknown }).spec ?? {};
        } catch {
          // protobuf
        }
        send(201, {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec,
          status: { allowed: true, reason: "the API test server does not authorize: every request is allowed" },
        });
        return;
      }
      const nonResource = this.nonResource(path, accept);
      if (nonResource !== undefined) {
        if (method !== "GET") throw methodNotAllowed();
        send(200, nonResource.body, nonResource.headers);
        return;
      }
      const info = this.parsePath(path);
      if (!info) throw pathNotFound();
      const { rt, namespace, name, sub } = info;
      const q = url.searchParams;
      const isWatch = method === "GET" && !name && (q.get("watch") === "true" || q.get("watch") === "1");
      const verb =
        method === "GET"
          ? name
            ? "get"
            : isWatch
              ? "watch"
              : "list"
          : method === "POST"
            ? "create"
            : method === "PUT"
              ? "update"
              : method === "PATCH"
                ? "patch"
                : method === "DELETE"
                  ? name
                    ? "delete"
                    : "deletecollection"
                  : "unknown";
      record = {
        verb,
        apiGroup: rt.group,
        apiVersion: rt.version,
        resource: rt.plural,
        ...(sub ? { subresource: sub } : {}),
        ...(namespace ? { namespace } : {}),
        ...(name ? { name } : {}),
        code: 0,
      };
      if (sub && sub !== "status" && !(sub === "scale" && rt.scale)) throw pathNotFound();
      if (sub === "status" && !rt.status) throw pathNotFound();
      const table = /as=Table/.test(accept) && method === "GET" && !sub;
      // Metadata-only clients (client-go's metadata informers, the garbage collector) ask for this.
      const partial = !table && /as=PartialObjectMetadata/.test(accept) && method === "GET" && !sub;
      const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;
      if (isWatch) {
        record.code = 200;
        this.requests.push(record);
        logged(200);
        serveWatch(this.watchContext, req, res, rt, namespace, q, table ? include : undefined, partial);
        return;
      }
      const opts: WriteOpts = {
        dryRun: q.getAll("dryRun").includes("All"),
        fieldValidation: (["Strict", "Warn", "Ignore"].includes(q.get("fieldValidation") ?? "")
          ? q.get("fieldValidation")
          : "Warn") as WriteOpts["fieldValidation"],
        fieldManager: q.get("fieldManager") ?? String(req.headers["user-agent"] ?? "unknown").split("/")[0]!,
        warnings: [],
      };
      const body = method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE" ? await readBody(req) : undefined;
      let code = 200;
      let out: unknown;
      if (method === "GET" && name) {
        const obj = this.mustGet(rt, namespace, name);
        out =
          sub === "scale"
            ? this.scaleOf(rt, obj)
            : table
              ? toTable(rt, [this.view(rt, obj)], include, {})
              : partial
                ? partialOf(this.view(rt, obj))
                : this.view(rt, obj);
      } else if (method === "GET") {
        out = this.list(rt, namespace, q, table ? include : undefined, partial);
      } else if (method === "POST" && !name) {
        const obj = parseBody(body!, String(req.headers["content-type"] ?? ""));
        out = this.view(rt, this.create(rt, namespace, obj, opts));
        code = 201;
      } else if (method === "PUT" && name) {
        const obj = parseBody(body!, String(req.headers["content-type"] ?? ""));
        const r = sub === "scale" ? this.updateScale(rt, namespace, name, obj, opts) : this.update(rt, namespace, name, obj, sub, opts);
        out = r.created ? this.view(rt, r.obj) : sub === "scale" ? r.obj : this.view(rt, r.obj);
        if (r.created) code = 201;
      } else if (method === "PATCH" && name) {
        const r = this.patch(rt, namespace, name, sub, body!, String(req.headers["content-type"] ?? ""), q, opts);
        out = sub === "scale" ? r.obj : this.view(rt, r.obj);
        if (r.created) code = 201;
      } else if (method === "DELETE" && name && !sub) {
        const r = this.delete(rt, namespace, name, deleteOptions(body, q), opts);
        out = r;
      } else if (method === "DELETE" && !name) {
        out = this.deleteCollection(rt, namespace, q, deleteOptions(body, q), opts);
      } else {
        throw methodNotAllowed();
      }
      const headers: Record<string, string> = {};
      if (opts.warnings.length) headers.Warning = opts.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(", ");
      send(code, out, headers);
    } catch (err) {
      if (err instanceof ApiError) send(err.code, err.toStatus());
      else {
        // A bug in the test server, not a client error: say so loudly.
        process.stderr.write(`kube test server: ${method} ${path}: ${err instanceof Error ? err.stack : String(err)}\n`);
        send(500, new ApiError(500, "InternalError", err instanceof Error ? err.message : String(err)).toStatus());
      }
    }
  }

  private nonResource(path: string, accept: string): { body: unknown; headers?: Record<string, string> } | undefined {
    const wantsAggregated = /as=APIGroupDiscoveryList/.test(accept) && /v=v2(;|,|$)/.test(accept.replace(/\s/g, ""));
    const aggregatedHeaders = { "Content-Type": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" };
    if (path === "/version") return { body: serverVersion };
    if (path === "/healthz" || path === "/livez" || path === "/readyz") return { body: "ok" };
    if (path === "/api") {
      if (wantsAggregated) return { body: aggregatedDiscovery(this.allTypes(), true), headers: aggregatedHeaders };
      return {
        body: { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${this.port}` }] },
      };
    }
    if (path === "/apis") {
      if (wantsAggregated) return { body: aggregatedDiscovery(this.allTypes(), false), headers: aggregatedHeaders };
      return { body: apiGroupList(this.allTypes()) };
    }
    if (path === "/api/v1")
      return {
        body: apiResourceList(
          "v1",
          this.allTypes().filter((t) => t.group === ""),
        ),
      };
    let m = /^\/apis\/([^/]+)$/.exec(path);
    if (m) {
      const vs = groupVersions(this.allTypes()).get(m[1]!);
      if (!vs) throw pathNotFound();
      return { body: { kind: "APIGroup", apiVersion: "v1", ...apiGroup(m[1]!, vs) } };
    }
    m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const ts = this.allTypes().filter((t) => t.group === m![1] && t.version === m![2]);
      if (ts.length === 0) throw pathNotFound();
      return { body: apiResourceList(`${m[1]}/${m[2]}`, ts) };
    }
    if (path === "/openapi/v3") return { body: openApiV3Root(this.allTypes()) };
    m = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (m) {
      const group = m[1] ? "" : m[2]!;
      const version = m[1] ?? m[3]!;
      if (!this.allTypes().some((t) => t.group === group && t.version === version)) throw pathNotFound();
      return { body: openApiV3Doc(this.allTypes(), group, version) };
    }
    return undefined;
  }

  private parsePath(path: string): ReqInfo | undefined {
    let segs: string[];
    try {
      segs = path
        .split("/")
        .filter((s) => s !== "")
        .map(decodeURIComponent);
    } catch {
      throw badRequest(`invalid URL path ${JSON.stringify(path)}`);
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api" && segs.length >= 2) {
      group = "";
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === "apis" && segs.length >= 3) {
      group = segs[1]!;
      version = segs[2]!;
      rest = segs.slice(3);
    } else return undefined;
    if (rest.length === 0) return undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      const rt = this.type(group, version, rest[2]!);
      if (rt?.namespaced) {
        if (rest.length > 5) return undefined;
        return { rt, namespace: rest[1], name: rest[3], sub: rest[4] };
      }
    }
    const rt = this.type(group, version, rest[0]!);
    if (!rt || rest.length > 3) return undefined;
    // A namespaced resource without a namespace: only collection reads across namespaces.
    if (rt.namespaced && rest.length > 1) return undefined;
    return { rt, namespace: undefined, name: rest[1], sub: rest[2] };
  }

  // ---- reads ---------------------------------------------------------------------------

  /** The object as served in the requested version (versions share storage, conversion None). */
  private view(rt: ResourceType, obj: KubeObject): KubeObject {
    const o = rt.convert ? rt.convert.fromStored(clone(obj)) : clone(obj);
    o.apiVersion = groupVersion(rt.group, rt.version);
    o.kind = rt.kind;
    return o;
  }

  private mustGet(rt: ResourceType, ns: string | undefined, name: string): KubeObject {
    const o = this.store.get(storageKey(rt), rt.namespaced ? ns : undefined, name);
    if (!o) throw notFound(rt, name);
    return o;
  }

  private matcher(rt: ResourceType, ns: string | undefined, q: URLSearchParams): (o: KubeObject) => boolean {
    const labels = parseLabelSelector(q.get("labelSelector"));
    const fields = parseFieldSelector(q.get("fieldSelector"), rt.crd ? (rt.selectableFields ?? []) : undefined);
    return (o) => (ns === undefined || o.metadata.namespace === ns) && labels(o.metadata.labels) && fields(rt.convert ? this.view(rt, o) : o);
  }

  private list(rt: ResourceType, ns: string | undefined, q: URLSearchParams, table: IncludeObject | undefined, partial: boolean): unknown {
    const match = this.matcher(rt, ns, q);
    let items = this.store.list(storageKey(rt), rt.namespaced ? ns : undefined).filter(match);
    const meta: JsonObject = { resourceVersion: String(this.store.rv) };
    // Pagination: the continue token is the last returned key (lists are sorted by it).
    const cont = q.get("continue");
    if (cont) {
      let after: string;
      try {
        after = Buffer.from(cont, "base64url").toString("utf8");
      } catch {
        throw badRequest("invalid continue token");
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}` > after);
    }
    const limit = Number(q.get("limit") ?? 0);
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      meta.continue = Buffer.from(`${last.metadata.namespace ?? ""}/${last.metadata.name}`).toString("base64url");
      meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    const views = items.map((o) => this.view(rt, o));
    if (table) return toTable(rt, views, table, meta);
    if (partial) return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadataList", metadata: meta, items: views.map(partialOf) };
    return { apiVersion: groupVersion(rt.group, rt.version), kind: rt.listKind, metadata: meta, items: views };
  }

  // ---- writes --------------------------------------------------------------------------

  private checkName(rt: ResourceType, name: string | undefined, causes: StatusCause[]): void {
    if (!name) {
      causes.push({ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" });
      return;
    }
    const label = rt.plural === "namespaces" && rt.group === "";
    const ok = label ? DNS_LABEL.test(name) && name.length <= 63 : DNS_SUBDOMAIN.test(name) && name.length <= 253;
    if (!ok) {
      const what = label
        ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(name)}: ${what}`, field: "metadata.name" });
    }
  }

  /** Pruning, defaulting and validation of the main resource (create and update). */
  private admit(rt: ResourceType, obj: KubeObject, old: KubeObject | undefined, opts: WriteOpts): void {
    const causes: StatusCause[] = [];
    this.checkName(rt, obj.metadata.name, causes);
    causes.push(...validateMetadata(obj.metadata));
    const known = rt.crd ? rt.schema : BUILTIN_SCHEMAS[storageKey(rt)];
    if (known) {
      const unknown = prune(obj as unknown as Json, known);
      if (unknown.length && opts.fieldValidation === "Strict" && opts.patch !== undefined) {
        const why = `strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(", ")}`;
        throw invalid("", "", "", [{ reason: "FieldValueInvalid", field: "patch", message: `Invalid value: ${JSON.stringify(goFormat(opts.patch))}: ${why}` }]);
      }
      if (unknown.length && opts.fieldValidation === "Strict") {
        throw badRequest(
          `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(", ")}`,
        );
      }
      if (unknown.length && opts.fieldValidation === "Warn") opts.warnings.push(...unknown.map((u) => `unknown field "${u}"`));
    }
    if (rt.crd && rt.schema) {
      applyDefaults(obj as unknown as Json, rt.schema);
      causes.push(...validate(obj as unknown as Json, rt.schema, "", old as unknown as Json | undefined));
    } else if (rt.group === "apiextensions.k8s.io") {
      causes.push(...validateCrd(obj));
      if (causes.length === 0) prepareCrd(obj, old);
    } else {
      defaultBuiltin(rt, obj);
      causes.push(...validateBuiltin(rt, obj, old));
    }
    if (causes.length) throw invalid(rt.kind, rt.group, obj.metadata.name ?? "", causes);
  }

  private create(rt: ResourceType, ns: string | undefined, body: unknown, opts: WriteOpts): KubeObject {
    if (!isObject(body as Json)) throw badRequest("the body of the request was in an unknown format");
    const obj = clone(body) as KubeObject;
    if (!isObject(obj.metadata as unknown as Json)) obj.metadata = {};
    if (obj.kind && obj.kind !== rt.kind) throw badRequest(`the kind of the object (${String(obj.kind)}) does not match the expected kind (${rt.kind})`);
    if (rt.namespaced) {
      if (!ns) throw pathNotFound();
      if (obj.metadata.namespace && obj.metadata.namespace !== ns) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      obj.metadata.namespace = ns;
      const nsObj = this.store.get("/namespaces", undefined, ns);
      if (!nsObj) throw notFound(this.type("", "v1", "namespaces")!, ns);
      if (nsObj.metadata.deletionTimestamp) {
        throw new ApiError(
          403,
          "Forbidden",
          `${rt.plural} "${obj.metadata.name ?? ""}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
          { name: obj.metadata.name, group: rt.group, kind: rt.plural },
        );
      }
    } else delete obj.metadata.namespace;
    if (!obj.metadata.name && obj.metadata.generateName) {
      obj.metadata.name = `${obj.metadata.generateName}${randomBytes(4).toString("hex").slice(0, 5)}`;
    }
    return this.createInternal(rt, obj, opts);
  }

  private createInternal(rt: ResourceType, input: KubeObject, opts?: WriteOpts): KubeObject {
    const o = opts ?? { dryRun: false, fieldValidation: "Ignore" as const, fieldManager: "server", warnings: [] };
    input.apiVersion = groupVersion(rt.group, rt.version);
    input.kind = rt.kind;
    const obj = rt.convert ? rt.convert.toStored(input) : input;
    if (obj.metadata.name && this.store.get(storageKey(rt), obj.metadata.namespace, obj.metadata.name)) throw alreadyExists(rt, obj.metadata.name);
    // Status is not set on create where a status subresource exists (real PrepareForCreate).
    if (rt.status && !(rt.group === "" && rt.plural === "namespaces")) delete obj.status;
    this.admit(rt, obj, undefined, o);
    if (!o.applying) {
      delete obj.metadata.managedFields;
      const mf = recordUpdate(undefined, obj, { manager: o.fieldManager, apiVersion: groupVersion(rt.group, rt.version), schema: rt.schema, builtin: !rt.crd });
      if (mf.length) obj.metadata.managedFields = mf;
    }
    const m = obj.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = now();
    if (tracksGeneration(rt)) m.generation = 1;
    else delete m.generation;
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    if (o.dryRun) return obj;
    const stored = this.store.put(storageKey(rt), obj, "ADDED");
    if (rt.group === "apiextensions.k8s.io") this.registerCrd(stored);
    if (m.ownerReferences?.length) this.reaper.scheduleGc();
    return stored;
  }

  private specChanged(rt: ResourceType, a: KubeObject, b: KubeObject): boolean {
    const strip = (o: KubeObject) => {
      const c = { ...o } as Record<string, unknown>;
      delete c.metadata;
      if (rt.status) delete c.status;
      return stable(c);
    };
    return strip(a) !== strip(b);
  }

  private update(
    rt: ResourceType,
    ns: string | undefined,
    name: string,
    body: unknown,
    sub: string | undefined,
    opts: WriteOpts,
  ): { obj: KubeObject; created: boolean } {
    if (!isObject(body as Json)) throw badRequest("the body of the request was in an unknown format");
    let incoming = clone(body) as KubeObject;
    if (!isObject(incoming.metadata as unknown as Json)) incoming.metadata = {};
    if (incoming.metadata.name && incoming.metadata.name !== name) {
      throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`);
    }
    incoming.metadata.name = name;
    const current = this.store.get(storageKey(rt), rt.namespaced ? ns : undefined, name);
    if (!current) {
      if (rt.createOnUpdate && !sub) return { obj: this.create(rt, ns, incoming, opts), created: true };
      throw notFound(rt, name);
    }
    const rv = incoming.metadata.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(rt, name);
    if (!rv && rt.crd) {
      throw invalid(rt.kind, rt.group, name, [
        { reason: "FieldValueInvalid", message: "Invalid value: 0: must be specified for an update", field: "metadata.resourceVersion" },
      ]);
    }
    if (rt.convert) incoming = rt.convert.toStored(incoming);
    return { obj: this.replace(rt, current, incoming, sub, opts), created: false };
  }

  /** Replaces `current` by `incoming` with the real server's update semantics. */
  private replace(rt: ResourceType, current: KubeObject, incoming: KubeObject, sub: string | undefined, opts: WriteOpts): KubeObject {
    let next: KubeObject;
    if (sub === "status") {
      // Status writes change only status (CRD docs: "ignore changes to anything except the status stanza").
      next = clone(current);
      if (incoming.status === undefined) delete next.status;
      else next.status = clone(incoming.status);
    } else {
      next = clone(incoming);
      next.apiVersion = current.apiVersion;
      next.kind = rt.kind;
      if (rt.status) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      const m = next.metadata;
      const c = current.metadata;
      m.namespace = c.namespace;
      m.uid = c.uid;
      m.creationTimestamp = c.creationTimestamp;
      m.generation = c.generation;
      if (c.deletionTimestamp) m.deletionTimestamp = c.deletionTimestamp;
      else delete m.deletionTimestamp;
      if (c.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = c.deletionGracePeriodSeconds;
      if (opts.applying) {
        if (m.managedFields === undefined && c.managedFields) m.managedFields = c.managedFields;
      } else if (c.managedFields) m.managedFields = c.managedFields;
      else delete m.managedFields;
      if (c.deletionTimestamp) {
        const added = (m.finalizers ?? []).filter((f) => !(c.finalizers ?? []).includes(f));
        if (added.length) {
          throw invalid(rt.kind, rt.group, c.name!, [
            {
              reason: "FieldValueForbidden",
              message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
              field: "metadata.finalizers",
            },
          ]);
        }
      }
      if (rt.group === "" && rt.plural === "namespaces") next.status = clone(current.status);
    }
    this.admit(rt, next, current, opts);
    if (tracksGeneration(rt) && this.specChanged(rt, current, next)) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    if (!opts.applying) {
      const subresource = opts.subresource ?? sub;
      next.metadata.managedFields = recordUpdate(current, next, {
        manager: opts.fieldManager,
        apiVersion: subresource === "scale" ? "autoscaling/v1" : groupVersion(rt.group, rt.version),
        ...(subresource ? { subresource } : {}),
        schema: rt.schema,
        builtin: !rt.crd,
      });
      if (next.metadata.managedFields.length === 0) delete next.metadata.managedFields;
    }
    const comparable = (o: KubeObject) => {
      const c = clone(o);
      delete c.metadata.resourceVersion;
      delete c.metadata.managedFields;
      return stable(c);
    };
    // A no-op write does not bump resourceVersion or notify watchers (as the real server).
    if (comparable(next) === comparable(current)) return current;
    if (opts.dryRun) {
      next.metadata.resourceVersion = current.metadata.resourceVersion;
      return next;
    }
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0) {
      this.store.put(storageKey(rt), next, "MODIFIED");
      return this.reaper.removeNow(rt, next);
    }
    const stored = this.store.put(storageKey(rt), next, "MODIFIED");
    if (rt.group === "apiextensions.k8s.io") this.registerCrd(stored);
    if (next.metadata.ownerReferences?.length) this.reaper.scheduleGc();
    return stored;
  }

  private patch(
    rt: ResourceType,
    ns: string | undefined,
    name: string,
    sub: string | undefined,
    body: Buffer,
    contentType: string,
    q: URLSearchParams,
    opts: WriteOpts,
  ): { obj: KubeObject; created: boolean } {
    const ct = contentType.split(";")[0]!.trim();
    const current = this.store.get(storageKey(rt), rt.namespaced ? ns : undefined, name);
    if (ct === "application/apply-patch+yaml" || ct === "application/apply-patch+cbor") {
      if (sub === "scale") throw new ApiError(415, "UnsupportedMediaType", "apply patches are not supported on the scale subresource in this test server");
      const applied = parseBody(body, ct) as JsonObject;
      if (!isObject(applied)) throw badRequest("apply patch must be an object");
      const manager = q.get("fieldManager");
      if (!manager)
        throw invalid(rt.kind, rt.group, name, [
          { reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" },
        ]);
      if (rt.schema && opts.fieldValidation !== "Ignore") {
        // Apply configurations are converted to typed objects: unknown fields fail (as a 500, like the real server).
        const unknown = prune(clone(applied), rt.schema);
        if (unknown.length) {
          throw new ApiError(
            500,
            "",
            `failed to create typed patch object (${groupVersion(rt.group, rt.version)}, Kind=${rt.kind}): ${unknown.map((u) => `.${u}: field not declared in schema`).join(", ")}`,
          );
        }
      }
      const am = (isObject(applied.metadata) ? applied.metadata : {}) as JsonObject;
      if (am.name && am.name !== name) throw badRequest(`the name of the object (${String(am.name)}) does not match the name on the URL (${name})`);
      opts.applying = true;
      const result = serverSideApply({
        live: current ? this.view(rt, current) : undefined,
        applied,
        manager,
        force: q.get("force") === "true",
        schema: rt.schema,
        builtin: !rt.crd,
        apiVersion: groupVersion(rt.group, rt.version),
        describe: `${rt.plural}/${name}`,
      });
      result.metadata.name = name;
      if (!current) {
        const created = this.create(rt, ns, { ...result, metadata: { ...result.metadata, namespace: ns } }, opts);
        return { obj: created, created: true };
      }
      if (sub === "status") {
        if (isObject(applied.status)) result.status = mergePatch(current.status as Json, applied.status) as Json;
      }
      result.metadata.resourceVersion = current.metadata.resourceVersion;
      return { obj: this.replace(rt, current, rt.convert ? rt.convert.toStored(result) : result, sub, opts), created: false };
    }
    if (!current) throw notFound(rt, name);
    let patch: Json;
    try {
      patch = JSON.parse(body.toString("utf8")) as Json;
    } catch (e) {
      throw badRequest(`error decoding patch: ${e instanceof Error ? e.message : String(e)}`);
    }
    const base: Json = (sub === "scale" ? this.scaleOf(rt, current) : this.view(rt, current)) as unknown as Json;
    opts.patch = patch;
    let patched: Json;
    if (ct === "application/merge-patch+json") patched = mergePatch(base, patch);
    else if (ct === "application/json-patch+json") patched = jsonPatch(base, patch);
    else if (ct === "application/strategic-merge-patch+json") {
      if (!rt.strategicMerge && sub !== "scale") {
        throw new ApiError(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
      }
      patched = strategicMergePatch(base, patch);
    } else
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
    if (!isObject(patched)) throw badRequest("patch result is not an object");
    const p = patched as unknown as KubeObject;
    if (!isObject(p.metadata as unknown as Json)) p.metadata = {};
    const rv = p.metadata.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(rt, name);
    p.metadata.resourceVersion = current.metadata.resourceVersion;
    if (sub === "scale") return { obj: this.applyScale(rt, current, p, opts), created: false };
    return { obj: this.replace(rt, current, rt.convert ? rt.convert.toStored(p) : p, sub, opts), created: false };
  }

  // ---- scale subresource ---------------------------------------------------------------

  private scaleOf(rt: ResourceType, obj: KubeObject): KubeObject {
    const s = rt.scale!;
    const replicas = evalJsonPath(obj, s.specReplicasPath)[0];
    const statusReplicas = evalJsonPath(obj, s.statusReplicasPath)[0];
    const sel = s.labelSelectorPath ? evalJsonPath(obj, s.labelSelectorPath)[0] : undefined;
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: obj.metadata.name!,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        uid: obj.metadata.uid!,
        resourceVersion: obj.metadata.resourceVersion!,
        creationTimestamp: obj.metadata.creationTimestamp!,
      },
      spec: { replicas: typeof replicas === "number" ? replicas : 0 },
      status: {
        replicas: typeof statusReplicas === "number" ? statusReplicas : 0,
        ...(sel === undefined ? {} : { selector: typeof sel === "string" ? sel : labelSelectorToString(sel) }),
      },
    };
  }

  private updateScale(rt: ResourceType, ns: string | undefined, name: string, body: unknown, opts: WriteOpts): { obj: KubeObject; created: boolean } {
    const current = this.mustGet(rt, ns, name);
    const scale = body as KubeObject;
    const rv = scale.metadata?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(rt, name);
    return { obj: this.applyScale(rt, current, scale, opts), created: false };
  }

  private applyScale(rt: ResourceType, current: KubeObject, scale: KubeObject, opts: WriteOpts): KubeObject {
    const replicas = (scale.spec as JsonObject | undefined)?.replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
      throw invalid("Scale", "autoscaling", current.metadata.name!, [
        {
          reason: "FieldValueInvalid",
          message: `Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
          field: "spec.replicas",
        },
      ]);
    }
    const next = clone(current);
    setSimplePath(next as unknown as Record<string, unknown>, rt.scale!.specReplicasPath, replicas);
    const stored = this.replace(rt, current, next, undefined, { ...opts, subresource: "scale" });
    return this.scaleOf(rt, stored);
  }

  // ---- delete, finalizers, garbage collection ------------------------------------------

  private delete(rt: ResourceType, ns: string | undefined, name: string, body: unknown, opts: WriteOpts): unknown {
    const current = this.mustGet(rt, ns, name);
    const options = (isObject(body as Json) ? body : {}) as JsonObject;
    const pre = (isObject(options.preconditions) ? options.preconditions : {}) as JsonObject;
    if (pre.uid && pre.uid !== current.metadata.uid) {
      throw conflict(rt, name, `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${current.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(
        rt,
        name,
        `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
      );
    }
    const policy = typeof options.propagationPolicy === "string" ? options.propagationPolicy : options.orphanDependents === true ? "Orphan" : "Background";
    if (opts.dryRun) return this.view(rt, current);
    const result = this.reaper.deleteObject(rt, current, policy);
    if (result.metadata.deletionTimestamp && this.store.get(storageKey(rt), current.metadata.namespace, name)) return this.view(rt, result);
    if (rt.crd || rt.group === "apiextensions.k8s.io") return this.view(rt, result);
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name, group: rt.group, kind: rt.plural, uid: current.metadata.uid },
    };
  }

  private deleteCollection(rt: ResourceType, ns: string | undefined, q: URLSearchParams, body: unknown, opts: WriteOpts): unknown {
    const match = this.matcher(rt, ns, q);
    const options = (isObject(body as Json) ? body : {}) as JsonObject;
    const policy = typeof options.propagationPolicy === "string" ? options.propagationPolicy : "Background";
    for (const o of this.store.list(storageKey(rt), rt.namespaced ? ns : undefined).filter(match)) {
      if (!opts.dryRun) this.reaper.deleteObject(rt, o, policy);
    }
    return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" };
  }
}

/** Kinds whose strategy maintains metadata.generation (custom resources, CRDs, Deployments). */
function tracksGeneration(rt: ResourceType): boolean {
  return Boolean(rt.crd) || rt.group === "apiextensions.k8s.io" || (rt.group === "apps" && rt.plural === "deployments");
}

/** Starts the test server on 127.0.0.1 and writes its kubeconfig. */
export async function startKubeApiServer(opts: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const s = new ApiServer(opts);
  await s.listen();
  return s;
}
