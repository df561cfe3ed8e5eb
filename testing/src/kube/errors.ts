// API errors as the real server reports them: a meta/v1 Status with reason, code and details.
import type { ResourceType } from "./types.ts";

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
  toStatus(): Record<string, unknown> {
    const s: Record<string, unknown> = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      // An empty reason is StatusReasonUnknown (a plain error inside the server): omitted.
      ...(this.reason ? { reason: this.reason } : {}),
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
  }
}

/** `eventstreams.jetmesh.io`, or `configmaps` for the core group (as in real messages). */
export const qualifiedResource = (rt: { group: string; plural: string }): string => (rt.group ? `${rt.plural}.${rt.group}` : rt.plural);

const det = (rt: ResourceType, name: string) => ({ name, group: rt.group, kind: rt.plural });

export const notFound = (rt: ResourceType, name: string): ApiError =>
  new ApiError(404, "NotFound", `${qualifiedResource(rt)} "${name}" not found`, det(rt, name));

export const alreadyExists = (rt: ResourceType, name: string): ApiError =>
  new ApiError(409, "AlreadyExists", `${qualifiedResource(rt)} "${name}" already exists`, det(rt, name));

export const conflict = (
  rt: ResourceType,
  name: string,
  why = "the object has been modified; please apply your changes to the latest version and try again",
): ApiError => new ApiError(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`, det(rt, name));

export const badRequest = (message: string): ApiError => new ApiError(400, "BadRequest", message);

export const pathNotFound = (): ApiError => new ApiError(404, "NotFound", "the server could not find the requested resource", {});

export const methodNotAllowed = (): ApiError => new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});

/**
 * 422 Invalid, formatted like apimachinery's NewInvalid:
 * `EventSubscription.jetmesh.io "x" is invalid: spec.a: Invalid value: ...` (several causes in brackets).
 */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): ApiError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  // NewInvalid with an empty kind and name (patch errors) reads ` "" is invalid: ...`.
  const parts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const joined = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new ApiError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${joined}`, {
    name,
    group,
    kind,
    causes,
  });
}
