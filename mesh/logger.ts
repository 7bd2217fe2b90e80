import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

export interface LoggerConfig {
  /** pino level; default `LYRA_LOG_LEVEL` or "info". */
  level?: string;
  /** Keep prompts, replies and tool data out of the logs; default true (`LYRA_LOG_CONTENT=1` turns it off). */
  redactContent?: boolean;
  /** Write to this destination (tests); default stderr. */
  destination?: pino.DestinationStream;
}

/** Fields that carry user content. Logged only when content logging is switched on. */
const CONTENT_PATHS = [
  "prompt",
  "messages",
  "content",
  "text",
  "reply",
  "arguments",
  "result",
  "*.prompt",
  "*.messages",
  "*.content",
  "*.text",
];

/** The one pino root of a process. Components take `root.child({ component, role, host })`. */
export function createLogger(cfg: LoggerConfig = {}): Logger {
  const redact = cfg.redactContent ?? process.env.LYRA_LOG_CONTENT !== "1";
  const opts: LoggerOptions = {
    level: cfg.level ?? process.env.LYRA_LOG_LEVEL ?? "info",
    base: { pid: process.pid },
    redact: redact ? { paths: CONTENT_PATHS, censor: "[content]" } : undefined,
  };
  return pino(opts, cfg.destination ?? pino.destination(2));
}

/** A logger that writes nothing, for library use without a root. */
export const silentLogger: Logger = pino({ level: "silent" });
