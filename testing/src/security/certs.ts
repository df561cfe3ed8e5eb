// Throwaway PKI for tests: a CA, a server certificate for 127.0.0.1/localhost and client
// certificates, made with the openssl CLI (no dependency, same files a cluster would mount).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** Issues a client certificate (CN = name) signed by the CA. */
  client(name: string): { certFile: string; keyFile: string };
  /** A second, unrelated CA (for "wrong CA is refused" checks). */
  otherCaFile(): string;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** `<name>.pem` / `<name>.key` in `dir`: a self-signed CA (subject CN=<name> unless given). */
export function selfSignedCa(dir: string, name: string, subject = `/CN=${name}`): void {
  openssl(dir, ["req", "-x509", ...EC_KEY, "-days", "2", "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.pem`]);
}

/**
 * `<name>.pem` / `<name>.key` in `dir`: a certificate signed by `ca.pem` in the same directory,
 * for `subject` (CN=<name> unless given), with the extensions `ext` (openssl extfile lines:
 * subjectAltName, extendedKeyUsage).
 */
export function issueCertificate(dir: string, name: string, ext: string, subject = `/CN=${name}`): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ["req", ...EC_KEY, "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
  openssl(dir, [
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
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "jetmesh-pki-"));
  selfSignedCa(dir, "ca");
  issueCertificate(dir, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    client(name) {
      issueCertificate(dir, name, "extendedKeyUsage=clientAuth\n");
      return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
    },
    otherCaFile() {
      selfSignedCa(dir, "other-ca");
      return join(dir, "other-ca.pem");
    },
  };
}

/** nats-server `tls {}` block requiring client certificates from the test CA. */
export function natsTlsConfig(pki: TestPki): string {
  return `tls { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", ca_file: "${pki.caFile}", verify: true, timeout: 5 }`;
}
