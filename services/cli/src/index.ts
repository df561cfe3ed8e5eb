export { runCli, cliVersion, subjectIn, CliError, EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, type CliIo } from "./cli.ts";
export { parseArgs, UsageError, USAGE, DEFAULT_NATS_URL, type Command } from "./args.ts";
export { deadLetterTargets, byStream, type DeadLetterTarget } from "./dead-letter-streams.ts";
export { progressLine } from "./verify.ts";
export { replayMessage, summarize, DLQ_HEADERS, REPLAYED_FROM_HEADER, REPLAYED_AT_HEADER, type HeaderList } from "./dlq.ts";
export { renderStatus, readStatus, type StatusReport } from "./status.ts";
