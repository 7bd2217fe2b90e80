/**
 * A minimal NATS Agent Protocol 0.3 caller, written from the specification alone (core-protocol.md)
 * and using nothing of Lyra's: the conformance suite judges Lyra with it. It discovers through
 * `$SRV.INFO.agents` (§4), addresses the subject from the discovery record (§4.3), reads a reply
 * stream with a per-stream inactivity timeout (§6.6), checks error headers on every message (§12)
 * and ends at the zero-byte, header-less terminator (§6.5).
 */
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection } from "@nats-io/nats-core";

export interface EndpointRecord {
  name: string;
  subject: string;
  queue_group?: string;
  metadata?: Record<string, string> | null;
}
export interface InfoRecord {
  type?: string;
  name: string;
  id: string;
  version: string;
  description: string;
  metadata: Record<string, string>;
  endpoints: EndpointRecord[];
}

/** Every reply to a multi-responder request, until `quietMs` pass without one (or `maxMs`). */
export async function gather(nc: NatsConnection, subject: string, opts: { quietMs?: number; maxMs?: number } = {}): Promise<Msg[]> {
  const quietMs = opts.quietMs ?? 750;
  const inbox = createInbox();
  const got: Msg[] = [];
  return new Promise((resolve) => {
    let quiet: NodeJS.Timeout;
    const finish = () => {
      clearTimeout(quiet);
      clearTimeout(cap);
      sub.unsubscribe();
      resolve(got);
    };
    const cap = setTimeout(finish, opts.maxMs ?? 5000);
    const sub = nc.subscribe(inbox, {
      callback: (_e, m) => {
        got.push(m);
        clearTimeout(quiet);
        quiet = setTimeout(finish, quietMs);
      },
    });
    quiet = setTimeout(finish, opts.maxMs ?? 5000);
    nc.publish(subject, "", { reply: inbox });
  });
}

/** §4.1: every agent's full service info. */
export async function discover(nc: NatsConnection): Promise<InfoRecord[]> {
  return (await gather(nc, "$SRV.INFO.agents")).map((m) => m.json<InfoRecord>());
}

/** §4.3: the prompt endpoint of a record. */
export function promptEndpoint(r: InfoRecord): EndpointRecord {
  const e = r.endpoints.find((x) => x.name === "prompt");
  if (!e) throw new Error(`record ${r.id} has no prompt endpoint`);
  return e;
}

/** §2: the instance name is the 5th token of a default-pattern endpoint subject. */
export function instanceName(r: InfoRecord): string {
  return promptEndpoint(r).subject.split(".")[4] ?? "";
}

/** §2.1: a max_payload string in bytes (B, KB, MB, GB; 1024-based). */
export function parseSize(s: string): number {
  const m = /^(\d+)(B|KB|MB|GB)$/.exec(s);
  if (!m) throw new Error(`max_payload '${s}' is not an integer followed by B, KB, MB or GB`);
  return Number(m[1]) * 1024 ** ["B", "KB", "MB", "GB"].indexOf(m[2]!);
}

/** One message of a reply stream, as §6 and §9 define it. */
export type StreamItem =
  | { kind: "chunk"; type: string; data: unknown }
  | { kind: "error"; code: string; description: string; body: Record<string, unknown> | undefined }
  | { kind: "end" };

export interface StreamResult {
  items: StreamItem[];
  /** The inactivity timeout expired before the terminator (§6.6). */
  stalled: boolean;
  /** Raw messages, for header checks. */
  msgs: Msg[];
}

/**
 * Publishes one request and reads its reply stream until the terminator, or until no message
 * arrived for `inactivityMs` (the §6.6 transport error, reported as `stalled`).
 */
export async function promptStream(
  nc: NatsConnection,
  subject: string,
  payload: Uint8Array | string,
  opts: { inactivityMs?: number; headers?: Record<string, string>; onItem?: (item: StreamItem) => void } = {},
): Promise<StreamResult> {
  const inactivityMs = opts.inactivityMs ?? 60_000;
  const inbox = createInbox();
  const items: StreamItem[] = [];
  const msgs: Msg[] = [];
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout;
    const finish = (stalled: boolean) => {
      clearTimeout(timer);
      sub.unsubscribe();
      resolve({ items, stalled, msgs });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(true), inactivityMs);
    };
    const sub = nc.subscribe(inbox, {
      callback: (_e, m) => {
        msgs.push(m);
        arm();
        const item = classify(m);
        items.push(item);
        opts.onItem?.(item);
        if (item.kind === "end") finish(false);
      },
    });
    arm();
    let h;
    if (opts.headers) {
      h = natsHeaders();
      for (const [k, v] of Object.entries(opts.headers)) h.set(k, v);
    }
    nc.publish(subject, payload, { reply: inbox, headers: h });
  });
}

/** §12 (caller): headers first, then the terminator rule, then the typed JSON chunk. */
function classify(m: Msg): StreamItem {
  const code = m.headers?.get("Nats-Service-Error-Code");
  if (code) {
    let body: Record<string, unknown> | undefined;
    try {
      body = m.data.length ? (JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined; // §9.1: then the header is the description
    }
    return { kind: "error", code, description: m.headers?.get("Nats-Service-Error") ?? "", body };
  }
  if (m.data.length === 0 && !m.headers) return { kind: "end" };
  const v = JSON.parse(new TextDecoder().decode(m.data)) as { type: unknown; data: unknown };
  if (typeof v !== "object" || v === null || typeof v.type !== "string" || !("data" in v)) {
    throw new Error(`chunk is not a {type, data} object: ${new TextDecoder().decode(m.data).slice(0, 200)}`);
  }
  return { kind: "chunk", type: v.type, data: v.data };
}

/** §6.3: the concatenated text of the response chunks, in either form. */
export function responseText(items: StreamItem[]): string {
  return items
    .filter((i): i is Extract<StreamItem, { kind: "chunk" }> => i.kind === "chunk" && i.type === "response")
    .map((i) => (typeof i.data === "string" ? i.data : (i.data as { text: string }).text))
    .join("");
}

/** The stream as short labels: "status:ack", "response", "error:400", "end". */
export function shape(items: StreamItem[]): string[] {
  return items.map((i) =>
    i.kind === "end" ? "end" : i.kind === "error" ? `error:${i.code}` : i.type === "status" ? `status:${String(i.data)}` : i.type,
  );
}
