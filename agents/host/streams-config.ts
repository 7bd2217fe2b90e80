import type { MeshConfig } from "../../schemas/index.ts";
import type { StreamsConfig } from "../../mesh/index.ts";

/** The config's jetstream section in the terms of mesh/streams.ts. */
export function streamsFromConfig(cfg: MeshConfig): StreamsConfig {
  const j = cfg.jetstream;
  return {
    replicas: j.replicas,
    storage: j.storage,
    inboxMaxAgeMs: j.inbox_max_age,
    outboxMaxAgeMs: j.outbox_max_age,
    logMaxAgeMs: j.log_max_age,
    logMaxBytes: j.log_max_bytes,
    duplicateWindowMs: j.duplicate_window,
  };
}
