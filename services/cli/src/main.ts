// Entry of the `jetmesh` / `kubectl-jetmesh` command (started by bin/jetmesh.js).
import { runCli } from "./cli.ts";

const code = await runCli(process.argv.slice(2), process.env, {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
});
process.exitCode = code;
