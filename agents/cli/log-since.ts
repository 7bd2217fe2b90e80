/** What `lyra usage` and `lyra compare` share: the `--since` flag, and reading the log from a point in time. */
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { decodeBody, StreamName, subjects, type Mesh } from "../../mesh/index.ts";
import { LogEvent } from "../../schemas/index.ts";
import { UsageError } from "./command.ts";

const UNIT_MS: Record<string, number> = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 };

/** `--since`: "90m", "24h", "7d", "30s" as ms; anything else is a usage error saying what is expected. */
export function sinceMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(v);
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]!]! : 0;
  if (!m || !(ms > 0)) throw new UsageError(`--since must be a duration such as 90m, 24h or 7d (s, m, h, d), got '${v}'`);
  return ms;
}

/** Every log event (all conversations) stored since `start`, or all the log keeps; oldest first. A foreign or corrupt entry is skipped. */
export async function logSince(mesh: Mesh, start?: Date): Promise<LogEvent[]> {
  const c = await jetstream(mesh.nc).consumers.get(StreamName.Log, {
    filter_subjects: subjects.logAll,
    ...(start ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.toISOString() } : { deliver_policy: DeliverPolicy.All }),
  });
  const out: LogEvent[] = [];
  if ((await c.info(true)).num_pending === 0) return out;
  for await (const m of await c.consume({ expires: 5_000 })) {
    try {
      out.push(decodeBody(LogEvent, m, "log event"));
    } catch {
      // An event this version cannot read is no call it could count.
    }
    if (m.info.pending === 0) break;
  }
  await c.delete().catch(() => undefined);
  return out;
}
