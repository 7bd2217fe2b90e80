/** What several commands share: connecting from flags/env, printing decoded bodies. */
import { connectMesh, type Mesh, createLogger } from "../../mesh/index.ts";
import { decode, Header } from "../../schemas/index.ts";
import type { MsgHdrs } from "@nats-io/nats-core";

export const natsOption = {
  nats: { type: "string" as const, short: "s" as const },
} as const;
export const natsHelp = { nats: "NATS server URL(s), comma-separated (default: $NATS_URL or nats://127.0.0.1:4222)" };

/** Connects for a short-lived CLI command (quiet logs unless LYRA_LOG_LEVEL says otherwise). */
export async function cliConnect(values: Record<string, unknown>, name: string): Promise<Mesh> {
  const servers = typeof values.nats === "string" ? values.nats.split(",") : undefined;
  return connectMesh({
    servers,
    name,
    credsFile: process.env.NATS_CREDS || undefined,
    nkeyFile: process.env.NATS_NKEY_FILE || undefined,
    inboxPrefix: process.env.NATS_INBOX_PREFIX || undefined,
    tls: process.env.NATS_CA_FILE ? { caFile: process.env.NATS_CA_FILE } : undefined,
    maxReconnectAttempts: 10,
    log: createLogger({ level: process.env.LYRA_LOG_LEVEL ?? "warn" }),
  });
}

/** A body as readable text: msgpack and JSON decoded, anything else shown as text or bytes. */
export function describeBody(data: Uint8Array, headers?: MsgHdrs): unknown {
  if (data.length === 0) return headers?.has(Header.ErrorCode) ? "(error)" : "(empty: end of stream)";
  try {
    return decode(data, headers?.get(Header.ContentType) || undefined).value;
  } catch {
    return `(${data.length} undecodable bytes)`;
  }
}

export function headerRecord(h?: MsgHdrs): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const k of h.keys()) out[k] = h.get(k);
  return out;
}
