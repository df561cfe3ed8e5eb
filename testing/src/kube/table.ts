// meta.k8s.io/v1 Table responses (what `kubectl get` asks for): built-in column sets and
// CRD additionalPrinterColumns evaluated with the JSONPath subset.
import { evalJsonPath } from "./jsonpath.ts";
import type { KubeObject, PrinterColumn, ResourceType } from "./types.ts";

/** apimachinery's duration.HumanDuration, the Age column format. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  if (d < 365 * 8) return d % 365 === 0 ? `${y}y` : `${y}y${d % 365}d`;
  return `${y}y`;
}

const age = (ts: unknown): string => (typeof ts === "string" && ts ? humanDuration(Date.now() - Date.parse(ts)) : "<unknown>");

interface Column {
  def: { name: string; type: string; format: string; description: string; priority: number };
  cell: (o: KubeObject) => unknown;
}

const col = (name: string, cell: (o: KubeObject) => unknown, type = "string", priority = 0, format = ""): Column => ({
  def: { name, type, format, description: name, priority },
  cell,
});

const g = (o: unknown, path: string): any => evalJsonPath(o, path)[0];
const nameCol = col("Name", (o) => o.metadata.name, "string", 0, "name");
const ageCol = col("Age", (o) => age(o.metadata.creationTimestamp));

const BUILTIN: Record<string, Column[]> = {
  "/namespaces": [nameCol, col("Status", (o) => g(o, ".status.phase") ?? ""), ageCol],
  "/configmaps": [nameCol, col("Data", (o) => Object.keys(g(o, ".data") ?? {}).length + Object.keys(g(o, ".binaryData") ?? {}).length, "integer"), ageCol],
  "/secrets": [nameCol, col("Type", (o) => g(o, ".type") ?? "Opaque"), col("Data", (o) => Object.keys(g(o, ".data") ?? {}).length, "integer"), ageCol],
  "/serviceaccounts": [nameCol, col("Secrets", (o) => (g(o, ".secrets") ?? []).length, "integer"), ageCol],
  "/services": [
    nameCol,
    col("Type", (o) => g(o, ".spec.type") ?? "ClusterIP"),
    col("Cluster-IP", (o) => g(o, ".spec.clusterIP") ?? "<none>"),
    col("External-IP", () => "<none>"),
    col(
      "Port(s)",
      (o) => ((g(o, ".spec.ports") ?? []) as { port: number; protocol?: string }[]).map((p) => `${p.port}/${p.protocol ?? "TCP"}`).join(",") || "<none>",
    ),
    ageCol,
  ],
  "/pods": [
    nameCol,
    col(
      "Ready",
      (o) => `${((g(o, ".status.containerStatuses") ?? []) as { ready?: boolean }[]).filter((c) => c.ready).length}/${(g(o, ".spec.containers") ?? []).length}`,
    ),
    col("Status", (o) => g(o, ".status.phase") ?? "Pending"),
    col("Restarts", () => 0, "integer"),
    ageCol,
  ],
  "/events": [
    col("Last Seen", (o) => age(g(o, ".lastTimestamp") ?? g(o, ".eventTime") ?? o.metadata.creationTimestamp)),
    col("Type", (o) => g(o, ".type") ?? ""),
    col("Reason", (o) => g(o, ".reason") ?? ""),
    col("Object", (o) => `${String(g(o, ".involvedObject.kind") ?? "").toLowerCase()}/${g(o, ".involvedObject.name") ?? ""}`),
    col("Message", (o) => g(o, ".message") ?? ""),
  ],
  "events.k8s.io/events": [
    col("Last Seen", (o) => age(g(o, ".deprecatedLastTimestamp") ?? g(o, ".eventTime") ?? o.metadata.creationTimestamp)),
    col("Type", (o) => g(o, ".type") ?? ""),
    col("Reason", (o) => g(o, ".reason") ?? ""),
    col("Object", (o) => `${String(g(o, ".regarding.kind") ?? "").toLowerCase()}/${g(o, ".regarding.name") ?? ""}`),
    col("Message", (o) => g(o, ".note") ?? ""),
  ],
  "apps/deployments": [
    nameCol,
    col("Ready", (o) => `${g(o, ".status.readyReplicas") ?? 0}/${g(o, ".spec.replicas") ?? 0}`),
    col("Up-to-date", (o) => g(o, ".status.updatedReplicas") ?? 0, "integer"),
    col("Available", (o) => g(o, ".status.availableReplicas") ?? 0, "integer"),
    ageCol,
    col("Containers", (o) => ((g(o, ".spec.template.spec.containers") ?? []) as { name: string }[]).map((c) => c.name).join(","), "string", 1),
    col("Images", (o) => ((g(o, ".spec.template.spec.containers") ?? []) as { image: string }[]).map((c) => c.image).join(","), "string", 1),
  ],
  "coordination.k8s.io/leases": [nameCol, col("Holder", (o) => g(o, ".spec.holderIdentity") ?? ""), ageCol],
  "apiextensions.k8s.io/customresourcedefinitions": [nameCol, col("Created At", (o) => o.metadata.creationTimestamp, "date")],
};

function crdColumns(cols: PrinterColumn[]): Column[] {
  return [
    nameCol,
    ...cols.map((c) => ({
      def: { name: c.name, type: c.type, format: c.format ?? "", description: c.description ?? "", priority: c.priority ?? 0 },
      cell: (o: KubeObject) => {
        let vals: unknown[];
        try {
          vals = evalJsonPath(o, c.jsonPath);
        } catch {
          return null;
        }
        if (vals.length === 0) return null;
        const v = vals[0];
        // The real CRD table convertor renders date columns as an age ("5m").
        if (c.type === "date" && typeof v === "string") return age(v);
        if (typeof v === "object" && v !== null) return JSON.stringify(v);
        return v;
      },
    })),
  ];
}

function columnsFor(rt: ResourceType): Column[] {
  if (rt.crd) return rt.printerColumns && rt.printerColumns.length > 0 ? crdColumns(rt.printerColumns) : [nameCol, ageCol];
  return BUILTIN[`${rt.group}/${rt.plural}`] ?? [nameCol, ageCol];
}

export type IncludeObject = "None" | "Metadata" | "Object";

export function toTable(
  rt: ResourceType,
  objs: KubeObject[],
  include: IncludeObject,
  listMeta: Record<string, unknown>,
  withColumns = true,
): Record<string, unknown> {
  const cols = columnsFor(rt);
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: listMeta,
    columnDefinitions: withColumns ? cols.map((c) => c.def) : [],
    rows: objs.map((o) => {
      const row: Record<string, unknown> = { cells: cols.map((c) => c.cell(o) ?? null) };
      if (include === "Object") row.object = o;
      else if (include === "Metadata") row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
      return row;
    }),
  };
}

/** The metadata-only view of an object (Accept: ...;as=PartialObjectMetadata). */
export function partialOf(o: KubeObject): KubeObject {
  return { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: o.metadata };
}
