// The jetmesh-dispatcher process: one subscription's push delivery (docs/http.md).
import { main } from "@jetmesh/mesh";
import { dispatcher } from "./dispatcher.ts";

void main(dispatcher);
