// pino logger for the operator: JSON lines, the object key under "object" in reconcile logs.
import { pino, type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({ level, base: { component: "jetmesh-operator" } });
}
