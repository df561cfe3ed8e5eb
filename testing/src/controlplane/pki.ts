// Certificates and keys of a test control plane, made with the openssl CLI: a CA, the
// apiserver's serving certificate (127.0.0.1, localhost and the `kubernetes` Service names), an
// admin client certificate in the `system:masters` group, and the service-account signing key.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ControlPlanePki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeControlPlanePki(parent: string): ControlPlanePki {
  const dir = join(parent, "pki");
  mkdirSync(dir, { recursive: true });
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  openssl(["req", "-x509", ...EC, "-days", "2", "-subj", "/CN=jetmesh-test-ca", "-keyout", "ca.key", "-out", "ca.pem"]);
  const issue = (name: string, subject: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(["req", ...EC, "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.pem`,
    ]);
  };
  issue(
    "apiserver",
    "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  issue("admin", "/O=system:masters/CN=jetmesh-admin", "extendedKeyUsage=clientAuth\n");
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key"]);
  openssl(["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
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
