// Shared shapes of the Kubernetes API test server: objects are plain JSON, resource types
// describe how a REST path maps to storage, kind, scope and subresources.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: ManagedFieldsEntry[];
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fieldsType: "FieldsV1";
  fieldsV1: JsonObject;
  subresource?: string;
}

/** A stored object: any Kubernetes object with metadata. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export interface PrinterColumn {
  name: string;
  type: string; // string | integer | number | boolean | date
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

export interface ScaleSubresource {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** One served group/version/resource. Storage is shared by all versions of a group+plural. */
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  status: boolean;
  scale?: ScaleSubresource;
  /** OpenAPI v3 structural schema (custom resources only). */
  schema?: JsonObject;
  printerColumns?: PrinterColumn[];
  /** Set for custom resources: the CRD that defines it. */
  crd?: string;
  /** Fields usable in field selectors besides metadata.name/namespace (CRD selectableFields). */
  selectableFields?: string[];
  /** PUT on a missing object creates it (leases, events). */
  createOnUpdate?: boolean;
  /** Strategic merge patch accepted (built-in types only). */
  strategicMerge?: boolean;
  /** Shares the storage of another resource (events.k8s.io events are core events). */
  storage?: string;
  /** Conversion between this type's shape and the stored shape. */
  convert?: { toStored(o: KubeObject): KubeObject; fromStored(o: KubeObject): KubeObject };
}

export const storageKey = (rt: { group: string; plural: string; storage?: string }): string => rt.storage ?? `${rt.group}/${rt.plural}`;
export const groupVersion = (group: string, version: string): string => (group ? `${group}/${version}` : version);

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}
