// Certificates and keys of a test control plane, made with the openssl CLI (the issuing is
// security/certs.ts's, shared with the NATS TLS tests): a CA, the
// apiserver's serving certificate (127.0.0.1, localhost and the `kubernetes` Service names), an
// admin client certificate in the `system:masters` group, and the service-account signing key.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { issueCertificate, openssl, selfSignedCa } from "../security/certs.ts";

export interface ControlPlanePki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

export function makeControlPlanePki(parent: string): ControlPlanePki {
  const dir = join(parent, "pki");
  mkdirSync(dir, { recursive: true });
  selfSignedCa(dir, "ca", "/CN=jetmesh-test-ca");
  issueCertificate(
    dir,
    "apiserver",
    "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
    "/CN=kube-apiserver",
  );
  issueCertificate(dir, "admin", "extendedKeyUsage=clientAuth\n", "/O=system:masters/CN=jetmesh-admin");
  openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key"]);
  openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  return {
    caFile: join(dir, "ca.pem"),
    serverCert: join(dir, "apiserver.pem"),
    serverKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.pem"),
    adminKey: join(dir, "admin.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPublicKey: join(dir, "sa.pub"),
  };
}
