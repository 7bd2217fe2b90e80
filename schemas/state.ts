/**
 * A replica's capacity state on `lyra.state.<role>.<instance>` (JSON): what a caller needs to send
 * a call where the model is warm and a slot is free (capacity-aware dispatch).
 */
import { z } from "zod";

export const ReplicaState = z.object({
  role: z.string(),
  /** The micro service instance id; requests for this replica go to `lyra.<role>.<instance>`. */
  instance: z.string(),
  host: z.string(),
  /** The replica's region (hosts.<host>.region or mesh.region); callers prefer their own. Absent: none configured. */
  region: z.string().optional(),
  model: z.string().optional(),
  /** Whether the role's model is loaded now (Ollama /api/ps); true for backends that do not load. */
  loaded: z.boolean(),
  /** Requests run at once. */
  slots: z.number().int().positive(),
  in_flight: z.number().int().nonnegative(),
  queue_depth: z.number().int().nonnegative(),
  /** Requests that may wait for a slot before the answer is 429. */
  queue_size: z.number().int().nonnegative(),
  /** Moving average of recent time to first chunk, ms. */
  ttft_ms: z.number().nonnegative().optional(),
  degraded: z.boolean(),
  /** Sender's clock, epoch ms (informational: freshness is judged by arrival time). */
  ts: z.number(),
});
export type ReplicaState = z.infer<typeof ReplicaState>;
