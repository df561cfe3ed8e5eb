// @jetmesh/edge: CloudEvents over HTTP in and out of the mesh (docs/http.md).
export * from "./http-binding.ts";
export * from "./http.ts";
export * from "./producers.ts";
export * from "./ingress.ts";
export * from "./dispatcher.ts";
