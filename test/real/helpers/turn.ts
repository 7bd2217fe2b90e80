import type { Mesh } from "../../../mesh/connect.ts";
import { publishInbox, watchReplies } from "../../../mesh/frontdoor.ts";
import type { OutboxMessage } from "../../../schemas/index.ts";
import { newId } from "../../integration/conductor/helpers.ts";

/** One user message through the committee: what the outbox showed of its turn, partials first, the final last. */
export async function realTurn(mesh: Mesh, conversation: string, text: string): Promise<OutboxMessage[]> {
  const id = newId();
  const watch = watchReplies(mesh, "cli", conversation, id);
  await mesh.nc.flush();
  await publishInbox(mesh, { id, channel: "cli", conversation, user: { id: "tester" }, text });
  const seen: OutboxMessage[] = [];
  for await (const o of watch) {
    seen.push(o);
    if (o.final) break;
  }
  return seen;
}
