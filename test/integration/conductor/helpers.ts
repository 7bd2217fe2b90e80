/** Shared steps of the committee tests: publish a turn, wait for its stored reply, read streams. */
import { randomUUID } from "node:crypto";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { LogEvent, OutboxMessage } from "../../../schemas/index.ts";
import { decodeBody } from "../../../mesh/body.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import { StreamName } from "../../../mesh/streams.ts";
import { subjects } from "../../../mesh/subjects.ts";
import type { Mesh } from "../../../mesh/connect.ts";
import type { MeshConfig } from "../../../schemas/config.ts";
import { startCommittee } from "../../harness/conductor.ts";

export const newId = (p = "m") => `${p}${randomUUID().replaceAll("-", "").slice(0, 12)}`;

/** Publishes one user message and resolves with its final reply. */
export async function askTurn(mesh: Mesh, conversation: string, text: string, id = newId(), user = "tester"): Promise<OutboxMessage> {
  const watch = watchReplies(mesh, "cli", conversation, id);
  await mesh.nc.flush();
  await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: user }, text });
  for await (const o of watch) if (o.final) return o;
  throw new Error(`no final reply for ${id}`);
}

/** Every stored message of a stream under `subject`, decoded. */
export async function readStream<T>(
  mesh: Mesh,
  stream: string,
  subject: string,
  schema: { parse(v: unknown): T } & import("zod").ZodType,
): Promise<T[]> {
  const js = jetstream(mesh.nc);
  const c = await js.consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const info = await c.info(true);
  const out: T[] = [];
  if (info.num_pending === 0) return out;
  // A short pull: a pull lost with a dead node is renewed after two missed idle heartbeats, which
  // is ~5 s here and up to ~45 s with nats.js's default expires of 30 s (the node-loss test's reads).
  for await (const m of await c.consume({ expires: 5_000 })) {
    out.push(decodeBody(schema, m, "stored message") as T);
    if (m.info.pending === 0) break;
  }
  await c.delete().catch(() => undefined);
  return out;
}

export const outboxOf = (mesh: Mesh, conversation: string) =>
  readStream(mesh, StreamName.Outbox, subjects.outbox("cli", conversation), OutboxMessage);
export const logOf = (mesh: Mesh, conversation: string) => readStream(mesh, StreamName.Log, subjects.log(conversation), LogEvent);

/** A config's tool servers, agent host `local` and a conductor on one connection; close() stops them in order. */
export function serveConfig(mesh: Mesh, config: MeshConfig): Promise<{ close(): Promise<void> }> {
  return startCommittee(mesh, config, { tools: true });
}
