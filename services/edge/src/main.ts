// Process entry of the edge (docs/http.md): `node dist/main.js ingress` runs the
// jetmesh-ingress, `node dist/main.js dispatcher` one subscription's push delivery.
import { main } from "@jetmesh/mesh";
import { dispatcher } from "./dispatcher.ts";
import { ingress } from "./ingress.ts";

const role = process.argv[2] ?? process.env.JETMESH_EDGE_ROLE;
if (role === "ingress") await main(ingress);
else if (role === "dispatcher") await main(dispatcher);
else {
  process.stderr.write(
    `jetmesh-edge: invalid configuration: the role (first argument or JETMESH_EDGE_ROLE) must be ingress or dispatcher, got ${JSON.stringify(role ?? "")}\n`,
  );
  process.exit(2);
}
