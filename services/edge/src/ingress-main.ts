// The jetmesh-ingress process (docs/http.md).
import { main } from "@jetmesh/mesh";
import { ingress } from "./ingress.ts";

void main(ingress);
